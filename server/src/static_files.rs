//! The built site's files (`LEPTOS_SITE_ROOT`, `target/site` by default):
//! the bundle under `/pkg/` (WASM, its JS glue, the stylesheet) and the
//! public assets copied from `public/` (favicon, manifest, icons).
//!
//! Owns how they are cached and which encoding is sent:
//! - a `/pkg/` file whose name carries cargo-leptos' content hash
//!   (`mistralchat.<hash>.wasm`, Cargo.toml `hash-files`) never changes
//!   under that name, so it is `Cache-Control: public, max-age=31536000,
//!   immutable`: a repeat visit fetches no WASM at all. Every other file gets
//!   a short max-age (it keeps its name across builds);
//! - the `.br` and `.gz` siblings `scripts/compress-site.sh` writes at build
//!   time are sent to clients that accept them (brotli first), with the
//!   original file's Content-Type (`application/wasm` stays streamable) and
//!   `Vary: Accept-Encoding`; without them, or to a client that accepts
//!   neither, the file goes out as it is. Nothing is compressed per request.
//!
//! Paths are resolved by tower-http's `ServeDir`, which refuses `..` and
//! anything else that would leave the site root. HTML pages are not served
//! here (they are rendered per request and keep their own headers), and
//! nothing here looks at sessions.
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use leptos::config::LeptosOptions;
use std::path::{Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// For file names that change whenever their content does.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// For files that keep their name across builds (favicon, manifest, icons,
/// an unhashed bundle): an hour, then a cheap revalidation (`Last-Modified`).
pub const SHORT_LIVED: &str = "public, max-age=3600";

/// Length of cargo-leptos' content hash: MD5, base64url without padding.
const HASH_LEN: usize = 22;

/// Files worth precompressing: everything else (images) is compressed already.
pub const COMPRESSIBLE: &[&str] = &["wasm", "js", "css", "svg", "json", "webmanifest", "txt"];

/// The static half of the site, cheap to clone (one per request).
#[derive(Clone, Debug)]
pub struct SiteFiles {
    dir: ServeDir,
    /// `/pkg/`: where the hashed names live.
    pkg_prefix: String,
}

impl SiteFiles {
    pub fn new(options: &LeptosOptions) -> Self {
        let dir = ServeDir::new(&*options.site_root)
            .precompressed_br()
            .precompressed_gzip()
            // A directory is not a file: `/pkg` and `/pkg/` are pages (404).
            .append_index_html_on_directories(false);
        SiteFiles {
            dir,
            pkg_prefix: format!("/{}/", options.site_pkg_dir.trim_matches('/')),
        }
    }

    /// The file at the request's path with its caching headers, or `None`
    /// when there is no such file (the caller renders the 404 page). The
    /// future owns what it needs, so the caller keeps the request (whose
    /// body is not `Sync`) for the 404 page.
    pub fn serve(
        &self,
        req: &Request,
    ) -> impl std::future::Future<Output = Option<Response>> + Send + 'static {
        let wanted = matches!(*req.method(), Method::GET | Method::HEAD);
        // ServeDir needs only the method, the path and the negotiation and
        // conditional headers.
        let mut probe = Request::new(Body::empty());
        *probe.method_mut() = req.method().clone();
        *probe.uri_mut() = req.uri().clone();
        *probe.headers_mut() = req.headers().clone();
        let hashed = is_hashed(&self.pkg_prefix, req.uri().path());
        let dir = self.dir.clone();
        async move {
            if !wanted {
                return None;
            }
            let resp = match dir.oneshot(probe).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let found = matches!(
                resp.status(),
                StatusCode::OK
                    | StatusCode::PARTIAL_CONTENT
                    | StatusCode::NOT_MODIFIED
                    | StatusCode::RANGE_NOT_SATISFIABLE
            );
            if !found {
                return None;
            }
            let mut resp = resp.map(Body::new);
            let cache = if hashed { IMMUTABLE } else { SHORT_LIVED };
            let headers = resp.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            // Any file may have precompressed siblings: caches must key on it.
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            Some(resp)
        }
    }
}

/// Whether `path` names a `/pkg/` file whose name carries a content hash
/// (`name.<22 base64url characters>.ext`). cargo-leptos' unhashed
/// placeholder (`__wasm_split.______________________.js`) does not count.
pub fn is_hashed(pkg_prefix: &str, path: &str) -> bool {
    let Some(name) = path.strip_prefix(pkg_prefix) else {
        return false;
    };
    if name.contains('/') {
        return false;
    }
    let mut segments = name.split('.');
    // The first segment is the base name, the last the extension.
    segments.next();
    let middle: Vec<&str> = segments.collect();
    let Some((_ext, hashes)) = middle.split_last() else {
        return false;
    };
    hashes.iter().any(|s| {
        s.len() == HASH_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && s.bytes().any(|b| b.is_ascii_alphanumeric())
    })
}

/// Where leptos looks for cargo-leptos' hash file: beside the running binary.
pub fn hash_file_path(options: &LeptosOptions) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(&*options.hash_file))
}

/// Startup checks of the built site, each a single log line. Returns the
/// options to serve with: when `hash-files` is on but the hash file is
/// missing, hashing is switched off (leptos would otherwise panic on every
/// page), and the page then links the unhashed names.
pub fn check_site(mut options: LeptosOptions) -> LeptosOptions {
    if options.hash_files {
        match hash_file_path(&options) {
            Some(p) if p.is_file() => {}
            p => {
                tracing::warn!(
                    hash_file = %p.map(|p| p.display().to_string()).unwrap_or_default(),
                    "LEPTOS_HASH_FILES is on but cargo-leptos' hash file is missing beside the \
                     server binary: pages will link unhashed /pkg/ names (build with \
                     `cargo leptos build --release`, or set LEPTOS_HASH_FILES=false)"
                );
                options.hash_files = false;
            }
        }
    }
    let pkg = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    match missing_precompressed(&pkg) {
        Err(e) => tracing::warn!(
            dir = %pkg.display(),
            error = %e,
            "the site's /pkg/ directory cannot be read: build the site with \
             `cargo leptos build --release`"
        ),
        Ok(missing) if !missing.is_empty() => tracing::warn!(
            dir = %pkg.display(),
            files = missing.len(),
            "site files have no precompressed .br/.gz version and are served uncompressed: \
             run scripts/compress-site.sh after `cargo leptos build --release`"
        ),
        Ok(_) => {}
    }
    options
}

/// Below this, compression saves too little to warn about (and
/// `scripts/compress-site.sh` drops a version that is not smaller).
const WORTH_COMPRESSING: u64 = 1024;

/// The compressible files directly in `dir` (of at least 1 KiB) that lack a
/// `.br` or a `.gz` sibling.
pub fn missing_precompressed(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let big_file = entry
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() >= WORTH_COMPRESSING);
        if !big_file {
            continue;
        }
        let compressible = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSIBLE.contains(&e));
        if !compressible {
            continue;
        }
        let sibling = |ext: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(ext);
            PathBuf::from(name).is_file()
        };
        if !sibling(".br") || !sibling(".gz") {
            missing.push(path);
        }
    }
    missing.sort();
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_recognised_only_under_pkg() {
        let h = "AbCdEfGhIjKlMnOpQrSt-_";
        assert_eq!(h.len(), HASH_LEN);
        for p in [
            format!("/pkg/mistralchat.{h}.wasm"),
            format!("/pkg/mistralchat.{h}.js"),
            format!("/pkg/mistralchat.{h}.css"),
            format!("/pkg/__wasm_split_manifest.{h}.json"),
        ] {
            assert!(is_hashed("/pkg/", &p), "{p}");
        }
        for p in [
            "/pkg/mistralchat.wasm".to_string(),
            "/pkg/mistralchat.css".to_string(),
            format!("/favicon.{h}.svg"),
            format!("/pkg/snippets/x-{h}/inline0.js"),
            "/pkg/__wasm_split.______________________.js".to_string(),
            format!("/pkg/{h}"),
            format!("/pkg/mistralchat.{h}x.js"),
            "/favicon.svg".to_string(),
        ] {
            assert!(!is_hashed("/pkg/", &p), "{p}");
        }
    }

    #[test]
    fn files_without_precompressed_siblings_are_listed() {
        let dir = std::env::temp_dir().join(format!(
            "mistralchat-static-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "a.wasm",
            "a.wasm.br",
            "a.wasm.gz",
            "b.js",
            "b.js.gz",
            "c.css",
            "d.png",
        ] {
            std::fs::write(dir.join(f), [b'x'; 2048]).unwrap();
        }
        // Too small to matter.
        std::fs::write(dir.join("tiny.js"), b"x").unwrap();
        let missing = missing_precompressed(&dir).unwrap();
        let names: Vec<_> = missing
            .iter()
            .filter_map(|p| p.file_name()?.to_str())
            .collect();
        assert_eq!(names, ["b.js", "c.css"]);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(missing_precompressed(&dir).is_err());
    }
}
