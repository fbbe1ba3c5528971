//! Items to DynamoDB attribute maps and back, and SDK errors to the port's errors.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::aws_sdk_dynamodb_1 as dynamo_serde;
use serde_json::{Map, Value};

use super::AttributeMap;
use crate::store::{CursorKey, Index, IndexKey, Item, Key, StoreError};

pub(super) fn backend<E: std::error::Error + Send + Sync + 'static>(err: E) -> StoreError {
    StoreError::Backend(Box::new(err))
}

/// Maps an SDK error to the port's error; `transaction` decodes cancellation reasons.
pub(super) fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed { operation: None },
        Some("TransactionConflictException") => StoreError::TransactionConflict,
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
            StoreError::Throttled
        }
        Some("ValidationException") => StoreError::Invalid(err.message().unwrap_or("validation").to_owned()),
        _ => backend(err),
    }
}

pub(super) fn to_attributes(item: &Item) -> Result<AttributeMap, StoreError> {
    let mut map: AttributeMap =
        dynamo_serde::to_item(&item.attrs).map_err(|err| StoreError::Invalid(format!("item data: {err}")))?;
    map.insert("PK".into(), AttributeValue::S(item.key.pk.clone()));
    map.insert("SK".into(), AttributeValue::S(item.key.sk.clone()));
    map.insert("entity_type".into(), AttributeValue::S(item.entity_type.clone()));
    for index in Index::ALL {
        if let Some(key) = item.index(index) {
            map.insert(index.pk_attribute().into(), AttributeValue::S(key.pk.clone()));
            map.insert(index.sk_attribute().into(), AttributeValue::S(key.sk.clone()));
        }
    }
    if let Some(at) = item.expires_at {
        map.insert("expires_at".into(), AttributeValue::N(at.to_string()));
    }
    Ok(map)
}

pub(super) fn from_attributes(mut map: AttributeMap) -> Result<Item, StoreError> {
    let mut string = |name: &str| match map.remove(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    };
    let pk = string("PK").ok_or_else(|| StoreError::Corrupt("item without PK".into()))?;
    let sk = string("SK").ok_or_else(|| StoreError::Corrupt("item without SK".into()))?;
    let entity_type = string("entity_type").unwrap_or_default();
    let mut index = |index: Index| match (string(index.pk_attribute()), string(index.sk_attribute())) {
        (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
        _ => None,
    };
    let (gsi1, gsi2, gsi3) = (index(Index::Gsi1), index(Index::Gsi2), index(Index::Gsi3));
    let expires_at = match map.remove("expires_at") {
        Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
        _ => None,
    };
    let attrs: Map<String, Value> =
        dynamo_serde::from_item(map).map_err(|err| StoreError::Corrupt(format!("item {sk}: {err}")))?;
    Ok(Item { key: Key { pk, sk }, entity_type, gsi1, gsi2, gsi3, expires_at, attrs })
}

pub(super) fn key_attributes(key: &Key) -> AttributeMap {
    HashMap::from([
        ("PK".to_owned(), AttributeValue::S(key.pk.clone())),
        ("SK".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

pub(super) fn cursor_attributes(cursor: &CursorKey, index: Option<Index>) -> Result<AttributeMap, StoreError> {
    let mut map = key_attributes(&cursor.key);
    if let Some(index) = index {
        let index_key = cursor.index.as_ref().ok_or(StoreError::InvalidCursor)?;
        map.insert(index.pk_attribute().into(), AttributeValue::S(index_key.pk.clone()));
        map.insert(index.sk_attribute().into(), AttributeValue::S(index_key.sk.clone()));
    }
    Ok(map)
}
