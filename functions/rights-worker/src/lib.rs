//! The rights worker: carries out queued rights requests.
//!
//! Idempotent: a request is moved `queued → processing → completed` under optimistic locking,
//! and every step can run again (exports are written under the request's id, erasing what is
//! already erased erases nothing). A failure is retried by SQS; on the last attempt the
//! request is marked `failed` with a reason for the operators, and the requester is told.
//!
//! Erasure is verified: after erasing, the access collection runs again and must find nothing
//! but records under a legal duty, or the request does not complete.

mod error;
pub mod exports;

use std::time::{Duration, Instant};

pub use error::WorkError;
use shared::Platform;
use shared::accounts::{self, UserRecord};
use shared::domain::EmailAddress;
use shared::erasure::job::JobMessage;
use shared::erasure::{self, Subject, fence};
use shared::mail;
use shared::queue::DEFAULT_MAX_RECEIVES;
use shared::queue::batch::{self, BatchError, Record, RecordError, SqsBatchResponse, SqsEvent};
use shared::rights::{self, RequestType, RightsMessage, RightsRequest, SaveError, Status, emails};

/// How long a batch may run when the caller gives no deadline (the local server, tests):
/// as the Lambda's timeout in `template.yaml`.
pub const DEFAULT_RUN_TIME: Duration = Duration::from_secs(300);

pub async fn handle(platform: &Platform, event: SqsEvent) -> Result<SqsBatchResponse, BatchError> {
    handle_until(platform, event, Instant::now() + DEFAULT_RUN_TIME).await
}

/// Handles a batch that must end by `deadline` (the Lambda's): an erasure job stops in time
/// and queues its continuation.
pub async fn handle_until(
    platform: &Platform,
    event: SqsEvent,
    deadline: Instant,
) -> Result<SqsBatchResponse, BatchError> {
    batch::process(event, 2, |record: Record| async move {
        // Erasure jobs and rights requests share the queue; each message is one or the other.
        match serde_json::from_str::<JobMessage>(&record.body) {
            Ok(message) => run_job(platform, &message.erasure_job, deadline).await,
            Err(_) => process(platform, record).await,
        }
    })
    .await
}

/// Runs a slice of an erasure job. A job already completed (or long gone) is acknowledged
/// and changes nothing; one another runner holds is left to it.
#[tracing::instrument(skip_all)]
async fn run_job(platform: &Platform, job_id: &str, deadline: Instant) -> Result<(), RecordError> {
    match erasure::job::run_slice(platform, job_id, deadline, true).await {
        Ok(outcome) => {
            tracing::info!(?outcome, "erasure job slice");
            Ok(())
        }
        Err(err) => {
            tracing::warn!(error = %err, "erasure job slice failed; SQS will retry from the checkpoint");
            Err(RecordError::Failed(err.to_string()))
        }
    }
}

/// What a run of one request ended in, for the history.
struct Done {
    note: String,
    exports: Option<rights::Exports>,
    /// The requester's address, read before anything was erased.
    tell: Option<UserRecord>,
    /// The requester was erased: the request keeps no trace of them.
    anonymise: bool,
}

#[tracing::instrument(skip_all, fields(message_id = %record.message_id, receive_count = record.receive_count))]
async fn process(platform: &Platform, record: Record) -> Result<(), RecordError> {
    let message: RightsMessage = record.json()?;
    let failed = |err: WorkError| RecordError::Failed(err.to_string());
    let Some(mut request) = rights::load(platform, &message.request_id).await.map_err(|e| failed(e.into()))? else {
        tracing::warn!(request_id = %message.request_id, "no such rights request; dropped");
        return Ok(());
    };
    match request.status {
        Status::Completed | Status::Denied | Status::Failed => return Ok(()),
        // Approved a moment ago and not yet saved: try again later.
        Status::AwaitingOrganisationApproval => {
            return Err(RecordError::Failed("the request is not approved yet".into()));
        }
        Status::Queued => {
            let due_at = request.due_at;
            request
                .transition(Status::Processing, "worker", None, platform.clock.epoch_seconds())
                .map_err(|e| failed(e.into()))?;
            match rights::save(platform, &mut request, due_at).await {
                Ok(()) => {}
                Err(SaveError::Conflict) => return Err(RecordError::Failed("the request changed meanwhile".into())),
                Err(SaveError::Store(err)) => return Err(failed(err.into())),
            }
        }
        Status::Processing => {} // A redelivery after a crash: carry on.
    }

    match carry_out(platform, &request).await {
        Ok(done) => finish(platform, request, done).await.map_err(failed),
        // The job hands the request back when it completes.
        Err(WorkError::ErasureRunning) => {
            tracing::info!(request_id = %request.id, "erasure job under way");
            Ok(())
        }
        Err(reason) if record.receive_count >= DEFAULT_MAX_RECEIVES => {
            tracing::error!(request_id = %request.id, %reason, "rights request failed for good");
            give_up(platform, request, reason.to_string()).await.map_err(failed)
        }
        Err(reason) => {
            tracing::warn!(request_id = %request.id, %reason, "rights request failed; SQS will retry");
            Err(failed(reason))
        }
    }
}

/// Does what the request asks. Errors are reasons for the operators: kinds and counts only.
async fn carry_out(platform: &Platform, request: &RightsRequest) -> Result<Done, WorkError> {
    let Some(user_id) = request.user_id.clone() else {
        return Ok(Done { note: "already anonymous".into(), exports: None, tell: None, anonymise: false });
    };
    let user = accounts::find_user(platform, &user_id).await?;
    // A requester being erased gets no export or correction: the request closes, anonymous.
    let fenced = match &user {
        Some(user) => fence::any(platform, &[&user.user_id, &user.organisation_id]).await?,
        None => fence::find(platform.store.as_ref(), &user_id).await?,
    };
    if fenced.is_some() && request.kind != RequestType::Erasure {
        return Ok(Done {
            note: "the requester's account is erased".into(),
            exports: None,
            tell: None,
            anonymise: true,
        });
    }
    match request.kind {
        RequestType::Access | RequestType::Portability => {
            let Some(user) = user else { return Err(WorkError::RequesterGone) };
            let exports = exports::write(platform, request, &user).await?;
            Ok(Done { note: "export ready".into(), exports: Some(exports), tell: Some(user), anonymise: false })
        }
        RequestType::Correction => {
            let Some(user) = user else { return Err(WorkError::RequesterGone) };
            let email = request
                .changes
                .as_ref()
                .and_then(|changes| changes.get("email"))
                .and_then(|v| v.as_str())
                .ok_or(WorkError::NoCorrection)?;
            let new = EmailAddress::parse(email)?;
            if new.canonical() == user.email_canonical {
                return Ok(Done {
                    note: "nothing to correct".into(),
                    exports: None,
                    tell: Some(user),
                    anonymise: false,
                });
            }
            accounts::start_email_change(platform, &user, &new).await?;
            Ok(Done {
                note: "verification sent to the new address; it replaces the old one once confirmed".into(),
                exports: None,
                tell: Some(user),
                anonymise: false,
            })
        }
        RequestType::Erasure => erase(platform, request, &user_id, user).await,
    }
}

/// An erasure request starts the erasure job (or joins the one under way) and waits: the
/// job hands the request back when it is done, and only then is it verified and completed.
async fn erase(
    platform: &Platform,
    request: &RightsRequest,
    user_id: &str,
    user: Option<UserRecord>,
) -> Result<Done, WorkError> {
    let job = match &user {
        Some(user) => Some(accounts::erase_account_requested(platform, user, &request.id).await?.job),
        None => match fence::find(platform.store.as_ref(), user_id).await? {
            Some(fence) => erasure::job::load(platform, &fence.job_id).await?,
            None => None,
        },
    };
    let mut tell = None;
    if let Some(job) = job.filter(|job| job.status != erasure::job::JobStatus::Completed) {
        if job.rights_request_id.as_deref() == Some(request.id.as_str()) {
            return Err(WorkError::ErasureRunning);
        }
        // Another erasure of the person runs (their own cancellation, or an earlier request):
        // the request waits on that job, however long it takes, and is handed back by it.
        let origin = erasure::job::Origin {
            rights_request_id: Some(request.id.clone()),
            notify: user.as_ref().map(|user| user.email.clone()),
            notify_lang: user.as_ref().map(|user| user.lang).unwrap_or_default(),
        };
        match erasure::job::join(platform, &job.id, &origin).await? {
            erasure::job::Joined::Waiting => return Err(WorkError::ErasureRunning),
            // It completed meanwhile, without telling this requester: verified and told here.
            erasure::job::Joined::Completed => tell = user,
        }
    }
    // Verification: the access collection again, which must find nothing but legal holds.
    // (The request is out of the person's listing while it is processed, so the job left it;
    // it is anonymised when it completes.)
    let subject = Subject { user_id: user_id.to_owned(), canonical_email: String::new() };
    let remaining = erasure::collect(platform, &subject).await?;
    let held = remaining.iter().filter(|item| item.attrs.contains_key("legal_hold")).count();
    let left = remaining.len() - held;
    let exports = platform.blobs.list(&erasure::export_prefix(user_id)).await?;
    if left > 0 || !exports.is_empty() {
        return Err(WorkError::NotErased { items: left, exports: exports.len() });
    }
    // The job told the requester when it completed (it alone kept their address).
    Ok(Done {
        note: format!("erased; verified: 0 items left, {held} kept under a legal duty"),
        exports: None,
        tell,
        anonymise: true,
    })
}

async fn finish(platform: &Platform, mut request: RightsRequest, done: Done) -> Result<(), WorkError> {
    // A conflict means someone changed the request meanwhile (an operator's extension, or a
    // duplicate run): read it again and complete that version, unless it is closed already.
    for _attempt in 0..3 {
        let due_at = request.due_at;
        request.exports = done.exports.clone();
        if request.kind == RequestType::Erasure || done.anonymise {
            request.anonymise();
        }
        request.transition(Status::Completed, "worker", Some(done.note.clone()), platform.clock.epoch_seconds())?;
        match rights::save(platform, &mut request, due_at).await {
            Ok(()) => return tell(platform, &request, done.tell).await,
            Err(SaveError::Conflict) => match rights::load(platform, &request.id).await? {
                Some(fresh) if fresh.status == Status::Processing => request = fresh,
                _ => return Ok(()),
            },
            Err(SaveError::Store(err)) => return Err(err.into()),
        }
    }
    Err(WorkError::KeptChanging)
}

async fn tell(platform: &Platform, request: &RightsRequest, to: Option<UserRecord>) -> Result<(), WorkError> {
    if let Some(to) = to {
        let mut notice = emails::completed(&platform.settings, &to.email, to.lang, request);
        if request.kind == RequestType::Erasure {
            // The person is erased: their notice is not filed under the address (as the job's).
            notice.category = mail::ERASURE_NOTICE.into();
            mail::enqueue_erasure_notice(platform, vec![notice]).await?;
        } else {
            mail::enqueue(platform, vec![notice]).await?;
        }
    }
    tracing::info!(request_id = %request.id, kind = request.kind.as_str(), "rights request completed");
    Ok(())
}

async fn give_up(platform: &Platform, mut request: RightsRequest, reason: String) -> Result<(), WorkError> {
    let due_at = request.due_at;
    let tell = match &request.user_id {
        Some(user_id) => accounts::find_user(platform, user_id).await?,
        None => None,
    };
    request.failure_reason = Some(reason.clone());
    request.transition(Status::Failed, "worker", Some(reason), platform.clock.epoch_seconds())?;
    rights::save(platform, &mut request, due_at).await.map_err(|err| match err {
        SaveError::Conflict => WorkError::Changed,
        SaveError::Store(err) => err.into(),
    })?;
    if let Some(to) = tell {
        let notice = emails::failed(&platform.settings, &to.email, to.lang, &request);
        mail::enqueue(platform, vec![notice]).await?;
    }
    Ok(())
}
