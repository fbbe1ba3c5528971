//! Operators' broadcasts, each a job (`shared::broadcast`) that the mail worker carries out:
//! product updates to everyone who consented to `product_updates`, and service notices
//! (changes or technical issues) to every user or the users of chosen organisations.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use serde::Deserialize;
use shared::Platform;
use shared::broadcast::{self, Audience, BroadcastError, Kind, Message, Progress};
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::responses::{JsonBody, Session, SessionWrite};
use shared::session::AuthUser;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductUpdate {
    /// 1 to 200 characters, one line.
    #[schema(min_length = 1, max_length = 200, pattern = "^[^\\r\\n]*$")]
    pub subject: String,
    /// The message, 1 to 20,000 characters of plain text. An unsubscribe link is added.
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
    /// The same in Swedish, for those who read Swedish (else they get the English).
    #[serde(default)]
    pub sv: Option<Message>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceNotice {
    /// 1 to 200 characters, one line; no marketing wording.
    #[schema(min_length = 1, max_length = 200, pattern = "^[^\\r\\n]*$")]
    pub subject: String,
    /// 1 to 20,000 characters of plain text about changes or technical issues; no marketing
    /// wording (offers, discounts, "buy", "upgrade now", ... in English or Swedish).
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
    /// The same in Swedish, for those who read Swedish (else they get the English).
    #[serde(default)]
    pub sv: Option<Message>,
    /// Only the users of these organisations (1 to 100); absent: every user.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 100)]
    pub organisation_ids: Option<Vec<String>>,
}

type Accepted = (StatusCode, [(header::HeaderName, String); 1], Json<Progress>);

fn accepted(platform: &Platform, progress: Progress) -> Accepted {
    let url = format!("{}/v1/operator/broadcast-jobs/{}", platform.settings.public_base_url, progress.job_id);
    (StatusCode::ACCEPTED, [(header::LOCATION, url)], Json(progress))
}

fn api_error(err: BroadcastError) -> ApiError {
    match err {
        BroadcastError::Invalid(invalid) => invalid.into(),
        BroadcastError::Store(err) => err.into(),
        BroadcastError::Queue(err) => err.into(),
    }
}

/// Both kinds of broadcast: an operator's only, started as a job, followed at `Location`.
async fn start(
    platform: &Platform,
    auth: &AuthUser,
    (kind, audience): (Kind, Audience),
    en: Message,
    sv: Option<Message>,
) -> Result<Accepted, ApiError> {
    auth.require_operator(platform).await?;
    let progress = broadcast::start_written(platform, kind, audience, &en, sv.as_ref()).await.map_err(api_error)?;
    Ok(accepted(platform, progress))
}

/// Starts a product update to everyone who consented (operators only). A job: each recipient
/// is mailed at most once, and only if the consent still holds when their e-mail goes out.
/// Follow it at `Location`.
#[utoipa::path(post, path = "/v1/operator/product-updates", tag = "consent", request_body = ProductUpdate,
    responses(JsonBody, SessionWrite,
        (status = 202, description = "The job, queued", body = Progress,
            headers(("Location" = String, description = "The job's progress URL"))),
        (status = 403, description = "forbidden: operators only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_subject, invalid_text, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn send_product_update(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(update): ApiJson<ProductUpdate>,
) -> Result<Accepted, ApiError> {
    let en = Message { subject: update.subject, text: update.text };
    start(&platform, &auth, (Kind::ProductUpdate, Audience::Consented), en, update.sv).await
}

/// Starts a service notice (operators only): changes or technical issues that may affect the
/// platform, to every user or to the users of the chosen organisations. It needs no consent,
/// is marked as a service notice, and may not carry marketing (refused with
/// `marketing_content`). Each user is mailed at most once, in their language.
#[utoipa::path(post, path = "/v1/operator/service-notices", tag = "consent", request_body = ServiceNotice,
    responses(JsonBody, SessionWrite,
        (status = 202, description = "The job, queued", body = Progress,
            headers(("Location" = String, description = "The job's progress URL"))),
        (status = 403, description = "forbidden: operators only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "marketing_content, invalid_subject, invalid_text, invalid_organisations, unknown_organisation, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn send_service_notice(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(notice): ApiJson<ServiceNotice>,
) -> Result<Accepted, ApiError> {
    let audience = match notice.organisation_ids {
        Some(organisation_ids) => Audience::Organisations { organisation_ids },
        None => Audience::Everyone,
    };
    let en = Message { subject: notice.subject, text: notice.text };
    start(&platform, &auth, (Kind::ServiceNotice, audience), en, notice.sv).await
}

/// A broadcast job's progress (operators only).
#[utoipa::path(get, path = "/v1/operator/broadcast-jobs/{job_id}", tag = "consent",
    params(("job_id" = String, Path, description = "From the broadcast's answer")),
    responses(Session,
        (status = 200, body = Progress),
        (status = 403, description = "forbidden: operators only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no such job (a job is kept 90 days)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
pub async fn progress(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(job_id): Path<String>,
) -> Result<Json<Progress>, ApiError> {
    auth.require_operator(&platform).await?;
    let not_found = || ApiError::not_found("No such broadcast job (a job is kept 90 days).");
    if job_id.len() > 128 {
        return Err(not_found());
    }
    broadcast::progress(&platform, &job_id).await?.map(Json).ok_or_else(not_found)
}
