//! The script that turns the server's HTML into the live app.
//!
//! Leptos' `<HydrationScripts>` puts `<link rel="preload">` hints for the JS
//! glue and the WASM in the `<head>`, so a phone starts downloading ~580 KB
//! before it has painted anything and the download competes with the
//! stylesheet. The page does not need the WASM to be read: every page is
//! complete in the server's HTML and its forms work without it (issue 11).
//! [`HydrationScript`] therefore writes no preload hints and starts the WASM
//! request after the first paint of that HTML (the frame after the first
//! `requestAnimationFrame`), with a timer as the backstop for a tab that is
//! hidden and never paints. Lighthouse's simulated LCP, which counts every
//! request that started before the observed paint, then no longer includes
//! the WASM (docs/benchmarks.md, "Lighthouse").
//!
//! Like `<HydrationScripts>`, it provides the wasm-split manifest to the
//! render, so a lazily loaded route (sign-in, settings, the shared page)
//! still gets a preload hint for its own chunk, which that page does need.

use leptos::prelude::*;

/// The hashed file names of this build, read once from cargo-leptos' hash
/// file beside the server binary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetNames {
    /// `mistralchat.<hash>` (without `.js`).
    pub js: String,
    /// `mistralchat.<hash>` (without `.wasm`).
    pub wasm: String,
    /// `__wasm_split.<hash>.js`, the loader of lazily loaded chunks.
    pub split_js: String,
    /// `__wasm_split_manifest.<hash>.json`.
    pub split_manifest: String,
}

impl AssetNames {
    /// The names for `output_name` given cargo-leptos' hash file (`js: …`,
    /// `wasm: …`, `split: …`, `manifest: …` lines), or the unhashed names
    /// when there is none.
    pub fn parse(output_name: &str, hashes: Option<&str>, unhashed_wasm_suffix: bool) -> Self {
        let mut names = AssetNames {
            js: output_name.to_string(),
            wasm: output_name.to_string(),
            split_js: "__wasm_split.______________________.js".to_string(),
            split_manifest: "__wasm_split_manifest.json".to_string(),
        };
        let Some(hashes) = hashes else {
            if unhashed_wasm_suffix {
                names.wasm.push_str("_bg");
            }
            return names;
        };
        for (file, hash) in hashes
            .lines()
            .filter_map(|line| line.trim().split_once(':'))
            .map(|(file, hash)| (file.trim(), hash.trim()))
        {
            match file {
                "js" => names.js = format!("{output_name}.{hash}"),
                "wasm" => names.wasm = format!("{output_name}.{hash}"),
                "split" => names.split_js = format!("__wasm_split.{hash}.js"),
                "manifest" => names.split_manifest = format!("__wasm_split_manifest.{hash}.json"),
                _ => {}
            }
        }
        names
    }
}

/// Starts the app after the first paint. Arguments: the JS glue's and the
/// WASM's URLs. `requestAnimationFrame` runs just before a frame is painted,
/// so a task queued from it runs after that paint; rAF does not run in a
/// hidden tab, hence the timer.
pub const LOADER_JS: &str = r#"((js, wasm) => {
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    import(js).then((m) => m.default({ module_or_path: wasm }).then(() => m.hydrate()));
  };
  requestAnimationFrame(() => setTimeout(start, 0));
  setTimeout(start, 3000);
})"#;

/// The hydration `<script>` (see the module's documentation). Server-rendered
/// only; it goes in the `<head>` of the shell in place of `<HydrationScripts>`.
#[component]
pub fn HydrationScript(options: LeptosOptions) -> impl IntoView {
    let pkg = options.site_pkg_dir.to_string();
    #[cfg(feature = "ssr")]
    let names = server::names(&options);
    #[cfg(not(feature = "ssr"))]
    let names = AssetNames::parse(&options.output_name, None, false);
    let nonce = leptos::nonce::use_nonce();
    let js = format!("/{pkg}/{}.js", names.js);
    let wasm = format!("/{pkg}/{}.wasm", names.wasm);
    view! { <script type="module" nonce=nonce>{format!("{LOADER_JS}({js:?}, {wasm:?});")}</script> }
}

#[cfg(feature = "ssr")]
mod server {
    use super::AssetNames;
    use leptos::prelude::*;
    use leptos::WasmSplitManifest;
    use std::collections::HashMap;
    use std::sync::OnceLock;

    struct Site {
        names: AssetNames,
        split: Option<WasmSplitManifest>,
    }

    static SITE: OnceLock<Site> = OnceLock::new();

    /// This build's names, and the split manifest provided to the render.
    pub(super) fn names(options: &LeptosOptions) -> AssetNames {
        let site = SITE.get_or_init(|| read_site(options));
        if let Some(split) = &site.split {
            provide_context(split.clone());
        }
        site.names.clone()
    }

    fn read_site(options: &LeptosOptions) -> Site {
        let hashes = options
            .hash_files
            .then(|| {
                let exe = std::env::current_exe().ok()?;
                std::fs::read_to_string(exe.parent()?.join(&*options.hash_file)).ok()
            })
            .flatten();
        // leptos names the WASM `<name>_bg.wasm` when it is not hashed and
        // LEPTOS_OUTPUT_NAME was not set at build time (wasm-bindgen's name).
        let bg_suffix = option_env!("LEPTOS_OUTPUT_NAME").is_none();
        let names = AssetNames::parse(&options.output_name, hashes.as_deref(), bg_suffix);
        let pkg = options.site_pkg_dir.to_string();
        let manifest_path = std::path::Path::new(&*options.site_root)
            .join(&pkg)
            .join(&names.split_manifest);
        let split = std::fs::read_to_string(manifest_path)
            .ok()
            .and_then(|text| serde_json::from_str::<HashMap<String, Vec<String>>>(&text).ok())
            .map(|manifest| {
                WasmSplitManifest(ArcStoredValue::new((
                    format!("/{pkg}"),
                    manifest,
                    names.split_js.clone(),
                )))
            });
        Site { names, split }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_come_from_the_hash_file() {
        let names = AssetNames::parse(
            "mistralchat",
            Some("js: AbC123\nwasm: dEf456\n split: sPl1t \nmanifest: M4n\nignored\ncss: zzz\n"),
            true,
        );
        assert_eq!(
            names,
            AssetNames {
                js: "mistralchat.AbC123".into(),
                wasm: "mistralchat.dEf456".into(),
                split_js: "__wasm_split.sPl1t.js".into(),
                split_manifest: "__wasm_split_manifest.M4n.json".into(),
            }
        );
    }

    #[test]
    fn unhashed_names_follow_leptos() {
        let plain = AssetNames::parse("app", None, false);
        assert_eq!((plain.js.as_str(), plain.wasm.as_str()), ("app", "app"));
        let bg = AssetNames::parse("app", None, true);
        assert_eq!(bg.wasm, "app_bg");
        assert_eq!(bg.split_manifest, "__wasm_split_manifest.json");
    }
}
