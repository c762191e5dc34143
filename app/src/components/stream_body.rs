//! The body of a message: its markdown as HTML, kept up to date while the
//! answer streams at a cost linear in the answer's length.
//!
//! The server renders the whole text (the stored message) and hydration keeps
//! that HTML as it is. While the text changes, the DOM is patched at most
//! once per animation frame (deltas arriving within a frame are coalesced) as
//! [`IncrementalMarkdown`] says: finished blocks are appended once and never
//! replaced again (so a selection inside them survives), and only the
//! unfinished tail is re-rendered. A text that is replaced rather than
//! appended to is rendered afresh. All HTML comes from [`crate::markdown`].
//!
//! The container holds the blocks themselves, without wrappers, so the DOM
//! and the styles are the same as for a message rendered in one piece.
use crate::markdown::{render_as, Flavor};
#[cfg(feature = "hydrate")]
use crate::markdown::{IncrementalMarkdown, Patch};
use leptos::prelude::*;

/// The body of one message. `streaming` false means the text is complete
/// (the last update then renders everything as finished).
#[component]
pub fn StreamBody(
    text: RwSignal<String>,
    streaming: Signal<bool>,
    flavor: Flavor,
) -> impl IntoView {
    // What the server sends; on hydration this HTML is not set again.
    let html = text.with_untracked(|t| render_as(t, flavor));
    let body = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    live::follow(body, text, streaming, flavor);
    #[cfg(not(feature = "hydrate"))]
    let _ = (streaming, &body);
    view! { <div class="message-body markdown" node_ref=body inner_html=html></div> }
}

#[cfg(feature = "hydrate")]
mod live {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;

    /// One body's rendering state, shared by the effect and its frame callback.
    struct Live {
        markdown: IncrementalMarkdown,
        /// The text a streaming message's view was built with: until the
        /// text differs from it the DOM is right and nothing is rendered.
        /// (A finished message keeps no copy: its text does not change.)
        built_with: Option<String>,
        /// Child nodes of the body that hold finished blocks (the tail's
        /// nodes come after them).
        finished_nodes: u32,
        frame_pending: bool,
    }

    pub(super) fn follow(
        body: NodeRef<leptos::html::Div>,
        text: RwSignal<String>,
        streaming: Signal<bool>,
        flavor: Flavor,
    ) {
        let live = Rc::new(RefCell::new(Live {
            markdown: IncrementalMarkdown::new(flavor),
            built_with: streaming.get_untracked().then(|| text.get_untracked()),
            finished_nodes: 0,
            frame_pending: false,
        }));
        Effect::new(move |ran_before: Option<()>| {
            text.track();
            streaming.track();
            if ran_before.is_some() {
                schedule(live.clone(), body, text, streaming);
            }
        });
    }

    /// Asks for one patch at the next animation frame (unless one is asked for).
    fn schedule(
        live: Rc<RefCell<Live>>,
        body: NodeRef<leptos::html::Div>,
        text: RwSignal<String>,
        streaming: Signal<bool>,
    ) {
        if std::mem::replace(&mut live.borrow_mut().frame_pending, true) {
            return;
        }
        let pending = live.clone();
        let frame = wasm_bindgen::closure::Closure::once_into_js(move || {
            pending.borrow_mut().frame_pending = false;
            apply(&mut pending.borrow_mut(), body, text, streaming);
        });
        let asked = web_sys::window()
            .map(|w| w.request_animation_frame(frame.unchecked_ref()).is_ok())
            .unwrap_or(false);
        if !asked {
            live.borrow_mut().frame_pending = false;
        }
    }

    /// Brings the DOM up to date with the text (the message may be gone).
    fn apply(
        live: &mut Live,
        body: NodeRef<leptos::html::Div>,
        text: RwSignal<String>,
        streaming: Signal<bool>,
    ) {
        let Some(Some(el)) = body.try_get_untracked() else {
            return;
        };
        let last = !streaming.try_get_untracked().unwrap_or(false);
        let Some(patch) = text.try_with_untracked(|t| {
            if !live.markdown.started() && live.built_with.as_deref() == Some(t.as_str()) {
                return Patch::Unchanged;
            }
            live.built_with = None;
            live.markdown.update(t, last)
        }) else {
            return;
        };
        let (finished, tail) = match patch {
            Patch::Unchanged => return,
            Patch::Reset { finished, tail } => {
                el.set_inner_html(&finished);
                (None, tail)
            }
            Patch::Append { finished, tail } => {
                // Only the tail's nodes go; finished blocks stay untouched.
                while el.child_nodes().length() > live.finished_nodes {
                    let Some(node) = el.last_child() else { break };
                    let _ = el.remove_child(&node);
                }
                (Some(finished), tail)
            }
        };
        if let Some(finished) = finished.filter(|f| !f.is_empty()) {
            let _ = el.insert_adjacent_html("beforeend", &finished);
        }
        live.finished_nodes = el.child_nodes().length();
        if !tail.is_empty() {
            let _ = el.insert_adjacent_html("beforeend", &tail);
        }
    }
}
