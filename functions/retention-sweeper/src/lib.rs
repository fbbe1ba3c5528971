//! The retention sweeper: erases what has expired and TTL has not removed yet.
//!
//! DynamoDB's TTL deletes expired items "typically within two days", and the embedded engine
//! has no TTL at all, so this is what actually keeps the retention promises. It walks the
//! expiry index day by day from its checkpoint, never scanning the table: its cost grows with
//! what has expired, not with the table. Each delete is conditional on the item still being
//! expired, so an item renewed meanwhile survives, and running twice at once is harmless.
//!
//! [`run`] is one scheduled run: under a lease (one run at a time), it sweeps, deletes expired
//! export files, alerts the DPO about rights requests near or past their deadline, queues
//! inactivity reminders, queues again the failed Art. 19 erase calls that are due, then
//! finishes erasure jobs nobody is running, and keeps a report.
//! Every step has its own time budget.

mod alerts;
pub mod erase_calls;
pub mod erasures;
mod error;
mod reminders;
mod run;
mod sweep;

pub use error::RunError;
pub use run::run;
pub use sweep::{SweepReport, sweep, sweep_with_exports};

use shared::Platform;

/// Items erased per run at most (Lambda and the local server alike); the next run continues
/// from the checkpoint.
pub const BUDGET: u64 = 50_000;

/// What the schedule triggers: one run, or nothing when another run holds the lease (which
/// is no error). The answer is the run's report, as JSON.
pub async fn on_schedule(platform: &Platform) -> Result<serde_json::Value, RunError> {
    match run(platform, BUDGET).await {
        Ok(report) => Ok(serde_json::to_value(report).map_err(|err| RunError::Report(err.to_string()))?),
        Err(RunError::Busy) => Ok(serde_json::json!({ "skipped": "another sweep holds the lease" })),
        Err(err) => Err(err),
    }
}
