//! The store on DynamoDB. Items are mapped with serde_dynamo; conditions are compiled to
//! condition expressions with the same meaning as [`Condition::holds_for`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, Put, PutRequest, ReturnValue, TransactWriteItem,
    Update as DynamoUpdate, WriteRequest,
};
use serde_dynamo::aws_sdk_dynamodb_1 as dynamo_serde;
use serde_json::{Map, Value};

use super::{
    BatchOp, Condition, CursorKey, Index, IndexKey, Item, Key, Page, Query, SortKey, Store, StoreError, TransactOp,
    Update, batch_chunks, validate_key, validate_transaction,
};
use crate::clock::Clock;

type AttributeMap = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    backoff: Backoff,
}

/// Retries of unprocessed batch items: exponential, capped, then give up as throttled.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_millis(50), max: Duration::from_secs(2), attempts: 8 }
    }
}

impl Backoff {
    fn delay(&self, attempt: u32) -> Duration {
        let exponential = self.first.saturating_mul(2u32.saturating_pow(attempt));
        let capped = exponential.min(self.max);
        // Full jitter: spreads the retries of many concurrent writers.
        capped.mul_f64(rand::random::<f64>().max(0.1))
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self { client, table: table.into(), clock, backoff: Backoff::default() }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }
}

fn backend<E: std::error::Error + Send + Sync + 'static>(err: E) -> StoreError {
    StoreError::Backend(Box::new(err))
}

/// Maps an SDK error to the port's error; `transaction` decodes cancellation reasons.
fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
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

// ---------------------------------------------------------------------------------------------
// Item mapping

fn to_attributes(item: &Item) -> Result<AttributeMap, StoreError> {
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

fn from_attributes(mut map: AttributeMap) -> Result<Item, StoreError> {
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

fn key_attributes(key: &Key) -> AttributeMap {
    HashMap::from([
        ("PK".to_owned(), AttributeValue::S(key.pk.clone())),
        ("SK".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn cursor_attributes(cursor: &CursorKey, index: Option<Index>) -> Result<AttributeMap, StoreError> {
    let mut map = key_attributes(&cursor.key);
    if let Some(index) = index {
        let index_key = cursor.index.as_ref().ok_or(StoreError::InvalidCursor)?;
        map.insert(index.pk_attribute().into(), AttributeValue::S(index_key.pk.clone()));
        map.insert(index.sk_attribute().into(), AttributeValue::S(index_key.sk.clone()));
    }
    Ok(map)
}

// ---------------------------------------------------------------------------------------------
// Expressions

/// Collects the placeholders (`#n0`, `:v0`) of one request's expressions.
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    values: AttributeMap,
}

impl Expression {
    fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| n.as_str() == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn json(&mut self, value: &Value) -> Result<String, StoreError> {
        let value = dynamo_serde::to_attribute_value(value).map_err(|err| StoreError::Invalid(err.to_string()))?;
        Ok(self.value(value))
    }

    /// The condition with expiry folded in: an expired item is absent.
    fn condition(&mut self, condition: &Condition, now: i64) -> Result<String, StoreError> {
        let body = self.condition_body(condition)?;
        let now = self.value(AttributeValue::N(now.to_string()));
        let live = format!("(attribute_exists(PK) AND (attribute_not_exists(expires_at) OR expires_at > {now}))");
        Ok(if condition.holds_for(None) {
            format!("(attribute_not_exists(PK) OR expires_at <= {now} OR ({live} AND {body}))")
        } else {
            format!("({live} AND {body})")
        })
    }

    fn condition_body(&mut self, condition: &Condition) -> Result<String, StoreError> {
        Ok(match condition {
            Condition::Exists => "attribute_exists(PK)".to_owned(),
            Condition::NotExists => "attribute_not_exists(PK)".to_owned(),
            Condition::Equals(name, value) => {
                format!("{} = {}", self.name(name), self.json(value)?)
            }
            Condition::LessThan(name, value) => {
                format!("{} < {}", self.name(name), self.json(value)?)
            }
            Condition::GreaterThan(name, value) => {
                format!("{} > {}", self.name(name), self.json(value)?)
            }
            Condition::AttributeExists(name) => format!("attribute_exists({})", self.name(name)),
            Condition::AttributeNotExists(name) => {
                format!("attribute_not_exists({})", self.name(name))
            }
            Condition::And(all) | Condition::Or(all) if all.is_empty() => {
                return Err(StoreError::Invalid("empty condition list".into()));
            }
            Condition::And(all) => self.join(all, " AND ")?,
            Condition::Or(any) => self.join(any, " OR ")?,
        })
    }

    fn join(&mut self, conditions: &[Condition], separator: &str) -> Result<String, StoreError> {
        let parts = conditions.iter().map(|c| self.condition_body(c)).collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", parts.join(separator)))
    }

    /// The update expression equivalent to [`Update::apply`].
    fn update(&mut self, update: &Update, entity_type: &str, pk: &str) -> Result<String, StoreError> {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut add = Vec::new();
        let kind = self.value(AttributeValue::S(entity_type.to_owned()));
        set.push(format!("entity_type = if_not_exists(entity_type, {kind})"));
        for (name, value) in &update.set {
            set.push(format!("{} = {}", self.name(name), self.json(value)?));
        }
        for (name, by) in &update.add {
            add.push(format!("{} {}", self.name(name), self.value(AttributeValue::N(by.to_string()))));
        }
        remove.extend(update.remove.iter().map(|name| self.name(name)));
        let mut index_keys: Vec<(Index, Option<IndexKey>)> = update.set_indexes.clone();
        if let Some(expires_at) = update.expires_at {
            match expires_at {
                Some(at) => set.push(format!("expires_at = {}", self.value(AttributeValue::N(at.to_string())))),
                None => remove.push("expires_at".to_owned()),
            }
            let expiry_key = expires_at
                .map(|at| IndexKey::new(crate::store::expiry::partition(at, pk), crate::store::expiry::sort_key(at)));
            index_keys.push((Index::Gsi2, expiry_key));
        }
        for (index, key) in index_keys {
            match key {
                Some(key) => {
                    set.push(format!("{} = {}", index.pk_attribute(), self.value(AttributeValue::S(key.pk))));
                    set.push(format!("{} = {}", index.sk_attribute(), self.value(AttributeValue::S(key.sk))));
                }
                None => remove.extend([index.pk_attribute().to_owned(), index.sk_attribute().to_owned()]),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !add.is_empty() {
            expression += &format!(" ADD {}", add.join(", "));
        }
        if !remove.is_empty() {
            expression += &format!(" REMOVE {}", remove.join(", "));
        }
        Ok(expression)
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<AttributeMap> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// The port

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let now = self.clock.epoch_seconds();
        match output.item {
            Some(map) => Ok(Some(from_attributes(map)?).filter(|item| !item.is_expired_at(now))),
            None => Ok(None),
        }
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        item.validate()?;
        let mut expression = Expression::default();
        let condition = condition.map(|c| expression.condition(&c, self.clock.epoch_seconds())).transpose()?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attributes(&item)?))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        entity_type: &str,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        validate_key(key)?;
        update.validate()?;
        let mut expression = Expression::default();
        let update_expression = expression.update(&update, entity_type, &key.pk)?;
        let condition = condition.map(|c| expression.condition(&c, self.clock.epoch_seconds())).transpose()?;
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .update_expression(update_expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let item = from_attributes(output.attributes.unwrap_or_default())?;
        item.validate()?;
        Ok(item)
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let now = self.clock.epoch_seconds();
        let mut expression = Expression::default();
        let condition = condition.map(|c| expression.condition(&c, now)).transpose()?;
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error)?;
        match output.attributes {
            Some(map) => Ok(Some(from_attributes(map)?).filter(|item| !item.is_expired_at(now))),
            None => Ok(None),
        }
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        query.validate()?;
        let cursor = query.decoded_cursor()?;
        let now = self.clock.epoch_seconds();
        let (pk_name, sk_name) = match query.index {
            None => ("PK", "SK"),
            Some(index) => (index.pk_attribute(), index.sk_attribute()),
        };
        let mut expression = Expression::default();
        let pk = expression.value(AttributeValue::S(query.partition.clone()));
        let mut key_condition = format!("{} = {pk}", expression.name(pk_name));
        if query.sort != SortKey::Any {
            let sk = expression.name(sk_name);
            let mut string = |value: &str| expression.value(AttributeValue::S(value.to_owned()));
            key_condition += &match &query.sort {
                SortKey::Any => String::new(),
                SortKey::Equals(v) => format!(" AND {sk} = {}", string(v)),
                SortKey::BeginsWith(v) => format!(" AND begins_with({sk}, {})", string(v)),
                SortKey::Between(low, high) => {
                    format!(" AND {sk} BETWEEN {} AND {}", string(low), string(high))
                }
                SortKey::LessThan(v) => format!(" AND {sk} < {}", string(v)),
                SortKey::GreaterThan(v) => format!(" AND {sk} > {}", string(v)),
            };
        }
        let filter = (!query.include_expired).then(|| {
            let now_value = expression.value(AttributeValue::N(now.to_string()));
            format!("attribute_not_exists(expires_at) OR expires_at > {now_value}")
        });

        // DynamoDB applies `Limit` before the expiry filter: keep reading until one item more
        // than asked is found (so the cursor is only given when more follow) or the end.
        let wanted = query.limit as usize + 1;
        let mut items = Vec::with_capacity(wanted);
        let mut start = cursor.map(|c| cursor_attributes(&c, query.index)).transpose()?;
        loop {
            let remaining = i32::try_from(wanted - items.len()).unwrap_or(i32::MAX);
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(query.index.map(|i| i.name().to_owned()))
                .key_condition_expression(&key_condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(expression.names())
                .set_expression_attribute_values(expression.values())
                .scan_index_forward(query.forward)
                .limit(remaining)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for map in output.items.unwrap_or_default() {
                items.push(from_attributes(map)?.projected(query.index));
            }
            start = output.last_evaluated_key;
            if items.len() >= wanted || start.is_none() {
                break;
            }
        }
        let cursor = if items.len() > query.limit as usize {
            items.truncate(query.limit as usize);
            items.last().map(|last| CursorKey::after(last, query.index).encode())
        } else {
            None
        };
        Ok(Page { items, cursor })
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let now = self.clock.epoch_seconds();
        let mut items = Vec::with_capacity(ops.len());
        for op in &ops {
            let mut e = Expression::default();
            let transact_item = match op {
                TransactOp::Put { item, condition } => {
                    let condition = condition.as_ref().map(|c| e.condition(c, now)).transpose()?;
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.table)
                                .set_item(Some(to_attributes(item)?))
                                .set_condition_expression(condition)
                                .set_expression_attribute_names(e.names())
                                .set_expression_attribute_values(e.values())
                                .build()
                                .map_err(backend)?,
                        )
                        .build()
                }
                TransactOp::Update { key, entity_type, update, condition } => {
                    let update_expression = e.update(update, entity_type, &key.pk)?;
                    let condition = condition.as_ref().map(|c| e.condition(c, now)).transpose()?;
                    TransactWriteItem::builder()
                        .update(
                            DynamoUpdate::builder()
                                .table_name(&self.table)
                                .set_key(Some(key_attributes(key)))
                                .update_expression(update_expression)
                                .set_condition_expression(condition)
                                .set_expression_attribute_names(e.names())
                                .set_expression_attribute_values(e.values())
                                .build()
                                .map_err(backend)?,
                        )
                        .build()
                }
                TransactOp::Delete { key, condition } => {
                    let condition = condition.as_ref().map(|c| e.condition(c, now)).transpose()?;
                    TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&self.table)
                                .set_key(Some(key_attributes(key)))
                                .set_condition_expression(condition)
                                .set_expression_attribute_names(e.names())
                                .set_expression_attribute_values(e.values())
                                .build()
                                .map_err(backend)?,
                        )
                        .build()
                }
                TransactOp::Check { key, condition } => {
                    let condition = e.condition(condition, now)?;
                    TransactWriteItem::builder()
                        .condition_check(
                            ConditionCheck::builder()
                                .table_name(&self.table)
                                .set_key(Some(key_attributes(key)))
                                .condition_expression(condition)
                                .set_expression_attribute_names(e.names())
                                .set_expression_attribute_values(e.values())
                                .build()
                                .map_err(backend)?,
                        )
                        .build()
                }
            };
            items.push(transact_item);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            // Makes the SDK's own retries of this call idempotent on AWS.
            .client_request_token(ulid::Ulid::new().to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => {
                        Err(cancellation(canceled.cancellation_reasons()))
                    }
                    _ => Err(sdk_error(err)),
                }
            }
        }
    }

    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        for chunk in batch_chunks(ops)? {
            let requests = chunk
                .iter()
                .map(|op| match op {
                    BatchOp::Put(item) => Ok(WriteRequest::builder()
                        .put_request(
                            PutRequest::builder().set_item(Some(to_attributes(item)?)).build().map_err(backend)?,
                        )
                        .build()),
                    BatchOp::Delete(key) => Ok(WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder().set_key(Some(key_attributes(key))).build().map_err(backend)?,
                        )
                        .build()),
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            write_until_processed(requests, self.backoff, |requests| async {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok(output.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default())
            })
            .await?;
        }
        Ok(())
    }
}

/// Sends a batch, then what the backend left unprocessed, with backoff, until nothing is
/// left or the attempts run out.
pub(crate) async fn write_until_processed<T, F, Fut>(
    mut pending: Vec<T>,
    backoff: Backoff,
    mut send: F,
) -> Result<(), StoreError>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut attempt = 0;
    while !pending.is_empty() {
        if attempt > 0 {
            if attempt >= backoff.attempts {
                return Err(StoreError::Throttled);
            }
            tokio::time::sleep(backoff.delay(attempt - 1)).await;
        }
        pending = match send(pending).await {
            Ok(unprocessed) => unprocessed,
            Err(err) => return Err(err),
        };
        attempt += 1;
    }
    Ok(())
}

fn cancellation(reasons: &[aws_sdk_dynamodb::types::CancellationReason]) -> StoreError {
    for (position, reason) in reasons.iter().enumerate() {
        match reason.code() {
            Some("ConditionalCheckFailed") => {
                return StoreError::ConditionFailed { operation: Some(position) };
            }
            Some("TransactionConflict") => return StoreError::TransactionConflict,
            Some("ThrottlingError" | "ProvisionedThroughputExceeded") => {
                return StoreError::Throttled;
            }
            Some("ValidationError") => {
                return StoreError::Invalid(reason.message().unwrap_or("validation error").to_owned());
            }
            _ => {}
        }
    }
    StoreError::TransactionConflict
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn fast() -> Backoff {
        Backoff { first: Duration::from_millis(1), max: Duration::from_millis(2), attempts: 4 }
    }

    #[tokio::test]
    async fn unprocessed_items_are_sent_again_until_written() {
        let calls = AtomicU32::new(0);
        let sent = std::sync::Mutex::new(Vec::new());
        // The backend processes one item per call, leaving the rest unprocessed.
        write_until_processed(vec![1, 2, 3], fast(), |mut pending: Vec<i32>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let first = pending.remove(0);
            sent.lock().unwrap().push(first);
            async move { Ok(pending) }
        })
        .await
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(*sent.lock().unwrap(), vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_backend_that_never_processes_ends_in_throttled() {
        let calls = AtomicU32::new(0);
        let result = write_until_processed(vec![1], fast(), |pending: Vec<i32>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok(pending) }
        })
        .await;
        assert!(matches!(result, Err(StoreError::Throttled)));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_condition_that_holds_for_absent_items_also_holds_for_expired_ones() {
        let mut e = Expression::default();
        let text = e.condition(&Condition::NotExists, 100).unwrap();
        assert!(text.starts_with("(attribute_not_exists(PK) OR expires_at <= :v0"), "{text}");
        let text = Expression::default().condition(&Condition::equals("version", 1), 100).unwrap();
        assert!(text.contains("attribute_exists(PK) AND"), "{text}");
    }
}
