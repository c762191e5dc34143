//! Browser-side helpers for calling the JSON API (`/api/*`) with the session
//! cookie. On the server these are never called (event handlers do not run
//! during SSR); they compile to an error there so shared components build.
use serde::Serialize;

/// POSTs JSON and returns the parsed body, or the API's `{"error"}` sentence.
pub async fn post_json<B: Serialize>(url: &str, body: &B) -> Result<serde_json::Value, String> {
    #[cfg(feature = "hydrate")]
    {
        let req = gloo_net::http::Request::post(url)
            .json(body)
            .map_err(|e| e.to_string())?;
        let resp = req.send().await.map_err(|_| {
            "The server could not be reached — check your connection and try again".to_string()
        })?;
        let ok = resp.ok();
        let status = resp.status();
        let value: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(value
                .get("error")
                .and_then(|e| e.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("The server answered {status} — please try again")))
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (url, serde_json::to_value(body));
        Err("only available in the browser".into())
    }
}

/// Full navigation (so the server renders the next page with the new cookie).
pub fn hard_navigate(to: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().assign(to);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = to;
}

#[cfg(feature = "hydrate")]
use leptos::prelude::window;

/// Longest `?redirect=` target kept; anything longer goes home.
const MAX_REDIRECT_LEN: usize = 2048;

/// Keeps redirects on this site: the target, read the way a browser's URL
/// parser (WHATWG) reads it, must be a path on this origin; otherwise `/`.
///
/// The parser strips leading/trailing C0 controls and spaces, deletes every
/// ASCII tab and newline anywhere (so `/\t/evil.com` *is* `//evil.com`), and
/// treats `\` like `/` in http(s) URLs. So: strip like the parser, then accept
/// only `/` followed by something other than `/`, with no backslash, no
/// control character left, and no `.`/`..` segment (which could collapse the
/// path into `//host` for code that later reads the parsed path).
/// Percent-encoded bytes stay inert path data (`/%09/x` is a path).
pub fn safe_redirect(target: Option<String>) -> String {
    target
        .as_deref()
        .and_then(same_origin_path)
        .unwrap_or_else(|| "/".to_string())
}

fn same_origin_path(raw: &str) -> Option<String> {
    if raw.len() > MAX_REDIRECT_LEN {
        return None;
    }
    let is_c0_or_space = |c: char| c <= ' ';
    let cleaned: String = raw
        .trim_matches(is_c0_or_space)
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    // `//host` is scheme-relative: another origin.
    if !cleaned.starts_with('/') || cleaned.starts_with("//") {
        return None;
    }
    if cleaned.contains('\\') || cleaned.chars().any(|c| c.is_control()) {
        return None;
    }
    let path = cleaned.split(['?', '#']).next().unwrap_or_default();
    let dot_segment = path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    });
    if dot_segment {
        return None;
    }
    Some(cleaned)
}

/// A cookie of this request (server) or page (browser).
pub fn page_cookie(name: &str) -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|p| crate::server::services::auth::cookie_value(&p.headers, name))
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        use wasm_bindgen::JsCast;
        let all = leptos::prelude::document()
            .dyn_into::<web_sys::HtmlDocument>()
            .ok()
            .and_then(|d| d.cookie().ok())
            .unwrap_or_default();
        all.split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        let _ = name;
        None
    }
}

/// Sets (or, with `max_age` 0, removes) a page cookie.
pub fn set_page_cookie(name: &str, value: &str, max_age: u32) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Ok(d) = leptos::prelude::document().dyn_into::<web_sys::HtmlDocument>() {
            let _ = d.set_cookie(&format!(
                "{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax"
            ));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (name, value, max_age);
}

#[cfg(feature = "hydrate")]
thread_local! {
    static VISITOR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this page as a visitor's (guests allowed, no session yet), so that
/// [`ensure_session`] makes the guest before a write to the JSON API.
pub fn set_visitor(visitor: bool) {
    #[cfg(feature = "hydrate")]
    VISITOR.with(|v| v.set(visitor));
    #[cfg(not(feature = "hydrate"))]
    let _ = visitor;
}

/// Before a write that goes to the JSON API rather than a server function
/// (an upload, a recording, speech): a visitor becomes a guest first
/// (`POST /api/auth/guest`, which sets the session cookie), as the server
/// functions do by themselves. Nothing for everyone else; a guest made in
/// the meantime by a server function is answered 200 without a new one.
pub async fn ensure_session() -> Result<(), String> {
    #[cfg(feature = "hydrate")]
    if VISITOR.with(|v| v.get()) {
        post_json("/api/auth/guest", &serde_json::json!({})).await?;
        VISITOR.with(|v| v.set(false));
    }
    Ok(())
}

/// What the network failing is called on screen.
pub const UNREACHABLE: &str = "Can't reach the server — check your connection";
/// The same for a message that was not sent (the composer keeps it).
pub const UNREACHABLE_SEND: &str = "Can't reach the server — your message is kept, retry";
/// Anything else that went wrong between the page and the server.
pub const GARBLED: &str = "The server's answer could not be read — please try again";

/// The sentence to show for a failed server function (see
/// [`ApiError`](crate::api::ApiError)): the server's own sentence, or a fixed
/// one for a network failure or an answer that is not ours. A "signed out"
/// failure also sends the browser to the login page, back here afterwards.
pub fn server_fn_message(e: &crate::api::ApiError) -> String {
    if e.is_signed_out() {
        go_to_login();
    }
    e.message.clone()
}

/// [`server_fn_message`] for a send: a network failure says the text is kept.
pub fn send_failure_message(e: &crate::api::ApiError) -> String {
    match e.kind {
        crate::api::ErrorKind::Network => UNREACHABLE_SEND.to_string(),
        _ => server_fn_message(e),
    }
}

/// `/login?redirect=<this page>` for a session that ended while the page was
/// open (browser only; during SSR the page guard already redirected).
pub fn go_to_login() {
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        let here = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        hard_navigate(&login_url(&here));
    }
}

/// The login page that returns to `here` afterwards.
pub fn login_url(here: &str) -> String {
    format!(
        "/login?redirect={}",
        url_component(&safe_redirect(Some(here.to_string())))
    )
}

/// Percent-encodes `s` for use as one query value or path segment.
pub fn url_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Copies text to the clipboard (browser only).
pub fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let clipboard = window().navigator().clipboard();
        let _ = clipboard.write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// The body of an API error: `{"error": "sentence"}`.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: String,
}

/// The sentence to show for a failed `/api/*` answer: the server's own, or
/// a fixed one for an answer that is not ours. A 401 (the session ended)
/// also sends the browser to the login page.
pub fn api_error_sentence(status: u16, body: &str) -> String {
    if status == 401 {
        go_to_login();
    }
    if status == 0 {
        return UNREACHABLE.to_string();
    }
    serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_else(|_| format!("The server answered {status} — please try again"))
}

/// DELETEs `url`; `Ok` for any 2xx.
pub async fn delete(url: &str) -> Result<(), String> {
    #[cfg(feature = "hydrate")]
    {
        let resp = gloo_net::http::Request::delete(url)
            .send()
            .await
            .map_err(|_| UNREACHABLE.to_string())?;
        if resp.ok() {
            return Ok(());
        }
        let body = resp.text().await.unwrap_or_default();
        Err(api_error_sentence(resp.status(), &body))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = url;
        Err("only available in the browser".into())
    }
}

/// Saves `text` as a file called `name` (a Blob URL followed by a link with
/// `download`; browser only).
pub fn download_text(name: &str, text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::prelude::{document, set_timeout};
        use wasm_bindgen::JsCast;
        let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
        let Ok(blob) = web_sys::Blob::new_with_str_sequence(&parts) else {
            return;
        };
        let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
            return;
        };
        if let Ok(a) = document().create_element("a") {
            let a: web_sys::HtmlAnchorElement = a.unchecked_into();
            a.set_href(&url);
            a.set_download(name);
            a.click();
        }
        // The download has started by then; the URL only holds memory.
        set_timeout(
            move || {
                let _ = web_sys::Url::revoke_object_url(&url);
            },
            std::time::Duration::from_secs(30),
        );
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (name, text);
}

/// Files and uploads in the browser: the `File`s of a file picker, a paste
/// or a drop, and their upload with `XMLHttpRequest` (whose upload progress
/// `fetch` does not report). Bound here with `wasm-bindgen` rather than
/// through more `web-sys` features: these few members are all the UI uses.
#[cfg(feature = "hydrate")]
pub mod files {
    use super::{api_error_sentence, GARBLED, UNREACHABLE};
    use crate::model::{AttachmentKind, FileTextDto, FileUsageDto, SeenAs, UploadedFileDto};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    #[wasm_bindgen]
    extern "C" {
        /// A file the person chose, pasted or dropped.
        #[wasm_bindgen(extends = web_sys::Blob, extends = js_sys::Object)]
        #[derive(Debug, Clone)]
        pub type File;
        #[wasm_bindgen(method, getter, structural)]
        pub fn name(this: &File) -> String;

        /// `XMLHttpRequest`.
        #[wasm_bindgen(extends = web_sys::EventTarget, extends = js_sys::Object, js_name = XMLHttpRequest)]
        #[derive(Debug, Clone)]
        pub type Xhr;
        #[wasm_bindgen(catch, constructor, js_class = "XMLHttpRequest")]
        fn new() -> Result<Xhr, JsValue>;
        #[wasm_bindgen(catch, method, structural, js_class = "XMLHttpRequest")]
        fn open(this: &Xhr, method: &str, url: &str) -> Result<(), JsValue>;
        #[wasm_bindgen(catch, method, structural, js_class = "XMLHttpRequest")]
        fn send(this: &Xhr, body: &web_sys::FormData) -> Result<(), JsValue>;
        #[wasm_bindgen(catch, method, getter, structural, js_class = "XMLHttpRequest")]
        fn upload(this: &Xhr) -> Result<web_sys::EventTarget, JsValue>;
        #[wasm_bindgen(method, getter, structural, js_class = "XMLHttpRequest")]
        fn status(this: &Xhr) -> u16;
        #[wasm_bindgen(catch, method, getter, structural, js_class = "XMLHttpRequest", js_name = responseText)]
        fn response_text(this: &Xhr) -> Result<Option<String>, JsValue>;
        #[wasm_bindgen(method, structural, js_class = "XMLHttpRequest")]
        pub fn abort(this: &Xhr);
    }

    /// `holder.a.b…` (e.g. `event.dataTransfer.files`), or `undefined`.
    fn path(holder: &JsValue, keys: &[&str]) -> JsValue {
        let mut at = holder.clone();
        for k in keys {
            if at.is_undefined() || at.is_null() {
                return JsValue::UNDEFINED;
            }
            at = js_sys::Reflect::get(&at, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
        }
        at
    }

    /// The files of a `FileList` found at `holder.keys…`:
    /// `(input, ["files"])`, `(drop, ["dataTransfer", "files"])`,
    /// `(paste, ["clipboardData", "files"])`.
    pub fn files_at(holder: &JsValue, keys: &[&str]) -> Vec<File> {
        let list = path(holder, keys);
        if list.is_undefined() || list.is_null() {
            return vec![];
        }
        js_sys::Array::from(&list)
            .iter()
            .map(|f| f.unchecked_into::<File>())
            .collect()
    }

    /// Whether a drag carries files (not text or a link).
    pub fn drag_has_files(ev: &JsValue) -> bool {
        let types = path(ev, &["dataTransfer", "types"]);
        if types.is_undefined() || types.is_null() {
            return false;
        }
        js_sys::Array::from(&types)
            .iter()
            .any(|t| t.as_string().as_deref() == Some("Files"))
    }

    /// Sends `file` as the multipart part `file` to `url`. `started` gets
    /// the request (to abort it); `progress` gets (bytes sent, bytes in
    /// all) as they go. The answer is the stored file, or the server's
    /// sentence (an aborted or failed request: the fixed "can't reach").
    pub async fn upload(
        url: &str,
        file: &File,
        started: impl FnOnce(Xhr),
        mut progress: impl FnMut(u64, u64) + 'static,
    ) -> Result<UploadedFileDto, String> {
        super::ensure_session().await?;
        let could_not = |_| "The upload could not start — please try again".to_string();
        let xhr = Xhr::new().map_err(could_not)?;
        let form = web_sys::FormData::new().map_err(could_not)?;
        form.append_with_blob_and_filename("file", file, &file.name())
            .map_err(could_not)?;
        xhr.open("POST", url).map_err(could_not)?;
        let on_progress =
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |ev: web_sys::ProgressEvent| {
                if ev.length_computable() {
                    progress(ev.loaded() as u64, ev.total() as u64);
                }
            });
        if let Ok(target) = xhr.upload() {
            let _ = target
                .add_event_listener_with_callback("progress", on_progress.as_ref().unchecked_ref());
        }
        // `loadend` follows success, failure and abort alike.
        let done = js_sys::Promise::new(&mut |resolve, _| {
            let _ = xhr.add_event_listener_with_callback("loadend", &resolve);
        });
        xhr.send(&form).map_err(could_not)?;
        started(xhr.clone());
        let _ = wasm_bindgen_futures::JsFuture::from(done).await;
        // No progress event comes after `loadend`.
        drop(on_progress);
        let status = xhr.status();
        let body = xhr.response_text().ok().flatten().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(api_error_sentence(status, &body));
        }
        uploaded(&parse(&body)).ok_or_else(|| GARBLED.to_string())
    }

    fn uploaded(v: &JsValue) -> Option<UploadedFileDto> {
        let number = |k: &str| field(v, k).as_f64();
        let dim = |k: &str| number(k).map(|n| n as u32);
        Some(UploadedFileDto {
            id: string(v, "id")?,
            name: string(v, "name")?,
            mime: string(v, "mime")?,
            size: number("size")? as i64,
            sha256: string(v, "sha256").unwrap_or_default(),
            kind: AttachmentKind::Upload,
            url: string(v, "url")?,
            width: dim("width"),
            height: dim("height"),
        })
    }

    // The answers below are read with the browser's own JSON parser: a
    // `serde` reader per type would add its code to the WASM for three
    // small shapes (`crate::model` keeps the types, and the field names).

    fn parse(body: &str) -> JsValue {
        js_sys::JSON::parse(body).unwrap_or(JsValue::UNDEFINED)
    }

    fn field(v: &JsValue, key: &str) -> JsValue {
        path(v, &[key])
    }

    fn string(v: &JsValue, key: &str) -> Option<String> {
        field(v, key).as_string()
    }

    /// The body of a successful GET of `url`, or the API's sentence.
    async fn get(url: &str) -> Result<JsValue, String> {
        let resp = gloo_net::http::Request::get(url)
            .send()
            .await
            .map_err(|_| UNREACHABLE.to_string())?;
        let body = resp.text().await.unwrap_or_default();
        if resp.ok() {
            Ok(parse(&body))
        } else {
            Err(api_error_sentence(resp.status(), &body))
        }
    }

    /// `GET /api/files/usage`: the upload limits (`None` when unknown).
    pub async fn usage() -> Option<FileUsageDto> {
        let v = get("/api/files/usage").await.ok()?;
        let n = |k: &str| field(&v, k).as_f64().map(|n| n as u64);
        Some(FileUsageDto {
            used_bytes: n("usedBytes").unwrap_or_default(),
            quota_bytes: n("quotaBytes").unwrap_or(u64::MAX),
            max_file_bytes: n("maxFileBytes")?,
            max_files_per_message: n("maxFilesPerMessage")? as u32,
            max_message_bytes: n("maxMessageBytes")?,
        })
    }

    /// `GET /api/files/{id}/text`: what the model reads of a file.
    pub async fn text(id: &str) -> Result<FileTextDto, String> {
        let v = get(&format!("/api/files/{}/text", super::url_component(id))).await?;
        let list = |k: &str| {
            let a = field(&v, k);
            if a.is_object() {
                js_sys::Array::from(&a).iter().collect::<Vec<_>>()
            } else {
                vec![]
            }
        };
        Ok(FileTextDto {
            id: id.to_string(),
            name: string(&v, "name").unwrap_or_default(),
            as_: if string(&v, "as").as_deref() == Some("pages") {
                SeenAs::Pages
            } else {
                SeenAs::Text
            },
            pages: list("pages")
                .iter()
                .map(|p| p.as_string().unwrap_or_default())
                .collect(),
            page_tokens: list("pageTokens")
                .iter()
                .map(|t| t.as_f64().unwrap_or_default() as u64)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_error_texts_never_reach_the_screen() {
        use crate::api::{ApiError, ErrorKind};
        use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
        let ours = ApiError::new(ErrorKind::BadInput, "Add your Mistral API key");
        assert_eq!(server_fn_message(&ours), "Add your Mistral API key");
        assert_eq!(send_failure_message(&ours), "Add your Mistral API key");
        let offline = ApiError::from_server_fn_error(ServerFnErrorErr::Request(
            "error reaching server to call server function: TypeError: Failed to fetch".into(),
        ));
        assert_eq!(offline.kind, ErrorKind::Network);
        assert_eq!(server_fn_message(&offline), UNREACHABLE);
        assert_eq!(send_failure_message(&offline), UNREACHABLE_SEND);
        // A proxy's error page instead of our JSON.
        let garbled = ApiError::de(leptos::server_fn::Bytes::from_static(
            b"<html>502 Bad Gateway</html>",
        ));
        assert!(!server_fn_message(&garbled).contains("html"));
    }

    #[test]
    fn the_login_page_returns_to_where_the_session_ended() {
        assert_eq!(
            login_url("/t/abc?x=1"),
            "/login?redirect=%2Ft%2Fabc%3Fx%3D1"
        );
        assert_eq!(login_url("//evil.com"), "/login?redirect=%2F");
    }

    #[test]
    fn redirects_stay_on_site() {
        assert_eq!(safe_redirect(Some("/t/123?x=1".into())), "/t/123?x=1");
        assert_eq!(safe_redirect(Some("/".into())), "/");
        assert_eq!(safe_redirect(Some("/settings#a".into())), "/settings#a");
        assert_eq!(safe_redirect(None), "/");
        // Percent-encoded bytes are path data, not syntax.
        assert_eq!(safe_redirect(Some("/%09/evil.com".into())), "/%09/evil.com");
        assert_eq!(
            safe_redirect(Some("/%2F%2Fevil.com".into())),
            "/%2F%2Fevil.com"
        );
        // What the URL parser strips, we strip; the result must still be a path.
        assert_eq!(safe_redirect(Some(" /x".into())), "/x");
        assert_eq!(safe_redirect(Some("/t/1\n".into())), "/t/1");
        assert_eq!(safe_redirect(Some("\u{0}/x".into())), "/x");
        for evil in [
            "//evil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "/\r\n/evil.com",
            "\t//evil.com",
            " //evil.com",
            "\\/evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "/x\\y",
            "https://evil.com",
            "https:evil.com",
            "javascript:alert(1)",
            "evil.com",
            "",
            "/x\u{0}//evil.com",
            "/..//evil.com",
            "/a/../..//evil.com",
            "/%2e%2E//evil.com",
            "/./x",
        ] {
            assert_eq!(safe_redirect(Some(evil.into())), "/", "{evil:?}");
        }
        assert_eq!(safe_redirect(Some(format!("/{}", "a".repeat(3000)))), "/");
    }
}
