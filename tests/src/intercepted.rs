//! A store that passes everything through to another, except transactions, which a test's
//! hook sees first (to hold, count or order them).

use std::sync::Arc;

use shared::store::{BatchOp, Condition, Item, Key, Page, Query, Store, StoreError, TransactOp, Update};

/// What a test does with each transaction; `inner` is the real store.
#[async_trait::async_trait]
pub trait OnTransact: Send + Sync + std::fmt::Debug {
    async fn transact(&self, inner: &dyn Store, ops: Vec<TransactOp>) -> Result<(), StoreError>;
}

static UPDATES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug)]
pub struct Intercepted<H> {
    pub inner: Arc<dyn Store>,
    pub hook: H,
}

#[async_trait::async_trait]
impl<H: OnTransact> Store for Intercepted<H> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        entity_type: &str,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        // One at a time: DynamoDB applies conditional updates of one item atomically, moto 5.2.5
        // does not (two parallel counts both read 4 and both passed a limit of 5 in a CI run).
        // SQLite serialises its writes anyway.
        let _one_at_a_time = UPDATES.lock().await;
        self.inner.update(key, entity_type, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.hook.transact(self.inner.as_ref(), ops).await
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        self.inner.batch_write(ops).await
    }
    async fn batch_get(&self, keys: Vec<Key>) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }
}
