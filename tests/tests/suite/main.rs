//! Every integration suite in one test binary: one link instead of thirteen, each of which
//! would carry the whole dependency tree (and did fill CI's disk).
//!
//! Contract suites run one port's contract against both adapters; the journeys drive the
//! HTTP API and workers on both engines.

mod accounts;
mod admin_races;
mod blob_contract;
mod broadcasts;
mod consent;
mod cors;
mod deployment;
mod erasure;
mod hardening;
mod histories;
mod http_errors;
mod idempotency_contract;
mod inbox;
mod lambda_events;
mod mail_contract;
mod mail_pipeline;
mod marketing;
mod membership;
mod one_machine;
mod operators;
mod outside_requests;
mod panics;
mod queue_contract;
mod recipients_told;
mod recovery;
mod resolution;
mod retention;
mod retention_sweeper;
mod rights;
mod secrets;
mod sendgrid;
mod store_contract;
mod tenant_isolation;
mod token_attempts;
mod tracking;
mod visitor_limits;
