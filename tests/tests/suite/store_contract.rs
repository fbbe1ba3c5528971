//! The store contract, written once and run against SQLite and DynamoDB (moto).

use chrono::Duration;
use serde_json::{Value, json};
use shared::clock::ManualClock;
use shared::store::{
    BatchOp, Condition, Index, IndexKey, Item, Key, Query, SortKey, StoreError, TransactOp, Update, query_all,
};

use infentre_tests::{StoreFixture as Fixture, moto_store as moto, sqlite_store as sqlite};

infentre_tests::contract!(
    sqlite_store = sqlite,
    dynamodb_store_on_moto = moto;

    an_item_round_trips_with_every_attribute_type,
    a_missing_item_reads_as_none,
    put_if_absent_refuses_an_existing_item_and_keeps_it,
    expired_items_are_invisible_and_count_as_absent,
    optimistic_locking_lets_exactly_one_writer_win,
    update_creates_the_item_and_counts_atomically,
    update_moves_index_keys_and_the_expiry_index,
    delete_returns_the_old_item_and_honours_its_condition,
    queries_select_by_sort_key_in_both_directions,
    pagination_visits_every_item_once_in_order,
    a_cursor_cannot_read_another_partition,
    a_secondary_index_is_queried_and_paged,
    a_transaction_is_all_or_nothing,
    transactions_hold_dynamodb_limits,
    batch_writes_go_out_in_chunks_of_25,
    batch_gets_read_live_items_in_chunks_of_100,
    oversized_items_and_reserved_names_are_refused,
    expired_items_are_listed_only_when_asked,
);

fn item(pk: &str, sk: &str) -> Item {
    Item::new(Key::new(pk, sk), "thing")
}

async fn an_item_round_trips_with_every_attribute_type(f: Fixture) {
    let data = json!({
        "text": "Smörgåsbord ✓", "empty": "", "int": 42, "negative": -7, "big": 9_007_199_254_740_993_i64,
        "float": 1.5, "yes": true, "nothing": null, "list": [1, "two", false], "map": {"nested": {"deep": [1]}},
    });
    let original = item("ORG#1", "USER#1")
        .with_data(&data)
        .unwrap()
        .with_index(Index::Gsi1, IndexKey::new("EMAIL#a", "USER#1"))
        .expires_at(f.clock.epoch_seconds_plus(3600));
    f.store.put(original.clone(), None).await.unwrap();

    let read = f.store.get(&original.key).await.unwrap().expect("the item");
    assert_eq!(read, original);
    assert_eq!(Value::Object(read.attrs), data);
}

async fn a_missing_item_reads_as_none(f: Fixture) {
    assert_eq!(f.store.get(&Key::new("NOPE", "NOPE")).await.unwrap(), None);
}

async fn put_if_absent_refuses_an_existing_item_and_keeps_it(f: Fixture) {
    let first = item("EMAIL#a@example.com", "EMAIL").with_data(&json!({"owner": "first"})).unwrap();
    f.store.put(first.clone(), Some(Condition::NotExists)).await.unwrap();

    let second = item("EMAIL#a@example.com", "EMAIL").with_data(&json!({"owner": "second"})).unwrap();
    let err = f.store.put(second, Some(Condition::NotExists)).await.unwrap_err();

    assert!(matches!(err, StoreError::ConditionFailed { operation: None }), "{err:?}");
    assert_eq!(f.store.get(&first.key).await.unwrap(), Some(first));
}

async fn expired_items_are_invisible_and_count_as_absent(f: Fixture) {
    let expiring = item("SESSION#h", "SESSION").expires_at(f.clock.epoch_seconds_plus(10));
    f.store.put(expiring.clone(), None).await.unwrap();
    assert!(f.store.get(&expiring.key).await.unwrap().is_some());

    f.clock.advance(Duration::seconds(11));

    assert_eq!(f.store.get(&expiring.key).await.unwrap(), None, "expired items are not read");
    let page = f.store.query(Query::partition("SESSION#h")).await.unwrap();
    assert!(page.items.is_empty(), "expired items are not listed");
    assert!(f.store.delete(&expiring.key, None).await.unwrap().is_none(), "nor returned when deleted");
    let exists = f.store.update(&expiring.key, "thing", Update::new().set("x", 1), Some(Condition::Exists)).await;
    assert!(matches!(exists, Err(StoreError::ConditionFailed { .. })));
    // ... and a new item may take its key.
    f.store.put(item("SESSION#h", "SESSION"), Some(Condition::NotExists)).await.unwrap();
}

async fn optimistic_locking_lets_exactly_one_writer_win(f: Fixture) {
    let key = Key::new("REQUEST#1", "REQUEST");
    f.store
        .put(item("REQUEST#1", "REQUEST").with_data(&json!({"version": 1, "status": "pending"})).unwrap(), None)
        .await
        .unwrap();

    let approve = Update::new().set("version", 2).set("status", "queued");
    let deny = Update::new().set("version", 2).set("status", "denied");
    let first = f.store.update(&key, "request", approve, Some(Condition::equals("version", 1))).await;
    let second = f.store.update(&key, "request", deny, Some(Condition::equals("version", 1))).await;

    assert_eq!(first.unwrap().attrs["status"], json!("queued"));
    assert!(matches!(second, Err(StoreError::ConditionFailed { .. })));
    assert_eq!(f.store.get(&key).await.unwrap().unwrap().attrs["status"], json!("queued"));
}

async fn update_creates_the_item_and_counts_atomically(f: Fixture) {
    let key = Key::new("THROTTLE#ip", "WINDOW#1");
    let created = f.store.update(&key, "throttle", Update::new().add("failures", 1), None).await.unwrap();
    assert_eq!(created.entity_type, "throttle");
    assert_eq!(created.attrs["failures"], json!(1));

    let counters: Vec<_> =
        (0..5).map(|_| f.store.update(&key, "throttle", Update::new().add("failures", 1), None)).collect();
    futures::future::try_join_all(counters).await.unwrap();

    let read = f.store.get(&key).await.unwrap().unwrap();
    assert_eq!(read.attrs["failures"], json!(6));
    assert_eq!(read.entity_type, "throttle", "an update keeps the kind of an existing item");

    let removed =
        f.store.update(&key, "throttle", Update::new().remove("failures").set("note", "reset"), None).await.unwrap();
    assert!(!removed.attrs.contains_key("failures"));
}

async fn update_moves_index_keys_and_the_expiry_index(f: Fixture) {
    let key = Key::new("USER#1", "PROFILE");
    f.store
        .put(item("USER#1", "PROFILE").with_index(Index::Gsi3, IndexKey::new("ACTIVE#2026-11", "USER#1")), None)
        .await
        .unwrap();

    let expires_at = f.clock.epoch_seconds_plus(86_400);
    let update = Update::new()
        .index(Index::Gsi3, Some(IndexKey::new("ACTIVE#2026-12", "USER#1")))
        .index(Index::Gsi1, None)
        .expires_at(Some(expires_at));
    let updated = f.store.update(&key, "user", update, None).await.unwrap();
    assert_eq!(updated.expires_at, Some(expires_at));

    let old = f.store.query(Query::index(Index::Gsi3, "ACTIVE#2026-11")).await.unwrap();
    let new = f.store.query(Query::index(Index::Gsi3, "ACTIVE#2026-12")).await.unwrap();
    assert!(old.items.is_empty());
    assert_eq!(new.items.len(), 1);
    let expiry_partition = updated.gsi2.clone().expect("filed in the expiry index").pk;
    let expiring = f.store.query(Query::index(Index::Gsi2, expiry_partition)).await.unwrap();
    // The expiry index projects keys, kind and expiry only: enough for the sweeper.
    let listed: Vec<_> = expiring.items.iter().map(|i| (&i.key, &i.entity_type, i.expires_at)).collect();
    assert_eq!(listed, vec![(&updated.key, &updated.entity_type, Some(expires_at))]);

    let cleared = f.store.update(&key, "user", Update::new().expires_at(None), None).await.unwrap();
    assert_eq!((cleared.expires_at, cleared.gsi2), (None, None));
}

async fn delete_returns_the_old_item_and_honours_its_condition(f: Fixture) {
    let stored = item("ORG#1", "INVITE#1").with_data(&json!({"status": "open"})).unwrap();
    f.store.put(stored.clone(), None).await.unwrap();

    let refused = f.store.delete(&stored.key, Some(Condition::equals("status", "used"))).await;
    assert!(matches!(refused, Err(StoreError::ConditionFailed { .. })));
    assert!(f.store.get(&stored.key).await.unwrap().is_some());

    let deleted = f.store.delete(&stored.key, Some(Condition::equals("status", "open"))).await.unwrap();
    assert_eq!(deleted, Some(stored.clone()));
    assert_eq!(f.store.get(&stored.key).await.unwrap(), None);
    assert_eq!(f.store.delete(&stored.key, None).await.unwrap(), None, "deleting nothing is fine");
}

async fn put_partition(f: &Fixture, pk: &str, sks: &[&str]) {
    let ops = sks.iter().map(|sk| BatchOp::Put(item(pk, sk))).collect();
    f.store.batch_write(ops).await.unwrap();
}

fn sks(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.key.sk.clone()).collect()
}

async fn queries_select_by_sort_key_in_both_directions(f: Fixture) {
    put_partition(&f, "USER#1", &["CONSENT#a#1", "CONSENT#a#2", "CONSENT#b#1", "EVENT#1", "EVENT#2", "PROFILE"]).await;
    put_partition(&f, "USER#2", &["CONSENT#a#1"]).await;
    let q = || Query::partition("USER#1");

    let prefix = f.store.query(q().sort(SortKey::BeginsWith("CONSENT#a#".into()))).await.unwrap();
    assert_eq!(sks(&prefix.items), ["CONSENT#a#1", "CONSENT#a#2"]);
    let backward = f.store.query(q().sort(SortKey::BeginsWith("CONSENT#".into())).backward()).await.unwrap();
    assert_eq!(sks(&backward.items), ["CONSENT#b#1", "CONSENT#a#2", "CONSENT#a#1"]);
    let between = f.store.query(q().sort(SortKey::Between("CONSENT#b".into(), "EVENT#1".into()))).await.unwrap();
    assert_eq!(sks(&between.items), ["CONSENT#b#1", "EVENT#1"]);
    let below = f.store.query(q().sort(SortKey::LessThan("CONSENT#b".into()))).await.unwrap();
    assert_eq!(sks(&below.items), ["CONSENT#a#1", "CONSENT#a#2"]);
    let above = f.store.query(q().sort(SortKey::GreaterThan("EVENT#2".into()))).await.unwrap();
    assert_eq!(sks(&above.items), ["PROFILE"]);
    let exact = f.store.query(q().sort(SortKey::Equals("PROFILE".into()))).await.unwrap();
    assert_eq!(sks(&exact.items), ["PROFILE"]);
    assert_eq!(exact.cursor, None, "a complete answer has no cursor");
}

async fn pagination_visits_every_item_once_in_order(f: Fixture) {
    let all: Vec<String> = (0..23).map(|n| format!("EVENT#{n:03}")).collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    put_partition(&f, "USER#1", &refs).await;
    // An expired item in the middle must not break pages.
    f.store.put(item("USER#1", "EVENT#010x").expires_at(f.clock.epoch_seconds_plus(-1)), None).await.unwrap();

    for forward in [true, false] {
        let mut query = Query::partition("USER#1").limit(7);
        query.forward = forward;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = f.store.query(query.clone()).await.unwrap();
            assert!(page.items.len() <= 7);
            seen.extend(sks(&page.items));
            pages += 1;
            match page.cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        let mut expected = all.clone();
        if !forward {
            expected.reverse();
        }
        assert_eq!(seen, expected);
        assert_eq!(pages, 4, "23 items in pages of 7");
    }
}

async fn a_cursor_cannot_read_another_partition(f: Fixture) {
    put_partition(&f, "ORG#mine", &["A", "B", "C"]).await;
    put_partition(&f, "ORG#theirs", &["A", "B", "C"]).await;
    let page = f.store.query(Query::partition("ORG#mine").limit(1)).await.unwrap();
    let cursor = page.cursor.expect("more pages");

    let stolen = f.store.query(Query::partition("ORG#theirs").cursor(Some(cursor))).await;
    assert!(matches!(stolen, Err(StoreError::InvalidCursor)), "{stolen:?}");
    let garbage = f.store.query(Query::partition("ORG#mine").cursor(Some("eyJub3BlIjoxfQ".into()))).await;
    assert!(matches!(garbage, Err(StoreError::InvalidCursor)));
}

async fn a_secondary_index_is_queried_and_paged(f: Fixture) {
    let mut ops = Vec::new();
    for n in 0..12 {
        let owner = if n % 2 == 0 { "SUBJECT#1" } else { "SUBJECT#2" };
        ops.push(BatchOp::Put(
            item(&format!("PART#{}", n % 3), &format!("ITEM#{n:02}"))
                .with_index(Index::Gsi1, IndexKey::new(owner, format!("AT#{n:02}"))),
        ));
    }
    f.store.batch_write(ops).await.unwrap();

    let items = query_all(f.store.as_ref(), Query::index(Index::Gsi1, "SUBJECT#1").limit(4)).await.unwrap();
    let keys: Vec<_> = items.iter().map(|i| i.gsi1.clone().unwrap().sk).collect();
    assert_eq!(keys, ["AT#00", "AT#02", "AT#04", "AT#06", "AT#08", "AT#10"]);
    let newest = f.store.query(Query::index(Index::Gsi1, "SUBJECT#2").backward().limit(1)).await.unwrap();
    assert_eq!(newest.items[0].key.sk, "ITEM#11");
}

async fn a_transaction_is_all_or_nothing(f: Fixture) {
    f.store.put(item("ORG#1", "META"), None).await.unwrap();
    f.store.put(item("ORG#1", "GATE").with_data(&json!({"version": 1})).unwrap(), None).await.unwrap();
    f.store.put(item("ORG#1", "OLD"), None).await.unwrap();
    let ops = |version: i64| {
        vec![
            TransactOp::Put { item: item("ORG#1", "USER#1"), condition: Some(Condition::NotExists) },
            TransactOp::Update {
                key: Key::new("ORG#1", "META"),
                entity_type: "org".into(),
                update: Update::new().add("members", 1),
                condition: None,
            },
            TransactOp::Delete { key: Key::new("ORG#1", "OLD"), condition: None },
            TransactOp::Check { key: Key::new("ORG#1", "GATE"), condition: Condition::equals("version", version) },
        ]
    };

    let failed = f.store.transact(ops(2)).await;
    assert!(matches!(failed, Err(StoreError::ConditionFailed { operation: Some(3) })), "{failed:?}");
    assert_eq!(f.store.get(&Key::new("ORG#1", "USER#1")).await.unwrap(), None);
    assert!(f.store.get(&Key::new("ORG#1", "OLD")).await.unwrap().is_some());
    assert!(!f.store.get(&Key::new("ORG#1", "META")).await.unwrap().unwrap().attrs.contains_key("members"));

    f.store.transact(ops(1)).await.unwrap();
    assert!(f.store.get(&Key::new("ORG#1", "USER#1")).await.unwrap().is_some());
    assert_eq!(f.store.get(&Key::new("ORG#1", "OLD")).await.unwrap(), None);
    assert_eq!(f.store.get(&Key::new("ORG#1", "META")).await.unwrap().unwrap().attrs["members"], json!(1));
    if let Some(requests) = &f.requests {
        assert_eq!(requests.get("DynamoDB.TransactWriteItems"), 2, "one request per transaction");
    }
}

async fn transactions_hold_dynamodb_limits(f: Fixture) {
    let put = |n: usize| TransactOp::Put { item: item("P", &format!("S{n}")), condition: None };
    let too_many: Vec<_> = (0..101).map(put).collect();
    assert!(matches!(f.store.transact(too_many).await, Err(StoreError::Invalid(_))));
    let twice = vec![put(1), TransactOp::Delete { key: Key::new("P", "S1"), condition: None }];
    assert!(matches!(f.store.transact(twice).await, Err(StoreError::Invalid(_))));

    f.store.transact((0..100).map(put).collect()).await.unwrap();
    assert_eq!(query_all(f.store.as_ref(), Query::partition("P")).await.unwrap().len(), 100);
}

async fn batch_writes_go_out_in_chunks_of_25(f: Fixture) {
    let puts: Vec<_> = (0..60).map(|n| BatchOp::Put(item("EVENTS#1", &format!("E{n:03}")))).collect();
    f.store.batch_write(puts).await.unwrap();
    assert_eq!(query_all(f.store.as_ref(), Query::partition("EVENTS#1")).await.unwrap().len(), 60);
    if let Some(requests) = &f.requests {
        assert_eq!(requests.get("DynamoDB.BatchWriteItem"), 3, "⌈60/25⌉ requests");
    }

    let deletes: Vec<_> = (0..60).map(|n| BatchOp::Delete(Key::new("EVENTS#1", format!("E{n:03}")))).collect();
    f.store.batch_write(deletes).await.unwrap();
    assert!(query_all(f.store.as_ref(), Query::partition("EVENTS#1")).await.unwrap().is_empty());
}

async fn batch_gets_read_live_items_in_chunks_of_100(f: Fixture) {
    // 150 items, every tenth expiring in a minute; asked for with 20 missing keys and repeats.
    let puts: Vec<_> = (0..150)
        .map(|n| {
            let thing = item("MANY#1", &format!("E{n:03}"));
            BatchOp::Put(if n % 10 == 0 { thing.expires_at(f.clock.epoch_seconds_plus(60)) } else { thing })
        })
        .collect();
    f.store.batch_write(puts).await.unwrap();
    f.clock.advance(Duration::seconds(61));
    if let Some(requests) = &f.requests {
        requests.reset();
    }
    let keys: Vec<Key> = (0..170).chain(0..30).map(|n| Key::new("MANY#1", format!("E{n:03}"))).collect();
    let mut read: Vec<String> = f.store.batch_get(keys).await.unwrap().into_iter().map(|item| item.key.sk).collect();
    read.sort();
    let live: Vec<String> = (0..150).filter(|n| n % 10 != 0).map(|n| format!("E{n:03}")).collect();
    assert_eq!(read, live, "live items once each; missing and expired ones left out");
    if let Some(requests) = &f.requests {
        assert_eq!(requests.get("DynamoDB.BatchGetItem"), 2, "⌈170 distinct keys/100⌉ requests");
    }
    assert!(f.store.batch_get(Vec::new()).await.unwrap().is_empty());
    assert!(matches!(f.store.batch_get(vec![Key::new("", "x")]).await, Err(StoreError::Invalid(_))));
}

async fn oversized_items_and_reserved_names_are_refused(f: Fixture) {
    let huge = item("P", "HUGE").with_data(&json!({"blob": "x".repeat(401 * 1024)})).unwrap();
    assert!(matches!(f.store.put(huge, None).await, Err(StoreError::ItemTooLarge { .. })));
    let reserved = Update::new().set("PK", "ORG#other");
    assert!(matches!(f.store.update(&Key::new("P", "S"), "t", reserved, None).await, Err(StoreError::Invalid(_))));
    assert_eq!(f.store.get(&Key::new("P", "HUGE")).await.unwrap(), None);
}

// Concurrency is checked on SQLite only: moto's DynamoDB has no locking (its
// TransactWriteItems even deep-copies and restores whole tables), so racing requests against it
// test moto, not us. In AWS, DynamoDB's conditional writes and transactions are serialisable.
#[tokio::test]
async fn concurrent_creates_of_one_key_let_exactly_one_win() {
    let f = sqlite().await;
    let attempts: Vec<_> = (0..8)
        .map(|n| {
            let store = f.store.clone();
            tokio::spawn(async move {
                let claim = item("EMAIL#same", "EMAIL").with_data(&json!({"owner": n})).unwrap();
                store.put(claim, Some(Condition::NotExists)).await
            })
        })
        .collect();
    let results = futures::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| matches!(r, Ok(Ok(())))).count();
    let losses = results.iter().filter(|r| matches!(r, Ok(Err(StoreError::ConditionFailed { .. })))).count();
    assert_eq!((wins, losses), (1, 7));
}

async fn expired_items_are_listed_only_when_asked(f: Fixture) {
    f.store.put(item("P", "LIVE").expires_at(f.clock.epoch_seconds_plus(60)), None).await.unwrap();
    f.store.put(item("P", "GONE").expires_at(f.clock.epoch_seconds_plus(-60)), None).await.unwrap();

    let normal = f.store.query(Query::partition("P")).await.unwrap();
    let sweeping = f.store.query(Query::partition("P").including_expired()).await.unwrap();

    assert_eq!(sks(&normal.items), ["LIVE"]);
    assert_eq!(sks(&sweeping.items), ["GONE", "LIVE"]);
}

trait ClockExt {
    fn epoch_seconds_plus(&self, seconds: i64) -> i64;
}

impl ClockExt for ManualClock {
    fn epoch_seconds_plus(&self, seconds: i64) -> i64 {
        use shared::clock::Clock;
        self.epoch_seconds() + seconds
    }
}
