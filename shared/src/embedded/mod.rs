//! The embedded engine: one SQLite file for the store and the queues, a folder for exports,
//! a folder of `.eml` files for e-mail, a folder of what marketing sync would send.
//! Everything lives under the data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::sqlite::SqliteDb;

use crate::blob::local::LocalBlobStore;
use crate::clock::Clock;
use crate::config::Settings;
use crate::mail::outbox::OutboxMailer;
use crate::marketing::outbox::OutboxDestination;
use crate::platform::Platform;
use crate::queue::DEFAULT_MAX_RECEIVES;
use crate::queue::sqlite::SqliteQueue;
use crate::signing::SigningKey;
use crate::store::sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot use the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("cannot prepare the outbox: {0}")]
    Outbox(#[from] crate::mail::MailError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// The embedded adapters, typed (tests look inside them) and as a [`Platform`].
#[derive(Debug, Clone)]
pub struct Engine {
    pub platform: Platform,
    pub store: Arc<SqliteStore>,
    pub queue: Arc<SqliteQueue>,
    pub blobs: Arc<LocalBlobStore>,
    pub mailer: Arc<OutboxMailer>,
    /// Google Analytics and Facebook, as folders of the request bodies.
    pub marketing: Vec<Arc<OutboxDestination>>,
}

impl Engine {
    /// Opens `<data_dir>/infentre.sqlite3`, `<data_dir>/exports/`, `<data_dir>/outbox/` and
    /// `<data_dir>/marketing-outbox/`.
    pub fn open(data_dir: &Path, settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        let io = |source| OpenError::DataDir { path: data_dir.to_owned(), source };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let db = SqliteDb::open(&data_dir.join("infentre.sqlite3"))?;
        let store = Arc::new(SqliteStore::new(db.clone(), clock.clone()));
        let queue = Arc::new(SqliteQueue::new(db, clock.clone(), DEFAULT_MAX_RECEIVES));
        let blobs = Arc::new(
            LocalBlobStore::new(
                data_dir.join("exports"),
                &settings.public_base_url,
                &settings.signing_key,
                clock.clone(),
            )
            .map_err(io)?,
        );
        let mailer = Arc::new(
            OutboxMailer::new(data_dir.join("outbox"), &settings.mail_from, clock.clone())?
                .keeping_hours(settings.outbox_retention_hours),
        );
        let marketing =
            OutboxDestination::all(&data_dir.join("marketing-outbox")).map_err(io)?.into_iter().map(Arc::new).collect();
        let platform = Platform {
            store: store.clone(),
            queue: queue.clone(),
            blobs: blobs.clone(),
            clock,
            settings: Arc::new(settings),
            sent_mail: Some(mailer.clone()),
        };
        Ok(Self { platform, store, queue, blobs, mailer, marketing })
    }
}

impl Engine {
    /// An engine with every setting at its default and a fresh signing key: benchmarks and
    /// experiments.
    pub fn open_with_defaults(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        let no_environment = std::collections::HashMap::<&str, &str>::new();
        let settings =
            Settings::from_source(&no_environment, "http://127.0.0.1:8080".into(), SigningKey::generate())
                .map_err(|err| OpenError::DataDir { path: data_dir.to_owned(), source: std::io::Error::other(err) })?;
        Self::open(data_dir, settings, clock)
    }
}

/// The local server's signing key: made on first start, kept in the data directory
/// (readable by its owner only), so links stay valid across restarts.
pub fn load_or_create_signing_key(data_dir: &Path) -> std::io::Result<SigningKey> {
    let path = data_dir.join("signing.key");
    match std::fs::read(&path) {
        Ok(bytes) => SigningKey::new(bytes).map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)?;
            let key = SigningKey::generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            std::io::Write::write_all(&mut options.open(&path)?, key.as_bytes())?;
            Ok(key)
        }
        Err(err) => Err(err),
    }
}
