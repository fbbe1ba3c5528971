//! Signup and e-mail verification.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::domain::{EmailAddress, NewPassword, OrganisationName, Region, Role};
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::mail;
use shared::store::{Condition, StoreError, TransactOp, Update};
use shared::tokens;
use utoipa::ToSchema;

use crate::emails;
use crate::passwords;
use crate::records::{
    EmailClaim, OrganisationRecord, TokenKind, TokenRecord, UNVERIFIED_TTL_SECONDS, UserRecord,
    VERIFICATION_TTL_SECONDS,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    /// 12 to 128 characters, not the e-mail address.
    pub password: String,
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
    responses(
        (status = 202, body = SignupAccepted),
        (status = 422, description = "invalid_email, weak_password, invalid_organisation_name or invalid_body", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn signup(
    State(platform): State<Platform>,
    ApiJson(request): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<SignupAccepted>), ApiError> {
    let email = EmailAddress::parse(&request.email)?;
    let password = NewPassword::parse(&request.password, Some(&email))?;
    let name = OrganisationName::parse(&request.organisation_name)?;
    let password_hash = passwords::hash(password.expose()).await?;

    let now = platform.clock.epoch_seconds();
    let unverified_until = now + UNVERIFIED_TTL_SECONDS;
    let user_id = ulid::Ulid::new().to_string();
    let organisation_id = ulid::Ulid::new().to_string();
    let token = tokens::generate();
    let token_hash = shared::keys::sha256_hex(token.as_bytes());
    let user = UserRecord {
        user_id: user_id.clone(),
        organisation_id: organisation_id.clone(),
        email: email.as_str().to_owned(),
        email_canonical: email.canonical().to_owned(),
        role: Role::Admin,
        email_verified: false,
        password_hash,
        created_at: now,
        last_active_at: None,
    };
    let organisation = OrganisationRecord {
        organisation_id: organisation_id.clone(),
        name: name.as_str().to_owned(),
        region: request.region.unwrap_or_default(),
        created_at: now,
    };
    let verification = TokenRecord {
        kind: TokenKind::VerifyEmail,
        organisation_id: organisation_id.clone(),
        user_id: Some(user_id.clone()),
        email: None,
        role: None,
    };
    let claim = EmailClaim { user_id: user_id.clone() };
    let put = |item| TransactOp::Put { item, condition: Some(Condition::NotExists) };
    let created = platform
        .store
        .transact(vec![
            put(claim.item(email.canonical())?.expires_at(unverified_until)),
            put(organisation.item()?.expires_at(unverified_until)),
            put(user.item()?.expires_at(unverified_until)),
            put(verification.item(&token_hash, now + VERIFICATION_TTL_SECONDS)?),
        ])
        .await;
    let notice = match created {
        Ok(()) => emails::verify_address(&platform.settings, email.as_str(), &token),
        // The address is taken: nothing was written; its owner is told, the caller is not.
        Err(StoreError::ConditionFailed { operation: Some(0) }) => emails::already_registered(email.as_str()),
        Err(err) => return Err(err.into()),
    };
    mail::enqueue(platform.queue.as_ref(), vec![notice]).await?;
    Ok((StatusCode::ACCEPTED, Json(SignupAccepted { status: "verification_sent" })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token from the e-mail's link.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    pub user_id: String,
    pub organisation_id: String,
}

pub(crate) fn invalid_token() -> ApiError {
    ApiError::bad_request("invalid_token", "The link is invalid, already used or expired.")
}

/// Looks up a live token of the given kinds.
pub(crate) async fn load_token(
    platform: &Platform,
    token: &str,
    kinds: &[TokenKind],
) -> Result<(String, TokenRecord), ApiError> {
    let token_hash = tokens::hash(token).ok_or_else(invalid_token)?;
    let item = platform.store.get(&TokenRecord::key(&token_hash)).await?.ok_or_else(invalid_token)?;
    let record: TokenRecord = item.data()?;
    if !kinds.contains(&record.kind) {
        return Err(invalid_token());
    }
    Ok((token_hash, record))
}

/// Confirms an address: a new account's (which then stops expiring) or a changed one.
#[utoipa::path(post, path = "/v1/email-verifications", tag = "accounts", request_body = TokenRequest,
    responses(
        (status = 200, body = Verified),
        (status = 400, description = "invalid_token: unknown, used or expired", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "email_taken: the new address got an account meanwhile", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn verify_email(
    State(platform): State<Platform>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<Verified>, ApiError> {
    let (token_hash, token) =
        load_token(&platform, &request.token, &[TokenKind::VerifyEmail, TokenKind::ChangeEmail]).await?;
    let user_id = token.user_id.clone().ok_or_else(invalid_token)?;
    let user_key = UserRecord::key(&user_id);
    let user: UserRecord = platform.store.get(&user_key).await?.ok_or_else(invalid_token)?.data()?;
    let consume = TransactOp::Delete { key: TokenRecord::key(&token_hash), condition: Some(Condition::Exists) };
    let update = |key, entity_type: &str, update| TransactOp::Update {
        key,
        entity_type: entity_type.to_owned(),
        update,
        condition: Some(Condition::Exists),
    };
    let ops = match token.kind {
        TokenKind::VerifyEmail => vec![
            consume,
            update(user_key, "user", Update::new().set("email_verified", true).expires_at(None)),
            update(OrganisationRecord::key(&user.organisation_id), "organisation", Update::new().expires_at(None)),
            update(EmailClaim::key(&user.email_canonical), "email_claim", Update::new().expires_at(None)),
        ],
        TokenKind::ChangeEmail => {
            let new = EmailAddress::parse(token.email.as_deref().unwrap_or_default()).map_err(|_| invalid_token())?;
            let claim = EmailClaim { user_id: user_id.clone() };
            vec![
                consume,
                TransactOp::Put { item: claim.item(new.canonical())?, condition: Some(Condition::NotExists) },
                TransactOp::Delete { key: EmailClaim::key(&user.email_canonical), condition: None },
                TransactOp::Update {
                    key: user_key,
                    entity_type: "user".into(),
                    update: Update::new().set("email", new.as_str()).set("email_canonical", new.canonical()),
                    condition: Some(Condition::equals("email_canonical", user.email_canonical.clone())),
                },
            ]
        }
        TokenKind::Invitation => return Err(invalid_token()),
    };
    match platform.store.transact(ops).await {
        Ok(()) => Ok(Json(Verified { user_id, organisation_id: user.organisation_id })),
        Err(StoreError::ConditionFailed { operation: Some(1) }) if token.kind == TokenKind::ChangeEmail => {
            Err(ApiError::conflict("email_taken", "The new address already belongs to an account."))
        }
        // Used by a concurrent request, or the account is gone.
        Err(StoreError::ConditionFailed { .. }) => Err(invalid_token()),
        Err(err) => Err(err.into()),
    }
}
