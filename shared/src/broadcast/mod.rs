//! Broadcasts as jobs: a service notice (to all users, or to the users of chosen
//! organisations; no consent needed, no marketing allowed) or a product update (to those who
//! consented). Starting one stores the job and queues its first step on the mail queue; the
//! mail worker runs the steps ([`step`]).
//!
//! - A step reads one page of recipients from the job's checkpoint, mails them, then saves
//!   the new checkpoint (guarded by a version) and queues its continuation. A redelivered or
//!   duplicate step message resumes from the checkpoint.
//! - Each recipient is mailed at most once per job: a marker per (job, recipient) is written
//!   with a condition before the e-mail goes out, and deleted again only when the provider
//!   says the send failed (so a retry sends it). A crash between the marker and the send
//!   loses that one e-mail rather than sending it twice.
//! - The job record holds the text and counts; markers hold a hash of the pair. Both expire
//!   ([`RECORD_SECONDS`] after the job started).

mod resume;
mod step;
pub mod wording;

pub use resume::{IDLE_AFTER_SECONDS, resume_stalled};
pub use step::{StepMessage, step};

use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::domain::Invalid;
use crate::keys;
use crate::lang::Lang;
use crate::queue::{QueueError, QueueName};
use crate::store::{Condition, Item, StoreError};

/// A job's record and markers are kept this long after it started, then expire.
pub const RECORD_SECONDS: i64 = 90 * 24 * 3600;
/// Recipients read and mailed per step.
pub const PAGE: u32 = 100;
/// E-mails in flight at once within a step.
pub const IN_FLIGHT: usize = 8;
/// Organisations read per step when listing everyone.
const ORGANISATIONS_PER_STEP: u32 = 25;
/// At most this many organisations may be chosen for one notice.
pub const MAX_ORGANISATIONS: usize = 100;
pub const MAX_SUBJECT: usize = 200;
pub const MAX_TEXT: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Changes or technical issues that may affect the platform: no consent needed.
    ServiceNotice,
    /// New or improved features: only to those who consented to `product_updates`.
    ProductUpdate,
}

impl Kind {
    /// The provider's statistics label (and the mark of service mail).
    pub fn category(self) -> &'static str {
        match self {
            Kind::ServiceNotice => "service_notices",
            Kind::ProductUpdate => "product_updates",
        }
    }
}

/// Who receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Audience {
    /// Every user of every organisation.
    Everyone,
    Organisations {
        organisation_ids: Vec<String>,
    },
    /// Those who consented to `product_updates`.
    Consented,
}

/// One language's subject and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// 1 to 200 characters, one line.
    #[cfg_attr(feature = "http", schema(min_length = 1, max_length = 200, pattern = "^[^\\r\\n]*$"))]
    pub subject: String,
    /// 1 to 20,000 characters of plain text.
    #[cfg_attr(feature = "http", schema(min_length = 1, max_length = 20000))]
    pub text: String,
}

/// What is said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Content {
    /// Written by an operator: English, and Swedish for Swedish-speaking recipients if given.
    Written { en: Message, sv: Option<Message> },
    /// A new version of the privacy notice: the texts come from the mail catalogs.
    PolicyChange { version: String, date: String },
}

/// Where a broadcast job stands (its own name in the document: the rights requests' `Status`
/// is another type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema), schema(as = BroadcastStatus))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Completed,
}

/// Where the recipients' listing stands (ids and opaque cursors only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The shard of the listing being read (consent index or organisations).
    pub shard: u32,
    pub cursor: Option<String>,
    /// Organisations whose members are still to be mailed, the first one in progress.
    pub organisations: Vec<String>,
    pub member_cursor: Option<String>,
}

/// Counts of what a job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Counts {
    /// E-mails handed to the provider.
    pub sent: u64,
    /// Recipients passed over: no consent now, an unverified or erased account.
    pub skipped: u64,
    /// E-mails the provider refused for good.
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub job_id: String,
    pub kind: Kind,
    pub audience: Audience,
    pub content: Content,
    pub status: Status,
    pub checkpoint: Checkpoint,
    pub counts: Counts,
    pub version: u64,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub completed_at: Option<i64>,
}

impl Job {
    pub fn item(&self) -> Result<Item, StoreError> {
        let item = Item::new(keys::broadcast_job(&self.job_id), "broadcast_job")
            .with_data(self)?
            .expires_at(self.created_at + RECORD_SECONDS);
        // Listed while unfinished, so the sweeper finds a job whose step message was lost or
        // dead-lettered (`resume_stalled`); the completed job's put drops the listing.
        Ok(match self.status {
            Status::Completed => item,
            Status::Queued | Status::Running => item.with_index(
                crate::store::Index::Gsi1,
                crate::store::IndexKey::new(keys::OPEN_BROADCAST_JOBS, self.job_id.clone()),
            ),
        })
    }

    /// The subject and text for a recipient writing `lang`.
    pub fn message(&self, lang: Lang, public_base_url: &str) -> Message {
        match &self.content {
            Content::Written { en, sv } => match (lang, sv) {
                (Lang::Sv, Some(sv)) => sv.clone(),
                _ => en.clone(),
            },
            Content::PolicyChange { version, date } => {
                let link = format!("{}/privacy", public_base_url.trim_end_matches('/'));
                let vars = [("version", version.as_str()), ("date", date.as_str()), ("link", link.as_str())];
                Message {
                    subject: crate::mail::texts::text(lang, "policy-change-subject", &vars),
                    text: crate::mail::texts::text(lang, "policy-change-body", &vars),
                }
            }
        }
    }
}

/// What the operator sees of a job.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Progress {
    #[cfg_attr(feature = "http", schema(example = "01JBROADCAST0000000000000000"))]
    pub job_id: String,
    pub kind: Kind,
    pub status: Status,
    pub counts: Counts,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once completed.
    pub completed_at: Option<String>,
}

impl From<&Job> for Progress {
    fn from(job: &Job) -> Self {
        Progress {
            job_id: job.job_id.clone(),
            kind: job.kind,
            status: job.status,
            counts: job.counts,
            created_at: crate::clock::rfc3339_from_epoch(job.created_at),
            completed_at: job.completed_at.map(crate::clock::rfc3339_from_epoch),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    #[error("{}", .0.detail)]
    Invalid(Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<Invalid> for BroadcastError {
    fn from(err: Invalid) -> Self {
        BroadcastError::Invalid(err)
    }
}

/// Checks one language's subject and text (and, for a service notice, that it sells nothing).
fn checked(message: &Message, kind: Kind) -> Result<Message, Invalid> {
    let subject = message.subject.trim();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT || subject.contains(['\r', '\n']) {
        return Err(Invalid::new("invalid_subject", "The subject must be one line of 1 to 200 characters."));
    }
    if message.text.trim().is_empty() || message.text.chars().count() > MAX_TEXT {
        return Err(Invalid::new("invalid_text", "The text must have 1 to 20,000 characters."));
    }
    if kind == Kind::ServiceNotice {
        let found = wording::marketing_term(subject).or_else(|| wording::marketing_term(&message.text));
        if let Some(term) = found {
            return Err(Invalid::new(
                "marketing_content",
                format!(
                    "A service notice may not carry marketing (found \"{term}\"). Rewrite it, or send a product update to those who consented."
                ),
            ));
        }
    }
    Ok(Message { subject: subject.to_owned(), text: message.text.clone() })
}

/// Checks and starts a broadcast an operator wrote; answers its progress (queued).
pub async fn start_written(
    platform: &Platform,
    kind: Kind,
    audience: Audience,
    en: &Message,
    sv: Option<&Message>,
) -> Result<Progress, BroadcastError> {
    let en = checked(en, kind)?;
    let sv = sv.map(|m| checked(m, kind)).transpose()?;
    match (&audience, kind) {
        (Audience::Consented, Kind::ProductUpdate) | (Audience::Everyone, Kind::ServiceNotice) => {}
        (Audience::Organisations { organisation_ids }, Kind::ServiceNotice) => {
            check_organisations(platform, organisation_ids).await?
        }
        _ => return Err(Invalid::new("invalid_audience", "Product updates go only to those who consented.").into()),
    }
    let job_id = ulid::Ulid::new().to_string();
    let (job, _) = begin(platform, job_id, kind, audience, Content::Written { en, sv }).await?;
    Ok(Progress::from(&job))
}

async fn check_organisations(platform: &Platform, ids: &[String]) -> Result<(), BroadcastError> {
    if ids.is_empty() || ids.len() > MAX_ORGANISATIONS {
        return Err(Invalid::new("invalid_organisations", "Choose 1 to 100 organisations.").into());
    }
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    if unique.len() != ids.len() {
        return Err(Invalid::new("invalid_organisations", "An organisation is named twice.").into());
    }
    for chunk in unique.chunks(crate::store::MAX_BATCH_GET_ITEMS) {
        let keys = chunk.iter().map(|id| keys::organisation(id)).collect();
        let found = platform.store.batch_get(keys).await?;
        if found.len() != chunk.len() {
            return Err(Invalid::new("unknown_organisation", "No organisation has one of these ids.").into());
        }
    }
    Ok(())
}

/// Stores the job and queues its first step; if a job with this id exists, answers that one
/// (and `false`: not started now).
async fn begin(
    platform: &Platform,
    job_id: String,
    kind: Kind,
    audience: Audience,
    content: Content,
) -> Result<(Job, bool), BroadcastError> {
    let now = platform.clock.epoch_seconds();
    let organisations = match &audience {
        Audience::Organisations { organisation_ids } => organisation_ids.clone(),
        Audience::Everyone | Audience::Consented => Vec::new(),
    };
    let job = Job {
        job_id,
        kind,
        audience,
        content,
        status: Status::Queued,
        checkpoint: Checkpoint { organisations, ..Checkpoint::default() },
        counts: Counts::default(),
        version: 0,
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    match platform.store.put(job.item()?, Some(Condition::NotExists)).await {
        Ok(()) => {}
        Err(err) if err.is_condition_failed() => {
            let existing = load(platform, &job.job_id).await?.ok_or_else(|| {
                BroadcastError::Store(StoreError::Corrupt("a broadcast job vanished as it was started".into()))
            })?;
            // Stored but perhaps never queued (the queue failed after the put): queue it again;
            // a duplicate step changes nothing (version and markers).
            if existing.status == Status::Queued {
                step::queue_step(platform, &existing.job_id).await?;
            }
            return Ok((existing, false));
        }
        Err(err) => return Err(err.into()),
    }
    step::queue_step(platform, &job.job_id).await?;
    tracing::info!(job_id = %job.job_id, kind = job.kind.category(), "broadcast started");
    Ok((job, true))
}

/// Announces the notice version in force, once per version: a service notice to everyone with
/// its date and a link. Called by every sweeper run; later calls find the job and do nothing.
/// Answers whether this call started it.
pub async fn announce_policy(platform: &Platform) -> Result<bool, BroadcastError> {
    let version = platform.settings.policy_version.clone();
    let job_id = policy_job_id(&version);
    if load(platform, &job_id).await?.is_some_and(|job| job.status != Status::Queued) {
        return Ok(false);
    }
    let content = Content::PolicyChange { version, date: platform.settings.policy_date.clone() };
    let (_, started) = begin(platform, job_id, Kind::ServiceNotice, Audience::Everyone, content).await?;
    Ok(started)
}

/// The job announcing a notice version (one per version).
pub fn policy_job_id(version: &str) -> String {
    format!("policy-{}", crate::hash::sha256_hex(version.as_bytes()).get(..26).unwrap_or_default())
}

/// A job's record, if it exists (and has not expired).
pub async fn load(platform: &Platform, job_id: &str) -> Result<Option<Job>, StoreError> {
    match platform.store.get(&keys::broadcast_job(job_id)).await? {
        Some(item) => Ok(Some(item.data()?)),
        None => Ok(None),
    }
}

/// A job's progress, for operators.
pub async fn progress(platform: &Platform, job_id: &str) -> Result<Option<Progress>, StoreError> {
    Ok(load(platform, job_id).await?.as_ref().map(Progress::from))
}

/// Where the mail worker gets the step messages from.
pub(crate) const QUEUE: QueueName = QueueName::Mail;
