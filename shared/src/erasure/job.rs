//! Erasure as a job: started in one transaction (the fence and the job record), carried out
//! by the rights worker in slices, resumable from a checkpoint after every page.
//!
//! - Memory is bounded whatever the subject's size: a step reads one page ([`PAGE`] items)
//!   of each query of a location group (the 8 usage-event shards together, so deletes are in
//!   flight across partitions), deletes it in `BatchWriteItem`s of 25 with at most
//!   [`IN_FLIGHT`] in flight, retrying throttling with backoff, then saves the checkpoint.
//! - A slice stops when its deadline nears and queues its continuation; a redelivered or
//!   duplicate message resumes from the checkpoint (a version number and a lease make sure
//!   only one runner moves a job at a time).
//! - The registry is read twice: the second pass verifies and erases what slipped in before
//!   the fence stood. Then the exports go, and the job completes: its record forgets the
//!   subject (counts only, kept [`JOB_RECORD_SECONDS`] to follow progress) and the fence
//!   turns `erased` (see [`super::fence`]).
//! - An organisation's job fans out: one subject job per member (each fenced at once), then
//!   the organisation's own items.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::fence::{self, Fence, FenceState};
use super::{ErasureError, LOCATIONS, Retained, Subject, export_prefix, legal_hold};
use crate::Platform;
use crate::accounts::records::UserRecord;
use crate::keys;
use crate::lang::Lang;
use crate::queue::QueueName;
use crate::retry::Backoff;
use crate::store::{
    BatchOp, Condition, Index, Item, Key, MAX_BATCH_WRITE_ITEMS, Query, StoreError, TransactOp, Update,
};

/// Items read per query and step.
pub const PAGE: u32 = 250;
/// `BatchWriteItem` calls in flight at once.
pub const IN_FLIGHT: usize = 8;
/// A completed job's record (counts only) stays this long, to follow progress.
pub const JOB_RECORD_SECONDS: i64 = 30 * 24 * 3600;
/// A runner holds a job at most this long; a crashed runner's lease lapses by itself.
pub const LEASE_SECONDS: i64 = 15 * 60;
/// A slice stops this long before its deadline, to save and queue its continuation.
pub const SLICE_MARGIN: Duration = Duration::from_secs(20);
/// Members fanned out per step of an organisation's job.
const MEMBERS_PER_STEP: u32 = 50;

/// What is erased.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    Subject { subject: Subject },
    Organisation { organisation_id: String },
}

impl Target {
    /// The id the fence is keyed by.
    pub fn fenced_id(&self) -> &str {
        match self {
            Target::Subject { subject } => &subject.user_id,
            Target::Organisation { organisation_id } => organisation_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
}

/// Where one query of a group stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", content = "cursor", rename_all = "snake_case")]
pub enum QueryCursor {
    Start,
    After(String),
    Done,
}

/// How far the job got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Checkpoint {
    /// Organisations only: queueing one job per member.
    FanOut { cursor: Option<String> },
    /// Reading and erasing location group `group` (pass 1 erases, pass 2 verifies).
    Groups { pass: u8, group: usize, cursors: Vec<QueryCursor> },
    /// Exports (subjects) or the organisation item; then complete.
    Finish,
}

/// The job record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    /// Forgotten when the job completes.
    pub target: Option<Target>,
    pub status: JobStatus,
    pub checkpoint: Checkpoint,
    pub erased: BTreeMap<String, u64>,
    pub exports_erased: u64,
    pub retained: Vec<Retained>,
    /// Items found by the verification pass (written before the fence stood).
    pub late_items: u64,
    pub member_jobs: u64,
    pub pages: u64,
    pub slices: u64,
    /// Slices that failed (the sweeper skips and reports a job that keeps failing).
    pub failures: u32,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    pub rights_request_id: Option<String>,
    /// Where to send the rights request's completion notice; forgotten when the job completes.
    pub notify: Option<String>,
    /// The language of that notice.
    #[serde(default)]
    pub notify_lang: Lang,
    pub version: u64,
    pub runner: Option<String>,
    pub lease_until: Option<i64>,
}

impl Job {
    fn item(&self) -> Result<Item, StoreError> {
        let item = Item::new(keys::erasure_job(&self.id), "erasure_job").with_data(self)?;
        Ok(match self.status {
            JobStatus::Completed => item.expires_at(self.completed_at.unwrap_or(self.updated_at) + JOB_RECORD_SECONDS),
            _ => item.with_index(Index::Gsi1, keys::open_erasure_job(self.created_at, &self.id)),
        })
    }

    /// Saves the job if nobody else moved it since it was read.
    async fn save(&mut self, platform: &Platform, extra: Vec<TransactOp>) -> Result<(), ErasureError> {
        let read = self.version;
        self.version += 1;
        self.updated_at = platform.clock.epoch_seconds();
        let condition = Condition::And(vec![Condition::Exists, Condition::equals("version", read)]);
        let mut ops = vec![TransactOp::Put { item: self.item()?, condition: Some(condition) }];
        ops.extend(extra);
        match platform.store.transact(ops).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { operation: Some(0) }) if self.landed(platform).await? => Ok(()),
            Err(StoreError::ConditionFailed { operation: Some(0) }) => Err(ErasureError::Moved),
            Err(err) => Err(err.into()),
        }
    }

    /// Whether the stored record is exactly this one: then the failed condition was our own
    /// write, retried by the SDK after an answer got lost (DynamoDB makes that retry idempotent
    /// with the request token for 10 minutes; moto does not). Every save changes the version
    /// and a runner's id is unique, so another runner's record never looks like ours.
    async fn landed(&self, platform: &Platform) -> Result<bool, ErasureError> {
        let Some(stored) = load(platform, &self.id).await? else { return Ok(false) };
        let as_json = |job: &Job| serde_json::to_value(job).map_err(|err| ErasureError::Corrupt(err.to_string()));
        Ok(as_json(&stored)? == as_json(self)?)
    }

    /// Total items erased.
    pub fn items_erased(&self) -> u64 {
        self.erased.values().sum()
    }
}

/// The rights queue's message that runs (or continues) a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub erasure_job: String,
}

/// A job started, or the one already running for the same subject.
#[derive(Debug, Clone)]
pub struct Started {
    pub job: Job,
    /// False when an erasure of the subject was already under way (or done).
    pub new: bool,
}

/// Starts erasing: in one transaction the subject is fenced (from then on no session, login
/// or write about it is accepted) and the job is recorded; then the job is queued. If the
/// subject is fenced already, that erasure's job is the answer.
/// The rights request an erasure carries out, and whom to tell when it is done.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub rights_request_id: Option<String>,
    pub notify: Option<String>,
    pub notify_lang: Lang,
}

pub async fn begin(platform: &Platform, target: Target, origin: Origin) -> Result<Started, ErasureError> {
    begin_unless_changed(platform, target, origin, Vec::new()).await
}

/// [`begin`], in the same transaction as `unchanged`: conditions on what the decision to
/// erase was based on (an organisation's membership version), and writes that go with it. If
/// one failed and the subject is not fenced by another erasure, nothing was written and the
/// answer is [`ErasureError::Changed`].
pub async fn begin_unless_changed(
    platform: &Platform,
    target: Target,
    origin: Origin,
    unchanged: Vec<TransactOp>,
) -> Result<Started, ErasureError> {
    let subject_id = target.fenced_id().to_owned();
    if let Some(existing) = existing(platform, &subject_id).await? {
        return Ok(Started { job: existing, new: false });
    }
    let now = platform.clock.epoch_seconds();
    let checkpoint = match target {
        Target::Subject { .. } => Checkpoint::Groups { pass: 1, group: 0, cursors: Vec::new() },
        Target::Organisation { .. } => Checkpoint::FanOut { cursor: None },
    };
    let job = Job {
        id: crate::tokens::generate(),
        target: Some(target),
        status: JobStatus::Queued,
        checkpoint,
        erased: BTreeMap::new(),
        exports_erased: 0,
        retained: Vec::new(),
        late_items: 0,
        member_jobs: 0,
        pages: 0,
        slices: 0,
        failures: 0,
        created_at: now,
        updated_at: now,
        completed_at: None,
        rights_request_id: origin.rights_request_id,
        notify: origin.notify,
        notify_lang: origin.notify_lang,
        version: 0,
        runner: None,
        lease_until: None,
    };
    let fence = Fence { job_id: job.id.clone(), state: FenceState::Erasing, since: now };
    let guarded = !unchanged.is_empty();
    let mut ops = vec![
        TransactOp::Put { item: fence.item(&subject_id)?, condition: Some(Condition::NotExists) },
        TransactOp::Put { item: job.item()?, condition: Some(Condition::NotExists) },
    ];
    ops.extend(unchanged);
    match platform.store.transact(ops).await {
        Ok(()) => {}
        // Fenced by a concurrent call a moment ago: that erasure is the answer. Unless the
        // fence is this job's own: the write landed and a retry of it failed (see `landed`).
        Err(StoreError::ConditionFailed { .. }) => match existing(platform, &subject_id).await? {
            Some(found) if found.id == job.id => {}
            Some(found) => return Ok(Started { job: found, new: false }),
            None if guarded => return Err(ErasureError::Changed),
            None => return Err(ErasureError::Moved),
        },
        Err(err) => return Err(err.into()),
    }
    wake(platform, &job.id).await;
    Ok(Started { job, new: true })
}

/// A rights request the job hands back when it completes: one that joined it, or (written
/// with the completion) the job's own. Holds whom to tell; the item, address included, is
/// deleted once the request is handed back, and expires with the job record at most.
///
/// The completion claims each item before handing it back (its own is written claimed), and
/// deletes it only after: a hand-back that fails half-way is retried by the redelivered job
/// message ([`run_slice`] on a completed job), and `notified` keeps the requester from being
/// told twice. A claimed item is no longer the joiner's to take back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Waiting {
    request_id: String,
    notify: Option<String>,
    #[serde(default)]
    notify_lang: Lang,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    claimed: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    notified: bool,
}

const CLAIMED: &str = "claimed";

/// What became of a request that joined a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// The job hands the request back when it completes.
    Waiting,
    /// The job completed meanwhile: the caller carries on (verifies and tells) itself.
    Completed,
}

/// Makes a rights request wait on a job another erasure of the same person started (a
/// cancellation, or an earlier request): when that job completes it tells the requester and
/// hands the request back, as for its own request. The runner's record is not touched (a
/// version change would stop it): the wait is an item of its own in the job's partition.
/// Written before the job is read again, so a completion either sees the item or is seen here;
/// whoever deletes the item first carries the request on, never both.
pub async fn join(platform: &Platform, job_id: &str, origin: &Origin) -> Result<Joined, ErasureError> {
    let Some(request_id) = origin.rights_request_id.clone() else {
        return Err(ErasureError::Corrupt("only a rights request waits on a job".into()));
    };
    let key = keys::erasure_waiting(job_id, &request_id);
    let waiting = Waiting {
        request_id,
        notify: origin.notify.clone(),
        notify_lang: origin.notify_lang,
        claimed: false,
        notified: false,
    };
    let now = platform.clock.epoch_seconds();
    let item = Item::new(key.clone(), "erasure_waiting").with_data(&waiting)?.expires_at(now + JOB_RECORD_SECONDS);
    let unclaimed = Some(Condition::AttributeNotExists(CLAIMED.into()));
    match platform.store.put(item, unclaimed.clone()).await {
        Ok(()) => {}
        // Claimed by the completion (a redelivered request): the job hands it back.
        Err(err) if err.is_condition_failed() => return Ok(Joined::Waiting),
        Err(err) => return Err(err.into()),
    }
    match load(platform, job_id).await? {
        Some(job) if job.status != JobStatus::Completed => Ok(Joined::Waiting),
        // Completed (or long gone): take the wait back, unless the completion claimed it.
        _ => match platform.store.delete(&key, unclaimed).await {
            Ok(Some(_)) => Ok(Joined::Completed),
            Ok(None) => Ok(Joined::Waiting),
            Err(err) if err.is_condition_failed() => Ok(Joined::Waiting),
            Err(err) => Err(err.into()),
        },
    }
}

/// Tells and hands back every request waiting on the completed job: each claimed first (one
/// the joiner took back is skipped), handed back, then deleted. Idempotent, so a failure
/// part-way is retried by the redelivered job message.
async fn hand_back(platform: &Platform, job_id: &str) -> Result<(), ErasureError> {
    let prefix = keys::erasure_waiting(job_id, "");
    let query = Query::partition(prefix.pk.clone())
        .sort(crate::store::SortKey::BeginsWith(prefix.sk.clone()))
        .limit(crate::store::MAX_QUERY_LIMIT)
        .including_expired();
    for item in crate::store::query_all(platform.store.as_ref(), query).await? {
        let waiting: Waiting = item.data()?;
        if !waiting.claimed {
            let claim = Condition::And(vec![Condition::Exists, Condition::AttributeNotExists(CLAIMED.into())]);
            let update = Update::new().set(CLAIMED, true);
            match platform.store.update(&item.key, "erasure_waiting", update, Some(claim)).await {
                Ok(_) => {}
                Err(err) if err.is_condition_failed() => continue,
                Err(err) => return Err(err.into()),
            }
        }
        finish_rights_request(platform, &item.key, &waiting).await?;
        platform.store.delete(&item.key, None).await?;
    }
    Ok(())
}

/// The job of the erasure fencing `subject_id`, if any.
async fn existing(platform: &Platform, subject_id: &str) -> Result<Option<Job>, ErasureError> {
    let Some(fence) = fence::find(platform.store.as_ref(), subject_id).await? else {
        return Ok(None);
    };
    Ok(Some(load(platform, &fence.job_id).await?.unwrap_or_else(|| gone_job(&fence))))
}

/// A fence outlives its job record by design only if the record expired: describe it as done.
fn gone_job(fence: &Fence) -> Job {
    Job {
        id: fence.job_id.clone(),
        target: None,
        status: JobStatus::Completed,
        checkpoint: Checkpoint::Finish,
        erased: BTreeMap::new(),
        exports_erased: 0,
        retained: Vec::new(),
        late_items: 0,
        member_jobs: 0,
        pages: 0,
        slices: 0,
        failures: 0,
        created_at: fence.since,
        updated_at: fence.since,
        completed_at: Some(fence.since),
        rights_request_id: None,
        notify: None,
        notify_lang: Lang::default(),
        version: 0,
        runner: None,
        lease_until: None,
    }
}

/// Queues a run of the job. The job is durable in the table: if the queue refuses, the
/// sweeper finds the open job and runs it, so this only logs.
async fn wake(platform: &Platform, job_id: &str) {
    if let Err(err) = send_run(platform, job_id).await {
        tracing::error!(error = %err, job_id, "could not queue an erasure job; the sweeper will run it");
    }
}

async fn send_run(platform: &Platform, job_id: &str) -> Result<(), ErasureError> {
    let message = JobMessage { erasure_job: job_id.to_owned() };
    let body = serde_json::to_string(&message).map_err(|err| ErasureError::Corrupt(err.to_string()))?;
    Ok(platform.queue.send(QueueName::Rights, body).await?)
}

pub async fn load(platform: &Platform, job_id: &str) -> Result<Option<Job>, StoreError> {
    match platform.store.get(&keys::erasure_job(job_id)).await? {
        Some(item) => Ok(Some(item.data()?)),
        None => Ok(None),
    }
}

/// How a slice ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceOutcome {
    Completed,
    /// Time ran low: the continuation is queued.
    Continues,
    /// Another runner holds the job.
    Busy,
    /// Completed earlier: nothing to do.
    AlreadyDone,
    /// No such job (its record expired long after completion): nothing to do.
    Unknown,
}

/// Runs the job until it completes or `deadline` nears; at least one step always runs, so
/// every slice makes progress. `requeue` queues the continuation when time runs out (the
/// sweeper, which comes back anyway, passes false).
pub async fn run_slice(
    platform: &Platform,
    job_id: &str,
    deadline: Instant,
    requeue: bool,
) -> Result<SliceOutcome, ErasureError> {
    let Some(mut job) = load(platform, job_id).await? else {
        return Ok(SliceOutcome::Unknown);
    };
    if job.status == JobStatus::Completed {
        // A redelivery after the completion was saved: whatever it did not hand back goes now.
        hand_back(platform, job_id).await?;
        return Ok(SliceOutcome::AlreadyDone);
    }
    let now = platform.clock.epoch_seconds();
    if job.lease_until.is_some_and(|until| until > now) {
        return Ok(SliceOutcome::Busy);
    }
    let runner = ulid::Ulid::new().to_string();
    job.runner = Some(runner);
    job.lease_until = Some(now + LEASE_SECONDS);
    job.status = JobStatus::Running;
    job.slices += 1;
    match job.save(platform, Vec::new()).await {
        Ok(()) => {}
        Err(ErasureError::Moved) => return Ok(SliceOutcome::Busy),
        Err(err) => return Err(err),
    }
    let result = run_steps(platform, &mut job, deadline).await;
    match result {
        Ok(true) => Ok(SliceOutcome::Completed),
        Ok(false) => {
            release(platform, &mut job).await?;
            if requeue {
                // A continuation the queue refused fails this delivery, so the queue brings it
                // back (and resumes from the checkpoint) instead of leaving it to the sweeper.
                send_run(platform, &job.id).await?;
            }
            Ok(SliceOutcome::Continues)
        }
        Err(ErasureError::Moved) => Ok(SliceOutcome::Busy),
        Err(err) => {
            // Counted, and the lease let go so a retry need not wait for it to lapse.
            job.failures += 1;
            if let Err(save_err) = release(platform, &mut job).await {
                tracing::warn!(error = %save_err, "could not record an erasure job's failure");
            }
            Err(err)
        }
    }
}

async fn release(platform: &Platform, job: &mut Job) -> Result<(), ErasureError> {
    job.runner = None;
    job.lease_until = None;
    job.save(platform, Vec::new()).await
}

/// Steps until done (true) or out of time (false).
async fn run_steps(platform: &Platform, job: &mut Job, deadline: Instant) -> Result<bool, ErasureError> {
    loop {
        if step(platform, job).await? {
            return Ok(true);
        }
        if Instant::now() + SLICE_MARGIN >= deadline {
            return Ok(false);
        }
    }
}

/// One step and its checkpoint; true when the job completed.
async fn step(platform: &Platform, job: &mut Job) -> Result<bool, ErasureError> {
    let Some(target) = job.target.clone() else {
        return Err(ErasureError::Corrupt("an open job without a target".into()));
    };
    match job.checkpoint.clone() {
        Checkpoint::FanOut { cursor } => {
            let Target::Organisation { organisation_id } = &target else {
                return Err(ErasureError::Corrupt("a subject job fanning out".into()));
            };
            let query = Query::index(Index::Gsi1, keys::organisation_members(organisation_id))
                .limit(MEMBERS_PER_STEP)
                .cursor(cursor);
            let page = platform.store.query(query).await?;
            for item in &page.items {
                let member: UserRecord = item.data()?;
                let subject = Subject { user_id: member.user_id, canonical_email: member.email_canonical };
                begin(platform, Target::Subject { subject }, Origin::default()).await?;
                job.member_jobs += 1;
            }
            job.checkpoint = match page.cursor {
                Some(cursor) => Checkpoint::FanOut { cursor: Some(cursor) },
                None => Checkpoint::Groups { pass: 1, group: 0, cursors: Vec::new() },
            };
            job.pages += 1;
            job.save(platform, Vec::new()).await?;
            Ok(false)
        }
        Checkpoint::Groups { pass, group, cursors } => {
            if let (1, 0, true, Target::Subject { subject }) = (pass, group, cursors.is_empty(), &target) {
                forget_case_senders(platform, subject).await?;
                leave_histories(platform, subject).await?;
            }
            let groups = groups(&target);
            let Some(queries) = groups.get(group) else {
                job.checkpoint = if pass == 1 {
                    Checkpoint::Groups { pass: 2, group: 0, cursors: Vec::new() }
                } else {
                    Checkpoint::Finish
                };
                job.save(platform, Vec::new()).await?;
                return Ok(false);
            };
            let mut cursors =
                if cursors.len() == queries.len() { cursors } else { vec![QueryCursor::Start; queries.len()] };
            let erased = erase_pages(platform, job, queries, &mut cursors).await?;
            if pass == 2 {
                job.late_items += erased;
            }
            job.pages += 1;
            job.checkpoint = if cursors.iter().all(|c| *c == QueryCursor::Done) {
                Checkpoint::Groups { pass, group: group + 1, cursors: Vec::new() }
            } else {
                Checkpoint::Groups { pass, group, cursors }
            };
            job.save(platform, Vec::new()).await?;
            Ok(false)
        }
        Checkpoint::Finish => {
            match &target {
                Target::Subject { subject } => {
                    let blobs = platform.blobs.delete_prefix(&export_prefix(&subject.user_id)).await?;
                    job.exports_erased += blobs as u64;
                }
                Target::Organisation { organisation_id } => {
                    let key = keys::organisation(organisation_id);
                    if platform.store.delete(&key, None).await?.is_some() {
                        *job.erased.entry("organisation".into()).or_default() += 1;
                    }
                }
            }
            complete(platform, job, &target).await?;
            Ok(true)
        }
    }
}

/// The person's id leaves other people's histories (a placeholder of their role stands in):
/// the membership history, the organisation's rights requests, the requests they acted on as
/// an operator. Here, not in the cancelling request, because those reads grow with the
/// organisation. The first step runs it while the account record (which names the role and
/// organisation) is still there; a retried step does it again harmlessly, and the job cannot
/// complete before it is done.
async fn leave_histories(platform: &Platform, subject: &Subject) -> Result<(), ErasureError> {
    if let Some(item) = platform.store.get(&UserRecord::key(&subject.user_id)).await? {
        let user: UserRecord = item.data()?;
        let changed = crate::accounts::placeholders::erase_from_histories(platform, &user).await?;
        tracing::info!(changed, "histories rewritten with role placeholders");
    }
    // An operator's id in the cases they worked.
    let changed = crate::cases::forget_operator(platform, &subject.user_id).await?;
    tracing::info!(changed, "case histories rewritten");
    Ok(())
}

/// Our copies of the answers to cases an operator linked to the person from another address
/// (the local outbox). Read before the cases go with the first group; idempotent.
async fn forget_case_senders(platform: &Platform, subject: &Subject) -> Result<(), ErasureError> {
    let Some(sent) = &platform.sent_mail else { return Ok(()) };
    let linked = Query::index(Index::Gsi1, keys::cases_of_user(&subject.user_id)).limit(1_000);
    let mut senders = Vec::new();
    for item in crate::store::query_all(platform.store.as_ref(), linked).await? {
        let sender = crate::cases::canonical(&item.data::<crate::cases::Case>()?.sender);
        if sender != subject.canonical_email && !senders.contains(&sender) {
            senders.push(sender);
        }
    }
    for sender in senders {
        sent.forget_subject(&subject.user_id, &sender).await?;
    }
    Ok(())
}

/// The job completes and forgets its subject; the fence turns `erased` and starts to expire.
async fn complete(platform: &Platform, job: &mut Job, target: &Target) -> Result<(), ErasureError> {
    // Our own copies of mail sent to the person (the local outbox folder) go too.
    if let (Some(sent), Target::Subject { subject }) = (&platform.sent_mail, target) {
        let deleted = sent.forget_subject(&subject.user_id, &subject.canonical_email).await?;
        tracing::info!(job_id = %job.id, deleted, "sent mail copies erased");
    }
    // Art. 19: the marketing destinations are told (by the marketing worker, which retries
    // on its own). Queued before the job completes, so a failed send makes the slice retry;
    // a duplicate after a retried save is harmless (the worker records each destination once).
    if let Target::Subject { subject } = target {
        crate::marketing::erasure::request(platform, &job.id, &subject.user_id).await?;
    }
    let now = platform.clock.epoch_seconds();
    job.status = JobStatus::Completed;
    job.completed_at = Some(now);
    job.target = None;
    let notify = job.notify.take();
    job.runner = None;
    job.lease_until = None;
    let fence = Fence { job_id: job.id.clone(), state: FenceState::Erased, since: now };
    let fence_item = fence.item(target.fenced_id())?.expires_at(now + fence::FENCE_SECONDS);
    let mut with = vec![TransactOp::Put { item: fence_item, condition: None }];
    // The job's own request waits to be handed back like a joined one, written with the
    // completion (already claimed): a hand-back that fails after this save is not lost.
    if let Some(request_id) = &job.rights_request_id {
        let own = Waiting {
            request_id: request_id.clone(),
            notify,
            notify_lang: job.notify_lang,
            claimed: true,
            notified: false,
        };
        let item = Item::new(keys::erasure_waiting(&job.id, request_id), "erasure_waiting")
            .with_data(&own)?
            .expires_at(now + JOB_RECORD_SECONDS);
        with.push(TransactOp::Put { item, condition: None });
    }
    job.save(platform, with).await?;
    if job.late_items > 0 {
        tracing::warn!(job_id = %job.id, late_items = job.late_items, "verification erased items written before the fence");
    }
    tracing::info!(job_id = %job.id, erased = job.items_erased(), retained = job.retained.len(), "erasure completed");
    hand_back(platform, &job.id).await
}

/// Tells the requester (their address was kept only for this), once, then hands the request
/// back to the rights worker, which verifies and completes it.
async fn finish_rights_request(platform: &Platform, key: &Key, waiting: &Waiting) -> Result<(), ErasureError> {
    if let (Some(to), false) = (&waiting.notify, waiting.notified)
        && let Some(request) = crate::rights::load(platform, &waiting.request_id).await?
    {
        let mut notice = crate::rights::emails::completed(&platform.settings, to, waiting.notify_lang, &request);
        notice.category = crate::mail::ERASURE_NOTICE.into();
        crate::mail::enqueue_erasure_notice(platform, vec![notice]).await?;
        platform
            .store
            .update(key, "erasure_waiting", Update::new().set("notified", true), Some(Condition::Exists))
            .await?;
    }
    let body = serde_json::to_string(&crate::rights::RightsMessage { request_id: waiting.request_id.clone() })
        .map_err(|err| ErasureError::Corrupt(err.to_string()))?;
    platform.queue.send(QueueName::Rights, body).await?;
    Ok(())
}

/// The job's location groups, in order: for a subject the registry (sessions and tokens
/// first, so nothing signs in while the rest goes); for an organisation its own items.
fn groups(target: &Target) -> Vec<Vec<Query>> {
    match target {
        Target::Subject { subject } => {
            let mut locations: Vec<_> = LOCATIONS.iter().collect();
            locations.sort_by_key(|location| location.name != "subject_index");
            locations.iter().map(|location| (location.queries)(subject)).collect()
        }
        Target::Organisation { organisation_id } => vec![
            (0..keys::INTERACTION_SHARDS)
                .map(|shard| Query::index(Index::Gsi1, keys::organisation_interactions(organisation_id, shard)))
                .collect(),
            vec![Query::partition(keys::organisation_suppressions(organisation_id))],
            vec![Query::partition(keys::organisation_invoices(organisation_id))],
            vec![Query::index(Index::Gsi1, keys::organisation_invitations(organisation_id))],
            vec![Query::partition(keys::membership_history(organisation_id))],
            // Last: a job saved at an earlier group still finds its place after an upgrade.
            vec![Query::partition(crate::throttle::INVITATIONS_PER_ORGANISATION.partition(organisation_id))],
        ],
    }
}

/// Reads one page of every unfinished query of a group (at once) and erases what is not
/// under a legal hold; returns how many items it erased.
async fn erase_pages(
    platform: &Platform,
    job: &mut Job,
    queries: &[Query],
    cursors: &mut [QueryCursor],
) -> Result<u64, ErasureError> {
    let store = platform.store.as_ref();
    let reads = queries.iter().zip(cursors.iter()).enumerate().filter_map(|(i, (query, cursor))| {
        let cursor = match cursor {
            QueryCursor::Done => return None,
            QueryCursor::Start => None,
            QueryCursor::After(cursor) => Some(cursor.clone()),
        };
        // Expired items too: TTL may not have removed them yet, and they are still the person's.
        let query = query.clone().limit(PAGE).cursor(cursor).including_expired();
        Some(async move { store.query(query).await.map(|page| (i, page)) })
    });
    let pages = futures::future::try_join_all(reads).await?;
    let mut deletes = Vec::new();
    for (i, page) in pages {
        cursors[i] = match page.cursor {
            Some(cursor) => QueryCursor::After(cursor),
            None => QueryCursor::Done,
        };
        for item in page.items {
            match legal_hold(&item) {
                Some(hold) => {
                    let retained =
                        Retained { kind: item.entity_type.clone(), legal_basis: hold.basis, purge_after: hold.until };
                    if !job.retained.contains(&retained) {
                        job.retained.push(retained);
                    }
                }
                None => {
                    *job.erased.entry(item.entity_type.clone()).or_default() += 1;
                    deletes.push(BatchOp::Delete(item.key));
                }
            }
        }
    }
    let count = deletes.len() as u64;
    delete_in_flight(store, deletes).await?;
    Ok(count)
}

/// Deletes in chunks of 25, [`IN_FLIGHT`] chunks at a time; a chunk the store throttles is
/// retried with backoff.
pub async fn delete_in_flight(store: &dyn crate::store::Store, deletes: Vec<BatchOp>) -> Result<(), StoreError> {
    let mut chunks = Vec::new();
    let mut deletes = deletes.into_iter().peekable();
    while deletes.peek().is_some() {
        chunks.push(deletes.by_ref().take(MAX_BATCH_WRITE_ITEMS).collect::<Vec<_>>());
    }
    futures::stream::iter(chunks)
        .map(|chunk| async move {
            let mut retry = 0;
            loop {
                match store.batch_write(chunk.clone()).await {
                    Err(StoreError::Throttled) => {
                        retry += 1;
                        if !Backoff::STORE.wait(retry).await {
                            return Err(StoreError::Throttled);
                        }
                    }
                    other => return other,
                }
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

/// Open jobs nobody has moved since `idle_since` (unix seconds), oldest first, at most
/// `limit`; and how many open job records do not decode (each is logged, none blocks).
pub async fn stalled(platform: &Platform, idle_since: i64, limit: usize) -> Result<(Vec<Job>, usize), StoreError> {
    let now = platform.clock.epoch_seconds();
    let mut query = Query::index(Index::Gsi1, keys::OPEN_ERASURE_JOBS).limit(crate::store::MAX_QUERY_LIMIT);
    let (mut stalled, mut corrupt) = (Vec::new(), 0);
    loop {
        let page = platform.store.query(query.clone()).await?;
        for item in &page.items {
            let job: Job = match item.data() {
                Ok(job) => job,
                Err(err) => {
                    tracing::error!(error = %err, "an open erasure job does not decode");
                    corrupt += 1;
                    continue;
                }
            };
            if job.updated_at <= idle_since && job.lease_until.is_none_or(|until| until <= now) {
                stalled.push(job);
                if stalled.len() >= limit {
                    return Ok((stalled, corrupt));
                }
            }
        }
        match page.cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok((stalled, corrupt)),
        }
    }
}

/// Counts a failed slice that could not count itself (it was cut off by its deadline) and
/// lets its lease go; returns the failures so far.
pub async fn record_failure(platform: &Platform, job_id: &str) -> Result<u32, ErasureError> {
    let Some(mut job) = load(platform, job_id).await? else {
        return Ok(0);
    };
    job.failures += 1;
    release(platform, &mut job).await?;
    Ok(job.failures)
}

/// Where an erasure stands: what `DELETE /v1/me` answers and its progress URL shows. Counts
/// only; nothing about the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct ErasureProgress {
    /// The job's id: long and random, so its URL is the capability to follow it.
    pub job_id: String,
    pub status: JobStatus,
    /// Where to follow progress (`GET`, no sign-in needed: the session ends as the erasure starts).
    pub progress_url: String,
    /// Items erased so far, by kind.
    pub erased: BTreeMap<String, u64>,
    pub exports_erased: u64,
    /// Organisations: members whose own erasure job was queued.
    pub member_jobs: u64,
    /// Records kept because the law requires it, with their legal basis and purge date.
    pub retained: Vec<Retained>,
    /// RFC 3339.
    pub started_at: String,
    pub completed_at: Option<String>,
}

impl ErasureProgress {
    pub fn of(job: &Job, public_base_url: &str) -> Self {
        Self {
            job_id: job.id.clone(),
            status: job.status,
            progress_url: progress_path(public_base_url, &job.id),
            erased: job.erased.clone(),
            exports_erased: job.exports_erased,
            member_jobs: job.member_jobs,
            retained: job.retained.clone(),
            started_at: crate::clock::rfc3339_from_epoch(job.created_at),
            completed_at: job.completed_at.map(crate::clock::rfc3339_from_epoch),
        }
    }
}

/// The progress URL of a job.
pub fn progress_path(public_base_url: &str, job_id: &str) -> String {
    format!("{}/v1/erasure-jobs/{job_id}", public_base_url.trim_end_matches('/'))
}
