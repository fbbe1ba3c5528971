//! What each retention sweep did, kept for operators (counts only, no personal data).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::{Item, Query, StoreError};

/// Reports are kept this long, then swept like everything else.
pub const REPORT_RETENTION_SECONDS: i64 = 400 * 24 * 3600;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct RetentionReport {
    pub id: String,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    /// Expired items erased, by kind.
    pub erased: BTreeMap<String, u64>,
    /// Expired export files deleted.
    pub exports_deleted: usize,
    /// Erasure jobs nobody was running (a crash, a lost message), finished by this run.
    pub erasures_resumed: usize,
    /// Erasure jobs skipped because they keep failing (the DPO was alerted once for each).
    #[serde(default)]
    pub erasures_failing: usize,
    /// Art. 19 erase calls that had failed, queued again by this run.
    #[serde(default)]
    pub erase_calls_requeued: usize,
    /// Erase calls given up on (the DPO was alerted once for each), or not queued again.
    #[serde(default)]
    pub erase_calls_failing: usize,
    /// Steps that ran out of their time budget (the next run continues them).
    #[serde(default)]
    pub steps_out_of_time: Vec<String>,
    /// Inactivity reminders queued (the mail worker checks consent again).
    pub reminders_queued: usize,
    /// E-mails to the DPO about rights requests near or past their deadline.
    pub deadline_alerts: usize,
    /// False when the budget ran out: the next run continues where this one stopped.
    pub complete: bool,
}

impl RetentionReport {
    pub fn item(&self, started_at: i64) -> Result<Item, StoreError> {
        let key = crate::keys::retention_report(started_at, &self.id);
        Ok(Item::new(key, "retention_report").with_data(self)?.expires_at(started_at + REPORT_RETENTION_SECONDS))
    }
}

/// Reports, newest first.
pub fn reports_query() -> Query {
    Query::partition(crate::keys::RETENTION_REPORTS_PARTITION).backward()
}
