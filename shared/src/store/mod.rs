//! The store port: single-table semantics shared by DynamoDB and SQLite.
//!
//! Both adapters honour the same rules, checked by one contract suite:
//! - an item whose `expires_at` has passed (by the injected clock) is invisible to every read
//!   and counts as absent for every condition, even while TTL has not deleted it yet;
//! - DynamoDB's limits hold on both: at most 100 operations per transaction, one operation per
//!   item in a transaction, 400 KB per item; batch writes go out in chunks of 25 and items a
//!   backend leaves unprocessed are retried with backoff.

mod condition;
mod cursor;
#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod expiry;
#[cfg(feature = "embedded")]
pub mod sqlite;

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

pub use condition::Condition;
pub(crate) use cursor::CursorKey;

/// The attribute names the table itself uses; item data may not use them.
pub const RESERVED_ATTRIBUTES: [&str; 10] =
    ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK", "entity_type", "expires_at"];

/// DynamoDB's limits, enforced in our code because moto (and SQLite) would not.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
pub const MAX_BATCH_WRITE_ITEMS: usize = 25;
pub const MAX_BATCH_GET_ITEMS: usize = 100;
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
pub const MAX_QUERY_LIMIT: u32 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

/// The key of an item in a secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

impl IndexKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// Alternate access path.
    Gsi1,
    /// The expiry index, filled from `expires_at` (see [`crate::keys`]). It projects only
    /// the keys, `entity_type` and `expires_at`: items read from it carry no data.
    Gsi2,
    /// Time-ordered listings.
    Gsi3,
}

impl Index {
    pub const ALL: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];

    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1",
            Index::Gsi2 => "GSI2",
            Index::Gsi3 => "GSI3",
        }
    }

    pub fn pk_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1PK",
            Index::Gsi2 => "GSI2PK",
            Index::Gsi3 => "GSI3PK",
        }
    }

    pub fn sk_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1SK",
            Index::Gsi2 => "GSI2SK",
            Index::Gsi3 => "GSI3SK",
        }
    }
}

/// One item of the table: its keys, its kind, its expiry, and its data as JSON attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    pub entity_type: String,
    pub gsi1: Option<IndexKey>,
    pub gsi2: Option<IndexKey>,
    pub gsi3: Option<IndexKey>,
    /// Unix seconds; the DynamoDB TTL attribute. Set through [`Item::expires_at`] so the
    /// expiry index follows.
    pub expires_at: Option<i64>,
    pub attrs: Map<String, Value>,
}

impl Item {
    pub fn new(key: Key, entity_type: impl Into<String>) -> Self {
        Self {
            key,
            entity_type: entity_type.into(),
            gsi1: None,
            gsi2: None,
            gsi3: None,
            expires_at: None,
            attrs: Map::new(),
        }
    }

    /// Sets the item's data from a serialisable value (a struct with named fields).
    pub fn with_data<T: Serialize>(mut self, data: &T) -> Result<Self, StoreError> {
        match serde_json::to_value(data) {
            Ok(Value::Object(attrs)) => {
                self.attrs = attrs;
                Ok(self)
            }
            Ok(_) => Err(StoreError::Invalid("item data must serialise to an object".into())),
            Err(err) => Err(StoreError::Invalid(format!("item data: {err}"))),
        }
    }

    pub fn with_index(mut self, index: Index, key: IndexKey) -> Self {
        *self.index_mut(index) = Some(key);
        self
    }

    /// Gives the item a time to live and files it in the expiry index.
    pub fn expires_at(mut self, expires_at: i64) -> Self {
        self.set_expiry(Some(expires_at));
        self
    }

    pub(crate) fn set_expiry(&mut self, expires_at: Option<i64>) {
        self.expires_at = expires_at;
        self.gsi2 = expires_at.map(|at| IndexKey::new(expiry::partition(at, &self.key.pk), expiry::sort_key(at)));
    }

    /// The item's data as a typed value.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_value(Value::Object(self.attrs.clone()))
            .map_err(|err| StoreError::Corrupt(format!("{} item {}: {err}", self.entity_type, self.key.sk)))
    }

    pub fn index(&self, index: Index) -> Option<&IndexKey> {
        match index {
            Index::Gsi1 => self.gsi1.as_ref(),
            Index::Gsi2 => self.gsi2.as_ref(),
            Index::Gsi3 => self.gsi3.as_ref(),
        }
    }

    fn index_mut(&mut self, index: Index) -> &mut Option<IndexKey> {
        match index {
            Index::Gsi1 => &mut self.gsi1,
            Index::Gsi2 => &mut self.gsi2,
            Index::Gsi3 => &mut self.gsi3,
        }
    }

    /// What a query of `index` returns of the item: the expiry index projects no data, on
    /// every backend alike.
    pub fn projected(mut self, index: Option<Index>) -> Self {
        if index == Some(Index::Gsi2) {
            self.attrs.clear();
            self.gsi1 = None;
            self.gsi3 = None;
        }
        self
    }

    pub fn is_expired_at(&self, now_epoch_seconds: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now_epoch_seconds)
    }

    /// Checks what DynamoDB would reject, so both backends reject the same.
    pub fn validate(&self) -> Result<(), StoreError> {
        validate_key(&self.key)?;
        if self.entity_type.is_empty() {
            return Err(StoreError::Invalid("entity_type is empty".into()));
        }
        for index in Index::ALL {
            if let Some(key) = self.index(index)
                && (key.pk.is_empty() || key.sk.is_empty())
            {
                return Err(StoreError::Invalid(format!("{} key part is empty", index.name())));
            }
        }
        validate_attribute_names(self.attrs.keys())?;
        let size = self.approximate_size();
        if size > MAX_ITEM_BYTES {
            return Err(StoreError::ItemTooLarge { bytes: size });
        }
        Ok(())
    }

    /// An upper estimate of DynamoDB's item size (names plus values, JSON-encoded).
    pub fn approximate_size(&self) -> usize {
        let keys = self.key.pk.len() + self.key.sk.len() + self.entity_type.len() + 32;
        let indexes: usize =
            Index::ALL.iter().filter_map(|i| self.index(*i)).map(|k| k.pk.len() + k.sk.len() + 12).sum();
        let attrs = serde_json::to_vec(&self.attrs).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
        keys + indexes + attrs
    }
}

fn validate_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::Invalid("key parts must not be empty".into()));
    }
    if key.pk.len() > 2048 || key.sk.len() > 1024 {
        return Err(StoreError::Invalid("key too long".into()));
    }
    Ok(())
}

fn validate_attribute_names<'a>(names: impl Iterator<Item = &'a String>) -> Result<(), StoreError> {
    for name in names {
        if name.is_empty() || RESERVED_ATTRIBUTES.contains(&name.as_str()) {
            return Err(StoreError::Invalid(format!("attribute name {name:?} is reserved")));
        }
    }
    Ok(())
}

/// A change to one item's attributes, applied atomically.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    /// Atomic counters: adds to a number attribute (a missing one counts as 0).
    pub add: Vec<(String, i64)>,
    pub remove: Vec<String>,
    /// `Some(None)` removes the time to live.
    pub expires_at: Option<Option<i64>>,
    pub set_indexes: Vec<(Index, Option<IndexKey>)>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.push((name.into(), value.into()));
        self
    }

    pub fn add(mut self, name: impl Into<String>, by: i64) -> Self {
        self.add.push((name.into(), by));
        self
    }

    pub fn remove(mut self, name: impl Into<String>) -> Self {
        self.remove.push(name.into());
        self
    }

    pub fn expires_at(mut self, at: Option<i64>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// `Gsi2` is the expiry index and follows `expires_at`; it cannot be set directly.
    pub fn index(mut self, index: Index, key: Option<IndexKey>) -> Self {
        self.set_indexes.push((index, key));
        self
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        let names = self.set.iter().map(|(n, _)| n).chain(self.add.iter().map(|(n, _)| n)).chain(&self.remove);
        validate_attribute_names(names)?;
        let mut seen = std::collections::HashSet::new();
        for name in self.set.iter().map(|(n, _)| n).chain(self.add.iter().map(|(n, _)| n)).chain(&self.remove) {
            if !seen.insert(name) {
                return Err(StoreError::Invalid(format!("attribute {name:?} updated twice")));
            }
        }
        if self.set_indexes.iter().any(|(index, _)| *index == Index::Gsi2) {
            return Err(StoreError::Invalid("the expiry index follows expires_at".into()));
        }
        if self.is_empty() {
            return Err(StoreError::Invalid("empty update".into()));
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.add.is_empty()
            && self.remove.is_empty()
            && self.expires_at.is_none()
            && self.set_indexes.is_empty()
    }

    /// Applies the update to an item in memory: the SQLite adapter's update, and the
    /// definition the DynamoDB update expression must match.
    pub fn apply(&self, item: &mut Item) -> Result<(), StoreError> {
        for (name, value) in &self.set {
            item.attrs.insert(name.clone(), value.clone());
        }
        for (name, by) in &self.add {
            let current = match item.attrs.get(name) {
                None => 0,
                Some(Value::Number(n)) => {
                    n.as_i64().ok_or_else(|| StoreError::Invalid(format!("{name} is not an integer")))?
                }
                Some(_) => return Err(StoreError::Invalid(format!("{name} is not a number"))),
            };
            let sum = current.checked_add(*by).ok_or_else(|| StoreError::Invalid(format!("{name} overflows")))?;
            item.attrs.insert(name.clone(), Value::from(sum));
        }
        for name in &self.remove {
            item.attrs.remove(name);
        }
        for (index, key) in &self.set_indexes {
            *item.index_mut(*index) = key.clone();
        }
        if let Some(expires_at) = self.expires_at {
            item.set_expiry(expires_at);
        }
        Ok(())
    }
}

/// A condition on the sort key of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Any,
    Equals(String),
    BeginsWith(String),
    /// Inclusive at both ends.
    Between(String, String),
    LessThan(String),
    GreaterThan(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `None` queries the table, `Some` a secondary index.
    pub index: Option<Index>,
    pub partition: String,
    pub sort: SortKey,
    pub forward: bool,
    pub limit: u32,
    /// The opaque cursor of the previous page.
    pub cursor: Option<String>,
    /// Lists expired items too: only the retention sweeper, which deletes them, wants this.
    pub include_expired: bool,
}

impl Query {
    pub fn partition(partition: impl Into<String>) -> Self {
        Self {
            index: None,
            partition: partition.into(),
            sort: SortKey::Any,
            forward: true,
            limit: 100,
            cursor: None,
            include_expired: false,
        }
    }

    pub fn index(index: Index, partition: impl Into<String>) -> Self {
        Self { index: Some(index), ..Self::partition(partition) }
    }

    pub fn sort(mut self, sort: SortKey) -> Self {
        self.sort = sort;
        self
    }

    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    pub fn including_expired(mut self) -> Self {
        self.include_expired = true;
        self
    }

    pub fn cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        if self.partition.is_empty() {
            return Err(StoreError::Invalid("empty partition".into()));
        }
        if self.limit == 0 || self.limit > MAX_QUERY_LIMIT {
            return Err(StoreError::Invalid(format!("limit must be 1..={MAX_QUERY_LIMIT}")));
        }
        Ok(())
    }

    /// Decodes the cursor and checks that it belongs to this query's partition: a cursor can
    /// never be used to read another partition (another tenant).
    pub(crate) fn decoded_cursor(&self) -> Result<Option<CursorKey>, StoreError> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        let decoded = CursorKey::decode(cursor)?;
        let partition_matches = match (self.index, &decoded.index) {
            (None, None) => decoded.key.pk == self.partition,
            (Some(_), Some(index_key)) => index_key.pk == self.partition,
            _ => false,
        };
        if !partition_matches {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Some(decoded))
    }
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow; pass it back in [`Query::cursor`].
    pub cursor: Option<String>,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TransactOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    /// Creates the item as `entity_type` when absent (guard with a condition if it must exist).
    Update {
        key: Key,
        entity_type: String,
        update: Update,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    Check {
        key: Key,
        condition: Condition,
    },
}

impl TransactOp {
    pub fn key(&self) -> &Key {
        match self {
            TransactOp::Put { item, .. } => &item.key,
            TransactOp::Update { key, .. } | TransactOp::Delete { key, .. } | TransactOp::Check { key, .. } => key,
        }
    }
}

pub(crate) fn validate_transaction(ops: &[TransactOp]) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Err(StoreError::Invalid("empty transaction".into()));
    }
    if ops.len() > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds at most {MAX_TRANSACTION_ITEMS} operations, not {}",
            ops.len()
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for op in ops {
        if !keys.insert(op.key()) {
            return Err(StoreError::Invalid("two operations on one item in a transaction".into()));
        }
        match op {
            TransactOp::Put { item, .. } => item.validate()?,
            TransactOp::Update { key, update, .. } => {
                validate_key(key)?;
                update.validate()?
            }
            TransactOp::Delete { key, .. } | TransactOp::Check { key, .. } => validate_key(key)?,
        }
    }
    Ok(())
}

/// One write of a batch: no conditions, each item written independently.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant, reason = "batches are mostly puts; boxing would only add allocations")]
pub enum BatchOp {
    Put(Item),
    Delete(Key),
}

impl BatchOp {
    pub fn key(&self) -> &Key {
        match self {
            BatchOp::Put(item) => &item.key,
            BatchOp::Delete(key) => key,
        }
    }
}

/// Checks a batch and splits it into chunks of 25 with no item twice in a chunk (DynamoDB
/// rejects both a 26th item and a repeated key).
pub(crate) fn batch_chunks(ops: Vec<BatchOp>) -> Result<Vec<Vec<BatchOp>>, StoreError> {
    let mut chunks: Vec<Vec<BatchOp>> = Vec::new();
    let mut current: Vec<BatchOp> = Vec::with_capacity(MAX_BATCH_WRITE_ITEMS);
    let mut keys_in_current = std::collections::HashSet::new();
    for op in ops {
        match &op {
            BatchOp::Put(item) => item.validate()?,
            BatchOp::Delete(key) => validate_key(key)?,
        }
        if current.len() == MAX_BATCH_WRITE_ITEMS || keys_in_current.contains(op.key()) {
            chunks.push(std::mem::replace(&mut current, Vec::with_capacity(MAX_BATCH_WRITE_ITEMS)));
            keys_in_current.clear();
        }
        keys_in_current.insert(op.key().clone());
        current.push(op);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    Ok(chunks)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold; for a transaction, `operation` is the index of the first
    /// operation whose condition failed.
    #[error("the condition was not met")]
    ConditionFailed { operation: Option<usize> },
    /// Another transaction touched the same items at the same time; retrying may succeed.
    #[error("a concurrent transaction conflicted")]
    TransactionConflict,
    /// The backend asked us to slow down and the retries ran out.
    #[error("the store is throttling requests")]
    Throttled,
    #[error("the cursor is not valid for this query")]
    InvalidCursor,
    #[error("the item is too large ({bytes} bytes)")]
    ItemTooLarge { bytes: usize },
    /// A request our code should never have made (a limit or a rule of the table).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// Stored data that does not decode.
    #[error("stored data does not decode: {0}")]
    Corrupt(String),
    #[error("store backend failure")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, StoreError::ConditionFailed { .. })
    }
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// A strongly consistent read. An expired item is `None`.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError>;

    /// Applies `update` to the item (creating it as `entity_type` if absent) and returns the
    /// item as it is afterwards.
    async fn update(
        &self,
        key: &Key,
        entity_type: &str,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError>;

    /// Deletes the item and returns what it was (an expired item counts as absent).
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError>;

    async fn query(&self, query: Query) -> Result<Page, StoreError>;

    /// All operations or none.
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError>;

    /// Unconditional puts and deletes in chunks of 25, each chunk retried with backoff for
    /// what the backend left unprocessed.
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError>;

    /// Strongly consistent reads of many items: in chunks of 100 (one BatchGetItem each on
    /// DynamoDB, in flight together), retried with backoff for what the backend left
    /// unprocessed. Missing and expired items are left out; the order is not kept.
    async fn batch_get(&self, keys: Vec<Key>) -> Result<Vec<Item>, StoreError>;
}

/// Reads every page of a query. For bounded partitions only (the caller knows the size).
pub async fn query_all(store: &dyn Store, mut query: Query) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    loop {
        let page = store.query(query.clone()).await?;
        items.extend(page.items);
        match page.cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(n: usize, pk: &str) -> BatchOp {
        BatchOp::Put(Item::new(Key::new(pk, format!("ITEM#{n:04}")), "test"))
    }

    #[test]
    fn batches_are_split_into_chunks_of_25() {
        let ops: Vec<_> = (0..51).map(|n| put(n, "P")).collect();
        let chunks = batch_chunks(ops).unwrap();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![25, 25, 1]);
    }

    #[test]
    fn a_repeated_key_starts_a_new_chunk() {
        let chunks = batch_chunks(vec![put(1, "P"), put(2, "P"), put(1, "P")]).unwrap();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1]);
    }

    #[test]
    fn reserved_attribute_names_are_refused() {
        let mut item = Item::new(Key::new("P", "S"), "test");
        item.attrs.insert("PK".into(), Value::from("x"));
        assert!(matches!(item.validate(), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn a_transaction_of_101_operations_is_refused() {
        let ops: Vec<_> = (0..101)
            .map(|n| TransactOp::Put { item: Item::new(Key::new("P", format!("S{n}")), "t"), condition: None })
            .collect();
        assert!(matches!(validate_transaction(&ops), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn setting_an_expiry_files_the_item_in_the_expiry_index() {
        let item = Item::new(Key::new("USER#1", "EVENT#1"), "event").expires_at(1_800_000_000);
        let gsi2 = item.gsi2.clone().unwrap();
        assert!(gsi2.pk.starts_with("EXPIRES#2027-01-15#"));
        assert_eq!(gsi2.sk, "001800000000");
    }

    #[test]
    fn add_treats_a_missing_counter_as_zero_and_refuses_non_numbers() {
        let mut item = Item::new(Key::new("P", "S"), "t");
        Update::new().add("n", 2).apply(&mut item).unwrap();
        Update::new().add("n", 3).apply(&mut item).unwrap();
        assert_eq!(item.attrs["n"], Value::from(5));
        item.attrs.insert("s".into(), Value::from("x"));
        assert!(Update::new().add("s", 1).apply(&mut item).is_err());
    }
}
