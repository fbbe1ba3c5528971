//! Rights requests on both engines: the workflow (a member's request waits for an admin of
//! their organisation, an admin's is queued at once), exports for their requester only,
//! corrections, erasure verified by looking, deadlines, complaints, and bad input.

use std::io::Read;

use infentre_tests::backend::{Backend, Session};
use infentre_tests::{on_both_engines, outbox_files, token_mailed_to};
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::queue::QueueName;

const PASSWORD: &str = "my rights are mine";
const ADMIN: &str = "grace@example.com";
const MEMBER: &str = "ada@example.com";

struct Org {
    admin: Session,
    member: Session,
}

async fn org(b: &Backend) -> Org {
    let admin = b.admin(ADMIN, PASSWORD, "Compilers Inc").await;
    let member = b.member(&admin, MEMBER, PASSWORD, "member").await;
    Org { admin, member }
}

/// The member consents to analytics and uses the platform: consents and events to find.
async fn with_usage(b: &Backend, member: &Session) {
    b.put("/v1/me/consents/analytics_cookies", member.bearer(), json!({"granted": true})).await;
    let events: Vec<_> =
        (0..3).map(|i| json!({"name": "page_view", "properties": {"page": format!("/p/{i}")}})).collect();
    let (status, _) = b.post("/v1/events", member.bearer(), json!({ "events": events })).await;
    assert_eq!(status, 202);
    b.store_events().await;
}

async fn file(b: &Backend, who: &Session, body: Value) -> (u16, Value) {
    b.post("/v1/rights-requests", who.bearer(), body).await
}

async fn request(b: &Backend, who: &Session, id: &str) -> Value {
    let (status, body) = b.get(&format!("/v1/rights-requests/{id}"), who.bearer()).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Fetches an export link: the local server's signed route, or S3's presigned URL on moto.
async fn download(b: &Backend, url: &str) -> (u16, Vec<u8>) {
    if let Some(path) = url.strip_prefix("http://127.0.0.1:8080") {
        let request = http::Request::get(path).body(axum::body::Body::empty()).unwrap();
        let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        (status, bytes.to_vec())
    } else {
        let response = reqwest::get(url).await.unwrap();
        (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
    }
}

fn sqlite_app(b: &Backend) -> bool {
    b.sqlite.is_some()
}

on_both_engines!(
    a_members_erasure_waits_for_the_admin_then_leaves_nothing_but_an_anonymous_record,
    an_access_export_holds_consents_events_and_the_article_15_information,
    only_the_requester_downloads_an_export,
    a_portability_export_holds_what_the_person_provided,
    a_denied_request_changes_nothing,
    a_stale_decision_loses_with_409,
    one_open_request_per_type,
    bad_requests_are_refused_and_change_nothing,
    erasure_and_a_new_address_need_the_password,
    another_organisations_admin_sees_nothing,
    an_admins_correction_is_queued_at_once_and_reverifies_the_address,
    operators_extend_once_and_see_what_is_overdue,
    a_complaint_reaches_the_dpo_and_answers_with_the_authority,
    a_request_that_keeps_failing_is_marked_failed_with_a_reason,
    a_redelivered_erasure_message_changes_nothing_more,
    an_erasure_request_that_meets_a_running_cancellation_waits_for_it_and_completes,
    an_approval_is_saved_before_its_message_is_sent,
);

/// The member files an erasure request, then cancels the account before the worker gets to
/// the request: the request meets the cancellation's job running. Even on its last delivery
/// it does not fail: it waits on that job, which hands it back (and tells the member) when done.
async fn an_erasure_request_that_meets_a_running_cancellation_waits_for_it_and_completes(b: Backend) {
    let Org { admin, member } = org(&b).await;
    with_usage(&b, &member).await;
    let (_, filed) = file(&b, &member, json!({"type": "erasure", "password": PASSWORD})).await;
    let id = filed["id"].as_str().unwrap().to_owned();
    assert_eq!(b.post(&format!("/v1/rights-requests/{id}/approve"), admin.bearer(), json!({})).await.0, 200);
    let (status, cancelled) = b.delete("/v1/me", member.bearer(), json!({"password": PASSWORD})).await;
    assert_eq!(status, 202, "{cancelled}");

    let queued = b.take_messages(QueueName::Rights).await;
    assert_eq!(queued.records.len(), 2, "the request and the cancellation's job");
    let is_job = |r: &&shared::queue::batch::SqsMessage| r.body.as_deref().unwrap_or_default().contains("erasure_job");
    let job_message = queued.records.iter().find(is_job).unwrap().body.clone().unwrap();
    let mut request_only = serde_json::to_value(&queued).unwrap();
    request_only["Records"] = json!(
        queued
            .records
            .iter()
            .filter(|r| !is_job(r))
            .map(|r| json!({"messageId": r.message_id, "body": r.body, "attributes": {"ApproximateReceiveCount": "5"}}))
            .collect::<Vec<_>>()
    );
    let last_delivery = serde_json::from_value(request_only).unwrap();
    let response = rights_worker::handle(&b.platform, last_delivery).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "acknowledged: it waits on the job");
    assert_eq!(request(&b, &admin, &id).await["status"], "processing", "not failed");

    // The cancellation's job runs to the end and hands the waiting request back.
    b.platform.queue.send(QueueName::Rights, job_message).await.unwrap();
    b.process_rights().await;
    let done = request(&b, &admin, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let last = done["history"].as_array().unwrap().last().unwrap().clone();
    assert!(last["note"].as_str().unwrap().contains("verified: 0 items left"), "{last}");
    assert_eq!(b.count_of(&member.user_id).await, 0);
    b.deliver_mail().await;
    assert!(outbox_files(&b.outbox).iter().any(|m| m.contains(&format!("To: {MEMBER}")) && m.contains("is done")));
    assert!(b.table_text().await.iter().all(|t| !t.contains(MEMBER)), "the wait kept the address until done only");

    // A request joining a job that completed a moment ago carries itself on.
    let job_id = cancelled["job_id"].as_str().unwrap();
    let origin = shared::erasure::job::Origin { rights_request_id: Some("late".into()), ..Default::default() };
    let joined = shared::erasure::job::join(&b.platform, job_id, &origin).await.unwrap();
    assert_eq!(joined, shared::erasure::job::Joined::Completed);
    let waiting = shared::keys::erasure_waiting(job_id, "late");
    assert!(b.platform.store.get(&waiting).await.unwrap().is_none(), "taken back");
}

async fn a_redelivered_erasure_message_changes_nothing_more(b: Backend) {
    let Org { admin, member } = org(&b).await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let (_, filed) = file(&b, &member, json!({"type": "erasure", "password": PASSWORD})).await;
    let id = filed["id"].as_str().unwrap();
    b.post(&format!("/v1/rights-requests/{id}/approve"), admin.bearer(), json!({})).await;
    let event = b.take_messages(QueueName::Rights).await;

    for _ in 0..2 {
        let response = rights_worker::handle(&b.platform, event.clone()).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    // The request started one erasure job (the redelivery joined it); the job hands the
    // request back when it is done.
    assert_eq!(b.take_messages(QueueName::Rights).await.records.len(), 1, "one job");
    let job = shared::erasure::fence::find(b.platform.store.as_ref(), &member.user_id).await.unwrap().unwrap();
    let message = serde_json::to_string(&shared::erasure::job::JobMessage { erasure_job: job.job_id }).unwrap();
    b.platform.queue.send(QueueName::Rights, message).await.unwrap();
    b.process_rights().await;

    let done = request(&b, &admin, id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["history"].as_array().unwrap().len(), 4, "completed once: {done}");
    assert_eq!(b.count_of(&member.user_id).await, 0);
    let (_, open) = b.get("/v1/operator/rights-requests", operator.bearer()).await;
    assert!(open["items"].as_array().unwrap().is_empty(), "closed requests leave the open list");
}

async fn a_members_erasure_waits_for_the_admin_then_leaves_nothing_but_an_anonymous_record(b: Backend) {
    let Org { admin, member } = org(&b).await;
    with_usage(&b, &member).await;
    b.post("/v1/complaints", member.bearer(), json!({"message": "Why do you need my page views?"})).await;
    let (status, filed) =
        file(&b, &member, json!({"type": "erasure", "details": "Please forget me", "password": PASSWORD})).await;
    assert_eq!(status, 201, "{filed}");
    assert_eq!(filed["status"], "awaiting_organisation_approval");
    let id = filed["id"].as_str().unwrap();
    b.deliver_mail().await;
    assert!(
        outbox_files(&b.outbox).iter().any(|m| m.contains(&format!("To: {ADMIN}")) && m.contains("approve or deny it")),
        "the admin is asked to decide"
    );
    b.process_rights().await;
    assert_eq!(request(&b, &member, id).await["status"], "awaiting_organisation_approval", "nothing before approval");

    let (status, decision) = b.post(&format!("/v1/rights-requests/{id}/approve"), admin.bearer(), json!({})).await;
    assert_eq!((status, decision), (200, json!({"status": "queued"})));
    b.process_rights().await;

    let done = request(&b, &admin, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done.get("user_id").is_none() && done.get("details").is_none(), "anonymous: {done}");
    let statuses: Vec<&str> = done["history"].as_array().unwrap().iter().map(|h| h["to"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["awaiting_organisation_approval", "queued", "processing", "completed"]);
    let last = done["history"].as_array().unwrap().last().unwrap();
    assert!(last["note"].as_str().unwrap().contains("verified: 0 items left"), "{last}");
    assert_eq!(done["history"][0]["by"], "requester");

    // Looking through everything (the completion notice sent): nothing about the member remains.
    b.deliver_mail().await;
    let table = b.table_text().await;
    for needle in [member.user_id.as_str(), MEMBER, "Please forget me", "page views"] {
        let found: Vec<&String> = table.iter().filter(|t| t.contains(needle)).collect();
        assert!(found.is_empty(), "{needle} survives in {found:?}");
    }
    assert!(b.count_of(&admin.user_id).await > 0, "the organisation and its admin stay");
    let (status, _) = b.get("/v1/me", member.bearer()).await;
    assert_eq!(status, 401, "the member's sessions are gone");
    b.deliver_mail().await;
    assert!(outbox_files(&b.outbox).iter().any(|m| m.contains(&format!("To: {MEMBER}")) && m.contains("is done")));
}

async fn an_access_export_holds_consents_events_and_the_article_15_information(b: Backend) {
    let Org { admin, member } = org(&b).await;
    with_usage(&b, &member).await;
    let (_, filed) = file(&b, &member, json!({"type": "access"})).await;
    let id = filed["id"].as_str().unwrap();
    b.post(&format!("/v1/rights-requests/{id}/approve"), admin.bearer(), json!({})).await;
    b.process_rights().await;
    assert_eq!(request(&b, &member, id).await["status"], "completed");

    let (status, link) = b.get(&format!("/v1/rights-requests/{id}/export"), member.bearer()).await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["format"], "json");
    let (status, bytes) = download(&b, link["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let export: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(export["subject"]["email"], MEMBER);
    assert_eq!(export["data"]["usage_event"].as_array().unwrap().len(), 3);
    assert!(!export["data"]["consent_record"].as_array().unwrap().is_empty(), "the consent ledger");
    let information = &export["information"];
    for field in ["purposes", "recipients", "retention", "rights", "right_to_complain", "source"] {
        assert!(!information[field].is_null(), "Art. 15 information lacks {field}");
    }
    assert_eq!(information["right_to_complain"]["supervisory_authority"]["name"], "Integritetsskyddsmyndigheten (IMY)");
    // The 35 days of point-in-time-recovery backups, in English and Swedish.
    assert!(information["backups"]["en"].as_str().unwrap().contains("point-in-time-recovery backups for 35 days"));
    assert!(information["backups"]["sv"].as_str().unwrap().contains("i 35 dagar"));
    // Art. 19: who is told of an erasure, and that Meta cannot be.
    assert!(information["recipients_on_erasure"]["en"].as_str().unwrap().contains("User Deletion API"));
    assert!(information["recipients_on_erasure"]["sv"].as_str().unwrap().contains("Conversions API"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("$argon2id$"), "no password hash in an export");

    let (status, link) = b.get(&format!("/v1/rights-requests/{id}/export?format=csv"), member.bearer()).await;
    assert_eq!(status, 200, "{link}");
    let (_, zip) = download(&b, link["url"].as_str().unwrap()).await;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    let mut events = String::new();
    archive.by_name("usage_event.csv").unwrap().read_to_string(&mut events).unwrap();
    assert_eq!(events.lines().count(), 4, "a header and three events: {events}");
    assert!(archive.by_name("about-this-data.json").is_ok());
}

async fn only_the_requester_downloads_an_export(b: Backend) {
    let Org { admin, member } = org(&b).await;
    let (_, filed) = file(&b, &member, json!({"type": "access"})).await;
    let id = filed["id"].as_str().unwrap();
    let (status, _) = b.get(&format!("/v1/rights-requests/{id}/export"), member.bearer()).await;
    assert_eq!(status, 409, "not ready before it is done");
    b.post(&format!("/v1/rights-requests/{id}/approve"), admin.bearer(), json!({})).await;
    b.process_rights().await;

    let (status, _) = b.get(&format!("/v1/rights-requests/{id}/export"), admin.bearer()).await;
    assert_eq!(status, 404, "the admin sees the request, never the person's data");
    let (status, link) = b.get(&format!("/v1/rights-requests/{id}/export"), member.bearer()).await;
    assert_eq!(status, 200);
    let url = link["url"].as_str().unwrap();
    // An hour at most: in AWS the link dies with the signing role's temporary credentials.
    let expires_at = chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap();
    let lifetime = expires_at.with_timezone(&chrono::Utc) - b.clock.now();
    assert!(lifetime > chrono::Duration::zero() && lifetime <= chrono::Duration::hours(1), "{lifetime}");
    if sqlite_app(&b) {
        // Tampered or expired links fail (S3 checks its own presigned URLs; moto does not).
        let tampered = url.replacen("-access.json", "-access.zip", 1);
        assert_eq!(download(&b, &tampered).await.0, 403);
        b.clock.advance(chrono::Duration::minutes(61));
        assert_eq!(download(&b, url).await.0, 403, "expired");
    }
}

async fn a_portability_export_holds_what_the_person_provided(b: Backend) {
    let Org { member, .. } = org(&b).await;
    with_usage(&b, &member).await;
    // A member's request waits; the admin files their own portability request directly.
    let admin = b.login(ADMIN, PASSWORD).await;
    let (status, filed) = file(&b, &admin, json!({"type": "portability"})).await;
    assert_eq!((status, filed["status"].as_str()), (201, Some("queued")));
    b.process_rights().await;
    let id = filed["id"].as_str().unwrap();
    let (status, _) = b.get(&format!("/v1/rights-requests/{id}/export?format=csv"), admin.bearer()).await;
    assert_eq!(status, 422, "portability is JSON only");
    let (_, link) = b.get(&format!("/v1/rights-requests/{id}/export"), admin.bearer()).await;
    let export: Value = serde_json::from_slice(&download(&b, link["url"].as_str().unwrap()).await.1).unwrap();
    assert_eq!(export["format"], "infentre-portability-export/1");
    assert_eq!(export["subject"]["email"], ADMIN);
    assert!(export["data"]["user"].is_array());
    assert!(export["data"].get("session").is_none(), "sessions are ours, not provided by the person");
}

async fn a_denied_request_changes_nothing(b: Backend) {
    let Org { admin, member } = org(&b).await;
    with_usage(&b, &member).await;
    let before = b.count_of(&member.user_id).await;
    let (_, filed) = file(&b, &member, json!({"type": "erasure", "password": PASSWORD})).await;
    let id = filed["id"].as_str().unwrap();
    let deny = format!("/v1/rights-requests/{id}/deny");
    assert_eq!(b.post(&deny, admin.bearer(), json!({"reason": ""})).await.0, 422, "a reason is required");
    let (status, decision) =
        b.post(&deny, admin.bearer(), json!({"reason": "Ask the DPO about the contract first"})).await;
    assert_eq!((status, decision), (200, json!({"status": "denied"})));
    b.process_rights().await;

    assert_eq!(request(&b, &member, id).await["status"], "denied");
    assert_eq!(b.count_of(&member.user_id).await, before + 1, "nothing erased; one more item: the request");
    assert_eq!(b.get("/v1/me", member.bearer()).await.0, 200);
    b.deliver_mail().await;
    assert!(outbox_files(&b.outbox).iter().any(|m| m.contains("Ask the DPO about the contract first")));
    // Denied is closed: the member may ask again.
    assert_eq!(file(&b, &member, json!({"type": "erasure", "password": PASSWORD})).await.0, 201);
}

async fn a_stale_decision_loses_with_409(b: Backend) {
    let Org { admin, member } = org(&b).await;
    let (_, filed) = file(&b, &member, json!({"type": "access"})).await;
    let id = filed["id"].as_str().unwrap();
    // Another admin read the request before this approval, and decides after it.
    let mut stale = shared::rights::load(&b.platform, id).await.unwrap().unwrap();
    assert_eq!(b.post(&format!("/v1/rights-requests/{id}/approve"), admin.bearer(), json!({})).await.0, 200);
    let due_at = stale.due_at;
    stale.transition(shared::rights::Status::Denied, "admin:other", Some("too late".into()), 0).unwrap();
    let lost = shared::rights::save(&b.platform, &mut stale, due_at).await;
    assert!(matches!(lost, Err(shared::rights::SaveError::Conflict)), "{lost:?}");
    assert_eq!(b.post(&format!("/v1/rights-requests/{id}/deny"), admin.bearer(), json!({"reason": "no"})).await.0, 409);
    assert_eq!(request(&b, &member, id).await["status"], "queued");
}

async fn one_open_request_per_type(b: Backend) {
    let Org { member, .. } = org(&b).await;
    let (_, first) = file(&b, &member, json!({"type": "access"})).await;
    let (status, problem) = file(&b, &member, json!({"type": "access"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("duplicate_request")));
    assert!(problem["detail"].as_str().unwrap().contains(first["id"].as_str().unwrap()), "points at the open one");
    assert_eq!(file(&b, &member, json!({"type": "portability"})).await.0, 201, "another type is fine");
    let (status, mine) = b.get("/v1/rights-requests", member.bearer()).await;
    assert_eq!((status, mine["items"].as_array().unwrap().len()), (200, 2));
}

async fn bad_requests_are_refused_and_change_nothing(b: Backend) {
    let Org { admin, member } = org(&b).await;
    let cases = [
        (json!({"type": "delete_everything"}), 422),
        (json!({"type": "correction"}), 422),
        (json!({"type": "correction", "changes": {}}), 422),
        (json!({"type": "correction", "changes": {"role": "admin"}}), 422),
        (json!({"type": "correction", "changes": {"email": "not an address"}, "password": PASSWORD}), 422),
        (json!({"type": "access", "changes": {"email": "a@example.com"}}), 422),
        (json!({"type": "access", "details": "x".repeat(2_001)}), 422),
        (json!({"type": "access", "extra": true}), 422),
        (json!("access"), 422),
    ];
    for (body, expected) in cases {
        let (status, problem) = file(&b, &member, body.clone()).await;
        assert_eq!(status, expected, "{body:.60}: {problem}");
    }
    let (_, mine) = b.get("/v1/rights-requests", member.bearer()).await;
    assert!(mine["items"].as_array().unwrap().is_empty(), "nothing was filed");
    assert!(b.take_messages(QueueName::Rights).await.records.is_empty());

    let (_, filed) = file(&b, &member, json!({"type": "access"})).await;
    let id = filed["id"].as_str().unwrap();
    assert_eq!(b.post(&format!("/v1/rights-requests/{id}/approve"), member.bearer(), json!({})).await.0, 403);
    assert_eq!(
        b.post(&format!("/v1/rights-requests/{id}/extend"), admin.bearer(), json!({"reason": "x", "days": 5})).await.0,
        403
    );
    assert_eq!(b.get("/v1/rights-requests/not-an-id", member.bearer()).await.0, 404);
    assert_eq!(b.get("/v1/rights-requests?scope=organisation", member.bearer()).await.0, 403);
    assert_eq!(request(&b, &member, id).await["status"], "awaiting_organisation_approval");
}

/// A stolen session alone cannot erase an account or move it to another address (M5).
async fn erasure_and_a_new_address_need_the_password(b: Backend) {
    let Org { admin, member } = org(&b).await;
    let changes = json!({"email": "mallory@example.com"});
    for body in [json!({"type": "erasure"}), json!({"type": "correction", "changes": changes})] {
        let (status, problem) = file(&b, &admin, body.clone()).await;
        assert_eq!((status, problem["code"].as_str()), (422, Some("password_required")), "{body}");
        let mut wrong = body.clone();
        wrong["password"] = json!("not the password");
        let (status, problem) = file(&b, &admin, wrong).await;
        assert_eq!((status, problem["code"].as_str()), (401, Some("invalid_credentials")), "{body}");
    }
    let (status, _) = file(&b, &member, json!({"type": "erasure", "password": "still not it"})).await;
    assert_eq!(status, 401);
    let (_, mine) = b.get("/v1/rights-requests?scope=organisation", admin.bearer()).await;
    assert!(mine["items"].as_array().unwrap().is_empty(), "nothing was filed");
    assert!(b.take_messages(QueueName::Rights).await.records.is_empty(), "nothing was queued");
    // Other kinds need no password.
    assert_eq!(file(&b, &member, json!({"type": "access"})).await.0, 201);
}

async fn another_organisations_admin_sees_nothing(b: Backend) {
    let Org { member, .. } = org(&b).await;
    let outsider = b.admin("eve@elsewhere.example", PASSWORD, "Elsewhere").await;
    let (_, filed) = file(&b, &member, json!({"type": "erasure", "password": PASSWORD})).await;
    let id = filed["id"].as_str().unwrap();
    for path in [format!("/v1/rights-requests/{id}"), format!("/v1/rights-requests/{id}/export")] {
        assert_eq!(b.get(&path, outsider.bearer()).await.0, 404, "{path}");
    }
    assert_eq!(b.post(&format!("/v1/rights-requests/{id}/approve"), outsider.bearer(), json!({})).await.0, 404);
    let (_, theirs) = b.get("/v1/rights-requests?scope=organisation", outsider.bearer()).await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
    b.process_rights().await;
    assert_eq!(request(&b, &member, id).await["status"], "awaiting_organisation_approval");
}

async fn an_admins_correction_is_queued_at_once_and_reverifies_the_address(b: Backend) {
    let Org { admin, .. } = org(&b).await;
    let (status, filed) = file(
        &b,
        &admin,
        json!({"type": "correction", "changes": {"email": "grace.hopper@example.com"}, "password": PASSWORD}),
    )
    .await;
    assert_eq!((status, filed["status"].as_str()), (201, Some("queued")));
    b.process_rights().await;
    let id = filed["id"].as_str().unwrap();
    assert_eq!(request(&b, &admin, id).await["status"], "completed");
    b.deliver_mail().await;
    let token = token_mailed_to(&b.outbox, "grace.hopper@example.com").expect("a confirmation to the new address");
    let (status, _) = b.post("/v1/email-verifications", infentre_tests::Auth::None, json!({"token": token})).await;
    assert_eq!(status, 200);
    let (_, me) = b.get("/v1/me", admin.bearer()).await;
    assert_eq!(me["email"], "grace.hopper@example.com");
}

async fn operators_extend_once_and_see_what_is_overdue(b: Backend) {
    let Org { member, .. } = org(&b).await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let (_, late) = file(&b, &member, json!({"type": "access"})).await;
    let (status, extended) = file(&b, &member, json!({"type": "erasure", "password": PASSWORD})).await;
    assert_eq!(status, 201, "{extended}");
    let (late, extended) = (late["id"].as_str().unwrap(), extended["id"].as_str().unwrap());
    let created =
        chrono::DateTime::parse_from_rfc3339(request(&b, &member, late).await["created_at"].as_str().unwrap()).unwrap();
    let due =
        chrono::DateTime::parse_from_rfc3339(request(&b, &member, late).await["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(due - created, chrono::Duration::days(30), "one month");

    let extend = format!("/v1/rights-requests/{extended}/extend");
    assert_eq!(b.post(&extend, operator.bearer(), json!({"reason": "complex", "days": 62})).await.0, 422);
    assert_eq!(b.post(&extend, operator.bearer(), json!({"reason": "", "days": 30})).await.0, 422);
    let (status, body) =
        b.post(&extend, operator.bearer(), json!({"reason": "Backups must be checked", "days": 30})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["extension"]["days"], 30);
    assert_eq!(b.post(&extend, operator.bearer(), json!({"reason": "again", "days": 1})).await.0, 409, "once only");
    b.deliver_mail().await;
    assert!(
        outbox_files(&b.outbox)
            .iter()
            .any(|m| m.contains(&format!("To: {MEMBER}")) && m.contains("Backups must be checked"))
    );

    let (_, open) = b.get("/v1/operator/rights-requests", operator.bearer()).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 2);
    let (_, overdue) = b.get("/v1/operator/rights-requests?overdue=true", operator.bearer()).await;
    assert!(overdue["items"].as_array().unwrap().is_empty());
    assert_eq!(b.get("/v1/operator/rights-requests", member.bearer()).await.0, 403);
    b.clock.advance(chrono::Duration::days(31));
    let operator = b.login("dpo@infentre.com", PASSWORD).await; // sessions last 12 hours
    let (_, overdue) = b.get("/v1/operator/rights-requests?overdue=true", operator.bearer()).await;
    let ids: Vec<&str> = overdue["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [late], "the extended one is not overdue yet");
    // Art. 12(3): an extension is told within the first month; past the deadline it is too late.
    let (status, problem) = b
        .post(&format!("/v1/rights-requests/{late}/extend"), operator.bearer(), json!({"reason": "late", "days": 5}))
        .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("deadline_passed")));
}

async fn a_complaint_reaches_the_dpo_and_answers_with_the_authority(b: Backend) {
    let Org { member, .. } = org(&b).await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    assert_eq!(b.post("/v1/complaints", member.bearer(), json!({"message": "  "})).await.0, 422);
    let (status, receipt) = b.post("/v1/complaints", member.bearer(), json!({"message": "My admin ignores me."})).await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["status"], "received");
    assert_eq!(receipt["dpo"]["email"], "hello@infentre.com");
    assert_eq!(receipt["supervisory_authority"]["name"], "Integritetsskyddsmyndigheten (IMY)");
    b.deliver_mail().await;
    assert!(
        outbox_files(&b.outbox)
            .iter()
            .any(|m| m.contains("To: hello@infentre.com") && m.contains("My admin ignores me."))
    );
    let (_, listed) = b.get("/v1/operator/complaints", operator.bearer()).await;
    assert_eq!(listed["items"][0]["id"], receipt["id"]);
    assert_eq!(b.get("/v1/operator/complaints", member.bearer()).await.0, 403);
}

async fn a_request_that_keeps_failing_is_marked_failed_with_a_reason(b: Backend) {
    let Org { admin, member } = org(&b).await;
    let (_, filed) = file(&b, &member, json!({"type": "access"})).await;
    let id = filed["id"].as_str().unwrap();
    b.post(&format!("/v1/rights-requests/{id}/approve"), admin.bearer(), json!({})).await;
    // The account disappears behind the request's back: the export cannot be made.
    let key = shared::keys::user(&member.user_id);
    b.platform.store.delete(&key, None).await.unwrap();
    let event = b.take_messages(QueueName::Rights).await;
    let first = rights_worker::handle(&b.platform, event.clone()).await;
    assert!(first.is_err(), "retried while attempts remain");
    assert_eq!(request(&b, &admin, id).await["status"], "processing");

    let mut last: Value = serde_json::to_value(&event).unwrap();
    last["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!("5");
    let response = rights_worker::handle(&b.platform, serde_json::from_value(last).unwrap()).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "the last attempt settles it");
    let failed = request(&b, &admin, id).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure_reason"], "the requester's account no longer exists");
    // Not answered: it stays on the list by deadline, and shows up as overdue.
    b.clock.advance(chrono::Duration::days(31));
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let (_, overdue) = b.get("/v1/operator/rights-requests?overdue=true", operator.bearer()).await;
    let ids: Vec<&str> = overdue["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id], "a failed request stays overdue until resolved");
}

/// Notes, for each message sent to the rights queue, the status its request had at that
/// moment: what a worker reading it at once would find.
#[derive(Debug)]
struct StatusAtSend {
    platform: std::sync::Mutex<Option<shared::Platform>>,
    inner: std::sync::Arc<dyn shared::queue::Queue>,
    seen: std::sync::Mutex<Vec<String>>,
    fail: bool,
}

#[async_trait::async_trait]
impl shared::queue::Queue for StatusAtSend {
    async fn send_batch(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), shared::queue::QueueError> {
        let platform = self.platform.lock().unwrap().clone().unwrap();
        for body in &bodies {
            let message: Value = serde_json::from_str(body).unwrap();
            if let Some(id) = message["request_id"].as_str() {
                let request = shared::rights::load(&platform, id).await.unwrap().unwrap();
                self.seen.lock().unwrap().push(format!("{:?}", request.status));
            }
        }
        if self.fail {
            return Err(shared::queue::QueueError::Invalid("injected outage".into()));
        }
        self.inner.send_batch(queue, bodies).await
    }
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: std::time::Duration,
    ) -> Result<Vec<shared::queue::ReceivedMessage>, shared::queue::QueueError> {
        self.inner.receive(queue, max, visibility).await
    }
    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), shared::queue::QueueError> {
        self.inner.delete(queue, receipt).await
    }
    async fn receive_dead_letters(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<shared::queue::ReceivedMessage>, shared::queue::QueueError> {
        self.inner.receive_dead_letters(queue, max).await
    }
}

/// L4: a worker that reads the message at once finds the request queued, not still awaiting
/// approval; and an approval whose message cannot be sent leaves the request awaiting.
async fn an_approval_is_saved_before_its_message_is_sent(b: Backend) {
    let Org { admin, member } = org(&b).await;
    let actor = shared::rights::decisions::Actor {
        user_id: admin.user_id.clone(),
        organisation_id: admin.organisation_id.clone(),
        role: shared::domain::Role::Admin,
        operator: false,
    };
    // Two types: the first request stays open, and one request per type may be open.
    for (fail, kind) in [(true, "access"), (false, "portability")] {
        let (status, filed) = file(&b, &member, json!({ "type": kind })).await;
        assert_eq!(status, 201, "{filed}");
        let id = filed["id"].as_str().unwrap().to_owned();
        let queue = std::sync::Arc::new(StatusAtSend {
            platform: Default::default(),
            inner: b.platform.queue.clone(),
            seen: Default::default(),
            fail,
        });
        let mut platform = b.platform.clone();
        platform.queue = queue.clone();
        *queue.platform.lock().unwrap() = Some(platform.clone());

        let approved = shared::rights::decisions::approve(&platform, &actor, &id).await;

        assert_eq!(approved.is_ok(), !fail, "{approved:?}");
        assert_eq!(*queue.seen.lock().unwrap(), ["Queued"]);
        let expected = if fail { "awaiting_organisation_approval" } else { "queued" };
        assert_eq!(request(&b, &member, &id).await["status"], expected);
        if !fail {
            b.process_rights().await;
            assert_eq!(request(&b, &member, &id).await["status"], "completed");
        }
    }
}
