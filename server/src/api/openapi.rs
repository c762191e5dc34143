//! The OpenAPI 3.1 description of the JSON API, served at `GET /api/openapi.json`.
//!
//! The document is generated from the code: `#[utoipa::path]` on the handlers
//! of `api::*`, `ToSchema` on the DTOs of `app::model` and on the handlers'
//! request bodies. [`super::routes`] registers a handler and describes it in
//! one call (`utoipa_axum::routes!`), so a JSON route cannot be served without
//! being in the document; `server/tests/api/openapi.rs` checks that, and
//! compares the document with a committed snapshot so a contract change is
//! always deliberate.
//!
//! This module owns what every operation shares: the error body, the two
//! security schemes, the statuses the middleware and the extractors answer for
//! every route (bad JSON, missing session, cross-site write, body too large,
//! internal error), the links between operations that let a fuzzer follow a
//! conversation, and the response shapes that handlers build as loose JSON.
//! It must not take part in answering requests: nothing here parses input or
//! decides anything.
use app::model::{
    ModelInfoDto, SettingsDto, ShareDto, SharedThreadView, SyncResult, ThreadDto, ThreadPage,
    ThreadWithMessages,
};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Components, ContentBuilder, OpenApi, Ref, RefOr, Response as ApiResponse, ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// The document's fixed parts; the paths come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "MistralChat API",
        description = "The JSON API of MistralChat (compatible with the reference project's \
            clients). Authenticate with `Authorization: Bearer <token>` (the token is the \
            value of the `access_token` cookie that sign-in sets) or with that cookie; \
            cookie-authenticated writes must come from the app's own origin. Every refusal \
            is `{\"error\": \"…\"}` with a 4xx status."
    ),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "threads", description = "Conversations, shares and offline sync"),
        (name = "chat", description = "Sending messages and following answers as they are written"),
        (name = "settings", description = "The Mistral key, preferences and the model catalogue"),
        (name = "files", description = "Files of messages (generated images): for their owner, and for readers of a share link"),
        (name = "voice", description = "Speech to text, text to speech and the voices answers can be read in"),
        (name = "probes", description = "Liveness, readiness and this document")
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

/// Every refusal: a sentence a person can act on (internal details are
/// never sent).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// `{"ok": true}`.
#[derive(Serialize, ToSchema)]
pub struct OkBody {
    pub ok: bool,
}

/// `{"ok": true}` after a sign-in; when the request carried a guest session
/// (or redeemed a claim link), also what moved into the account and whether
/// the guest's Mistral key was discarded because the account has its own.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedInBody {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged: Option<app::model::MergedDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_key_discarded: Option<bool>,
}

/// A one-time link that hands a guest's chats to an account signed in
/// elsewhere.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimLinkBody {
    /// Open it while signed in to the account (15 minutes, once).
    pub url: String,
    /// The code alone, for `POST /api/auth/claim`.
    pub code: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// `{"thread": …}`: a thread created or updated.
#[derive(Serialize, ToSchema)]
pub struct ThreadBody {
    pub thread: ThreadDto,
}

/// `GET /api/models`.
#[derive(Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelInfoDto>,
}

/// What became of a new key before it was stored.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyCheck {
    /// Mistral accepted it.
    Accepted,
    /// Mistral could not be reached; saved anyway.
    Unchecked,
    /// Removed, or saved with `force`.
    Skipped,
}

/// `PUT /api/settings/key`: the settings plus what the key check found.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeySaved {
    #[serde(flatten)]
    pub settings: SettingsDto,
    pub key_check: KeyCheck,
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    pub status: String,
}

/// One Server-Sent Event of `GET /api/generations/{id}/events`.
#[derive(Serialize, ToSchema)]
pub struct GenerationEvent {
    /// The position to resume after (`Last-Event-ID`); absent on a snapshot
    /// of a stored answer.
    pub id: Option<String>,
    pub event: GenerationEventName,
    /// JSON text. `snapshot`: `{text, thinking, status, tool, sources,
    /// files}`, replaces what the reader shows; `delta`: `{text, thinking}`,
    /// appended; `usage`: `{promptTokens, completionTokens}`; `tool`:
    /// `{name, state}` (`web_search` or `image_generation`, `started` or
    /// `done`); `citation`: `{index, title, url, source, at}`, a source cited
    /// `at` characters into the text (a URL cited again keeps its `index`);
    /// `file`: an attachment (`{id, name, mime, size, kind, url, width,
    /// height, prompt}`), a generated image; `done`: `{status, finishReason,
    /// error}`, the last event; `html` (only with `render=html`): `{reset,
    /// append, tail}`, the answer as HTML — `append` once after what is shown
    /// (after clearing it when `reset`), `tail` replacing the previous tail.
    pub data: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GenerationEventName {
    Snapshot,
    Delta,
    Usage,
    Tool,
    Citation,
    File,
    Done,
    Html,
}

/// `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// `ok` or `unreachable`.
    pub database: String,
}

/// A response that is one of several documented shapes. `anyOf`, not
/// `oneOf`: the shapes overlap (a thread with its messages is also a valid
/// shared view), and a validator must accept a body that fits more than one.
macro_rules! any_of_schema {
    ($(#[$doc:meta])* $name:ident: $($part:ty),+) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                AnyOfBuilder::new()
                    $(.item(Ref::from_schema_name(<$part as ToSchema>::name())))+
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }

            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                $(
                    schemas.push((<$part as ToSchema>::name().into(), <$part as PartialSchema>::schema()));
                    <$part as ToSchema>::schemas(schemas);
                )+
            }
        }
    };
}

any_of_schema!(
    /// `GET /api/thread`: the caller's threads (no `idThread`), one thread
    /// with its messages (`idThread`), or a shared thread (`shareCode`).
    ThreadGetResponse: ThreadPage, ThreadWithMessages, SharedThreadView
);

any_of_schema!(
    /// `POST /api/thread` other than `create`: `update` → the thread,
    /// `share` → the share, `unshare`/`delete` → ok, `sync` → the outcome.
    ThreadActionResponse: ThreadBody, ShareDto, OkBody, SyncResult
);

/// The statuses any route can answer before its handler runs, or whatever
/// its handler does. Kept here so the attributes list only what is
/// particular to a route.
const COMMON_RESPONSES: &[(&str, &str, &str)] = &[
    (
        "BadRequest",
        "400",
        "Malformed input (bad JSON, a wrong field, a value out of range); the message names the field",
    ),
    (
        "Unauthorized",
        "401",
        "No valid session: the token is missing, unknown, expired or idle",
    ),
    (
        "CrossSite",
        "403",
        "A cookie-authenticated write from another origin (send the token as a Bearer header instead)",
    ),
    (
        "TooLarge",
        "413",
        "The request body is larger than 10 MB",
    ),
    (
        "Internal",
        "500",
        "Something went wrong on the server (details are logged, never sent)",
    ),
];

fn error_response(description: &str) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn common(name: &str) -> RefOr<ApiResponse> {
    RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
}

/// Adds the security schemes and the shared error responses to the document
/// collected from the routes.
pub fn finish(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Components::new);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The session token (the `access_token` cookie's value) as \
                     `Authorization: Bearer <token>`. Exempt from the same-origin check.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            "access_token",
            "The session cookie set by sign-in (`__Host-access_token` on https). Writes \
             authenticated by it must be same-origin.",
        ))),
    );
    for (name, _, description) in COMMON_RESPONSES {
        components
            .responses
            .insert((*name).to_string(), RefOr::T(error_response(description)));
    }

    for (path, item) in doc.paths.paths.iter_mut() {
        let reads = [item.get.as_mut(), item.head.as_mut()];
        let writes = [
            item.post.as_mut(),
            item.put.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ];
        for (op, write) in reads
            .into_iter()
            .map(|op| (op, false))
            .chain(writes.into_iter().map(|op| (op, true)))
        {
            let Some(op) = op else { continue };
            add_common_responses(path, op, write);
        }
    }
}

fn add_common_responses(path: &str, op: &mut Operation, write: bool) {
    let secured = op.security.as_ref().is_some_and(|reqs| !reqs.is_empty());
    let api = path.starts_with("/api/");
    let wants = |status: &str| match status {
        "400" => api,
        "401" => secured,
        "403" => api && write,
        "413" => op.request_body.is_some(),
        _ => true,
    };
    let chosen: Vec<(&str, &str)> = COMMON_RESPONSES
        .iter()
        .filter(|(_, status, _)| wants(status))
        .map(|(name, status, _)| (*name, *status))
        .collect();
    for (name, status) in chosen {
        // A route's own description of a status wins.
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| common(name));
    }
}

/// Links from the answers that create things to the operations that use
/// them, so a stateful fuzzer can follow a conversation: send → events,
/// stop, regenerate, edit, open the thread. Written as JSON: utoipa 5's
/// `Link` serialises its members in snake case (`operation_id`), which no
/// tool reads.
fn add_links(doc: &mut Value) {
    let answer = "$response.body#/assistantMessage/id";
    let links = json!({
        "events": {"operationId": "events", "parameters": {"id": answer}},
        "stop": {"operationId": "stop", "parameters": {"id": answer}},
        "openThread": {
            "operationId": "get_thread",
            "parameters": {"idThread": "$response.body#/thread/id"}
        },
        "regenerate": {"operationId": "regenerate", "requestBody": {"messageId": answer}},
        "edit": {
            "operationId": "edit",
            "requestBody": {"messageId": "$response.body#/userMessage/id", "text": "Edited"}
        },
    });
    for path in ["/api/chat", "/api/chat/regenerate", "/api/chat/edit"] {
        let pointer = format!(
            "/paths/{}/post/responses/201",
            path.replace('~', "~0").replace('/', "~1")
        );
        if let Some(Value::Object(created)) = doc.pointer_mut(&pointer) {
            let mut links = links.clone();
            // A regeneration writes no question: nothing to edit.
            if path == "/api/chat/regenerate" {
                if let Some(map) = links.as_object_mut() {
                    map.remove("edit");
                }
            }
            created.insert("links".into(), links);
        }
    }
}

/// The document: the routes' descriptions, [`finish`] and the links.
/// Built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, mut doc) = super::routes().split_for_parts();
        finish(&mut doc);
        // Plain maps and strings: serialising cannot fail (and `Null`
        // would fail the snapshot test loudly if it did).
        let mut doc = serde_json::to_value(doc).unwrap_or(Value::Null);
        add_links(&mut doc);
        doc
    })
}

/// This document, as JSON.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "probes",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)
    )
)]
pub async fn openapi_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        // Serialising plain maps and strings cannot fail; an empty object
        // would still be valid JSON if it ever did.
        serde_json::to_string_pretty(document()).unwrap_or_else(|_| "{}".to_string())
    });
    let mut resp = body.clone().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
