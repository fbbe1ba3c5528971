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

    /// Nothing in the outbox ever left us: no recipient to tell.
    async fn erase(&self, _user: &str) -> Result<Erased, SyncError> {
        Ok(Erased::NothingSent)
    }
}
