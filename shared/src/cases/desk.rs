//! What operators do with cases: list and filter, classify, reply, link to an account, close
//! with an outcome. Every action is kept in the case's history (the operator's id, never a
//! text of theirs or the sender's). The caller checks operator rights first.

use super::{Case, CaseKind, CaseStatus, MAX_TEXT, emails};
use crate::Platform;
use crate::accounts;
use crate::keys;
use crate::mail;
use crate::queue::QueueError;
use crate::store::{Index, Query, StoreError};

/// The longest outcome note, in characters.
pub const MAX_OUTCOME: usize = 500;
/// What a history note says of an account the case was linked to before.
pub const ANOTHER_ACCOUNT: &str = "another account";

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("No such case.")]
    NotFound,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("The case is closed.")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// One page of the cases in a status, newest first, optionally of one kind only (a page may
/// then hold fewer than `limit`; follow the cursor).
pub async fn list(
    platform: &Platform,
    status: CaseStatus,
    kind: Option<CaseKind>,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<Case>, Option<String>), StoreError> {
    let query =
        Query::index(Index::Gsi3, keys::cases_in_status(status.as_str())).backward().limit(limit).cursor(cursor);
    let page = platform.store.query(query).await?;
    let mut cases = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let case: Case = item.data()?;
        if kind.is_none_or(|kind| case.kind == kind) {
            cases.push(case);
        }
    }
    Ok((cases, page.cursor))
}

pub async fn get(platform: &Platform, case_id: &str) -> Result<Case, DeskError> {
    super::load(platform, case_id).await?.ok_or(DeskError::NotFound)
}

/// Marks the case as acted on by the operator (before the act), so their erasure finds it.
async fn note_act(platform: &Platform, operator_id: &str, case_id: &str) -> Result<(), StoreError> {
    accounts::placeholders::note_operator_act(platform, operator_id, &keys::operator_case_act(case_id)).await
}

/// Applies an operator's change to an open case, under its version; marked first, so the
/// operator's erasure finds the case.
async fn act(
    platform: &Platform,
    operator_id: &str,
    case_id: &str,
    mut change: impl FnMut(&mut Case) -> Result<(), DeskError>,
) -> Result<Case, DeskError> {
    note_act(platform, operator_id, case_id).await?;
    let mut refused = None;
    let case = super::change(platform, case_id, |case| {
        if case.status == CaseStatus::Closed {
            refused = Some(DeskError::Closed);
            return false;
        }
        match change(case) {
            Ok(()) => true,
            Err(err) => {
                refused = Some(err);
                false
            }
        }
    })
    .await?;
    match (case, refused) {
        (_, Some(err)) => Err(err),
        (Some(case), None) => Ok(case),
        (None, None) => Err(DeskError::NotFound),
    }
}

/// Sets what the case is treated as.
pub async fn classify(
    platform: &Platform,
    operator_id: &str,
    case_id: &str,
    kind: CaseKind,
) -> Result<Case, DeskError> {
    let now = platform.clock.epoch_seconds();
    act(platform, operator_id, case_id, |case| {
        case.kind = kind;
        case.record(now, "classified", super::operator(operator_id), Some(kind.as_str().to_owned()));
        Ok(())
    })
    .await
}

/// Links the case to an account (its cases are then erased with that person too).
pub async fn link(platform: &Platform, operator_id: &str, case_id: &str, user_id: &str) -> Result<Case, DeskError> {
    let user = accounts::find_user(platform, user_id).await?.ok_or(DeskError::Invalid("No such account."))?;
    // Nothing new is filed under a person whose erasure has begun.
    if crate::erasure::fence::any(platform, &[&user.user_id, &user.organisation_id]).await?.is_some() {
        return Err(DeskError::Invalid("This account is being erased."));
    }
    let now = platform.clock.epoch_seconds();
    act(platform, operator_id, case_id, |case| {
        // Linked before to another account: the case leaves that account's index, so its id
        // leaves the history too (that account's erasure would not find it here any more).
        if let Some(previous) = case.user_id.take().filter(|previous| *previous != user.user_id) {
            for event in case.history.iter_mut().filter(|event| event.note.as_deref() == Some(previous.as_str())) {
                event.note = Some(ANOTHER_ACCOUNT.into());
            }
        }
        case.user_id = Some(user.user_id.clone());
        case.organisation_id = Some(user.organisation_id.clone());
        case.record(now, "linked", super::operator(operator_id), Some(user.user_id.clone()));
        Ok(())
    })
    .await
}

/// Answers the sender through the mail pipeline, in their account's language if linked.
pub async fn reply(platform: &Platform, operator_id: &str, case_id: &str, message: &str) -> Result<Case, DeskError> {
    let message = message.trim();
    if message.is_empty() || message.chars().count() > MAX_TEXT {
        return Err(DeskError::Invalid("The reply is 1 to 20,000 characters."));
    }
    let current = get(platform, case_id).await?;
    let lang = match &current.user_id {
        Some(user_id) => accounts::find_user(platform, user_id).await?.map(|u| u.lang).unwrap_or_default(),
        None => Default::default(),
    };
    let now = platform.clock.epoch_seconds();
    let case = act(platform, operator_id, case_id, |case| {
        case.record(now, "replied", super::operator(operator_id), None);
        Ok(())
    })
    .await?;
    mail::enqueue(platform, vec![emails::reply(&case.sender, lang, &case, message)]).await?;
    Ok(case)
}

/// Closes the case with an outcome; it is purged `case_retention_days` later.
pub async fn close(platform: &Platform, operator_id: &str, case_id: &str, outcome: &str) -> Result<Case, DeskError> {
    let outcome = outcome.trim();
    if outcome.is_empty() || outcome.chars().count() > MAX_OUTCOME {
        return Err(DeskError::Invalid("The outcome is 1 to 500 characters."));
    }
    let now = platform.clock.epoch_seconds();
    act(platform, operator_id, case_id, |case| {
        case.status = CaseStatus::Closed;
        case.outcome = Some(outcome.to_owned());
        case.closed_at = Some(now);
        case.record(now, "closed", super::operator(operator_id), None);
        Ok(())
    })
    .await
}
