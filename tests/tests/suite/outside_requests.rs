//! Requests that arrive outside the product, on both engines: a letter or a phone call an
//! operator records enters the rights workflow with its deadline counted from the day it was
//! received, and reaches the overdue list exactly when that deadline passes. Anyone, signed
//! in or not, may complain.

use chrono::{Datelike, Months, TimeZone, Utc};
use infentre_tests::backend::Backend;
use infentre_tests::{Auth, on_both_engines};
use serde_json::{Value, json};
use shared::clock::Clock;

on_both_engines!(
    a_letter_recorded_by_an_operator_is_overdue_on_time_and_not_before,
    recording_is_checked,
    a_complaint_from_anyone_is_stored_answered_and_rate_limited,
    complaints_filed_without_signing_in_are_erased_with_the_account_of_their_address,
);

const PASSWORD: &str = "letters take their time";

fn overdue_ids(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

async fn a_letter_recorded_by_an_operator_is_overdue_on_time_and_not_before(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let dpo = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    // The letter arrived 10 days ago; it is recorded today.
    let received = Utc.timestamp_opt(b.clock.epoch_seconds() - 10 * 86_400, 0).unwrap().date_naive();
    let letter = json!({
        "channel": "letter", "received_on": received.to_string(), "type": "access",
        "email": "Grace@Example.com", "details": "Asks for a copy of her data.", "identity_verified": true,
    });

    let (status, request) = b.post("/v1/operator/rights-requests", dpo.bearer(), letter).await;

    assert_eq!(status, 201, "{request}");
    let id = request["id"].as_str().unwrap().to_owned();
    assert_eq!(request["user_id"], grace.user_id.as_str());
    assert_eq!(request["status"], "awaiting_organisation_approval", "a member's request waits for an admin");
    let received_at = received.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let due = received_at.checked_add_months(Months::new(1)).unwrap();
    assert_eq!(request["created_at"], shared::clock::rfc3339(received_at));
    assert_eq!(request["due_at"], shared::clock::rfc3339(due), "one calendar month from receipt");
    assert_eq!(due.day(), received.day());
    let note = request["history"][0]["note"].as_str().unwrap();
    assert!(note.contains("letter") && note.contains(&received.to_string()), "{note}");
    // The organisation's admin sees it to decide, and the requester is told.
    let (status, seen) = b.get(&format!("/v1/rights-requests/{id}"), ada.bearer()).await;
    assert_eq!((status, &seen["id"]), (200, &json!(id)));
    b.deliver_mail().await;
    let mails = infentre_tests::outbox_files(&b.outbox);
    assert!(mails.iter().any(|m| m.contains("To: grace@example.com") && m.contains(&id)));
    assert!(mails.iter().any(|m| m.contains("To: ada@example.com") && m.contains(&id)));

    // An admin's phone call is queued at once, with the same clock.
    let call = json!({"channel": "phone", "received_on": received.to_string(), "type": "portability",
        "user_id": ada.user_id, "identity_verified": true});
    let (status, phoned) = b.post("/v1/operator/rights-requests", dpo.bearer(), call).await;
    assert_eq!((status, &phoned["status"]), (201, &json!("queued")), "{phoned}");

    let (_, overdue) = b.get("/v1/operator/rights-requests?overdue=true", dpo.bearer()).await;
    assert!(!overdue_ids(&overdue).contains(&id));
    // A minute before the deadline: not yet.
    let now = b.clock.epoch_seconds();
    b.clock.advance(chrono::Duration::seconds(due.timestamp() - now - 60));
    let dpo = b.login("dpo@infentre.com", PASSWORD).await;
    let (_, overdue) = b.get("/v1/operator/rights-requests?overdue=true", dpo.bearer()).await;
    assert!(!overdue_ids(&overdue).contains(&id), "not before its deadline");
    // Past it: on the list.
    b.clock.advance(chrono::Duration::seconds(61));
    let (_, overdue) = b.get("/v1/operator/rights-requests?overdue=true", dpo.bearer()).await;
    assert!(overdue_ids(&overdue).contains(&id), "overdue once the deadline passed: {overdue}");
}

async fn recording_is_checked(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Analytical Engines").await;
    let dpo = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let today = Utc.timestamp_opt(b.clock.epoch_seconds(), 0).unwrap().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let base = json!({"channel": "letter", "received_on": today.to_string(), "type": "access",
        "email": "ada@example.com", "identity_verified": true});
    let with = |changes: Value| {
        let mut body = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    for (body, code) in [
        (with(json!({"identity_verified": false})), "identity_not_verified"),
        (with(json!({"received_on": tomorrow.to_string()})), "invalid_received_on"),
        (with(json!({"received_on": "2020-02-30"})), "invalid_received_on"),
        (with(json!({"email": "nobody@example.com"})), "unknown_person"),
        (with(json!({"user_id": ada.user_id})), "person_required"),
        (with(json!({"email": null})), "person_required"),
        (with(json!({"type": "correction"})), "changes_required"),
    ] {
        let (status, problem) = b.post("/v1/operator/rights-requests", dpo.bearer(), body.clone()).await;
        assert_eq!((status, problem["code"].as_str()), (422, Some(code)), "{body}: {problem}");
    }
    let (status, _) = b.post("/v1/operator/rights-requests", ada.bearer(), base.clone()).await;
    assert_eq!(status, 403, "operators only");
    assert_eq!(b.post("/v1/operator/rights-requests", Auth::None, base.clone()).await.0, 401);
    assert_eq!(b.post("/v1/operator/rights-requests", dpo.bearer(), base.clone()).await.0, 201);
    let (status, problem) = b.post("/v1/operator/rights-requests", dpo.bearer(), base).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("duplicate_request")), "one open request per type");
}

/// `POST /v1/public-complaints` from a client address (as the local server or API Gateway
/// would set it).
async fn complain(b: &Backend, from: &str, body: Value) -> (u16, Option<String>, Value) {
    use http_body_util::BodyExt;
    let mut request = http::Request::post("/v1/public-complaints")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    request.extensions_mut().insert(shared::http::ClientAddress(from.parse().unwrap()));
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, retry_after, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn a_complaint_from_anyone_is_stored_answered_and_rate_limited(b: Backend) {
    let dpo = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    b.deliver_mail().await;
    let text = "You keep e-mailing me although I never signed up.";

    let (status, _, receipt) =
        complain(&b, "198.51.100.7", json!({"name": "Ann Other", "email": "ann@example.org", "message": text})).await;

    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["status"], "received");
    assert_eq!(receipt["dpo"]["email"], b.platform.settings.dpo.email.as_str());
    assert!(receipt["supervisory_authority"]["name"].as_str().unwrap().contains("Integritetsskyddsmyndigheten"));
    let (_, listed) = b.get("/v1/operator/complaints", dpo.bearer()).await;
    let entry = listed["items"].as_array().unwrap().iter().find(|c| c["id"] == receipt["id"]).cloned().unwrap();
    assert_eq!((entry["contact"].as_str(), entry["name"].as_str()), (Some("ann@example.org"), Some("Ann Other")));
    assert_eq!(entry["message"], text);
    assert!(entry.get("user_id").is_none());
    b.deliver_mail().await;
    let to_dpo: Vec<_> = infentre_tests::outbox_files(&b.outbox)
        .into_iter()
        .filter(|m| {
            m.contains(&format!("To: {}", b.platform.settings.dpo.email)) && m.contains(receipt["id"].as_str().unwrap())
        })
        .collect();
    assert_eq!(to_dpo.len(), 1, "the DPO is told");

    // Bad input: refused, nothing stored.
    for (body, code) in [
        (json!({"email": "ann@example.org", "message": "  "}), "invalid_message"),
        (json!({"email": "ann@example.org", "message": "x".repeat(10_001)}), "invalid_message"),
        (json!({"email": "not an address", "message": "x"}), "invalid_email"),
        (json!({"name": "a\nb", "email": "ann@example.org", "message": "x"}), "invalid_name"),
    ] {
        let (status, _, problem) = complain(&b, "198.51.100.8", body).await;
        assert_eq!((status, problem["code"].as_str()), (422, Some(code)), "{problem}");
    }

    // Per address: 3 a day, from any client.
    for n in 0..2 {
        let (status, _, _) =
            complain(&b, &format!("198.51.100.{}", 20 + n), json!({"email": "ann@example.org", "message": "again"}))
                .await;
        assert_eq!(status, 201);
    }
    let (status, retry_after, _) =
        complain(&b, "198.51.100.30", json!({"email": "ANN@example.org", "message": "again"})).await;
    assert_eq!(status, 429, "the fourth to one address in a day");
    assert!(retry_after.and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s > 0 && s <= 86_400));
    // Per client: 10 a day, whatever the address.
    for n in 0..10 {
        let (status, _, _) =
            complain(&b, "203.0.113.5", json!({"email": format!("p{n}@example.net"), "message": "hi"})).await;
        assert_eq!(status, 201, "complaint {n}");
    }
    let (status, retry_after, _) =
        complain(&b, "203.0.113.5", json!({"email": "p99@example.net", "message": "hi"})).await;
    assert_eq!((status, retry_after.is_some()), (429, true), "the eleventh from one client in a day");
    let (_, listed) = b.get("/v1/operator/complaints?limit=200", dpo.bearer()).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 13, "only the accepted ones are stored");
}

/// A complaint filed without a session is the address holder's: the erasure of the account
/// with that address deletes it, its counters, the DPO's e-mail about it (waiting or our sent
/// copy), and leaves others' complaints alone.
async fn complaints_filed_without_signing_in_are_erased_with_the_account_of_their_address(b: Backend) {
    let ada = b.admin("ada@example.com", PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, "grace@example.com", PASSWORD, "member").await;
    let dpo = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let body = |name: &str, email: &str, message: &str| json!({"name": name, "email": email, "message": message});
    let (status, _, sent) =
        complain(&b, "198.51.100.7", body("Grace H.", "Grace@Example.com", "Before I signed up.")).await;
    assert_eq!(status, 201, "{sent}");
    b.deliver_mail().await; // our copy of the DPO's e-mail about it is in the outbox
    let (status, _, waiting) = complain(&b, "198.51.100.7", body("Grace H.", "grace@example.com", "And again.")).await;
    assert_eq!(status, 201, "{waiting}"); // its e-mail to the DPO still waits
    let (status, _, other) = complain(&b, "198.51.100.7", body("Ann", "ann@example.org", "Someone else's.")).await;
    assert_eq!(status, 201, "{other}");
    let hash = shared::hash::sha256_hex(b"grace@example.com");
    assert!(b.count_of(&hash).await >= 2, "her complaints are kept under her address's hash");

    b.cancel("/v1/me", &grace, PASSWORD).await;
    b.deliver_mail().await;

    let (_, listed) = b.get("/v1/operator/complaints", dpo.bearer()).await;
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, [other["id"].as_str().unwrap()], "only the other person's complaint is left");
    let mut traces = b
        .traces_of(&[grace.user_id.as_str(), "grace@example.com", "Grace@Example.com", hash.as_str(), "Grace H."])
        .await;
    // The e-mail telling her the erasure is done is sent after it (kept for the outbox's retention).
    traces.retain(|trace| !(trace.starts_with("outbox: ") && trace.contains("X-Infentre-Category: erasure_notice")));
    assert!(traces.is_empty(), "traces of the erased person: {traces:#?}");
    let to_dpo = infentre_tests::outbox_files(&b.outbox).into_iter().filter(|m| m.contains("Someone else's.")).count();
    assert_eq!(to_dpo, 1, "the DPO's e-mail about another person's complaint stays");
}
