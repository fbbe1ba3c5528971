//! Exports in a local folder, downloaded through the local server at
//! `/v1/exports/{key}?expires=..&signature=..`: an HMAC over the key and the expiry, checked
//! against the injected clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde::Deserialize;

use super::{BlobError, BlobStore, MAX_URL_LIFETIME, SignedUrl, content_type_of, validate_key, validate_prefix};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::signing::{Signer, SigningKey};

/// The path under which the local server serves exports.
pub const DOWNLOAD_PATH: &str = "/v1/exports";

#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
    public_base_url: String,
    signer: Signer,
    clock: Arc<dyn Clock>,
}

fn backend(err: std::io::Error) -> BlobError {
    BlobError::Backend(Box::new(err))
}

impl LocalBlobStore {
    pub fn new(root: PathBuf, public_base_url: &str, key: &SigningKey, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(Self {
            root,
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            signer: key.signer("export"),
            clock,
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    /// Checks a download link and returns the file, or why not.
    pub async fn open_signed(&self, key: &str, expires: i64, signature: &str) -> Result<Bytes, ApiError> {
        let forbidden = || ApiError::forbidden("the download link is invalid or has expired");
        if validate_key(key).is_err() || !self.signer.verify(&[key, &expires.to_string()], signature) {
            return Err(forbidden());
        }
        if expires <= self.clock.epoch_seconds() {
            return Err(forbidden());
        }
        match self.get(key).await {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(ApiError::not_found("the export no longer exists")),
            Err(err) => Err(ApiError::internal(err)),
        }
    }

    /// The download route of the local server (documented by [`LocalExportsApi`]).
    pub fn routes(self: Arc<Self>) -> Router {
        Router::new().route(&format!("{DOWNLOAD_PATH}/{{*key}}"), get(download)).with_state(self)
    }
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    pub expires: i64,
    pub signature: String,
}

/// Downloads an export through the signed, expiring link the export endpoint hands out
/// (local server only; in AWS the link is an S3 presigned URL).
#[utoipa::path(
    get,
    path = "/v1/exports/{key}",
    tag = "rights",
    params(
        ("key" = String, Path, description = "The export's key"),
        ("expires" = i64, Query, description = "Unix time the link expires"),
        ("signature" = String, Query, description = "HMAC-SHA256 of the key and expiry"),
    ),
    responses(crate::responses::Query,
        (status = 200, description = "The export file"),
        (status = 403, description = "Invalid or expired link", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The export no longer exists", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download(
    State(store): State<Arc<LocalBlobStore>>,
    UrlPath(key): UrlPath<String>,
    query: Result<Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Ok(Query(query)) = query else {
        return Err(ApiError::forbidden("the download link is invalid or has expired"));
    };
    let bytes = store.open_signed(&key, query.expires, &query.signature).await?;
    let file_name = key.rsplit('/').next().unwrap_or("export");
    Ok((
        [
            (header::CONTENT_TYPE, content_type_of(&key).to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

fn list_files(dir: &Path, root: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_files(&path, root, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let key = relative.to_string_lossy().replace('\\', "/");
            // Half-written files (see `put`) are not blobs yet.
            if !key.ends_with(".partial") {
                out.push(key);
            }
        }
    }
    Ok(())
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &str, bytes: Bytes, _content_type: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(backend)?;
        }
        // Write aside and rename: a reader never sees half a file.
        let partial = path.with_extension(format!("{}.partial", ulid::Ulid::new()));
        tokio::fs::write(&partial, &bytes).await.map_err(backend)?;
        tokio::fs::rename(&partial, &path).await.map_err(backend)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(backend(err)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        validate_prefix(prefix)?;
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        let mut keys = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            list_files(&root, &root, &mut keys).map(|_| keys)
        })
        .await
        .map_err(|err| BlobError::Backend(Box::new(err)))?
        .map_err(backend)?;
        keys.retain(|key| key.starts_with(&prefix));
        keys.sort();
        Ok(keys)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<usize, BlobError> {
        let keys = self.list(prefix).await?;
        for key in &keys {
            match tokio::fs::remove_file(self.path(key)?).await {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(backend(err)),
            }
        }
        Ok(keys.len())
    }

    async fn signed_url(&self, key: &str, lifetime: Duration) -> Result<SignedUrl, BlobError> {
        validate_key(key)?;
        if lifetime > MAX_URL_LIFETIME {
            return Err(BlobError::LifetimeTooLong);
        }
        let expires_at =
            self.clock.now() + chrono::Duration::from_std(lifetime).map_err(|_| BlobError::LifetimeTooLong)?;
        let expires = expires_at.timestamp();
        let signature = self.signer.sign(&[key, &expires.to_string()]);
        Ok(SignedUrl {
            url: format!("{}{DOWNLOAD_PATH}/{key}?expires={expires}&signature={signature}", self.public_base_url),
            expires_at,
        })
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(download))]
pub struct LocalExportsApi;
