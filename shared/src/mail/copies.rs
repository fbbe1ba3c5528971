//! The port for copies of sent mail we keep ourselves. Its own file: the platform holds it,
//! and the rest of `mail` uses the platform.

use async_trait::async_trait;

use super::MailError;

/// Copies of sent e-mail we keep ourselves: the local outbox folder. (In AWS there are none:
/// SendGrid sends, and keeps its own activity log.)
#[async_trait]
pub trait SentCopies: Send + Sync + std::fmt::Debug {
    /// Deletes the copies sent to this address (its canonical form) or naming this user id
    /// (the DPO's notices about the person): how many.
    async fn forget_subject(&self, user_id: &str, canonical_email: &str) -> Result<usize, MailError>;
    /// Deletes the copies older than the retention: how many.
    async fn expire(&self) -> Result<usize, MailError>;
}
