//! The embedded default: each request body that would be sent becomes one JSON file in
//! `<outbox>/<destination>/`, so an operator can see exactly what would leave.

use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::Value;

use super::erasure::Erased;
use super::{Destination, DestinationId, SyncError};

#[derive(Debug, Clone)]
pub struct OutboxDestination {
    id: DestinationId,
    dir: PathBuf,
}

impl OutboxDestination {
    pub fn new(root: &std::path::Path, id: DestinationId) -> std::io::Result<Self> {
        let dir = root.join(id.as_str());
        std::fs::create_dir_all(&dir)?;
        Ok(Self { id, dir })
    }

    /// Both destinations, under `root`.
    pub fn all(root: &std::path::Path) -> std::io::Result<Vec<Self>> {
        [DestinationId::GoogleAnalytics, DestinationId::Facebook].into_iter().map(|id| Self::new(root, id)).collect()
    }

    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }
}

#[async_trait]
impl Destination for OutboxDestination {
    fn id(&self) -> DestinationId {
        self.id
    }

    async fn send(&self, body: &Value) -> Result<(), SyncError> {
        let unavailable =
            |err: std::io::Error| SyncError::Unavailable { destination: self.id.as_str(), reason: err.to_string() };
        let text = serde_json::to_vec_pretty(body).map_err(|err| unavailable(err.into()))?;
        // Written whole under a temporary name, then renamed: a reader never sees half a file.
        let name = ulid::Ulid::new().to_string();
        let partial = self.dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&partial, text).await.map_err(unavailable)?;
        tokio::fs::rename(&partial, self.dir.join(format!("{name}.json"))).await.map_err(unavailable)
    }

    /// Nothing in the outbox ever left us: no recipient to tell. Our own copies of what would
    /// have left go, though: the person's requests are deleted, and their events are taken out
    /// of requests shared with others (Facebook batches several users' events in one).
    async fn erase(&self, user: &str) -> Result<Erased, SyncError> {
        let unavailable =
            |err: std::io::Error| SyncError::Unavailable { destination: self.id.as_str(), reason: err.to_string() };
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(unavailable)?;
        while let Some(entry) = entries.next_entry().await.map_err(unavailable)? {
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let Ok(text) = tokio::fs::read(&path).await else { continue };
            let Ok(mut body) = serde_json::from_slice::<Value>(&text) else { continue };
            match without_user(&mut body, user) {
                Remaining::Untouched => {}
                Remaining::Nothing => tokio::fs::remove_file(&path).await.map_err(unavailable)?,
                Remaining::Others => {
                    let text = serde_json::to_vec_pretty(&body).map_err(|err| unavailable(err.into()))?;
                    let partial = self.dir.join(format!(".{}.tmp", ulid::Ulid::new()));
                    tokio::fs::write(&partial, text).await.map_err(unavailable)?;
                    tokio::fs::rename(&partial, &path).await.map_err(unavailable)?;
                }
            }
        }
        Ok(Erased::NothingSent)
    }
}

enum Remaining {
    Untouched,
    Nothing,
    Others,
}

/// Takes the user's events out of a request body: a GA4 request is one user's (`client_id`),
/// a Conversions API request lists events of several (`data[].user_data.external_id`).
fn without_user(body: &mut Value, user: &str) -> Remaining {
    if body.get("client_id").and_then(Value::as_str) == Some(user) {
        return Remaining::Nothing;
    }
    let Some(data) = body.get_mut("data").and_then(Value::as_array_mut) else { return Remaining::Untouched };
    let before = data.len();
    data.retain(|event| {
        let ids = event.pointer("/user_data/external_id").and_then(Value::as_array);
        !ids.is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(user)))
    });
    if data.len() == before {
        Remaining::Untouched
    } else if data.is_empty() {
        Remaining::Nothing
    } else {
        Remaining::Others
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::marketing::{EventSource, HashedUser, Outgoing, SharedEvent, facebook_requests, ga4_requests};

    fn message(user_id: &str, n: usize) -> SharedEvent {
        SharedEvent {
            event_id: format!("01J000000000000000000000E{n}"),
            user_id: user_id.into(),
            name: "page_view".into(),
            occurred_at: 1_790_000_000,
            params: json!({"path": "/a"}).as_object().cloned().unwrap_or_default(),
            recipient: None,
            source: EventSource::Website,
        }
    }

    /// After an erasure the local outbox holds nothing of the person (neither the pseudonym nor
    /// the hashed address) and still holds everything of the others.
    #[tokio::test]
    async fn an_erasure_takes_the_persons_requests_out_of_the_outbox() {
        let root = tempfile::tempdir().unwrap();
        let ada = HashedUser::new("01J00000000000000000000ADA", "ada@example.com");
        let bob = HashedUser::new("01J00000000000000000000BOB", "bob@example.com");
        let messages = [message("01J00000000000000000000ADA", 1), message("01J00000000000000000000BOB", 2)];
        let outgoing = [Outgoing { event: &messages[0], user: &ada }, Outgoing { event: &messages[1], user: &bob }];
        let destinations = OutboxDestination::all(root.path()).unwrap();
        for destination in &destinations {
            let requests = match destination.id() {
                DestinationId::GoogleAnalytics => ga4_requests(&outgoing),
                DestinationId::Facebook => facebook_requests(&outgoing),
            };
            for request in requests {
                destination.send(&request.body).await.unwrap();
            }
        }

        for destination in &destinations {
            assert_eq!(destination.erase(&ada.id).await.unwrap(), Erased::NothingSent);
        }

        let mut left = String::new();
        for destination in &destinations {
            for entry in std::fs::read_dir(destination.dir()).unwrap() {
                left.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
            }
        }
        for trace in [&ada.id, &ada.ga4_email, &ada.facebook_email] {
            assert!(!left.contains(trace.as_str()), "{trace} left in the outbox");
        }
        for kept in [&bob.id, &bob.ga4_email, &bob.facebook_email] {
            assert!(left.contains(kept.as_str()), "{kept} was lost");
        }
    }
}
