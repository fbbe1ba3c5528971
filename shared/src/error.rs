//! Every error leaves the API as RFC 9457 problem+json, built here and only here.
//!
//! A 500 never says what broke: its body carries an error id, and the cause chain is logged
//! under that id.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::blob::BlobError;
use crate::queue::QueueError;
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable and machine-readable: `invalid_email`, `not_found`, ...
    pub code: Cow<'static, str>,
    pub detail: Cow<'static, str>,
    pub retry_after_seconds: Option<u64>,
}

/// The problem document (RFC 9457) with our `code` extension.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable machine-readable code.
    pub code: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, detail: impl Into<Cow<'static, str>>) -> Self {
        Self { status, code: code.into(), detail: detail.into(), retry_after_seconds: None }
    }

    pub fn bad_request(code: impl Into<Cow<'static, str>>, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unprocessable(code: impl Into<Cow<'static, str>>, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn unauthorized(code: impl Into<Cow<'static, str>>, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn conflict(code: impl Into<Cow<'static, str>>, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many attempts; try again later.")
        }
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body is larger than {limit_bytes} bytes."),
        )
    }

    /// A webhook whose verification secret is not configured refuses everything.
    pub fn webhook_not_configured(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "webhook_not_configured", detail)
    }

    pub fn unavailable(detail: impl Into<Cow<'static, str>>) -> Self {
        Self { retry_after_seconds: Some(1), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail) }
    }

    /// An error that is ours, not the client's: logged in full, answered opaquely.
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let err = err.into();
        let error_id = ulid::Ulid::new().to_string();
        tracing::error!(%error_id, error = %chain(err.as_ref()), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("Something went wrong on our side. Error id: {error_id}."),
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("https://infentre.com/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.to_string(),
            code: self.code.to_string(),
        }
    }
}

/// An error and its sources on one line.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Throttled | StoreError::TransactionConflict => {
                ApiError::unavailable("The service is busy; try again in a moment.")
            }
            StoreError::InvalidCursor => {
                ApiError::bad_request("invalid_cursor", "The cursor is not valid for this list.")
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(err: QueueError) -> Self {
        ApiError::internal(err)
    }
}

impl From<BlobError> for ApiError {
    fn from(err: BlobError) -> Self {
        ApiError::internal(err)
    }
}

impl From<crate::domain::Invalid> for ApiError {
    fn from(err: crate::domain::Invalid) -> Self {
        ApiError::unprocessable(err.code, err.detail)
    }
}

impl From<crate::throttle::ThrottleError> for ApiError {
    fn from(err: crate::throttle::ThrottleError) -> Self {
        match err {
            crate::throttle::ThrottleError::Limited { retry_after_seconds } => {
                ApiError::rate_limited(retry_after_seconds)
            }
            crate::throttle::ThrottleError::Store(err) => err.into(),
        }
    }
}

impl From<crate::consent::RecordError> for ApiError {
    fn from(err: crate::consent::RecordError) -> Self {
        match err {
            crate::consent::RecordError::Contended => {
                ApiError::unavailable("Too many simultaneous changes of this consent; try again.")
            }
            crate::consent::RecordError::Erased => {
                ApiError::unauthorized("unauthenticated", "Sign in: the account no longer exists.")
            }
            crate::consent::RecordError::Store(err) => err.into(),
        }
    }
}

impl From<crate::erasure::ErasureError> for ApiError {
    fn from(err: crate::erasure::ErasureError) -> Self {
        ApiError::internal(err)
    }
}

impl From<crate::accounts::AccountError> for ApiError {
    fn from(err: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError as E;
        match err {
            E::Invalid(invalid) => invalid.into(),
            // One text for each: the display of the error is the detail of the answer.
            E::InvalidToken => ApiError::bad_request("invalid_token", err.to_string()),
            E::InvalidCredentials => ApiError::unauthorized("invalid_credentials", err.to_string()),
            E::EmailTaken(detail) => ApiError::conflict("email_taken", detail),
            E::SameAddress => ApiError::unprocessable("invalid_email", err.to_string()),
            E::LastAdmin => ApiError::conflict("last_admin", err.to_string()),
            E::MembershipChanged => ApiError::conflict("membership_changed", err.to_string()),
            E::AccountGone => ApiError::unauthorized("unauthenticated", err.to_string()),
            E::OrganisationGone => ApiError::not_found(err.to_string()),
            E::RateLimited(seconds) => ApiError::rate_limited(seconds),
            E::Store(err) => err.into(),
            E::Queue(err) => err.into(),
            E::Erasure(err) => err.into(),
            err @ E::Hashing(_) => ApiError::internal(err),
        }
    }
}

impl From<crate::complaints::ComplaintError> for ApiError {
    fn from(err: crate::complaints::ComplaintError) -> Self {
        use crate::complaints::ComplaintError as E;
        match err {
            E::InvalidMessage => ApiError::unprocessable("invalid_message", err.to_string()),
            E::RateLimited { retry_after_seconds } => ApiError::rate_limited(retry_after_seconds),
            // The same answer as an erased session's.
            E::AccountGone => crate::accounts::AccountError::AccountGone.into(),
            E::Store(err) => err.into(),
            E::Queue(err) => err.into(),
        }
    }
}

impl From<crate::rights::decisions::DecisionError> for ApiError {
    fn from(err: crate::rights::decisions::DecisionError) -> Self {
        use crate::rights::decisions::DecisionError as E;
        match err {
            E::NotFound => ApiError::not_found(err.to_string()),
            E::NotAdmin | E::NotOperator => ApiError::forbidden(err.to_string()),
            E::NotAwaitingApproval | E::NotOpen | E::NotFailed | E::Illegal(_) => {
                ApiError::conflict("invalid_status", err.to_string())
            }
            E::AlreadyExtended => ApiError::conflict("already_extended", err.to_string()),
            E::DeadlinePassed => ApiError::conflict("deadline_passed", err.to_string()),
            E::AnotherOpen => ApiError::conflict("duplicate_request", err.to_string()),
            E::InvalidReason => ApiError::unprocessable("invalid_reason", err.to_string()),
            E::InvalidDays => ApiError::unprocessable("invalid_days", err.to_string()),
            E::Conflict => ApiError::conflict("conflict", err.to_string()),
            E::Store(err) => err.into(),
            E::Queue(err) => err.into(),
        }
    }
}

impl From<crate::rights::requester::FileError> for ApiError {
    fn from(err: crate::rights::requester::FileError) -> Self {
        use crate::rights::requester::FileError as E;
        match err {
            E::Refused { code, detail } => ApiError::unprocessable(code, detail),
            E::Invalid(invalid) => invalid.into(),
            err @ E::Duplicate { .. } => ApiError::conflict("duplicate_request", err.to_string()),
            E::Account(err) => err.into(),
            E::Illegal(err) => ApiError::conflict("invalid_status", err.to_string()),
            E::Store(err) => err.into(),
            E::Queue(err) => err.into(),
        }
    }
}

#[cfg(feature = "passwords")]
impl From<crate::accounts::membership::MembershipError> for ApiError {
    fn from(err: crate::accounts::membership::MembershipError) -> Self {
        use crate::accounts::membership::MembershipError as E;
        match err {
            E::NoSuchMember | E::NoSuchInvitation => ApiError::not_found(err.to_string()),
            E::NotAdmin => ApiError::forbidden(err.to_string()),
            E::SelfRemoval => ApiError::conflict("self_removal", err.to_string()),
            E::Conflict => ApiError::conflict("conflict", err.to_string()),
            E::Account(err) => err.into(),
        }
    }
}

impl From<crate::rights::requester::ExportError> for ApiError {
    fn from(err: crate::rights::requester::ExportError) -> Self {
        use crate::rights::requester::ExportError as E;
        match err {
            E::NotFound(detail) => ApiError::not_found(detail),
            E::NotReady => ApiError::conflict("not_ready", err.to_string()),
            E::Expired => ApiError::new(StatusCode::GONE, "export_expired", err.to_string()),
            E::FormatUnavailable => ApiError::unprocessable("format_unavailable", err.to_string()),
            E::Blob(err) => err.into(),
        }
    }
}

impl From<crate::cases::confirm::ConfirmError> for ApiError {
    fn from(err: crate::cases::confirm::ConfirmError) -> Self {
        use crate::cases::confirm::ConfirmError as E;
        match err {
            E::InvalidLink => ApiError::bad_request("invalid_token", err.to_string()),
            E::AccountGone => ApiError::conflict("account_gone", "The account is no longer there."),
            E::Refused(detail) => ApiError::conflict("refused", detail),
            E::Store(err) => err.into(),
            err @ E::Filing(_) => ApiError::internal(err),
        }
    }
}

impl From<crate::cases::desk::DeskError> for ApiError {
    fn from(err: crate::cases::desk::DeskError) -> Self {
        use crate::cases::desk::DeskError as E;
        match err {
            E::NotFound => ApiError::not_found(err.to_string()),
            E::Invalid(detail) => ApiError::unprocessable("invalid_body", detail),
            E::Closed => ApiError::conflict("case_closed", err.to_string()),
            E::Store(err) => err.into(),
            E::Queue(err) => err.into(),
        }
    }
}
