//! The embedded default: every e-mail becomes one RFC 5322 `.eml` file in the outbox folder.
//! The folder keeps them a short while (`INFENTRE_OUTBOX_RETENTION_HOURS`, default 72: the
//! retention sweep deletes older ones), and an erasure deletes at once those to the person and
//! those naming them.

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
    retention_seconds: i64,
}

/// How file names begin: the time the e-mail was written (UTC), then its id.
const NAME_TIME: &str = "%Y%m%dT%H%M%S";

impl OutboxMailer {
    pub fn new(dir: PathBuf, from: &super::Mailbox, clock: Arc<dyn Clock>) -> Result<Self, MailError> {
        std::fs::create_dir_all(&dir).map_err(|err| MailError::Backend(Box::new(err)))?;
        Ok(Self { dir, from: from.to_lettre()?, clock, retention_seconds: 72 * 3600 })
    }

    /// Keeps sent e-mails this many hours.
    pub fn keeping_hours(mut self, hours: i64) -> Self {
        self.retention_seconds = hours * 3600;
        self
    }

    /// The `.eml` files of the folder (not those being written).
    async fn files(&self) -> Result<Vec<(String, PathBuf)>, MailError> {
        let backend = |err: std::io::Error| MailError::Backend(Box::new(err));
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(backend)?;
        let mut files = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(backend)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".eml") && !name.starts_with('.') {
                files.push((name, entry.path()));
            }
        }
        Ok(files)
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
        let name = format!("{}-{id}.eml", now.format(NAME_TIME));
        let partial = self.dir.join(format!(".{name}.partial"));
        tokio::fs::write(&partial, message.formatted()).await.map_err(|err| MailError::Backend(Box::new(err)))?;
        tokio::fs::rename(&partial, self.dir.join(name)).await.map_err(|err| MailError::Backend(Box::new(err)))?;
        Ok(())
    }
}

/// Whether a message to someone else is about the holder of this address ([`super::ABOUT_HEADER`]).
fn about(message: &str, canonical_email: &str) -> bool {
    let hash = crate::hash::sha256_hex(canonical_email.as_bytes());
    let header = format!("{}: {hash}", super::ABOUT_HEADER);
    message.lines().take_while(|line| !line.is_empty()).any(|line| line.eq_ignore_ascii_case(&header))
}

/// The canonical addresses of a message's `To:` header (the header block only).
fn recipients(message: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_to = false;
    for line in message.lines() {
        if line.is_empty() {
            break;
        }
        let value = if let Some(rest) = line.strip_prefix("To:") {
            in_to = true;
            rest
        } else if in_to && line.starts_with([' ', '\t']) {
            line
        } else {
            in_to = false;
            continue;
        };
        for part in value.split(',') {
            let address = match (part.rfind('<'), part.rfind('>')) {
                (Some(open), Some(close)) if open < close => &part[open + 1..close],
                _ => part.trim(),
            };
            if let Ok(address) = crate::domain::EmailAddress::parse(address) {
                found.push(address.canonical().to_owned());
            }
        }
    }
    found
}

#[async_trait]
impl super::SentCopies for OutboxMailer {
    async fn forget_subject(&self, user_id: &str, canonical_email: &str) -> Result<usize, MailError> {
        let backend = |err: std::io::Error| MailError::Backend(Box::new(err));
        let mut deleted = 0;
        for (_, path) in self.files().await? {
            let text = match tokio::fs::read(&path).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                // Deleted meanwhile (the sweep): nothing to do.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(backend(err)),
            };
            // The notices of the erasure itself (removed, erasure done) are the last mail to the
            // person and keep their copy for the retention like any other (`ERASURE_NOTICE`).
            let erasure_notice = text.contains(&format!("X-Infentre-Category: {}\r\n", super::ERASURE_NOTICE));
            if erasure_notice {
                continue;
            }
            if text.contains(user_id)
                || about(&text, canonical_email)
                || recipients(&text).iter().any(|to| to == canonical_email)
            {
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => deleted += 1,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(backend(err)),
                }
            }
        }
        Ok(deleted)
    }

    async fn expire(&self) -> Result<usize, MailError> {
        let oldest_kept = self.clock.now() - chrono::Duration::seconds(self.retention_seconds);
        let mut deleted = 0;
        for (name, path) in self.files().await? {
            let written = name.get(..15).and_then(|t| chrono::NaiveDateTime::parse_from_str(t, NAME_TIME).ok());
            // A file not named by us is left alone.
            let Some(written) = written else { continue };
            if written.and_utc() < oldest_kept {
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => deleted += 1,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(MailError::Backend(Box::new(err))),
                }
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::recipients;

    #[test]
    fn the_to_header_gives_canonical_addresses() {
        let message = "From: Infentre <no-reply@infentre.com>\r\nTo: \"Grace\" <Grace@Example.com>,\r\n ada@example.com\r\nSubject: To: bob@example.com\r\n\r\nTo: eve@example.com\r\n";
        assert_eq!(recipients(message), ["grace@example.com", "ada@example.com"]);
    }
}
