//! The local binary: one process answering every function's routes, on SQLite.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shared::clock::SystemClock;

#[test]
fn the_committed_openapi_document_is_current() {
    let committed = include_str!("../../openapi.json");
    assert!(
        committed == infentre::openapi_json(),
        "openapi.json is stale: run `cargo run -p infentre -- openapi > openapi.json`"
    );
}

#[tokio::test]
async fn the_server_starts_answers_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    let source = std::collections::HashMap::<&str, &str>::new();
    let local = infentre::open(dir.path(), format!("http://{addr}"), &source, Arc::new(SystemClock)).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(infentre::serve(local, addr, Duration::from_secs(3600), async move {
        // Stops when told, or when the test drops the sender.
        stop_rx.await.unwrap_or_default();
    }));

    let mut healthz = None;
    for _ in 0..50 {
        if let Ok(response) = http_get(&format!("http://{addr}/healthz")).await {
            healthz = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let openapi = http_get(&format!("http://{addr}/openapi.json")).await.unwrap();
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();

    assert_eq!(healthz.as_deref(), Some(r#"{"status":"ok"}"#));
    let doc: serde_json::Value = serde_json::from_str(&openapi).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(dir.path().join("infentre.sqlite3").exists());
    assert!(dir.path().join("outbox").is_dir() && dir.path().join("exports").is_dir());
    let key = std::fs::metadata(dir.path().join("signing.key")).unwrap();
    #[cfg(unix)]
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777, 0o600);
}

/// A minimal HTTP/1.1 GET, so the local crate needs no HTTP client.
async fn http_get(url: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream.write_all(format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

#[test]
fn the_binary_refuses_to_start_with_bad_smtp_settings_and_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_infentre"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--addr", "127.0.0.1:0", "serve"])
        .env("INFENTRE_MAIL_TRANSPORT", "smtp")
        .env("INFENTRE_SMTP_HOST", "smtp.example.com")
        .env("INFENTRE_SMTP_PORT", "submission")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A binary that accepted the settings would serve until stopped: give it 20 s.
    let mut status = None;
    for _ in 0..200 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if status.is_none() {
        child.kill().unwrap();
        child.wait().unwrap();
        panic!("the binary started with an invalid INFENTRE_SMTP_PORT");
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.unwrap().success());
    assert!(stderr.contains("INFENTRE_SMTP_PORT is invalid"), "{stderr}");
    assert!(!dir.path().join("infentre.sqlite3").exists(), "nothing is created before the settings are checked");
}
