//! The rights worker: consumes the rights queue.
//!
//! No producer writes to this queue yet. Until one does, any message found on it is reported
//! as failed (never acknowledged), so it ends in the dead-letter queue for an operator to see
//! instead of vanishing.

use shared::queue::batch::{self, BatchError, Record, RecordError, SqsBatchResponse, SqsEvent};

pub async fn handle(event: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
    batch::process(event, 1, |record: Record| async move {
        Err::<(), _>(RecordError::Failed(format!("no handler for message {} on the rights queue", record.message_id)))
    })
    .await
}
