//! The local hello@ mailbox: `.eml` files dropped into `<data-dir>/inbox/` are taken in by the
//! same intake as SendGrid's Inbound Parse on AWS (`shared::cases::intake`), and removed once
//! taken. A file that can never be taken in (too large, no sender) moves to `inbox/rejected/`
//! with nothing stored; one that met a passing failure stays for the next scan.
//! `infentre inbox import FILE` takes in one file the same way (and leaves it in place).

use std::path::{Path, PathBuf};
use std::time::Duration;

use shared::Platform;
use shared::cases::intake::{self, InboundMessage, IntakeError, Taken};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

/// Where dropped messages are looked for.
pub fn inbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("inbox")
}

/// Takes in one `.eml` file. It arrived when it was written (never later than now).
pub async fn import_file(platform: &Platform, path: &Path) -> Result<Taken, InboxError> {
    let read = |source| InboxError::Read { path: path.to_owned(), source };
    let metadata = tokio::fs::metadata(path).await.map_err(read)?;
    if metadata.len() > intake::MAX_RAW_BYTES as u64 {
        return Err(IntakeError::TooLarge.into());
    }
    let raw = tokio::fs::read(path).await.map_err(read)?;
    let now = platform.clock.epoch_seconds();
    let written = metadata
        .modified()
        .ok()
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|since| i64::try_from(since.as_secs()).ok())
        .map_or(now, |at| at.min(now));
    Ok(intake::intake(platform, InboundMessage { raw, received_at: written }).await?)
}

/// One pass over the inbox folder; returns how many messages were taken in.
pub async fn scan(platform: &Platform, dir: &Path) -> usize {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return 0 };
    let mut files = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("eml")) {
            files.push(path);
        }
    }
    files.sort();
    let mut taken = 0;
    for path in files {
        match import_file(platform, &path).await {
            Ok(_) => {
                taken += 1;
                if let Err(err) = tokio::fs::remove_file(&path).await {
                    tracing::error!(error = %err, "a taken-in message could not be removed from the inbox");
                }
            }
            Err(InboxError::Intake(IntakeError::TooLarge | IntakeError::Malformed(_))) => {
                let rejected = dir.join("rejected");
                let moved = match (tokio::fs::create_dir_all(&rejected).await, path.file_name()) {
                    (Ok(()), Some(name)) => tokio::fs::rename(&path, rejected.join(name)).await,
                    (Err(err), _) => Err(err),
                    (_, None) => Ok(()),
                };
                if let Err(err) = moved {
                    tracing::error!(error = %err, "a rejected message could not be moved aside");
                }
                tracing::warn!("an inbox message was rejected (too large or malformed); moved to inbox/rejected");
            }
            // Tried again at the next scan.
            Err(err) => tracing::error!(error = %err, "an inbox message could not be taken in"),
        }
    }
    taken
}

/// Scans the inbox every `every` until stopped.
pub async fn scan_periodically(platform: Platform, dir: PathBuf, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let taken = scan(&platform, &dir).await;
        if taken > 0 {
            tracing::info!(taken, "inbox scanned");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
