//! Rights requests (GDPR Art. 15–20): the record, its state machine and where it is kept.
//!
//! A request is one item, changed only by [`save`] under optimistic locking (a `version`
//! attribute), so two admins deciding at once cannot both win. Every change of status is kept
//! as history (who, when, from, to), with ids only. Open requests also have two small items: a
//! lock in the requester's partition (one open request per type and person) and an entry in
//! the operators' list of open requests ordered by due date (overdue = a range query).
//!
//! After an erasure the request stays, anonymous: the requester's id, details and changes are
//! removed, so it proves the erasure without being about the person any more.

pub mod decisions;
pub mod emails;
pub mod recorded;
pub mod requester;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::erasure::fence::{self, FencedWrite};
use crate::keys;
use crate::store::{Condition, Index, IndexKey, Item, Key, Query, SortKey, StoreError, TransactOp};
use crate::{Platform, clock::rfc3339_from_epoch};

/// An extension adds at most two further months: 62 days at the very most, and never past
/// two calendar months after the deadline ([`latest_extended_deadline`]).
pub const MAX_EXTENSION_DAYS: i64 = 62;

/// `months` calendar months after `at` (the same time of day; the last day of a shorter
/// month when the day does not exist, so 31 January + 1 month is 28 or 29 February).
fn add_months(at: i64, months: u32) -> i64 {
    chrono::DateTime::from_timestamp(at, 0)
        .and_then(|t| t.checked_add_months(chrono::Months::new(months)))
        .map_or(at.saturating_add(i64::from(months) * 31 * 24 * 3600), |t| t.timestamp())
}

/// GDPR Art. 12(3): the answer is due one calendar month after receipt.
pub fn deadline(received_at: i64) -> i64 {
    add_months(received_at, 1)
}

/// The latest an extension may move a deadline to: two further calendar months.
pub fn latest_extended_deadline(due_at: i64) -> i64 {
    add_months(due_at, 2)
}
/// How long a requester's export link stays valid. Each GET of the export endpoint signs a
/// fresh one; in AWS it is signed with the function role's temporary credentials, and a
/// presigned URL dies with them, so it must stay well inside their lifetime (an hour at most).
pub const EXPORT_LINK_SECONDS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestType {
    Access,
    Portability,
    Correction,
    Erasure,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Access => "access",
            RequestType::Portability => "portability",
            RequestType::Correction => "correction",
            RequestType::Erasure => "erasure",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    AwaitingOrganisationApproval,
    Queued,
    Processing,
    Completed,
    Denied,
    Failed,
}

impl Status {
    pub fn is_open(self) -> bool {
        matches!(self, Status::AwaitingOrganisationApproval | Status::Queued | Status::Processing)
    }

    /// The workflow, as one table: which status may follow which (`None`: a new request).
    /// Everything else is refused by [`RightsRequest::transition`].
    pub fn may_follow(from: Option<Status>, to: Status) -> bool {
        use Status::*;
        matches!(
            (from, to),
            (None, AwaitingOrganisationApproval)
                | (Some(AwaitingOrganisationApproval), Queued | Denied)
                | (Some(Queued), Processing)
                | (Some(Processing), Completed | Failed)
                // An operator resolves a failed request: another try, or closed by hand.
                | (Some(Failed), Queued | Completed | Denied)
        )
    }
}

/// A move the workflow does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a request cannot move from {from:?} to {to:?}")]
pub struct IllegalTransition {
    pub from: Option<Status>,
    pub to: Status,
}

/// One change of status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    /// RFC 3339.
    pub at: String,
    pub from: Option<Status>,
    pub to: Status,
    /// `requester`, `admin:<user id>`, `operator:<user id>` or `worker`.
    pub by: String,
    /// Counts, reasons of the organisation or operator, never personal data of the requester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Extension {
    pub days: i64,
    pub reason: String,
    pub at: String,
}

/// Exports of a completed access or portability request, in the blob store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Exports {
    pub json: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv_zip: Option<String>,
    /// When the files are deleted (unix seconds): 7 days after they were made.
    #[serde(default)]
    pub expires_at: i64,
}

/// Export files are kept this long (the S3 bucket's lifecycle rule says the same).
pub const EXPORT_RETENTION_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RightsRequest {
    pub id: String,
    pub organisation_id: String,
    /// `None` once an erasure has completed: the request is then anonymous.
    pub user_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: RequestType,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Map<String, Value>>,
    pub created_at: i64,
    pub due_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<Extension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exports: Option<Exports>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub history: Vec<HistoryEntry>,
    pub version: u64,
}

fn lock_key(user_id: &str, kind: RequestType) -> Key {
    keys::open_rights_lock(user_id, kind.as_str())
}

/// Open requests, earliest deadline first; `overdue_at` limits them to those due before it.
pub fn open_query(overdue_at: Option<i64>) -> Query {
    let query = Query::partition(keys::OPEN_RIGHTS_PARTITION);
    match overdue_at {
        Some(now) => query.sort(SortKey::LessThan(keys::open_rights_due_before(now))),
        None => query,
    }
}

/// Why a save did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Someone else changed the request first (or, on create, the type is already open).
    #[error("the request changed meanwhile")]
    Conflict,
    #[error(transparent)]
    Store(StoreError),
}

impl RightsRequest {
    pub fn new(
        id: String,
        organisation_id: String,
        user_id: String,
        kind: RequestType,
        details: Option<String>,
        changes: Option<Map<String, Value>>,
        now: i64,
    ) -> Self {
        Self {
            id,
            organisation_id,
            user_id: Some(user_id),
            kind,
            status: Status::AwaitingOrganisationApproval,
            details,
            changes,
            created_at: now,
            due_at: deadline(now),
            extension: None,
            exports: None,
            failure_reason: None,
            history: Vec::new(),
            version: 0,
        }
    }

    pub fn item(&self) -> Result<Item, StoreError> {
        let mut item = Item::new(keys::rights_request(&self.id), "rights_request")
            .with_data(self)?
            .with_index(Index::Gsi1, IndexKey::new(keys::organisation_rights(&self.organisation_id), &self.id));
        // An erasure being carried out leaves the person's listing, which the erasure itself
        // empties: the request must outlive what it erases (it is anonymised when it completes).
        let erasing = self.kind == RequestType::Erasure && self.status == Status::Processing;
        if let Some(user_id) = self.user_id.as_ref().filter(|_| !erasing) {
            item = item.with_index(Index::Gsi3, IndexKey::new(keys::user_rights(user_id), &self.id));
        }
        Ok(item)
    }

    /// Moves to `to`, recording who and why; refused unless [`Status::may_follow`] allows it.
    pub fn transition(
        &mut self,
        to: Status,
        by: impl Into<String>,
        note: Option<String>,
        now: i64,
    ) -> Result<(), IllegalTransition> {
        let from = if self.history.is_empty() { None } else { Some(self.status) };
        if !Status::may_follow(from, to) {
            return Err(IllegalTransition { from, to });
        }
        self.history.push(HistoryEntry { at: rfc3339_from_epoch(now), from, to, by: by.into(), note });
        self.status = to;
        Ok(())
    }

    /// Records an event that does not change the status (an extended deadline, say).
    pub fn note(&mut self, by: impl Into<String>, note: impl Into<String>, now: i64) {
        let status = self.status;
        self.history.push(HistoryEntry {
            at: rfc3339_from_epoch(now),
            from: Some(status),
            to: status,
            by: by.into(),
            note: Some(note.into()),
        });
    }

    /// Drops everything about the requester: what remains is an anonymous record that the
    /// erasure happened (ids of the organisation and its admins, times, counts), with no free
    /// text (reasons and notes go).
    pub fn anonymise(&mut self) {
        if let Some(user_id) = self.user_id.take() {
            for entry in &mut self.history {
                if entry.by == user_id {
                    entry.by = "requester".into();
                }
            }
        }
        self.details = None;
        self.changes = None;
        self.exports = None;
        // No free text stays in an anonymous record: reasons and notes may name the person.
        self.failure_reason = None;
        if let Some(extension) = &mut self.extension {
            extension.reason.clear();
        }
        for entry in &mut self.history {
            entry.note = None;
        }
    }

    pub fn is_requester(&self, user_id: &str) -> bool {
        self.user_id.as_deref() == Some(user_id)
    }
}

/// Writes a new request with its lock and its place in the open list, in one transaction.
pub async fn create(platform: &Platform, request: &mut RightsRequest) -> Result<(), CreateError> {
    request.version = 1;
    let user_id = request.user_id.clone().unwrap_or_default();
    let lock = Item::new(lock_key(&user_id, request.kind), "rights_request_lock")
        .with_data(&serde_json::json!({ "request_id": request.id }))
        .map_err(CreateError::Store)?;
    let open = Item::new(keys::open_rights_entry(request.due_at, &request.id), "rights_request_open")
        .with_data(&serde_json::json!({ "request_id": request.id }))
        .map_err(CreateError::Store)?;
    let mut ops = vec![
        TransactOp::Put { item: request.item().map_err(CreateError::Store)?, condition: Some(Condition::NotExists) },
        TransactOp::Put { item: lock, condition: Some(Condition::NotExists) },
        TransactOp::Put { item: open, condition: None },
    ];
    // Not for a requester (or organisation) whose erasure has begun: its job may be past the
    // requests already, and a request waiting for approval would stay.
    let first_guard = ops.len();
    ops.extend(request.user_id.iter().chain([&request.organisation_id]).map(|id| fence::guard(id)));
    match fence::transact_unless_fenced(platform.store.as_ref(), ops, first_guard).await {
        Ok(()) => Ok(()),
        Err(FencedWrite::Fenced) => Err(CreateError::Erased),
        Err(FencedWrite::ConditionFailed) => Err(CreateError::Duplicate),
        Err(FencedWrite::Store(err)) => Err(CreateError::Store(err)),
    }
}

/// Why [`create`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The requester already has an open request of this type.
    #[error("an open request of this type exists")]
    Duplicate,
    /// The requester or their organisation is being erased.
    #[error("the requester is being erased")]
    Erased,
    #[error(transparent)]
    Store(StoreError),
}

/// Removes the open-list entry of a request that no longer exists (erased with its requester).
pub async fn drop_open_entry(platform: &Platform, entry: &Key) -> Result<(), StoreError> {
    platform.store.delete(entry, None).await.map(|_| ())
}

/// Undoes [`create`] (the request could not be queued).
pub async fn withdraw_creation(platform: &Platform, request: &RightsRequest) -> Result<(), StoreError> {
    let user_id = request.user_id.clone().unwrap_or_default();
    platform
        .store
        .transact(vec![
            TransactOp::Delete { key: keys::rights_request(&request.id), condition: None },
            TransactOp::Delete { key: lock_key(&user_id, request.kind), condition: None },
            TransactOp::Delete { key: keys::open_rights_entry(request.due_at, &request.id), condition: None },
        ])
        .await
}

/// The open request of this type, if the user has one.
pub async fn open_request_of(
    platform: &Platform,
    user_id: &str,
    kind: RequestType,
) -> Result<Option<String>, StoreError> {
    let lock = platform.store.get(&lock_key(user_id, kind)).await?;
    Ok(lock.and_then(|item| item.attrs.get("request_id").and_then(|v| v.as_str()).map(str::to_owned)))
}

pub async fn load(platform: &Platform, id: &str) -> Result<Option<RightsRequest>, StoreError> {
    match platform.store.get(&keys::rights_request(id)).await? {
        Some(item) => Ok(Some(item.data()?)),
        None => Ok(None),
    }
}

/// Saves a changed request if nobody else changed it since it was read (its `version`), and
/// keeps the lock and the open list in step: a closed request leaves both; a moved deadline
/// moves its place in the list.
pub async fn save(platform: &Platform, request: &mut RightsRequest, previous_due_at: i64) -> Result<(), SaveError> {
    let read_version = request.version;
    request.version += 1;
    let mut ops = vec![TransactOp::Put {
        item: request.item().map_err(SaveError::Store)?,
        condition: Some(Condition::equals("version", read_version)),
    }];
    if !request.status.is_open() {
        // A failed request is not answered: it stays on the list by deadline (and so on the
        // overdue list and in the DPO's alerts) until someone resolves it.
        if request.status != Status::Failed {
            ops.push(TransactOp::Delete {
                key: keys::open_rights_entry(previous_due_at, &request.id),
                condition: None,
            });
        }
        if let Some(user_id) = &request.user_id {
            ops.push(TransactOp::Delete { key: lock_key(user_id, request.kind), condition: None });
        }
    } else if previous_due_at != request.due_at {
        ops.push(TransactOp::Delete { key: keys::open_rights_entry(previous_due_at, &request.id), condition: None });
        let open = Item::new(keys::open_rights_entry(request.due_at, &request.id), "rights_request_open")
            .with_data(&serde_json::json!({ "request_id": request.id }))
            .map_err(SaveError::Store)?;
        ops.push(TransactOp::Put { item: open, condition: None });
    }
    match platform.store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(err) => {
            request.version = read_version;
            if err.is_condition_failed() { Err(SaveError::Conflict) } else { Err(SaveError::Store(err)) }
        }
    }
}

/// Whether a failed request could be queued again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reopened {
    Yes,
    /// The requester has another open request of the type (filed after this one failed).
    AnotherOpen,
}

/// Saves a failed request that is open again (queued for another try): as [`save`], and it
/// takes back the requester's lock for its type (a failed request gave it up). Its place in
/// the open list it never left.
pub async fn reopen(platform: &Platform, request: &mut RightsRequest) -> Result<Reopened, SaveError> {
    let read_version = request.version;
    request.version += 1;
    let mut ops = vec![TransactOp::Put {
        item: request.item().map_err(SaveError::Store)?,
        condition: Some(Condition::equals("version", read_version)),
    }];
    /// The operation that takes the lock: its failure means another open request holds it.
    const LOCK_OP: usize = 1;
    if let Some(user_id) = &request.user_id {
        let lock = Item::new(lock_key(user_id, request.kind), "rights_request_lock")
            .with_data(&serde_json::json!({ "request_id": request.id }))
            .map_err(SaveError::Store)?;
        ops.push(TransactOp::Put { item: lock, condition: Some(Condition::NotExists) });
    }
    let result = platform.store.transact(ops).await;
    if result.is_err() {
        request.version = read_version;
    }
    match result {
        Ok(()) => Ok(Reopened::Yes),
        Err(StoreError::ConditionFailed { operation: Some(LOCK_OP) }) => Ok(Reopened::AnotherOpen),
        Err(err) if err.is_condition_failed() => Err(SaveError::Conflict),
        Err(err) => Err(SaveError::Store(err)),
    }
}

/// A rights-request message on the rights queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RightsMessage {
    pub request_id: String,
}

#[cfg(test)]
mod tests {

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp()).unwrap_or_default()
    }

    #[test]
    fn the_deadline_is_one_calendar_month_and_an_extension_two_more() {
        assert_eq!(deadline(at("2026-11-29T09:00:00Z")), at("2026-12-29T09:00:00Z"));
        assert_eq!(deadline(at("2027-01-31T12:00:00Z")), at("2027-02-28T12:00:00Z"), "the month's last day");
        assert_eq!(deadline(at("2028-01-31T12:00:00Z")), at("2028-02-29T12:00:00Z"), "a leap year");
        assert_eq!(latest_extended_deadline(at("2026-12-29T09:00:00Z")), at("2027-02-28T09:00:00Z"));
        assert_eq!(latest_extended_deadline(at("2027-06-30T00:00:00Z")), at("2027-08-30T00:00:00Z"));
    }
    use super::*;

    fn request() -> RightsRequest {
        RightsRequest::new("01J".into(), "org".into(), "user".into(), RequestType::Access, None, None, 0)
    }

    #[test]
    fn the_workflow_allows_only_its_own_moves() {
        use Status::*;
        let all = [AwaitingOrganisationApproval, Queued, Processing, Completed, Denied, Failed];
        let allowed: Vec<(Option<Status>, Status)> = std::iter::once(None)
            .chain(all.map(Some))
            .flat_map(|from| all.map(move |to| (from, to)))
            .filter(|(from, to)| Status::may_follow(*from, *to))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (None, AwaitingOrganisationApproval),
                (Some(AwaitingOrganisationApproval), Queued),
                (Some(AwaitingOrganisationApproval), Denied),
                (Some(Queued), Processing),
                (Some(Processing), Completed),
                (Some(Processing), Failed),
                // An operator resolves a failed request: tried again, or closed either way.
                (Some(Failed), Queued),
                (Some(Failed), Completed),
                (Some(Failed), Denied),
            ]
        );
    }

    #[test]
    fn an_illegal_move_changes_nothing() {
        let mut request = request();
        request.transition(Status::AwaitingOrganisationApproval, "user", None, 1).unwrap();
        let err = request.transition(Status::Completed, "worker", None, 2).unwrap_err();
        assert_eq!(err, IllegalTransition { from: Some(Status::AwaitingOrganisationApproval), to: Status::Completed });
        assert_eq!(request.status, Status::AwaitingOrganisationApproval);
        assert_eq!(request.history.len(), 1);
        request.transition(Status::Denied, "admin:a", Some("no".into()), 3).unwrap();
        assert!(request.transition(Status::Queued, "admin:b", None, 4).is_err(), "a denial is final");
    }
}
