//! Where a subject's data lives, and the erasure that uses it.
//!
//! [`LOCATIONS`] is the one registry of everything we hold about a person. Erasure deletes
//! what it finds there, and the access export (rights requests) reads the same places, so
//! the two can never disagree. A feature that stores personal data somewhere new adds its
//! location here.
//!
//! Erasure runs as a job ([`job`]) behind a fence ([`fence`]) that refuses every write about
//! the subject from the instant it starts.
//!
//! Items under a legal duty carry a `legal_hold` attribute (`{"basis", "until"}`): erasure
//! keeps them and lists them in its answer, with their legal basis and purge date.

pub mod fence;
pub mod job;

use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::blob::BlobError;
use crate::keys;
use crate::queue::QueueError;
use crate::store::{Index, Item, Query, StoreError, query_all};
use crate::throttle;

/// Whose data: the user and the address they signed up with (some counters are keyed by it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subject {
    pub user_id: String,
    pub canonical_email: String,
}

/// One place where items about a subject live (one or more partitions).
pub struct Location {
    pub name: &'static str,
    pub description: &'static str,
    pub queries: fn(&Subject) -> Vec<Query>,
}

/// Every place in the table where items about a subject live.
pub const LOCATIONS: &[Location] = &[
    Location {
        name: "user_partition",
        description: "The account (e-mail address, role, password hash, activity) and everything filed under it.",
        queries: |s| vec![Query::partition(keys::user_partition(&s.user_id)).limit(1_000)],
    },
    Location {
        name: "usage_events",
        description: "Usage events of the platform, kept only with consent and at most 3 years.",
        queries: |s| {
            (0..keys::USAGE_EVENT_SHARDS)
                .map(|shard| Query::partition(keys::usage_events(&s.user_id, shard)).limit(1_000))
                .collect()
        },
    },
    Location {
        name: "subject_index",
        description: "Sessions, single-use tokens and the claim on the e-mail address.",
        queries: |s| vec![Query::index(Index::Gsi1, keys::subject_index(&s.user_id)).limit(1_000)],
    },
    Location {
        name: "rights_requests",
        description: "Rights requests the person filed (an erasure request stays, anonymous, as proof).",
        queries: |s| vec![Query::index(Index::Gsi3, crate::keys::user_rights(&s.user_id)).limit(1_000)],
    },
    Location {
        name: "outgoing_mail",
        description: "E-mails to the account's address waiting to be sent (deleted once sent, kept 15 days at most).",
        queries: |s| vec![Query::index(Index::Gsi1, keys::outgoing_mail_partition(&s.canonical_email)).limit(1_000)],
    },
    Location {
        name: "usage_quota",
        description: "Counters of usage events stored per day (kept until the day ends).",
        queries: |s| vec![Query::partition(throttle::event_quota_partition(&s.user_id)).limit(1_000)],
    },
    Location {
        name: "login_throttle",
        description: "Counters of failed logins for the account's address (kept 15 minutes).",
        queries: |s| vec![Query::partition(throttle::LOGIN_PER_ACCOUNT.partition(&s.canonical_email)).limit(1_000)],
    },
    Location {
        name: "mail_throttle",
        description: "Counters of mails sent to the account's address unasked (kept an hour).",
        queries: |s| vec![Query::partition(throttle::MAIL_PER_RECIPIENT.partition(&s.canonical_email)).limit(1_000)],
    },
    Location {
        name: "link_request_throttle",
        description: "Counters of password reset and verification links mailed to the account's address, and of its password changes (kept 1 hour).",
        queries: |s| {
            crate::accounts::limits::PER_ACCOUNT_LIMITS
                .iter()
                .map(|limit| Query::partition(limit.partition(&s.canonical_email)).limit(1_000))
                .collect()
        },
    },
    Location {
        name: "complaint_throttle",
        description: "Counters of complaints the account filed while signed in (kept a day).",
        queries: |s| vec![Query::partition(throttle::COMPLAINTS_PER_USER.partition(&s.user_id)).limit(1_000)],
    },
    Location {
        name: "cases",
        description: "Messages to hello@ (cases on the operators' desk): from the account's address or linked to it; purged a year after closure.",
        queries: |s| {
            vec![
                Query::index(Index::Gsi1, keys::cases_of_user(&s.user_id)).limit(1_000),
                Query::index(Index::Gsi1, keys::cases_of_sender(&s.canonical_email)).limit(1_000),
            ]
        },
    },
    Location {
        name: "public_complaints",
        description: "Complaints filed without signing in from the account's address, and their counters (kept 3 years at most).",
        queries: |s| {
            vec![
                Query::partition(keys::public_complaints_of(&s.canonical_email)).limit(1_000),
                Query::partition(throttle::PUBLIC_COMPLAINTS_PER_ADDRESS.partition(&s.canonical_email)).limit(1_000),
            ]
        },
    },
];

/// Where a subject's exports are kept in the blob store.
pub fn export_prefix(user_id: &str) -> String {
    format!("exports/{user_id}/")
}

/// A record erasure keeps because the law requires it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Retained {
    /// What kind of record.
    pub kind: String,
    /// The legal duty that requires keeping it.
    pub legal_basis: String,
    /// When it will be erased (RFC 3339 date).
    pub purge_after: String,
}

#[derive(Debug, Clone, Deserialize)]
struct LegalHold {
    basis: String,
    until: String,
}

fn legal_hold(item: &Item) -> Option<LegalHold> {
    item.attrs.get("legal_hold").and_then(|hold| serde_json::from_value(hold.clone()).ok())
}

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    /// Another runner moved the job meanwhile: this one stops.
    #[error("the erasure job was moved by another runner")]
    Moved,
    /// What the erasure was decided on changed before it began (see [`job::begin_unless_changed`]).
    #[error("what the erasure was decided on changed meanwhile")]
    Changed,
    #[error("erasure job: {0}")]
    Corrupt(String),
}

/// Everything the table holds about the subject (each item once).
pub async fn collect(platform: &Platform, subject: &Subject) -> Result<Vec<Item>, StoreError> {
    let mut seen = std::collections::HashSet::new();
    let mut items = Vec::new();
    for location in LOCATIONS {
        for query in (location.queries)(subject) {
            for item in query_all(platform.store.as_ref(), query).await? {
                if seen.insert(item.key.clone()) {
                    items.push(item);
                }
            }
        }
    }
    Ok(items)
}
