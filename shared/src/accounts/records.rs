//! The account records as kept in the table, and how they are keyed (see `crate::keys`).

use crate::domain::{Region, Role};
use crate::keys;
use crate::store::{Index, IndexKey, Item, Key, StoreError};
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
}

impl UserRecord {
    pub fn key(user_id: &str) -> Key {
        let (pk, sk) = keys::user(user_id);
        Key::new(pk, sk)
    }

    pub fn item(&self) -> Result<Item, StoreError> {
        Ok(Item::new(Self::key(&self.user_id), "user").with_data(self)?.with_index(
            Index::Gsi1,
            IndexKey::new(keys::organisation_members(&self.organisation_id), keys::member_sort(&self.user_id)),
        ))
    }
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
        let (pk, sk) = keys::organisation(organisation_id);
        Key::new(pk, sk)
    }

    pub fn item(&self) -> Result<Item, StoreError> {
        Item::new(Self::key(&self.organisation_id), "organisation").with_data(self)
    }
}

/// The claim on an address: at most one account per canonical e-mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailClaim {
    pub user_id: String,
}

impl EmailClaim {
    pub fn key(canonical_email: &str) -> Key {
        let (pk, sk) = keys::email_claim(canonical_email);
        Key::new(pk, sk)
    }

    pub fn item(&self, canonical_email: &str) -> Result<Item, StoreError> {
        Ok(Item::new(Self::key(canonical_email), "email_claim")
            .with_data(self)?
            .with_index(Index::Gsi1, IndexKey::new(keys::subject_index(&self.user_id), "EMAIL")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    VerifyEmail,
    ChangeEmail,
    Invitation,
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
        let (pk, sk) = keys::token(token_hash);
        Key::new(pk, sk)
    }

    /// Files the token under its user (erased with them) or its organisation (invitations).
    pub fn item(&self, token_hash: &str, expires_at: i64) -> Result<Item, StoreError> {
        let index = match &self.user_id {
            Some(user_id) => IndexKey::new(keys::subject_index(user_id), format!("TOKEN#{token_hash}")),
            None => IndexKey::new(keys::organisation_invitations(&self.organisation_id), format!("TOKEN#{token_hash}")),
        };
        let kind = match self.kind {
            TokenKind::Invitation => "invitation",
            TokenKind::VerifyEmail | TokenKind::ChangeEmail => "token",
        };
        Ok(Item::new(Self::key(token_hash), kind)
            .with_data(self)?
            .with_index(Index::Gsi1, index)
            .expires_at(expires_at))
    }
}
