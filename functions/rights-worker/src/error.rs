//! Why a rights request could not be carried out this time. The text becomes the request's
//! `failure_reason` for the operators, so it names kinds and counts, never personal data.

use shared::accounts::AccountError;
use shared::blob::BlobError;
use shared::domain::Invalid;
use shared::erasure::ErasureError;
use shared::queue::QueueError;
use shared::rights::IllegalTransition;
use shared::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("the requester's account no longer exists")]
    RequesterGone,
    #[error("the correction has no e-mail address")]
    NoCorrection,
    /// The corrected address breaks a rule: its detail, as the requester was told before.
    #[error("{}", .0.detail)]
    InvalidCorrection(#[from] Invalid),
    /// An erasure job of the requester runs (theirs, or one the request waits on); it hands
    /// the request back when done.
    #[error("the erasure job is running")]
    ErasureRunning,
    #[error("verification found {items} items and {exports} exports left")]
    NotErased { items: usize, exports: usize },
    #[error("the request kept changing while it was being completed")]
    KeptChanging,
    #[error("the request changed meanwhile")]
    Changed,
    #[error("the export could not be written: {0}")]
    Export(String),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Transition(#[from] IllegalTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Erasure(#[from] ErasureError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}
