//! One step of a broadcast job, run by the mail worker: a page of recipients from the
//! checkpoint, each mailed at most once, then the new checkpoint and the continuation.

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{
    Audience, Checkpoint, Counts, IN_FLIGHT, Job, Kind, ORGANISATIONS_PER_STEP, PAGE, QUEUE, RECORD_SECONDS, Status,
    load,
};
use crate::Platform;
use crate::accounts::{self, records::UserRecord};
use crate::consent::{self, PurposeId};
use crate::erasure::fence;
use crate::keys;
use crate::mail::texts::text;
use crate::mail::{Email, MailError, Mailer};
use crate::queue::QueueError;
use crate::store::{Condition, Index, Item, Query, StoreError};

/// The mail-queue message that moves a job one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMessage {
    pub broadcast_job: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The provider failed for a while: the step is retried (sent recipients are not mailed
    /// again).
    #[error("the mail provider failed: {0}")]
    Mail(#[from] MailError),
}

pub(super) async fn queue_step(platform: &Platform, job_id: &str) -> Result<(), QueueError> {
    let body = serde_json::to_string(&StepMessage { broadcast_job: job_id.to_owned() })
        .map_err(|err| QueueError::Invalid(err.to_string()))?;
    platform.queue.send(QUEUE, body).await
}

/// Whom a page names: accounts read with it (members) or only ids (the consent index).
enum Recipient {
    User(Box<UserRecord>),
    Id(String),
}

/// What became of one recipient.
enum Delivery {
    Sent,
    Skipped,
    Failed,
    /// Mailed by an earlier run of this step.
    AlreadySent,
}

/// Runs one step of the job: mails one page of recipients, saves the checkpoint, queues the
/// next step. A message for an unknown or completed job changes nothing.
pub async fn step(platform: &Platform, mailer: &dyn Mailer, message: &StepMessage) -> Result<(), StepError> {
    let Some(mut job) = load(platform, &message.broadcast_job).await? else {
        tracing::info!("broadcast step for an unknown or expired job; nothing to do");
        return Ok(());
    };
    if job.status == Status::Completed {
        return Ok(());
    }
    let (recipients, next) = read_page(platform, &job).await?;
    let outcomes: Vec<Result<Delivery, StepError>> = futures::stream::iter(recipients)
        .map(|recipient| deliver(platform, mailer, &job, recipient))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut counts = Counts::default();
    let mut error = None;
    for outcome in outcomes {
        match outcome {
            Ok(Delivery::Sent) => counts.sent += 1,
            Ok(Delivery::Skipped) => counts.skipped += 1,
            Ok(Delivery::Failed) => counts.failed += 1,
            Ok(Delivery::AlreadySent) => {}
            Err(err) => error = error.or(Some(err)),
        }
    }
    let loaded = job.version;
    job.counts.sent += counts.sent;
    job.counts.skipped += counts.skipped;
    job.counts.failed += counts.failed;
    job.version += 1;
    job.updated_at = platform.clock.epoch_seconds();
    if let Some(err) = error {
        // Keep what was sent counted; the checkpoint stays, so the redelivered step redoes
        // this page (its markers skip the ones already mailed).
        job.status = Status::Running;
        save(platform, &job, loaded).await?;
        return Err(err);
    }
    let done = finished(&job.audience, &next);
    job.checkpoint = next;
    job.status = if done { Status::Completed } else { Status::Running };
    job.completed_at = done.then_some(job.updated_at);
    if !save(platform, &job, loaded).await? {
        // Another runner moved the job meanwhile (a duplicate message): it goes on from there.
        return Ok(());
    }
    if done {
        tracing::info!(job_id = %job.job_id, sent = job.counts.sent, skipped = job.counts.skipped,
            failed = job.counts.failed, "broadcast completed");
    } else {
        queue_step(platform, &job.job_id).await?;
    }
    Ok(())
}

/// Saves the job if nobody changed it since `loaded`; `false` if somebody did.
async fn save(platform: &Platform, job: &Job, loaded: u64) -> Result<bool, StoreError> {
    match platform.store.put(job.item()?, Some(Condition::equals("version", loaded))).await {
        Ok(()) => Ok(true),
        Err(err) if err.is_condition_failed() => Ok(false),
        Err(err) => Err(err),
    }
}

/// Nothing left to read after `checkpoint`.
fn finished(audience: &Audience, checkpoint: &Checkpoint) -> bool {
    checkpoint.organisations.is_empty()
        && match audience {
            Audience::Organisations { .. } => true,
            Audience::Everyone => checkpoint.shard >= keys::ORGANISATION_SHARDS,
            Audience::Consented => checkpoint.shard >= keys::CONSENTED_SHARDS,
        }
}

/// The next page of recipients and the checkpoint after it.
async fn read_page(platform: &Platform, job: &Job) -> Result<(Vec<Recipient>, Checkpoint), StoreError> {
    let mut next = job.checkpoint.clone();
    if let Some(organisation_id) = next.organisations.first().cloned() {
        let query = Query::index(Index::Gsi1, keys::organisation_members(&organisation_id))
            .limit(PAGE)
            .cursor(next.member_cursor.take());
        let page = platform.store.query(query).await?;
        let users = page.items.iter().map(|item| item.data::<UserRecord>()).collect::<Result<Vec<_>, _>>()?;
        match page.cursor {
            Some(cursor) => next.member_cursor = Some(cursor),
            None => {
                next.organisations.remove(0);
            }
        }
        return Ok((users.into_iter().map(|u| Recipient::User(Box::new(u))).collect(), next));
    }
    let (listing, limit) = match &job.audience {
        Audience::Organisations { .. } => return Ok((Vec::new(), next)),
        Audience::Everyone if next.shard < keys::ORGANISATION_SHARDS => {
            (keys::organisations_listing(next.shard), ORGANISATIONS_PER_STEP)
        }
        Audience::Consented if next.shard < keys::CONSENTED_SHARDS => {
            (keys::consented(PurposeId::ProductUpdates.as_str(), next.shard), PAGE)
        }
        Audience::Everyone | Audience::Consented => return Ok((Vec::new(), next)),
    };
    let page = platform.store.query(Query::index(Index::Gsi3, listing).limit(limit).cursor(next.cursor.take())).await?;
    let ids: Vec<String> = page.items.iter().filter_map(|item| item.index(Index::Gsi3)).map(|k| k.sk.clone()).collect();
    match page.cursor {
        Some(cursor) => next.cursor = Some(cursor),
        None => next.shard += 1,
    }
    match job.audience {
        Audience::Everyone => {
            next.organisations = ids.iter().filter_map(|sk| sk.strip_prefix("ORG#")).map(str::to_owned).collect();
            Ok((Vec::new(), next))
        }
        _ => Ok((ids.into_iter().map(Recipient::Id).collect(), next)),
    }
}

async fn deliver(
    platform: &Platform,
    mailer: &dyn Mailer,
    job: &Job,
    recipient: Recipient,
) -> Result<Delivery, StepError> {
    let user = match recipient {
        Recipient::User(user) => *user,
        Recipient::Id(user_id) => match accounts::find_user(platform, &user_id).await? {
            Some(user) => user,
            None => return Ok(Delivery::Skipped),
        },
    };
    if !user.email_verified {
        return Ok(Delivery::Skipped);
    }
    // Checked when sending, so a withdrawal after the job started still counts.
    if job.kind == Kind::ProductUpdate
        && !consent::is_granted(platform, &user.user_id, PurposeId::ProductUpdates).await?
    {
        return Ok(Delivery::Skipped);
    }
    // Someone whose erasure has started is not written to again.
    if fence::any(platform, &[&user.user_id, &user.organisation_id]).await?.is_some() {
        return Ok(Delivery::Skipped);
    }
    let marker_key = keys::broadcast_sent(&job.job_id, &user.user_id);
    let marker = Item::new(marker_key.clone(), "broadcast_sent").expires_at(job.created_at + RECORD_SECONDS);
    match platform.store.put(marker, Some(Condition::NotExists)).await {
        Ok(()) => {}
        Err(err) if err.is_condition_failed() => return Ok(Delivery::AlreadySent),
        Err(err) => return Err(err.into()),
    }
    let email = compose(platform, job, &user);
    match mailer.send(&email).await {
        Ok(()) => Ok(Delivery::Sent),
        // Refused for good: sending again would not help, and the marker keeps it from trying.
        Err(MailError::Rejected(reason)) => {
            tracing::warn!(job_id = %job.job_id, reason, "the provider refused a broadcast e-mail");
            Ok(Delivery::Failed)
        }
        Err(err) => {
            // Not sent: free the recipient, so the retried step mails them.
            platform.store.delete(&marker_key, None).await?;
            Err(err.into())
        }
    }
}

/// The e-mail for one recipient, in their language.
fn compose(platform: &Platform, job: &Job, user: &UserRecord) -> Email {
    let lang = user.lang;
    let message = job.message(lang, &platform.settings.public_base_url);
    let (subject, footer, headers) = match job.kind {
        // Marked as service mail in the subject and the footer; nothing to unsubscribe from.
        Kind::ServiceNotice => (
            text(lang, "service-notice-subject", &[("subject", message.subject.as_str())]),
            text(lang, "service-notice-footer", &[]),
            Vec::new(),
        ),
        Kind::ProductUpdate => {
            let now = platform.clock.epoch_seconds();
            let (link, headers) =
                crate::unsubscribe::headers(&platform.settings, &user.user_id, PurposeId::ProductUpdates, now);
            (message.subject.clone(), text(lang, "product-update-footer", &[("link", link.as_str())]), headers)
        }
    };
    Email {
        to: user.email.clone(),
        subject,
        text: format!("{}\n\n--\n{}\n", message.text.trim_end(), footer.trim_end()),
        html: None,
        headers,
        category: job.kind.category().to_owned(),
        organisation_id: None,
    }
}
