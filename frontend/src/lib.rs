#![recursion_limit = "512"]
//! The browser entry point: hydrates the server-rendered [`app::App`].
//! Nothing else belongs here; the product lives in the `app` crate.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
