//! Exports in S3, handed out as presigned GET URLs.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use bytes::Bytes;

use super::{BlobError, BlobStore, MAX_URL_LIFETIME, SignedUrl, validate_key, validate_prefix};
use crate::clock::Clock;

#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    clock: std::sync::Arc<dyn Clock>,
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: impl Into<String>, clock: std::sync::Arc<dyn Clock>) -> Self {
        Self { client, bucket: bucket.into(), clock }
    }
}

fn backend<E: std::error::Error + Send + Sync + 'static>(err: E) -> BlobError {
    BlobError::Backend(Box::new(err))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        validate_key(key)?;
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => Ok(Some(output.body.collect().await.map_err(backend)?.into_bytes())),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(backend(err)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        validate_prefix(prefix)?;
        let mut keys = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(backend)?;
            keys.extend(page.contents.unwrap_or_default().into_iter().filter_map(|o| o.key));
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<usize, BlobError> {
        let keys = self.list(prefix).await?;
        // DeleteObjects takes 1,000 keys per request.
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            let output = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(Delete::builder().set_objects(Some(objects)).quiet(true).build().map_err(backend)?)
                .send()
                .await
                .map_err(backend)?;
            if let Some(error) = output.errors.unwrap_or_default().first() {
                return Err(BlobError::Backend(
                    format!("S3 did not delete an object: {}", error.code.as_deref().unwrap_or("unknown")).into(),
                ));
            }
        }
        Ok(keys.len())
    }

    async fn signed_url(&self, key: &str, lifetime: Duration) -> Result<SignedUrl, BlobError> {
        validate_key(key)?;
        if lifetime > MAX_URL_LIFETIME {
            return Err(BlobError::LifetimeTooLong);
        }
        let presigning = PresigningConfig::builder()
            .start_time(self.clock.now().into())
            .expires_in(lifetime)
            .build()
            .map_err(backend)?;
        let request =
            self.client.get_object().bucket(&self.bucket).key(key).presigned(presigning).await.map_err(backend)?;
        let expires_at =
            self.clock.now() + chrono::Duration::from_std(lifetime).map_err(|_| BlobError::LifetimeTooLong)?;
        Ok(SignedUrl { url: request.uri().to_owned(), expires_at })
    }
}
