//! Getting back in: a password reset link, setting the new password with it, and a new
//! verification link. The requests answer the same whether or not the address has an account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts::reset;
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ClientAddress};
use shared::responses::{JsonBody, Throttled, Unavailable};
use utoipa::ToSchema;

use crate::registration::Verified;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Requested {
    /// Always `requested`: an e-mail goes out only if the address has an account it applies to.
    pub status: &'static str,
}

/// Mails a single-use link (valid 1 hour) to set a new password, if the address belongs to a
/// verified account. The answer is the same for any address.
#[utoipa::path(post, path = "/v1/password-reset-requests", tag = "accounts", request_body = AddressRequest,
    responses(JsonBody, Throttled, Unavailable,
        (status = 202, body = Requested),
        (status = 422, description = "invalid_email or invalid_body", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn request_reset(
    State(platform): State<Platform>,
    client: Option<axum::Extension<ClientAddress>>,
    ApiJson(request): ApiJson<AddressRequest>,
) -> Result<(StatusCode, Json<Requested>), ApiError> {
    reset::request_password_reset(&platform, &request.email, client.map(|c| c.0.0)).await?;
    Ok((StatusCode::ACCEPTED, Json(Requested { status: "requested" })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The token from the e-mail's link.
    pub token: String,
    /// 12 to 128 characters, not the e-mail address.
    pub password: String,
}

/// Sets a new password with a reset link. Every session of the account ends, and its pending
/// address changes and other reset links are revoked.
#[utoipa::path(post, path = "/v1/password-resets", tag = "accounts", request_body = ResetRequest,
    responses(JsonBody, Unavailable,
        (status = 200, body = Verified),
        (status = 400, description = "invalid_token: unknown, used or expired; or malformed_json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "weak_password or invalid_body", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reset_password(
    State(platform): State<Platform>,
    ApiJson(request): ApiJson<ResetRequest>,
) -> Result<Json<Verified>, ApiError> {
    let account = reset::reset_password(&platform, &request.token, &request.password).await?;
    Ok(Json(Verified { user_id: account.user_id, organisation_id: account.organisation_id }))
}

/// Mails a new verification link if the address belongs to an account not verified yet. The
/// answer is the same for any address.
#[utoipa::path(post, path = "/v1/verification-requests", tag = "accounts", request_body = AddressRequest,
    responses(JsonBody, Throttled, Unavailable,
        (status = 202, body = Requested),
        (status = 422, description = "invalid_email or invalid_body", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn resend_verification(
    State(platform): State<Platform>,
    client: Option<axum::Extension<ClientAddress>>,
    ApiJson(request): ApiJson<AddressRequest>,
) -> Result<(StatusCode, Json<Requested>), ApiError> {
    reset::resend_verification(&platform, &request.email, client.map(|c| c.0.0)).await?;
    Ok((StatusCode::ACCEPTED, Json(Requested { status: "requested" })))
}
