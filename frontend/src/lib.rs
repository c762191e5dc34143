#![recursion_limit = "512"]
//! The browser entry point: hydrates the server-rendered [`app::App`].
//! Nothing else belongs here; the product lives in the `app` crate.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // `hydrate_lazy`: the rarely used pages are lazily loaded WASM chunks
    // (see `app::pages::lazy`), and hydrating one waits for its chunk.
    leptos::mount::hydrate_lazy(app::App);
}
