//! When a person is erased, their id in other people's histories becomes a placeholder of
//! their role, on both engines: the organisation's membership history, its members' rights
//! requests (an admin's decision, an operator's extension); and an anonymous erasure record
//! keeps no free text.

use infentre_tests::backend::{Backend, Session};
use infentre_tests::{call, on_both_engines};
use serde_json::{Value, json};

const PASSWORD: &str = "histories keep roles";

on_both_engines!(
    an_erased_admin_operator_or_member_leaves_a_role_in_the_histories,
    an_anonymous_erasure_record_keeps_no_free_text,
    the_job_rewrites_the_histories_before_it_reports_done,
);

async fn history(b: &Backend, admin: &Session) -> Vec<Value> {
    let (status, page) = b.get("/v1/organisations/current/membership-history", admin.bearer()).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn request(b: &Backend, who: &Session, id: &str) -> Value {
    let (status, body) = b.get(&format!("/v1/rights-requests/{id}"), who.bearer()).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn an_erased_admin_operator_or_member_leaves_a_role_in_the_histories(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let linus = b.member(&ada, "linus@example.com", PASSWORD, "member").await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    // Ada makes Grace an admin; Grace files nothing, Linus files an access request that Ada
    // approves and the operator extends.
    let path = format!("/v1/organisations/current/members/{}", grace.user_id);
    let (status, _, body) =
        call(&b.app, "PATCH", &path, ada.bearer(), Some(json!({"role": "admin", "current_password": PASSWORD}))).await;
    assert_eq!(status, 200, "{body}");
    let grace = b.login("grace@example.com", PASSWORD).await;
    let (_, filed) = b.post("/v1/rights-requests", linus.bearer(), json!({"type": "access"})).await;
    let id = filed["id"].as_str().unwrap().to_owned();
    let reason = json!({"reason": "many records", "days": 10});
    assert_eq!(b.post(&format!("/v1/rights-requests/{id}/extend"), operator.bearer(), reason).await.0, 200);
    assert_eq!(b.post(&format!("/v1/rights-requests/{id}/approve"), ada.bearer(), json!({})).await.0, 200);
    let before = request(&b, &grace, &id).await;
    let by: Vec<&str> = before["history"].as_array().unwrap().iter().map(|h| h["by"].as_str().unwrap()).collect();
    assert!(by.contains(&format!("admin:{}", ada.user_id).as_str()), "{by:?}");

    b.cancel("/v1/me", &ada, PASSWORD).await;
    b.cancel("/v1/me", &operator, PASSWORD).await;

    let after = request(&b, &grace, &id).await;
    let by: Vec<&str> = after["history"].as_array().unwrap().iter().map(|h| h["by"].as_str().unwrap()).collect();
    assert_eq!(by, [linus.user_id.as_str(), "erased operator", "erased admin", "worker", "worker"], "{after}");
    let events = history(&b, &grace).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0]["by"].as_str(), events[0]["subject"].as_str()),
        (Some("erased admin"), Some(grace.user_id.as_str()))
    );
    for erased in [&ada.user_id, &operator.user_id] {
        assert_eq!(b.count_of(erased).await, 0, "nothing anywhere names {erased}");
    }

    // The member whose role changed is erased too: the event's subject is their role then.
    let (status, _, _) = call(
        &b.app,
        "PATCH",
        &format!("/v1/organisations/current/members/{}", linus.user_id),
        grace.bearer(),
        Some(json!({"role": "admin", "current_password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200);
    let linus = b.login("linus@example.com", PASSWORD).await;
    b.cancel("/v1/me", &linus, PASSWORD).await;
    let events = history(&b, &grace).await;
    let subjects: Vec<&str> = events.iter().map(|e| e["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, ["erased member", grace.user_id.as_str()], "newest first: {events:?}");
    assert_eq!(b.count_of(&linus.user_id).await, 0);
}

async fn an_anonymous_erasure_record_keeps_no_free_text(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let (_, filed) = b
        .post(
            "/v1/rights-requests",
            grace.bearer(),
            json!({"type": "erasure", "details": "Grace Hopper, call me", "password": PASSWORD}),
        )
        .await;
    let id = filed["id"].as_str().unwrap().to_owned();
    let reason = json!({"reason": "Grace Hopper asked us to wait", "days": 5});
    assert_eq!(b.post(&format!("/v1/rights-requests/{id}/extend"), operator.bearer(), reason).await.0, 200);
    assert_eq!(b.post(&format!("/v1/rights-requests/{id}/approve"), ada.bearer(), json!({})).await.0, 200);
    b.process_rights().await;
    let done = request(&b, &ada, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let text = done.to_string();
    assert!(!text.contains("Grace") && !text.contains(&grace.user_id), "{text}");
    assert_eq!(done["extension"]["days"], 5, "what happened stays: {done}");
    let notes: Vec<&str> = done["history"].as_array().unwrap().iter().filter_map(|h| h["note"].as_str()).collect();
    assert_eq!(notes.len(), 1, "only the counts of the verification: {notes:?}");
    assert!(notes[0].contains("verified: 0 items left"));
}

/// The cancelling request only fences and queues; the job's first step rewrites the
/// histories, and the job is not done before they are.
async fn the_job_rewrites_the_histories_before_it_reports_done(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let path = format!("/v1/organisations/current/members/{}", grace.user_id);
    let (status, _, body) =
        call(&b.app, "PATCH", &path, ada.bearer(), Some(json!({"role": "admin", "current_password": PASSWORD}))).await;
    assert_eq!(status, 200, "{body}");
    let grace = b.login("grace@example.com", PASSWORD).await;

    let (status, accepted) = b.delete("/v1/me", ada.bearer(), json!({"password": PASSWORD})).await;
    assert_eq!(status, 202, "{accepted}");
    let job = format!("/v1/erasure-jobs/{}", accepted["job_id"].as_str().unwrap());
    assert_eq!(history(&b, &grace).await[0]["by"], ada.user_id.as_str(), "not rewritten by the request");
    assert_ne!(b.get(&job, infentre_tests::Auth::None).await.1["status"], "completed");

    b.process_rights().await;

    assert_eq!(b.get(&job, infentre_tests::Auth::None).await.1["status"], "completed");
    let events = history(&b, &grace).await;
    assert_eq!(
        (events[0]["by"].as_str(), events[0]["subject"].as_str()),
        (Some("erased admin"), Some(grace.user_id.as_str()))
    );
    assert_eq!(b.count_of(&ada.user_id).await, 0);
}
