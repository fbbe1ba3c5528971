//! One SQLite database shared by the embedded store and queue.
//!
//! rusqlite is synchronous: every call runs on tokio's blocking pool. Writes go through one
//! connection (SQLite serialises them anyway); reads of a database file go through a small pool
//! of their own connections ([`SqliteDb::call`]), so a read waits neither for a running write
//! transaction nor its fsync, nor for the other reads. In WAL mode a read sees every transaction
//! committed before it began and nothing of one still open; since a write is acknowledged only
//! after its commit, a request reads its own acknowledged writes. WAL also keeps the file
//! consistent if the process dies mid-write.
//!
//! Writes commit in groups ([`SqliteDb::write`]): with `synchronous=FULL` each commit waits for
//! an fsync, which capped concurrent writers at one fsync each. Writes that queue while a
//! commit is running go into the next transaction together, each in its own savepoint (a
//! failed one is rolled back alone), and every caller is answered after that commit's fsync.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

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
    /// Read connections for [`SqliteDb::call`]; none for an in-memory database, whose reads use
    /// the writer's connection (another connection would open another, empty database).
    readers: Option<Arc<Readers>>,
    /// Writes waiting for the next group commit.
    pending: Arc<Mutex<Vec<Box<dyn Job>>>>,
    /// At most this many writes share one commit.
    max_group: usize,
}

/// Idle read connections; a read takes one (waiting while all are busy) and puts it back.
struct Readers {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
}

/// At most this many read connections: reads are CPU work once the pages are cached, so more
/// connections than cores would only add page caches.
const MAX_READERS: usize = 8;

/// Prepared statements kept per connection (rusqlite keeps 16): the store's queries vary by
/// index, key condition and direction, and the queue's add a few more.
const STATEMENT_CACHE: usize = 64;

/// Settings every connection gets. The query planner stability guarantee (QPSG): without it
/// SQLite plans around the values bound to some parameters (a query's `LIMIT ?` among them)
/// and so throws a cached statement's plan away and parses it again whenever such a value is
/// bound, on every store query; our queries are key lookups and ranges on fixed indexes, whose
/// plans no value changes.
fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// The group size: bounded, so one commit's latency stays bounded.
const MAX_GROUP: usize = 256;
/// `INFENTRE_SQLITE_GROUP_COMMIT=off` commits every write alone, as before group commit: for
/// the peer benchmark's before/after (`benches/peer/run`), not for production.
const GROUP_COMMIT_SETTING: &str = "INFENTRE_SQLITE_GROUP_COMMIT";

/// A write waiting for its group: `run` inside the group's transaction (in its savepoint),
/// then `finish` with the commit's outcome.
trait Job: Send {
    /// Runs the work; false if it failed (its savepoint is then rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    fn finish(self: Box<Self>, commit: Result<(), &rusqlite::Error>);
}

struct Pending<T, E, F> {
    work: Option<F>,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Job for Pending<T, E, F>
where
    T: Send,
    E: From<rusqlite::Error> + Send,
    F: FnOnce(&Connection) -> Result<T, E> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else { return false };
        // A panicking write is rolled back and answered as failed; the others go on.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(E::from(failure("the write panicked"))));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), &rusqlite::Error>) {
        let result = match (self.result, commit) {
            (Some(Err(err)), _) => Err(err),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)), Err(err)) => Err(E::from(same_error(err))),
            (None, Ok(())) => Err(E::from(failure("the write did not run"))),
            (None, Err(err)) => Err(E::from(same_error(err))),
        };
        // The caller may have gone (its request was cancelled): the write stands anyway.
        let _ = self.reply.send(result);
    }
}

fn failure(message: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT), Some(message.to_owned()))
}

/// The group's commit error, for each of its writers (rusqlite's error is not Clone).
fn same_error(err: &rusqlite::Error) -> rusqlite::Error {
    match err {
        rusqlite::Error::SqliteFailure(code, message) => rusqlite::Error::SqliteFailure(*code, message.clone()),
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            Some(format!("the group commit failed: {other}")),
        ),
    }
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteDb")
    }
}

impl SqliteDb {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        // The writer first: it creates the file and switches it to WAL (a setting kept in the
        // file), so the readers opened after it read beside writes from their first query.
        let mut db = Self::init(Connection::open(path)?)?;
        let count = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, MAX_READERS);
        let idle = (0..count).map(|_| open_reader(path)).collect::<Result<Vec<_>, _>>()?;
        db.readers = Some(Arc::new(Readers { idle: Mutex::new(idle), returned: Condvar::new() }));
        Ok(db)
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
        configure(&conn)?;
        conn.execute_batch(SCHEMA)?;
        let alone = std::env::var(GROUP_COMMIT_SETTING).is_ok_and(|value| value == "off");
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: None,
            pending: Arc::default(),
            max_group: if alone { 1 } else { MAX_GROUP },
        })
    }

    /// Runs `work` in a write transaction and answers once it is committed (durable). `work`
    /// gets the connection inside its own savepoint: returning an error rolls back only its
    /// changes. Writes queued meanwhile share the commit (see the module's documentation).
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Box::new(Pending {
            work: Some(work),
            result: None,
            reply,
        }));
        let db = self.clone();
        // Whichever committer gets the connection first takes every pending write, this one
        // included; the others find nothing left and return. The answer comes with the
        // commit that carried this write, not when this committer is done.
        drop(tokio::task::spawn_blocking(move || db.commit_pending()));
        answer.await.unwrap_or_else(|_| Err(E::from(failure("the write was dropped before its commit"))))
    }

    fn commit_pending(&self) {
        loop {
            // Taken again for each group, so reads (`call`) get their turn between groups.
            let conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let group: Vec<Box<dyn Job>> = {
                let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let take = pending.len().min(self.max_group);
                pending.drain(..take).collect()
            };
            if group.is_empty() {
                return;
            }
            Self::commit_group(&conn, group);
        }
    }

    fn commit_group(conn: &Connection, mut group: Vec<Box<dyn Job>>) {
        if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
            for job in group {
                job.finish(Err(&err));
            }
            return;
        }
        // A failing statement of our own (not of a write) leaves the transaction in doubt:
        // then the whole group is rolled back and every writer told.
        let mut broken = None;
        for job in &mut group {
            if let Err(err) = conn.execute_batch("SAVEPOINT job") {
                broken = Some(err);
                break;
            }
            let undo = if job.run(conn) { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
            if let Err(err) = conn.execute_batch(undo) {
                broken = Some(err);
                break;
            }
        }
        let commit = match broken {
            Some(err) => Err(err),
            None => conn.execute_batch("COMMIT"),
        };
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for job in group {
            job.finish(commit.as_ref().map(|_| ()));
        }
    }

    /// Runs the read `work` on the blocking pool, on a read connection (read-only: writes go
    /// through [`SqliteDb::write`]), or on the writer's for an in-memory database.
    pub async fn call<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + From<tokio::task::JoinError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || match &db.readers {
            Some(readers) => readers.read(work),
            None => {
                // A panic while holding the lock cannot leave a transaction open (rusqlite rolls
                // back on drop), so a poisoned lock is safe to reuse.
                let mut guard = db.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                work(&mut guard)
            }
        })
        .await?
    }
}

impl Readers {
    /// Runs `work` on an idle connection, waiting for one while all are busy.
    fn read<T>(&self, work: impl FnOnce(&mut Connection) -> T) -> T {
        let mut conn = {
            let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            loop {
                match idle.pop() {
                    Some(conn) => break conn,
                    None => idle = self.returned.wait(idle).unwrap_or_else(|poisoned| poisoned.into_inner()),
                }
            }
        };
        // The connection goes back even if the read panics; the panic then goes on.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| work(&mut conn)));
        if !conn.is_autocommit() {
            // A read that left a transaction open must not hand its old snapshot to the next.
            let _ = conn.execute_batch("ROLLBACK");
        }
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(conn);
        self.returned.notify_one();
        outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// A read connection: opened read-write and made read-only by `query_only`, because a
/// connection opened read-only cannot always use WAL's shared-memory index (SQLite's "WAL
/// mode" notes on read-only databases).
fn open_reader(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.pragma_update(None, "query_only", true)?;
    // Readers wait (busy timeout) only in rare moments: WAL recovery after a crash, a
    // restarting WAL index.
    configure(&conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    enum TestError {
        Sqlite(String),
        Join,
        Refused,
    }

    impl From<rusqlite::Error> for TestError {
        fn from(err: rusqlite::Error) -> Self {
            TestError::Sqlite(err.to_string())
        }
    }

    impl From<tokio::task::JoinError> for TestError {
        fn from(_: tokio::task::JoinError) -> Self {
            TestError::Join
        }
    }

    async fn rows(db: &SqliteDb) -> Vec<String> {
        db.call(|conn| {
            let mut stmt = conn.prepare("SELECT pk FROM items ORDER BY pk")?;
            let rows = stmt.query_map([], |row| row.get(0))?.collect::<Result<Vec<String>, _>>()?;
            Ok::<_, TestError>(rows)
        })
        .await
        .unwrap()
    }

    fn insert(conn: &Connection, pk: &str) -> rusqlite::Result<usize> {
        conn.execute("INSERT INTO items (pk, sk, entity_type, attrs) VALUES (?1, 'x', 't', '{}')", [pk])
    }

    /// Concurrent writes share commits; each is answered with its own outcome, and one that
    /// fails (after writing) or panics leaves nothing behind while the others stand.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_group_commits_each_write_or_rolls_it_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("db.sqlite")).unwrap();
        let writes = (0..60).map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |conn| {
                    insert(conn, &format!("k{i:02}"))?;
                    match i % 10 {
                        3 => Err(TestError::Refused),
                        7 => panic!("a write that panics"),
                        _ => Ok(i),
                    }
                })
                .await
            })
        });
        let answers = futures::future::join_all(writes).await;
        let mut expected = Vec::new();
        for (i, answer) in answers.into_iter().enumerate() {
            match (i % 10, answer.unwrap()) {
                (3, Err(TestError::Refused)) => {}
                (7, Err(TestError::Sqlite(message))) => assert!(message.contains("panicked"), "{message}"),
                (_, Ok(value)) if value == i => expected.push(format!("k{i:02}")),
                (_, other) => panic!("write {i}: {other:?}"),
            }
        }
        assert_eq!(expected.len(), 48);
        assert_eq!(rows(&db).await, expected);
    }

    /// A write that breaks a constraint is refused alone; an acknowledged write is on disk
    /// for the next connection.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_writes_are_durable_and_a_refused_one_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let db = SqliteDb::open(&path).unwrap();
        db.write(|conn| insert(conn, "a").map_err(TestError::from)).await.unwrap();
        let duplicate = db
            .write(|conn| -> Result<usize, TestError> {
                insert(conn, "b")?;
                Ok(insert(conn, "a")?)
            })
            .await;
        assert!(matches!(duplicate, Err(TestError::Sqlite(_))), "{duplicate:?}");
        drop(db);
        let reopened = SqliteDb::open(&path).unwrap();
        assert_eq!(rows(&reopened).await, vec!["a".to_owned()]);
    }

    /// A cached statement runs again with other values without being parsed again (QPSG; see
    /// `configure`): without it, binding the `LIMIT` re-prepared the statement every time.
    #[test]
    fn a_cached_query_is_not_parsed_again_for_new_values() {
        use rusqlite::StatementStatus;
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("db.sqlite")).unwrap();
        let conn = db.conn.lock().unwrap();
        let sql = "SELECT pk FROM items WHERE pk >= ? ORDER BY pk LIMIT ?";
        for limit in 1..=3_i64 {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            let _: Vec<String> = stmt
                .query_map(rusqlite::params!["A", limit], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0, "run with LIMIT {limit}");
        }
        drop(conn);
        let reader = db.readers.as_ref().expect("a file has read connections");
        reader.read(|conn| assert!(conn.db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG).unwrap()));
    }

    /// A read is served while a write transaction is open (the writer's connection held
    /// mid-transaction), sees only committed rows, and sees the write once it is acknowledged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_read_goes_beside_an_open_write_and_sees_only_committed_rows() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("db.sqlite")).unwrap();
        db.write(|conn| insert(conn, "a").map_err(TestError::from)).await.unwrap();
        assert_eq!(rows(&db).await, ["a"], "an acknowledged write is read");

        let (entered, in_write) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let writer = {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |conn| {
                    insert(conn, "b")?;
                    entered.send(()).map_err(|_| TestError::Refused)?;
                    released.recv().map_err(|_| TestError::Refused)?;
                    Ok::<_, TestError>(())
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || in_write.recv().unwrap()).await.unwrap();
        // Several reads at once, while the write's transaction holds "b" uncommitted.
        let during = futures::future::join_all((0..4).map(|_| rows(&db)));
        let during = tokio::time::timeout(std::time::Duration::from_secs(2), during).await;
        for read in during.expect("reads do not wait for the open write") {
            assert_eq!(read, ["a"], "an uncommitted row is not read");
        }
        release.send(()).unwrap();
        writer.await.unwrap().unwrap();
        assert_eq!(rows(&db).await, ["a", "b"], "the write is read once acknowledged");

        let refused = db.call(|conn| insert(conn, "c").map_err(TestError::from)).await;
        assert!(matches!(refused, Err(TestError::Sqlite(_))), "read connections are read-only: {refused:?}");
        assert_eq!(rows(&db).await, ["a", "b"]);
    }

    /// A read that panics gives its connection back: the pool is not drained by failures.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_read_returns_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("db.sqlite")).unwrap();
        db.write(|conn| insert(conn, "a").map_err(TestError::from)).await.unwrap();
        for _ in 0..(2 * MAX_READERS) {
            let panicked = db
                .call(|conn| -> Result<(), TestError> {
                    conn.execute_batch("BEGIN")?;
                    conn.query_row("SELECT count(*) FROM items", [], |row| row.get::<_, i64>(0))?;
                    panic!("a read that panics inside a transaction")
                })
                .await;
            assert!(matches!(panicked, Err(TestError::Join)), "{panicked:?}");
        }
        db.write(|conn| insert(conn, "b").map_err(TestError::from)).await.unwrap();
        let read = tokio::time::timeout(std::time::Duration::from_secs(2), rows(&db)).await;
        assert_eq!(read.expect("a connection is free"), ["a", "b"], "no reader kept an old snapshot");
    }
}
