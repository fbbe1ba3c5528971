//! The hello@ channel over the API: the sender's confirmation link (`shared::cases::confirm`)
//! and the operators' desk of cases (`shared::cases::desk`), operator rights checked again on
//! every request.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::cases::{self, Case, CaseKind, CaseStatus, confirm, desk};
use shared::error::{ApiError, Problem};
use shared::http::{ApiJson, ApiQuery, ListParams, Paginated};
use shared::responses::{JsonBody, Query, Session, SessionWrite};
use shared::session::AuthUser;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The token of the mailed link.
    #[param(min_length = 1, max_length = 64)]
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// The token of the mailed link.
    #[schema(min_length = 1, max_length = 64)]
    pub token: String,
}

/// What a confirmation link will do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationPreview {
    pub case_id: String,
    pub kind: CaseKind,
    /// What confirming does, in the person's language.
    pub action: String,
    /// The e-mail's subject.
    pub subject: String,
    /// When the e-mail arrived (RFC 3339): a rights request's deadline counts from here.
    pub received_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationDone {
    pub case_id: String,
    pub kind: CaseKind,
    /// The rights request filed (or the one already open for the same kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rights_request_id: Option<String>,
}

const INVALID_LINK: &str = "invalid_token: the link is unknown, used or expired";

/// What a confirmation link mailed in answer to an e-mail will do; changes nothing.
#[utoipa::path(get, path = "/v1/case-confirmations", tag = "cases", params(TokenQuery), operation_id = "preview_case_confirmation",
    responses(Query,
        (status = 200, body = ConfirmationPreview),
        (status = 400, description = INVALID_LINK, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable: the service is busy", body = Problem, content_type = "application/problem+json")))]
pub async fn preview(
    State(platform): State<Platform>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<ConfirmationPreview>, ApiError> {
    let preview = confirm::preview(&platform, &query.token).await?;
    Ok(Json(ConfirmationPreview {
        case_id: preview.case.id.clone(),
        kind: preview.case.kind,
        action: cases::emails::action(preview.lang, preview.case.kind),
        subject: preview.case.subject.clone(),
        received_at: shared::clock::rfc3339_from_epoch(preview.case.received_at),
    }))
}

/// Confirms what an e-mail asked for: the consent withdrawn, or the rights request filed with
/// its deadline counted from the e-mail's arrival. A link works once.
#[utoipa::path(post, path = "/v1/case-confirmations", tag = "cases", request_body = Confirmation, operation_id = "confirm_case",
    responses(JsonBody,
        (status = 200, body = ConfirmationDone),
        (status = 400, description = INVALID_LINK, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "account_gone (being erased), or refused (the last admin's erasure)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "unavailable: the service is busy", body = Problem, content_type = "application/problem+json")))]
pub async fn confirm(
    State(platform): State<Platform>,
    ApiJson(body): ApiJson<Confirmation>,
) -> Result<Json<ConfirmationDone>, ApiError> {
    let done = confirm::confirm(&platform, &body.token).await?;
    Ok(Json(ConfirmationDone { case_id: done.case_id, kind: done.kind, rights_request_id: done.rights_request_id }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseListQuery {
    /// Default: `open`.
    #[param(inline)]
    pub status: Option<CaseStatus>,
    #[param(inline)]
    pub kind: Option<CaseKind>,
    /// The `cursor` of the previous page.
    #[param(max_length = 8192, pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

const OPERATORS_ONLY: &str = "forbidden: operators only";
const NO_CASE: &str = "not_found: no such case";

/// Cases in one status, newest first, optionally of one kind (a page may hold fewer than
/// `limit` then; follow the cursor).
#[utoipa::path(get, path = "/v1/operator/cases", tag = "cases", params(CaseListQuery), operation_id = "list_cases",
    responses(Query, Session, (status = 200, body = Paginated<Case>),
        (status = 403, description = OPERATORS_ONLY, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn list(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiQuery(query): ApiQuery<CaseListQuery>,
) -> Result<Json<Paginated<Case>>, ApiError> {
    auth.require_operator(&platform).await?;
    let limit = ListParams { cursor: None, limit: query.limit }.limit()?;
    let status = query.status.unwrap_or(CaseStatus::Open);
    let (items, cursor) = desk::list(&platform, status, query.kind, limit, query.cursor).await?;
    Ok(Json(Paginated { items, cursor }))
}

/// One case, with its history.
#[utoipa::path(get, path = "/v1/operator/cases/{id}", tag = "cases", params(("id" = String, Path, max_length = 64)), operation_id = "get_case",
    responses(Session, (status = 200, body = Case),
        (status = 403, description = OPERATORS_ONLY, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = NO_CASE, body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn get_one(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Case>, ApiError> {
    auth.require_operator(&platform).await?;
    Ok(Json(desk::get(&platform, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    pub kind: CaseKind,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseLinkTo {
    /// The account's user id.
    #[schema(min_length = 1, max_length = 64)]
    pub user_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseReply {
    /// 1 to 20,000 characters, sent to the case's sender.
    #[schema(min_length = 1, max_length = 20000)]
    pub message: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseClosing {
    /// 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub outcome: String,
}

/// Sets what the case is treated as.
#[utoipa::path(post, path = "/v1/operator/cases/{id}/classify", tag = "cases", params(("id" = String, Path, max_length = 64)), request_body = Classification, operation_id = "classify_case",
    responses(JsonBody, SessionWrite, (status = 200, body = Case),
        (status = 403, description = OPERATORS_ONLY, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = NO_CASE, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "case_closed", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn classify(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Classification>,
) -> Result<Json<Case>, ApiError> {
    auth.require_operator(&platform).await?;
    Ok(Json(desk::classify(&platform, &auth.user_id, &id, body.kind).await?))
}

/// Links the case to an account (a link to another account before is forgotten).
#[utoipa::path(post, path = "/v1/operator/cases/{id}/link", tag = "cases", params(("id" = String, Path, max_length = 64)), request_body = CaseLinkTo, operation_id = "link_case",
    responses(JsonBody, SessionWrite, (status = 200, body = Case),
        (status = 403, description = OPERATORS_ONLY, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = NO_CASE, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "case_closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_body: no such account, or one being erased", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn link(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CaseLinkTo>,
) -> Result<Json<Case>, ApiError> {
    auth.require_operator(&platform).await?;
    Ok(Json(desk::link(&platform, &auth.user_id, &id, &body.user_id).await?))
}

/// Answers the sender by e-mail (through the mail pipeline).
#[utoipa::path(post, path = "/v1/operator/cases/{id}/reply", tag = "cases", params(("id" = String, Path, max_length = 64)), request_body = CaseReply, operation_id = "reply_to_case",
    responses(JsonBody, SessionWrite, (status = 200, body = Case),
        (status = 403, description = OPERATORS_ONLY, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = NO_CASE, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "case_closed", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn reply(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CaseReply>,
) -> Result<Json<Case>, ApiError> {
    auth.require_operator(&platform).await?;
    Ok(Json(desk::reply(&platform, &auth.user_id, &id, &body.message).await?))
}

/// Closes the case with an outcome; it is purged after the retention period.
#[utoipa::path(post, path = "/v1/operator/cases/{id}/close", tag = "cases", params(("id" = String, Path, max_length = 64)), request_body = CaseClosing, operation_id = "close_case",
    responses(JsonBody, SessionWrite, (status = 200, body = Case),
        (status = 403, description = OPERATORS_ONLY, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = NO_CASE, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "case_closed", body = Problem, content_type = "application/problem+json")),
    security(("session" = []), ("bearer" = [])))]
pub async fn close(
    State(platform): State<Platform>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CaseClosing>,
) -> Result<Json<Case>, ApiError> {
    auth.require_operator(&platform).await?;
    Ok(Json(desk::close(&platform, &auth.user_id, &id, &body.outcome).await?))
}
