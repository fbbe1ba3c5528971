//! The account records as kept in the table, and how they are keyed (see `crate::keys`).

use crate::domain::{Region, Role};
use crate::keys;
use crate::lang::Lang;
use crate::store::{Condition, Index, IndexKey, Item, Key, Query, Store, StoreError, Update, query_all};
use serde::{Deserialize, Serialize};

/// An unverified signup (user, organisation, e-mail claim) disappears after this long, so
/// nobody can hold someone else's address hostage.
pub const UNVERIFIED_TTL_SECONDS: i64 = 7 * 24 * 3600;
pub const VERIFICATION_TTL_SECONDS: i64 = 24 * 3600;
pub const INVITATION_TTL_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub user_id: String,
    pub organisation_id: String,
    /// Where e-mails go (as typed, domain lower-cased).
    pub email: String,
    /// Lookups and uniqueness.
    pub email_canonical: String,
    pub role: Role,
    pub email_verified: bool,
    pub password_hash: String,
    pub created_at: i64,
    /// Absent until the first activity (the hourly write's condition tests for absence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<i64>,
    /// When the last inactivity reminder was queued (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminded_at: Option<i64>,
    /// The language of the e-mails we send them (absent on accounts made before it was kept:
    /// English).
    #[serde(default)]
    pub lang: Lang,
}

impl UserRecord {
    pub fn key(user_id: &str) -> Key {
        keys::user(user_id)
    }

    pub fn item(&self) -> Result<Item, StoreError> {
        Ok(Item::new(Self::key(&self.user_id), "user").with_data(self)?.with_index(
            Index::Gsi1,
            IndexKey::new(keys::organisation_members(&self.organisation_id), keys::member_sort(&self.user_id)),
        ))
    }
}

/// `last_active_at` is written at most this often, so busy users do not turn reads into writes.
const ACTIVITY_EVERY_SECONDS: i64 = 3600;

/// Notes that the user was active (a login, or requests): written at most once an hour.
pub async fn note_activity(store: &dyn Store, user_id: &str, now: i64) -> Result<(), StoreError> {
    let key = keys::user(user_id);
    let stale = Condition::And(vec![
        Condition::Exists,
        Condition::Or(vec![
            Condition::AttributeNotExists("last_active_at".into()),
            Condition::less_than("last_active_at", now - ACTIVITY_EVERY_SECONDS + 1),
        ]),
    ]);
    // Filed by the day of activity too: the reminder job finds who went quiet on a day.
    let day = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default().date_naive();
    let index = keys::activity(day, user_id);
    let update = Update::new().set("last_active_at", now).index(Index::Gsi3, Some(index));
    match store.update(&key, "user", update, Some(stale)).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failed() => Ok(()),
        Err(err) => Err(err),
    }
}

/// Every member of an organisation, in order of joining (one index query per 1,000).
pub async fn members(store: &dyn Store, organisation_id: &str) -> Result<Vec<UserRecord>, StoreError> {
    let query = Query::index(Index::Gsi1, keys::organisation_members(organisation_id)).limit(1_000);
    query_all(store, query).await?.iter().map(|m| m.data::<UserRecord>()).collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrganisationRecord {
    pub organisation_id: String,
    pub name: String,
    pub region: Region,
    pub created_at: i64,
}

impl OrganisationRecord {
    pub fn key(organisation_id: &str) -> Key {
        keys::organisation(organisation_id)
    }

    pub fn item(&self) -> Result<Item, StoreError> {
        // Listed among all organisations: a service notice to everyone reads this listing.
        Ok(Item::new(Self::key(&self.organisation_id), "organisation")
            .with_data(self)?
            .with_index(Index::Gsi3, keys::organisation_listed(&self.organisation_id)))
    }
}

/// The claim on an address: at most one account per canonical e-mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailClaim {
    pub user_id: String,
}

impl EmailClaim {
    pub fn key(canonical_email: &str) -> Key {
        keys::email_claim(canonical_email)
    }

    pub fn item(&self, canonical_email: &str) -> Result<Item, StoreError> {
        Ok(Item::new(Self::key(canonical_email), "email_claim")
            .with_data(self)?
            .with_index(Index::Gsi1, IndexKey::new(keys::subject_index(&self.user_id), keys::EMAIL_CLAIM_INDEX_SORT)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    VerifyEmail,
    ChangeEmail,
    Invitation,
    /// Sets a new password (see `accounts::reset`).
    PasswordReset,
}

/// A single-use token, stored under its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub kind: TokenKind,
    pub organisation_id: String,
    /// The account it acts on (absent for an invitation: there is no account yet).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The new address (e-mail change) or the invitee's (invitation).
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
}

impl TokenRecord {
    pub fn key(token_hash: &str) -> Key {
        keys::token(token_hash)
    }

    /// Files the token under its user (erased with them) or its organisation (invitations).
    pub fn item(&self, token_hash: &str, expires_at: i64) -> Result<Item, StoreError> {
        let index = match &self.user_id {
            Some(user_id) => keys::token_index(keys::subject_index(user_id), token_hash),
            None => keys::token_index(keys::organisation_invitations(&self.organisation_id), token_hash),
        };
        let kind = match self.kind {
            TokenKind::Invitation => "invitation",
            TokenKind::VerifyEmail | TokenKind::ChangeEmail | TokenKind::PasswordReset => "token",
        };
        Ok(Item::new(Self::key(token_hash), kind)
            .with_data(self)?
            .with_index(Index::Gsi1, index)
            .expires_at(expires_at))
    }
}
