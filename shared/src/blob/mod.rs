//! The blob port: where exports (access and portability) are kept, handed out only through
//! time-limited signed URLs. S3 with presigned GETs in AWS; a folder served by the local
//! server with HMAC-signed URLs locally.

#[cfg(feature = "embedded")]
pub mod local;
#[cfg(feature = "aws-s3")]
pub mod s3;
#[cfg(feature = "aws-s3-links")]
pub mod s3_links;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

/// S3 presigned URLs live 7 days at most; we hold the local engine to the same.
pub const MAX_URL_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key")]
    InvalidKey,
    #[error("a signed URL lives at most 7 days")]
    LifetimeTooLong,
    #[error("blob backend failure")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError>;
    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError>;
    /// Every key under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;
    /// Deletes everything under `prefix` (a subject's exports) and returns how many.
    async fn delete_prefix(&self, prefix: &str) -> Result<usize, BlobError>;
    async fn signed_url(&self, key: &str, lifetime: Duration) -> Result<SignedUrl, BlobError>;
}

/// Keys are relative paths of safe characters: never absolute, never `..`.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.');
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.chars().all(safe)
        && !key.starts_with('/')
        && !key.ends_with('/')
        && key.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if ok { Ok(()) } else { Err(BlobError::InvalidKey) }
}

/// Prefixes follow the key rules but may end with `/`.
pub fn validate_prefix(prefix: &str) -> Result<(), BlobError> {
    validate_key(prefix.trim_end_matches('/'))
}

pub fn content_type_of(key: &str) -> &'static str {
    match key.rsplit('.').next() {
        Some("json") => "application/json",
        Some("zip") => "application/zip",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_store() {
        assert!(validate_key("exports/01J/access.json").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "a/", "a b", "a\\b", "..", "ä"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
    }
}
