//! Registration: signup and e-mail verification.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::accounts::{self, SignupForm};
use shared::domain::Region;
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ClientAddress};
use shared::responses::{JsonBody, Throttled, Unavailable};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    /// 12 to 128 characters, not the e-mail address.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub organisation_name: String,
    /// Where the organisation's data is processed (default `eu`).
    #[serde(default)]
    pub region: Option<Region>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupAccepted {
    /// Always `verification_sent`, whether or not the address already had an account.
    pub status: &'static str,
}

/// Creates an organisation and its first user (admin, unverified) and e-mails a verification
/// link. The answer is the same when the address is already registered; that address gets a
/// notice instead.
#[utoipa::path(post, path = "/v1/signup", tag = "accounts", request_body = SignupRequest,
    responses(JsonBody, Throttled, Unavailable,
        (status = 202, body = SignupAccepted),
        (status = 422, description = "invalid_email, weak_password, invalid_organisation_name or invalid_body", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn signup(
    State(platform): State<Platform>,
    client: Option<axum::Extension<ClientAddress>>,
    headers: axum::http::HeaderMap,
    ApiJson(request): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<SignupAccepted>), ApiError> {
    let form = SignupForm {
        email: &request.email,
        password: &request.password,
        organisation_name: &request.organisation_name,
        region: request.region,
        client: client.map(|c| c.0.0),
        lang: shared::lang::Lang::of_request(&headers),
    };
    accounts::signup(&platform, form).await?;
    Ok((StatusCode::ACCEPTED, Json(SignupAccepted { status: "verification_sent" })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token from the e-mail's link.
    #[schema(min_length = 1, max_length = 128)]
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    pub user_id: String,
    pub organisation_id: String,
}

/// Confirms an address: a new account's (which then stops expiring) or a changed one.
#[utoipa::path(post, path = "/v1/email-verifications", tag = "accounts", request_body = TokenRequest,
    responses(JsonBody, Unavailable,
        (status = 200, body = Verified),
        (status = 400, description = "invalid_token: unknown, used or expired; or malformed_json", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "email_taken: the new address got an account meanwhile", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify_email(
    State(platform): State<Platform>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<Verified>, ApiError> {
    let verified = accounts::verify_email(&platform, &request.token).await?;
    Ok(Json(Verified { user_id: verified.user_id, organisation_id: verified.organisation_id }))
}
