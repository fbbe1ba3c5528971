//! Complaints to the DPO: stored with the complainant (erased with them), the DPO told by
//! e-mail, the user answered with the DPO's contact and the supervisory authority's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts::AccountError;
use shared::clock::rfc3339_from_epoch as time;
use shared::config::{Party, SupervisoryAuthority};
use shared::erasure::fence::{self, FencedWrite};
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ApiQuery};
use shared::http::{ListParams, Paginated};
use shared::keys;
use shared::mail::{self, Email};
use shared::responses::{JsonBody, SessionWrite, Throttled};
use shared::session::AuthUser;
use shared::store::{Condition, Index, IndexKey, Item, StoreError};
use shared::throttle::COMPLAINTS_PER_USER;
use utoipa::ToSchema;

const MAX_MESSAGE: usize = 10_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComplaint {
    /// 1 to 10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Complaint {
    pub id: String,
    pub user_id: String,
    pub organisation_id: String,
    pub message: String,
    pub status: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintReceipt {
    pub id: String,
    pub status: &'static str,
    pub dpo: Party,
    pub supervisory_authority: SupervisoryAuthority,
}

/// Files a complaint with the DPO.
#[utoipa::path(post, path = "/v1/complaints", tag = "rights", request_body = NewComplaint, operation_id = "create_complaint",
    responses(JsonBody, SessionWrite, Throttled,
        (status = 201, body = ComplaintReceipt),
        (status = 422, description = "invalid_message, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn create(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(new): ApiJson<NewComplaint>,
) -> Result<(StatusCode, Json<ComplaintReceipt>), ApiError> {
    let message = new.message.trim();
    if message.is_empty() || message.chars().count() > MAX_MESSAGE {
        return Err(ApiError::unprocessable("invalid_message", "The message is 1 to 10,000 characters."));
    }
    // Each complaint e-mails the DPO: bounded per person.
    COMPLAINTS_PER_USER.count(&platform, &auth.user_id).await?;
    let id = ulid::Ulid::new().to_string();
    let complaint = Complaint {
        id: id.clone(),
        user_id: auth.user_id.clone(),
        organisation_id: auth.organisation_id.clone(),
        message: message.to_owned(),
        status: "received".into(),
        created_at: time(platform.clock.epoch_seconds()),
    };
    // Filed in the complainant's partition: erased with them, like everything about them.
    let item = Item::new(keys::complaint(&auth.user_id, &id), "complaint")
        .with_data(&complaint)?
        .with_index(Index::Gsi3, IndexKey::new(keys::COMPLAINTS_LISTING, &id));
    // Refused if the complainant's erasure started after their session was checked.
    let complainant = [auth.user_id.as_str(), auth.organisation_id.as_str()];
    match fence::put_unless_fenced(platform.store.as_ref(), item, Some(Condition::NotExists), &complainant).await {
        Ok(()) => {}
        Err(FencedWrite::Fenced) => return Err(AccountError::AccountGone.into()),
        Err(err) => return Err(StoreError::from(err).into()),
    }
    let notice = Email {
        to: platform.settings.dpo.email.clone(),
        subject: format!("New complaint {id}"),
        text: format!(
            "A user filed a complaint.\n\nComplaint: {id}\nUser: {}\nOrganisation: {}\n\n{message}\n",
            auth.user_id, auth.organisation_id
        ),
        html: None,
        headers: Vec::new(),
        category: "transactional".into(),
        organisation_id: None,
    };
    mail::enqueue(platform.queue.as_ref(), vec![notice]).await?;
    tracing::info!(complaint_id = %id, "complaint filed");
    Ok((
        StatusCode::CREATED,
        Json(ComplaintReceipt {
            id,
            status: "received",
            dpo: platform.settings.dpo.clone(),
            supervisory_authority: platform.settings.supervisory_authority.clone(),
        }),
    ))
}

/// Complaints, newest first (operators).
#[utoipa::path(get, path = "/v1/operator/complaints", tag = "rights", params(ListParams), operation_id = "list_complaints",
    responses(shared::responses::Query, shared::responses::Session, (status = 200, body = Paginated<shared::operator::ComplaintEntry>),
        (status = 403, description = "forbidden: operators only", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn list(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Paginated<shared::operator::ComplaintEntry>>, ApiError> {
    auth.require_operator(&platform).await?;
    let (items, cursor) = shared::operator::complaints_page(&platform, params.limit()?, params.cursor.clone()).await?;
    Ok(Json(Paginated { items, cursor }))
}
