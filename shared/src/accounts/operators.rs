//! The operators' allow-list, a record per address in the store (partition `OPERATORS`),
//! read on every operator request. An address gets its record from the setting
//! (`INFENTRE_OPERATORS`, seeded at start and on first use) or from `infentre operator add`.
//!
//! A record is bound to the first verified account that uses it, and to that account only: a
//! later account with the same address (the first one erased, or a signup that squats it)
//! is no operator. A record seeded from the setting counts only while the setting still
//! lists its address, so a removal from the setting counts at once; one added by the command
//! counts until `infentre operator remove`. The binding is in the operator's erasure
//! registry (the subject index), so their record goes with their account.

use serde::{Deserialize, Serialize};

use super::UserRecord;
use crate::Platform;
use crate::domain::EmailAddress;
use crate::hash::sha256_hex;
use crate::keys;
use crate::store::{Condition, Index, IndexKey, Item, Key, Query, StoreError, Update, query_all};

const PARTITION: &str = "OPERATORS";
const ENTITY: &str = "operator";

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `INFENTRE_OPERATORS`: counts while the setting lists the address.
    Setting,
    /// `infentre operator add`: counts until removed the same way.
    Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRecord {
    pub email_canonical: String,
    pub source: Source,
    /// The account it is bound to: the first verified one that used it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub added_at: i64,
}

fn key(canonical: &str) -> Key {
    Key::new(PARTITION, format!("EMAIL#{}", sha256_hex(canonical.as_bytes())))
}

/// Adds an address to the allow-list; false if it was there already (left as it is).
pub async fn add(platform: &Platform, address: &EmailAddress, source: Source) -> Result<bool, StoreError> {
    let record = OperatorRecord {
        email_canonical: address.canonical().to_owned(),
        source,
        user_id: None,
        added_at: platform.clock.epoch_seconds(),
    };
    let item = Item::new(key(address.canonical()), ENTITY).with_data(&record)?;
    match platform.store.put(item, Some(Condition::NotExists)).await {
        Ok(()) => Ok(true),
        Err(err) if err.is_condition_failed() => Ok(false),
        Err(err) => Err(err),
    }
}

/// Takes an address off the allow-list; false if it was not on it.
pub async fn remove(platform: &Platform, address: &EmailAddress) -> Result<bool, StoreError> {
    Ok(platform.store.delete(&key(address.canonical()), None).await?.is_some())
}

/// Every record, in no particular order.
pub async fn list(platform: &Platform) -> Result<Vec<OperatorRecord>, StoreError> {
    let items = query_all(platform.store.as_ref(), Query::partition(PARTITION).limit(1_000)).await?;
    items.iter().map(|item| item.data()).collect()
}

/// Brings the records in line with the setting: each address it lists has a record; a
/// record the setting made for an address it no longer lists goes.
pub async fn seed_from_settings(platform: &Platform) -> Result<(), StoreError> {
    let listed = &platform.settings.operators;
    for address in listed {
        if let Ok(address) = EmailAddress::parse(address) {
            add(platform, &address, Source::Setting).await?;
        }
    }
    for record in list(platform).await? {
        if record.source == Source::Setting && !listed.contains(&record.email_canonical) {
            platform.store.delete(&key(&record.email_canonical), None).await?;
        }
    }
    Ok(())
}

/// Whether this account is an operator now: verified, its address has a record that counts,
/// and the record is bound to this very account (bound now if it was bound to none).
pub async fn is_operator(platform: &Platform, user: &UserRecord) -> Result<bool, StoreError> {
    if !user.email_verified {
        return Ok(false);
    }
    let in_setting = platform.settings.operators.contains(&user.email_canonical);
    let record = match platform.store.get(&key(&user.email_canonical)).await? {
        Some(item) => item.data::<OperatorRecord>()?,
        // Seeded on first use too, so a deployment that never ran the seed still works.
        None if in_setting => {
            let address = match EmailAddress::parse(&user.email_canonical) {
                Ok(address) => address,
                Err(_) => return Ok(false),
            };
            add(platform, &address, Source::Setting).await?;
            return bind(platform, user).await;
        }
        None => return Ok(false),
    };
    if record.source == Source::Setting && !in_setting {
        return Ok(false);
    }
    match record.user_id {
        Some(bound) => Ok(bound == user.user_id),
        None => bind(platform, user).await,
    }
}

/// Binds the address's record to the account unless another account took it first.
async fn bind(platform: &Platform, user: &UserRecord) -> Result<bool, StoreError> {
    let update = Update::new()
        .set("user_id", user.user_id.as_str())
        .index(Index::Gsi1, Some(IndexKey::new(keys::subject_index(&user.user_id), "OPERATOR")));
    let unbound = Condition::And(vec![Condition::Exists, Condition::AttributeNotExists("user_id".into())]);
    match platform.store.update(&key(&user.email_canonical), ENTITY, update, Some(unbound)).await {
        Ok(_) => Ok(true),
        Err(err) if err.is_condition_failed() => {
            let record = platform.store.get(&key(&user.email_canonical)).await?;
            let record = record.map(|item| item.data::<OperatorRecord>()).transpose()?;
            Ok(record.and_then(|r| r.user_id).as_deref() == Some(user.user_id.as_str()))
        }
        Err(err) => Err(err),
    }
}
