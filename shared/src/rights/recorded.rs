//! Requests received outside the product (a letter, a phone call), recorded by an operator.
//! They enter the same workflow as a request filed in the app: a member's waits for an admin
//! of their organisation, an admin's is queued at once, one open request per type and person.
//! The clock runs from the day it was received (Art. 12(3): one calendar month), not from the
//! day it was recorded; the operator, who checked the person's identity outside the product,
//! is named in the history.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::requester::{FileError, MAX_DETAILS, check_changes, refused, submit};
use super::{RequestType, RightsRequest, Status};
use crate::Platform;
use crate::accounts::{self, records::EmailClaim};
use crate::domain::{EmailAddress, Role};

/// How far back a receipt date may lie.
pub const MAX_AGE_DAYS: i64 = 366;

/// How the request reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Letter,
    Phone,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Letter => "letter",
            Channel::Phone => "phone call",
        }
    }
}

/// Whose request: the account's id, or the address of its account.
#[derive(Debug, Clone)]
pub enum Person {
    Account(String),
    Address(String),
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub channel: Channel,
    /// The day it reached us (UTC), `YYYY-MM-DD`.
    pub received_on: String,
    pub kind: RequestType,
    pub person: Person,
    pub details: Option<String>,
    pub changes: Option<Map<String, Value>>,
    /// The operator confirms they checked who the person is (Art. 12(6)).
    pub identity_verified: bool,
}

/// Records a request an operator received outside the product (`operator_id`: who records).
#[tracing::instrument(skip_all, fields(operator_id = %operator_id))]
pub async fn record(platform: &Platform, operator_id: &str, recorded: Recorded) -> Result<RightsRequest, FileError> {
    if !recorded.identity_verified {
        return Err(refused(
            "identity_not_verified",
            "Check who the person is before recording their request (GDPR Art. 12(6)), then set `identity_verified`.",
        ));
    }
    if recorded.details.as_ref().is_some_and(|d| d.chars().count() > MAX_DETAILS) {
        return Err(refused("details_too_long", "`details` is at most 2,000 characters."));
    }
    check_changes(recorded.kind, &recorded.changes)?;
    let now = platform.clock.epoch_seconds();
    let invalid_day =
        || refused("invalid_received_on", "`received_on` is a day (YYYY-MM-DD) of the last year, not in the future.");
    let received_on = NaiveDate::parse_from_str(&recorded.received_on, "%Y-%m-%d").map_err(|_| invalid_day())?;
    let received_at = received_on.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).ok_or_else(invalid_day)?;
    let today_end = now - now.rem_euclid(86_400) + 86_400;
    if received_at >= today_end || received_at < now - MAX_AGE_DAYS * 86_400 {
        return Err(invalid_day());
    }
    let user = match &recorded.person {
        Person::Account(user_id) => accounts::find_user(platform, user_id).await?,
        Person::Address(address) => {
            let email = EmailAddress::parse(address)?;
            match platform.store.get(&EmailClaim::key(email.canonical())).await? {
                Some(claim) => accounts::find_user(platform, &claim.data::<EmailClaim>()?.user_id).await?,
                None => None,
            }
        }
    };
    let Some(user) = user.filter(|u| u.email_verified) else {
        return Err(refused(
            "unknown_person",
            "No account has this id or address: we hold no account data about the person; answer them so.",
        ));
    };
    if recorded.kind == RequestType::Erasure {
        accounts::refuse_last_admin(platform, &user).await?;
    }
    let mut request = RightsRequest::new(
        ulid::Ulid::new().to_string(),
        user.organisation_id.clone(),
        user.user_id.clone(),
        recorded.kind,
        recorded.details.filter(|d| !d.trim().is_empty()),
        recorded.changes,
        received_at,
    );
    let how = format!("recorded by an operator: {} received {}", recorded.channel.as_str(), received_on);
    // As every operator's act: `operator:<id>`, marked so that their erasure finds it.
    let by = format!("operator:{operator_id}");
    request.transition(Status::AwaitingOrganisationApproval, by.clone(), Some(how), now)?;
    let by_admin = user.role == Role::Admin;
    if by_admin {
        let note = Some("an admin's request: no approval needed".into());
        request.transition(Status::Queued, by, note, now)?;
    }
    accounts::placeholders::note_operator_act(platform, operator_id, &request.id).await?;
    submit(platform, &mut request, &user, by_admin).await?;
    tracing::info!(request_id = %request.id, kind = request.kind.as_str(), channel = recorded.channel.as_str(),
        "rights request recorded");
    Ok(request)
}
