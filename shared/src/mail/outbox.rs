//! The embedded default: every e-mail becomes one RFC 5322 `.eml` file in the outbox folder.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use lettre::message::Mailbox;

use super::{Email, MailError, Mailer};
use crate::clock::Clock;

#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: Mailbox,
    clock: Arc<dyn Clock>,
}

impl OutboxMailer {
    pub fn new(dir: PathBuf, from: &super::Mailbox, clock: Arc<dyn Clock>) -> Result<Self, MailError> {
        std::fs::create_dir_all(&dir).map_err(|err| MailError::Backend(Box::new(err)))?;
        Ok(Self { dir, from: from.to_lettre()?, clock })
    }

    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let id = ulid::Ulid::new();
        let now = self.clock.now();
        let message = super::mime::message(&self.from, email, now, &id.to_string(), "infentre.local")?;
        let name = format!("{}-{id}.eml", now.format("%Y%m%dT%H%M%S"));
        let partial = self.dir.join(format!(".{name}.partial"));
        tokio::fs::write(&partial, message.formatted()).await.map_err(|err| MailError::Backend(Box::new(err)))?;
        tokio::fs::rename(&partial, self.dir.join(name)).await.map_err(|err| MailError::Backend(Box::new(err)))?;
        Ok(())
    }
}
