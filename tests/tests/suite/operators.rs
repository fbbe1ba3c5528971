//! M6: operators are an allow-list of records in the store, read on every operator request,
//! on both engines. A record comes from the setting (`INFENTRE_OPERATORS`, here
//! `dpo@infentre.com`) or from `infentre operator add`; it is bound to the first verified
//! account that uses it, and to no other.

use infentre::operators::{OperatorCommand, run};
use infentre_tests::backend::{Backend, Session};
use infentre_tests::on_both_engines;
use shared::accounts::operators::{self, Source};
use shared::domain::EmailAddress;

const PASSWORD: &str = "operators are listed";

on_both_engines!(
    the_settings_operator_is_a_record_bound_to_its_verified_account,
    an_address_added_by_the_command_is_an_operator_until_removed,
    a_record_bound_to_another_account_or_dropped_from_the_setting_grants_nothing,
);

async fn operator_status(b: &Backend, who: &Session) -> u16 {
    b.get("/v1/operator/complaints", who.bearer()).await.0
}

async fn the_settings_operator_is_a_record_bound_to_its_verified_account(b: Backend) {
    operators::seed_from_settings(&b.platform).await.unwrap();
    let listed = operators::list(&b.platform).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].email_canonical.as_str(), listed[0].source), ("dpo@infentre.com", Source::Setting));
    assert_eq!(listed[0].user_id, None, "not used yet");

    let dpo = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    assert_eq!(operator_status(&b, &dpo).await, 200);
    let listed = operators::list(&b.platform).await.unwrap();
    assert_eq!(listed[0].user_id.as_deref(), Some(dpo.user_id.as_str()), "bound at first use");
    let someone = b.admin("someone@example.com", PASSWORD, "Elsewhere").await;
    assert_eq!(operator_status(&b, &someone).await, 403);

    // The record is the operator's: it goes with their account.
    b.cancel("/v1/me", &dpo, PASSWORD).await;
    assert!(operators::list(&b.platform).await.unwrap().is_empty(), "erased with the account");
    assert_eq!(b.count_of(&dpo.user_id).await, 0);
}

async fn an_address_added_by_the_command_is_an_operator_until_removed(b: Backend) {
    let staff = b.admin("staff@infentre.com", PASSWORD, "Infentre staff").await;
    assert_eq!(operator_status(&b, &staff).await, 403, "not listed");
    assert_eq!(run(&b.platform, OperatorCommand::Add("Staff@Infentre.com".into())).await.unwrap(), "added");
    assert_eq!(
        run(&b.platform, OperatorCommand::Add("staff@infentre.com".into())).await.unwrap(),
        "already on the list (unchanged)"
    );
    // Operator rights start with a sign-in, and end at once, on the next request.
    assert_eq!(operator_status(&b, &staff).await, 403, "a session from before grants nothing more");
    let staff = b.login("staff@infentre.com", PASSWORD).await;
    assert_eq!(operator_status(&b, &staff).await, 200);
    let list = run(&b.platform, OperatorCommand::List).await.unwrap();
    assert_eq!(list, "staff@infentre.com\tcommand\tbound to its account");

    assert_eq!(run(&b.platform, OperatorCommand::Remove("staff@infentre.com".into())).await.unwrap(), "removed");
    assert_eq!(operator_status(&b, &staff).await, 403, "removed: at once");
    assert_eq!(
        run(&b.platform, OperatorCommand::Remove("staff@infentre.com".into())).await.unwrap(),
        "not on the list"
    );
    assert!(run(&b.platform, OperatorCommand::Add("not an address".into())).await.is_err());
    let refused = run(&b.platform, OperatorCommand::Remove("dpo@infentre.com".into())).await;
    assert!(refused.is_err_and(|e| e.contains("INFENTRE_OPERATORS")), "the setting's own comes back on use");
}

async fn a_record_bound_to_another_account_or_dropped_from_the_setting_grants_nothing(b: Backend) {
    // A record bound to an earlier account of the address (say, erased since): a new account
    // with that address is no operator.
    let staff = b.admin("staff@infentre.com", PASSWORD, "Infentre staff").await;
    let address = EmailAddress::parse("staff@infentre.com").unwrap();
    operators::add(&b.platform, &address, Source::Command).await.unwrap();
    let key =
        shared::store::Key::new("OPERATORS", format!("EMAIL#{}", shared::hash::sha256_hex(b"staff@infentre.com")));
    let update = shared::store::Update::new().set("user_id", "01EARLIERACCOUNT0000000000");
    b.platform.store.update(&key, "operator", update, None).await.unwrap();
    assert_eq!(operator_status(&b, &staff).await, 403, "bound to another account");

    // A record the setting made, for an address the setting no longer lists.
    let former = b.admin("former@infentre.com", PASSWORD, "Former staff").await;
    let address = EmailAddress::parse("former@infentre.com").unwrap();
    operators::add(&b.platform, &address, Source::Setting).await.unwrap();
    assert_eq!(operator_status(&b, &former).await, 403, "the setting no longer lists it");
    operators::seed_from_settings(&b.platform).await.unwrap();
    let left: Vec<String> =
        operators::list(&b.platform).await.unwrap().into_iter().map(|r| r.email_canonical).collect();
    assert!(!left.contains(&"former@infentre.com".to_owned()), "the seed drops it: {left:?}");
    assert!(left.contains(&"dpo@infentre.com".to_owned()) && left.contains(&"staff@infentre.com".to_owned()));
}
