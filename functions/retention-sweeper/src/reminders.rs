//! Inactivity reminders: users whose last activity was `inactivity_days` ago or more, who
//! consented to `inactivity_reminders`, get one e-mail, and not another within that period.
//!
//! Users are found through the activity index (GSI3 on the user item, by day of last
//! activity), one day at a time from a checkpoint: never a scan. The mail worker checks the
//! consent again when it sends.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts::{self, UserRecord};
use shared::consent::{self, PurposeId};
use shared::keys;
use shared::mail;
use shared::store::{Index, Item, Query, query_all};

use crate::RunError;

/// Users reminded per run at most; the checkpoint stays on an unfinished day.
const PER_RUN: usize = 5_000;
/// How far back the first run looks.
const FIRST_LOOKBACK_DAYS: i64 = 7;

const SUBJECT: &str = "We have not seen you on Infentre for a while";
const TEXT: &str = "Hello,\n\nYou have not used Infentre for a while. Your organisation's workspace is waiting for you.\n\nYou get this reminder because you asked for reminders when you have been away; you can stop them at any time.\n";

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    /// Every day of last activity before this one has been handled.
    next_day: NaiveDate,
}

pub async fn send(platform: &Platform, now: i64) -> Result<usize, RunError> {
    let period = platform.settings.inactivity_days;
    let today = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default().date_naive();
    // A day is due once all of it lies `period` days back.
    let last_due = today - Duration::days(period + 1);
    let mut day = match platform.store.get(&keys::reminders_checkpoint()).await? {
        Some(item) => item.data::<Checkpoint>()?.next_day,
        None => last_due - Duration::days(FIRST_LOOKBACK_DAYS),
    };
    let mut queued = 0;
    while day <= last_due {
        let mut users = Vec::new();
        for partition in keys::activity_partitions_of_day(day) {
            users.extend(query_all(platform.store.as_ref(), Query::index(Index::Gsi3, partition).limit(500)).await?);
        }
        let mut handled = 0;
        for user in users {
            if queued >= PER_RUN {
                return Ok(queued);
            }
            let user = match user.data::<UserRecord>() {
                Ok(user) => user,
                Err(err) => {
                    // One bad item must not stop everyone's reminders: skipped, as the old reader did.
                    tracing::warn!(error = %err, "an activity index entry is not a user; skipped");
                    continue;
                }
            };
            if remind(platform, &user, now, period).await? {
                queued += 1;
            }
            handled += 1;
        }
        tracing::debug!(%day, handled, "inactivity day handled");
        day += Duration::days(1);
        let next = Checkpoint { next_day: day };
        platform
            .store
            .put(Item::new(keys::reminders_checkpoint(), "reminder_checkpoint").with_data(&next)?, None)
            .await?;
    }
    Ok(queued)
}

/// Queues one reminder if the user is still inactive, was not reminded within the period,
/// and consents now. The mark is written first: a crash can lose a reminder, never repeat one.
async fn remind(platform: &Platform, user: &UserRecord, now: i64, period: i64) -> Result<bool, RunError> {
    let last_active = user.last_active_at.unwrap_or(now);
    let cutoff = now - period * 24 * 3600;
    if last_active > cutoff {
        return Ok(false);
    }
    if user.reminded_at.is_some_and(|at| at > cutoff) {
        return Ok(false);
    }
    if !consent::is_granted(platform, &user.user_id, PurposeId::InactivityReminders).await? {
        return Ok(false);
    }
    if !accounts::mark_reminded(platform, &user.user_id, now, cutoff).await? {
        return Ok(false);
    }
    mail::enqueue_consented(
        platform.queue.as_ref(),
        std::slice::from_ref(&user.user_id),
        PurposeId::InactivityReminders,
        SUBJECT,
        TEXT,
    )
    .await?;
    Ok(true)
}
