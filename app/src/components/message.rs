//! Chat messages: the reactive per-message state used while answers stream,
//! the branch logic (edits and regenerations are siblings), and the view of
//! one message with its actions (copy, edit, regenerate, ‹ n/m › versions).
//!
//! Text is shown by [`StreamBody`] as the HTML of the server's markdown
//! renderer (`crate::markdown`, server-side), the only HTML the UI injects:
//! it escapes everything the model or the user wrote. In a user's message a
//! single newline is a line break.
use super::dialog::Dialog;
use super::stream_body::{HtmlPatch, StreamBody};
use super::voice::ReadAloudButton;
use crate::model::{AttachmentDto, AttachmentKind, FileTextDto, MessageDto, SeenAs, SourceDto};
use crate::vocab::{MessageStatus, Role};
use leptos::prelude::*;
use std::collections::HashMap;

/// A message whose streamed parts can change in place.
#[derive(Clone, Copy)]
pub struct UiMessage {
    pub dto: StoredValue<MessageDto>,
    pub text: RwSignal<String>,
    pub thinking: RwSignal<String>,
    pub status: RwSignal<MessageStatus>,
    pub error: RwSignal<Option<String>>,
    /// The body's HTML when it is built: the server's rendering, then what
    /// the body showed when it was last taken off the page.
    pub html: StoredValue<Option<String>>,
    /// Patches from the stream that the body has not applied yet, and the
    /// signal that there are some.
    pub patches: StoredValue<Vec<HtmlPatch>>,
    pub patched: Trigger,
    /// The built-in tool running now (while the answer streams).
    pub tool: RwSignal<Option<String>>,
    /// The pages the answer cites, numbered.
    pub sources: RwSignal<Vec<SourceDto>>,
    /// Its files (generated images).
    pub files: RwSignal<Vec<AttachmentDto>>,
}

impl UiMessage {
    pub fn new(m: MessageDto) -> Self {
        Self {
            text: RwSignal::new(m.text.clone()),
            thinking: RwSignal::new(m.thinking.clone().unwrap_or_default()),
            status: RwSignal::new(m.status),
            error: RwSignal::new(m.error.clone()),
            html: StoredValue::new(m.html.clone()),
            patches: StoredValue::new(vec![]),
            patched: Trigger::new(),
            tool: RwSignal::new(None),
            sources: RwSignal::new(m.sources.clone()),
            files: RwSignal::new(m.attachments.clone()),
            dto: StoredValue::new(m),
        }
    }
    /// Adds a citation that arrived on the stream (a known page gains a
    /// marker, a new one is added under its number).
    pub fn cite(&self, c: crate::vocab::events::SourceCited) {
        self.sources
            .update(|list| match list.iter_mut().find(|s| s.index == c.index) {
                Some(s) => s.at.push(c.at),
                None => list.push(SourceDto {
                    index: c.index,
                    title: c.title,
                    url: c.url,
                    source: c.source,
                    at: vec![c.at],
                }),
            });
    }
    /// Queues a patch of the body from the stream.
    pub fn patch(&self, patch: HtmlPatch) {
        self.patches.update_value(|p| p.push(patch));
        self.patched.notify();
    }
    pub fn id(&self) -> String {
        self.dto.with_value(|m| m.id.clone())
    }
    pub fn parent(&self) -> Option<String> {
        self.dto.with_value(|m| m.parent_id.clone())
    }
    pub fn role(&self) -> Role {
        self.dto.with_value(|m| m.role)
    }
    pub fn created(&self) -> (i64, String) {
        self.dto.with_value(|m| (m.created_at, m.id.clone()))
    }
}

/// Siblings by parent (`None` = roots, including messages whose parent is not
/// loaded yet), each list oldest first.
pub fn children_map(
    messages: &[(String, Option<String>, i64)],
) -> HashMap<Option<String>, Vec<String>> {
    let ids: std::collections::HashSet<&str> =
        messages.iter().map(|(id, _, _)| id.as_str()).collect();
    let mut map: HashMap<Option<String>, Vec<(i64, String)>> = HashMap::new();
    for (id, parent, at) in messages {
        let key = parent.clone().filter(|p| ids.contains(p.as_str()));
        map.entry(key).or_default().push((*at, id.clone()));
    }
    map.into_iter()
        .map(|(k, mut v)| {
            v.sort();
            (k, v.into_iter().map(|(_, id)| id).collect())
        })
        .collect()
}

/// The visible branch: from the roots down, at each step the chosen child or
/// else the newest one.
pub fn branch_ids(
    children: &HashMap<Option<String>, Vec<String>>,
    chosen: &HashMap<Option<String>, String>,
) -> Vec<String> {
    let mut out = vec![];
    let mut parent: Option<String> = None;
    while let Some(kids) = children.get(&parent) {
        let pick = chosen
            .get(&parent)
            .filter(|c| kids.contains(c))
            .cloned()
            .or_else(|| kids.last().cloned());
        let Some(id) = pick else { break };
        out.push(id.clone());
        if out.len() > 10_000 {
            break;
        }
        parent = Some(id);
    }
    out
}

/// The branch of plain DTOs (shared pages, which have no choices).
pub fn active_branch(messages: &[MessageDto]) -> Vec<MessageDto> {
    let keyed: Vec<_> = messages
        .iter()
        .map(|m| (m.id.clone(), m.parent_id.clone(), m.created_at))
        .collect();
    let ids = branch_ids(&children_map(&keyed), &HashMap::new());
    ids.iter()
        .filter_map(|id| messages.iter().find(|m| &m.id == id).cloned())
        .collect()
}

/// Actions a message view can ask its page for.
#[derive(Clone, Copy)]
pub struct MessageActions {
    pub regenerate: Callback<String>,
    pub edit: Callback<(String, String)>,
    /// (message id, +1 or -1): show another version.
    pub switch: Callback<(String, i32)>,
}

/// Read-only view of a stored message (shared pages).
#[component]
pub fn MessageView(message: MessageDto) -> impl IntoView {
    let ui = UiMessage::new(message);
    view! { <LiveMessage msg=ui siblings=Signal::derive(|| (1, 1)) actions=None /> }
}

#[component]
pub fn LiveMessage(
    msg: UiMessage,
    /// (position 1-based, count) among its siblings.
    siblings: Signal<(usize, usize)>,
    actions: Option<MessageActions>,
) -> impl IntoView {
    let role = msg.role();
    let id = msg.id();
    let is_user = role == Role::User;
    let (editing, set_editing) = signal(false);
    let (draft, set_draft) = signal(String::new());
    let thoughts_open = Memo::new(move |_| {
        msg.status.get() == MessageStatus::Streaming && msg.text.with(|t| t.is_empty())
    });
    // How long the model thought, measured here while the answer streams.
    let think_started = StoredValue::new(Option::<i64>::None);
    let thinking_ms = RwSignal::new(Option::<i64>::None);
    Effect::new(move |_| {
        let has_thinking = !msg.thinking.with(|t| t.is_empty());
        let has_text = !msg.text.with(|t| t.is_empty());
        if has_thinking
            && think_started.get_value().is_none()
            && msg.status.get_untracked() == MessageStatus::Streaming
        {
            think_started.set_value(Some(crate::time::now_ms()));
        }
        if has_text && thinking_ms.get_untracked().is_none() {
            if let Some(t0) = think_started.get_value() {
                thinking_ms.set(Some(crate::time::now_ms() - t0));
            }
        }
    });
    let status_note = move || msg.status.get().notice();
    let copy = move |_| crate::client::copy_text(&msg.text.get_untracked());
    let id_for_edit = id.clone();
    let submit_edit = move || {
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        set_editing.set(false);
        if let Some(a) = actions {
            a.edit.run((id_for_edit.clone(), text));
        }
    };
    let submit_edit_key = submit_edit.clone();
    let id_for_regen = id.clone();
    let id_for_prev = id.clone();
    let id_for_next = id.clone();
    view! {
        <article
            class=format!("message message-{role}")
            class:streaming=move || msg.status.get() == MessageStatus::Streaming
            data-testid="message"
            data-role=role.as_str()
            data-message-id=id.clone()
            tabindex="-1"
            aria-label=if is_user { "Your message" } else { "Answer" }
            on:click=follow_citation
        >
            <Show when=move || !msg.thinking.with(|t| t.is_empty())>
                <details class="thoughts" open=thoughts_open data-testid="thoughts">
                    <summary>
                        {move || if thoughts_open.get() { "Thinking…".to_string() } else {
                            match thinking_ms.get() {
                                Some(ms) => thoughts_label(ms),
                                None => "Thoughts".to_string(),
                            }
                        }}
                    </summary>
                    <ThoughtsBody msg />
                </details>
            </Show>
            <Show
                when=move || editing.get()
                fallback=move || view! { <StreamBody msg /> }
            >
                <div class="edit-box">
                    <label class="visually-hidden" for=format!("edit-{}", msg.id())>"Edit your message"</label>
                    <textarea
                        id=format!("edit-{}", msg.id())
                        data-testid="edit-input"
                        prop:value=draft
                        on:input=move |ev| set_draft.set(event_target_value(&ev))
                        on:keydown={
                            let submit = submit_edit_key.clone();
                            move |ev: leptos::ev::KeyboardEvent| {
                                if ev.is_composing() { return; }
                                if ev.key() == "Enter" && !ev.shift_key() { ev.prevent_default(); submit(); }
                                if ev.key() == "Escape" { ev.stop_propagation(); set_editing.set(false); }
                            }
                        }
                    ></textarea>
                    <div class="row">
                        <button type="button" class="btn btn-ghost" on:click=move |_| set_editing.set(false)>"Cancel"</button>
                        <button type="button" class="btn btn-primary" data-testid="edit-submit" on:click={ let s = submit_edit.clone(); move |_| s() }>"Send"</button>
                    </div>
                </div>
            </Show>
            {msg.dto.with_value(|d| d.spoken).then(|| view! {
                <p class="spoken-mark muted" data-testid="spoken-mark">"Said in a voice call"</p>
            })}
            <ToolProgress msg />
            <Attachments msg />
            <Sources msg />
            {move || (msg.status.get() == MessageStatus::Streaming).then(|| view! {
                <span class="typing" aria-hidden="true"><span></span><span></span><span></span></span>
            })}
            {move || msg.error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || status_note().map(|n| view! { <p class="message-status muted">{n}</p> })}
            {actions.map(|a| view! {
                <div class="message-actions" data-testid="message-actions">
                    <Show when={move || siblings.get().1 > 1}>
                        <div class="versions" role="group" aria-label="Versions">
                            <button type="button" class="btn btn-icon btn-small" aria-label="Previous version" data-testid="version-prev"
                                disabled={move || siblings.get().0 <= 1}
                                on:click={ let id = id_for_prev.clone(); move |_| a.switch.run((id.clone(), -1)) }>"‹"</button>
                            <span data-testid="version-label">{move || format!("{}/{}", siblings.get().0, siblings.get().1)}</span>
                            <button type="button" class="btn btn-icon btn-small" aria-label="Next version" data-testid="version-next"
                                disabled={move || siblings.get().0 >= siblings.get().1}
                                on:click={ let id = id_for_next.clone(); move |_| a.switch.run((id.clone(), 1)) }>"›"</button>
                        </div>
                    </Show>
                    <button type="button" class="btn btn-ghost btn-small" data-testid="copy-message" on:click=copy>"Copy"</button>
                    {if is_user {
                        view! {
                            <button type="button" class="btn btn-ghost btn-small" data-testid="edit-message"
                                on:click=move |_| { set_draft.set(msg.text.get_untracked()); set_editing.set(true); }>
                                "Edit"
                            </button>
                        }.into_any()
                    } else {
                        let id = id_for_regen.clone();
                        view! {
                            <button type="button" class="btn btn-ghost btn-small" data-testid="regenerate"
                                disabled=move || msg.status.get() == MessageStatus::Streaming
                                on:click=move |_| a.regenerate.run(id.clone())>
                                "Regenerate"
                            </button>
                            <ReadAloudButton msg />
                        }.into_any()
                    }}
                </div>
            })}
        </article>
    }
}

/// A click on a citation marker scrolls to its source and highlights it
/// (the marker is a `#src-…` link; the page's router must not take it).
fn follow_citation(ev: leptos::ev::MouseEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(target) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let Ok(Some(link)) = target.closest("a[data-cite]") else {
            return;
        };
        let Some(item) = link
            .get_attribute("href")
            .and_then(|h| h.strip_prefix('#').map(str::to_string))
            .and_then(|id| document().get_element_by_id(&id))
        else {
            return;
        };
        ev.prevent_default();
        item.scroll_into_view_with_bool(false);
        let _ = item.class_list().add_1("cited");
        set_timeout(
            move || {
                let _ = item.class_list().remove_1("cited");
            },
            std::time::Duration::from_millis(2_000),
        );
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// What a running tool is doing, as a sentence (and a placeholder where an
/// image is being made).
#[component]
fn ToolProgress(msg: UiMessage) -> impl IntoView {
    let running = Memo::new(move |_| {
        if msg.status.get() != MessageStatus::Streaming {
            return None;
        }
        msg.tool.get()
    });
    move || {
        running.get().map(|tool| {
            let image = tool == crate::vocab::Tool::ImageGeneration.as_str();
            let sentence = if image {
                "Creating an image…"
            } else if tool == crate::vocab::Tool::WebSearch.as_str() {
                "Searching the web…"
            } else {
                "Using a tool…"
            };
            view! {
                <p class="tool-progress" role="status" data-testid="tool-progress">{sentence}</p>
                {image.then(|| view! { <div class="image-placeholder" aria-hidden="true"></div> })}
            }
        })
    }
}

/// The host of a URL, without `www.`, for the Sources list (no request to
/// any third party: no favicon service).
pub fn domain_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or_default();
    host.strip_prefix("www.").unwrap_or(host).to_lowercase()
}

/// The numbered pages an answer cites; each marker in the text links here.
#[component]
fn Sources(msg: UiMessage) -> impl IntoView {
    let id = msg.id();
    move || {
        let list = msg.sources.get();
        (!list.is_empty()).then(|| {
            let id = id.clone();
            view! {
                <section class="sources" aria-label="Sources" data-testid="sources">
                    <h3 class="sources-title">"Sources"</h3>
                    <ol>
                        {list.into_iter().map(|s| {
                            let domain = domain_of(&s.url);
                            view! {
                                <li id=format!("src-{}-{}", id, s.index) value=s.index.to_string() data-testid="source">
                                    <a href=s.url.clone() target="_blank" rel="noopener noreferrer">{s.title.clone()}</a>
                                    " "<span class="source-domain">{domain}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                </section>
            }
        })
    }
}

/// The files of a message: generated images inline at their size, uploads
/// as a thumbnail (images) or a file chip with name and size, each opening
/// full size and downloadable; for uploads, what the model saw of the file
/// and, for documents and images, their text as OCR read it.
#[component]
fn Attachments(msg: UiMessage) -> impl IntoView {
    // The file whose text is shown: (id, name).
    let reading = RwSignal::new(Option::<(String, String)>::None);
    view! {
        {move || {
        let files = msg.files.get();
        (!files.is_empty()).then(|| {
            view! {
                <div class="attachments" data-testid="attachments">
                    {files.into_iter().map(|f| {
                        let image = f.mime.starts_with("image/");
                        let upload = f.kind == AttachmentKind::Upload;
                        let alt = f.prompt.clone().unwrap_or_else(|| if upload { f.name.clone() } else { "Generated image".to_string() });
                        let caption = f.prompt.clone();
                        let download = download_name(&f);
                        // Its owner reads its text (a share's reader has no such route).
                        let extract = (upload
                            && !f.mime.starts_with("text/")
                            && f.url == format!("/api/files/{}", f.id))
                        .then(|| (f.id.clone(), f.name.clone()));
                        let incomplete = f.seen.as_ref().is_some_and(|s| !s.complete());
                        let no_seen = f.seen.is_none();
                        let seen_text = f.seen.as_ref().map(|s| format!("Model saw: {}", s.describe())).unwrap_or_default();
                        view! {
                            <figure class="attachment" class:attachment-upload=upload data-testid="attachment" data-kind=format!("{:?}", f.kind).to_lowercase()>
                                {image.then(|| view! {
                                    <a href=f.url.clone() target="_blank" rel="noopener" class="attachment-open" aria-label="Open the image full size">
                                        <img src=f.url.clone() alt=alt.clone()
                                            width=f.width.map(|w| w.to_string())
                                            height=f.height.map(|h| h.to_string())
                                            loading="lazy" decoding="async" data-testid="attachment-image" />
                                    </a>
                                })}
                                <figcaption>
                                    {caption.map(|c| view! { <span class="attachment-prompt">{c}</span> })}
                                    {upload.then(|| view! {
                                        <span class="attachment-file">
                                            <a href=f.url.clone() target="_blank" rel="noopener" class="attachment-name" data-testid="attachment-name">{f.name.clone()}</a>
                                            <span class="attachment-size">{crate::components::attach::size_label(f.size.max(0) as u64)}</span>
                                        </span>
                                        <button type="button" class="btn btn-ghost btn-small" data-testid="extract-text" hidden=extract.is_none()
                                            on:click=move |_| if let Some(file) = extract.clone() { reading.set(Some(file)) }>"Extract text"</button>
                                        <p class="attachment-seen" class:incomplete=incomplete data-testid="attachment-seen" hidden=no_seen>
                                            {seen_text}
                                        </p>
                                    })}
                                    <a href=f.url.clone() download=download class="btn btn-ghost btn-small" data-testid="attachment-download">"Download"</a>
                                </figcaption>
                            </figure>
                        }
                    }).collect_view()}
                </div>
            }
        })
        }}
        {move || reading.get().map(|(id, name)| view! {
            <Suspense fallback=|| ()>
                {Suspend::new(extract_dialog(id, name, Callback::new(move |_| reading.set(None))))}
            </Suspense>
        })}
    }
}

/// The Extract text dialog's code is a lazily loaded WASM chunk (`cargo
/// leptos build --split`), fetched the first time the dialog opens.
#[lazy]
fn extract_dialog(id: String, name: String, on_close: Callback<()>) -> AnyView {
    view! { <ExtractDialog id name on_close /> }.into_any()
}

/// The text OCR read from a file (markdown, shown as plain text: never as
/// HTML), with Copy and a download as `<file>.md`. What arrives is written
/// into the dialog with DOM calls (one view shape for its three states).
#[component]
fn ExtractDialog(id: String, name: String, on_close: Callback<()>) -> impl IntoView {
    let text = StoredValue::new(String::new());
    let body = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |prev: Option<()>| {
        if prev.is_some() {
            return;
        }
        let id = id.clone();
        leptos::task::spawn_local(async move {
            let got = crate::client::files::text(&id).await;
            let Some(el) = body.get_untracked() else {
                return;
            };
            let Ok(out) = document().create_element(if got.is_ok() { "pre" } else { "p" }) else {
                return;
            };
            match got {
                Ok(t) => {
                    let t = joined_pages(&t);
                    out.set_class_name("extract-text");
                    let _ = out.set_attribute("data-testid", "extract-output");
                    let _ = out.set_attribute("tabindex", "0");
                    out.set_text_content(Some(&t));
                    text.set_value(t);
                }
                Err(e) => {
                    out.set_class_name("form-error");
                    let _ = out.set_attribute("role", "alert");
                    out.set_text_content(Some(&e));
                }
            }
            el.set_text_content(None);
            let _ = el.append_child(&out);
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
    let file_name = format!("{name}.md");
    view! {
        <Dialog labelled_by="extract-title" test_id="extract-dialog" on_close>
            <h2 id="extract-title" class="extract-title">{format!("Text of {name}")}</h2>
            <div class="extract-body" data-testid="extract-body" node_ref=body>
                <p class="muted" role="status">"Reading the text… this can take a few seconds."</p>
            </div>
            <div class="row">
                <button type="button" class="btn btn-ghost" on:click=move |_| on_close.run(())>"Close"</button>
                <button type="button" class="btn" data-testid="extract-copy"
                    on:click=move |_| text.with_value(|t| if !t.is_empty() { crate::client::copy_text(t) })>"Copy"</button>
                <button type="button" class="btn btn-primary" data-testid="extract-download"
                    on:click=move |_| text.with_value(|t| if !t.is_empty() { crate::client::download_text(&file_name, t) })>
                    "Download .md"
                </button>
            </div>
        </Dialog>
    }
}

/// A file's text as one markdown document: pages read by OCR under a
/// marker each (as the model gets them), a text file as it is.
pub fn joined_pages(t: &FileTextDto) -> String {
    if t.as_ != SeenAs::Pages || t.pages.len() < 2 {
        return t.pages.concat();
    }
    let mut out = String::new();
    for (i, p) in t.pages.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        out.push_str(&format!("--- Page {} ---\n\n", i + 1));
        out.push_str(p);
    }
    out
}

/// A file name for saving an attachment: its own name with an extension
/// that matches its type.
pub fn download_name(f: &AttachmentDto) -> String {
    let ext = match f.mime.as_str() {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        _ => "",
    };
    let base: String = f
        .name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let base = if base.trim_matches(['-', '.']).is_empty() {
        "file".to_string()
    } else {
        base
    };
    if ext.is_empty() || base.to_lowercase().ends_with(&format!(".{ext}")) {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// "Thoughts (2.4 s)": how long the model thought, to a tenth of a second
/// (integer arithmetic: float formatting would add its code to the WASM).
pub fn thoughts_label(ms: i64) -> String {
    let tenths = (ms.max(0) + 50) / 100;
    format!("Thoughts ({}.{} s)", tenths / 10, tenths % 10)
}

/// The model's reasoning, as text. While it streams, only what arrived is
/// added (a text node per update), so its cost stays linear in its length.
#[component]
fn ThoughtsBody(msg: UiMessage) -> impl IntoView {
    let shown = msg.thinking.get_untracked();
    let body = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        let shown_len = StoredValue::new(shown.len());
        Effect::new(move |_| {
            let Some(el) = body.get() else { return };
            msg.thinking.with(|t| {
                let n = shown_len.get_value();
                if t.len() > n && t.is_char_boundary(n) {
                    let _ = el.insert_adjacent_text("beforeend", &t[n..]);
                } else if t.len() != n {
                    el.set_text_content(Some(t));
                }
                shown_len.set_value(t.len());
            });
        });
    }
    view! { <div class="thoughts-body" node_ref=body>{shown}</div> }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, parent: Option<&str>, at: i64) -> (String, Option<String>, i64) {
        (id.into(), parent.map(str::to_string), at)
    }

    #[test]
    fn sources_show_their_domain_and_downloads_a_sensible_name() {
        assert_eq!(domain_of("https://www.Example.com/a/b?c"), "example.com");
        assert_eq!(
            domain_of("http://user@news.site.org:8080/x"),
            "news.site.org"
        );
        assert_eq!(domain_of("example.net"), "example.net");
        let f = AttachmentDto {
            id: "1".into(),
            name: "image_generated_0".into(),
            mime: "image/png".into(),
            size: 1,
            kind: crate::model::AttachmentKind::Generated,
            url: "/api/files/1".into(),
            width: None,
            height: None,
            prompt: None,
            seen: None,
        };
        assert_eq!(download_name(&f), "image_generated_0.png");
        let named = AttachmentDto {
            name: "../../etc/x.PNG".into(),
            ..f.clone()
        };
        assert_eq!(download_name(&named), "..-..-etc-x.PNG");
        let odd = AttachmentDto {
            name: "".into(),
            mime: "application/zip".into(),
            ..f
        };
        assert_eq!(download_name(&odd), "file");
    }

    #[test]
    fn thinking_time_is_shown_to_a_tenth_of_a_second() {
        assert_eq!(thoughts_label(2_449), "Thoughts (2.4 s)");
        assert_eq!(thoughts_label(2_450), "Thoughts (2.5 s)");
        assert_eq!(thoughts_label(40), "Thoughts (0.0 s)");
        assert_eq!(thoughts_label(12_960), "Thoughts (13.0 s)");
        assert_eq!(thoughts_label(-5), "Thoughts (0.0 s)");
    }

    #[test]
    fn follows_the_latest_sibling_unless_chosen() {
        let msgs = vec![
            m("a", None, 1),
            m("b1", Some("a"), 2),
            m("b2", Some("a"), 5),
            m("c1", Some("b1"), 3),
            m("c2", Some("b2"), 6),
        ];
        let kids = children_map(&msgs);
        assert_eq!(branch_ids(&kids, &HashMap::new()), ["a", "b2", "c2"]);
        let mut chosen = HashMap::new();
        chosen.insert(Some("a".to_string()), "b1".to_string());
        assert_eq!(branch_ids(&kids, &chosen), ["a", "b1", "c1"]);
    }

    #[test]
    fn a_page_without_its_root_starts_at_the_oldest_loaded() {
        let msgs = vec![m("x", Some("gone"), 10), m("y", Some("x"), 11)];
        assert_eq!(
            branch_ids(&children_map(&msgs), &HashMap::new()),
            ["x", "y"]
        );
    }
}
