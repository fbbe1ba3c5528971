//! One SQLite database shared by the embedded store and queue.
//!
//! rusqlite is synchronous: every call runs on tokio's blocking pool, one at a time on one
//! connection. Writes are serialised anyway by SQLite; WAL keeps the file consistent if the
//! process dies mid-write.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS items (
    pk          TEXT NOT NULL,
    sk          TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    gsi1pk      TEXT,
    gsi1sk      TEXT,
    gsi2pk      TEXT,
    gsi2sk      TEXT,
    gsi3pk      TEXT,
    gsi3sk      TEXT,
    expires_at  INTEGER,
    attrs       TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi3 ON items (gsi3pk, gsi3sk, pk, sk) WHERE gsi3pk IS NOT NULL;

CREATE TABLE IF NOT EXISTS queue_messages (
    id            TEXT PRIMARY KEY,
    queue         TEXT NOT NULL,
    body          TEXT NOT NULL,
    sent_at_ms    INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, visible_at_ms, sent_at_ms);
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt) WHERE receipt IS NOT NULL;

CREATE TABLE IF NOT EXISTS queue_dead_letters (
    id            TEXT PRIMARY KEY,
    queue         TEXT NOT NULL,
    body          TEXT NOT NULL,
    sent_at_ms    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    dead_at_ms    INTEGER NOT NULL,
    receipt       TEXT
);
CREATE INDEX IF NOT EXISTS queue_dead_letters_queue ON queue_dead_letters (queue, dead_at_ms);
"#;

#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteDb")
    }
}

impl SqliteDb {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        Self::init(Connection::open(path)?)
    }

    /// A private in-memory database, for tests and benchmarks.
    pub fn in_memory() -> Result<Self, rusqlite::Error> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, rusqlite::Error> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a write the API acknowledged (a consent, an erasure) survives a power cut.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `work` with the connection on the blocking pool.
    pub async fn call<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + From<tokio::task::JoinError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a transaction open (rusqlite rolls
            // back on drop), so a poisoned lock is safe to reuse.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await?
    }
}
