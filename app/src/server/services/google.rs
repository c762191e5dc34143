//! Verifies Google sign-in credentials for *this* application.
//!
//! Two inputs are accepted: an OAuth access token, checked at Google's
//! tokeninfo endpoint, and an ID token (JWT), verified locally against Google's
//! JWKS. Both must be minted for `GOOGLE_CLIENT_ID` (the reference project
//! accepted tokens issued to any app) and carry a verified email. The stable
//! account key is the subject (`sub`), never the email.
//!
//! An access token travels in the tokeninfo query string, and reqwest's
//! errors print their URL: every reqwest error here goes through
//! [`without_url`] before it is logged or kept, so tokens never reach logs.
use crate::server::AppError;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::RwLock;

/// What we learn about a Google account from a verified credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleIdentity {
    pub sub: String,
    pub email: String,
    pub name: Option<String>,
    pub picture: Option<String>,
}

#[derive(Clone)]
pub struct GoogleVerifier {
    http: reqwest::Client,
    client_id: Option<String>,
    tokeninfo_url: String,
    jwks_url: String,
    jwks: Arc<RwLock<Option<JwkSet>>>,
}

/// tokeninfo encodes numbers and booleans as strings; accept either.
#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    S(String),
    B(bool),
    N(i64),
}

impl Loose {
    fn as_bool(&self) -> bool {
        match self {
            Loose::S(s) => s == "true",
            Loose::B(b) => *b,
            Loose::N(n) => *n != 0,
        }
    }
    fn as_i64(&self) -> Option<i64> {
        match self {
            Loose::S(s) => s.parse().ok(),
            Loose::N(n) => Some(*n),
            Loose::B(_) => None,
        }
    }
}

#[derive(Deserialize)]
struct TokenInfo {
    aud: Option<String>,
    azp: Option<String>,
    sub: Option<String>,
    email: Option<String>,
    email_verified: Option<Loose>,
    exp: Option<Loose>,
    name: Option<String>,
    picture: Option<String>,
}

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    email: Option<String>,
    email_verified: Option<Loose>,
    name: Option<String>,
    picture: Option<String>,
}

/// The error without the request URL (which may carry `?access_token=`).
pub fn without_url(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}

fn rejected(why: &str) -> AppError {
    tracing::info!(reason = why, "google credential rejected");
    AppError::Unauthorized("Google sign-in failed — please try again".into())
}

impl GoogleVerifier {
    pub fn new(
        http: reqwest::Client,
        client_id: Option<String>,
        tokeninfo_url: String,
        jwks_url: String,
    ) -> Self {
        Self {
            http,
            client_id,
            tokeninfo_url,
            jwks_url,
            jwks: Arc::new(RwLock::new(None)),
        }
    }

    pub fn enabled(&self) -> bool {
        self.client_id.is_some()
    }

    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    fn require_client_id(&self) -> Result<&str, AppError> {
        self.client_id.as_deref().ok_or_else(|| {
            AppError::NotImplemented(
                "Google sign-in is not configured on this server (set GOOGLE_CLIENT_ID)".into(),
            )
        })
    }

    /// Checks an OAuth access token at the tokeninfo endpoint.
    pub async fn verify_access_token(&self, token: &str) -> Result<GoogleIdentity, AppError> {
        let client_id = self.require_client_id()?;
        let resp = self
            .http
            .get(&self.tokeninfo_url)
            .query(&[("access_token", token)])
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| {
                let e = without_url(e);
                tracing::warn!(error = %e, "tokeninfo unreachable");
                AppError::Upstream("Google could not be reached — please try again".into())
            })?;
        if !resp.status().is_success() {
            return Err(rejected("tokeninfo refused the token"));
        }
        let info: TokenInfo = resp.json().await.map_err(|_| rejected("tokeninfo body"))?;
        if info.aud.as_deref() != Some(client_id) {
            return Err(rejected("aud mismatch"));
        }
        if info.azp.as_deref().is_some_and(|azp| azp != client_id) {
            return Err(rejected("azp mismatch"));
        }
        if !info.email_verified.as_ref().is_some_and(Loose::as_bool) {
            return Err(rejected("email not verified"));
        }
        let exp = info.exp.as_ref().and_then(Loose::as_i64).unwrap_or(0);
        if exp <= chrono::Utc::now().timestamp() {
            return Err(rejected("expired"));
        }
        let (Some(sub), Some(email)) = (info.sub, info.email) else {
            return Err(rejected("sub or email missing"));
        };
        Ok(GoogleIdentity {
            sub,
            email,
            name: info.name,
            picture: info.picture,
        })
    }

    async fn fetch_jwks(&self) -> Result<JwkSet, AppError> {
        let resp = self
            .http
            .get(&self.jwks_url)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| {
                let e = without_url(e);
                tracing::warn!(error = %e, "jwks unreachable");
                AppError::Upstream("Google could not be reached — please try again".into())
            })?;
        if !resp.status().is_success() {
            return Err(AppError::Upstream(
                "Google's signing keys could not be loaded — please try again".into(),
            ));
        }
        resp.json::<JwkSet>().await.map_err(|e| {
            AppError::Upstream(format!(
                "Google's signing keys are malformed: {}",
                without_url(e)
            ))
        })
    }

    /// The key for `kid`, from the cache or, once, from a fresh JWKS.
    async fn key_for(&self, kid: &str) -> Result<DecodingKey, AppError> {
        if let Some(set) = self.jwks.read().await.as_ref() {
            if let Some(jwk) = set.find(kid) {
                return DecodingKey::from_jwk(jwk).map_err(|_| rejected("bad jwk"));
            }
        }
        let fresh = self.fetch_jwks().await?;
        let key = fresh
            .find(kid)
            .map(DecodingKey::from_jwk)
            .transpose()
            .map_err(|_| rejected("bad jwk"))?;
        *self.jwks.write().await = Some(fresh);
        key.ok_or_else(|| rejected("unknown kid"))
    }

    /// Verifies a Google ID token locally: RS256 signature by a JWKS key,
    /// issuer, audience, expiry, verified email.
    pub async fn verify_id_token(&self, token: &str) -> Result<GoogleIdentity, AppError> {
        let client_id = self.require_client_id()?;
        let header = decode_header(token).map_err(|_| rejected("malformed jwt"))?;
        if header.alg != Algorithm::RS256 {
            return Err(rejected("alg is not RS256"));
        }
        let kid = header.kid.ok_or_else(|| rejected("no kid"))?;
        let key = self.key_for(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[client_id]);
        v.set_issuer(&["accounts.google.com", "https://accounts.google.com"]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 30;
        let claims = decode::<IdClaims>(token, &key, &v)
            .map_err(|_| rejected("jwt validation"))?
            .claims;
        if !claims.email_verified.as_ref().is_some_and(Loose::as_bool) {
            return Err(rejected("email not verified"));
        }
        let email = claims.email.ok_or_else(|| rejected("no email"))?;
        Ok(GoogleIdentity {
            sub: claims.sub,
            email,
            name: claims.name,
            picture: claims.picture,
        })
    }
}
