//! A failed rights request is resolved by an operator, on both engines, from the API and from
//! the operator desk: queued again (and then carried out), or closed as completed or refused
//! with a reason that the history keeps and the requester is told. Until then it stays on
//! the overdue list.

use infentre_tests::backend::{Backend, Session};
use infentre_tests::pages::post_form;
use infentre_tests::{on_both_engines, outbox_files};
use serde_json::{Value, json};
use shared::queue::QueueName;
use shared::store::Item;

const PASSWORD: &str = "my rights are mine";

on_both_engines!(
    an_operator_tries_a_failed_request_again_once_its_cause_is_mended,
    an_operator_closes_a_failed_request_with_an_outcome_and_a_reason,
);

struct Org {
    admin: Session,
    member: Session,
    operator: Session,
}

async fn org(b: &Backend) -> Org {
    let admin = b.admin("grace@example.com", PASSWORD, "Compilers Inc").await;
    let member = b.member(&admin, "ada@example.com", PASSWORD, "member").await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    Org { admin, member, operator }
}

/// Files and approves a member's request, then makes it fail for good: the account is away
/// while the worker runs its last attempt. Answers the request's id and the account's item.
async fn failed_request(b: &Backend, org: &Org, kind: &str) -> (String, Item) {
    let (status, filed) = b.post("/v1/rights-requests", org.member.bearer(), json!({"type": kind})).await;
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_str().unwrap().to_owned();
    let (status, _) = b.post(&format!("/v1/rights-requests/{id}/approve"), org.admin.bearer(), json!({})).await;
    assert_eq!(status, 200);
    let key = shared::keys::user(&org.member.user_id);
    let account = b.platform.store.get(&key).await.unwrap().expect("the member's account");
    b.platform.store.delete(&key, None).await.unwrap();
    let event = b.take_messages(QueueName::Rights).await;
    let mut last: Value = serde_json::to_value(&event).unwrap();
    last["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!("5");
    let response = rights_worker::handle(&b.platform, serde_json::from_value(last).unwrap()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(view(b, &org.admin, &id).await["status"], "failed");
    (id, account)
}

async fn view(b: &Backend, who: &Session, id: &str) -> Value {
    let (status, body) = b.get(&format!("/v1/rights-requests/{id}"), who.bearer()).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn open_ids(b: &Backend, operator: &Session) -> Vec<String> {
    let (status, open) = b.get("/v1/operator/rights-requests", operator.bearer()).await;
    assert_eq!(status, 200, "{open}");
    open["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

async fn resolve(b: &Backend, who: &Session, id: &str, body: Value) -> (u16, Value) {
    b.post(&format!("/v1/rights-requests/{id}/resolve"), who.bearer(), body).await
}

async fn an_operator_tries_a_failed_request_again_once_its_cause_is_mended(b: Backend) {
    let org = org(&b).await;
    let (id, account) = failed_request(&b, &org, "access").await;
    assert_eq!(open_ids(&b, &org.operator).await, std::slice::from_ref(&id), "failed: still open, by deadline");

    // Only operators resolve; only a failed request; a known action.
    let (status, _) = resolve(&b, &org.admin, &id, json!({"action": "retry"})).await;
    assert_eq!(status, 403, "an admin of the organisation is no operator");
    let (status, problem) = resolve(&b, &org.operator, &id, json!({"action": "again"})).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("invalid_body")), "{problem}");

    // While the member has filed a new request of the type, the failed one cannot be retried.
    b.platform.store.put(account, None).await.unwrap();
    let (status, newer) = b.post("/v1/rights-requests", org.member.bearer(), json!({"type": "access"})).await;
    assert_eq!(status, 201, "a failed request gave up its place: {newer}");
    let (status, problem) = resolve(&b, &org.operator, &id, json!({"action": "retry"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("duplicate_request")), "{problem}");
    assert_eq!(view(&b, &org.admin, &id).await["status"], "failed", "nothing changed");
    let newer = newer["id"].as_str().unwrap();
    let (status, _) = b
        .post(&format!("/v1/rights-requests/{newer}/deny"), org.admin.bearer(), json!({"reason": "a duplicate"}))
        .await;
    assert_eq!(status, 200);

    // The account is back: tried again, the request is carried out.
    let (status, queued) =
        resolve(&b, &org.operator, &id, json!({"action": "retry", "reason": "the account was restored"})).await;
    assert_eq!((status, queued["status"].as_str()), (200, Some("queued")), "{queued}");
    assert!(queued.get("failure_reason").is_none_or(Value::is_null), "{queued}");
    let (status, problem) = resolve(&b, &org.operator, &id, json!({"action": "retry"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("invalid_status")), "only a failed one");
    let (status, problem) = b.post("/v1/rights-requests", org.member.bearer(), json!({"type": "access"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("duplicate_request")), "it is open again");
    b.process_rights().await;
    let done = view(&b, &org.member, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let history = done["history"].as_array().unwrap();
    let steps: Vec<(&str, &str)> =
        history.iter().map(|h| (h["to"].as_str().unwrap(), h["by"].as_str().unwrap_or_default())).collect();
    let operator = format!("operator:{}", org.operator.user_id);
    assert_eq!(
        steps[3..],
        [("failed", "worker"), ("queued", operator.as_str()), ("processing", "worker"), ("completed", "worker")]
    );
    assert_eq!(history[4]["note"], "the account was restored");
    assert!(open_ids(&b, &org.operator).await.is_empty(), "answered: off the list");
}

async fn an_operator_closes_a_failed_request_with_an_outcome_and_a_reason(b: Backend) {
    let org = org(&b).await;
    let (refused, account) = failed_request(&b, &org, "portability").await;
    b.platform.store.put(account, None).await.unwrap();

    let (status, problem) = resolve(&b, &org.operator, &refused, json!({"action": "refuse"})).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("invalid_reason")), "closing needs a reason");
    let reason = "Your data was provided by your organisation, not by you.";
    let (status, closed) = resolve(&b, &org.operator, &refused, json!({"action": "refuse", "reason": reason})).await;
    assert_eq!((status, closed["status"].as_str()), (200, Some("denied")), "{closed}");
    let last = closed["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["from"], "failed");
    assert_eq!(last["by"], format!("operator:{}", org.operator.user_id));
    assert_eq!(last["note"], reason);
    b.deliver_mail().await;
    let told = outbox_files(&b.outbox)
        .into_iter()
        .filter(|m| m.contains("To: ada@example.com") && m.contains("is closed"))
        .collect::<Vec<_>>();
    assert_eq!(told.len(), 1, "the requester is told");
    assert!(told[0].contains(reason) && told[0].contains("could not be carried out"), "{}", told[0]);
    assert!(open_ids(&b, &org.operator).await.is_empty(), "closed: off the list");

    // From the operator desk: a failed request offers both, and closing it as completed works.
    let (completed, account) = failed_request(&b, &org, "access").await;
    b.platform.store.put(account, None).await.unwrap();
    let (status, page) = desk(&b, &org.operator).await;
    assert_eq!(status, 200);
    assert!(page.contains("action=\"/operator/rights-requests/resolve\""), "the desk offers to resolve it");
    let fields = [("id", completed.as_str()), ("action", "complete"), ("reason", "Sent by post on request.")];
    let answer = post_form(&b, &org.operator, "/operator", "/operator/rights-requests/resolve", &fields).await;
    assert_eq!((answer.status, answer.location.as_str()), (303, "/operator?done=resolved"), "{}", answer.body);
    let done = view(&b, &org.admin, &completed).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["history"].as_array().unwrap().last().unwrap()["note"], "Sent by post on request.");
    // Anyone else's post does nothing.
    let answer = post_form(&b, &org.admin, "/account", "/operator/rights-requests/resolve", &fields).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let (_, page) = desk(&b, &org.operator).await;
    assert!(!page.contains(&completed), "closed: off the desk");
}

async fn desk(b: &Backend, who: &Session) -> (u16, String) {
    let request = http::Request::get("/operator")
        .header("cookie", format!("{}={}", shared::session::COOKIE_NAME, who.token))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}
