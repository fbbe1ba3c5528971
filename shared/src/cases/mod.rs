//! Cases: every message to hello@ becomes one, on the operators' desk.
//!
//! A case holds the sender's address, the subject, when the message arrived, a suggested kind
//! ([`classify`]), the text (bounded), its status and the account it is linked to. Its history
//! names actions, ids and roles only. Nothing is done on an e-mail's say-so: [`intake`] answers
//! with a single-use confirmation link, mailed to the account's own address, and only
//! [`confirm`] acts.
//!
//! Where cases live: `CASE#<id>`, indexed by the sender's address hash or, once linked, by the
//! account (GSI1: erasure finds them either way, see `erasure::LOCATIONS`), and listed for
//! operators by status (GSI3). A closed case is purged `INFENTRE_CASE_RETENTION_DAYS` after
//! closure (TTL on DynamoDB, the sweeper on SQLite).

pub mod classify;
pub mod confirm;
pub mod desk;
pub mod emails;
#[cfg(feature = "inbound")]
pub mod intake;

use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::clock::rfc3339_from_epoch;
use crate::keys;
use crate::store::{Condition, Index, IndexKey, Item, StoreError};

pub use classify::classify;

/// The longest subject and text kept, in characters; longer ones are cut.
pub const MAX_SUBJECT: usize = 200;
pub const MAX_TEXT: usize = 20_000;

/// What a message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    WithdrawConsent,
    Access,
    Correction,
    Erasure,
    Portability,
    Complaint,
    Other,
}

impl CaseKind {
    pub const ALL: [CaseKind; 7] = [
        CaseKind::WithdrawConsent,
        CaseKind::Access,
        CaseKind::Correction,
        CaseKind::Erasure,
        CaseKind::Portability,
        CaseKind::Complaint,
        CaseKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::WithdrawConsent => "withdraw_consent",
            CaseKind::Access => "access",
            CaseKind::Correction => "correction",
            CaseKind::Erasure => "erasure",
            CaseKind::Portability => "portability",
            CaseKind::Complaint => "complaint",
            CaseKind::Other => "other",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// Whether a confirmation link can carry it out: consent withdrawal and the rights
    /// requests that need no more than the request itself. A correction names what to change
    /// (an operator reads it), a complaint or anything else is for an operator to answer.
    pub fn confirmable(self) -> bool {
        matches!(self, CaseKind::WithdrawConsent | CaseKind::Access | CaseKind::Erasure | CaseKind::Portability)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Waiting for the sender's confirmation link.
    AwaitingConfirmation,
    /// For an operator to handle.
    Open,
    /// Confirmed by the link and carried out.
    Confirmed,
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 4] =
        [CaseStatus::AwaitingConfirmation, CaseStatus::Open, CaseStatus::Confirmed, CaseStatus::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::AwaitingConfirmation => "awaiting_confirmation",
            CaseStatus::Open => "open",
            CaseStatus::Confirmed => "confirmed",
            CaseStatus::Closed => "closed",
        }
    }

    pub fn parse(status: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == status)
    }
}

/// One step of a case: what happened, when, by whom (a role and an id, never an address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct CaseEvent {
    /// RFC 3339.
    pub at: String,
    /// `received`, `linked`, `link_mailed`, `confirmed`, `classified`, `replied`, `closed`.
    pub action: String,
    /// `intake`, `sender`, `operator:<user id>`.
    pub by: String,
    /// Ids and kinds only (a rights request's id, a new kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Case {
    pub id: String,
    /// The sender's address (from the message's `From`).
    pub sender: String,
    pub subject: String,
    /// When the message arrived (unix seconds): a rights request's clock starts here.
    pub received_at: i64,
    /// What the rules suggested.
    pub suggested_kind: CaseKind,
    /// What the case is treated as (the suggestion until an operator classifies it).
    pub kind: CaseKind,
    /// The message's plain text, at most [`MAX_TEXT`] characters.
    pub text: String,
    pub status: CaseStatus,
    /// The account whose address sent it, or that an operator linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<String>,
    /// The rights request the confirmation filed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    pub history: Vec<CaseEvent>,
    pub version: u64,
}

impl Case {
    /// The case as stored: indexed by its account (or, unlinked, by its sender's address) and
    /// listed under its status; a closed one expires `retention_days` after closure.
    pub fn item(&self, retention_days: i64) -> Result<Item, StoreError> {
        let owner = match &self.user_id {
            Some(user_id) => keys::cases_of_user(user_id),
            None => keys::cases_of_sender(&canonical(&self.sender)),
        };
        let item = Item::new(keys::case(&self.id), "case")
            .with_data(self)?
            .with_index(Index::Gsi1, IndexKey::new(owner, format!("CASE#{}", self.id)))
            .with_index(
                Index::Gsi3,
                IndexKey::new(
                    keys::cases_in_status(self.status.as_str()),
                    keys::case_listing_sort(self.received_at, &self.id),
                ),
            );
        Ok(match self.closed_at {
            Some(closed_at) => item.expires_at(closed_at + retention_days * 24 * 3600),
            None => item,
        })
    }

    pub fn record(&mut self, now: i64, action: &str, by: impl Into<String>, note: Option<String>) {
        self.history.push(CaseEvent { at: rfc3339_from_epoch(now), action: action.into(), by: by.into(), note });
    }
}

/// A confirmation link as stored (under the hash of its token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseLink {
    pub case_id: String,
    pub user_id: String,
}

/// The address as compared with accounts' (the same rule as signup's).
pub(crate) fn canonical(address: &str) -> String {
    crate::domain::EmailAddress::parse(address)
        .map(|email| email.canonical().to_owned())
        .unwrap_or_else(|_| address.trim().to_lowercase())
}

/// Cuts `text` to at most `max` characters.
#[cfg(feature = "inbound")]
pub(crate) fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

pub async fn load(platform: &Platform, case_id: &str) -> Result<Option<Case>, StoreError> {
    // Case ids are ULIDs: anything else names no case (and never reaches the store's key rules).
    if case_id.len() != 26 || !case_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    match platform.store.get(&keys::case(case_id)).await? {
        Some(item) => Ok(Some(item.data()?)),
        None => Ok(None),
    }
}

/// Writes a changed case under optimistic locking: `false` when someone changed it first.
pub async fn save(platform: &Platform, case: &mut Case) -> Result<bool, StoreError> {
    let expected = case.version;
    case.version += 1;
    let item = case.item(platform.settings.case_retention_days)?;
    match platform.store.put(item, Some(Condition::equals("version", expected))).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => {
            case.version = expected;
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Re-reads and applies `change` until it is written (or the case is gone): for the small
/// changes of one actor that may meet another's.
pub async fn change(
    platform: &Platform,
    case_id: &str,
    mut change: impl FnMut(&mut Case) -> bool,
) -> Result<Option<Case>, StoreError> {
    for _ in 0..5 {
        let Some(mut case) = load(platform, case_id).await? else { return Ok(None) };
        if !change(&mut case) {
            return Ok(Some(case));
        }
        if save(platform, &mut case).await? {
            return Ok(Some(case));
        }
    }
    Err(StoreError::TransactionConflict)
}

impl CaseKind {
    /// The rights request a confirmed case files, if it files one.
    pub fn request_type(self) -> Option<crate::rights::RequestType> {
        use crate::rights::RequestType;
        match self {
            CaseKind::Access => Some(RequestType::Access),
            CaseKind::Erasure => Some(RequestType::Erasure),
            CaseKind::Portability => Some(RequestType::Portability),
            CaseKind::Correction => Some(RequestType::Correction),
            _ => None,
        }
    }
}

/// How a case's history names an operator.
pub(crate) fn operator(operator_id: &str) -> String {
    format!("operator:{operator_id}")
}

/// When an operator is erased: in the cases they acted on, their id becomes
/// `crate::accounts::placeholders::ERASED_OPERATOR`. Returns how many cases changed.
pub async fn forget_operator(platform: &Platform, operator_id: &str) -> Result<usize, StoreError> {
    let prefix = keys::operator_case_act("");
    let acts = crate::store::Query::partition(keys::operator_acts(operator_id)).limit(1_000);
    let as_operator = operator(operator_id);
    let mut changed = 0;
    for marker in crate::store::query_all(platform.store.as_ref(), acts).await? {
        let Some(case_id) = marker.key.sk.strip_prefix(&prefix) else { continue };
        let mut touched = false;
        change(platform, case_id, |case| {
            touched = false;
            for event in case.history.iter_mut().filter(|event| event.by == as_operator) {
                event.by = crate::accounts::placeholders::ERASED_OPERATOR.to_owned();
                touched = true;
            }
            touched
        })
        .await?;
        changed += usize::from(touched);
    }
    Ok(changed)
}
