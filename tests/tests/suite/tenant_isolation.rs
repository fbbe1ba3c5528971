//! Tenant isolation, black-box, on both engines: every operation that takes an id in its path
//! is called by another organisation's admin and member with the ids of this organisation's
//! objects. Each answer is a refusal (404, or 403 for what their role may not do at all) that
//! names nothing of the other organisation, and the objects are unchanged afterwards.

use std::collections::BTreeSet;

use infentre_tests::backend::{Backend, Session};
use infentre_tests::{call, on_both_engines, sendgrid_signature};
use serde_json::{Value, json};
use shared::clock::Clock;

const PASSWORD: &str = "tenants never meet";

/// Every operation with a path parameter, as the document lists them. A new one fails
/// [`the_isolation_test_covers_every_operation_taking_an_id`] until it is tried below.
const COVERED: [&str; 20] = [
    "GET /v1/consent-receipts/{receipt_id}",
    "GET /v1/erasure-jobs/{job_id}",
    "GET /v1/exports/{key}",
    "GET /v1/operator/broadcast-jobs/{job_id}",
    "PUT /v1/me/consents/{purpose}",
    "DELETE /v1/organisations/current/invitations/{id}",
    "PATCH /v1/organisations/current/members/{user_id}",
    "DELETE /v1/organisations/current/members/{user_id}",
    "DELETE /v1/organisations/current/recipients/{email}",
    "GET /v1/rights-requests/{id}",
    "POST /v1/rights-requests/{id}/approve",
    "POST /v1/rights-requests/{id}/deny",
    "GET /v1/rights-requests/{id}/export",
    "POST /v1/rights-requests/{id}/extend",
    "GET /v1/operator/cases/{id}",
    "POST /v1/operator/cases/{id}/classify",
    "POST /v1/operator/cases/{id}/link",
    "POST /v1/operator/cases/{id}/reply",
    "POST /v1/operator/cases/{id}/close",
    "POST /v1/rights-requests/{id}/resolve",
];

#[test]
fn the_isolation_test_covers_every_operation_taking_an_id() {
    let doc: Value = serde_json::from_str(shared::http::OPENAPI_JSON).unwrap();
    let mut with_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let in_path = op["parameters"].as_array().into_iter().flatten().any(|p| p["in"] == "path");
            if in_path {
                with_ids.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert_eq!(with_ids, COVERED.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
}

on_both_engines!(another_organisation_gets_refusals_that_name_nothing_of_ours);

struct Ours {
    admin: Session,
    member: Session,
    receipt_id: String,
    pending_request: String,
    completed_request: String,
    export_key: String,
    invitation_id: String,
    case_id: String,
}

async fn our_organisation(b: &Backend) -> Ours {
    let admin = b.admin("ada@ours.example", PASSWORD, "Ours").await;
    let member = b.member(&admin, "grace@ours.example", PASSWORD, "member").await;
    let (_, granted) = b.put("/v1/me/consents/product_updates", member.bearer(), json!({"granted": true})).await;
    let receipt_id = granted["receipt_id"].as_str().unwrap().to_owned();
    let invitation = json!({"email": "charles@ours.example", "role": "member"});
    assert_eq!(b.post("/v1/organisations/current/invitations", admin.bearer(), invitation).await.0, 201);
    let (_, invitations) = b.get("/v1/organisations/current/invitations", admin.bearer()).await;
    let invitation_id = invitations["items"][0]["id"].as_str().unwrap().to_owned();
    // A member's request waits for the admin; the admin's own access request is done at once.
    let (_, pending) = b.post("/v1/rights-requests", member.bearer(), json!({"type": "access"})).await;
    let (_, completed) = b.post("/v1/rights-requests", admin.bearer(), json!({"type": "access"})).await;
    b.process_rights().await;
    let completed_request = completed["id"].as_str().unwrap().to_owned();
    let (status, link) = b.get(&format!("/v1/rights-requests/{completed_request}/export"), admin.bearer()).await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().unwrap();
    let export_key = url.split("/v1/exports/").nth(1).unwrap_or(url).split('?').next().unwrap().to_owned();
    // An e-mail interaction of one of our recipients.
    let event = json!([{
        "email": "customer@ours.example", "timestamp": 1_795_900_000, "event": "open", "sg_event_id": "ours-1",
        "organisation_id": admin.organisation_id,
    }]);
    let body = event.to_string();
    let timestamp = b.clock.epoch_seconds().to_string();
    let signature = sendgrid_signature(&timestamp, body.as_bytes());
    let request = http::Request::post("/v1/webhooks/sendgrid")
        .header("content-type", "application/json")
        .header("x-twilio-email-event-webhook-signature", signature)
        .header("x-twilio-email-event-webhook-timestamp", &timestamp)
        .body(axum::body::Body::from(body))
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    assert_eq!(response.status(), 200);
    // Our member's e-mail to hello@: a case on the operators' desk, linked to them.
    let form = "--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n\
                From: grace@ours.example\r\nSubject: Unsubscribe\r\nMessage-ID: <ours-1@ours.example>\r\n\r\nStop.\r\n\
                \r\n--b--\r\n";
    let request = http::Request::post("/v1/webhooks/sendgrid-inbound")
        .header("content-type", "multipart/form-data; boundary=b")
        .body(axum::body::Body::from(form))
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let taken: Value = serde_json::from_slice(&bytes).unwrap();
    Ours {
        case_id: taken["case_id"].as_str().unwrap().to_owned(),
        admin,
        member,
        receipt_id,
        pending_request: pending["id"].as_str().unwrap().to_owned(),
        completed_request,
        export_key,
        invitation_id,
    }
}

async fn another_organisation_gets_refusals_that_name_nothing_of_ours(b: Backend) {
    let ours = our_organisation(&b).await;
    let their_admin = b.admin("eve@theirs.example", PASSWORD, "Theirs").await;
    let their_member = b.member(&their_admin, "mallory@theirs.example", PASSWORD, "member").await;
    let secrets = [
        ours.admin.user_id.as_str(),
        ours.member.user_id.as_str(),
        ours.admin.organisation_id.as_str(),
        ours.receipt_id.as_str(),
        ours.pending_request.as_str(),
        ours.completed_request.as_str(),
        ours.invitation_id.as_str(),
        ours.case_id.as_str(),
        "ours.example",
        "Ours",
    ];
    let before = b.table_text().await.into_iter().filter(|t| t.contains(&ours.admin.organisation_id)).count();

    for them in [&their_admin, &their_member] {
        let (pending, completed) = (&ours.pending_request, &ours.completed_request);
        let tries: Vec<(&str, String, Option<Value>, &[u16])> = vec![
            ("GET", format!("/v1/consent-receipts/{}", ours.receipt_id), None, &[404]),
            ("GET", format!("/v1/rights-requests/{pending}"), None, &[404]),
            ("GET", format!("/v1/rights-requests/{completed}"), None, &[404]),
            ("GET", format!("/v1/rights-requests/{completed}/export"), None, &[404]),
            ("GET", format!("/v1/rights-requests/{completed}/export?format=csv"), None, &[404]),
            ("POST", format!("/v1/rights-requests/{pending}/approve"), Some(json!({})), &[404]),
            ("POST", format!("/v1/rights-requests/{pending}/deny"), Some(json!({"reason": "mine now"})), &[404]),
            // Only operators extend; neither of them is one.
            ("POST", format!("/v1/rights-requests/{pending}/extend"), Some(json!({"reason": "x", "days": 5})), &[403]),
            // Broadcast jobs are operators' alone.
            ("GET", format!("/v1/operator/broadcast-jobs/{pending}"), None, &[403]),
            ("POST", format!("/v1/rights-requests/{pending}/resolve"), Some(json!({"action": "retry"})), &[403]),
            // Members and invitations: their admin finds none of ours (404), their member may
            // not manage members at all (403).
            (
                "PATCH",
                format!("/v1/organisations/current/members/{}", ours.member.user_id),
                Some(json!({"role": "admin", "current_password": PASSWORD})),
                &[403, 404],
            ),
            (
                "DELETE",
                format!("/v1/organisations/current/members/{}", ours.member.user_id),
                Some(json!({"password": PASSWORD})),
                &[403, 404],
            ),
            ("DELETE", format!("/v1/organisations/current/invitations/{}", ours.invitation_id), None, &[403, 404]),
            // An erasure job's id is its capability (32 random bytes, counts only in the
            // answer): nobody's ids lead to one.
            ("GET", format!("/v1/erasure-jobs/{}", ours.admin.organisation_id), None, &[404]),
            // A signed link is the only way to an export file; the bare key is refused.
            ("GET", format!("/v1/exports/{}", ours.export_key), None, &[403, 404]),
            ("GET", format!("/v1/exports/{}?expires=9999999999&signature=00", ours.export_key), None, &[403, 404]),
            // The desk of cases is for operators alone.
            ("GET", format!("/v1/operator/cases/{}", ours.case_id), None, &[403]),
            ("POST", format!("/v1/operator/cases/{}/classify", ours.case_id), Some(json!({"kind": "other"})), &[403]),
            (
                "POST",
                format!("/v1/operator/cases/{}/link", ours.case_id),
                Some(json!({"user_id": them.user_id})),
                &[403],
            ),
            ("POST", format!("/v1/operator/cases/{}/reply", ours.case_id), Some(json!({"message": "hi"})), &[403]),
            ("POST", format!("/v1/operator/cases/{}/close", ours.case_id), Some(json!({"outcome": "x"})), &[403]),
        ];
        for (method, path, body, expected) in tries {
            let (status, _, answer) = call(&b.app, method, &path, them.bearer(), body).await;
            assert!(expected.contains(&status), "{method} {path}: {status} {answer}");
            let text = answer.to_string();
            for secret in secrets {
                assert!(!text.contains(secret), "{method} {path} names {secret}: {text}");
            }
        }
        // By name, not by id: they act on their own organisation only.
        let (status, erased) = b
            .delete("/v1/organisations/current/recipients/customer%40ours.example", their_admin.bearer(), Value::Null)
            .await;
        assert_eq!((status, erased["erased"].as_u64()), (200, Some(0)));
        let (status, changed) =
            b.put("/v1/me/consents/product_updates", them.bearer(), json!({"granted": false})).await;
        assert_eq!(status, 200);
        assert_ne!(changed["receipt_id"], ours.receipt_id.as_str());
    }

    // Nothing of ours changed: the same items, the request still waiting, the consent given.
    let after = b.table_text().await.into_iter().filter(|t| t.contains(&ours.admin.organisation_id)).count();
    assert_eq!(after, before);
    let (_, request) = b.get(&format!("/v1/rights-requests/{}", ours.pending_request), ours.member.bearer()).await;
    assert_eq!(request["status"], "awaiting_organisation_approval");
    let (_, consents) = b.get("/v1/me/consents", ours.member.bearer()).await;
    assert_eq!(consents["purposes"]["product_updates"]["granted"], true);
    let (status, _) = b.get(&format!("/v1/consent-receipts/{}", ours.receipt_id), ours.member.bearer()).await;
    assert_eq!(status, 200, "the owner still reads the receipt");
    let interactions = b.table_text().await.into_iter().filter(|t| t.contains("email_interaction")).count();
    assert_eq!(interactions, 1, "our recipient's interaction is still ours");
}
