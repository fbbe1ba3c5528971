//! What a function is given: the ports it may use and the settings, built once at start.

use std::sync::Arc;

use crate::blob::BlobStore;
use crate::clock::Clock;
use crate::config::Settings;
use crate::queue::Queue;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Platform {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// The local outbox folder's copies of sent mail (none in AWS): erasure deletes the
    /// person's, the retention sweep the old ones.
    pub sent_mail: Option<Arc<dyn crate::mail::copies::SentCopies>>,
}
