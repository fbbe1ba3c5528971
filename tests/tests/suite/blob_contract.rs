//! The blob contract, run against the local export folder and S3 (moto).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use infentre_tests::{clock, create_bucket, moto_clients, shared_clock, unique};
use shared::blob::local::LocalBlobStore;
use shared::blob::s3::S3BlobStore;
use shared::blob::s3_links::S3Links;
use shared::blob::{BlobError, BlobStore};
use shared::clock::ManualClock;
use shared::signing::SigningKey;
use tower::ServiceExt;

enum Downloader {
    /// The local server's download route, called in process.
    Local(axum::Router),
    /// A plain HTTP GET (moto serves presigned URLs).
    Http,
}

struct Fixture {
    blobs: Arc<dyn BlobStore>,
    download: Downloader,
    clock: ManualClock,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    /// Fetches a signed URL: `Ok(bytes)` or `Err(status)`.
    async fn fetch(&self, url: &str) -> Result<Bytes, u16> {
        match &self.download {
            Downloader::Local(router) => {
                let path = url.strip_prefix("http://127.0.0.1:8080").expect("a local URL");
                let request = http::Request::get(path).body(axum::body::Body::empty()).unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                let status = response.status().as_u16();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                if status == 200 { Ok(body) } else { Err(status) }
            }
            Downloader::Http => {
                let response = reqwest::get(url).await.unwrap();
                let status = response.status().as_u16();
                if status == 200 { Ok(response.bytes().await.unwrap()) } else { Err(status) }
            }
        }
    }
}

async fn local() -> Fixture {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        LocalBlobStore::new(
            dir.path().join("exports"),
            "http://127.0.0.1:8080",
            &SigningKey::generate(),
            shared_clock(&clock),
        )
        .unwrap(),
    );
    Fixture { blobs: store.clone(), download: Downloader::Local(store.routes()), clock, _dir: Some(dir) }
}

async fn moto() -> Fixture {
    let clock = clock();
    let clients = moto_clients().await;
    let bucket = unique("exports");
    create_bucket(&clients, &bucket).await;
    Fixture {
        blobs: Arc::new(S3BlobStore::new(clients.s3.clone(), bucket, shared_clock(&clock))),
        download: Downloader::Http,
        clock,
        _dir: None,
    }
}

infentre_tests::contract!(
    local_blobs = local,
    s3_blobs_on_moto = moto;

    a_put_blob_is_read_and_listed,
    deleting_a_prefix_removes_exactly_that_subjects_exports,
    a_signed_url_downloads_the_blob_until_it_expires,
    unsafe_keys_and_long_lifetimes_are_refused,
);

async fn a_put_blob_is_read_and_listed(f: Fixture) {
    f.blobs.put("exports/USER1/a.json", Bytes::from_static(b"{\"a\":1}"), "application/json").await.unwrap();
    f.blobs.put("exports/USER1/b.zip", Bytes::from_static(b"PK.."), "application/zip").await.unwrap();

    assert_eq!(f.blobs.get("exports/USER1/a.json").await.unwrap(), Some(Bytes::from_static(b"{\"a\":1}")));
    assert_eq!(f.blobs.get("exports/USER1/missing.json").await.unwrap(), None);
    assert_eq!(f.blobs.list("exports/USER1/").await.unwrap(), ["exports/USER1/a.json", "exports/USER1/b.zip"]);
}

async fn deleting_a_prefix_removes_exactly_that_subjects_exports(f: Fixture) {
    for key in ["exports/USER1/a.json", "exports/USER1/b.json", "exports/USER10/c.json", "exports/USER2/d.json"] {
        f.blobs.put(key, Bytes::from_static(b"{}"), "application/json").await.unwrap();
    }

    assert_eq!(f.blobs.delete_prefix("exports/USER1/").await.unwrap(), 2);

    assert!(f.blobs.list("exports/USER1/").await.unwrap().is_empty());
    assert_eq!(f.blobs.list("exports/").await.unwrap(), ["exports/USER10/c.json", "exports/USER2/d.json"]);
}

async fn a_signed_url_downloads_the_blob_until_it_expires(f: Fixture) {
    f.blobs.put("exports/USER1/access.json", Bytes::from_static(b"{\"me\":true}"), "application/json").await.unwrap();

    let signed = f.blobs.signed_url("exports/USER1/access.json", Duration::from_secs(3600)).await.unwrap();

    assert_eq!(signed.expires_at, f.clock_now() + chrono::Duration::hours(1));
    assert_eq!(f.fetch(&signed.url).await, Ok(Bytes::from_static(b"{\"me\":true}")));
}

async fn unsafe_keys_and_long_lifetimes_are_refused(f: Fixture) {
    for key in ["../secret", "/etc/passwd", "exports/../../x", ""] {
        assert!(matches!(f.blobs.put(key, Bytes::new(), "text/plain").await, Err(BlobError::InvalidKey)), "{key}");
    }
    let too_long = f.blobs.signed_url("exports/a.json", Duration::from_secs(8 * 24 * 3600)).await;
    assert!(matches!(too_long, Err(BlobError::LifetimeTooLong)));
}

impl Fixture {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use shared::clock::Clock;
        self.clock.now()
    }
}

/// The functions that only hand out links (rights, web) presign them without the S3 client:
/// such a link downloads what the rights worker's S3 client wrote. (That it is the SDK's own URL,
/// signature included, is `shared::blob::s3_links`'s unit test: moto does not check signatures.)
#[tokio::test]
async fn a_link_signed_without_the_s3_client_downloads_the_export_on_moto() {
    let clock = clock();
    let clients = moto_clients().await;
    let bucket = unique("exports");
    create_bucket(&clients, &bucket).await;
    let writer = S3BlobStore::new(clients.s3.clone(), bucket.clone(), shared_clock(&clock));
    writer.put("exports/USER1/access.json", Bytes::from_static(b"{\"me\":true}"), "application/json").await.unwrap();
    let links = S3Links::new(&clients.links, bucket, shared_clock(&clock));
    let signed = links.signed_url("exports/USER1/access.json", Duration::from_secs(3600)).await.unwrap();
    let f = Fixture { blobs: Arc::new(links), download: Downloader::Http, clock, _dir: None };
    assert_eq!(signed.expires_at, f.clock_now() + chrono::Duration::hours(1));
    assert_eq!(f.fetch(&signed.url).await, Ok(Bytes::from_static(b"{\"me\":true}")));
    assert!(f.blobs.put("exports/USER1/x.json", Bytes::new(), "application/json").await.is_err(), "links only");
}

// moto does not check presigned signatures or expiry (AWS does); the local engine must.
#[tokio::test]
async fn local_download_links_refuse_tampering_and_expiry() {
    let f = local().await;
    f.blobs.put("exports/USER1/access.json", Bytes::from_static(b"{}"), "application/json").await.unwrap();
    let signed = f.blobs.signed_url("exports/USER1/access.json", Duration::from_secs(60)).await.unwrap();

    let other_file = signed.url.replace("USER1/access.json", "USER2/access.json");
    let longer = signed.url.replace("expires=", "expires=9");
    assert_eq!(f.fetch(&other_file).await, Err(403));
    assert_eq!(f.fetch(&longer).await, Err(403));
    assert_eq!(f.fetch(&signed.url.replace("&signature=", "&signature=0")).await, Err(403));
    assert_eq!(f.fetch(&signed.url).await.map(|b| b.len()), Ok(2));

    f.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(f.fetch(&signed.url).await, Err(403), "expired");
}
