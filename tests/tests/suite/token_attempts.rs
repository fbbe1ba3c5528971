//! One link, many requests at once: accepting an invitation and resetting a password hash a
//! password before the link is used up, so each link may have at most
//! `accounts::HASHES_PER_TOKEN` passwords hashed, on both engines.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use infentre_tests::backend::Backend;
use infentre_tests::intercepted::{Intercepted, OnTransact};
use infentre_tests::{Auth, on_both_engines, token_mailed_to};
use serde_json::json;
use shared::Platform;
use shared::accounts::{self, AccountError, HASHES_PER_TOKEN};
use shared::lang::Lang;
use shared::store::{Store, StoreError, TransactOp};

const PASSWORD: &str = "analytical engine 1843";
const CALLS: usize = HASHES_PER_TOKEN as usize + 3;

on_both_engines!(
    parallel_invitation_accepts_hash_at_most_the_tokens_count,
    parallel_resets_hash_at_most_the_tokens_count
);

/// Parks every transaction (the write after the hash) until the gate opens, counting them.
#[derive(Debug)]
struct Gate {
    parked: AtomicUsize,
    open: tokio::sync::Semaphore,
}

#[async_trait::async_trait]
impl OnTransact for Gate {
    async fn transact(&self, inner: &dyn Store, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.parked.fetch_add(1, Ordering::SeqCst);
        let _pass = self.open.acquire().await.map_err(|_| StoreError::Throttled)?;
        inner.transact(ops).await
    }
}

/// Runs `CALLS` uses of one link at once, all parked before their write; asserts that only
/// `HASHES_PER_TOKEN` got as far as hashing and writing, then lets them write: one wins.
async fn race<F, Fut>(b: &Backend, use_link: F)
where
    F: Fn(Platform) -> Fut,
    Fut: std::future::Future<Output = Result<(), AccountError>> + Send + 'static,
{
    let hook = Gate { parked: AtomicUsize::new(0), open: tokio::sync::Semaphore::new(0) };
    let store = Arc::new(Intercepted { inner: b.platform.store.clone(), hook });
    let gate = &store.hook;
    let mut platform = b.platform.clone();
    platform.store = store.clone();
    let calls: Vec<_> = (0..CALLS).map(|_| tokio::spawn(use_link(platform.clone()))).collect();
    // Each call either stops at the count or parks at its write.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while calls.iter().filter(|call| call.is_finished()).count() + gate.parked.load(Ordering::SeqCst) < CALLS {
        assert!(std::time::Instant::now() < deadline, "the calls neither stop nor park");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gate.parked.load(Ordering::SeqCst), HASHES_PER_TOKEN as usize, "hashed and went on to write");
    let (refused, waiting): (Vec<_>, Vec<_>) = calls.into_iter().partition(|call| call.is_finished());
    assert_eq!(refused.len(), CALLS - HASHES_PER_TOKEN as usize);
    for call in refused {
        let answer = call.await.unwrap();
        assert!(matches!(answer, Err(AccountError::InvalidToken)), "refused before the hash: {answer:?}");
    }

    // On SQLite the writes race; moto isolates no transaction (a failed TransactWriteItems
    // restores its own copy of the table, undoing a concurrent winner: see admin_races.rs),
    // so there they go one at a time, each holding the single permit through its write.
    gate.open.add_permits(if b.dynamo.is_some() { 1 } else { CALLS });
    let mut won = 0;
    for call in waiting {
        match call.await.unwrap() {
            Ok(()) => won += 1,
            Err(err) => assert!(matches!(err, AccountError::InvalidToken), "{err:?}"),
        }
    }
    assert_eq!(won, 1, "the link is used once");
}

async fn parallel_invitation_accepts_hash_at_most_the_tokens_count(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let token = b.invitation_token(&ada, "grace@example.com", "member").await;

    race(&b, move |platform| {
        let token = token.clone();
        async move { accounts::accept_invitation(&platform, &token, PASSWORD, Lang::En).await.map(|_| ()) }
    })
    .await;
    b.login("grace@example.com", PASSWORD).await;
}

async fn parallel_resets_hash_at_most_the_tokens_count(b: Backend) {
    b.admin("ada@example.com", PASSWORD, "Engines").await;
    b.deliver_mail().await;
    let (status, _) = b.post("/v1/password-reset-requests", Auth::None, json!({"email": "ada@example.com"})).await;
    assert_eq!(status, 202);
    b.deliver_mail().await;
    let token = token_mailed_to(&b.outbox, "ada@example.com").unwrap();
    const NEW: &str = "a brand new long password";

    race(&b, move |platform| {
        let token = token.clone();
        async move { accounts::reset::reset_password(&platform, &token, NEW).await.map(|_| ()) }
    })
    .await;
    b.login("ada@example.com", NEW).await;
}
