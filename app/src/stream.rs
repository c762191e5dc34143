//! Browser side of answer streaming: an `EventSource` on
//! `/api/generations/{id}/events`. The browser reconnects by itself after a
//! network error and sends `Last-Event-ID`, so the server resumes exactly
//! where the stream broke; the subscription closes itself on `done`.

/// What the stream tells the page.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamUpdate {
    /// New answer and/or reasoning text to append.
    Delta { text: String, thinking: String },
    /// The whole stored answer so far (replaces what was shown).
    Snapshot { text: String, thinking: String },
    Done {
        status: String,
        error: Option<String>,
    },
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
        web_sys::EventSource::new(&format!("/api/generations/{message_id}/events")).ok()?;
    let on_update = std::rc::Rc::new(on_update);
    let parse = |ev: &web_sys::MessageEvent| -> serde_json::Value {
        ev.data()
            .as_string()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let text_of = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let mut handlers = vec![];
    {
        let f = on_update.clone();
        let cb =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let v = parse(&ev);
                f(StreamUpdate::Delta {
                    text: text_of(&v, "text"),
                    thinking: text_of(&v, "thinking"),
                });
            });
        let _ = source.add_event_listener_with_callback("delta", cb.as_ref().unchecked_ref());
        handlers.push(cb);
    }
    {
        let f = on_update.clone();
        let cb =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let v = parse(&ev);
                f(StreamUpdate::Snapshot {
                    text: text_of(&v, "text"),
                    thinking: text_of(&v, "thinking"),
                });
            });
        let _ = source.add_event_listener_with_callback("snapshot", cb.as_ref().unchecked_ref());
        handlers.push(cb);
    }
    {
        let f = on_update.clone();
        let src = source.clone();
        let cb =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let v = parse(&ev);
                // The answer is complete: no reconnection.
                src.close();
                f(StreamUpdate::Done {
                    status: text_of(&v, "status"),
                    error: v.get("error").and_then(|e| e.as_str()).map(str::to_string),
                });
            });
        let _ = source.add_event_listener_with_callback("done", cb.as_ref().unchecked_ref());
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
