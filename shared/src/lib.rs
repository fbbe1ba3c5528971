//! Infentre's common crate: what every function and worker shares.
//!
//! - Ports with two adapters each: [`store`], [`queue`], [`blob`], [`mail`]. The AWS adapters
//!   sit behind the `aws` feature (Lambda binaries), the embedded ones behind `embedded` (the
//!   local server), so neither binary carries the other's dependencies.
//! - Built on the ports: [`idempotency`] and the SQS batch helper in [`queue::batch`].
//! - The HTTP plumbing: problem+json errors ([`error`]), body limits and JSON parsing
//!   ([`http`]), configuration ([`config`]) and logging without personal data ([`telemetry`]).

#![cfg_attr(
    not(any(feature = "aws", feature = "embedded")),
    allow(dead_code, reason = "helpers of the adapters, none compiled in")
)]

pub mod clock;
pub mod keys;
pub mod store;

pub mod blob;
pub mod client_address;
pub mod config;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod mail;
pub mod marketing;
pub mod platform;
pub mod queue;
pub mod signing;
pub mod telemetry;

#[cfg(feature = "aws")]
pub mod aws;

pub use platform::Platform;
pub mod consent;
pub mod domain;
pub mod erasure;
pub mod retention;
pub mod rights;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod tracking;
pub mod unsubscribe;
