//! Decisions on a request, shared by the API and the desks' pages: an admin of its
//! organisation approves or denies a member's request; an operator extends its deadline once,
//! with a reason, and resolves a failed one (queues it again, or closes it with an outcome). Who may see a request ([`visible`]) is decided here too, so a page and the
//! API can never disagree.

use crate::Platform;
use crate::accounts;
use crate::clock::rfc3339_from_epoch as time;
use crate::domain::Role;
use crate::mail;
use crate::queue::{QueueError, QueueName};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

use super::{
    Extension, IllegalTransition, MAX_EXTENSION_DAYS, RightsMessage, RightsRequest, SaveError, Status, emails,
};

/// A reason is told to the requester: at most this many characters.
pub const MAX_REASON: usize = 1_000;

/// Who acts, as their session says.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub organisation_id: String,
    pub role: Role,
    pub operator: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// Absent, or not the caller's to see: one answer for both.
    #[error("No such rights request.")]
    NotFound,
    #[error("Only an admin of the organisation may do this.")]
    NotAdmin,
    #[error("Only operators may do this.")]
    NotOperator,
    #[error("Only a request awaiting approval can be approved or denied.")]
    NotAwaitingApproval,
    #[error("Only an open request can be extended.")]
    NotOpen,
    #[error("A request can be extended once.")]
    AlreadyExtended,
    /// GDPR Art. 12(3): the person is told of an extension within the first period.
    #[error("The deadline has passed: it can no longer be extended.")]
    DeadlinePassed,
    #[error("A reason of 1 to 1,000 characters is required.")]
    InvalidReason,
    #[error("An extension is 1 day to two further months.")]
    InvalidDays,
    #[error("Only a failed request can be resolved.")]
    NotFailed,
    /// A retry would make a second open request of the type for the person.
    #[error("The requester has filed another request of this type since; that one is open.")]
    AnotherOpen,
    #[error("{0}")]
    Illegal(#[from] IllegalTransition),
    /// Someone else changed the request first.
    #[error("The request changed meanwhile (someone else decided first); reload it.")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<SaveError> for DecisionError {
    fn from(err: SaveError) -> Self {
        match err {
            SaveError::Conflict => DecisionError::Conflict,
            SaveError::Store(err) => DecisionError::Store(err),
        }
    }
}

/// The request, for its requester, an admin of its organisation, or an operator; for anyone
/// else [`DecisionError::NotFound`], as if it did not exist.
pub async fn visible(platform: &Platform, actor: &Actor, id: &str) -> Result<RightsRequest, DecisionError> {
    if ulid::Ulid::from_string(id).is_err() {
        return Err(DecisionError::NotFound);
    }
    let request = super::load(platform, id).await?.ok_or(DecisionError::NotFound)?;
    let admin_of_it = actor.role == Role::Admin && actor.organisation_id == request.organisation_id;
    if request.is_requester(&actor.user_id) || admin_of_it || actor.operator {
        Ok(request)
    } else {
        Err(DecisionError::NotFound)
    }
}

/// A request an admin of its organisation may decide on.
async fn decidable(platform: &Platform, actor: &Actor, id: &str) -> Result<RightsRequest, DecisionError> {
    let request = visible(platform, actor, id).await?;
    if actor.organisation_id != request.organisation_id {
        return Err(DecisionError::NotFound);
    }
    if actor.role != Role::Admin {
        return Err(DecisionError::NotAdmin);
    }
    if request.status != Status::AwaitingOrganisationApproval {
        return Err(DecisionError::NotAwaitingApproval);
    }
    Ok(request)
}

/// Puts a request on the rights queue for the worker.
pub async fn enqueue(platform: &Platform, request_id: &str) -> Result<(), QueueError> {
    let body = serde_json::to_string(&RightsMessage { request_id: request_id.to_owned() })
        .map_err(|err| QueueError::Invalid(err.to_string()))?;
    platform.queue.send(QueueName::Rights, body).await
}

/// An admin approves a member's request: it is queued for the worker.
#[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
pub async fn approve(platform: &Platform, actor: &Actor, id: &str) -> Result<RightsRequest, DecisionError> {
    let mut request = decidable(platform, actor, id).await?;
    let before = request.clone();
    let due_at = request.due_at;
    request.transition(Status::Queued, format!("admin:{}", actor.user_id), None, platform.clock.epoch_seconds())?;
    // Saved first, then queued (L4): the worker never reads a request not yet approved (which
    // would cost a receive and the queue's 30-minute visibility timeout), and an approval that
    // loses to another admin's decision queues nothing. If the message cannot be sent, the
    // request goes back to awaiting approval, so it is never queued with no message.
    super::save(platform, &mut request, due_at).await?;
    if let Err(err) = enqueue(platform, &request.id).await {
        let mut back = before;
        back.version = request.version;
        super::save(platform, &mut back, due_at).await?;
        return Err(err.into());
    }
    Ok(request)
}

/// The reason, trimmed, if it has 1 to [`MAX_REASON`] characters.
pub fn check_reason(reason: &str) -> Result<String, DecisionError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(DecisionError::InvalidReason);
    }
    Ok(reason.to_owned())
}

/// An admin denies a member's request, with a reason the requester is told.
#[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
pub async fn deny(platform: &Platform, actor: &Actor, id: &str, reason: &str) -> Result<RightsRequest, DecisionError> {
    let reason = check_reason(reason)?;
    let mut request = decidable(platform, actor, id).await?;
    let due_at = request.due_at;
    let now = platform.clock.epoch_seconds();
    request.transition(Status::Denied, format!("admin:{}", actor.user_id), Some(reason.clone()), now)?;
    super::save(platform, &mut request, due_at).await?;
    if let Some(user_id) = &request.user_id
        && let Ok(user) = accounts::load_user(platform, user_id).await
    {
        let notice = emails::denied(&user.email, user.lang, &request, &reason, &platform.settings);
        mail::enqueue(platform, vec![notice]).await?;
    }
    Ok(request)
}

/// An operator extends an open request's deadline, once, before it passes, by 1 day to two
/// further calendar months; the requester is told why.
#[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
pub async fn extend(
    platform: &Platform,
    actor: &Actor,
    id: &str,
    reason: &str,
    days: i64,
) -> Result<RightsRequest, DecisionError> {
    if !actor.operator {
        return Err(DecisionError::NotOperator);
    }
    let reason = check_reason(reason)?;
    if !(1..=MAX_EXTENSION_DAYS).contains(&days) {
        return Err(DecisionError::InvalidDays);
    }
    let mut request = visible(platform, actor, id).await?;
    if !request.status.is_open() {
        return Err(DecisionError::NotOpen);
    }
    if request.extension.is_some() {
        return Err(DecisionError::AlreadyExtended);
    }
    let now = platform.clock.epoch_seconds();
    if now >= request.due_at {
        return Err(DecisionError::DeadlinePassed);
    }
    accounts::placeholders::note_operator_act(platform, &actor.user_id, &request.id).await?;
    let previous_due = request.due_at;
    let extended = request.due_at + days * 24 * 3600;
    if extended > super::latest_extended_deadline(previous_due) {
        return Err(DecisionError::InvalidDays);
    }
    request.due_at = extended;
    request.extension = Some(Extension { days, reason: reason.clone(), at: time(now) });
    request.note(format!("operator:{}", actor.user_id), format!("deadline extended by {days} days"), now);
    super::save(platform, &mut request, previous_due).await?;
    if let Some(user_id) = &request.user_id
        && let Ok(user) = accounts::load_user(platform, user_id).await
    {
        mail::enqueue(platform, vec![emails::extended(&user.email, user.lang, &request, &reason)]).await?;
    }
    Ok(request)
}

/// What an operator does with a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Queue it for the worker again (once the cause is mended).
    Retry,
    /// Close it as done: carried out another way.
    Complete,
    /// Close it as refused; the requester is told the reason.
    Refuse,
}

/// An operator resolves a failed request, which otherwise stays on the overdue list for good:
/// queued again (taking back its place as the person's open request of its type), or closed
/// as completed or refused with a reason (required to close, kept in the history and told to
/// the requester).
#[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
pub async fn resolve(
    platform: &Platform,
    actor: &Actor,
    id: &str,
    resolution: Resolution,
    reason: Option<&str>,
) -> Result<RightsRequest, DecisionError> {
    if !actor.operator {
        return Err(DecisionError::NotOperator);
    }
    let reason = match (resolution, reason.map(str::trim).filter(|r| !r.is_empty())) {
        (_, Some(reason)) => Some(check_reason(reason)?),
        (Resolution::Retry, None) => None,
        (_, None) => return Err(DecisionError::InvalidReason),
    };
    let mut request = visible(platform, actor, id).await?;
    if request.status != Status::Failed {
        return Err(DecisionError::NotFailed);
    }
    accounts::placeholders::note_operator_act(platform, &actor.user_id, &request.id).await?;
    let now = platform.clock.epoch_seconds();
    let by = format!("operator:{}", actor.user_id);
    if resolution == Resolution::Retry {
        let before = request.clone();
        request.transition(Status::Queued, by, reason, now)?;
        request.failure_reason = None;
        match super::reopen(platform, &mut request).await? {
            super::Reopened::Yes => {}
            super::Reopened::AnotherOpen => return Err(DecisionError::AnotherOpen),
        }
        // Saved first, then queued: if the message cannot be sent, the request goes back to
        // failed (as it was), so it is never queued with no message to carry it out.
        if let Err(err) = enqueue(platform, &request.id).await {
            let mut back = before;
            back.version = request.version;
            let due_at = back.due_at;
            super::save(platform, &mut back, due_at).await?;
            return Err(err.into());
        }
        return Ok(request);
    }
    let (to, outcome) = match resolution {
        Resolution::Complete => (Status::Completed, "completed"),
        _ => (Status::Denied, "refused"),
    };
    let tell = match &request.user_id {
        Some(user_id) => accounts::find_user(platform, user_id).await?,
        None => None,
    };
    let reason = reason.unwrap_or_default();
    let due_at = request.due_at;
    request.transition(to, by, Some(reason.clone()), now)?;
    // A completed erasure keeps no trace of the person, as when the worker completes it.
    if request.kind == super::RequestType::Erasure && to == Status::Completed {
        request.anonymise();
    }
    super::save(platform, &mut request, due_at).await?;
    if let Some(user) = tell {
        let notice = emails::resolved(&platform.settings, &user.email, user.lang, &request, outcome, &reason);
        mail::enqueue(platform, vec![notice]).await?;
    }
    Ok(request)
}

/// One page of the open requests of every organisation, earliest deadline first (operators);
/// `overdue_at` keeps only those due before it. Entries of requests erased with their
/// requester are dropped on the way.
pub async fn open_page(
    platform: &Platform,
    overdue_at: Option<i64>,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<RightsRequest>, Option<String>), StoreError> {
    let page = platform.store.query(super::open_query(overdue_at).limit(limit).cursor(cursor)).await?;
    let mut requests = Vec::with_capacity(page.items.len());
    for entry in &page.items {
        let Some(id) = entry.attrs.get("request_id").and_then(|v| v.as_str()) else { continue };
        match super::load(platform, id).await? {
            Some(request) => requests.push(request),
            None => super::drop_open_entry(platform, &entry.key).await?,
        }
    }
    Ok((requests, page.cursor))
}

/// One page of an organisation's requests, newest first (its admins).
pub async fn organisation_page(
    platform: &Platform,
    organisation_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<RightsRequest>, Option<String>), StoreError> {
    let query =
        crate::store::Query::index(crate::store::Index::Gsi1, crate::keys::organisation_rights(organisation_id))
            .backward()
            .limit(limit)
            .cursor(cursor);
    let page = platform.store.query(query).await?;
    let requests = page.items.iter().map(|item| item.data()).collect::<Result<_, _>>()?;
    Ok((requests, page.cursor))
}
