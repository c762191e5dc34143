//! Browser side of answer streaming: an `EventSource` on
//! `/api/generations/{id}/events?render=html`: the raw text (`snapshot`,
//! `delta`) for copy and edit, and the answer as HTML rendered by the server
//! (`html`) for display — the browser carries no markdown renderer. The
//! browser reconnects by itself after a network error; the server then
//! starts again from a `snapshot` and a resetting `html`. The subscription
//! closes itself on `done`.

use crate::vocab::StreamEvent;

/// What the stream tells the page.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamUpdate {
    /// An event of the generation (see [`StreamEvent`]).
    Event(StreamEvent),
    /// The server refused the stream (e.g. 429: too many open streams) and
    /// the browser will not retry: the answer goes on, but not on this page.
    Refused,
}

/// What the page says when its live stream was refused.
pub const REFUSED_SENTENCE: &str =
    "Live updates for this answer were refused (too many open streams?) — close other tabs or reload to see it";

/// Keeps the browser's connection open; closing it (or dropping it) ends it.
pub struct Subscription {
    #[cfg(feature = "hydrate")]
    source: web_sys::EventSource,
    #[cfg(feature = "hydrate")]
    _handlers: Vec<wasm_bindgen::closure::Closure<dyn FnMut(web_sys::MessageEvent)>>,
}

impl Subscription {
    pub fn close(&self) {
        #[cfg(feature = "hydrate")]
        self.source.close();
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.close();
    }
}

/// Subscribes to a generation; `on_update` runs for every event.
#[cfg(feature = "hydrate")]
pub fn subscribe(
    message_id: &str,
    on_update: impl Fn(StreamUpdate) + 'static,
) -> Option<Subscription> {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let source =
        web_sys::EventSource::new(&format!("/api/generations/{message_id}/events?render=html"))
            .ok()?;
    let on_update = std::rc::Rc::new(on_update);
    let mut handlers = vec![];
    // One listener per event name the vocabulary knows; each parses its data
    // with the same type the server wrote it with.
    for name in StreamEvent::NAMES.iter().copied() {
        let f = on_update.clone();
        let src = source.clone();
        let cb =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let data = ev.data().as_string().unwrap_or_default();
                match StreamEvent::from_wire(name, &data) {
                    Ok(Some(event)) => {
                        if event.is_done() {
                            // The answer is complete: no reconnection.
                            src.close();
                        }
                        f(StreamUpdate::Event(event));
                    }
                    Ok(None) => {}
                    Err(e) => leptos::logging::warn!("ignored a malformed stream event: {e}"),
                }
            });
        let _ = source.add_event_listener_with_callback(name, cb.as_ref().unchecked_ref());
        handlers.push(cb);
    }
    {
        // EventSource retries network errors itself (readyState CONNECTING);
        // a non-200 answer closes it for good (readyState CLOSED).
        let f = on_update.clone();
        let src = source.clone();
        let cb = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
            if src.ready_state() == web_sys::EventSource::CLOSED {
                f(StreamUpdate::Refused);
            }
        });
        let _ = source.add_event_listener_with_callback("error", cb.as_ref().unchecked_ref());
        handlers.push(cb);
    }
    Some(Subscription {
        source,
        _handlers: handlers,
    })
}

#[cfg(not(feature = "hydrate"))]
pub fn subscribe(
    _message_id: &str,
    _on_update: impl Fn(StreamUpdate) + 'static,
) -> Option<Subscription> {
    None
}
