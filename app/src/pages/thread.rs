//! `/t/:id`: one conversation. Opens on its newest messages and loads older
//! pages when the reader scrolls to the top (keeping the scroll position);
//! sends, streams, stops, regenerates and edits answers; shows one branch of
//! the message tree with ‹ n/m › switches between versions.
//!
//! Scrolling: the view is *pinned* to the newest message while the reader is
//! at the bottom; whenever the messages grow (a send, a streamed delta, a
//! finished render), a pinned view follows them. Scrolling up unpins it and
//! shows "Jump to latest". Sending pins it again.
//!
//! Long threads: at most [`MOUNTED_MAX`] messages of the branch are on the
//! page, a window that ends at the newest message until the reader scrolls
//! back past it. Scrolling to the top moves the window up (loading older
//! pages as needed), scrolling to its bottom moves it down again; messages
//! outside it are unmounted (their data stays), so the DOM and its memory
//! stay bounded however far back the reader goes. Every move keeps the
//! message the reader looks at in place.
use crate::api::chat::{
    edit_message, regenerate_message, send_message, stop_generation, thread_title,
};
use crate::api::threads::load_thread_page;
use crate::client::{send_failure_message, server_fn_message};
use crate::components::composer::{saved_tools, tool_names, Composer, ModelChoices, SendRequest};
use crate::components::fast_config::{FastConfig, FastConfigSaved, FastConfigToggle};
use crate::components::message::{
    branch_ids, children_map, LiveMessage, MessageActions, UiMessage,
};
use crate::components::sidebar::use_thread_list;
use crate::components::stream_body::HtmlPatch;
use crate::components::toast::use_toasts;
use crate::model::{MessageDto, SendResultDto, ThreadDto};
use crate::stream::{subscribe, StreamUpdate, Subscription};
use crate::vocab::events::ToolState;
use crate::vocab::{MessageStatus, Role, StreamEvent};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use std::collections::HashMap;

#[component]
pub fn ThreadPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let first_page = Resource::new(move || id.get(), |id| load_thread_page(id, None));
    view! {
        <Suspense fallback=|| view! {
            <div class="thread-view"><div class="skeleton skeleton-block"></div><div class="skeleton skeleton-block"></div></div>
        }>
            {move || Suspend::new(async move {
                match first_page.await {
                    Ok(page) => view! {
                        <ThreadView thread=page.thread messages=page.messages older=page.next_cursor />
                    }
                    .into_any(),
                    Err(e) => view! {
                        <Title text="Not found" />
                        <section class="center-page">
                            <h1>"This thread is not available"</h1>
                            <p class="muted">{server_fn_message(&e)} " — " <a href="/">"start a new chat"</a></p>
                        </section>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

/// How close to the end (px) still counts as "at the bottom".
const PINNED_SLACK_PX: i32 = 48;

/// The most messages on the page at once (budgets.json
/// `longThread.maxMountedMessages` is the limit the browser test checks).
pub const MOUNTED_MAX: usize = 160;
/// How many messages one scroll to an end of the window brings in.
const REVEAL_STEP: usize = 40;
/// How close to an end (px) of the window starts bringing more in.
const REVEAL_SLACK_PX: i32 = 300;

/// The part of `branch` on the page: the [`MOUNTED_MAX`] messages that end
/// with `last` (`None`, or a message no longer in the branch: the newest),
/// as a range of indices.
pub fn window_range(branch: &[String], last: Option<&str>) -> std::ops::Range<usize> {
    let end = last
        .and_then(|l| branch.iter().position(|id| id == l))
        .map_or(branch.len(), |i| i + 1);
    end.saturating_sub(MOUNTED_MAX)..end
}

/// The window after moving `by` messages towards the oldest (negative: the
/// newest), as the `last` that [`window_range`] takes.
pub fn moved_window(branch: &[String], last: Option<&str>, by: isize) -> Option<String> {
    let range = window_range(branch, last);
    let end = if by >= 0 {
        // Never shorter than a full window (unless the branch is).
        range.end.saturating_sub(by.unsigned_abs().min(range.start))
    } else {
        (range.end + by.unsigned_abs()).min(branch.len())
    };
    (end < branch.len()).then(|| branch[end - 1].clone())
}

/// The first message at least partly in view, and its offset (px) from the
/// top of the scroller: what stays in place when the window moves.
#[cfg(feature = "hydrate")]
fn scroll_anchor(scroller: &web_sys::HtmlDivElement) -> Option<(String, f64)> {
    use wasm_bindgen::JsCast;
    let top = scroller.get_bounding_client_rect().top();
    let list = scroller.query_selector_all("[data-message-id]").ok()?;
    for i in 0..list.length() {
        let Some(el) = list
            .item(i)
            .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
        else {
            continue;
        };
        let rect = el.get_bounding_client_rect();
        if rect.bottom() > top {
            return Some((el.get_attribute("data-message-id")?, rect.top() - top));
        }
    }
    None
}

/// Scrolls so that the anchor's message is where it was.
#[cfg(feature = "hydrate")]
fn restore_anchor(scroller: &web_sys::HtmlDivElement, (id, offset): &(String, f64)) {
    let Ok(Some(el)) = scroller.query_selector(&format!("[data-message-id='{id}']")) else {
        return;
    };
    let now = el.get_bounding_client_rect().top() - scroller.get_bounding_client_rect().top();
    let moved = (now - offset).round() as i32;
    if moved != 0 {
        scroller.set_scroll_top(scroller.scroll_top() + moved);
    }
}

fn scroll_to_end(el: &leptos::web_sys::HtmlDivElement) {
    el.set_scroll_top(el.scroll_height());
}

/// Keeps a pinned view at the end while the observed content grows (a
/// `ResizeObserver` fires after layout, whatever made the content taller).
#[cfg(feature = "hydrate")]
struct FollowGrowth {
    observer: web_sys::ResizeObserver,
    _callback: wasm_bindgen::closure::Closure<dyn FnMut()>,
}

#[cfg(feature = "hydrate")]
impl FollowGrowth {
    fn start(
        content: &web_sys::Element,
        scroller: NodeRef<leptos::html::Div>,
        pinned: RwSignal<bool>,
    ) -> Option<Self> {
        use wasm_bindgen::JsCast;
        let callback = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
            if pinned.get_untracked() {
                if let Some(el) = scroller.get_untracked() {
                    scroll_to_end(&el);
                }
            }
        });
        let observer = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()).ok()?;
        observer.observe(content);
        Some(Self {
            observer,
            _callback: callback,
        })
    }
}

#[cfg(feature = "hydrate")]
impl Drop for FollowGrowth {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

/// After a version switch re-renders a message, focus follows it: onto the
/// same version button when one had focus, else onto the message itself, so
/// the next ← / → / E still acts on it.
fn refocus_switched(from: &str, to: String) {
    #[cfg(feature = "hydrate")]
    {
        let doc = document();
        let active = doc.active_element();
        let inside = active.as_ref().is_some_and(|a| {
            a.closest(&format!("[data-message-id='{from}']"))
                .ok()
                .flatten()
                .is_some()
        });
        if !inside {
            return;
        }
        let button = active
            .and_then(|a| a.get_attribute("data-testid"))
            .filter(|t| t == "version-prev" || t == "version-next");
        leptos::task::spawn_local(async move {
            use wasm_bindgen::JsCast;
            // Let the branch re-render first.
            crate::components::sidebar::sleep_ms(0).await;
            let doc = document();
            let Ok(Some(article)) = doc.query_selector(&format!("[data-message-id='{to}']")) else {
                return;
            };
            let target = button
                .and_then(|b| {
                    article
                        .query_selector(&format!("[data-testid='{b}']:not([disabled])"))
                        .ok()
                        .flatten()
                })
                .unwrap_or(article);
            if let Ok(el) = target.dyn_into::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (from, to);
}

/// Live `EventSource`s are not `Send`: browser-local storage in the browser.
/// On the server a subscription is an empty value, kept in thread-safe storage
/// (a local value dropped by another worker thread at the end of the render
/// would panic).
#[cfg(feature = "hydrate")]
type SubsStorage = LocalStorage;
#[cfg(not(feature = "hydrate"))]
type SubsStorage = SyncStorage;

/// The page's conversation state.
#[derive(Clone, Copy)]
struct Conversation {
    thread_id: StoredValue<String>,
    msgs: RwSignal<Vec<UiMessage>>,
    chosen: RwSignal<HashMap<Option<String>, String>>,
    subs: StoredValue<HashMap<String, Subscription>, SubsStorage>,
    error: RwSignal<Option<String>>,
    scroller: NodeRef<leptos::html::Div>,
    /// The reader is at the newest message: growth is followed.
    pinned: RwSignal<bool>,
    /// The last message of the window on the page (`None`: the newest).
    window_last: RwSignal<Option<String>>,
}

impl Conversation {
    fn find(&self, id: &str) -> Option<UiMessage> {
        self.msgs.with_untracked(|list| {
            list.iter()
                .find(|m| m.dto.with_value(|d| d.id == id))
                .copied()
        })
    }

    fn keyed(&self) -> Vec<(String, Option<String>, i64)> {
        self.msgs.with(|list| {
            list.iter()
                .map(|m| {
                    m.dto
                        .with_value(|d| (d.id.clone(), d.parent_id.clone(), d.created_at))
                })
                .collect()
        })
    }

    /// Follows a streaming answer until it is done.
    fn attach(self, m: UiMessage) {
        let id = m.id();
        if self.subs.with_value(|s| s.contains_key(&id)) {
            return;
        }
        let sub_id = id.clone();
        let subs = self.subs;
        let sub = subscribe(&id, move |u| {
            match u {
                StreamUpdate::Event(StreamEvent::Delta { text, thinking }) => {
                    if !text.is_empty() {
                        m.text.update(|t| t.push_str(&text));
                    }
                    if !thinking.is_empty() {
                        m.thinking.update(|t| t.push_str(&thinking));
                    }
                }
                StreamUpdate::Event(StreamEvent::Snapshot {
                    text,
                    thinking,
                    tool,
                    sources,
                    files,
                    ..
                }) => {
                    m.text.set(text);
                    m.thinking.set(thinking);
                    m.tool.set(tool);
                    m.sources.set(sources);
                    m.files.set(files);
                }
                StreamUpdate::Event(StreamEvent::Tool { name, state }) => {
                    m.tool.set((state == ToolState::Started).then_some(name));
                }
                StreamUpdate::Event(StreamEvent::Citation { source }) => m.cite(source),
                StreamUpdate::Event(StreamEvent::File { file }) => {
                    m.files.update(|f| f.push(file));
                }
                StreamUpdate::Refused => {
                    m.error
                        .set(Some(crate::stream::REFUSED_SENTENCE.to_string()));
                    let sid = sub_id.clone();
                    leptos::task::spawn_local(async move {
                        subs.update_value(|s| {
                            s.remove(&sid);
                        });
                    });
                }
                StreamUpdate::Event(StreamEvent::Html {
                    reset,
                    append,
                    tail,
                }) => m.patch(HtmlPatch {
                    reset,
                    append,
                    tail,
                }),
                // Token counts are not shown while an answer streams.
                StreamUpdate::Event(StreamEvent::Usage { .. }) => {}
                StreamUpdate::Event(StreamEvent::Done { status, error, .. }) => {
                    m.tool.set(None);
                    m.status.set(status);
                    m.error.set(error);
                    let sid = sub_id.clone();
                    // Drop the subscription outside its own callback.
                    leptos::task::spawn_local(async move {
                        subs.update_value(|s| {
                            s.remove(&sid);
                        });
                    });
                }
            }
        });
        if let Some(sub) = sub {
            self.subs.update_value(|s| {
                s.insert(id, sub);
            });
        }
    }

    fn push(self, dto: MessageDto) -> UiMessage {
        let ui = UiMessage::new(dto.clone());
        self.msgs.update(|l| l.push(ui));
        self.chosen.update(|c| {
            c.insert(dto.parent_id.clone(), dto.id.clone());
        });
        ui
    }

    fn started(self, r: SendResultDto) {
        if let Some(u) = r.user_message {
            self.push(u);
        }
        let a = self.push(r.assistant_message);
        self.attach(a);
        use_thread_list().upsert(r.thread);
        self.jump_to_latest();
    }

    /// Changes the messages on the page (`change`: a window move, older
    /// messages merged…) keeping the message in view where it is.
    fn keeping_view(self, change: impl FnOnce()) {
        #[cfg(feature = "hydrate")]
        let anchor = self
            .scroller
            .get_untracked()
            .and_then(|el| scroll_anchor(&el));
        change();
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            // Let the list re-render first.
            crate::components::sidebar::sleep_ms(0).await;
            if let (Some(el), Some(anchor)) = (self.scroller.get_untracked(), anchor) {
                restore_anchor(&el, &anchor);
            }
        });
    }

    /// Pins the view and scrolls to the newest message once it is rendered.
    fn jump_to_latest(self) {
        self.window_last.set(None);
        self.pinned.set(true);
        leptos::task::spawn_local(async move {
            crate::components::sidebar::sleep_ms(0).await;
            if let Some(el) = self.scroller.get_untracked() {
                scroll_to_end(&el);
            }
        });
    }
}

#[component]
fn ThreadView(
    thread: ThreadDto,
    messages: Vec<MessageDto>,
    older: Option<String>,
) -> impl IntoView {
    let conv = Conversation {
        thread_id: StoredValue::new(thread.id.clone()),
        msgs: RwSignal::new(messages.into_iter().map(UiMessage::new).collect()),
        chosen: RwSignal::new(HashMap::new()),
        subs: StoredValue::new_with_storage(HashMap::new()),
        error: RwSignal::new(None),
        scroller: NodeRef::new(),
        pinned: RwSignal::new(true),
        window_last: RwSignal::new(None),
    };
    let content = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        let follow = StoredValue::new_local(None::<FollowGrowth>);
        Effect::new(move |_| {
            if let Some(el) = content.get() {
                follow.set_value(FollowGrowth::start(&el, conv.scroller, conv.pinned));
            }
        });
        on_cleanup(move || follow.set_value(None));
    }
    let list = use_thread_list();
    let toasts = use_toasts();
    let older = RwSignal::new(older);
    let loading = RwSignal::new(false);
    let choices = ModelChoices::load();
    let current = RwSignal::new(thread.clone());
    let thread_model = Signal::derive(move || current.with(|t| t.model.clone()));
    let config_open = RwSignal::new(false);

    // Start at the bottom and follow answers that are still being written
    // (after a reload, or from another device).
    Effect::new(move |prev: Option<()>| {
        if prev.is_some() {
            return;
        }
        if let Some(el) = conv.scroller.get() {
            el.set_scroll_top(el.scroll_height());
        }
        for m in conv.msgs.get_untracked() {
            if m.status.get_untracked() == MessageStatus::Streaming {
                conv.attach(m);
            }
        }
    });

    // The first answer of a new thread: once it is done, the server names
    // the thread (a cheap model, in the background); pick the name up.
    let saw_first_answer_stream = StoredValue::new(false);
    Effect::new(move |_| {
        let (count, first_status) = conv.msgs.with(|l| {
            let first = l
                .iter()
                .find(|m| m.dto.with_value(|d| d.role == Role::Assistant))
                .map(|m| m.status.get());
            (l.len(), first)
        });
        if count != 2 {
            return;
        }
        match first_status {
            Some(MessageStatus::Streaming) => saw_first_answer_stream.set_value(true),
            Some(MessageStatus::Done) if saw_first_answer_stream.get_value() => {
                saw_first_answer_stream.set_value(false);
                let tid = conv.thread_id.get_value();
                leptos::task::spawn_local(async move {
                    if let Ok(name) = thread_title(tid).await {
                        if current.with_untracked(|t| t.name != name) {
                            current.update(|t| t.name = name);
                            list.replace(current.get_untracked());
                        }
                    }
                });
            }
            _ => {}
        }
    });

    // Computed once per change of the loaded messages (every message's
    // version switch reads it).
    let children = Memo::new(move |_| children_map(&conv.keyed()));
    let branch =
        Memo::new(move |_| children.with(|kids| conv.chosen.with(|c| branch_ids(kids, c))));
    let window = Memo::new(move |_| {
        branch.with(|b| {
            conv.window_last
                .with(|last| window_range(b, last.as_deref()))
        })
    });
    let visible = Memo::new(move |_| branch.with(|b| b[window.get()].to_vec()));
    let streaming_id = Memo::new(move |_| {
        let live: Vec<String> = conv.msgs.with(|list| {
            list.iter()
                .filter(|m| m.status.get() == MessageStatus::Streaming)
                .map(|m| m.id())
                .collect()
        });
        if live.is_empty() {
            return None;
        }
        branch.with(|b| b.iter().find(|id| live.contains(id)).cloned())
    });

    let stop = move || {
        if let Some(id) = streaming_id.get_untracked() {
            leptos::task::spawn_local(async move {
                if let Err(e) = stop_generation(id).await {
                    toasts.error("Could not stop the answer", &server_fn_message(&e));
                }
            });
        }
    };
    // Esc stops the answer being written — unless it is closing a dialog
    // (share, Extract text): this listener runs before the dialog's.
    let esc = window_event_listener(leptos::ev::keydown, move |ev| {
        let dialog_open = list.sharing.get_untracked().is_some()
            || document()
                .query_selector("[aria-modal='true']")
                .ok()
                .flatten()
                .is_some();
        if ev.key() == "Escape" && !ev.shift_key() && !dialog_open {
            stop();
        }
    });
    on_cleanup(move || esc.remove());

    // A failed send is said once, above the composer (toasts sit at the top
    // and are kept for actions that have no inline place).
    let on_send = Callback::new(move |req: SendRequest| {
        let parent = branch.get_untracked().last().cloned();
        let tid = conv.thread_id.get_value();
        conv.error.set(None);
        leptos::task::spawn_local(async move {
            match send_message(
                Some(tid),
                parent,
                req.text,
                Some(req.model),
                req.think,
                req.tools,
                req.attachments,
                req.images_as_text,
                req.spoken,
            )
            .await
            {
                Ok(r) => {
                    req.settle.run(true);
                    conv.started(r);
                }
                Err(e) => {
                    req.settle.run(false);
                    conv.error.set(Some(send_failure_message(&e)));
                }
            }
        });
    });
    let actions = MessageActions {
        regenerate: Callback::new(move |id: String| {
            let tools = tool_names(&saved_tools(&conv.thread_id.get_value()));
            leptos::task::spawn_local(async move {
                match regenerate_message(id, None, false, tools).await {
                    Ok(r) => conv.started(r),
                    Err(e) => {
                        toasts.error("Could not regenerate the answer", &server_fn_message(&e))
                    }
                }
            });
        }),
        edit: Callback::new(move |(id, text): (String, String)| {
            let tools = tool_names(&saved_tools(&conv.thread_id.get_value()));
            leptos::task::spawn_local(async move {
                // No list: the edited question keeps the files it had.
                match edit_message(id, text, None, false, tools, None, false).await {
                    Ok(r) => conv.started(r),
                    Err(e) => {
                        toasts.error("Could not send the edited message", &server_fn_message(&e))
                    }
                }
            });
        }),
        switch: Callback::new(move |(id, step): (String, i32)| {
            let Some(m) = conv.find(&id) else { return };
            let kids = children_map(&conv.keyed());
            let parent = m.parent().filter(|p| conv.find(p).is_some());
            if let Some(sibs) = kids.get(&parent) {
                if let Some(pos) = sibs.iter().position(|s| *s == id) {
                    let next = (pos as i32 + step).clamp(0, sibs.len() as i32 - 1) as usize;
                    let target = sibs[next].clone();
                    conv.chosen.update(|c| {
                        c.insert(parent, target.clone());
                    });
                    refocus_switched(&id, target);
                }
            }
        }),
    };
    let siblings_of = move |id: String| {
        Signal::derive(move || {
            let parent = conv
                .find(&id)
                .and_then(|m| m.parent())
                .filter(|p| conv.find(p).is_some());
            children.with(|kids| {
                kids.get(&parent)
                    .and_then(|s| s.iter().position(|x| *x == id).map(|p| (p + 1, s.len())))
                    .unwrap_or((1, 1))
            })
        })
    };

    let load_older = {
        let thread_id = thread.id.clone();
        move || {
            let Some(cursor) = older.get_untracked() else {
                return;
            };
            if loading.get_untracked() {
                return;
            }
            loading.set(true);
            let thread_id = thread_id.clone();
            leptos::task::spawn_local(async move {
                match load_thread_page(thread_id, Some(cursor)).await {
                    Ok(page) => conv.keeping_view(move || {
                        let before = branch.with_untracked(|b| b.len());
                        conv.msgs.update(|list| {
                            let mut merged: Vec<UiMessage> = page
                                .messages
                                .into_iter()
                                .filter(|m| {
                                    !list.iter().any(|x| x.dto.with_value(|d| d.id == m.id))
                                })
                                .map(UiMessage::new)
                                .collect();
                            merged.append(list);
                            *list = merged;
                        });
                        older.set(page.next_cursor);
                        // The window shows what came in (up to a full window).
                        let added = branch.with_untracked(|b| b.len()).saturating_sub(before);
                        let last = branch.with_untracked(|b| {
                            conv.window_last.with_untracked(|l| {
                                moved_window(b, l.as_deref(), added.min(REVEAL_STEP) as isize)
                            })
                        });
                        if last != conv.window_last.get_untracked() {
                            conv.window_last.set(last);
                        }
                    }),
                    Err(e) => toasts.error("Could not load older messages", &server_fn_message(&e)),
                }
                loading.set(false);
            });
        }
    };
    // Older messages: first those loaded but outside the window, then the
    // next page from the server.
    let reveal_older = move || {
        if window.get_untracked().start > 0 {
            let last = branch.with_untracked(|b| {
                conv.window_last
                    .with_untracked(|l| moved_window(b, l.as_deref(), REVEAL_STEP as isize))
            });
            conv.keeping_view(|| conv.window_last.set(last));
        } else {
            load_older();
        }
    };
    let reveal_newer = move || {
        if conv.window_last.with_untracked(Option::is_none) {
            return;
        }
        let last = branch.with_untracked(|b| {
            conv.window_last
                .with_untracked(|l| moved_window(b, l.as_deref(), -(REVEAL_STEP as isize)))
        });
        conv.keeping_view(|| conv.window_last.set(last));
    };
    let reveal_older_click = reveal_older.clone();
    let on_scroll = move |_| {
        if let Some(el) = conv.scroller.get_untracked() {
            let from_end = el.scroll_height() - el.scroll_top() - el.client_height();
            // At the bottom of a window that ends before the newest message
            // is not "at the newest".
            let pinned =
                from_end <= PINNED_SLACK_PX && conv.window_last.with_untracked(Option::is_none);
            if conv.pinned.get_untracked() != pinned {
                conv.pinned.set(pinned);
            }
            if el.scroll_top() < REVEAL_SLACK_PX {
                reveal_older();
            } else if from_end < REVEAL_SLACK_PX {
                reveal_newer();
            }
        }
    };
    // Copy buttons inside rendered code blocks (their HTML comes from markdown).
    let on_click = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(btn) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|el| el.closest("[data-copy-code]").ok().flatten())
            else {
                return;
            };
            let code = btn
                .closest(".code-block")
                .ok()
                .flatten()
                .and_then(|b| b.query_selector("code").ok().flatten())
                .and_then(|c| c.text_content())
                .unwrap_or_default();
            crate::client::copy_text(&code);
            btn.set_text_content(Some("Copied"));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <Title text=super::live_title(move || current.try_with(|t| t.name.clone())) />
        <div class="thread-view" node_ref=conv.scroller on:scroll=on_scroll data-testid="thread-view">
            <div class="thread-head">
                <h1 class="thread-title">{move || current.with(|t| t.name.clone())}</h1>
                <FastConfigToggle open=config_open />
            </div>
            <Show when=move || { older.get().is_some() || window.get().start > 0 }>
                <button type="button" class="btn btn-ghost load-older" data-testid="load-older"
                    disabled=loading on:click={ let f = reveal_older_click.clone(); move |_| f() }>
                    {move || if loading.get() { "Loading…" } else { "Load earlier messages" }}
                </button>
            </Show>
            <div class="messages" aria-live="polite" on:click=on_click node_ref=content>
                <For each=move || visible.get() key=|id| id.clone() let:id>
                    {conv.find(&id).map(|m| view! {
                        <LiveMessage msg=m siblings=siblings_of(id.clone()) actions=Some(actions) />
                    })}
                </For>
            </div>
            <Show when=move || branch.get().is_empty()>
                <p class="muted empty-thread">"No messages yet — ask anything below."</p>
            </Show>
        </div>
        <div class="jump-latest-anchor">
            <Show when=move || !conv.pinned.get() && !branch.get().is_empty()>
                <button type="button" class="btn jump-latest" data-testid="jump-latest"
                    on:click=move |_| conv.jump_to_latest()>
                    "↓ Jump to latest"
                </button>
            </Show>
        </div>
        {move || conv.error.get().map(|e| view! { <p class="form-error composer-error" role="alert" data-testid="chat-error">{e}</p> })}
        <Show when=move || config_open.get()>
            <FastConfig
                thread_id=Some(current.with_untracked(|t| t.id.clone()))
                model=current.with_untracked(|t| t.model.clone())
                context=current.with_untracked(|t| t.context.clone())
                choices=choices
                on_close=Callback::new(move |_| config_open.set(false))
                on_saved=Callback::new(move |s: FastConfigSaved| {
                    if let Some(t) = s.thread {
                        current.set(t);
                    }
                })
            />
        </Show>
        <Composer
            on_send=on_send
            draft_scope=Signal::derive(move || conv.thread_id.get_value())
            on_stop=Callback::new(move |_| stop())
            streaming=Signal::derive(move || streaming_id.get().is_some())
            thread_model=thread_model
            choices=choices
            latest_answer=Signal::derive(move || {
                branch
                    .with(|b| b.last().cloned())
                    .and_then(|id| conv.find(&id))
                    .filter(|m| m.dto.with_value(|d| d.role == Role::Assistant))
            })
        />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("m{i}")).collect()
    }

    #[test]
    fn the_window_ends_at_the_newest_until_moved() {
        let b = ids(500);
        assert_eq!(window_range(&b, None), 340..500);
        assert_eq!(window_range(&ids(10), None), 0..10);
        // A message no longer in the branch: back to the newest.
        assert_eq!(window_range(&b, Some("gone")), 340..500);
        assert_eq!(window_range(&b, Some("m199")), 40..200);
    }

    #[test]
    fn moving_the_window_stops_at_both_ends_and_back_at_the_newest_is_none() {
        let b = ids(500);
        let up = moved_window(&b, None, 40);
        assert_eq!(up.as_deref(), Some("m459"));
        assert_eq!(window_range(&b, up.as_deref()), 300..460);
        // Never past the oldest: the window stays full.
        let top = moved_window(&b, Some("m199"), 1000);
        assert_eq!(window_range(&b, top.as_deref()), 0..160);
        // Down again, and past the newest: following the newest.
        assert_eq!(moved_window(&b, Some("m459"), -40), None);
        assert_eq!(moved_window(&b, Some("m199"), -40).as_deref(), Some("m239"));
        // A branch shorter than a window does not move.
        assert_eq!(moved_window(&ids(10), None, 40), None);
    }
}
