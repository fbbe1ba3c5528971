//! Consent: the purposes (one declaration), the ledger that proves every change, and the one
//! cheap check every consumer calls before using personal data for a purpose.
//!
//! Each user's consent lives in their partition: a current-state item per purpose
//! (`CONSENT#STATE#<purpose>`) and an append-only ledger (`CONSENT#LOG#<receipt id>`), written
//! together in one transaction guarded by the state's version, so concurrent changes are
//! serialised and none is lost. Erasure finds both through the user partition.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::keys;
use crate::retry::Backoff;
use crate::store::{Condition, Index, IndexKey, Item, Key, Query, SortKey, Store, StoreError, TransactOp, query_all};

/// The privacy notice whose version consents are given against; its SHA-256 is recorded in
/// every ledger entry, so what the person saw can be proved.
pub const NOTICE_TEXT: &str = include_str!("../../privacy-notice.md");

pub static NOTICE_SHA256: LazyLock<String> = LazyLock::new(|| crate::hash::sha256_hex(NOTICE_TEXT.as_bytes()));

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PurposeId {
    AnalyticsCookies,
    ProductUpdates,
    InactivityReminders,
    MarketingSharing,
}

impl PurposeId {
    pub const ALL: [PurposeId; 4] = [
        PurposeId::AnalyticsCookies,
        PurposeId::ProductUpdates,
        PurposeId::InactivityReminders,
        PurposeId::MarketingSharing,
    ];

    pub fn as_str(self) -> &'static str {
        self.purpose().id
    }

    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == id)
    }

    pub fn purpose(self) -> &'static Purpose {
        &PURPOSES[self as usize]
    }
}

/// A purpose of processing that needs consent.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Purpose {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// GDPR Art. 6(1) basis.
    pub lawful_basis: &'static str,
    /// Who receives the data.
    pub recipients: &'static [&'static str],
    pub retention: &'static str,
    /// Whether a new version of the privacy notice requires asking again.
    pub ask_again_on_new_policy: bool,
    /// Kantara purpose category, for receipts.
    #[serde(skip)]
    pub category: &'static str,
    /// What personal data, for receipts.
    #[serde(skip)]
    pub pii_categories: &'static [&'static str],
}

/// The purposes, in [`PurposeId`] order: the one declaration every part reads.
pub static PURPOSES: [Purpose; 4] = [
    Purpose {
        id: "analytics_cookies",
        title: "Analytics cookies",
        description: "Cookies and similar technologies that collect information about your browser and your IP address, to analyse how you use the platform and improve our support.",
        lawful_basis: "consent (GDPR Art. 6(1)(a))",
        recipients: &["Infentre", "Amazon Web Services (hosting, EU)"],
        retention: "Usage data is erased on an ongoing basis and kept at most 3 years.",
        ask_again_on_new_policy: true,
        category: "Improve performance",
        pii_categories: &["browser information", "IP address", "platform usage"],
    },
    Purpose {
        id: "product_updates",
        title: "Product updates",
        description: "E-mails about new or improved features.",
        lawful_basis: "consent (GDPR Art. 6(1)(a))",
        recipients: &["Infentre", "SendGrid (e-mail delivery)"],
        retention: "Until you withdraw consent or cancel your account.",
        ask_again_on_new_policy: false,
        category: "Marketing",
        pii_categories: &["e-mail address"],
    },
    Purpose {
        id: "inactivity_reminders",
        title: "Inactivity reminders",
        description: "Reminders when you have not used the service for a while.",
        lawful_basis: "consent (GDPR Art. 6(1)(a))",
        recipients: &["Infentre", "SendGrid (e-mail delivery)"],
        retention: "Until you withdraw consent or cancel your account.",
        ask_again_on_new_policy: false,
        category: "Service",
        pii_categories: &["e-mail address", "last activity"],
    },
    Purpose {
        id: "marketing_sharing",
        title: "Sharing usage data with Google and Facebook",
        description: "Information about how you use the platform shared with Google Analytics and Facebook, identified by a hash of your e-mail address, never with your IP address.",
        lawful_basis: "consent (GDPR Art. 6(1)(a))",
        recipients: &["Google (Google Analytics)", "Meta Platforms (Facebook)"],
        retention: "Usage data is kept at most 3 years; the recipients' own retention applies to what they received.",
        ask_again_on_new_policy: true,
        category: "Marketing",
        pii_categories: &["hashed e-mail address", "platform usage"],
    },
];

/// How a change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Api,
    CookieBanner,
    UnsubscribeLink,
    Gpc,
    Operator,
    /// Asked by e-mail to hello@ and confirmed by the single-use link mailed back.
    Email,
}

/// The current state of one purpose for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentState {
    pub purpose: PurposeId,
    pub granted: bool,
    pub updated_at: i64,
    pub receipt_id: String,
    pub policy_version: String,
    pub method: Method,
    /// Increases with every change: the ledger entry that produced this state has it too.
    pub version: i64,
}

impl ConsentState {
    /// Whether it counts now: granted, and not made stale by a new notice for a purpose that
    /// asks again.
    pub fn in_force(&self, policy_version: &str) -> bool {
        self.granted && (!self.purpose.purpose().ask_again_on_new_policy || self.policy_version == policy_version)
    }
}

/// One entry of the ledger: the proof of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub receipt_id: String,
    pub user_id: String,
    pub purpose: PurposeId,
    pub granted: bool,
    pub recorded_at: i64,
    pub policy_version: String,
    /// SHA-256 of the notice text in force.
    pub notice_sha256: String,
    pub method: Method,
    /// The state version this change produced.
    pub version: i64,
}

fn state_key(user_id: &str, purpose: PurposeId) -> Key {
    keys::consent_state(user_id, purpose.as_str())
}

pub fn ledger_key(user_id: &str, receipt_id: &str) -> Key {
    keys::consent_ledger(user_id, receipt_id)
}

/// The ledger of a user, newest first.
pub fn ledger_query(user_id: &str) -> Query {
    Query::partition(keys::user_partition(user_id))
        .sort(SortKey::BeginsWith(keys::CONSENT_LEDGER_PREFIX.into()))
        .backward()
}

/// The current-state item; a granted one is also listed in its purpose's GSI3 partitions, so
/// "everyone who consented" is a query, never a scan.
fn state_item(key: &Key, state: &ConsentState, user_id: &str) -> Result<Item, StoreError> {
    let item = Item::new(key.clone(), "consent_state").with_data(state)?;
    if !state.granted {
        return Ok(item);
    }
    let shard = crate::hash::shard_of(user_id, keys::CONSENTED_SHARDS);
    Ok(item.with_index(Index::Gsi3, IndexKey::new(keys::consented(state.purpose.as_str(), shard), user_id)))
}

/// The users who granted `purpose`, for one of its shards (check [`is_granted`] again before
/// using each: the index also lists grants made stale by a new notice).
pub fn consented_query(purpose: PurposeId, shard: u32) -> Query {
    Query::index(Index::Gsi3, keys::consented(purpose.as_str(), shard)).limit(1_000)
}

/// The one consent check: one read. Every consumer calls this (or [`states`] for several
/// purposes at once) right before it uses the data, so a withdrawal counts at once.
pub async fn is_granted(platform: &Platform, user_id: &str, purpose: PurposeId) -> Result<bool, StoreError> {
    let state = platform.store.get(&state_key(user_id, purpose)).await?;
    match state {
        Some(item) => Ok(item.data::<ConsentState>()?.in_force(&platform.settings.policy_version)),
        None => Ok(false),
    }
}

/// The purposes to ask the user about again: given under an older notice version, for a
/// purpose whose consent a new version suspends (one query; shown at sign-in).
pub async fn to_ask_again(
    store: &dyn Store,
    user_id: &str,
    policy_version: &str,
) -> Result<Vec<PurposeId>, StoreError> {
    let states = states(store, user_id).await?;
    Ok(states.into_iter().filter(|(_, s)| s.granted && !s.in_force(policy_version)).map(|(p, _)| p).collect())
}

/// Every purpose's current state for a user: one query.
pub async fn states(store: &dyn Store, user_id: &str) -> Result<BTreeMap<PurposeId, ConsentState>, StoreError> {
    let query =
        Query::partition(keys::user_partition(user_id)).sort(SortKey::BeginsWith(keys::CONSENT_STATE_PREFIX.into()));
    let mut states = BTreeMap::new();
    for item in query_all(store, query).await? {
        let state: ConsentState = item.data()?;
        states.insert(state.purpose, state);
    }
    Ok(states)
}

/// Records a grant or withdrawal. An unchanged choice under the same notice version writes
/// nothing and returns the state in force (replays are harmless).
pub async fn record(
    platform: &Platform,
    user_id: &str,
    purpose: PurposeId,
    granted: bool,
    method: Method,
) -> Result<(ConsentState, bool), RecordError> {
    let now = Given {
        at: platform.clock.epoch_seconds(),
        policy_version: platform.settings.policy_version.clone(),
        notice_sha256: NOTICE_SHA256.clone(),
    };
    record_given(platform, user_id, purpose, granted, method, now).await
}

/// When and under which notice a choice was made: now, or earlier for a choice carried over
/// from where it was first made (a visitor's banner), whose proof must keep its own time,
/// version and notice.
#[derive(Debug, Clone)]
pub struct Given {
    pub at: i64,
    pub policy_version: String,
    pub notice_sha256: String,
}

/// [`record`] with the proof of when and under which notice the choice was made.
pub async fn record_given(
    platform: &Platform,
    user_id: &str,
    purpose: PurposeId,
    granted: bool,
    method: Method,
    given: Given,
) -> Result<(ConsentState, bool), RecordError> {
    let key = state_key(user_id, purpose);
    // Optimistic locking: a concurrent change makes the condition fail; read again and retry.
    let backoff = Backoff::CONTENTION;
    for attempt in 1..=backoff.attempts {
        let current: Option<ConsentState> = match platform.store.get(&key).await? {
            Some(item) => Some(item.data()?),
            None => None,
        };
        if let Some(state) = &current
            && state.granted == granted
            && state.policy_version == given.policy_version
        {
            return Ok((state.clone(), false));
        }
        let version = current.as_ref().map_or(0, |s| s.version) + 1;
        let receipt_id = ulid::Ulid::new().to_string();
        let now = given.at;
        let entry = LedgerEntry {
            receipt_id: receipt_id.clone(),
            user_id: user_id.to_owned(),
            purpose,
            granted,
            recorded_at: now,
            policy_version: given.policy_version.clone(),
            notice_sha256: given.notice_sha256.clone(),
            method,
            version,
        };
        let state = ConsentState {
            purpose,
            granted,
            updated_at: now,
            receipt_id: receipt_id.clone(),
            policy_version: given.policy_version.clone(),
            method,
            version,
        };
        let unchanged_since_read = match &current {
            Some(state) => Condition::equals("version", state.version),
            None => Condition::NotExists,
        };
        let ops = vec![
            TransactOp::Put {
                item: Item::new(ledger_key(user_id, &receipt_id), "consent_record").with_data(&entry)?,
                condition: Some(Condition::NotExists),
            },
            TransactOp::Put { item: state_item(&key, &state, user_id)?, condition: Some(unchanged_since_read) },
            // Nothing is recorded about a person whose erasure has started.
            crate::erasure::fence::guard(user_id),
        ];
        match platform.store.transact(ops).await {
            Ok(()) => return Ok((state, true)),
            Err(StoreError::ConditionFailed { operation: Some(FENCE_OP) }) => return Err(RecordError::Erased),
            Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
                backoff.wait(attempt).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(RecordError::Contended)
}

/// Global Privacy Control: the person refuses the sale and sharing of their data. A request
/// carrying `Sec-GPC: 1` records `marketing_sharing` as refused (method `gpc`), whatever it
/// asked for; a refusal already in force writes nothing.
pub async fn honour_gpc(platform: &Platform, user_id: &str) -> Result<ConsentState, RecordError> {
    record(platform, user_id, PurposeId::MarketingSharing, false, Method::Gpc).await.map(|(state, _)| state)
}

/// Whether a request's `Sec-GPC` header is set (`1`, per the GPC specification).
pub fn gpc_header(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim() == "1")
}

/// The position of the fence's check in a consent change's transaction.
const FENCE_OP: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The person's erasure has started: nothing more is recorded about them.
    #[error("the account is being erased")]
    Erased,
    /// Others kept changing the same consent: the caller may try again (503).
    #[error("too many simultaneous changes of this consent")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}
