//! The store on SQLite: one `items` table with the same keys and indexes as the DynamoDB
//! table. Conditions and updates run in Rust inside a write (`SqliteDb::write`), with the same
//! meaning as DynamoDB's expressions (see [`Condition::holds_for`] and [`Update::apply`]).

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

use super::{
    BatchOp, Condition, CursorKey, Index, IndexKey, Item, Key, Page, Query, SortKey, Store, StoreError, TransactOp,
    Update, batch_chunks, validate_key, validate_transaction,
};
use crate::clock::Clock;
use crate::sqlite::SqliteDb;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: SqliteDb,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    pub fn new(db: SqliteDb, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Every row, expired or not: for tests that look through the whole table.
    pub async fn dump(&self) -> Result<Vec<Item>, StoreError> {
        self.db
            .call(|conn| {
                let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM items ORDER BY pk, sk"))?;
                let rows = stmt.query_map([], row_to_item)?;
                rows.map(|row| row.map_err(StoreError::from).and_then(|r| r)).collect()
            })
            .await
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(err: tokio::task::JoinError) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

/// The columns of an item, in `row_to_item`'s order (a macro, for `concat!`).
macro_rules! columns {
    () => {
        "pk, sk, entity_type, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, expires_at, attrs"
    };
}
const COLUMNS: &str = columns!();
// Fixed statements, prepared once per connection (`prepare_cached`), not on every call.
const GET: &str = concat!("SELECT ", columns!(), " FROM items WHERE pk = ?1 AND sk = ?2");
const PUT: &str =
    concat!("INSERT OR REPLACE INTO items (", columns!(), ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");

fn row_to_item(row: &Row<'_>) -> rusqlite::Result<Result<Item, StoreError>> {
    let index = |pk: Option<String>, sk: Option<String>| match (pk, sk) {
        (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
        _ => None,
    };
    let attrs: String = row.get(10)?;
    let item = Item {
        key: Key { pk: row.get(0)?, sk: row.get(1)? },
        entity_type: row.get(2)?,
        gsi1: index(row.get(3)?, row.get(4)?),
        gsi2: index(row.get(5)?, row.get(6)?),
        gsi3: index(row.get(7)?, row.get(8)?),
        expires_at: row.get(9)?,
        attrs: Map::new(),
    };
    Ok(match serde_json::from_str::<Map<String, Value>>(&attrs) {
        Ok(attrs) => Ok(Item { attrs, ..item }),
        Err(err) => Err(StoreError::Corrupt(format!("item {}: {err}", item.key.sk))),
    })
}

/// The item under `key` if it is live at `now`.
fn load_live(conn: &Connection, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
    let item = conn.prepare_cached(GET)?.query_row(params![key.pk, key.sk], row_to_item).optional()?.transpose()?;
    Ok(item.filter(|item| !item.is_expired_at(now)))
}

fn write(conn: &Connection, item: &Item) -> Result<(), StoreError> {
    let attrs = serde_json::to_string(&item.attrs).map_err(|err| StoreError::Invalid(err.to_string()))?;
    let part = |k: &Option<IndexKey>| (k.as_ref().map(|k| k.pk.clone()), k.as_ref().map(|k| k.sk.clone()));
    let (g1p, g1s) = part(&item.gsi1);
    let (g2p, g2s) = part(&item.gsi2);
    let (g3p, g3s) = part(&item.gsi3);
    conn.prepare_cached(PUT)?.execute(params![
        item.key.pk,
        item.key.sk,
        item.entity_type,
        g1p,
        g1s,
        g2p,
        g2s,
        g3p,
        g3s,
        item.expires_at,
        attrs
    ])?;
    Ok(())
}

fn remove(conn: &Connection, key: &Key) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")?.execute(params![key.pk, key.sk])?;
    Ok(())
}

fn check(condition: Option<&Condition>, current: Option<&Item>, operation: Option<usize>) -> Result<(), StoreError> {
    match condition {
        Some(condition) if !condition.holds_for(current) => Err(StoreError::ConditionFailed { operation }),
        _ => Ok(()),
    }
}

fn updated(current: Option<Item>, key: &Key, entity_type: &str, update: &Update) -> Result<Item, StoreError> {
    let mut item = current.unwrap_or_else(|| Item::new(key.clone(), entity_type));
    update.apply(&mut item)?;
    item.validate()?;
    Ok(item)
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let key = key.clone();
        let now = self.clock.epoch_seconds();
        self.db.call(move |conn| load_live(conn, &key, now)).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        item.validate()?;
        let now = self.clock.epoch_seconds();
        self.db
            .write(move |tx| {
                check(condition.as_ref(), load_live(tx, &item.key, now)?.as_ref(), None)?;
                write(tx, &item)?;
                Ok(())
            })
            .await
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
        let (key, entity_type) = (key.clone(), entity_type.to_owned());
        let now = self.clock.epoch_seconds();
        self.db
            .write(move |tx| {
                let current = load_live(tx, &key, now)?;
                check(condition.as_ref(), current.as_ref(), None)?;
                let item = updated(current, &key, &entity_type, &update)?;
                write(tx, &item)?;
                Ok(item)
            })
            .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let key = key.clone();
        let now = self.clock.epoch_seconds();
        self.db
            .write(move |tx| {
                let current = load_live(tx, &key, now)?;
                check(condition.as_ref(), current.as_ref(), None)?;
                remove(tx, &key)?;
                Ok(current)
            })
            .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        query.validate()?;
        let cursor = query.decoded_cursor()?;
        let now = self.clock.epoch_seconds();
        self.db.call(move |conn| run_query(conn, &query, cursor.as_ref(), now)).await
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let now = self.clock.epoch_seconds();
        self.db
            .write(move |tx| {
                for (position, op) in ops.iter().enumerate() {
                    let current = load_live(tx, op.key(), now)?;
                    match op {
                        TransactOp::Put { item, condition } => {
                            check(condition.as_ref(), current.as_ref(), Some(position))?;
                            write(tx, item)?;
                        }
                        TransactOp::Update { key, entity_type, update, condition } => {
                            check(condition.as_ref(), current.as_ref(), Some(position))?;
                            let item = updated(current, key, entity_type, update)?;
                            write(tx, &item)?;
                        }
                        TransactOp::Delete { key, condition } => {
                            check(condition.as_ref(), current.as_ref(), Some(position))?;
                            remove(tx, key)?;
                        }
                        TransactOp::Check { condition, .. } => {
                            check(Some(condition), current.as_ref(), Some(position))?;
                        }
                    }
                }
                // Returning early above rolls everything back (the write's savepoint).
                Ok(())
            })
            .await
    }

    async fn batch_get(&self, keys: Vec<Key>) -> Result<Vec<Item>, StoreError> {
        keys.iter().try_for_each(validate_key)?;
        let keys: std::collections::BTreeSet<Key> = keys.into_iter().collect();
        let now = self.clock.epoch_seconds();
        self.db
            .call(move |conn| {
                let mut items = Vec::with_capacity(keys.len());
                for key in &keys {
                    items.extend(load_live(conn, key, now)?);
                }
                Ok(items)
            })
            .await
    }

    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        for chunk in batch_chunks(ops)? {
            self.db
                .write(move |tx| {
                    for op in &chunk {
                        match op {
                            BatchOp::Put(item) => write(tx, item)?,
                            BatchOp::Delete(key) => remove(tx, key)?,
                        }
                    }
                    Ok::<_, StoreError>(())
                })
                .await?;
        }
        Ok(())
    }
}

fn run_query(conn: &Connection, query: &Query, cursor: Option<&CursorKey>, now: i64) -> Result<Page, StoreError> {
    let (pk_col, sk_col) = match query.index {
        None => ("pk", "sk"),
        Some(Index::Gsi1) => ("gsi1pk", "gsi1sk"),
        Some(Index::Gsi2) => ("gsi2pk", "gsi2sk"),
        Some(Index::Gsi3) => ("gsi3pk", "gsi3sk"),
    };
    let mut sql = format!("SELECT {COLUMNS} FROM items WHERE {pk_col} = ?");
    let mut args: Vec<rusqlite::types::Value> = vec![query.partition.clone().into()];
    if !query.include_expired {
        sql += " AND (expires_at IS NULL OR expires_at > ?)";
        args.push(now.into());
    }
    match &query.sort {
        SortKey::Any => {}
        SortKey::Equals(value) => {
            sql += &format!(" AND {sk_col} = ?");
            args.push(value.clone().into());
        }
        SortKey::BeginsWith(prefix) => {
            // The range lets SQLite use the index; substr makes the prefix exact.
            sql += &format!(" AND {sk_col} >= ? AND substr({sk_col}, 1, length(?)) = ?");
            args.extend([prefix.clone().into(), prefix.clone().into(), prefix.clone().into()]);
        }
        SortKey::Between(low, high) => {
            sql += &format!(" AND {sk_col} BETWEEN ? AND ?");
            args.extend([low.clone().into(), high.clone().into()]);
        }
        SortKey::LessThan(value) => {
            sql += &format!(" AND {sk_col} < ?");
            args.push(value.clone().into());
        }
        SortKey::GreaterThan(value) => {
            sql += &format!(" AND {sk_col} > ?");
            args.push(value.clone().into());
        }
    }
    let direction = if query.forward { "ASC" } else { "DESC" };
    let after = if query.forward { ">" } else { "<" };
    match (query.index, cursor) {
        (_, None) => {}
        (None, Some(cursor)) => {
            sql += &format!(" AND sk {after} ?");
            args.push(cursor.key.sk.clone().into());
        }
        (Some(_), Some(cursor)) => {
            let index_sk = cursor.index.as_ref().map(|k| k.sk.clone()).ok_or(StoreError::InvalidCursor)?;
            sql += &format!(" AND ({sk_col}, pk, sk) {after} (?, ?, ?)");
            args.extend([index_sk.into(), cursor.key.pk.clone().into(), cursor.key.sk.clone().into()]);
        }
    }
    sql += &match query.index {
        None => format!(" ORDER BY sk {direction} LIMIT ?"),
        Some(_) => {
            format!(" ORDER BY {sk_col} {direction}, pk {direction}, sk {direction} LIMIT ?")
        }
    };
    // One more than asked tells whether another page follows.
    args.push(i64::from(query.limit + 1).into());

    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), row_to_item)?;
    let mut items = rows.map(|row| row.map_err(StoreError::from).and_then(|r| r)).collect::<Result<Vec<_>, _>>()?;
    let cursor = if items.len() > query.limit as usize {
        items.truncate(query.limit as usize);
        items.last().map(|last| CursorKey::after(last, query.index).encode())
    } else {
        None
    };
    Ok(Page { items, cursor })
}
