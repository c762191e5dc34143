//! The two entry points agree: each operation is performed through the JSON
//! API (`/api/*`, bearer token) and through the web UI's server functions
//! (`/rpc/*`, session cookie, form-encoded like the browser posts them), by
//! two users given the same starting point, and the answers are compared:
//! the status (errors exactly; successes are 2xx on both — a server function
//! answers 200 where the API says 201), the body (ids, timestamps and the
//! caller's email normalised; the API wraps some answers in an object), and
//! the rows each one wrote (per-table counts before and after).
//!
//! Sign-up and sign-in have no server functions: their second entry point is
//! the login page's form (`/auth/register`, `/auth/login`), compared by
//! outcome (the error code it redirects with) and rows written.
use crate::chat::{id_in, row, user_with_key};
use crate::persistence::TABLES;
use crate::support::*;
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// What exists before the operation, made the same way for both users.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Given {
    /// A fresh account without a Mistral key.
    Account,
    /// An account with a key.
    Key,
    /// …and a thread named "Parity".
    Thread,
    /// …and a finished exchange in a new thread.
    Exchange,
    /// …and an answer still being written (a slow upstream).
    Streaming,
    /// …and a shared thread.
    Shared,
    /// No session at all.
    SignedOut,
}

/// The starting point of one side.
struct Ctx {
    token: String,
    email: String,
    thread: String,
    question: String,
    answer: String,
}

enum Call {
    Json(Method, String, Option<Value>),
    Form(String, String),
}

fn get(path: &str) -> Call {
    Call::Json(Method::GET, path.to_string(), None)
}

fn json_call(method: Method, path: &str, body: Value) -> Call {
    Call::Json(method, path.to_string(), Some(body))
}

fn form(path: &str, form: String) -> Call {
    Call::Form(path.to_string(), form)
}

struct Case {
    name: &'static str,
    given: Given,
    /// The API's status for this case: the table checks what it thinks.
    status: u16,
    api: fn(&Ctx) -> Call,
    rpc: fn(&Ctx) -> Call,
    /// The comparable part of a successful answer on each side.
    api_body: fn(Value) -> Value,
    rpc_body: fn(Value) -> Value,
    /// Members whose values depend on timing, masked on both sides.
    mask: &'static [&'static str],
}

fn same(v: Value) -> Value {
    v
}

fn thread_member(v: Value) -> Value {
    v["thread"].clone()
}

fn share_member(v: Value) -> Value {
    v["share"].clone()
}

fn models_member(v: Value) -> Value {
    v["models"].clone()
}

/// The API's `{ok:true}` and a server function's `null` both say "done".
fn done(_: Value) -> Value {
    json!("done")
}

/// `PUT /api/settings/key` adds `keyCheck` beside the settings; the server
/// function says the same as `checked` beside them.
fn key_api(mut v: Value) -> Value {
    let check = v
        .as_object_mut()
        .and_then(|o| o.remove("keyCheck"))
        .unwrap_or(Value::Null);
    json!({"settings": v, "checked": check == "accepted"})
}

fn key_rpc(v: Value) -> Value {
    json!({"settings": v["settings"], "checked": v["checked"]})
}

fn url(s: &str) -> String {
    app::client::url_component(s)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "me",
            given: Given::Account,
            status: 200,
            api: |_| get("/api/user"),
            rpc: |_| form("/rpc/current_user", String::new()),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "list threads",
            given: Given::Thread,
            status: 200,
            api: |_| get("/api/thread"),
            rpc: |_| form("/rpc/list_threads", String::new()),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "create thread",
            given: Given::Key,
            status: 201,
            api: |_| {
                json_call(
                    Method::POST,
                    "/api/thread",
                    json!({"action": "create", "data": {"name": "  Plans  "}}),
                )
            },
            rpc: |_| form("/rpc/create_thread", "name=%20%20Plans%20%20".into()),
            api_body: thread_member,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "create thread with a blank name gets the default",
            given: Given::Key,
            status: 201,
            api: |_| {
                json_call(
                    Method::POST,
                    "/api/thread",
                    json!({"action": "create", "data": {"name": "   "}}),
                )
            },
            rpc: |_| form("/rpc/create_thread", "name=%20%20%20".into()),
            api_body: thread_member,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "rename thread",
            given: Given::Thread,
            status: 200,
            api: |c| {
                json_call(
                    Method::POST,
                    "/api/thread",
                    json!({"action": "update", "idThread": c.thread, "data": {"name": "Renamed"}}),
                )
            },
            rpc: |c| {
                form(
                    "/rpc/rename_thread",
                    format!("id={}&name=Renamed", c.thread),
                )
            },
            api_body: thread_member,
            rpc_body: same,
            mask: &["updatedAt"],
        },
        Case {
            name: "rename thread to a blank name is refused",
            given: Given::Thread,
            status: 400,
            api: |c| {
                json_call(
                    Method::POST,
                    "/api/thread",
                    json!({"action": "update", "idThread": c.thread, "data": {"name": " "}}),
                )
            },
            rpc: |c| form("/rpc/rename_thread", format!("id={}&name=%20", c.thread)),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "rename someone else's or a missing thread",
            given: Given::Key,
            status: 404,
            api: |_| {
                json_call(
                    Method::POST,
                    "/api/thread",
                    json!({"action": "update", "idThread": "00000000-0000-4000-8000-000000000000", "data": {"name": "x"}}),
                )
            },
            rpc: |_| {
                form(
                    "/rpc/rename_thread",
                    "id=00000000-0000-4000-8000-000000000000&name=x".into(),
                )
            },
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "delete thread",
            given: Given::Exchange,
            status: 200,
            api: |c| {
                json_call(
                    Method::POST,
                    "/api/thread",
                    json!({"action": "delete", "idThread": c.thread}),
                )
            },
            rpc: |c| form("/rpc/delete_thread", format!("id={}", c.thread)),
            api_body: done,
            rpc_body: done,
            mask: &[],
        },
        Case {
            name: "send",
            given: Given::Key,
            status: 201,
            api: |_| json_call(Method::POST, "/api/chat", json!({"text": "Hello there"})),
            rpc: |_| form("/rpc/send_message", "text=Hello%20there&think=false".into()),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "send into an existing thread",
            given: Given::Exchange,
            status: 201,
            api: |c| {
                json_call(
                    Method::POST,
                    "/api/chat",
                    json!({"threadId": c.thread, "parentId": c.answer, "text": "And then?"}),
                )
            },
            rpc: |c| {
                form(
                    "/rpc/send_message",
                    format!(
                        "thread_id={}&parent_id={}&text=And%20then%3F&think=false",
                        c.thread, c.answer
                    ),
                )
            },
            api_body: same,
            rpc_body: same,
            // The thread's name may be written by the title task meanwhile.
            mask: &["name"],
        },
        Case {
            name: "send without a key",
            given: Given::Account,
            status: 400,
            api: |_| json_call(Method::POST, "/api/chat", json!({"text": "Hello"})),
            rpc: |_| form("/rpc/send_message", "text=Hello&think=false".into()),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "send a blank message",
            given: Given::Key,
            status: 400,
            api: |_| json_call(Method::POST, "/api/chat", json!({"text": "  "})),
            rpc: |_| form("/rpc/send_message", "text=%20%20&think=false".into()),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "regenerate",
            given: Given::Exchange,
            status: 201,
            api: |c| {
                json_call(
                    Method::POST,
                    "/api/chat/regenerate",
                    json!({"messageId": c.answer}),
                )
            },
            rpc: |c| {
                form(
                    "/rpc/regenerate_message",
                    format!("message_id={}&think=false", c.answer),
                )
            },
            api_body: same,
            rpc_body: same,
            mask: &["name"],
        },
        Case {
            name: "regenerate a missing message",
            given: Given::Key,
            status: 404,
            api: |_| {
                json_call(
                    Method::POST,
                    "/api/chat/regenerate",
                    json!({"messageId": "nope"}),
                )
            },
            rpc: |_| {
                form(
                    "/rpc/regenerate_message",
                    "message_id=nope&think=false".into(),
                )
            },
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "edit",
            given: Given::Exchange,
            status: 201,
            api: |c| {
                json_call(
                    Method::POST,
                    "/api/chat/edit",
                    json!({"messageId": c.question, "text": "Hello again"}),
                )
            },
            rpc: |c| {
                form(
                    "/rpc/edit_message",
                    format!("message_id={}&text=Hello%20again&think=false", c.question),
                )
            },
            api_body: same,
            rpc_body: same,
            mask: &["name"],
        },
        Case {
            name: "stop",
            given: Given::Streaming,
            status: 200,
            api: |c| {
                Call::Json(
                    Method::POST,
                    format!("/api/generations/{}/stop", c.answer),
                    None,
                )
            },
            rpc: |c| form("/rpc/stop_generation", format!("message_id={}", c.answer)),
            api_body: same,
            rpc_body: same,
            // How much was written before the stop depends on timing.
            mask: &["text", "completionTokens", "promptTokens", "finishReason"],
        },
        Case {
            name: "get settings",
            given: Given::Key,
            status: 200,
            api: |_| get("/api/settings"),
            rpc: |_| form("/rpc/get_settings", String::new()),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "put settings",
            given: Given::Key,
            status: 200,
            api: |_| {
                json_call(
                    Method::PUT,
                    "/api/settings",
                    json!({"defaultModel": "mistral-small-latest", "defaultContext": "Be brief", "fastModels": ["mistral-small-latest"]}),
                )
            },
            rpc: |_| {
                form(
                    "/rpc/save_preferences",
                    "default_model=mistral-small-latest&default_context=Be%20brief&fast_models[0]=mistral-small-latest".into(),
                )
            },
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "a blank default model clears it",
            given: Given::Key,
            status: 200,
            api: |_| {
                json_call(
                    Method::PUT,
                    "/api/settings",
                    json!({"defaultModel": "  ", "defaultContext": "", "fastModels": ["mistral-small-latest"]}),
                )
            },
            rpc: |_| {
                form(
                    "/rpc/save_preferences",
                    "default_model=%20%20&default_context=&fast_models[0]=mistral-small-latest"
                        .into(),
                )
            },
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "a default model id that is too long",
            given: Given::Key,
            status: 400,
            api: |_| {
                json_call(
                    Method::PUT,
                    "/api/settings",
                    json!({"defaultModel": "m".repeat(101), "defaultContext": "", "fastModels": ["a"]}),
                )
            },
            rpc: |_| {
                form(
                    "/rpc/save_preferences",
                    format!(
                        "default_model={}&default_context=&fast_models[0]=a",
                        "m".repeat(101)
                    ),
                )
            },
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "save a key",
            given: Given::Account,
            status: 200,
            api: |_| {
                json_call(
                    Method::PUT,
                    "/api/settings/key",
                    json!({"apiKey": "sk-parity-5678"}),
                )
            },
            rpc: |_| form("/rpc/save_api_key", "api_key=sk-parity-5678".into()),
            api_body: key_api,
            rpc_body: key_rpc,
            mask: &[],
        },
        Case {
            name: "a key Mistral refuses is not saved",
            given: Given::Account,
            status: 400,
            api: |_| {
                json_call(
                    Method::PUT,
                    "/api/settings/key",
                    json!({"apiKey": "invalid-key"}),
                )
            },
            rpc: |_| form("/rpc/save_api_key", "api_key=invalid-key".into()),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "models",
            given: Given::Key,
            status: 200,
            api: |_| get("/api/models"),
            rpc: |_| form("/rpc/list_models", "fresh=false".into()),
            api_body: models_member,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "share",
            given: Given::Exchange,
            status: 200,
            api: |c| {
                json_call(
                    Method::POST,
                    "/api/thread",
                    json!({"action": "share", "idThread": c.thread}),
                )
            },
            rpc: |c| form("/rpc/share_thread", format!("id={}", c.thread)),
            api_body: same,
            rpc_body: share_member,
            mask: &[],
        },
        Case {
            name: "revoke a share",
            given: Given::Shared,
            status: 200,
            api: |c| {
                json_call(
                    Method::POST,
                    "/api/thread",
                    json!({"action": "unshare", "idThread": c.thread}),
                )
            },
            rpc: |c| form("/rpc/unshare_thread", format!("id={}", c.thread)),
            api_body: done,
            rpc_body: done,
            mask: &[],
        },
        Case {
            name: "delete the account without the confirmation",
            given: Given::Exchange,
            status: 400,
            api: |_| Call::Json(Method::DELETE, "/api/auth/delete".into(), None),
            rpc: |_| form("/rpc/delete_account", "confirmation=".into()),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "delete the account with a wrong confirmation",
            given: Given::Exchange,
            status: 400,
            api: |_| {
                json_call(
                    Method::DELETE,
                    "/api/auth/delete",
                    json!({"confirm": "someone@example.com"}),
                )
            },
            rpc: |_| {
                form(
                    "/rpc/delete_account",
                    "confirmation=someone%40example.com".into(),
                )
            },
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "delete the account",
            given: Given::Exchange,
            status: 200,
            api: |c| {
                Call::Json(
                    Method::DELETE,
                    format!("/api/auth/delete?confirm={}", url(&c.email)),
                    None,
                )
            },
            rpc: |c| {
                form(
                    "/rpc/delete_account",
                    format!("confirmation={}", url(&c.email)),
                )
            },
            api_body: done,
            rpc_body: done,
            mask: &[],
        },
        Case {
            name: "signed out",
            given: Given::SignedOut,
            status: 401,
            api: |_| get("/api/thread"),
            rpc: |_| form("/rpc/list_threads", String::new()),
            api_body: same,
            rpc_body: same,
            mask: &[],
        },
        Case {
            name: "a missing argument",
            given: Given::Key,
            status: 400,
            api: |_| json_call(Method::POST, "/api/chat/edit", json!({"text": "x"})),
            rpc: |_| form("/rpc/edit_message", "text=x&think=false".into()),
            // Each entry point's parser names the field in its own words.
            api_body: same,
            rpc_body: same,
            mask: &["error"],
        },
    ]
}

/// The server functions give the web UI every message with its HTML (the
/// browser has no renderer), which the JSON API does not: checks that each
/// `html` is the renderer's output for the message's `text` (user flavour
/// for a user's message), then removes it so the rest can be compared.
fn without_checked_html(v: Value) -> Value {
    match v {
        Value::Object(mut o) => {
            if let Some(html) = o.remove("html") {
                let text = o["text"].as_str().unwrap_or_default();
                let expected = if o["role"] == "user" {
                    app::markdown::render_user(text)
                } else {
                    app::markdown::render(text)
                };
                assert_eq!(html.as_str(), Some(expected.as_str()), "html of {o:?}");
            }
            Value::Object(
                o.into_iter()
                    .map(|(k, v)| (k, without_checked_html(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(without_checked_html).collect()),
        other => other,
    }
}

/// Replaces what differs between two users doing the same thing: ids,
/// codes, cursors, timestamps, the caller's email — and the masked members.
fn normalise(v: Value, email: &str, mask: &[&str]) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                let n = if mask.contains(&k.as_str()) {
                    json!("<masked>")
                } else if v.is_null() {
                    Value::Null
                } else if k == "id"
                    || k.ends_with("Id")
                    || k.starts_with("id")
                    || k == "shareCode"
                    || k == "nextCursor"
                    || k == "url"
                {
                    json!("<id>")
                } else if k.ends_with("At") && v.is_number() {
                    json!("<time>")
                } else {
                    normalise(v, email, mask)
                };
                out.insert(k, n);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|v| normalise(v, email, mask)).collect()),
        Value::String(s) if !email.is_empty() => Value::String(s.replace(email, "<email>")),
        other => other,
    }
}

async fn rows(app: &TestApp) -> Vec<i64> {
    let mut v = vec![];
    for t in TABLES {
        v.push(app.count(t).await);
    }
    v
}

fn delta(before: &[i64], after: &[i64]) -> Vec<(&'static str, i64)> {
    TABLES
        .iter()
        .zip(before.iter().zip(after))
        .map(|(t, (b, a))| (*t, a - b))
        .collect()
}

/// Waits until no answer of this app is being written.
async fn settle(app: &TestApp) {
    for _ in 0..400 {
        if app.state.hub.live_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("answers still being written after 10 s");
}

async fn given(app: &TestApp, given: Given, email: &str) -> Ctx {
    let mut c = Ctx {
        token: String::new(),
        email: email.to_string(),
        thread: String::new(),
        question: String::new(),
        answer: String::new(),
    };
    match given {
        Given::SignedOut => return c,
        Given::Account => {
            c.token = app.register(email).await;
            return c;
        }
        _ => c.token = user_with_key(app, email).await,
    }
    match given {
        Given::Thread => {
            let r = app
                .post(
                    "/api/thread",
                    json!({"action": "create", "data": {"name": "Parity"}}),
                    Auth::Bearer(&c.token),
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            c.thread = id_in(&r.body, "thread");
        }
        Given::Exchange | Given::Streaming | Given::Shared => {
            let r = app
                .post(
                    "/api/chat",
                    json!({"text": "Hello"}),
                    Auth::Bearer(&c.token),
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            c.thread = id_in(&r.body, "thread");
            c.question = id_in(&r.body, "userMessage");
            c.answer = id_in(&r.body, "assistantMessage");
            if given != Given::Streaming {
                for _ in 0..400 {
                    if row(app, &c.answer).await.status != "streaming" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                assert_ne!(row(app, &c.answer).await.status, "streaming");
            }
            if given == Given::Shared {
                let r = app
                    .post(
                        "/api/thread",
                        json!({"action": "share", "idThread": c.thread}),
                        Auth::Bearer(&c.token),
                    )
                    .await;
                assert_eq!(r.status, 200, "{:?}", r.body);
            }
        }
        _ => {}
    }
    c
}

async fn perform(app: &TestApp, call: Call, token: &str, rpc: bool) -> Resp {
    let auth = match (token.is_empty(), rpc) {
        (true, _) => Auth::None,
        (false, false) => Auth::Bearer(token),
        (false, true) => Auth::Cookie(token),
    };
    match call {
        Call::Json(method, path, body) => app.request(method, &path, body, auth, &[]).await,
        Call::Form(path, f) => app.rpc_form(&path, &f, auth).await,
    }
}

/// One side of a case: its status, comparable body and rows written.
struct Outcome {
    status: u16,
    body: Value,
    kind: Option<String>,
    rows: Vec<(&'static str, i64)>,
}

async fn run_side(app: &TestApp, case: &Case, n: usize, rpc: bool) -> Outcome {
    let side = if rpc { "rpc" } else { "api" };
    if case.given == Given::Streaming {
        app.mistral.configure(|c| {
            c.reply = Some("word ".repeat(60));
            c.token_delay = Duration::from_millis(50);
        });
    }
    let ctx = given(app, case.given, &format!("{side}-{n}@example.com")).await;
    if case.given == Given::Streaming {
        // Some of the answer is written before the stop.
        tokio::time::sleep(Duration::from_millis(200)).await;
    } else {
        settle(app).await;
    }
    let before = rows(app).await;
    let call = if rpc {
        (case.rpc)(&ctx)
    } else {
        (case.api)(&ctx)
    };
    let r = perform(app, call, &ctx.token, rpc).await;
    settle(app).await;
    let after = rows(app).await;
    if case.given == Given::Streaming {
        app.mistral.configure(|c| {
            c.reply = None;
            c.token_delay = Duration::ZERO;
        });
    }
    let body = if r.status >= 400 {
        json!({"error": r.body["error"]})
    } else if rpc {
        (case.rpc_body)(without_checked_html(r.body.clone()))
    } else {
        (case.api_body)(r.body.clone())
    };
    Outcome {
        status: r.status,
        body: normalise(body, &ctx.email, case.mask),
        kind: r.body["kind"].as_str().map(str::to_string),
        rows: delta(&before, &after),
    }
}

/// The HTTP status of each error kind (`app::api::ErrorKind`) on the wire.
fn kind_status(kind: &str) -> u16 {
    let k: app::api::ErrorKind =
        serde_json::from_value(json!(kind)).unwrap_or_else(|e| panic!("kind {kind}: {e}"));
    k.status()
}

// Accounts only: with guests allowed (the default) the UI's read server
// functions answer a visitor without a session as someone who owns nothing
// yet, by design, where the JSON API says 401 (guests.rs tests that side).
db_test_with!(
    the_json_api_and_the_server_functions_agree,
    |c| {
        c.allow_guests = false;
    },
    |app| {
        let mut failures = vec![];
        for (n, case) in cases().iter().enumerate() {
            let api = run_side(&app, case, n, false).await;
            let rpc = run_side(&app, case, n, true).await;
            let name = case.name;
            if api.status != case.status {
                failures.push(format!(
                    "{name}: the API answered {} (expected {}): {}",
                    api.status, case.status, api.body
                ));
                continue;
            }
            let both_ok = api.status < 400 && (200..300).contains(&rpc.status);
            if !both_ok && api.status != rpc.status {
                failures.push(format!(
                    "{name}: status {} from /api but {} from /rpc ({} / {})",
                    api.status, rpc.status, api.body, rpc.body
                ));
            }
            if api.body != rpc.body {
                failures.push(format!(
                    "{name}: bodies differ\n  /api: {}\n  /rpc: {}",
                    api.body, rpc.body
                ));
            }
            if api.rows != rpc.rows {
                failures.push(format!(
                    "{name}: rows written differ\n  /api: {:?}\n  /rpc: {:?}",
                    api.rows, rpc.rows
                ));
            }
            if rpc.status >= 400 {
                match &rpc.kind {
                    Some(kind) if kind_status(kind) == rpc.status => {}
                    other => failures.push(format!(
                        "{name}: /rpc answered {} with kind {other:?}",
                        rpc.status
                    )),
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
);

/// Sign-up and sign-in: the JSON routes against the login page's form posts.
/// `code` is the error code the form redirects with for the API's status.
struct AuthCase {
    name: &'static str,
    register: bool,
    /// Registered (with the test password) before the attempt.
    existing: bool,
    password: &'static str,
    email_ok: bool,
    status: u16,
    code: Option<&'static str>,
}

db_test!(sign_up_and_sign_in_agree_with_the_login_form, |app| {
    let cases = [
        AuthCase {
            name: "register",
            register: true,
            existing: false,
            password: "correct horse battery",
            email_ok: true,
            status: 201,
            code: None,
        },
        AuthCase {
            name: "register a taken email",
            register: true,
            existing: true,
            password: "correct horse battery",
            email_ok: true,
            status: 409,
            code: Some("exists"),
        },
        AuthCase {
            name: "register with a short password",
            register: true,
            existing: false,
            password: "short",
            email_ok: true,
            status: 400,
            code: Some("length"),
        },
        AuthCase {
            name: "register with a bad email",
            register: true,
            existing: false,
            password: "correct horse battery",
            email_ok: false,
            status: 400,
            code: Some("email"),
        },
        AuthCase {
            name: "login",
            register: false,
            existing: true,
            password: "correct horse battery",
            email_ok: true,
            status: 200,
            code: None,
        },
        AuthCase {
            name: "login with a wrong password",
            register: false,
            existing: true,
            password: "wrong password!",
            email_ok: true,
            status: 401,
            code: Some("invalid"),
        },
    ];
    let mut failures = vec![];
    for (n, case) in cases.iter().enumerate() {
        let mut outcomes = vec![];
        for side in ["api", "form"] {
            let email = if case.email_ok {
                format!("{side}-auth-{n}@example.com")
            } else {
                format!("{side}-auth-{n}")
            };
            if case.existing {
                app.register(&email).await;
            }
            let before = rows(&app).await;
            let (status, code, cookie) = if side == "api" {
                let path = if case.register {
                    "/api/auth/email/register"
                } else {
                    "/api/auth/email/login"
                };
                let r = app
                    .post(
                        path,
                        json!({"email": email, "password": case.password, "name": "Test User"}),
                        Auth::None,
                    )
                    .await;
                (r.status, None, r.cookie_token().is_some())
            } else {
                let path = if case.register {
                    "/auth/register"
                } else {
                    "/auth/login"
                };
                let body = format!(
                    "email={}&password={}&name=Test%20User",
                    url(&email),
                    url(case.password)
                );
                let r = app
                    .http
                    .post(app.url(path))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .expect("form post");
                let location = r
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let cookie = r
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .any(|v| v.to_str().unwrap_or_default().starts_with("access_token="));
                let code = location
                    .strip_prefix("/login?error=")
                    .map(|rest| rest.split('&').next().unwrap_or_default().to_string());
                (r.status().as_u16(), code, cookie)
            };
            outcomes.push((status, code, cookie, delta(&before, &rows(&app).await)));
        }
        let (api, form) = (&outcomes[0], &outcomes[1]);
        let name = case.name;
        if api.0 != case.status {
            failures.push(format!("{name}: the API answered {}", api.0));
        }
        if form.0 != 303 {
            failures.push(format!("{name}: the form answered {}", form.0));
        }
        if form.1.as_deref() != case.code {
            failures.push(format!(
                "{name}: the form's error code {:?}, expected {:?}",
                form.1, case.code
            ));
        }
        if api.2 != form.2 || api.2 != case.code.is_none() {
            failures.push(format!(
                "{name}: session cookie from the API {} and the form {}",
                api.2, form.2
            ));
        }
        if api.3 != form.3 {
            failures.push(format!(
                "{name}: rows written differ\n  api:  {:?}\n  form: {:?}",
                api.3, form.3
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
});

#[test]
fn normalising_keeps_what_matters() {
    let a = json!({"thread": {"id": "a1", "name": "x", "createdAt": 5, "model": null},
                   "error": "type a@x.io to confirm", "text": "hi"});
    let b = json!({"thread": {"id": "b2", "name": "x", "createdAt": 9, "model": null},
                   "error": "type b@x.io to confirm", "text": "hi"});
    assert_eq!(
        normalise(a.clone(), "a@x.io", &[]),
        normalise(b, "b@x.io", &[])
    );
    let c = json!({"thread": {"id": "c3", "name": "y", "createdAt": 5, "model": null},
                   "error": "type a@x.io to confirm", "text": "hi"});
    assert_ne!(
        normalise(a.clone(), "a@x.io", &[]),
        normalise(c.clone(), "a@x.io", &[])
    );
    assert_eq!(
        normalise(a, "a@x.io", &["name"]),
        normalise(c, "a@x.io", &["name"])
    );
}
