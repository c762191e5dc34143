//! Toasts: short notices for transient failures (a request that failed and
//! can simply be tried again). Form errors stay inline next to their form.
//!
//! Toasts stack at the bottom of the screen in a polite live region, each
//! with a dismiss button, and go away by themselves after a while.
use leptos::prelude::*;

/// How long a toast stays when nobody dismisses it.
const TOAST_MS: u64 = 8_000;
/// More than this many at once: the oldest go.
const MAX_TOASTS: usize = 4;

#[derive(Clone, Debug, PartialEq)]
struct Toast {
    id: u64,
    text: String,
}

/// The toasts of the page (provided by the shell).
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    pub fn new() -> Self {
        Toasts {
            list: RwSignal::new(vec![]),
            next: StoredValue::new(1),
        }
    }

    /// Shows `what` failed and why, e.g. `error("Could not stop the answer", msg)`.
    pub fn error(self, what: &str, why: &str) {
        let why = why.trim().trim_end_matches('.');
        let text = if why.is_empty() {
            format!("{what}. Try again.")
        } else {
            format!("{what}: {why}. Try again.")
        };
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|l| {
            l.push(Toast { id, text });
            let extra = l.len().saturating_sub(MAX_TOASTS);
            l.drain(..extra);
        });
        #[cfg(feature = "hydrate")]
        set_timeout(
            move || self.dismiss(id),
            std::time::Duration::from_millis(TOAST_MS),
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = TOAST_MS;
    }

    pub fn dismiss(self, id: u64) {
        self.list.update(|l| l.retain(|t| t.id != id));
    }
}

impl Default for Toasts {
    fn default() -> Self {
        Self::new()
    }
}

/// The page's toasts (a detached set outside the shell, so callers never fail).
pub fn use_toasts() -> Toasts {
    use_context::<Toasts>().unwrap_or_default()
}

/// Where toasts appear.
#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div class="toasts" role="status" aria-live="polite" aria-label="Notifications" data-testid="toasts">
            <For each=move || toasts.list.get() key=|t| t.id let:toast>
                <div class="toast" data-testid="toast">
                    <span class="toast-text">{toast.text.clone()}</span>
                    <button type="button" class="toast-close" aria-label="Dismiss notification"
                        on:click=move |_| toasts.dismiss(toast.id)>
                        "✕"
                    </button>
                </div>
            </For>
        </div>
    }
}
