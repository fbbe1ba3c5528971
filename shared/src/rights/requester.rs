//! What a requester does with their own requests, shared by the API and the privacy
//! center's pages: file one, list them, and get a fresh link to an export.

use serde_json::{Map, Value};

use super::{
    CreateError, EXPORT_LINK_SECONDS, IllegalTransition, RequestType, RightsMessage, RightsRequest, Status, emails,
};
use crate::Platform;
use crate::accounts::{self, AccountError, records::UserRecord};
use crate::blob::{BlobError, SignedUrl};
use crate::domain::{EmailAddress, Invalid, Role};
use crate::queue::{QueueError, QueueName};
use crate::store::{Index, Query, StoreError};
use crate::{keys, mail};

/// At most this many characters of free text.
pub const MAX_DETAILS: usize = 2_000;

/// Who files: the signed-in user.
#[derive(Debug, Clone)]
pub struct Requester {
    pub user_id: String,
    pub organisation_id: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The request itself is malformed: `code` and a text for the person.
    #[error("{detail}")]
    Refused { code: &'static str, detail: &'static str },
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// One open request per type and person: the open one's id.
    #[error("You already have an open {} request: {open}", .kind.as_str())]
    Duplicate { kind: RequestType, open: String },
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

pub(super) fn refused(code: &'static str, detail: &'static str) -> FileError {
    FileError::Refused { code, detail }
}

/// Checks the correction's `changes`: only known fields, each valid.
pub(super) fn check_changes(kind: RequestType, changes: &Option<Map<String, Value>>) -> Result<(), FileError> {
    match (kind, changes) {
        (RequestType::Correction, None) => {
            Err(refused("changes_required", "A correction needs `changes`, e.g. {\"email\": \"new@example.com\"}."))
        }
        (RequestType::Correction, Some(changes)) => {
            if changes.is_empty() {
                return Err(refused("changes_required", "`changes` is empty."));
            }
            for (field, value) in changes {
                match (field.as_str(), value) {
                    ("email", Value::String(email)) => {
                        EmailAddress::parse(email)?;
                    }
                    ("email", _) => return Err(refused("invalid_changes", "`email` must be a string.")),
                    _ => {
                        return Err(refused(
                            "invalid_changes",
                            "Only `email` can be corrected by request; your other data is yours to edit in the app.",
                        ));
                    }
                }
            }
            Ok(())
        }
        (_, Some(_)) => Err(refused("invalid_changes", "Only a correction takes `changes`.")),
        (_, None) => Ok(()),
    }
}

/// Queues a request for the rights worker.
pub async fn enqueue(platform: &Platform, request_id: &str) -> Result<(), QueueError> {
    let body = serde_json::to_string(&RightsMessage { request_id: request_id.to_owned() })
        .map_err(|err| QueueError::Invalid(err.to_string()))?;
    platform.queue.send(QueueName::Rights, body).await?;
    Ok(())
}

/// Erasure cannot be undone, and a new address takes the account over: both need the
/// current password, not only a session (a stolen session alone must not do either).
pub fn needs_password(kind: RequestType, changes: &Option<Map<String, Value>>) -> bool {
    kind == RequestType::Erasure || changes.as_ref().is_some_and(|changes| changes.contains_key("email"))
}

/// Files a request. A member's waits for an admin of their organisation; an admin's is
/// queued at once. One open request per type and person. The requester (and for a member's
/// request, the admins) are told by e-mail. `password` is checked when [`needs_password`].
// Only functions that check passwords (`passwords`) file requests this way; the workers
// build without it.
#[cfg(feature = "passwords")]
#[tracing::instrument(skip_all, fields(user_id = %requester.user_id))]
pub async fn file(
    platform: &Platform,
    requester: &Requester,
    kind: RequestType,
    details: Option<String>,
    changes: Option<Map<String, Value>>,
    password: Option<&str>,
) -> Result<RightsRequest, FileError> {
    if details.as_ref().is_some_and(|d| d.chars().count() > MAX_DETAILS) {
        return Err(refused("details_too_long", "`details` is at most 2,000 characters."));
    }
    check_changes(kind, &changes)?;
    let user = accounts::load_user(platform, &requester.user_id).await?;
    if needs_password(kind, &changes) {
        let Some(password) = password else {
            return Err(refused(
                "password_required",
                "An erasure or a new address needs your current password in `password`.",
            ));
        };
        accounts::confirm_password(platform, &user, password).await?;
    }
    if kind == RequestType::Erasure {
        accounts::refuse_last_admin(platform, &user).await?;
    }
    let now = platform.clock.epoch_seconds();
    file_checked(platform, requester, &user, kind, details, changes, now).await
}

/// Files a request the person asked for outside the product and then confirmed, such as an
/// e-mail to hello@ confirmed by its single-use link: its deadline counts from `received_at`,
/// when the request reached us. No password is asked: the link went to the account's own
/// address, and whoever reads that mailbox could reset the password anyway.
#[tracing::instrument(skip_all, fields(user_id = %requester.user_id))]
pub async fn file_on_behalf(
    platform: &Platform,
    requester: &Requester,
    kind: RequestType,
    details: Option<String>,
    received_at: i64,
) -> Result<RightsRequest, FileError> {
    if details.as_ref().is_some_and(|d| d.chars().count() > MAX_DETAILS) {
        return Err(refused("details_too_long", "`details` is at most 2,000 characters."));
    }
    check_changes(kind, &None)?;
    let user = accounts::load_user(platform, &requester.user_id).await?;
    if kind == RequestType::Erasure {
        accounts::refuse_last_admin(platform, &user).await?;
    }
    file_checked(platform, requester, &user, kind, details, None, received_at).await
}

/// [`file`] once the request is checked: received at `received_at`.
async fn file_checked(
    platform: &Platform,
    requester: &Requester,
    user: &accounts::UserRecord,
    kind: RequestType,
    details: Option<String>,
    changes: Option<Map<String, Value>>,
    received_at: i64,
) -> Result<RightsRequest, FileError> {
    let now = platform.clock.epoch_seconds();
    let mut request = RightsRequest::new(
        ulid::Ulid::new().to_string(),
        requester.organisation_id.clone(),
        requester.user_id.clone(),
        kind,
        details.filter(|d| !d.trim().is_empty()),
        changes,
        received_at.min(now),
    );
    let by_admin = requester.role == Role::Admin;
    request.transition(Status::AwaitingOrganisationApproval, requester.user_id.clone(), None, now)?;
    if by_admin {
        let note = Some("filed by an admin: no approval needed".into());
        request.transition(Status::Queued, requester.user_id.clone(), note, now)?;
    }
    submit(platform, &mut request, user, by_admin).await?;
    tracing::info!(request_id = %request.id, kind = request.kind.as_str(), "rights request filed");
    Ok(request)
}

/// Stores a new request (its lock and its place in the open list), queues an admin's at once,
/// and tells the requester and, for a member's, the organisation's admins. Used by
/// [`file`] and by requests recorded by operators (`super::recorded`).
pub(super) async fn submit(
    platform: &Platform,
    request: &mut RightsRequest,
    user: &UserRecord,
    by_admin: bool,
) -> Result<(), FileError> {
    let kind = request.kind;
    match super::create(platform, request).await {
        Ok(()) => {}
        Err(CreateError::Duplicate) => {
            let open = super::open_request_of(platform, &user.user_id, kind).await?.unwrap_or_default();
            return Err(FileError::Duplicate { kind, open });
        }
        Err(CreateError::Erased) => return Err(AccountError::AccountGone.into()),
        Err(CreateError::Store(err)) => return Err(err.into()),
    }
    if by_admin && let Err(err) = enqueue(platform, &request.id).await {
        // Nothing half-done: the request disappears and the caller may try again.
        super::withdraw_creation(platform, request).await?;
        return Err(err.into());
    }
    let mut notices = vec![emails::received(&platform.settings, &user.email, user.lang, request, !by_admin)];
    if !by_admin {
        // The organisation's admins decide: tell them there is something to decide.
        for member in accounts::members(platform, &user.organisation_id).await? {
            if member.role == Role::Admin {
                notices.push(emails::awaiting_approval(&platform.settings, &member.email, member.lang, request));
            }
        }
    }
    mail::enqueue(platform, notices).await?;
    Ok(())
}

/// One page of the user's own requests, newest first.
pub async fn own_requests(
    platform: &Platform,
    user_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<RightsRequest>, Option<String>), StoreError> {
    let query = Query::index(Index::Gsi3, keys::user_rights(user_id)).backward().limit(limit).cursor(cursor);
    let page = platform.store.query(query).await?;
    let requests = page.items.iter().map(|item| item.data::<RightsRequest>()).collect::<Result<_, _>>()?;
    Ok((requests, page.cursor))
}

/// The formats an export comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    /// A zip of CSV files (access requests only).
    Csv,
}

impl ExportFormat {
    pub fn parse(format: &str) -> Option<Self> {
        match format {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Not the requester's, or a kind of request without an export.
    #[error("{0}")]
    NotFound(&'static str),
    #[error("The export is not ready yet.")]
    NotReady,
    #[error("Exports are kept 7 days; this one is gone. File a new request for a fresh copy.")]
    Expired,
    #[error("This export is available as JSON only.")]
    FormatUnavailable,
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// A fresh, time-limited link to the export of a completed access or portability request,
/// for its requester alone (admins and operators see the request, never the person's data).
pub async fn export_link(
    platform: &Platform,
    user_id: &str,
    request: &RightsRequest,
    format: ExportFormat,
) -> Result<SignedUrl, ExportError> {
    if !request.is_requester(user_id) {
        return Err(ExportError::NotFound("No export for you here: only the requester can download it."));
    }
    if !matches!(request.kind, RequestType::Access | RequestType::Portability) {
        return Err(ExportError::NotFound("This kind of request has no export."));
    }
    let Some(exports) = request.exports.as_ref().filter(|_| request.status == Status::Completed) else {
        return Err(ExportError::NotReady);
    };
    if exports.expires_at <= platform.clock.epoch_seconds() {
        return Err(ExportError::Expired);
    }
    let key = match format {
        ExportFormat::Json => &exports.json,
        ExportFormat::Csv => exports.csv_zip.as_ref().ok_or(ExportError::FormatUnavailable)?,
    };
    let lifetime = std::time::Duration::from_secs(EXPORT_LINK_SECONDS as u64);
    Ok(platform.blobs.signed_url(key, lifetime).await?)
}
