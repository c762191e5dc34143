//! `/api/auth/*` and `/api/user`: the reference project's auth contract; and
//! `POST /auth/login` / `/auth/register`, the same sign-in for the login
//! page's HTML form when it is posted before the WASM has loaded.
//!
//! Sign-in, registration and Google sign-in are limited per client address
//! ([`client_ip`]: the TCP peer, or `X-Forwarded-For` from `TRUSTED_PROXIES`).
//! The form routes call the same service functions with the same limits, and
//! the same-origin check covers them (`middleware::refuse_cross_site_writes`),
//! so a foreign page cannot sign a visitor into an account of its choosing.
use super::{ApiJson, Caller};
use app::api::auth::AuthFormError;
use app::server::services::auth::{self, IssuedToken};
use app::server::services::guests::{self, MergeOutcome};
use app::server::services::rate_limit;
use app::server::{AppError, AppResult, AppState};
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(google_token))
        .routes(routes!(validate))
        .routes(routes!(logout))
        .routes(routes!(delete_account))
        .routes(routes!(user))
        .routes(routes!(create_guest))
        .routes(routes!(guest_claim))
        .routes(routes!(redeem_claim))
        // The login page's HTML forms answer with redirects, not JSON: they
        // are not part of the documented API.
        .route("/auth/login", post(form_login))
        .route("/auth/register", post(form_register))
        // The claim link a guest shows: a page address, answered with a
        // redirect (to sign-in first, then to the chat).
        .route("/auth/claim", axum::routing::get(claim_page))
}

/// The client's address for per-address limits (`None`: see
/// [`rate_limit::limited_address`]).
pub fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Option<IpAddr> {
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let proxies = &state.config.trusted_proxies;
    if proxies.is_empty() && !forwarded.is_empty() && peer.ip().is_loopback() {
        warn_undeclared_proxy();
    }
    rate_limit::limited_address(peer.ip(), &forwarded, proxies)
}

/// Once per process: a local proxy forwards addresses we were not told to trust.
fn warn_undeclared_proxy() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "a local reverse proxy sends X-Forwarded-For but TRUSTED_PROXIES is empty: \
             per-address sign-in limits are off until it is set (e.g. TRUSTED_PROXIES=127.0.0.1)"
        );
    });
}

fn with_cookies(status: StatusCode, cookies: Vec<String>) -> Response {
    let mut resp = (status, Json(json!({"ok": true}))).into_response();
    set_session_cookies(&mut resp, cookies);
    resp
}

/// Session cookies are set on an answer no cache may keep.
fn set_session_cookies(resp: &mut Response, cookies: Vec<String>) {
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `{"ok": true}`, plus what a merge moved when there was one.
fn signed_in_body(merge: Option<MergeOutcome>) -> super::openapi::SignedInBody {
    super::openapi::SignedInBody {
        ok: true,
        merged: merge.map(|m| m.merged),
        guest_key_discarded: merge.map(|m| m.guest_key_discarded),
    }
}

/// The session cookie for a sign-in, after moving the guest the request
/// came with (if any) into the account.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    issued: &IssuedToken,
) -> AppResult<Response> {
    let merge = guests::merge_presented_guest(state, headers, &issued.user_id).await?;
    let mut resp = (status, Json(signed_in_body(merge))).into_response();
    let mut cookies = vec![auth::session_cookie(state, issued)];
    cookies.extend(merge.map(|m| m.notice_cookie(state)));
    set_session_cookies(&mut resp, cookies);
    Ok(resp)
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RegisterBody {
    #[schema(format = "email", max_length = 254)]
    email: String,
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
    #[schema(max_length = 200)]
    name: Option<String>,
}

/// Create an account with email and password and sign in.
#[utoipa::path(
    post,
    path = "/api/auth/email/register",
    tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered and signed in: the session cookie is set; from a guest session, the guest's chats, files and settings moved into the account (`merged`)", body = super::openapi::SignedInBody),
        (status = 403, description = "Registration is closed on this server, or a cross-site write", body = super::openapi::ErrorBody),
        (status = 409, description = "An account with this email exists", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many registrations from this address", body = super::openapi::ErrorBody),
        (status = 503, description = "Too many passwords being hashed right now", body = super::openapi::ErrorBody)
    )
)]
async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> AppResult<Response> {
    let ip = client_ip(&state, peer, &headers);
    let issued = auth::register_from(
        &state,
        &body.email,
        &body.password,
        body.name.as_deref(),
        ip,
    )
    .await?;
    signed_in(&state, &headers, StatusCode::CREATED, &issued).await
}

#[derive(Deserialize, utoipa::ToSchema)]
struct LoginBody {
    #[schema(format = "email", max_length = 254)]
    email: String,
    password: String,
}

/// Sign in with email and password.
#[utoipa::path(
    post,
    path = "/api/auth/email/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in: the session cookie is set; from a guest session, the guest's chats, files and settings moved into the account (`merged`)", body = super::openapi::SignedInBody),
        (status = 401, description = "Wrong email or password", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts for this email or address", body = super::openapi::ErrorBody),
        (status = 503, description = "Too many passwords being hashed right now", body = super::openapi::ErrorBody)
    )
)]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> AppResult<Response> {
    let ip = client_ip(&state, peer, &headers);
    let issued = auth::login(&state, &body.email, &body.password, ip).await?;
    signed_in(&state, &headers, StatusCode::OK, &issued).await
}

/// The login page's form (`application/x-www-form-urlencoded`). Missing
/// fields are empty, so the service's validation answers for them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AuthForm {
    email: String,
    password: String,
    name: Option<String>,
    redirect: Option<String>,
}

/// `303 See Other` to `location` (the browser follows it with a GET).
fn see_other(location: &str, cookies: Vec<String>) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    set_session_cookies(&mut resp, cookies);
    resp
}

/// Signed in: to the (same-site) redirect target. Failed: back to the form
/// with an error *code* — what was typed never goes into a URL.
async fn form_outcome(
    state: &AppState,
    headers: &HeaderMap,
    result: AppResult<IssuedToken>,
    redirect: Option<String>,
    register: bool,
) -> Response {
    let target = app::client::safe_redirect(redirect);
    // A guest signing in brings its chats along.
    let result = match result {
        Ok(issued) => guests::merge_presented_guest(state, headers, &issued.user_id)
            .await
            .map(|merge| (issued, merge)),
        Err(e) => Err(e),
    };
    match result {
        Ok((issued, merge)) => {
            let mut cookies = vec![auth::session_cookie(state, &issued)];
            cookies.extend(merge.map(|m| m.notice_cookie(state)));
            see_other(&target, cookies)
        }
        Err(e) => {
            if !matches!(e, AppError::Unauthorized(_) | AppError::BadRequest(_)) {
                tracing::warn!(error = %e, "sign-in form failed");
            }
            let mut location = format!("/login?error={}", AuthFormError::from_app_error(&e).code());
            if register {
                location.push_str("&mode=register");
            }
            if target != "/" {
                location.push_str("&redirect=");
                location.push_str(&app::client::url_component(&target));
            }
            see_other(&location, vec![])
        }
    }
}

fn form_body(form: Result<Form<AuthForm>, FormRejection>) -> AppResult<AuthForm> {
    form.map(|Form(f)| f)
        .map_err(|_| AppError::bad_request("Send the form as application/x-www-form-urlencoded"))
}

async fn form_login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<AuthForm>, FormRejection>,
) -> AppResult<Response> {
    let f = form_body(form)?;
    let ip = client_ip(&state, peer, &headers);
    let result = auth::login(&state, &f.email, &f.password, ip).await;
    Ok(form_outcome(&state, &headers, result, f.redirect, false).await)
}

async fn form_register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<AuthForm>, FormRejection>,
) -> AppResult<Response> {
    let f = form_body(form)?;
    let ip = client_ip(&state, peer, &headers);
    let result = auth::register_from(&state, &f.email, &f.password, f.name.as_deref(), ip).await;
    Ok(form_outcome(&state, &headers, result, f.redirect, true).await)
}

/// One of the two tokens Google sign-in gives a client.
#[derive(Deserialize, utoipa::ToSchema)]
struct GoogleBody {
    access_token: Option<String>,
    id_token: Option<String>,
}

/// Sign in (or register) with a Google ID token or access token.
#[utoipa::path(
    post,
    path = "/api/auth/google/token",
    tag = "auth",
    request_body = GoogleBody,
    responses(
        (status = 200, description = "Signed in: the session cookie is set; from a guest session, the guest's chats, files and settings moved into the account (`merged`)", body = super::openapi::SignedInBody),
        (status = 401, description = "Google did not vouch for the token", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many Google sign-ins from this address", body = super::openapi::ErrorBody),
        (status = 501, description = "Google sign-in is not configured on this server", body = super::openapi::ErrorBody),
        (status = 502, description = "Google could not be reached", body = super::openapi::ErrorBody)
    )
)]
async fn google_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<GoogleBody>,
) -> AppResult<Response> {
    let ip = client_ip(&state, peer, &headers);
    let issued = auth::sign_in_with_google(
        &state,
        body.id_token.as_deref(),
        body.access_token.as_deref(),
        ip,
    )
    .await?;
    signed_in(&state, &headers, StatusCode::OK, &issued).await
}

/// Whether the presented session is valid.
#[utoipa::path(
    get,
    path = "/api/auth/validate",
    tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The session is valid", body = super::openapi::OkBody))
)]
async fn validate(_caller: Caller) -> Json<serde_json::Value> {
    Json(json!({"ok": true}))
}

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/api/user",
    tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The signed-in user", body = app::model::UserDto))
)]
async fn user(Caller(me): Caller) -> Json<app::model::UserDto> {
    Json(auth::to_dto(&me.user))
}

/// `?all=true` (or `1`) signs the account out on every device; it needs a
/// valid session. Without it, the presented token(s) end; no session is fine.
fn wants_all(query: Option<&str>) -> AppResult<bool> {
    let mut all = false;
    for (k, v) in query
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
    {
        if k == "all" {
            all = match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(AppError::bad_request("all: use all=true or all=false")),
            };
        }
    }
    Ok(all)
}

/// End the presented session (no session is fine), or with `all=true` every
/// session of the account.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    params(("all" = Option<bool>, Query, description = "Sign out on every device (needs a valid session)")),
    security((), ("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Signed out: the session cookies are cleared", body = super::openapi::OkBody),
        (status = 401, description = "`all=true` without a valid session", body = super::openapi::ErrorBody)
    )
)]
async fn logout(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    if wants_all(query.as_deref())? {
        let me = auth::authenticate_headers(&state, &headers).await?;
        auth::logout_all(&state, me.id()).await?;
    } else {
        for token in auth::presented_tokens(&headers) {
            auth::logout(&state, &token).await?;
        }
    }
    Ok(with_cookies(StatusCode::OK, auth::clear_cookies(&state)))
}

/// The typed confirmation of `DELETE /api/auth/delete`, as a JSON body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    /// The account's email, or `DELETE` for accounts without a password.
    confirm: Option<String>,
}

/// The same as a query parameter: some clients and proxies drop the body of
/// a DELETE, and the reference project's clients send none.
#[derive(Deserialize)]
struct DeleteQuery {
    confirm: Option<String>,
}

/// The account is deleted only with the confirmation the settings page asks
/// for (`services::auth::check_delete_confirmation`: the email, or `DELETE`
/// for accounts without a password), sent as `{"confirm": "…"}` or
/// `?confirm=…`; without it the answer is a 400 that says what to send.
#[utoipa::path(
    delete,
    path = "/api/auth/delete",
    tag = "auth",
    params(("confirm" = Option<String>, Query, description = "The account's email, or `DELETE` for accounts without a password (or send it in the body)")),
    request_body(content = Option<DeleteBody>, description = "The confirmation as JSON (or send `?confirm=`)", content_type = "application/json"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Deleted: the session cookies are cleared", body = super::openapi::OkBody),
        (status = 400, description = "Without the typed confirmation, or with a wrong one: nothing is deleted", body = super::openapi::ErrorBody)
    )
)]
async fn delete_account(
    State(state): State<AppState>,
    Caller(me): Caller,
    query: Result<Query<DeleteQuery>, QueryRejection>,
    body: Bytes,
) -> AppResult<Response> {
    let Query(q) = query
        .map_err(|e| AppError::bad_request(format!("Invalid query string: {}", e.body_text())))?;
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<DeleteBody>(&body)
            .map_err(|e| AppError::bad_request(format!("Invalid JSON body: {e}")))?
            .confirm
    };
    let confirm = from_body.or(q.confirm).unwrap_or_default();
    auth::delete_account(&state, me.id(), &confirm).await?;
    Ok(with_cookies(StatusCode::OK, auth::clear_cookies(&state)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logout_all_flag() {
        assert!(!wants_all(None).unwrap());
        assert!(!wants_all(Some("")).unwrap());
        assert!(wants_all(Some("all=true")).unwrap());
        assert!(wants_all(Some("x=1&all=1")).unwrap());
        assert!(!wants_all(Some("all=false")).unwrap());
        assert!(wants_all(Some("all=yes")).is_err());
    }
}

/// Start a guest session: a real account with provider `guest` and the same
/// session cookie as any user (the web UI does this on its first write).
#[utoipa::path(
    post,
    path = "/api/auth/guest",
    tag = "auth",
    security((), ("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "A guest account was created and signed in: the session cookie is set", body = super::openapi::OkBody),
        (status = 200, description = "The request already carries a valid session: nothing was created", body = super::openapi::OkBody),
        (status = 403, description = "Guest access is off on this server (`ALLOW_GUESTS=false`), or a cross-site write", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many guest sessions from this address", body = super::openapi::ErrorBody)
    )
)]
async fn create_guest(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> AppResult<Response> {
    if auth::authenticate_headers(&state, &headers).await.is_ok() {
        return Ok(with_cookies(StatusCode::OK, vec![]));
    }
    let ip = client_ip(&state, peer, &headers);
    let issued = guests::create(&state, ip).await?;
    Ok(with_cookies(
        StatusCode::CREATED,
        vec![auth::session_cookie(&state, &issued)],
    ))
}

/// A one-time link (15 minutes) that hands this guest's chats to an account
/// signed in elsewhere, e.g. in another browser.
#[utoipa::path(
    post,
    path = "/api/auth/guest/claim",
    tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The link and until when it works", body = super::openapi::ClaimLinkBody),
        (status = 403, description = "The session is an account, not a guest", body = super::openapi::ErrorBody)
    )
)]
async fn guest_claim(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> AppResult<(StatusCode, Json<super::openapi::ClaimLinkBody>)> {
    let link = guests::create_claim(&state, &me).await?;
    Ok((
        StatusCode::CREATED,
        Json(super::openapi::ClaimLinkBody {
            url: guests::claim_url(&state, &link.code),
            code: link.code,
            expires_at: link.expires_at,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ClaimBody {
    /// The code of a claim link (`POST /api/auth/guest/claim`).
    code: String,
}

/// Redeem a guest's claim code: its chats, files and settings move into the
/// signed-in account, as on sign-in from a guest session.
#[utoipa::path(
    post,
    path = "/api/auth/claim",
    tag = "auth",
    request_body = ClaimBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Moved into the account", body = super::openapi::SignedInBody),
        (status = 403, description = "The session is a guest: sign in to the account first", body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown, used or expired code", body = super::openapi::ErrorBody)
    )
)]
async fn redeem_claim(
    State(state): State<AppState>,
    Caller(me): Caller,
    ApiJson(body): ApiJson<ClaimBody>,
) -> AppResult<Response> {
    let merge = guests::redeem_claim(&state, &me, &body.code).await?;
    let mut resp = Json(signed_in_body(Some(merge))).into_response();
    set_session_cookies(&mut resp, vec![merge.notice_cookie(&state)]);
    Ok(resp)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClaimQuery {
    code: String,
}

/// `GET /auth/claim?code=…` (the link a guest shows): signed out or still a
/// guest → to the sign-in page, which comes back here; signed in → redeemed,
/// then to the chat (`/?claimed=<threads>`, or `/?claim=invalid|expired|
/// refused`). Opened from another site it redeems nothing: a page elsewhere
/// must not push a guest's threads into a visitor's account.
async fn claim_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ClaimQuery>, QueryRejection>,
) -> Response {
    let code = query.map(|Query(q)| q.code).unwrap_or_default();
    let me = auth::authenticate_headers(&state, &headers)
        .await
        .ok()
        .filter(|me| !me.is_guest());
    let Some(me) = me else {
        let back = format!("/auth/claim?code={}", app::client::url_component(&code));
        return see_other(
            &format!("/login?redirect={}", app::client::url_component(&back)),
            vec![],
        );
    };
    if crate::middleware::is_cross_site(&headers, &state.config.public_url) {
        return see_other("/?claim=refused", vec![]);
    }
    match guests::redeem_claim(&state, &me, &code).await {
        Ok(m) => see_other(
            &format!("/?claimed={}", m.merged.threads),
            vec![m.notice_cookie(&state)],
        ),
        Err(AppError::NotFound(m)) if m.contains("expired") => see_other("/?claim=expired", vec![]),
        Err(AppError::NotFound(_)) => see_other("/?claim=invalid", vec![]),
        Err(e) => {
            tracing::warn!(error = %e, "claim link failed");
            see_other("/?claim=failed", vec![])
        }
    }
}
