//! The store on DynamoDB. Items are mapped with serde_dynamo ([`mapping`]); conditions are
//! compiled to condition expressions with the same meaning as [`Condition::holds_for`]
//! ([`expression`]); unprocessed batch items are retried with [`crate::retry::Backoff`].

mod expression;
mod mapping;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest, ReturnValue,
    TransactWriteItem, Update as DynamoUpdate, WriteRequest,
};

use super::{
    BatchOp, Condition, CursorKey, Item, Key, MAX_BATCH_GET_ITEMS, Page, Query, SortKey, Store, StoreError, TransactOp,
    Update, batch_chunks, validate_key, validate_transaction,
};
use crate::clock::Clock;
use crate::retry::Backoff;

type AttributeMap = HashMap<String, AttributeValue>;

use expression::Expression;
use mapping::{backend, cursor_attributes, from_attributes, key_attributes, sdk_error, to_attributes};

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    backoff: Backoff,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self { client, table: table.into(), clock, backoff: Backoff::STORE }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }
}

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

    async fn batch_get(&self, keys: Vec<Key>) -> Result<Vec<Item>, StoreError> {
        use futures::{StreamExt, TryStreamExt};
        keys.iter().try_for_each(validate_key)?;
        // DynamoDB refuses a request that names a key twice.
        let keys: Vec<Key> = keys.into_iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let chunks: Vec<Vec<AttributeMap>> =
            keys.chunks(MAX_BATCH_GET_ITEMS).map(|chunk| chunk.iter().map(key_attributes).collect()).collect();
        let pages: Vec<Vec<Item>> = futures::stream::iter(chunks)
            .map(|chunk| self.get_chunk(chunk))
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect()
            .await?;
        let now = self.clock.epoch_seconds();
        Ok(pages.into_iter().flatten().filter(|item| !item.is_expired_at(now)).collect())
    }

    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        use futures::{StreamExt, TryStreamExt};
        let chunks = batch_chunks(ops)?
            .iter()
            .map(|chunk| chunk.iter().map(write_request).collect::<Result<Vec<_>, StoreError>>())
            .collect::<Result<Vec<_>, StoreError>>()?;
        // The chunks are independent requests: up to BATCH_CONCURRENCY of them in flight, not
        // one round trip after another. Same requests, same count (⌈n/25⌉).
        futures::stream::iter(chunks)
            .map(|requests| {
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
            })
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect::<()>()
            .await
    }
}

impl DynamoStore {
    /// One BatchGetItem of at most 100 keys, then what it left unprocessed, with backoff.
    async fn get_chunk(&self, mut keys: Vec<AttributeMap>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::with_capacity(keys.len());
        let mut attempt = 0;
        while !keys.is_empty() {
            if attempt > 0 && !self.backoff.wait(attempt).await {
                return Err(StoreError::Throttled);
            }
            let request =
                KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(backend)?;
            let output =
                self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(sdk_error)?;
            for map in output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                items.push(from_attributes(map)?);
            }
            keys = output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
            attempt += 1;
        }
        Ok(items)
    }
}

/// Independent batch requests in flight at once (a bound, so one large batch does not take
/// every connection of the client).
pub(crate) const BATCH_CONCURRENCY: usize = 4;

fn write_request(op: &BatchOp) -> Result<WriteRequest, StoreError> {
    Ok(match op {
        BatchOp::Put(item) => WriteRequest::builder()
            .put_request(PutRequest::builder().set_item(Some(to_attributes(item)?)).build().map_err(backend)?)
            .build(),
        BatchOp::Delete(key) => WriteRequest::builder()
            .delete_request(DeleteRequest::builder().set_key(Some(key_attributes(key))).build().map_err(backend)?)
            .build(),
    })
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
        if attempt > 0 && !backoff.wait(attempt).await {
            return Err(StoreError::Throttled);
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

    use std::time::Duration;

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
