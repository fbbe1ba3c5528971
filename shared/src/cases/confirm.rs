//! The confirmation link: the only way an inbound message changes anything.
//!
//! The link is used up first (a conditional delete: of two clicks at once, one wins), then the
//! case is carried out: a consent withdrawal through the consent use case (receipts and
//! history as any other withdrawal), a rights request filed on the person's behalf with its
//! deadline counted from the e-mail's arrival. A used or expired link does nothing.

use super::{Case, CaseKind, CaseLink, CaseStatus};
use crate::Platform;
use crate::accounts::{self, AccountError};
use crate::consent::{self, Method, PurposeId, RecordError};
use crate::keys;
use crate::rights::requester::{self, FileError, Requester};
use crate::store::{Condition, Item, StoreError};
use crate::tokens;

/// The purposes an e-mailed withdrawal withdraws: the marketing ones (product e-mails, and
/// sharing usage with advertisers).
pub const WITHDRAWN_BY_EMAIL: [PurposeId; 2] = [PurposeId::ProductUpdates, PurposeId::MarketingSharing];

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// Unknown, used or expired: the same answer for each.
    #[error("This link is not valid: it was used already or has expired.")]
    InvalidLink,
    /// The account is gone or being erased.
    #[error("the account is no longer there")]
    AccountGone,
    /// The rights request cannot be filed (the last admin's erasure, say).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not file the request")]
    Filing(#[source] FileError),
}

impl From<RecordError> for ConfirmError {
    fn from(err: RecordError) -> Self {
        match err {
            RecordError::Erased => ConfirmError::AccountGone,
            RecordError::Contended => ConfirmError::Store(StoreError::TransactionConflict),
            RecordError::Store(err) => ConfirmError::Store(err),
        }
    }
}

/// What the link would do, for the page that asks to confirm.
#[derive(Debug, Clone)]
pub struct Preview {
    pub case: Case,
    pub lang: crate::lang::Lang,
}

/// What confirming did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub case_id: String,
    pub kind: CaseKind,
    /// The rights request filed (or already open for the same kind).
    pub rights_request_id: Option<String>,
}

/// The link's stored item (kept to put it back if carrying out fails) and what it names.
async fn link_of(platform: &Platform, token: &str) -> Result<(Item, CaseLink), ConfirmError> {
    let hash = tokens::hash(token).ok_or(ConfirmError::InvalidLink)?;
    let item = platform.store.get(&keys::case_link(&hash)).await?.ok_or(ConfirmError::InvalidLink)?;
    let link = item.data()?;
    Ok((item, link))
}

async fn awaiting(platform: &Platform, link: &CaseLink) -> Result<Case, ConfirmError> {
    let case = super::load(platform, &link.case_id).await?.ok_or(ConfirmError::InvalidLink)?;
    if case.status != CaseStatus::AwaitingConfirmation || case.user_id.as_deref() != Some(link.user_id.as_str()) {
        return Err(ConfirmError::InvalidLink);
    }
    Ok(case)
}

/// What a valid link would do; changes nothing.
pub async fn preview(platform: &Platform, token: &str) -> Result<Preview, ConfirmError> {
    let (_, link) = link_of(platform, token).await?;
    let case = awaiting(platform, &link).await?;
    let lang = accounts::find_user(platform, &link.user_id).await?.map(|u| u.lang).unwrap_or_default();
    Ok(Preview { case, lang })
}

/// Uses the link up and carries the case out.
#[tracing::instrument(skip_all)]
pub async fn confirm(platform: &Platform, token: &str) -> Result<Confirmed, ConfirmError> {
    let (link_item, link) = link_of(platform, token).await?;
    let case = awaiting(platform, &link).await?;
    // Used up before anything is done: a second click, even at the same instant, does nothing.
    match platform.store.delete(&link_item.key, Some(Condition::Exists)).await {
        Ok(_) => {}
        Err(StoreError::ConditionFailed { .. }) => return Err(ConfirmError::InvalidLink),
        Err(err) => return Err(err.into()),
    }
    match carry_out(platform, &case, &link).await {
        Ok(confirmed) => {
            let now = platform.clock.epoch_seconds();
            let request_id = confirmed.rights_request_id.clone();
            super::change(platform, &case.id, |case| {
                case.status = CaseStatus::Confirmed;
                case.rights_request_id = request_id.clone();
                case.record(now, "confirmed", "sender", request_id.clone());
                true
            })
            .await?;
            tracing::info!(case_id = %case.id, kind = case.kind.as_str(), "case confirmed");
            Ok(confirmed)
        }
        Err(err) => {
            // Nothing was done: the link works again (unless the account is gone for good).
            if !matches!(err, ConfirmError::AccountGone) {
                platform.store.put(link_item, Some(Condition::NotExists)).await?;
            }
            Err(err)
        }
    }
}

async fn carry_out(platform: &Platform, case: &Case, link: &CaseLink) -> Result<Confirmed, ConfirmError> {
    let user = match accounts::load_user(platform, &link.user_id).await {
        Ok(user) => user,
        Err(AccountError::Store(err)) => return Err(err.into()),
        Err(_) => return Err(ConfirmError::AccountGone),
    };
    if crate::erasure::fence::any(platform, &[&user.user_id, &user.organisation_id]).await?.is_some() {
        return Err(ConfirmError::AccountGone);
    }
    let mut confirmed = Confirmed { case_id: case.id.clone(), kind: case.kind, rights_request_id: None };
    if case.kind == CaseKind::WithdrawConsent {
        for purpose in WITHDRAWN_BY_EMAIL {
            consent::record(platform, &user.user_id, purpose, false, Method::Email).await?;
        }
        return Ok(confirmed);
    }
    let Some(kind) = case.kind.request_type().filter(|_| case.kind.confirmable()) else {
        return Err(ConfirmError::InvalidLink);
    };
    let requester =
        Requester { user_id: user.user_id.clone(), organisation_id: user.organisation_id.clone(), role: user.role };
    let details = Some(format!("Asked by e-mail (case {}).", case.id));
    match requester::file_on_behalf(platform, &requester, kind, details, case.received_at).await {
        Ok(request) => confirmed.rights_request_id = Some(request.id),
        // Already asked for: the open request answers this e-mail too.
        Err(FileError::Duplicate { open, .. }) => confirmed.rights_request_id = Some(open),
        Err(FileError::Refused { detail, .. }) => return Err(ConfirmError::Refused(detail.to_owned())),
        Err(FileError::Account(AccountError::Store(err)) | FileError::Store(err)) => return Err(err.into()),
        Err(FileError::Account(err)) => return Err(ConfirmError::Refused(err.to_string())),
        Err(err) => return Err(ConfirmError::Filing(err)),
    }
    Ok(confirmed)
}
