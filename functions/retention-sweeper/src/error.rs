//! What a run of the sweeper can fail with (shared by the run and its steps).

use shared::erasure;
use shared::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("another sweep holds the lease")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Erasure(#[from] erasure::ErasureError),
    #[error(transparent)]
    Mail(#[from] shared::queue::QueueError),
    #[error("the report could not be encoded: {0}")]
    Report(String),
}
