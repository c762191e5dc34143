//! A modal dialog: backdrop, `role="dialog"`, focus moved in on open, kept
//! inside while it is open (Tab and Shift+Tab cycle through its controls),
//! closed by Esc or the backdrop, and focus given back to where it was.
use leptos::prelude::*;

/// What can take focus inside a dialog.
#[cfg(feature = "hydrate")]
const FOCUSABLE: &str = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex=\"-1\"])";

#[cfg(feature = "hydrate")]
fn focusables(root: &web_sys::Element) -> Vec<web_sys::HtmlElement> {
    use wasm_bindgen::JsCast;
    let Ok(list) = root.query_selector_all(FOCUSABLE) else {
        return vec![];
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        .collect()
}

/// Gives focus back, when the calling view is disposed, to what had it when
/// the view was created (the button that opened a dialog or panel).
pub fn return_focus_on_close() {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let opener = StoredValue::new_local(
            document()
                .active_element()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()),
        );
        on_cleanup(move || {
            if let Some(el) = opener.get_value() {
                if el.is_connected() {
                    let _ = el.focus();
                }
            }
        });
    }
}

#[component]
pub fn Dialog(
    /// The id of the element that names the dialog.
    labelled_by: &'static str,
    test_id: &'static str,
    on_close: Callback<()>,
    children: Children,
) -> impl IntoView {
    let panel = NodeRef::<leptos::html::Div>::new();
    return_focus_on_close();
    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |_| {
            if let Some(p) = panel.get() {
                // The first control, unless something inside already has focus.
                let inside = document()
                    .active_element()
                    .is_some_and(|a| p.contains(Some(&a)));
                if !inside {
                    if let Some(first) = focusables(&p).first() {
                        let _ = first.focus();
                    }
                }
            }
        });
    }
    // Tab from the last control goes to the first, Shift+Tab from the first
    // to the last; from anywhere outside, back in.
    #[cfg(feature = "hydrate")]
    {
        let trap = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() == "Escape" && !ev.shift_key() {
                on_close.run(());
                return;
            }
            if ev.key() != "Tab" {
                return;
            }
            let Some(p) = panel.get_untracked() else {
                return;
            };
            let items = focusables(&p);
            let (Some(first), Some(last)) = (items.first(), items.last()) else {
                ev.prevent_default();
                return;
            };
            let active = document().active_element();
            let at = |el: &web_sys::HtmlElement| {
                active
                    .as_ref()
                    .is_some_and(|a| a == AsRef::<web_sys::Element>::as_ref(el))
            };
            let inside = active.as_ref().is_some_and(|a| p.contains(Some(a)));
            if ev.shift_key() && (at(first) || !inside) {
                ev.prevent_default();
                let _ = last.focus();
            } else if !ev.shift_key() && (at(last) || !inside) {
                ev.prevent_default();
                let _ = first.focus();
            }
        });
        on_cleanup(move || trap.remove());
    }
    view! {
        <div class="dialog-backdrop" on:click=move |_| on_close.run(())></div>
        <div class="dialog" role="dialog" aria-modal="true" aria-labelledby=labelled_by
            data-testid=test_id node_ref=panel>
            {children()}
        </div>
    }
}
