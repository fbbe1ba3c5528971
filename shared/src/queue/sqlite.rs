//! A durable queue in the embedded SQLite file, with SQS's behaviour: a received message is
//! hidden for the visibility timeout, each receive counts, and a message received more than
//! `max_receives` times moves to the dead-letter table instead of being delivered again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;

use super::{Queue, QueueError, QueueName, ReceivedMessage, batches, validate_receive};
use crate::clock::Clock;
use crate::sqlite::SqliteDb;

/// How long a dead letter is kept: as the template's dead-letter queues keep theirs
/// (`MessageRetentionPeriod: 1209600`), counted from when the message was first sent. Without
/// it a dead letter (ids, hashed recipients) would outlive every erasure on this engine (L5).
pub const DEAD_LETTER_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: SqliteDb,
    clock: Arc<dyn Clock>,
    max_receives: u32,
}

impl SqliteQueue {
    pub fn new(db: SqliteDb, clock: Arc<dyn Clock>, max_receives: u32) -> Self {
        Self { db, clock, max_receives }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Every message body still queued or dead-lettered: for tests that look for personal data.
    pub async fn all_bodies(&self) -> Result<Vec<String>, QueueError> {
        self.db
            .call(|conn| {
                let mut stmt =
                    conn.prepare("SELECT body FROM queue_messages UNION ALL SELECT body FROM queue_dead_letters")?;
                let bodies = stmt.query_map([], |row| row.get(0))?.collect::<Result<Vec<String>, _>>()?;
                Ok(bodies)
            })
            .await
    }
}

impl From<rusqlite::Error> for QueueError {
    fn from(err: rusqlite::Error) -> Self {
        QueueError::Backend(Box::new(err))
    }
}

impl From<tokio::task::JoinError> for QueueError {
    fn from(err: tokio::task::JoinError) -> Self {
        QueueError::Backend(Box::new(err))
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), QueueError> {
        let batches = batches(bodies)?;
        let now = self.now_ms();
        self.db
            .write(move |tx| {
                // One savepoint for everything: a local send is all or nothing.
                for body in batches.into_iter().flatten() {
                    tx.execute(
                        "INSERT INTO queue_messages (id, queue, body, sent_at_ms, visible_at_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
                        params![ulid::Ulid::new().to_string(), queue.as_str(), body, now],
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(max)?;
        let now = self.now_ms();
        let hidden_until = now.saturating_add(i64::try_from(visibility.as_millis()).unwrap_or(i64::MAX));
        let max_receives = self.max_receives;
        let oldest_kept = now - DEAD_LETTER_RETENTION.as_millis() as i64;
        self.db
            .write(move |tx| {
                // Every receive prunes, so dead letters nobody reads go too (few rows).
                tx.execute("DELETE FROM queue_dead_letters WHERE sent_at_ms < ?1", params![oldest_kept])?;
                let candidates: Vec<(String, String, u32)> = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT id, body, receive_count FROM queue_messages
                         WHERE queue = ?1 AND visible_at_ms <= ?2 ORDER BY visible_at_ms, sent_at_ms LIMIT ?3",
                    )?;
                    stmt.query_map(params![queue.as_str(), now, max as i64], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                        .collect::<Result<_, _>>()?
                };
                let mut received = Vec::with_capacity(candidates.len());
                for (id, body, receive_count) in candidates {
                    if receive_count >= max_receives {
                        // SQS's redrive: the receive after the last allowed one moves it.
                        tx.execute(
                            "INSERT INTO queue_dead_letters (id, queue, body, sent_at_ms, receive_count, dead_at_ms)
                             SELECT id, queue, body, sent_at_ms, receive_count, ?2 FROM queue_messages WHERE id = ?1",
                            params![id, now],
                        )?;
                        tx.execute("DELETE FROM queue_messages WHERE id = ?1", params![id])?;
                        continue;
                    }
                    let receipt = ulid::Ulid::new().to_string();
                    tx.execute(
                        "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at_ms = ?2, receipt = ?3 WHERE id = ?1",
                        params![id, hidden_until, receipt],
                    )?;
                    received.push(ReceivedMessage { message_id: id, receipt, body, receive_count: receive_count + 1 });
                }
                Ok(received)
            })
            .await
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_owned();
        self.db
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2",
                    params![queue.as_str(), receipt],
                )?;
                conn.execute(
                    "DELETE FROM queue_dead_letters WHERE queue = ?1 AND receipt = ?2",
                    params![queue.as_str(), receipt],
                )?;
                Ok(())
            })
            .await
    }

    async fn receive_dead_letters(&self, queue: QueueName, max: usize) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(max)?;
        let oldest_kept = self.now_ms() - DEAD_LETTER_RETENTION.as_millis() as i64;
        self.db
            .write(move |tx| {
                tx.execute("DELETE FROM queue_dead_letters WHERE sent_at_ms < ?1", params![oldest_kept])?;
                let rows: Vec<(String, String, u32)> = {
                    let mut stmt = tx.prepare(
                        "SELECT id, body, receive_count FROM queue_dead_letters WHERE queue = ?1 ORDER BY dead_at_ms LIMIT ?2",
                    )?;
                    stmt.query_map(params![queue.as_str(), max as i64], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                        .collect::<Result<_, _>>()?
                };
                let mut received = Vec::with_capacity(rows.len());
                for (id, body, receive_count) in rows {
                    let receipt = ulid::Ulid::new().to_string();
                    tx.execute("UPDATE queue_dead_letters SET receipt = ?2 WHERE id = ?1", params![id, receipt])?;
                    received.push(ReceivedMessage { message_id: id, receipt, body, receive_count });
                }
                Ok(received)
            })
            .await
    }
}
