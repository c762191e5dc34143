//! The files of a message being written: the attach button with its hidden
//! file picker, paste and drop, one chip per file (upload progress, the
//! server's sentence when it refuses a file, the file's size in tokens and
//! what of it will not fit in the model's context), and the warning shown
//! when the chosen model cannot see images.
//!
//! Files upload as soon as they are attached (`POST /api/files`, with
//! `XMLHttpRequest` for its progress); the message names them by id. The
//! limits (`GET /api/files/usage`, read once, on the first attach) are
//! checked here first so that a file too large never travels; the server
//! checks them again. The fitting here mirrors the server's
//! (`services::uploads`): it is a preview that never lets a cut go unsaid,
//! while the server decides and records what the model saw.
use crate::components::composer::ModelChoices;
use crate::model::{group, FileTextDto, FileUsageDto, ModelInfoDto, SeenAs, UploadedFileDto};
use crate::vocab::limits::{
    estimate_tokens, image_tokens, ANSWER_BUDGET_TOKENS, FALLBACK_CONTEXT_TOKENS,
};
use leptos::prelude::*;

/// What the file picker offers (with `image/*`, phones offer the camera).
pub const ACCEPT: &str = "image/*,application/pdf,.pdf,.docx,.pptx,text/*,.txt,.md,.markdown,.csv,.tsv,.json,.jsonl,.xml,.yaml,.yml,.toml,.ini,.log,.html,.css,.scss,.rs,.py,.js,.mjs,.ts,.tsx,.jsx,.java,.kt,.go,.c,.h,.cpp,.hpp,.cs,.rb,.php,.swift,.sh,.sql,.r,.lua,.tex";

/// What the text of a file costs, as `GET /api/files/{id}/text` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadText {
    /// Read by OCR page by page (else the file's own text).
    pub pages: bool,
    pub page_tokens: Vec<u64>,
    /// Characters of each page.
    pub page_chars: Vec<u64>,
}

impl ReadText {
    pub fn of(t: &FileTextDto) -> Self {
        Self {
            pages: t.as_ == SeenAs::Pages,
            page_tokens: t.page_tokens.clone(),
            page_chars: t.pages.iter().map(|p| p.chars().count() as u64).collect(),
        }
    }
}

/// Where reading a file's text stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextState {
    NotAsked,
    Loading,
    Read(ReadText),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChipState {
    /// Bytes sent so far, and in all (0: not known yet).
    Uploading { sent: u64, total: u64 },
    /// Not uploaded: the sentence says why.
    Failed(String),
    Ready {
        file: UploadedFileDto,
        text: TextState,
    },
}

/// One attached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chip {
    pub key: u32,
    pub name: String,
    pub size: u64,
    /// An image (the browser's word until the server has detected the type).
    pub image: bool,
    pub state: ChipState,
}

impl Chip {
    fn uploaded(&self) -> Option<&UploadedFileDto> {
        match &self.state {
            ChipState::Ready { file, .. } => Some(file),
            _ => None,
        }
    }
}

/// What the composer keeps outside the reactive graph (browser only): no
/// view reads it.
#[cfg(feature = "hydrate")]
#[derive(Default)]
struct Browser {
    /// The last chip key given (keys are unique on the page).
    last_key: u32,
    /// Uploads on their way, to abort one whose chip is removed.
    live: Vec<(u32, crate::client::files::Xhr)>,
    /// The upload limits, read on the first attach.
    limits: Option<FileUsageDto>,
    /// How many elements a file drag is over (`dragenter` minus
    /// `dragleave`): at 0 it has left the page.
    drag_depth: u32,
}

#[cfg(feature = "hydrate")]
thread_local! {
    static BROWSER: std::cell::RefCell<Browser> = std::cell::RefCell::default();
}

#[cfg(feature = "hydrate")]
fn browser<T>(f: impl FnOnce(&mut Browser) -> T) -> T {
    BROWSER.with(|b| f(&mut b.borrow_mut()))
}

#[cfg(feature = "hydrate")]
fn file_url(id: &str) -> String {
    format!("/api/files/{}", crate::client::url_component(id))
}

/// "12 KB", "3.4 MB".
pub fn size_label(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < MB {
        format!("{} KB", (bytes + KB / 2) / KB)
    } else {
        let tenths = (bytes * 10 + MB / 2) / MB;
        if tenths >= 100 {
            format!("{} MB", (tenths + 5) / 10)
        } else {
            format!("{}.{} MB", tenths / 10, tenths % 10)
        }
    }
}

/// A limit as the server words it: "10 MB", "2.5 MB", "1 GB".
fn limit_label(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= 1024 * MB {
        format!("{} GB", (bytes + 512 * MB) / (1024 * MB))
    } else if bytes.is_multiple_of(MB) || bytes >= 10 * MB {
        format!("{} MB", (bytes + MB / 2) / MB)
    } else {
        size_label(bytes)
    }
}

/// "≈ 12,300 tokens" (estimates above a thousand to the hundred).
pub fn tokens_label(n: u64) -> String {
    let n = if n >= 1_000 { (n + 50) / 100 * 100 } else { n };
    format!("≈ {} tokens", group(n))
}

/// The sentence refusing a file before it is uploaded, if the limits do:
/// `others` are the (size of the) files already attached.
pub fn refusal(limits: &FileUsageDto, others: &[u64], size: u64) -> Option<String> {
    if others.len() as u64 >= u64::from(limits.max_files_per_message) {
        return Some(format!(
            "A message can carry at most {} files",
            limits.max_files_per_message
        ));
    }
    if size > limits.max_file_bytes {
        return Some(format!(
            "That file is larger than the {} limit per file",
            limit_label(limits.max_file_bytes)
        ));
    }
    if others.iter().sum::<u64>() + size > limits.max_message_bytes {
        return Some(format!(
            "The files of one message may take at most {} together",
            limit_label(limits.max_message_bytes)
        ));
    }
    None
}

/// What a file costs the model's context, for [`plan`].
#[derive(Debug, Clone, Copy)]
pub enum Cost<'a> {
    /// An image the model sees, whole.
    Image(u64),
    /// A file going as text: its name and its text's cost.
    Text(&'a str, &'a ReadText),
    /// Nothing known (not uploaded or not read yet), or nothing sent.
    None,
}

/// How much of a file fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Whole,
    /// The first `take` of `total` pages.
    Pages {
        take: usize,
        total: usize,
    },
    /// The first `kept` of `total` characters (about: the server cuts at a
    /// line break).
    Chars {
        kept: u64,
        total: u64,
    },
    /// An image larger than what the context has left (it goes anyway).
    ImageOver,
    Unknown,
}

/// What of each file fits in `budget` tokens, computed as the server fits
/// a new message's files: images first (whole), then the others in order,
/// documents by whole pages, text by characters.
pub fn plan(budget: u64, costs: &[Cost<'_>]) -> Vec<Fit> {
    let mut left = budget;
    let mut out = vec![Fit::Unknown; costs.len()];
    for (i, c) in costs.iter().enumerate() {
        if let Cost::Image(t) = c {
            out[i] = if *t > left {
                Fit::ImageOver
            } else {
                Fit::Whole
            };
            left = left.saturating_sub(*t);
        }
    }
    for (i, c) in costs.iter().enumerate() {
        if let Cost::Text(name, read) = c {
            let (fit, tokens) = fit_text(name, read, left);
            out[i] = fit;
            left = left.saturating_sub(tokens);
        }
    }
    out
}

fn chars(s: &str) -> u64 {
    s.chars().count() as u64
}

/// How a file's text fits in `left` tokens, and what its `<file>` block
/// then costs (the server's `fit_text`, counted instead of built).
fn fit_text(name: &str, read: &ReadText, left: u64) -> (Fit, u64) {
    // The server's block name: the same characters, quotes replaced.
    let name: String = name
        .chars()
        .map(|c| if c == '"' || c.is_control() { '\'' } else { c })
        .collect();
    let n = read.page_chars.len();
    let total: u64 = read.page_chars.iter().sum();
    let tokens = |c: u64| c.div_ceil(3) + 4;
    if read.pages {
        let mut used = 0u64;
        let mut take = 0usize;
        for t in &read.page_tokens {
            if used + t > left {
                break;
            }
            used += t;
            take += 1;
        }
        let take = take.min(n);
        let mut c = chars(&format!("<file name=\"{name}\" pages=\"{n}\">\n")) + 7;
        for (i, p) in read.page_chars.iter().take(take).enumerate() {
            c += chars(&format!("--- Page {} ---\n", i + 1)) + p + 2;
        }
        if take < n {
            c += chars(&format!(
                "[Pages {}–{n} of {name} were left out: they do not fit in the model's context.]\n",
                take + 1
            ));
            return (Fit::Pages { take, total: n }, tokens(c));
        }
        (Fit::Whole, tokens(c))
    } else {
        let overhead = estimate_tokens(&name) + 40;
        let kept = if tokens(total) + overhead <= left {
            total
        } else {
            left.saturating_sub(overhead).saturating_mul(3).min(total)
        };
        let mut c = chars(&format!("<file name=\"{name}\">\n")) + kept + 1 + 7;
        if kept < total {
            c += chars(&format!(
                "[The rest of {name} ({} of {total} characters) was left out: it does not fit in the model's context.]\n",
                total - kept
            ));
            return (Fit::Chars { kept, total }, tokens(c));
        }
        (Fit::Whole, tokens(c))
    }
}

/// "page 3", "pages 41–120".
fn span(a: usize, b: usize) -> String {
    if a == b {
        format!("page {a}")
    } else {
        format!("pages {a}–{b}")
    }
}

/// What a chip says about the part of its file that will be left out.
pub fn fit_sentence(fit: Fit, model: &str) -> Option<String> {
    match fit {
        Fit::Pages { take: 0, total } => Some(format!(
            "{} won't fit in {model}'s context — the model won't see this file",
            span(1, total)
        )),
        Fit::Pages { take, total } => Some(format!(
            "{} won't fit in {model}'s context — the model will see {}",
            span(take + 1, total),
            span(1, take)
        )),
        Fit::Chars { kept, total } => Some(format!(
            "{} of its {} characters won't fit in {model}'s context — the model will see about the first {}",
            group(total - kept),
            group(total),
            group(kept)
        )),
        Fit::ImageOver => Some(format!(
            "This image takes more than {model}'s context has left — the model may refuse it"
        )),
        Fit::Whole | Fit::Unknown => None,
    }
}

/// The catalogue entry of `model` (by id or alias).
pub fn model_info<'a>(model: &str, models: &'a [ModelInfoDto]) -> Option<&'a ModelInfoDto> {
    models
        .iter()
        .find(|m| m.id == model || m.aliases.iter().any(|a| a == model))
}

/// Focus to the message box (after a click on something that goes away).
#[cfg(feature = "hydrate")]
fn focus_message_box() {
    use wasm_bindgen::JsCast;
    if let Some(el) = document()
        .get_element_by_id("composer-input")
        .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}

/// The composer's files: the chips, and the switch that goes with them.
/// The chips and the vision warning are drawn by [`FileTray::draw`] into
/// two empty elements of the composer ([`FileTray::list`],
/// [`FileTray::warning`]) with plain DOM calls, updated in place: they change
/// with every progress event and keystroke (the meter), and views would add
/// more to the WASM than the feature itself.
#[derive(Clone, Copy)]
pub struct FileTray {
    pub chips: RwSignal<Vec<Chip>>,
    /// Images go as their text to a model that cannot see them (this send).
    pub images_as_text: RwSignal<bool>,
    /// The `<ul>` of the chips.
    pub list: NodeRef<leptos::html::Ul>,
    /// Where the vision warning goes (above the composer).
    pub warning: NodeRef<leptos::html::Div>,
    /// The hidden file picker.
    pub input: NodeRef<leptos::html::Input>,
}

impl Default for FileTray {
    fn default() -> Self {
        Self::new()
    }
}

impl FileTray {
    pub fn new() -> Self {
        Self {
            chips: RwSignal::new(vec![]),
            images_as_text: RwSignal::new(false),
            list: NodeRef::new(),
            warning: NodeRef::new(),
            input: NodeRef::new(),
        }
    }

    fn any_uploading(chips: &[Chip]) -> bool {
        chips
            .iter()
            .any(|c| matches!(c.state, ChipState::Uploading { .. }))
    }

    /// A file is still uploading (Send waits).
    pub fn uploading(&self) -> bool {
        self.chips.with(|c| Self::any_uploading(c))
    }

    /// [`Self::uploading`], in an event handler.
    pub fn uploading_now(&self) -> bool {
        self.chips.with_untracked(|c| Self::any_uploading(c))
    }

    /// The ids of the uploaded files, in order, and the keys of every chip
    /// (what a successful send clears).
    pub fn for_send(&self) -> (Vec<String>, Vec<u32>) {
        self.chips.with_untracked(|c| {
            (
                c.iter()
                    .filter_map(|c| c.uploaded().map(|f| f.id.clone()))
                    .collect(),
                c.iter().map(|c| c.key).collect(),
            )
        })
    }

    /// The chips of a message the server accepted (their files now belong
    /// to it: nothing is deleted).
    pub fn clear_sent(&self, keys: &[u32]) {
        self.chips.update(|c| c.retain(|c| !keys.contains(&c.key)));
        self.images_as_text.set(false);
    }

    /// A click in the composer's file controls (one handler for the
    /// paperclip, the chips and the warning, found by their data
    /// attributes). Returns the model to switch to, if that was asked.
    pub fn clicked(&self, ev: &leptos::ev::MouseEvent) -> Option<String> {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let target = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
            let on = target.closest("[data-action]").ok()??;
            let value = on.get_attribute("data-value").unwrap_or_default();
            match on.get_attribute("data-action")?.as_str() {
                "attach" => {
                    if let Some(input) = self.input.get_untracked() {
                        input.click();
                    }
                    return None;
                }
                "remove" => self.remove(value.parse().ok()?),
                "as-text" => self.images_as_text.set(true),
                "switch" => {
                    focus_message_box();
                    return Some(value);
                }
                _ => {}
            }
            // The button pressed may be gone: focus stays in the composer.
            focus_message_box();
            None
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = ev;
            None
        }
    }

    /// Files chosen in the picker.
    pub fn picked(&self) {
        #[cfg(feature = "hydrate")]
        if let Some(el) = self.input.get_untracked() {
            self.add(crate::client::files::files_at(el.as_ref(), &["files"]));
            // The same file can be chosen again.
            el.set_value("");
        }
    }

    #[cfg(feature = "hydrate")]
    fn set_state(&self, key: u32, state: ChipState) {
        self.chips.update(|c| {
            if let Some(chip) = c.iter_mut().find(|c| c.key == key) {
                if let ChipState::Ready { file, .. } = &state {
                    chip.image = file.mime.starts_with("image/");
                }
                chip.state = state;
            }
        });
    }

    /// Removes a chip: aborts its upload, or deletes the uploaded file.
    #[cfg(feature = "hydrate")]
    fn remove(&self, key: u32) {
        let gone = self
            .chips
            .try_update(|c| c.iter().position(|c| c.key == key).map(|i| c.remove(i)))
            .flatten();
        if !self.chips.with_untracked(|c| c.iter().any(|c| c.image)) {
            self.images_as_text.set(false);
        }
        browser(|b| {
            if let Some((_, xhr)) = b.live.iter().find(|(k, _)| *k == key) {
                xhr.abort();
            }
        });
        if let Some(file) = gone.as_ref().and_then(Chip::uploaded) {
            let url = file_url(&file.id);
            leptos::task::spawn_local(async move {
                // A file sent meanwhile answers 409: it stays with its message.
                let _ = crate::client::delete(&url).await;
            });
        }
    }

    /// Reads the text of an uploaded file, for its size in tokens.
    #[cfg(feature = "hydrate")]
    fn read_text(&self, key: u32, id: String) {
        let chips = self.chips;
        let set_text = move |text: TextState| {
            chips.update(|c| {
                if let Some(ChipState::Ready { text: t, .. }) =
                    c.iter_mut().find(|c| c.key == key).map(|c| &mut c.state)
                {
                    *t = text;
                }
            })
        };
        set_text(TextState::Loading);
        leptos::task::spawn_local(async move {
            set_text(match crate::client::files::text(&id).await {
                Ok(t) => TextState::Read(ReadText::of(&t)),
                Err(e) => TextState::Failed(e),
            });
        });
    }

    /// Attaches files: each becomes a chip, refused at once when over a
    /// limit, else uploaded.
    #[cfg(feature = "hydrate")]
    fn add(self, files: Vec<crate::client::files::File>) {
        if files.is_empty() {
            return;
        }
        leptos::task::spawn_local(async move {
            let mut limits = browser(|b| b.limits);
            if limits.is_none() {
                limits = crate::client::files::usage().await;
                browser(|b| b.limits = limits);
            }
            for file in files {
                let key = browser(|b| {
                    b.last_key += 1;
                    b.last_key
                });
                let size = file.size() as u64;
                let others: Vec<u64> = self
                    .chips
                    .try_with_untracked(|c| {
                        c.iter()
                            .filter(|c| !matches!(c.state, ChipState::Failed(_)))
                            .map(|c| c.size)
                            .collect()
                    })
                    .unwrap_or_default();
                let refused = limits.as_ref().and_then(|l| refusal(l, &others, size));
                let chip = Chip {
                    key,
                    name: file.name(),
                    size,
                    image: file.type_().starts_with("image/"),
                    state: match &refused {
                        Some(why) => ChipState::Failed(why.clone()),
                        None => ChipState::Uploading {
                            sent: 0,
                            total: size,
                        },
                    },
                };
                self.chips.update(|c| c.push(chip));
                if refused.is_none() {
                    self.upload(key, file);
                }
            }
        });
    }

    #[cfg(feature = "hydrate")]
    fn upload(self, key: u32, file: crate::client::files::File) {
        let chips = self.chips;
        leptos::task::spawn_local(async move {
            let got = crate::client::files::upload(
                "/api/files",
                &file,
                move |xhr| browser(|b| b.live.push((key, xhr))),
                move |sent, total| {
                    chips.update(|c| {
                        if let Some(chip) = c.iter_mut().find(|c| c.key == key) {
                            if matches!(chip.state, ChipState::Uploading { .. }) {
                                chip.state = ChipState::Uploading { sent, total };
                            }
                        }
                    })
                },
            )
            .await;
            browser(|b| b.live.retain(|(k, _)| *k != key));
            let here = chips
                .try_with_untracked(|c| c.iter().any(|c| c.key == key))
                .unwrap_or(false);
            match got {
                // Removed while it was on its way.
                Ok(file) if !here => {
                    let _ = crate::client::delete(&file_url(&file.id)).await;
                }
                Ok(file) => self.set_state(
                    key,
                    ChipState::Ready {
                        file,
                        text: TextState::NotAsked,
                    },
                ),
                Err(why) => self.set_state(key, ChipState::Failed(why)),
            }
        });
    }

    /// Files dragged anywhere over the page light the composer up (its
    /// `dropping` class) and attach when dropped (a drag of text or links
    /// is left alone).
    pub fn listen_for_drops(self) {
        #[cfg(feature = "hydrate")]
        {
            use crate::client::files::{drag_has_files, files_at};
            let light = move |on: bool| {
                if let Some(form) = self.list.get_untracked().and_then(|l| l.parent_element()) {
                    let _ = form.class_list().toggle_with_force("dropping", on);
                }
            };
            let enter = window_event_listener(leptos::ev::dragenter, move |ev| {
                if drag_has_files(ev.as_ref()) {
                    browser(|b| b.drag_depth += 1);
                    light(true);
                }
            });
            let over = window_event_listener(leptos::ev::dragover, move |ev| {
                if drag_has_files(ev.as_ref()) {
                    ev.prevent_default();
                }
            });
            let leave = window_event_listener(leptos::ev::dragleave, move |_| {
                let depth = browser(|b| {
                    b.drag_depth = b.drag_depth.saturating_sub(1);
                    b.drag_depth
                });
                if depth == 0 {
                    light(false);
                }
            });
            let drop = window_event_listener(leptos::ev::drop, move |ev| {
                browser(|b| b.drag_depth = 0);
                light(false);
                if drag_has_files(ev.as_ref()) {
                    ev.prevent_default();
                    self.add(files_at(ev.as_ref(), &["dataTransfer", "files"]));
                }
            });
            on_cleanup(move || {
                enter.remove();
                over.remove();
                leave.remove();
                drop.remove();
            });
        }
    }

    /// A paste of files into the message box attaches them.
    pub fn on_paste(self, ev: leptos::ev::ClipboardEvent) {
        #[cfg(feature = "hydrate")]
        {
            let files = crate::client::files::files_at(ev.as_ref(), &["clipboardData", "files"]);
            if !files.is_empty() {
                ev.prevent_default();
                self.add(files);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    }

    /// Keeps the chips and the vision warning drawn for `model` and the
    /// message's `text` (which shares the context with the files), and has
    /// each uploaded document (and image going as text) read once.
    pub fn draw(self, model: Memo<String>, text: ReadSignal<String>, choices: ModelChoices) {
        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            let model = model.get();
            let (sight, other) = choices.models.with(|list| {
                let fast = choices.settings.with(|s| {
                    s.as_ref()
                        .map(|s| s.fast_models.clone())
                        .unwrap_or_default()
                });
                (sight(&model, list), seeing_model(&fast, list))
            });
            let question = text.with(|t| estimate_tokens(t));
            let as_text = self.images_as_text.get();
            let (notes, unread, images) = self.chips.with(|c| {
                let (notes, unread) = notes_for(c, sight, as_text, question, &model);
                (notes, unread, c.iter().any(|c| c.image))
            });
            for (key, id) in unread {
                self.read_text(key, id);
            }
            if let Some(ul) = self.list.get() {
                self.chips.with_untracked(|c| dom::chips(&ul, c, &notes));
            }
            if let Some(slot) = self.warning.get() {
                // The catalogue says this model is blind (unknown: it sees).
                let blind = !sight.1 && images && !as_text;
                dom::vision(&slot, blind.then_some((model.as_str(), other.as_deref())));
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (self, model, text, choices);
    }
}

/// What one chip shows beyond its name and size: the file's size in
/// tokens and what of it will be left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub key: u32,
    pub meter: Option<String>,
    pub fit: Option<String>,
}

/// The notes of the chips for a model (its context and whether it sees
/// images), with `question` tokens of text beside them; and the uploaded
/// files whose text must be read first (documents, and images going as
/// text).
pub fn notes_for(
    chips: &[Chip],
    (context, sees): (u64, bool),
    images_as_text: bool,
    question: u64,
    model: &str,
) -> (Vec<Note>, Vec<(u32, String)>) {
    let budget = context
        .saturating_sub(ANSWER_BUDGET_TOKENS)
        .saturating_sub(question);
    let mut unread = vec![];
    let costs: Vec<Cost<'_>> = chips
        .iter()
        .map(|c| match &c.state {
            ChipState::Ready { file, .. } if c.image && sees => {
                Cost::Image(image_tokens(file.width, file.height))
            }
            ChipState::Ready { file, text } if !c.image || images_as_text => match text {
                TextState::Read(read) => Cost::Text(&file.name, read),
                TextState::NotAsked => {
                    unread.push((c.key, file.id.clone()));
                    Cost::None
                }
                _ => Cost::None,
            },
            _ => Cost::None,
        })
        .collect();
    let fits = plan(budget, &costs);
    let notes = chips
        .iter()
        .zip(costs.iter().zip(fits))
        .map(|(c, (cost, fit))| Note {
            key: c.key,
            meter: match cost {
                Cost::Image(t) => Some(tokens_label(*t)),
                Cost::Text(_, read) => Some(tokens_label(read.page_tokens.iter().sum())),
                Cost::None => matches!(
                    c.state,
                    ChipState::Ready {
                        text: TextState::Loading,
                        ..
                    }
                )
                .then(|| "reading…".to_string()),
            },
            fit: fit_sentence(fit, model),
        })
        .collect();
    (notes, unread)
}

/// (context tokens, sees images) of `model`, as the server assumes them
/// when the catalogue does not say.
pub fn sight(model: &str, models: &[ModelInfoDto]) -> (u64, bool) {
    let info = model_info(model, models);
    let context = info
        .map(|i| i.max_context_length)
        .filter(|c| *c > 0)
        .unwrap_or(FALLBACK_CONTEXT_TOKENS);
    (context, info.is_none_or(|i| i.vision))
}

/// The model to offer instead of a blind one: the first fast model that
/// sees images, else the first current one of the catalogue.
pub fn seeing_model(fast: &[String], models: &[ModelInfoDto]) -> Option<String> {
    fast.iter()
        .find(|f| model_info(f, models).is_some_and(|i| i.vision))
        .cloned()
        .or_else(|| {
            models
                .iter()
                .find(|m| m.vision && m.chat && m.deprecation.is_none())
                .map(|m| m.id.clone())
        })
}

/// The chips and the warning as DOM: elements added, updated and removed
/// as the state changes; text always as text (never HTML).
#[cfg(feature = "hydrate")]
mod dom {
    use super::{size_label, Chip, ChipState, Note, TextState};
    use leptos::prelude::document;
    use web_sys::Element;

    fn make(tag: &str, class: &str, testid: &str) -> Option<Element> {
        let el = document().create_element(tag).ok()?;
        el.set_class_name(class);
        attr(&el, "data-testid", testid);
        Some(el)
    }

    fn attr(el: &Element, name: &str, value: &str) {
        if el.get_attribute(name).as_deref() != Some(value) {
            let _ = el.set_attribute(name, value);
        }
    }

    fn text(el: &Element, value: &str) {
        if el.text_content().as_deref() != Some(value) {
            el.set_text_content(Some(value));
        }
    }

    fn find(root: &Element, selector: &str) -> Option<Element> {
        root.query_selector(selector).ok().flatten()
    }

    /// A button that [`super::FileTray::clicked`] knows by its action.
    fn button(
        class: &str,
        testid: &str,
        action: &str,
        value: &str,
        label: &str,
    ) -> Option<Element> {
        let b = make("button", class, testid)?;
        attr(&b, "type", "button");
        attr(&b, "data-action", action);
        attr(&b, "data-value", value);
        text(&b, label);
        Some(b)
    }

    /// The warning for a blind model (`(model, one that sees)`), or none.
    pub fn vision(slot: &Element, blind: Option<(&str, Option<&str>)>) {
        let Some((model, other)) = blind else {
            slot.set_text_content(None);
            return;
        };
        let sign = format!("{model}\n{}", other.unwrap_or_default());
        if slot
            .first_element_child()
            .and_then(|w| w.get_attribute("data-for"))
            .as_deref()
            == Some(sign.as_str())
        {
            return;
        }
        let build = || -> Option<Element> {
            let w = make("div", "banner banner-warn", "vision-warning")?;
            attr(&w, "role", "alert");
            attr(&w, "data-for", &sign);
            let p = make("p", "", "vision-warning-text")?;
            text(&p, &format!("{model} can't see images."));
            let actions = make("div", "banner-actions", "vision-actions")?;
            if let Some(other) = other {
                let b = button(
                    "btn btn-small",
                    "vision-switch",
                    "switch",
                    other,
                    &format!("Switch to {other}"),
                )?;
                actions.append_child(&b).ok()?;
            }
            let b = button(
                "btn btn-small btn-ghost",
                "vision-as-text",
                "as-text",
                "",
                "Send the image's text instead",
            )?;
            actions.append_child(&b).ok()?;
            w.append_with_node_2(&p, &actions).ok()?;
            Some(w)
        };
        slot.set_text_content(None);
        if let Some(w) = build() {
            let _ = slot.append_child(&w);
        }
    }

    /// Makes `root`'s items those of `chips`, in order.
    pub fn chips(root: &Element, chips: &[Chip], notes: &[Note]) {
        let items = root.children();
        let stale: Vec<Element> = (0..items.length())
            .filter_map(|i| items.item(i))
            .filter(|li| {
                let key = li
                    .get_attribute("data-key")
                    .and_then(|k| k.parse::<u32>().ok());
                !key.is_some_and(|k| chips.iter().any(|c| c.key == k))
            })
            .collect();
        for li in stale {
            li.remove();
        }
        for chip in chips {
            let li = match find(root, &format!("li[data-key='{}']", chip.key)) {
                Some(li) => li,
                None => {
                    let Some(li) = item(chip) else { continue };
                    let _ = root.append_child(&li);
                    li
                }
            };
            update(&li, chip, notes.iter().find(|n| n.key == chip.key));
        }
    }

    /// A new chip: name, size and the remove button.
    fn item(chip: &Chip) -> Option<Element> {
        let key = chip.key.to_string();
        let li = make("li", "chip", "attachment-chip")?;
        attr(&li, "data-key", &key);
        let body = make("span", "chip-body", "chip-body")?;
        let name = make("span", "chip-name", "chip-name")?;
        attr(&name, "title", &chip.name);
        text(&name, &chip.name);
        let meta = make("span", "chip-meta", "chip-meta")?;
        text(&meta, &size_label(chip.size));
        body.append_with_node_2(&name, &meta).ok()?;
        let remove = button("chip-remove", "remove-attachment", "remove", &key, "×")?;
        attr(&remove, "aria-label", &format!("Remove {}", chip.name));
        li.append_with_node_2(&body, &remove).ok()?;
        Some(li)
    }

    /// Adds, updates or removes the part `testid` of `parent`: present only
    /// while it has `value`, before the first of `later` that is there.
    fn part(
        parent: &Element,
        (tag, class, testid, role): (&str, &str, &str, &str),
        value: Option<&str>,
        later: &[&str],
    ) -> Option<Element> {
        let found = find(parent, &format!("[data-testid='{testid}']"));
        let Some(value) = value else {
            if let Some(el) = found {
                el.remove();
            }
            return None;
        };
        let el = match found {
            Some(el) => el,
            None => {
                let el = make(tag, class, testid)?;
                if !role.is_empty() {
                    attr(&el, "role", role);
                }
                // The text first: a live region announces what it is born with.
                text(&el, value);
                let next = later
                    .iter()
                    .find_map(|t| find(parent, &format!("[data-testid='{t}']")));
                let _ = parent.insert_before(&el, next.as_deref());
                el
            }
        };
        if tag != "progress" && tag != "img" {
            text(&el, value);
        }
        Some(el)
    }

    fn update(li: &Element, chip: &Chip, note: Option<&Note>) {
        let (state, progress, error) = match &chip.state {
            ChipState::Uploading { sent, total } => ("uploading", Some((*sent, *total)), None),
            ChipState::Failed(why) => ("failed", None, Some(why.as_str())),
            ChipState::Ready { text, .. } => (
                "ready",
                None,
                match text {
                    TextState::Failed(why) => Some(why.as_str()),
                    _ => None,
                },
            ),
        };
        attr(li, "data-state", state);
        let thumb = match &chip.state {
            ChipState::Ready { file, .. } if chip.image => Some(file.url.as_str()),
            _ => None,
        };
        if let Some(img) = part(
            li,
            ("img", "chip-thumb", "chip-thumb", ""),
            thumb,
            &["chip-body"],
        ) {
            attr(&img, "alt", "");
            attr(&img, "src", thumb.unwrap_or_default());
        }
        let (Some(body), Some(meta)) = (find(li, ".chip-body"), find(li, ".chip-meta")) else {
            return;
        };
        let meter = note.and_then(|n| n.meter.as_deref());
        part(
            &meta,
            ("span", "chip-tokens", "chip-tokens", ""),
            meter,
            &[],
        );
        let later = ["chip-error", "chip-fit"];
        let bar = progress.map(|_| "");
        if let Some(el) = part(&body, ("progress", "", "upload-progress", ""), bar, &later) {
            let (sent, total) = progress.unwrap_or_default();
            attr(&el, "aria-label", &format!("Uploading {}", chip.name));
            attr(&el, "max", &total.max(1).to_string());
            if total > 0 {
                attr(&el, "value", &sent.to_string());
            } else {
                let _ = el.remove_attribute("value");
            }
        }
        part(
            &body,
            ("span", "chip-error", "chip-error", "alert"),
            error,
            &later[1..],
        );
        let fit = note.and_then(|n| n.fit.as_deref());
        part(&body, ("span", "chip-fit", "chip-fit", "status"), fit, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(pages: usize, chars: u64) -> ReadText {
        // As the server counts: a page marker and the page, each estimated.
        ReadText {
            pages: true,
            page_tokens: (0..pages)
                .map(|i| {
                    estimate_tokens(&format!("--- Page {} ---\n", i + 1)) + chars.div_ceil(3) + 4
                })
                .collect(),
            page_chars: vec![chars; pages],
        }
    }

    #[test]
    fn documents_fit_by_whole_pages_after_the_images() {
        let big = doc(120, 3000);
        let fits = plan(40 * 1010, &[Cost::Text("big.pdf", &big)]);
        let Fit::Pages { take, total } = fits[0] else {
            panic!("{fits:?}")
        };
        assert_eq!(total, 120);
        assert!(take > 30 && take < 41, "{take}");
        assert_eq!(
            fit_sentence(fits[0], "open-mistral-7b").unwrap(),
            format!(
                "pages {}–120 won't fit in open-mistral-7b's context — the model will see pages 1–{take}",
                take + 1
            )
        );
        // An image takes its share first, wherever it is.
        let small = doc(3, 10);
        let with_image = plan(
            2_000,
            &[Cost::Text("s.pdf", &small), Cost::Image(1_990), Cost::None],
        );
        assert_eq!(with_image[1], Fit::Whole);
        assert_eq!(with_image[0], Fit::Pages { take: 0, total: 3 });
        assert_eq!(with_image[2], Fit::Unknown);
        assert_eq!(
            fit_sentence(with_image[0], "m").unwrap(),
            "pages 1–3 won't fit in m's context — the model won't see this file"
        );
        assert_eq!(plan(10_000, &[Cost::Text("s.pdf", &small)]), [Fit::Whole]);
        assert_eq!(plan(10, &[Cost::Image(11)]), [Fit::ImageOver]);
    }

    #[test]
    fn the_second_document_gets_what_the_first_left() {
        let a = doc(10, 3000);
        let fits = plan(12_000, &[Cost::Text("a.pdf", &a), Cost::Text("b.pdf", &a)]);
        assert_eq!(fits[0], Fit::Whole);
        let Fit::Pages { take, total: 10 } = fits[1] else {
            panic!("{fits:?}")
        };
        assert!(take < 2, "{take}");
    }

    #[test]
    fn text_is_cut_by_characters() {
        let t = ReadText {
            pages: false,
            page_tokens: vec![30_000u64.div_ceil(3) + 4],
            page_chars: vec![30_000],
        };
        assert_eq!(plan(100_000, &[Cost::Text("a.txt", &t)]), [Fit::Whole]);
        let [Fit::Chars { kept, total }] = plan(1_000, &[Cost::Text("a.txt", &t)])[..] else {
            panic!()
        };
        assert_eq!(total, 30_000);
        assert!(kept > 2_500 && kept < 3_000, "{kept}");
    }

    /// The preview agrees with the server's own fitting, file after file.
    #[cfg(feature = "ssr")]
    #[test]
    fn the_preview_fits_like_the_server() {
        use crate::server::services::uploads::{
            fit_text as server_fit, Extracted, Fit as ServerFit,
        };
        let pages = |n: usize, f: &dyn Fn(usize) -> usize| Extracted {
            as_: SeenAs::Pages,
            pages: (0..n).map(|i| "é".repeat(f(i))).collect(),
        };
        let read_of = |e: &Extracted| {
            ReadText::of(&FileTextDto {
                id: "f".into(),
                name: "f".into(),
                as_: e.as_,
                page_tokens: e
                    .pages
                    .iter()
                    .enumerate()
                    .map(|(i, p)| match e.as_ {
                        SeenAs::Pages => {
                            estimate_tokens(&format!("--- Page {} ---\n", i + 1))
                                + estimate_tokens(p)
                        }
                        _ => estimate_tokens(p),
                    })
                    .collect(),
                pages: e.pages.clone(),
            })
        };
        let docs = [
            (
                "report \"final\".pdf",
                pages(120, &|i| 1000 + (i * 37) % 2500),
            ),
            ("b.pdf", pages(7, &|i| 10 + i * 400)),
            ("c.pdf", pages(3, &|_| 5)),
        ];
        for budget in [0, 50, 900, 5_000, 31_000, 60_000, 400_000] {
            let reads: Vec<ReadText> = docs.iter().map(|(_, d)| read_of(d)).collect();
            let costs: Vec<Cost<'_>> = docs
                .iter()
                .zip(&reads)
                .map(|((name, _), r)| Cost::Text(name, r))
                .collect();
            let ours = plan(budget, &costs);
            let mut left = budget;
            for ((name, d), fit) in docs.iter().zip(ours) {
                let part = server_fit(name, d, ServerFit::Budget(left));
                let take = part.seen.pages.map_or(0, |[_, b]| b as usize);
                let (ours_take, ours_tokens) = {
                    let r = read_of(d);
                    let (f, t) = fit_text(name, &r, left);
                    assert_eq!(f, fit, "{name} at {budget}");
                    (
                        match f {
                            Fit::Pages { take, .. } => take,
                            _ => d.pages.len(),
                        },
                        t,
                    )
                };
                assert_eq!(ours_take, take, "{name} at {budget}");
                assert_eq!(ours_tokens, part.tokens(), "{name} at {budget}");
                left = left.saturating_sub(part.tokens());
            }
        }
    }

    #[test]
    fn sizes_and_limits_read_like_the_server() {
        assert_eq!(size_label(500), "500 B");
        assert_eq!(size_label(12 * 1024 + 100), "12 KB");
        assert_eq!(size_label(3 * 1024 * 1024 + 400 * 1024), "3.4 MB");
        assert_eq!(size_label(25 * 1024 * 1024), "25 MB");
        assert_eq!(tokens_label(12_345), "≈ 12,300 tokens");
        assert_eq!(tokens_label(345), "≈ 345 tokens");
        let limits = FileUsageDto {
            used_bytes: 0,
            quota_bytes: 1 << 30,
            max_file_bytes: 20 * 1024 * 1024,
            max_files_per_message: 2,
            max_message_bytes: 30 * 1024 * 1024,
        };
        assert_eq!(refusal(&limits, &[], 1024), None);
        assert_eq!(
            refusal(&limits, &[], 21 * 1024 * 1024).unwrap(),
            "That file is larger than the 20 MB limit per file"
        );
        assert_eq!(
            refusal(&limits, &[1, 2], 1).unwrap(),
            "A message can carry at most 2 files"
        );
        assert_eq!(
            refusal(&limits, &[15 * 1024 * 1024], 16 * 1024 * 1024).unwrap(),
            "The files of one message may take at most 30 MB together"
        );
    }
}
