//! The body of a message: its markdown as HTML, which the server renders
//! (the browser carries no markdown renderer).
//!
//! A stored message arrives rendered: in the page (server-side rendering,
//! kept as it is by hydration) or as [`MessageDto::html`](crate::model::MessageDto::html)
//! from a server function. A streaming answer is patched with the `html`
//! events of its stream ([`HtmlPatch`]), at most once per animation frame
//! (patches arriving within a frame are merged): finished blocks are
//! appended once and never replaced again (so a selection inside them
//! survives), and only the unfinished tail is replaced. The cost per update
//! is that of the new blocks and the tail, whatever the answer's length.
//!
//! A stored message's body holds its blocks themselves. While an answer
//! streams, its finished blocks go into parts of [`PART_BLOCKS`] blocks
//! (`<div class="md-part">`, styled so that the answer looks the same):
//! the browser then lays out and paints a finished part once, and skips
//! the parts off screen (`content-visibility: auto`), so the cost of a
//! frame stays that of the new blocks and the tail, however long the
//! answer. Without parts, each frame's layout and paint walked every block
//! of the answer: at 20,000 tokens that was 13 ms a frame on average and
//! up to 30 ms, and over 50 ms on a loaded 2-core machine.
use super::message::UiMessage;
use leptos::prelude::*;

/// Finished blocks per part of a streaming answer (see the module's doc).
pub const PART_BLOCKS: u32 = 16;
/// The class of a part.
pub const PART_CLASS: &str = "md-part";

/// One `html` event of a stream (see [`crate::vocab::StreamEvent::Html`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlPatch {
    /// Replace everything (else: keep the finished blocks shown).
    pub reset: bool,
    /// Newly finished blocks, appended after the finished ones.
    pub append: String,
    /// The unfinished end, replacing the previous tail.
    pub tail: String,
}

impl HtmlPatch {
    /// One patch with the effect of `self` followed by `next`.
    pub fn then(mut self, next: HtmlPatch) -> HtmlPatch {
        if next.reset {
            return next;
        }
        self.append.push_str(&next.append);
        self.tail = next.tail;
        self
    }
}

/// The body of one message.
#[component]
pub fn StreamBody(msg: UiMessage) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let html = msg
        .html
        .get_value()
        .unwrap_or_else(|| msg.dto.with_value(|m| m.body_html()));
    // In the browser: the server's rendering (on hydration this HTML is not
    // set again: the page already shows it).
    #[cfg(not(feature = "ssr"))]
    let html = msg.html.get_value().unwrap_or_default();
    let body = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    live::follow(body, msg);
    view! { <div class="message-body markdown" node_ref=body inner_html=html></div> }
}

#[cfg(feature = "hydrate")]
mod live {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;

    /// One body's patching state, shared by the effect and its frame callback.
    #[derive(Default)]
    struct Live {
        /// Child nodes of the body that hold finished blocks (the tail's
        /// nodes come after them).
        finished_nodes: u32,
        frame_pending: bool,
    }

    pub(super) fn follow(body: NodeRef<leptos::html::Div>, msg: UiMessage) {
        let live = Rc::new(RefCell::new(Live::default()));
        Effect::new(move |_| {
            msg.patched.track();
            if msg.patches.with_value(|p| !p.is_empty()) {
                schedule(live.clone(), body, msg);
            }
        });
        // Taken off the page (another version shown, an edit opened): what
        // it showed is what it shows when it comes back.
        on_cleanup(move || {
            if let Some(Some(el)) = body.try_get_untracked() {
                let html = el.inner_html();
                msg.html.try_update_value(|h| *h = Some(html));
            }
        });
    }

    /// Asks for one patch at the next animation frame (unless one is asked for).
    fn schedule(live: Rc<RefCell<Live>>, body: NodeRef<leptos::html::Div>, msg: UiMessage) {
        if std::mem::replace(&mut live.borrow_mut().frame_pending, true) {
            return;
        }
        let pending = live.clone();
        let frame = wasm_bindgen::closure::Closure::once_into_js(move || {
            pending.borrow_mut().frame_pending = false;
            apply(&mut pending.borrow_mut(), body, msg);
        });
        let asked = web_sys::window()
            .map(|w| w.request_animation_frame(frame.unchecked_ref()).is_ok())
            .unwrap_or(false);
        if !asked {
            live.borrow_mut().frame_pending = false;
        }
    }

    /// Applies the patches that arrived (the message may be gone).
    fn apply(live: &mut Live, body: NodeRef<leptos::html::Div>, msg: UiMessage) {
        let Some(Some(el)) = body.try_get_untracked() else {
            return;
        };
        let Some(patches) = msg.patches.try_update_value(std::mem::take) else {
            return;
        };
        let Some(patch) = patches.into_iter().reduce(HtmlPatch::then) else {
            return;
        };
        if patch.reset {
            el.set_inner_html("");
            live.finished_nodes = 0;
        } else {
            // Only the tail's nodes go; finished blocks stay untouched.
            while el.child_nodes().length() > live.finished_nodes {
                let Some(node) = el.last_child() else { break };
                let _ = el.remove_child(&node);
            }
        }
        if !patch.append.is_empty() {
            append_finished(live, &el, &patch.append);
        }
        if !patch.tail.is_empty() {
            let _ = el.insert_adjacent_html("beforeend", &patch.tail);
        }
    }

    /// Adds finished blocks to the last part, or to a new one when it is
    /// full (the tail's nodes are gone at this point).
    fn append_finished(live: &mut Live, el: &web_sys::HtmlDivElement, html: &str) {
        let open = (live.finished_nodes > 0)
            .then(|| el.last_element_child())
            .flatten()
            .filter(|p| p.class_name() == PART_CLASS && p.child_element_count() < PART_BLOCKS);
        let part = match open {
            Some(part) => part,
            None => {
                let Some(part) = document().create_element("div").ok() else {
                    // No part: the blocks go in as they are.
                    let _ = el.insert_adjacent_html("beforeend", html);
                    live.finished_nodes = el.child_nodes().length();
                    return;
                };
                part.set_class_name(PART_CLASS);
                let _ = el.append_child(&part);
                part
            }
        };
        let _ = part.insert_adjacent_html("beforeend", html);
        live.finished_nodes = el.child_nodes().length();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(reset: bool, append: &str, tail: &str) -> HtmlPatch {
        HtmlPatch {
            reset,
            append: append.into(),
            tail: tail.into(),
        }
    }

    #[test]
    fn merged_patches_do_what_the_patches_do_one_by_one() {
        let merged = [p(false, "<p>a</p>", "<p>b"), p(false, "<p>b</p>", "<p>c")]
            .into_iter()
            .reduce(HtmlPatch::then)
            .unwrap();
        assert_eq!(merged, p(false, "<p>a</p><p>b</p>", "<p>c"));
        // A reset drops what came before it.
        let merged = [
            p(false, "<p>a</p>", ""),
            p(true, "<p>x</p>", "t"),
            p(false, "<p>y</p>", "u"),
        ]
        .into_iter()
        .reduce(HtmlPatch::then)
        .unwrap();
        assert_eq!(merged, p(true, "<p>x</p><p>y</p>", "u"));
    }
}
