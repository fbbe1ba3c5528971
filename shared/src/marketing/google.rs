//! GA4's User Deletion API, signed in as a service account (Art. 19: Google is told when a
//! person is erased).
//!
//! - Access token: OAuth 2.0 JWT bearer grant (RFC 7523) at the key's `token_uri`. The
//!   assertion is an RS256 JWT: `iss` the service account, `scope` [`USER_DELETION_SCOPE`],
//!   `aud` the token URI, `iat` now, `exp` one hour later (Google's maximum). The token is
//!   reused until a minute before it expires.
//! - Deletion: `POST …/userDeletion/userDeletionRequests:upsert` with the bearer token and
//!   `{"kind": "analytics#userDeletionRequest", "id": {"type": "USER_ID", "userId"}, "propertyId"}`;
//!   Google answers the same resource with its `deletionRequestTime`.
//!
//! RSA signing uses the crypto library the build already links for TLS (see [`crate::tls`]):
//! aws-lc-rs with `aws`, ring with `tls-ring`. Both offer the same `signature` API.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Value, json};

#[cfg(feature = "aws")]
use aws_lc_rs as crypto;
#[cfg(all(feature = "tls-ring", not(feature = "aws")))]
use ring as crypto;

use super::{Ga4UserDeletion, SyncError};

pub const USER_DELETION_SCOPE: &str = "https://www.googleapis.com/auth/analytics.user.deletion";
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google accepts assertions valid for at most one hour.
const ASSERTION_SECONDS: i64 = 3600;
/// A cached token is renewed this long before Google says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
const DESTINATION: &str = "google_analytics";

/// The fields of a service account's JSON key that the grant needs.
#[derive(Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    /// PKCS#8, PEM (`-----BEGIN PRIVATE KEY-----`), as Google issues it.
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey").field("token_uri", &self.token_uri).finish_non_exhaustive()
    }
}

/// The signature's length. The one place where the two libraries' APIs differ.
#[cfg(feature = "aws")]
fn modulus_len(pair: &crypto::signature::RsaKeyPair) -> usize {
    pair.public_modulus_len()
}

#[cfg(all(feature = "tls-ring", not(feature = "aws")))]
fn modulus_len(pair: &crypto::signature::RsaKeyPair) -> usize {
    pair.public().modulus_len()
}

/// The DER inside a PEM block.
fn pem_der(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).map(str::trim).collect();
    STANDARD.decode(body).map_err(|err| format!("the private key is not PEM: {err}"))
}

/// Signs the grant's assertions with the service account's key.
pub struct Signer {
    key: ServiceAccountKey,
    pair: crypto::signature::RsaKeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("key", &self.key).finish_non_exhaustive()
    }
}

impl Signer {
    /// From the JSON key file's text; the error names what is wrong, never the key.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let key: ServiceAccountKey =
            serde_json::from_str(json).map_err(|err| format!("the service account key does not parse: {err}"))?;
        let der = pem_der(&key.private_key)?;
        let pair = crypto::signature::RsaKeyPair::from_pkcs8(&der)
            .map_err(|_| "the service account's private key is not a PKCS#8 RSA key".to_owned())?;
        Ok(Self { key, pair })
    }

    pub fn token_uri(&self) -> &str {
        &self.key.token_uri
    }

    /// The JWT the token endpoint takes, issued at `now` (unix seconds).
    pub fn assertion(&self, now: i64) -> Result<String, String> {
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.key.private_key_id {
            header["kid"] = Value::String(kid.clone());
        }
        let claims = json!({
            "iss": self.key.client_email,
            "scope": USER_DELETION_SCOPE,
            "aud": self.key.token_uri,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0; modulus_len(&self.pair)];
        let rng = crypto::rand::SystemRandom::new();
        self.pair
            .sign(&crypto::signature::RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut signature)
            .map_err(|_| "RS256 signing failed".to_owned())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The User Deletion API client of one GA4 property.
pub struct UserDeletion {
    signer: Signer,
    endpoint: String,
    property_id: String,
    http: reqwest::Client,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for UserDeletion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserDeletion").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// 5xx and 429 are worth retrying; other refusals are not.
fn failure(what: &str, status: reqwest::StatusCode) -> SyncError {
    let reason = format!("{what}: HTTP {}", status.as_u16());
    if status.is_server_error() || status.as_u16() == 429 {
        SyncError::Unavailable { destination: DESTINATION, reason }
    } else {
        SyncError::Refused { destination: DESTINATION, reason }
    }
}

fn unreachable(what: &str, err: reqwest::Error) -> SyncError {
    SyncError::Unavailable { destination: DESTINATION, reason: format!("{what}: {}", err.without_url()) }
}

impl UserDeletion {
    pub fn new(settings: &Ga4UserDeletion, http: reqwest::Client) -> Result<Self, String> {
        Ok(Self {
            signer: Signer::from_json(&settings.service_account_key)?,
            endpoint: settings.endpoint.clone(),
            property_id: settings.property_id.clone(),
            http,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// The upsert's body for the user id we sent to GA4.
    pub fn body(&self, user_id: &str) -> Value {
        json!({
            "kind": "analytics#userDeletionRequest",
            "id": {"type": "USER_ID", "userId": user_id},
            "propertyId": self.property_id,
        })
    }

    async fn access_token(&self) -> Result<String, SyncError> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let now = chrono::Utc::now().timestamp();
        let assertion =
            self.signer.assertion(now).map_err(|reason| SyncError::Refused { destination: DESTINATION, reason })?;
        // The assertion is base64url and dots (nothing to escape); the grant type is escaped here.
        let form = format!("grant_type={}&assertion={assertion}", JWT_BEARER_GRANT.replace(':', "%3A"));
        let response = self
            .http
            .post(self.signer.token_uri())
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|err| unreachable("token", err))?;
        if !response.status().is_success() {
            return Err(failure("token", response.status()));
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let token: Token = response.json().await.map_err(|err| unreachable("token", err))?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600)).saturating_sub(TOKEN_MARGIN);
        *cached = Some((token.access_token.clone(), Instant::now() + lifetime));
        Ok(token.access_token)
    }

    /// Asks Google to delete the user's data; its `deletionRequestTime` on success.
    pub async fn upsert(&self, user_id: &str) -> Result<Option<String>, SyncError> {
        let token = self.access_token().await?;
        let response = self
            .http
            .post(&self.endpoint)
            .bearer_auth(token)
            .json(&self.body(user_id))
            .send()
            .await
            .map_err(|err| unreachable("user deletion", err))?;
        let status = response.status();
        if status.as_u16() == 401 {
            // Revoked or expired early: the retry signs in again.
            *self.token.lock().await = None;
            return Err(SyncError::Unavailable { destination: DESTINATION, reason: "user deletion: HTTP 401".into() });
        }
        if !status.is_success() {
            return Err(failure("user deletion", status));
        }
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        Ok(answer.get("deletionRequestTime").and_then(Value::as_str).map(str::to_owned))
    }
}
