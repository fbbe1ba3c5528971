//! Where a subject's data lives, and the erasure that uses it.
//!
//! [`LOCATIONS`] is the one registry of everything we hold about a person. Erasure deletes
//! what it finds there, and the access export (rights requests) reads the same places, so
//! the two can never disagree. A feature that stores personal data somewhere new adds its
//! location here.
//!
//! Items under a legal duty carry a `legal_hold` attribute (`{"basis", "until"}`): erasure
//! keeps them and lists them in its answer, with their legal basis and purge date.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::accounts::records::members;
use crate::blob::BlobError;
use crate::keys;
use crate::store::{BatchOp, Index, Item, Key, Query, SortKey, StoreError, query_all};
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
        name: "login_throttle",
        description: "Counters of failed logins for the account's address (kept 15 minutes).",
        queries: |s| vec![Query::partition(throttle::LOGIN_PER_ACCOUNT.partition(&s.canonical_email)).limit(1_000)],
    },
    Location {
        name: "link_request_throttle",
        description: "Counters of password reset and verification links mailed to the account's address (kept 1 hour).",
        queries: |s| {
            crate::accounts::limits::PER_ACCOUNT_LIMITS
                .iter()
                .map(|limit| Query::partition(limit.partition(&s.canonical_email)).limit(1_000))
                .collect()
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

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureReport {
    /// Items erased, by kind: counts only.
    pub erased: BTreeMap<String, u64>,
    pub exports_erased: usize,
    pub retained: Vec<Retained>,
}

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
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

/// Erases everything about the subject but what is under a legal hold, in batches of 25.
pub async fn erase(platform: &Platform, subject: &Subject) -> Result<ErasureReport, ErasureError> {
    let items = collect(platform, subject).await?;
    let mut report = ErasureReport::default();
    let mut deletes = Vec::with_capacity(items.len());
    for item in items {
        match legal_hold(&item) {
            Some(hold) => report.retained.push(Retained {
                kind: item.entity_type.clone(),
                legal_basis: hold.basis,
                purge_after: hold.until,
            }),
            None => {
                *report.erased.entry(item.entity_type.clone()).or_default() += 1;
                deletes.push(BatchOp::Delete(item.key));
            }
        }
    }
    platform.store.batch_write(deletes).await?;
    report.exports_erased = platform.blobs.delete_prefix(&export_prefix(&subject.user_id)).await?;
    tracing::info!(erased = report.erased.values().sum::<u64>(), retained = report.retained.len(), "subject erased");
    Ok(report)
}

/// Erases a whole organisation: every member as a subject, its invitations, and itself.
pub async fn erase_organisation(platform: &Platform, organisation_id: &str) -> Result<ErasureReport, ErasureError> {
    let store = platform.store.as_ref();
    let mut report = ErasureReport::default();
    for member in members(store, organisation_id).await? {
        let subject = Subject { user_id: member.user_id, canonical_email: member.email_canonical };
        let member_report = erase(platform, &subject).await?;
        for (kind, count) in member_report.erased {
            *report.erased.entry(kind).or_default() += count;
        }
        report.exports_erased += member_report.exports_erased;
        report.retained.extend(member_report.retained);
    }
    // Its recipients' e-mail interactions and suppressions.
    let mut org_items = Vec::new();
    for shard in 0..keys::INTERACTION_SHARDS {
        let query = Query::index(Index::Gsi1, keys::organisation_interactions(organisation_id, shard)).limit(1_000);
        org_items.extend(query_all(store, query).await?);
    }
    let suppressions = Query::partition(keys::organisation_suppressions(organisation_id)).limit(1_000);
    org_items.extend(query_all(store, suppressions).await?);
    // Invoices: the law requires keeping them; the sweeper purges each at its date.
    let invoices =
        query_all(store, Query::partition(keys::organisation_invoices(organisation_id)).limit(1_000)).await?;
    for invoice in invoices {
        match legal_hold(&invoice) {
            Some(hold) => report.retained.push(Retained {
                kind: invoice.entity_type.clone(),
                legal_basis: hold.basis,
                purge_after: hold.until,
            }),
            None => org_items.push(invoice),
        }
    }
    for item in &org_items {
        *report.erased.entry(item.entity_type.clone()).or_default() += 1;
    }
    store.batch_write(org_items.into_iter().map(|i| BatchOp::Delete(i.key)).collect()).await?;
    let invitations =
        query_all(store, Query::index(Index::Gsi1, keys::organisation_invitations(organisation_id)).limit(1_000))
            .await?;
    *report.erased.entry("invitation".into()).or_default() += invitations.len() as u64;
    let mut deletes: Vec<BatchOp> = invitations.into_iter().map(|i| BatchOp::Delete(i.key)).collect();
    let key = keys::organisation(organisation_id);
    deletes.push(BatchOp::Delete(key));
    *report.erased.entry("organisation".into()).or_default() += 1;
    store.batch_write(deletes).await?;
    Ok(report)
}

/// What an erasure in progress is about: written before it starts, deleted when it is done,
/// so the retention sweeper can finish any erasure a crash interrupted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pending {
    Subject { subject: Subject },
    Organisation { organisation_id: String },
}

/// Records an erasure about to start; returns the entry to close when it is done.
pub async fn journal(platform: &Platform, pending: &Pending) -> Result<Key, StoreError> {
    let key = keys::erasure_journal_entry(platform.clock.epoch_seconds(), &ulid::Ulid::new().to_string());
    platform.store.put(Item::new(key.clone(), "erasure_in_progress").with_data(pending)?, None).await?;
    Ok(key)
}

pub async fn close(platform: &Platform, entry: &Key) -> Result<(), StoreError> {
    platform.store.delete(entry, None).await.map(|_| ())
}

/// Runs an erasure under the journal: if the process dies half-way, the sweeper finishes it.
pub async fn erase_journaled(platform: &Platform, pending: Pending) -> Result<ErasureReport, ErasureError> {
    let entry = journal(platform, &pending).await?;
    let report = run(platform, &pending).await?;
    close(platform, &entry).await?;
    Ok(report)
}

async fn run(platform: &Platform, pending: &Pending) -> Result<ErasureReport, ErasureError> {
    match pending {
        Pending::Subject { subject } => erase(platform, subject).await,
        Pending::Organisation { organisation_id } => erase_organisation(platform, organisation_id).await,
    }
}

/// Finishes erasures started before `started_before` (unix seconds) and never closed.
/// Erasing again what is already gone erases nothing, so this is safe to repeat.
pub async fn resume_interrupted(platform: &Platform, started_before: i64) -> Result<usize, ErasureError> {
    let query = Query::partition(keys::ERASURE_JOURNAL_PARTITION)
        .sort(SortKey::LessThan(keys::erasure_journal_started_before(started_before)))
        .limit(100);
    let entries = platform.store.query(query).await?.items;
    let mut finished = 0;
    // One entry that keeps failing must not stop the others (nor the rest of the sweep).
    for entry in entries {
        let result = match entry.data::<Pending>() {
            Ok(pending) => run(platform, &pending).await,
            Err(err) => Err(err.into()),
        };
        match result {
            Ok(_) => {
                close(platform, &entry.key).await?;
                finished += 1;
            }
            Err(err) => tracing::error!(error = %err, "an interrupted erasure failed again; the next sweep retries it"),
        }
    }
    if finished > 0 {
        tracing::warn!(finished, "finished erasures a crash had interrupted");
    }
    Ok(finished)
}
