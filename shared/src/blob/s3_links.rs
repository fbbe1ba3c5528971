//! Links to exports in S3 without the S3 client: a presigned GET is a SigV4 signature over the
//! URL, made here with `aws-sigv4` (the SDK's own signer, linked anyway for DynamoDB), so no
//! request goes to S3. The functions that only hand out links (rights, web) take this instead
//! of `aws-sdk-s3`, whose client, endpoint rules and checksum tables are about 1.2 MB of each
//! package. The URL is the one the SDK presigns, byte for byte (tested below against it).

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_dynamodb::config::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;

use super::{BlobError, BlobStore, MAX_URL_LIFETIME, SignedUrl, validate_key};
use crate::clock::Clock;

/// Presigned GETs of one bucket; every other blob operation is refused, as the function's role
/// (`s3:GetObject` only) would refuse it.
#[derive(Debug, Clone)]
pub struct S3Links {
    bucket: String,
    region: String,
    /// A custom endpoint (moto, MinIO) serves buckets by path; S3 itself by host name.
    endpoint: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    clock: std::sync::Arc<dyn Clock>,
}

#[derive(Debug, thiserror::Error)]
#[error("this function only hands out links to exports: its role grants s3:GetObject alone")]
struct LinksOnly;

fn backend<E: std::error::Error + Send + Sync + 'static>(err: E) -> BlobError {
    BlobError::Backend(Box::new(err))
}

impl S3Links {
    pub fn new(config: &aws_types::SdkConfig, bucket: impl Into<String>, clock: std::sync::Arc<dyn Clock>) -> Self {
        Self {
            bucket: bucket.into(),
            region: config.region().map(|region| region.as_ref().to_owned()).unwrap_or_default(),
            endpoint: config.endpoint_url().map(|url| url.trim_end_matches('/').to_owned()),
            credentials: config.credentials_provider(),
            clock,
        }
    }

    /// The object's URL as the SDK addresses it: virtual-hosted on AWS, by path elsewhere.
    fn object_url(&self, key: &str) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/{}/{key}", self.bucket),
            // A bucket with dots would not match the wildcard certificate of a host name.
            None if self.bucket.contains('.') => {
                format!("https://s3.{}.amazonaws.com/{}/{key}", self.region, self.bucket)
            }
            None => format!("https://{}.s3.{}.amazonaws.com/{key}", self.bucket, self.region),
        }
    }

    async fn presign(&self, key: &str, start: SystemTime, lifetime: Duration) -> Result<String, BlobError> {
        let provider = self.credentials.as_ref().ok_or_else(|| backend(NoCredentials))?;
        let identity: Identity = provider.provide_credentials().await.map_err(backend)?.into();
        // S3's rules, as the SDK sets them for S3: the key is encoded once and not normalised,
        // and a presigned GET signs no payload.
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(lifetime);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(start)
            .settings(settings)
            .build()
            .map_err(backend)?
            .into();
        let url = format!("{}?x-id=GetObject", self.object_url(key));
        let signable = SignableRequest::new("GET", url.as_str(), std::iter::empty(), SignableBody::UnsignedPayload)
            .map_err(backend)?;
        let (instructions, _signature) = sign(signable, &params).map_err(backend)?.into_parts();
        let mut request = http::Request::get(url.as_str()).body(()).map_err(backend)?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request.uri().to_string())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no AWS credentials to sign with")]
struct NoCredentials;

#[async_trait]
impl BlobStore for S3Links {
    async fn put(&self, _key: &str, _bytes: Bytes, _content_type: &str) -> Result<(), BlobError> {
        Err(backend(LinksOnly))
    }

    async fn get(&self, _key: &str) -> Result<Option<Bytes>, BlobError> {
        Err(backend(LinksOnly))
    }

    async fn list(&self, _prefix: &str) -> Result<Vec<String>, BlobError> {
        Err(backend(LinksOnly))
    }

    async fn delete_prefix(&self, _prefix: &str) -> Result<usize, BlobError> {
        Err(backend(LinksOnly))
    }

    async fn signed_url(&self, key: &str, lifetime: Duration) -> Result<SignedUrl, BlobError> {
        validate_key(key)?;
        if lifetime > MAX_URL_LIFETIME {
            return Err(BlobError::LifetimeTooLong);
        }
        let now = self.clock.now();
        let url = self.presign(key, now.into(), lifetime).await?;
        let expires_at = now + chrono::Duration::from_std(lifetime).map_err(|_| BlobError::LifetimeTooLong)?;
        Ok(SignedUrl { url, expires_at })
    }
}

/// The SDK's presigned GET for the same object, time and credentials: ours must be the same
/// URL, or S3 might answer one and refuse the other.
#[cfg(all(test, feature = "aws-s3"))]
mod tests {
    use std::sync::Arc;

    use aws_sdk_dynamodb::config::{Credentials, Region};
    use chrono::TimeZone;

    use super::*;
    use crate::blob::s3::S3BlobStore;
    use crate::clock::ManualClock;

    fn config(endpoint: Option<&str>, token: Option<&str>) -> aws_types::SdkConfig {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_owned),
            None,
            "test",
        );
        let mut config = aws_types::SdkConfig::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(Region::new("eu-north-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials));
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        config.build()
    }

    async fn both(config: &aws_types::SdkConfig, bucket: &str, key: &str, lifetime: Duration) -> (String, String) {
        let clock: Arc<dyn Clock> =
            Arc::new(ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 30, 8, 15, 42).unwrap()));
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build(),
        );
        let sdk = S3BlobStore::new(s3, bucket, clock.clone()).signed_url(key, lifetime).await.unwrap();
        let ours = S3Links::new(config, bucket, clock).signed_url(key, lifetime).await.unwrap();
        assert_eq!(ours.expires_at, sdk.expires_at);
        (ours.url, sdk.url)
    }

    #[tokio::test]
    async fn the_link_is_the_one_the_sdk_presigns() {
        let key = "exports/01JDQ3ZK7Y0000000000000000/access-01JDQ3ZK7Y.zip";
        let hour = Duration::from_secs(3600);
        let cases = [
            // Lambda: the role's temporary credentials, S3 by host name.
            (
                config(None, Some("IQoJb3JpZ2luX2VjEJr//////////wEaCmV1LW5vcnRoLTE=")),
                "infentre-exports-123456789012",
                hour,
            ),
            (config(None, None), "infentre-exports-123456789012", MAX_URL_LIFETIME),
            // A bucket named with dots goes by path.
            (config(None, None), "exports.infentre.example", hour),
            // moto (the Lambda harness and the contract suite): by path under the endpoint.
            (config(Some("http://127.0.0.1:5123"), Some("token")), "infentre-exports", hour),
        ];
        for (config, bucket, lifetime) in cases {
            let (ours, sdk) = both(&config, bucket, key, lifetime).await;
            assert_eq!(ours, sdk, "bucket {bucket}");
            assert!(ours.contains("X-Amz-Signature="), "{ours}");
        }
    }

    #[tokio::test]
    async fn it_hands_out_links_and_nothing_else() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(chrono::Utc::now()));
        let links = S3Links::new(&config(None, None), "infentre-exports", clock);
        assert!(links.put("exports/a.json", Bytes::from_static(b"{}"), "application/json").await.is_err());
        assert!(links.get("exports/a.json").await.is_err());
        assert!(links.list("exports/").await.is_err());
        assert!(links.delete_prefix("exports/").await.is_err());
        assert!(matches!(
            links.signed_url("exports/a.json", MAX_URL_LIFETIME * 2).await,
            Err(BlobError::LifetimeTooLong)
        ));
        assert!(matches!(links.signed_url("../a.json", Duration::from_secs(60)).await, Err(BlobError::InvalidKey)));
        let without =
            S3Links::new(&aws_types::SdkConfig::builder().build(), "b", Arc::new(ManualClock::new(chrono::Utc::now())));
        assert!(
            without.signed_url("exports/a.json", Duration::from_secs(60)).await.is_err(),
            "no credentials, no link"
        );
    }
}
