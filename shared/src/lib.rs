//! Infentre's common crate: what every function and worker shares.
//!
//! - The domain and its use cases: [`accounts`], [`complaints`], [`consent`], [`rights`], [`erasure`],
//!   [`retention`], [`tracking`], sessions ([`session`]) and login throttling ([`throttle`]).
//!   They return their own error enums; the HTTP edge maps them to problem documents.
//! - Ports with two adapters each: [`store`], [`queue`], [`blob`], [`mail`], [`marketing`].
//!   The AWS adapters sit behind the `aws` feature (Lambda binaries), the embedded ones behind
//!   `embedded` (the local server), so neither binary carries the other's dependencies.
//! - Built on the ports: [`idempotency`] and the SQS batch helper in [`queue::batch`].
//! - The HTTP plumbing, behind the `http` feature (workers go without): problem+json
//!   (`error`), body limits and JSON parsing (`http`), the session extractor.
//! - Configuration ([`config`]) and logging without personal data ([`telemetry`]).

#![cfg_attr(
    not(any(feature = "aws", feature = "embedded")),
    allow(dead_code, reason = "helpers of the adapters, none compiled in")
)]

pub mod clock;
pub mod concurrent;
pub mod hash;
pub mod keys;
pub mod store;

pub mod blob;
#[cfg(feature = "http")]
pub mod client_address;
pub mod config;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "http")]
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod idempotency;
pub mod lang;
pub mod mail;
pub mod marketing;
pub mod platform;
pub mod queue;
#[cfg(feature = "http")]
pub mod responses;
pub mod retry;
pub mod signing;
#[cfg(feature = "embedded")]
pub mod sqlite;
pub mod telemetry;
#[cfg(any(feature = "providers", feature = "smtp"))]
mod tls;

#[cfg(feature = "aws")]
pub mod aws;

pub use platform::Platform;
pub mod accounts;
pub mod broadcast;
pub mod cases;
pub mod complaints;
pub mod consent;
pub mod domain;
pub mod erasure;
pub mod operator;
pub mod published;
pub mod recipients;
pub mod retention;
pub mod rights;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod tracking;
pub mod unsubscribe;
