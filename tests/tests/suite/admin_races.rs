//! Two changes of one organisation's membership at the same instant, on both engines (review
//! L1): each read the members before either wrote, so each alone was allowed, and together
//! they would leave the members without an admin. The store below holds the first two
//! transactions until both are ready, which makes that interleaving certain: both read, then
//! both write. The membership version on the organisation item refuses the second writer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use infentre_tests::backend::{Backend, Session};
use infentre_tests::intercepted::{Intercepted, OnTransact};
use infentre_tests::on_both_engines;
use shared::Platform;
use shared::accounts::{self, AccountError, membership::MembershipError};
use shared::domain::Role;
use shared::store::{Store, StoreError, TransactOp};

const PASSWORD: &str = "analytical engine 1843";

on_both_engines!(
    two_admins_cancelling_at_once_leave_one_admin,
    an_admin_cancelling_while_demoting_the_other_admin_leaves_one_admin,
);

/// Holds the first two transactions until both have arrived, then lets them go one after the
/// other. One after the other because DynamoDB isolates transactions and moto (5.2.5) does
/// not: it checks and applies them on server threads without a lock, and rolls a failed one
/// back by restoring the table as it was before that transaction began, so two at once can
/// both pass their conditions or one can undo the other.
#[derive(Debug)]
struct BothReadThenBothWrite {
    arrived: AtomicUsize,
    barrier: tokio::sync::Barrier,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl BothReadThenBothWrite {
    fn around(inner: Arc<dyn Store>) -> Arc<Intercepted<Self>> {
        let hook = Self {
            arrived: AtomicUsize::new(0),
            barrier: tokio::sync::Barrier::new(2),
            one_at_a_time: tokio::sync::Mutex::new(()),
        };
        Arc::new(Intercepted { inner, hook })
    }
}

#[async_trait::async_trait]
impl OnTransact for BothReadThenBothWrite {
    async fn transact(&self, inner: &dyn Store, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        if self.arrived.fetch_add(1, Ordering::SeqCst) < 2 {
            self.barrier.wait().await;
            let _turn = self.one_at_a_time.lock().await;
            return inner.transact(ops).await;
        }
        inner.transact(ops).await
    }
}

/// Whether the organisation still has an admin whose erasure has not begun.
async fn has_staying_admin(b: &Backend, organisation_id: &str) -> bool {
    for member in accounts::members(&b.platform, organisation_id).await.unwrap() {
        let fenced = shared::erasure::fence::find(b.platform.store.as_ref(), &member.user_id).await.unwrap();
        if member.role == Role::Admin && fenced.is_none() {
            return true;
        }
    }
    false
}

/// Admins Ada and Bob, member Grace; and the platform whose store holds both writes.
async fn two_admins_and_a_member(b: &Backend) -> (Session, Session, Platform) {
    let ada = b.admin("ada@example.com", PASSWORD, "Engines").await;
    let bob = b.member(&ada, "bob@example.com", PASSWORD, "admin").await;
    b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let mut platform = b.platform.clone();
    platform.store = BothReadThenBothWrite::around(b.platform.store.clone());
    (ada, bob, platform)
}

async fn two_admins_cancelling_at_once_leave_one_admin(b: Backend) {
    let (ada, bob, platform) = two_admins_and_a_member(&b).await;
    let ada_user = accounts::load_user(&b.platform, &ada.user_id).await.unwrap();
    let bob_user = accounts::load_user(&b.platform, &bob.user_id).await.unwrap();

    let (first, second) =
        tokio::join!(accounts::erase_account(&platform, &ada_user), accounts::erase_account(&platform, &bob_user));

    let refused = match (&first, &second) {
        (Ok(started), Err(AccountError::MembershipChanged)) => {
            assert!(started.new);
            &bob_user
        }
        (Err(AccountError::MembershipChanged), Ok(started)) => {
            assert!(started.new);
            &ada_user
        }
        other => panic!("exactly one cancellation lands, the other is refused: {other:?}"),
    };
    assert!(has_staying_admin(&b, &ada.organisation_id).await, "Grace is left with an admin");
    // Asked again, the refused admin is now the only admin who stays.
    let again = accounts::erase_account(&b.platform, refused).await;
    assert!(matches!(again, Err(AccountError::LastAdmin)), "{again:?}");

    // Through the API the refusal is a 409 with its own code.
    let err = shared::error::ApiError::from(AccountError::MembershipChanged);
    assert_eq!((err.status.as_u16(), err.code.as_ref()), (409, "membership_changed"));
}

async fn an_admin_cancelling_while_demoting_the_other_admin_leaves_one_admin(b: Backend) {
    let (ada, bob, platform) = two_admins_and_a_member(&b).await;
    let ada_user = accounts::load_user(&b.platform, &ada.user_id).await.unwrap();

    // Ada demotes Bob in one tab and cancels her account in another.
    let (demoted, cancelled) = tokio::join!(
        accounts::membership::change_role(
            &platform,
            (&ada.user_id, &ada.organisation_id),
            PASSWORD,
            &bob.user_id,
            Role::Member
        ),
        accounts::erase_account(&platform, &ada_user),
    );

    match (&demoted, &cancelled) {
        (Ok(_), Err(AccountError::MembershipChanged)) | (Err(MembershipError::Conflict), Ok(_)) => {}
        other => panic!("exactly one change lands, the other is refused: {other:?}"),
    }
    assert!(has_staying_admin(&b, &ada.organisation_id).await, "Grace is left with an admin");
}
