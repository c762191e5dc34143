//! Serializable values shared by the server and the browser.
//!
//! These are the shapes of the JSON API and of server-function results. They
//! must never contain secrets (no password hashes, no raw API keys). Their
//! OpenAPI schemas (`/api/openapi.json`) are derived only with `ssr`, so the
//! WASM never carries utoipa.
use crate::vocab::{MessageStatus, Provider, Role, Theme};
use serde::{Deserialize, Serialize};

/// The signed-in user as `GET /api/user` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserDto {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
    pub provider: Provider,
}

impl UserDto {
    /// Up to two initials for the avatar placeholder.
    pub fn initials(&self) -> String {
        let source = if self.name.trim().is_empty() {
            self.email.clone().unwrap_or_default()
        } else {
            self.name.clone()
        };
        let mut out: String = source
            .split(|c: char| c.is_whitespace() || c == '.' || c == '@')
            .filter_map(|w| w.chars().next())
            .take(2)
            .collect::<String>()
            .to_uppercase();
        if out.is_empty() {
            out.push('?');
        }
        out
    }
}

/// A conversation as the owner sees it (`GET /api/thread`, create, update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ThreadDto {
    pub id: String,
    pub name: String,
    /// The system prompt.
    pub context: String,
    pub model: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// True while the thread has an active (not revoked, not expired) share.
    pub shared: bool,
}

/// A conversation as a visitor with its share code sees it: no owner, no
/// system prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SharedThreadDto {
    pub id: String,
    pub name: String,
    pub model: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One message of a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageDto {
    pub id: String,
    pub id_thread: String,
    pub parent_id: Option<String>,
    pub role: Role,
    pub text: String,
    pub thinking: Option<String>,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub error: Option<String>,
    /// The text as HTML, rendered by the server's markdown renderer. Only in
    /// the web UI's server-function answers (the browser carries no
    /// renderer); never in the JSON API, whose shape stays the reference's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(ignore))]
    pub html: Option<String>,
    /// The web pages an answer cites (web search), numbered in order of first
    /// citation; left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceDto>,
    /// Files of the message (generated images; uploads later), each with the
    /// address the current reader may fetch it from; left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentDto>,
    /// A question said in a voice call (transcribed speech); left out when
    /// typed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spoken: bool,
}

/// A web page an answer cites. Numbers follow the order of first citation;
/// a page cited twice keeps its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SourceDto {
    /// 1, 2, 3… in order of first citation.
    pub index: u32,
    pub title: String,
    pub url: String,
    /// The search provider that found it, when Mistral says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where its markers stand in the answer's `text`: offsets counted in
    /// Unicode characters, ascending.
    #[serde(default)]
    pub at: Vec<u32>,
}

/// What a file of a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// Made by a tool (image generation).
    Generated,
    /// Sent by the user.
    Upload,
}

/// A file of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AttachmentDto {
    pub id: String,
    pub name: String,
    /// Detected from the bytes, never taken from the uploader's claim.
    pub mime: String,
    /// Bytes.
    pub size: i64,
    pub kind: AttachmentKind,
    /// Where the current reader fetches it: `/api/files/{id}` for its owner,
    /// a share-scoped address for readers of a shared thread.
    pub url: String,
    /// Pixels, for images (the page reserves the space before it loads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// What the image was made from (generated images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// What the model received of it when the message was sent (uploads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<SeenDto>,
}

/// How a file reached the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SeenAs {
    /// Its text, in the message.
    Text,
    /// The markdown OCR read from its pages, with page markers.
    Pages,
    /// The image itself (a vision model).
    Image,
}

/// Exactly what the model received of one attachment: never cut silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SeenDto {
    #[serde(rename = "as")]
    pub as_: SeenAs,
    /// Pages sent (1-based, inclusive), for documents: `[1, 40]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<[u32; 2]>,
    /// Pages the document has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u32>,
    /// Characters sent, and how many the text has.
    pub chars: u64,
    pub total_chars: u64,
    /// Estimated tokens sent.
    pub tokens: u64,
}

impl SeenDto {
    /// Whether the model saw all of the file.
    pub fn complete(&self) -> bool {
        self.chars >= self.total_chars
    }

    /// "all 12 pages", "pages 1–40 of 120", "8,000 of 50,000 characters", "the image".
    pub fn describe(&self) -> String {
        match (self.as_, self.pages, self.total_pages) {
            (SeenAs::Image, _, _) => "the image".into(),
            (_, _, Some(0)) => "no text".into(),
            (_, Some([a, b]), Some(t)) if a == 1 && b == t && self.complete() => match t {
                1 => "its page".into(),
                _ => format!("all {t} pages"),
            },
            (_, Some([a, b]), Some(t)) => format!("pages {a}–{b} of {t}"),
            (_, None, Some(t)) => format!("none of its {t} pages"),
            _ if self.complete() => format!("all {} characters", group(self.total_chars)),
            _ => format!(
                "{} of {} characters",
                group(self.chars),
                group(self.total_chars)
            ),
        }
    }
}

/// 12345 → "12,345".
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A file just uploaded (not yet sent with a message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadedFileDto {
    pub id: String,
    /// The file name as stored (no path; the extension of its type).
    pub name: String,
    /// Detected from the bytes.
    pub mime: String,
    pub size: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    pub kind: AttachmentKind,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// The text the model would receive of a file: a text file's text (one
/// "page"), or what OCR read from each page of a document or image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileTextDto {
    pub id: String,
    pub name: String,
    /// `text` (the file's own text) or `pages` (read by OCR).
    #[serde(rename = "as")]
    pub as_: SeenAs,
    /// Markdown (or text) of each page.
    pub pages: Vec<String>,
    /// Estimated tokens of each page as it would be sent.
    pub page_tokens: Vec<u64>,
}

/// What the caller's uploaded files take, against the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileUsageDto {
    pub used_bytes: u64,
    pub quota_bytes: u64,
    /// The limits the composer shows before an upload.
    pub max_file_bytes: u64,
    pub max_files_per_message: u32,
    pub max_message_bytes: u64,
}

#[cfg(feature = "ssr")]
impl MessageDto {
    /// With [`MessageDto::html`] filled in (a user's message in the user
    /// flavour: a single newline is a line break).
    pub fn rendered(mut self) -> Self {
        self.html = Some(self.body_html());
        self
    }

    /// The body as HTML: a user's message in the user flavour (a single
    /// newline is a line break), an answer with its citation markers.
    pub fn body_html(&self) -> String {
        use crate::markdown::{render_as, with_citations, Flavor};
        if self.role == Role::User {
            return render_as(&self.text, Flavor::User);
        }
        render_as(
            &with_citations(&self.text, &self.citation_marks(), &self.id),
            Flavor::Answer,
        )
    }
}

impl MessageDto {
    /// `(at, index)` of every citation marker, for the renderer.
    pub fn citation_marks(&self) -> Vec<(u32, u32)> {
        marks_of(&self.sources)
    }
}

/// `(at, index)` of every marker of `sources`.
pub fn marks_of(sources: &[SourceDto]) -> Vec<(u32, u32)> {
    sources
        .iter()
        .flat_map(|s| s.at.iter().map(move |at| (*at, s.index)))
        .collect()
}

#[cfg(feature = "ssr")]
impl SendResultDto {
    /// With the messages' HTML filled in (see [`MessageDto::rendered`]).
    pub fn rendered(self) -> Self {
        Self {
            user_message: self.user_message.map(MessageDto::rendered),
            assistant_message: self.assistant_message.rendered(),
            ..self
        }
    }
}

/// A page of the caller's threads, most recently updated first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ThreadPage {
    pub threads: Vec<ThreadDto>,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One owned thread with its messages (all of them, or one page) in
/// chronological order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ThreadWithMessages {
    pub thread: ThreadDto,
    pub messages: Vec<MessageDto>,
    /// Pass as `before` for the previous (older) messages; `None` when there
    /// are none (always `None` when all messages were asked for).
    pub next_cursor: Option<String>,
}

/// What `GET /api/thread?shareCode=…` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SharedThreadView {
    pub thread: SharedThreadDto,
    /// The shared branch (or one page of it), root first.
    pub messages: Vec<MessageDto>,
    /// Pass as `before` for the earlier messages; `None` when there are none
    /// (always `None` when the whole branch was asked for). Left out of the
    /// JSON when `None`, as in the reference project's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The active share of a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ShareDto {
    pub share_code: String,
    /// Unix milliseconds; `None` = never expires.
    pub expires_at: Option<i64>,
    /// The last message the link shows (messages added later stay private
    /// until the owner shares again); `None` for an empty thread.
    pub upto_message_id: Option<String>,
    /// When that message was written (Unix milliseconds).
    pub upto_at: Option<i64>,
    /// How many messages the link shows.
    pub message_count: u32,
}

/// A message sent by a client for `sync` (offline-first upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncMessageDto {
    pub id_message: String,
    pub id_thread: String,
    pub role: String,
    pub text: String,
    #[serde(default)]
    pub thinking: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Unix milliseconds: becomes the message's `createdAt`.
    pub date: i64,
    /// Files written inline by the reference client: stored like uploads,
    /// once their bytes match the `sha256` they claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<SyncAttachmentDto>,
}

/// A file inline in a synced message (the reference client's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncAttachmentDto {
    pub file_name: String,
    /// The client's claim; the type is detected from the bytes.
    #[serde(default)]
    pub file_type: Option<String>,
    /// `image` or `file` in the reference client; not trusted either.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    pub data: SyncAttachmentData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncAttachmentData {
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// `data:<mime>;base64,<bytes>`.
    pub data: String,
}

/// A message `sync` refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncRejection {
    pub id_message: String,
    pub reason: String,
}

/// The outcome of a `sync` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    pub inserted: u32,
    pub skipped: u32,
    pub rejected: Vec<SyncRejection>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_from_name_or_email() {
        let mut u = UserDto {
            id: "1".into(),
            name: "ada lovelace".into(),
            email: Some("ada@example.com".into()),
            picture: None,
            provider: Provider::Email,
        };
        assert_eq!(u.initials(), "AL");
        u.name = String::new();
        assert_eq!(u.initials(), "AE");
    }

    #[test]
    fn a_merge_notice_survives_its_cookie_and_says_what_moved() {
        let m = MergeResultDto {
            merged: MergedDto {
                threads: 2,
                messages: 7,
                files: 1,
            },
            guest_key_discarded: true,
        };
        assert_eq!(m.to_cookie_value(), "2.7.1.1");
        assert_eq!(MergeResultDto::from_cookie_value("2.7.1.1"), Some(m));
        assert_eq!(
            m.sentence().as_deref(),
            Some("Your guest chats are now in this account: 2 chats, 7 messages, 1 file. Your account's Mistral key was kept; the key saved as a guest was discarded.")
        );
        let one = MergeResultDto::from_cookie_value("1.1.0.0").unwrap();
        assert_eq!(
            one.sentence().as_deref(),
            Some("Your guest chats are now in this account: 1 chat, 1 message.")
        );
        assert_eq!(MergeResultDto::default().sentence(), None);
        for bad in ["", "1.2.3", "1.2.3.4", "1.2.3.0.5", "a.b.c.d", "-1.0.0.0"] {
            assert_eq!(MergeResultDto::from_cookie_value(bad), None, "{bad}");
        }
    }
}

/// A user's settings as the UI sees them. The API key itself never leaves the
/// server: only whether one is set and its last four characters.
// Not `Eq` (`voice_speed` is a float). The voice members have serde
// defaults, so an answer from a server older than them still reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SettingsDto {
    pub has_key: bool,
    pub key_last4: Option<String>,
    /// The operator lets users without a key use the server's key.
    pub server_key_available: bool,
    pub default_model: Option<String>,
    pub default_context: String,
    pub fast_models: Vec<String>,
    pub theme: Theme,
    /// Today's use of the operator's key, when this user's answers go out
    /// with it and the operator set a daily budget; `None` otherwise.
    #[serde(default)]
    pub server_key_budget: Option<ServerKeyBudgetDto>,
    /// The voice answers are read in (an id from `GET /api/voices`);
    /// null: the provider's default voice.
    #[serde(default)]
    pub voice_id: Option<String>,
    /// The two-letter language the user speaks (`en`, `fr`…), passed to
    /// transcription (and to the operator's TTS provider); null: detected
    /// from the audio.
    #[serde(default)]
    pub voice_language: Option<String>,
    /// How fast answers are played, 0.5–2.0 (default 1.0).
    #[serde(default = "default_voice_speed")]
    #[cfg_attr(feature = "ssr", schema(minimum = 0.5, maximum = 2.0))]
    pub voice_speed: f64,
    /// How long a silence ends a spoken turn, in milliseconds: 200–3000
    /// (default 800).
    #[serde(default = "default_voice_silence_ms")]
    #[cfg_attr(feature = "ssr", schema(minimum = 200, maximum = 3000))]
    pub voice_silence_ms: u32,
    /// Speaking while an answer is read interrupts it (default true).
    #[serde(default = "default_voice_barge_in")]
    pub voice_barge_in: bool,
    /// A guest on the server's key: what today's quotas leave
    /// (`GUEST_DAILY_MESSAGES`, `GUEST_IP_DAILY_MESSAGES`); `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_quota: Option<GuestQuotaDto>,
}

/// A guest's daily quota on the server's key: per guest and per address
/// (the address part survives clearing cookies). `remaining` is the smaller
/// of what both leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GuestQuotaDto {
    pub remaining: u32,
    pub used: u32,
    pub limit: u32,
    pub address_used: u32,
    pub address_limit: u32,
}

/// What signing in from a guest session (or redeeming a claim link) moved
/// into the account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MergedDto {
    pub threads: u64,
    pub messages: u64,
    pub files: u64,
}

/// A guest moved into an account: what moved, and whether the guest's
/// Mistral key was dropped (the account's own key stays).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeResultDto {
    pub merged: MergedDto,
    pub guest_key_discarded: bool,
}

/// The short-lived cookie that tells the next page what a sign-in from a
/// guest session moved (not a secret: four numbers, readable by the page).
pub const MERGE_NOTICE_COOKIE: &str = "merged";

impl MergeResultDto {
    /// `threads.messages.files.keyDiscarded` (the cookie's value).
    pub fn to_cookie_value(&self) -> String {
        let m = &self.merged;
        format!(
            "{}.{}.{}.{}",
            m.threads,
            m.messages,
            m.files,
            u8::from(self.guest_key_discarded)
        )
    }

    /// The inverse of [`to_cookie_value`](Self::to_cookie_value); `None` for
    /// anything else.
    pub fn from_cookie_value(v: &str) -> Option<Self> {
        let mut parts = v.split('.');
        let mut next = || parts.next().and_then(|p| p.parse::<u64>().ok());
        let (threads, messages, files, discarded) = (next()?, next()?, next()?, next()?);
        if parts.next().is_some() || discarded > 1 {
            return None;
        }
        Some(Self {
            merged: MergedDto {
                threads,
                messages,
                files,
            },
            guest_key_discarded: discarded == 1,
        })
    }

    /// What the person is told after signing in; `None` when nothing moved.
    pub fn sentence(&self) -> Option<String> {
        let m = &self.merged;
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = vec![plural(m.threads, "chat", "chats")];
        if m.messages > 0 {
            parts.push(plural(m.messages, "message", "messages"));
        }
        if m.files > 0 {
            parts.push(plural(m.files, "file", "files"));
        }
        let mut out = String::new();
        if m.threads > 0 || m.files > 0 {
            out = format!(
                "Your guest chats are now in this account: {}.",
                parts.join(", ")
            );
        }
        if self.guest_key_discarded {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(
                "Your account's Mistral key was kept; the key saved as a guest was discarded.",
            );
        }
        (!out.is_empty()).then_some(out)
    }
}

/// A guest's one-time claim link (15 minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimLinkDto {
    pub url: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// Playback speed of spoken answers unless the user chose another.
pub const DEFAULT_VOICE_SPEED: f64 = 1.0;
pub const MIN_VOICE_SPEED: f64 = 0.5;
pub const MAX_VOICE_SPEED: f64 = 2.0;
/// Silence that ends a spoken turn unless the user chose another, ms.
pub const DEFAULT_VOICE_SILENCE_MS: u32 = 800;
pub const MIN_VOICE_SILENCE_MS: u32 = 200;
pub const MAX_VOICE_SILENCE_MS: u32 = 3000;

fn default_voice_speed() -> f64 {
    DEFAULT_VOICE_SPEED
}

fn default_voice_silence_ms() -> u32 {
    DEFAULT_VOICE_SILENCE_MS
}

fn default_voice_barge_in() -> bool {
    true
}

impl Default for SettingsDto {
    fn default() -> Self {
        Self {
            has_key: false,
            key_last4: None,
            server_key_available: false,
            default_model: None,
            default_context: String::new(),
            fast_models: vec![],
            theme: Theme::default(),
            server_key_budget: None,
            voice_id: None,
            voice_language: None,
            voice_speed: DEFAULT_VOICE_SPEED,
            voice_silence_ms: DEFAULT_VOICE_SILENCE_MS,
            voice_barge_in: true,
            guest_quota: None,
        }
    }
}

/// `POST /api/transcribe`: what was said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TranscriptionDto {
    pub text: String,
    /// The language Mistral heard or was told (two letters), when it says.
    pub language: Option<String>,
}

/// One voice answers can be read in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VoiceDto {
    /// What `voice` of `POST /api/tts` and `voiceId` of the settings take.
    pub id: String,
    pub name: String,
    /// Two-letter codes of the languages it speaks (may be empty).
    pub languages: Vec<String>,
    /// `male`, `female`… when the provider says.
    pub gender: Option<String>,
}

/// `GET /api/voices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VoiceListDto {
    pub voices: Vec<VoiceDto>,
}

/// Who reads answers aloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SpeechProvider {
    /// Mistral's `/v1/audio/speech`, with the user's key.
    Mistral,
    /// The operator's text-to-speech provider (`TTS_API_BASE`), with the
    /// operator's key.
    Tts,
}

/// `POST /api/tts` with `{"validate": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TtsValidationDto {
    /// Whether the provider accepts the key speech would be made with (the
    /// user's Mistral key, or the operator's key of the TTS provider);
    /// `false` too when there is no key at all.
    pub ok: bool,
    pub provider: SpeechProvider,
}

/// Answers started today (UTC) with the operator's key, out of the daily limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServerKeyBudgetDto {
    pub used: u32,
    pub limit: u32,
}

/// One model of the catalogue with what it can do (the model features viewer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelInfoDto {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub max_context_length: u64,
    pub chat: bool,
    pub vision: bool,
    pub reasoning: bool,
    pub function_calling: bool,
    pub ocr: bool,
    pub audio: bool,
    pub deprecation: Option<String>,
    pub aliases: Vec<String>,
}

/// What sending (or regenerating, or editing) starts: the stored user message
/// (absent for a regeneration) and the assistant message being generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendResultDto {
    pub thread: ThreadDto,
    pub user_message: Option<MessageDto>,
    pub assistant_message: MessageDto,
}

/// The model id families that reason on request.
/// Whether `model` can use tools (web search, image generation): the
/// catalogue says it calls functions.
pub fn model_has_tools(model: &str, models: &[ModelInfoDto]) -> bool {
    models
        .iter()
        .any(|m| (m.id == model || m.aliases.iter().any(|a| a == model)) && m.function_calling)
}

pub fn model_can_think(model: &str, models: &[ModelInfoDto]) -> bool {
    crate::vocab::limits::is_reasoning_family(model)
        || models
            .iter()
            .any(|m| (m.id == model || m.aliases.iter().any(|a| a == model)) && m.reasoning)
}
