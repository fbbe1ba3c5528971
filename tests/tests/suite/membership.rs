//! Managing members, end to end on both engines: role changes and removals need the admin's
//! password, never leave an organisation without an admin, end the member's sessions, are kept
//! as history with ids only; invitations are listed and revoked; nothing reaches another
//! organisation.

use infentre_tests::backend::Backend;
use infentre_tests::{Auth, call, on_both_engines, outbox_files, token_mailed_to};
use serde_json::{Value, json};

const ADA: &str = "ada@example.com";
const ADA_PASSWORD: &str = "analytical engine 1843";
const GRACE: &str = "grace@example.com";
const GRACE_PASSWORD: &str = "compilers all the way";
const EVE: &str = "eve@example.org";
const EVE_PASSWORD: &str = "eavesdropping always";

on_both_engines!(
    a_role_change_needs_the_password_holds_at_once_and_is_kept_as_history,
    the_organisation_always_keeps_an_admin,
    a_removed_member_is_erased_and_told,
    invitations_are_listed_and_a_revoked_one_stops_working,
    another_organisation_reaches_nothing_and_members_manage_nothing,
);

async fn patch(b: &Backend, path: &str, auth: Auth<'_>, body: Value) -> (u16, Value) {
    let (status, _, body) = call(&b.app, "PATCH", path, auth, Some(body)).await;
    (status, body)
}

fn member_path(user_id: &str) -> String {
    format!("/v1/organisations/current/members/{user_id}")
}

async fn history(b: &Backend, session: &infentre_tests::backend::Session) -> Vec<Value> {
    let (status, page) = b.get("/v1/organisations/current/membership-history", session.bearer()).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn a_role_change_needs_the_password_holds_at_once_and_is_kept_as_history(b: Backend) {
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, GRACE, GRACE_PASSWORD, "member").await;
    let path = member_path(&grace.user_id);

    let (status, problem) =
        patch(&b, &path, ada.bearer(), json!({"role": "admin", "current_password": "not my password"})).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("invalid_credentials")));
    let (status, _) = patch(&b, &path, ada.bearer(), json!({"role": "admin"})).await;
    assert_eq!(status, 422, "the password is required");
    let (status, _) = patch(&b, &path, ada.bearer(), json!({"role": "owner", "current_password": ADA_PASSWORD})).await;
    assert_eq!(status, 422, "no such role");
    assert!(history(&b, &ada).await.is_empty(), "refused changes leave no history");
    assert_eq!(b.get("/v1/organisations/current/members", grace.bearer()).await.0, 403);

    let (status, member) =
        patch(&b, &path, ada.bearer(), json!({"role": "admin", "current_password": ADA_PASSWORD})).await;
    assert_eq!(status, 200, "{member}");
    assert_eq!((member["user_id"].as_str(), member["role"].as_str()), (Some(grace.user_id.as_str()), Some("admin")));
    // Her session carried the old role: it ended; the next one has the new role.
    assert_eq!(b.get("/v1/me", grace.bearer()).await.0, 401);
    let grace = b.login(GRACE, GRACE_PASSWORD).await;
    let (_, me) = b.get("/v1/me", grace.bearer()).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(b.get("/v1/organisations/current/members", grace.bearer()).await.0, 200);
    assert_eq!(b.get("/v1/me", ada.bearer()).await.0, 200, "the acting admin's session lives on");

    // The same role again changes nothing and records nothing.
    let (status, _) = patch(&b, &path, ada.bearer(), json!({"role": "admin", "current_password": ADA_PASSWORD})).await;
    assert_eq!(status, 200);
    let events = history(&b, &grace).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["action"], "role_changed");
    assert_eq!(event["by"], ada.user_id.as_str());
    assert_eq!(event["subject"], grace.user_id.as_str());
    assert_eq!((event["from_role"].as_str(), event["to_role"].as_str()), (Some("member"), Some("admin")));
    assert!(!event.to_string().contains("example.com"), "ids only: {event}");
}

async fn the_organisation_always_keeps_an_admin(b: Backend) {
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let demote_ada = json!({"role": "member", "current_password": ADA_PASSWORD});
    // Alone, the admin cannot demote herself.
    let (status, problem) = patch(&b, &member_path(&ada.user_id), ada.bearer(), demote_ada.clone()).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("last_admin")));
    let grace = b.member(&ada, GRACE, GRACE_PASSWORD, "member").await;
    let (status, problem) = patch(&b, &member_path(&ada.user_id), ada.bearer(), demote_ada.clone()).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("last_admin")), "a member is no admin");
    let (status, problem) = b.delete(&member_path(&ada.user_id), ada.bearer(), json!({"password": ADA_PASSWORD})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("self_removal")));

    // With a second admin, she may step down; her admin session ends with it.
    let promote = json!({"role": "admin", "current_password": ADA_PASSWORD});
    assert_eq!(patch(&b, &member_path(&grace.user_id), ada.bearer(), promote).await.0, 200);
    let (status, member) = patch(&b, &member_path(&ada.user_id), ada.bearer(), demote_ada).await;
    assert_eq!((status, member["role"].as_str()), (200, Some("member")));
    assert_eq!(b.get("/v1/me", ada.bearer()).await.0, 401);
    let ada = b.login(ADA, ADA_PASSWORD).await;
    assert_eq!(b.get("/v1/organisations/current/members", ada.bearer()).await.0, 403);
    let grace = b.login(GRACE, GRACE_PASSWORD).await;
    let (status, problem) = patch(
        &b,
        &member_path(&grace.user_id),
        grace.bearer(),
        json!({"role": "member", "current_password": GRACE_PASSWORD}),
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("last_admin")));
    let roles: Vec<_> = history(&b, &grace).await.iter().map(|e| e["to_role"].as_str().map(str::to_owned)).collect();
    assert_eq!(roles, [Some("member".to_owned()), Some("admin".to_owned())], "newest first");
}

async fn a_removed_member_is_erased_and_told(b: Backend) {
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, GRACE, GRACE_PASSWORD, "member").await;
    let path = member_path(&grace.user_id);
    let (status, _) = b.delete(&path, ada.bearer(), json!({"password": "not my password"})).await;
    assert_eq!(status, 401);
    assert_eq!(b.get("/v1/me", grace.bearer()).await.0, 200, "a refused removal changes nothing");

    let (status, body) = b.delete(&path, ada.bearer(), json!({"password": ADA_PASSWORD})).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(b.get("/v1/me", grace.bearer()).await.0, 401, "fenced at once");
    // Her erasure job runs on the rights queue.
    b.process_rights().await;
    let (_, members) = b.get("/v1/organisations/current/members", ada.bearer()).await;
    assert_eq!(members["items"].as_array().unwrap().len(), 1);
    // Until the mail worker sends it, the notice of her removal waits with her address
    // (not filed under it: her erasure must not delete it); once sent it is gone.
    assert_eq!(b.count_of(GRACE).await, 1, "the removal notice waits to be sent");
    b.deliver_mail().await;
    // Nothing about her remains: the history's entry names her role, not her id.
    assert_eq!(b.count_of(GRACE).await, 0);
    assert_eq!(b.count_of(&grace.user_id).await, 0);
    let (status, _) = b.delete(&path, ada.bearer(), json!({"password": ADA_PASSWORD})).await;
    assert_eq!(status, 404, "already gone");

    b.deliver_mail().await;
    let told = outbox_files(&b.outbox).into_iter().rfind(|m| m.contains(&format!("To: {GRACE}"))).unwrap();
    assert!(told.contains("removed you from the organisation"), "{told}");
    let events = history(&b, &ada).await;
    assert_eq!(
        (events[0]["action"].as_str(), events[0]["from_role"].as_str(), events[0]["subject"].as_str()),
        (Some("member_removed"), Some("member"), Some("erased member"))
    );

    // The history is the organisation's: it goes with it.
    b.cancel("/v1/organisations/current", &ada, ADA_PASSWORD).await;
    assert_eq!(b.count_of(&grace.user_id).await, 0);
    assert_eq!(b.count_of(&ada.organisation_id).await, 0);
}

async fn invitations_are_listed_and_a_revoked_one_stops_working(b: Backend) {
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    for (email, role) in [(GRACE, "admin"), ("charles@example.com", "member")] {
        let invitation = json!({"email": email, "role": role});
        let (status, _) = b.post("/v1/organisations/current/invitations", ada.bearer(), invitation).await;
        assert_eq!(status, 201);
    }
    b.deliver_mail().await;
    let token = token_mailed_to(&b.outbox, GRACE).expect("an invitation");
    let (status, page) = b.get("/v1/organisations/current/invitations", ada.bearer()).await;
    assert_eq!(status, 200);
    let items = page["items"].as_array().unwrap();
    let mut listed: Vec<_> =
        items.iter().map(|i| (i["email"].as_str().unwrap(), i["role"].as_str().unwrap())).collect();
    listed.sort();
    assert_eq!(listed, [("charles@example.com", "member"), (GRACE, "admin")]);
    let grace_invitation = items.iter().find(|i| i["email"] == GRACE).unwrap();
    let id = grace_invitation["id"].as_str().unwrap();
    assert!(!page.to_string().contains(&token), "the list never shows a usable token");
    assert!(grace_invitation["expires_at"].as_str().unwrap().ends_with('Z'));

    let revoke = format!("/v1/organisations/current/invitations/{id}");
    assert_eq!(b.delete(&revoke, ada.bearer(), Value::Null).await.0, 204);
    assert_eq!(b.delete(&revoke, ada.bearer(), Value::Null).await.0, 404, "no longer pending");
    let (status, problem) =
        b.post("/v1/invitations/accept", Auth::None, json!({"token": token, "password": GRACE_PASSWORD})).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_token")));
    let (_, page) = b.get("/v1/organisations/current/invitations", ada.bearer()).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    for bad in ["not-an-id", "TOKEN%23x", &"A".repeat(64)] {
        let path = format!("/v1/organisations/current/invitations/{bad}");
        assert_eq!(b.delete(&path, ada.bearer(), Value::Null).await.0, 404, "{bad}");
    }
    let events = history(&b, &ada).await;
    assert_eq!((events.len(), events[0]["action"].as_str()), (1, Some("invitation_revoked")));
    assert_eq!(events[0]["subject"], id);
}

async fn another_organisation_reaches_nothing_and_members_manage_nothing(b: Backend) {
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, GRACE, GRACE_PASSWORD, "member").await;
    let invitation = json!({"email": "charles@example.com", "role": "member"});
    assert_eq!(b.post("/v1/organisations/current/invitations", ada.bearer(), invitation).await.0, 201);
    let (_, page) = b.get("/v1/organisations/current/invitations", ada.bearer()).await;
    let invitation_id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let eve = b.admin(EVE, EVE_PASSWORD, "Eve Corp").await;

    // Another organisation's admin: every id of Ada's organisation is unknown to her.
    let (status, problem) = patch(
        &b,
        &member_path(&grace.user_id),
        eve.bearer(),
        json!({"role": "admin", "current_password": EVE_PASSWORD}),
    )
    .await;
    assert_eq!(status, 404, "{problem}");
    assert!(!problem.to_string().contains("Analytical"), "{problem}");
    let removal = json!({"password": EVE_PASSWORD});
    assert_eq!(b.delete(&member_path(&grace.user_id), eve.bearer(), removal.clone()).await.0, 404);
    assert_eq!(b.delete(&member_path(&ada.user_id), eve.bearer(), removal).await.0, 404);
    let revoke = format!("/v1/organisations/current/invitations/{invitation_id}");
    assert_eq!(b.delete(&revoke, eve.bearer(), Value::Null).await.0, 404);
    let (_, eve_invitations) = b.get("/v1/organisations/current/invitations", eve.bearer()).await;
    assert_eq!(eve_invitations["items"], json!([]));
    assert!(history(&b, &eve).await.is_empty());

    // A member of the organisation manages nothing.
    let as_member = [
        patch(
            &b,
            &member_path(&ada.user_id),
            grace.bearer(),
            json!({"role": "member", "current_password": GRACE_PASSWORD}),
        )
        .await
        .0,
        b.delete(&member_path(&ada.user_id), grace.bearer(), json!({"password": GRACE_PASSWORD})).await.0,
        b.delete(&revoke, grace.bearer(), Value::Null).await.0,
        b.get("/v1/organisations/current/invitations", grace.bearer()).await.0,
        b.get("/v1/organisations/current/membership-history", grace.bearer()).await.0,
    ];
    assert_eq!(as_member, [403; 5]);

    // Nothing changed anywhere.
    let (_, members) = b.get("/v1/organisations/current/members", ada.bearer()).await;
    let roles: Vec<_> = members["items"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["admin", "member"]);
    let (_, page) = b.get("/v1/organisations/current/invitations", ada.bearer()).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(history(&b, &ada).await.is_empty());
}
