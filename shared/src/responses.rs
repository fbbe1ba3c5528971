//! The answers the shared HTTP plumbing gives around any handler, as utoipa response sets.
//!
//! A handler's `#[utoipa::path(responses(...))]` lists the sets of the extractors it uses
//! (first, so its own entries for the same status, listed after, give the precise
//! description), and the document then names every status the operation can answer:
//! - [`JsonBody`]: [`crate::http::ApiJson`] (400, 413, 415, 422);
//! - [`Query`]: [`crate::http::ApiQuery`] and list parameters (400, and 414 for a URL too long);
//! - [`Session`]: [`crate::session::auth::AuthUser`] on a safe method (401, 503), and
//!   [`SessionWrite`] on an unsafe one (401, and 403 for a cookie without its CSRF token);
//! - [`Throttled`]: a rate limit (429 with `Retry-After`);
//! - [`Unavailable`]: a busy store (503 with `Retry-After`), part of the session sets.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder, Type};

use crate::error::PROBLEM_JSON;

/// A problem+json answer with a description naming its codes.
pub fn problem(description: &str) -> RefOr<Response> {
    problem_builder(description).build().into()
}

fn problem_builder(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
}

fn set(entries: &[(&str, RefOr<Response>)]) -> BTreeMap<String, RefOr<Response>> {
    entries.iter().map(|(status, response)| ((*status).to_owned(), response.clone())).collect()
}

/// The statuses of a JSON request body ([`crate::http::ApiJson`]).
pub struct JsonBody;

impl IntoResponses for JsonBody {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[
            ("400", problem("malformed_json: the body is not JSON")),
            ("413", problem("payload_too_large: the body is over 64 KiB")),
            ("415", problem("unsupported_media_type: the body is not sent as application/json")),
            ("422", problem("invalid_body: an unknown field, a missing field or a wrong type; or a field's own code")),
        ])
    }
}

/// The statuses of query parameters ([`crate::http::ApiQuery`]).
pub struct Query;

impl IntoResponses for Query {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[
            (
                "400",
                problem(
                    "invalid_query (unknown or malformed parameter), invalid_limit (not 1 to 200) or invalid_cursor",
                ),
            ),
            ("414", uri_too_long()),
        ])
    }
}

/// A query string can make the URL longer than the HTTP server reads (64 KiB locally, 10 KiB
/// behind API Gateway): refused before the API sees it, without a body.
fn uri_too_long() -> RefOr<Response> {
    ResponseBuilder::new()
        .description("The URL is longer than the server accepts; answered without a body")
        .build()
        .into()
}

/// The store is throttled or contended (DynamoDB's throughput, optimistic locking that kept
/// losing): 503 with `Retry-After`. Anything that reads a session or writes can meet it.
pub struct Unavailable;

impl IntoResponses for Unavailable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("503", unavailable())])
    }
}

fn unavailable() -> RefOr<Response> {
    problem_builder("unavailable: the service is busy; try again after Retry-After seconds")
        .header("Retry-After", retry_after())
        .build()
        .into()
}

fn retry_after() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .description(Some("Seconds to wait before trying again."))
        .build()
}

fn unauthenticated() -> RefOr<Response> {
    problem("unauthenticated: the session is missing, invalid or expired")
}

/// A session on a safe method ([`crate::session::auth::AuthUser`]).
pub struct Session;

impl IntoResponses for Session {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("401", unauthenticated()), ("503", unavailable())])
    }
}

/// The description of 403 on an unsafe method taking a session; handlers that refuse by role
/// too say both.
pub const CSRF_FORBIDDEN: &str =
    "csrf_token_invalid: a request authenticated by cookie lacks the X-CSRF-Token from login";

/// A session on an unsafe method: a cookie needs its CSRF token.
pub struct SessionWrite;

impl IntoResponses for SessionWrite {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("401", unauthenticated()), ("403", problem(CSRF_FORBIDDEN)), ("503", unavailable())])
    }
}

/// A rate limit: 429 with `Retry-After` in seconds.
pub struct Throttled;

impl IntoResponses for Throttled {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let response = problem_builder("rate_limited: too many attempts; try again after Retry-After seconds")
            .header("Retry-After", retry_after())
            .build();
        set(&[("429", response.into())])
    }
}
