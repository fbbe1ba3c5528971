//! The hello@ channel on both engines: e-mail in through SendGrid's Inbound Parse webhook,
//! a case on the desk, an answer to the sender, and nothing done until the account's own
//! mailbox confirms by the single-use link.

use std::sync::Arc;

use http_body_util::BodyExt;
use infentre_tests::backend::{Backend, Session};
use infentre_tests::{Auth, outbox_files, token_mailed_to};
use serde_json::{Value, json};
use shared::consent::{self, PurposeId};
use tower::ServiceExt;

const PASSWORD: &str = "my rights are mine";
const BOUNDARY: &str = "xYzZY-inbound";
const INBOUND: &str = "/v1/webhooks/sendgrid-inbound";

/// An e-mail as it reaches hello@.
fn mime(from: &str, subject: &str, text: &str, message_id: &str) -> String {
    format!(
        "From: {from}\r\nTo: hello@infentre.com\r\nSubject: {subject}\r\nMessage-ID: <{message_id}@mail.example>\r\n\
         Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
}

/// SendGrid's form with "send raw" on: the message in `email`, beside the fields it always sends.
fn form(raw: &str) -> Vec<u8> {
    let field = |name: &str, value: &str| {
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    };
    let mut body = field("envelope", r#"{"to":["hello@infentre.com"],"from":"x@example.com"}"#);
    body.push_str(&field("spam_score", "0.1"));
    body.push_str(&field("email", raw));
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body.into_bytes()
}

async fn post_raw(app: &axum::Router, content_type: &str, body: Vec<u8>, headers: &[(&str, String)]) -> (u16, Value) {
    let mut request = http::Request::builder().method("POST").uri(INBOUND).header("content-type", content_type);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = app.clone().oneshot(request.body(axum::body::Body::from(body)).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Posts an e-mail as SendGrid would; returns the status and the answer.
async fn email(b: &Backend, from: &str, subject: &str, text: &str, message_id: &str) -> (u16, Value) {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    post_raw(&b.app, &content_type, form(&mime(from, subject, text, message_id)), &[]).await
}

async fn team(b: &Backend) -> (Session, Session) {
    let admin = b.admin("ada@example.com", PASSWORD, "Analytical Engines").await;
    let member = b.member(&admin, "mia@example.com", PASSWORD, "member").await;
    (admin, member)
}

fn mails_to(b: &Backend, to: &str) -> Vec<String> {
    outbox_files(&b.outbox).into_iter().filter(|mail| mail.contains(&format!("To: {to}"))).collect()
}

async fn granted(b: &Backend, user_id: &str, purpose: PurposeId) -> bool {
    consent::is_granted(&b.platform, user_id, purpose).await.unwrap()
}

async fn withdrawal_by_email_takes_effect_by_its_link_only(b: Backend) {
    let (_admin, mia) = team(&b).await;
    for purpose in ["product_updates", "marketing_sharing"] {
        let (status, _) = b.put(&format!("/v1/me/consents/{purpose}"), mia.bearer(), json!({"granted": true})).await;
        assert_eq!(status, 200);
    }
    let (_, history) = b.get("/v1/me/consents/history", mia.bearer()).await;
    let receipts_before = history["items"].as_array().unwrap().len();

    let (status, taken) =
        email(&b, "Mia <mia@example.com>", "Unsubscribe", "Please stop sending me marketing e-mails.", "w1").await;
    assert_eq!(status, 200, "{taken}");
    assert_eq!(taken["duplicate"], false);
    b.deliver_mail().await;
    // The e-mail alone changes nothing.
    assert!(granted(&b, &mia.user_id, PurposeId::ProductUpdates).await);
    assert!(granted(&b, &mia.user_id, PurposeId::MarketingSharing).await);

    let token = token_mailed_to(&b.outbox, "mia@example.com").expect("a confirmation link to the account's address");
    let (status, preview) = b.get(&format!("/v1/case-confirmations?token={token}"), Auth::None).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (preview["kind"].as_str(), preview["case_id"].as_str()),
        (Some("withdraw_consent"), taken["case_id"].as_str())
    );
    assert!(granted(&b, &mia.user_id, PurposeId::ProductUpdates).await, "looking at the link changes nothing");

    let (status, done) = b.post("/v1/case-confirmations", Auth::None, json!({"token": token})).await;
    assert_eq!(status, 200, "{done}");
    assert!(!granted(&b, &mia.user_id, PurposeId::ProductUpdates).await);
    assert!(!granted(&b, &mia.user_id, PurposeId::MarketingSharing).await);
    let (_, history) = b.get("/v1/me/consents/history", mia.bearer()).await;
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), receipts_before + 2, "one receipt per purpose withdrawn: {history}");
    assert!(items.iter().take(2).all(|entry| entry["method"] == "email" && entry["granted"] == false), "{history}");

    // The link works once; a replay, or the same e-mail delivered again, does nothing more.
    let (status, replay) = b.post("/v1/case-confirmations", Auth::None, json!({"token": token})).await;
    assert_eq!((status, replay["code"].as_str()), (400, Some("invalid_token")), "{replay}");
    let (status, again) =
        email(&b, "Mia <mia@example.com>", "Unsubscribe", "Please stop sending me marketing e-mails.", "w1").await;
    assert_eq!((status, &again["duplicate"], &again["case_id"]), (200, &json!(true), &taken["case_id"]));
    b.deliver_mail().await;
    assert_eq!(
        mails_to(&b, "mia@example.com")
            .iter()
            .filter(|m| m.contains("case-confirmations") || m.contains("confirm-request"))
            .count(),
        1
    );
    let (_, history) = b.get("/v1/me/consents/history", mia.bearer()).await;
    assert_eq!(history["items"].as_array().unwrap().len(), receipts_before + 2);
}

async fn emailed_access_request_reaches_the_admin_due_a_month_after_arrival(b: Backend) {
    let (admin, mia) = team(&b).await;
    let arrived = b.platform.clock.epoch_seconds();
    let (status, taken) =
        email(&b, "mia@example.com", "Subject access request", "Please send me a copy of my data.", "a1").await;
    assert_eq!(status, 200, "{taken}");
    b.deliver_mail().await;
    let (_, requests) = b.get("/v1/rights-requests?scope=organisation", admin.bearer()).await;
    assert!(requests["items"].as_array().unwrap().is_empty(), "nothing filed before the link: {requests}");

    // Confirmed the next day (the link lasts 24 hours): the clock still runs from the
    // e-mail's arrival.
    b.clock.advance(chrono::Duration::hours(23));
    let token = token_mailed_to(&b.outbox, "mia@example.com").expect("confirmation link");
    let (status, done) = b.post("/v1/case-confirmations", Auth::None, json!({"token": token})).await;
    assert_eq!(status, 200, "{done}");
    let request_id = done["rights_request_id"].as_str().expect("a rights request").to_owned();
    // Sessions end after two idle hours.
    let admin = b.login("ada@example.com", PASSWORD).await;
    let (_, requests) = b.get("/v1/rights-requests?scope=organisation", admin.bearer()).await;
    let request =
        requests["items"].as_array().unwrap().iter().find(|r| r["id"] == request_id.as_str()).cloned().unwrap();
    assert_eq!(
        (request["type"].as_str(), request["status"].as_str()),
        (Some("access"), Some("awaiting_organisation_approval"))
    );
    assert_eq!(request["user_id"].as_str(), Some(mia.user_id.as_str()));
    let due = shared::clock::rfc3339_from_epoch(shared::rights::deadline(arrived));
    assert_eq!(request["due_at"].as_str(), Some(due.as_str()), "{request}");
    assert_eq!(request["created_at"].as_str(), Some(shared::clock::rfc3339_from_epoch(arrived).as_str()));
    b.deliver_mail().await;
    assert!(
        mails_to(&b, "ada@example.com").iter().any(|mail| mail.contains(&request_id)),
        "the admin is told there is a request to decide"
    );
    // The case on the desk points at the request.
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let (status, case) =
        b.get(&format!("/v1/operator/cases/{}", taken["case_id"].as_str().unwrap()), operator.bearer()).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(
        (case["status"].as_str(), case["rights_request_id"].as_str()),
        (Some("confirmed"), Some(request_id.as_str()))
    );
    let actions: Vec<&str> = case["history"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["received", "linked", "link_mailed", "confirmed"]);
}

async fn forged_or_unknown_senders_change_nothing(b: Backend) {
    let (_admin, mia) = team(&b).await;
    b.put("/v1/me/consents/product_updates", mia.bearer(), json!({"granted": true})).await;
    // A stranger, and a forger using Mia's address with their own Reply-To.
    let (status, stranger) = email(&b, "eve@elsewhere.example", "Unsubscribe", "stop sending", "u1").await;
    assert_eq!(status, 200, "{stranger}");
    let forged = "From: mia@example.com\r\nReply-To: mallory@evil.example\r\nSubject: Delete my account\r\n\
                  Message-ID: <f1@evil.example>\r\n\r\nPlease delete my data.\r\n";
    let (status, _) = post_raw(&b.app, &format!("multipart/form-data; boundary={BOUNDARY}"), form(forged), &[]).await;
    assert_eq!(status, 200);
    b.deliver_mail().await;

    let to_stranger = mails_to(&b, "eve@elsewhere.example");
    assert_eq!(to_stranger.len(), 1, "the stranger is told how to proceed");
    assert!(to_stranger[0].contains("/sign-up") && !to_stranger[0].contains("token="), "{}", to_stranger[0]);
    assert!(mails_to(&b, "mallory@evil.example").is_empty(), "nothing goes to the forger");
    // A guessed or made-up token does nothing.
    for token in ["x".repeat(43), "not-a-token".to_owned()] {
        let (status, _) = b.post("/v1/case-confirmations", Auth::None, json!({"token": token})).await;
        assert_eq!(status, 400);
    }
    assert!(granted(&b, &mia.user_id, PurposeId::ProductUpdates).await);
    let (_, requests) = b.get("/v1/rights-requests", mia.bearer()).await;
    assert!(requests["items"].as_array().unwrap().is_empty(), "{requests}");
    let (status, _) = b.get("/v1/me", mia.bearer()).await;
    assert_eq!(status, 200, "the account is untouched");

    // Forged mail cannot make us flood a mailbox: at most 5 answers an hour to one address.
    for n in 0..7 {
        let (status, _) = email(&b, "victim@elsewhere.example", "Hello", "hi", &format!("flood{n}")).await;
        assert_eq!(status, 200);
    }
    b.deliver_mail().await;
    assert_eq!(mails_to(&b, "victim@elsewhere.example").len(), 5);
    assert_eq!(b.count_of("CASE#").await, 9, "each message is still a case");
}

async fn oversized_or_malformed_inbound_is_refused_and_nothing_stored(b: Backend) {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let cases = [
        ("application/json".to_owned(), b"{}".to_vec(), 415),
        (content_type.clone(), b"--xYzZY-inbound\r\nnot a form".to_vec(), 400),
        (content_type.clone(), form("Subject: no sender\r\n\r\nhello\r\n"), 400),
        (content_type.clone(), form("From: not an address\r\nSubject: x\r\n\r\nhello\r\n"), 400),
        (content_type.clone(), form(&mime("big@example.com", "big", &"a".repeat(5 * 1024 * 1024 + 1), "big")), 413),
    ];
    for (content_type, body, expected) in cases {
        let (status, answer) = post_raw(&b.app, &content_type, body, &[]).await;
        assert_eq!(status, expected, "{answer}");
    }
    assert_eq!(b.count_of("CASE#").await, 0);
    assert_eq!(b.count_of("INBOUND#").await, 0);
    let everything = b.everything().await;
    assert!(everything.iter().all(|text| !text.contains("big@example.com")), "nothing of the refused mail is kept");
}

async fn signed_inbound_mail_is_checked_when_a_key_is_configured(b: Backend) {
    let mut settings = (*b.platform.settings).clone();
    settings.sendgrid_inbound_key = Some(*infentre_tests::sendgrid_signing_key().verifying_key());
    let mut platform = b.platform.clone();
    platform.settings = Arc::new(settings);
    let app = shared::http::app(tracking::routes().with_state(platform));
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let body = form(&mime("eve@elsewhere.example", "Hello", "hi", "s1"));
    let (status, _) = post_raw(&app, &content_type, body.clone(), &[]).await;
    assert_eq!(status, 401, "unsigned");
    let now = b.platform.clock.epoch_seconds().to_string();
    let signature = infentre_tests::sendgrid_signature(&now, &body);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b"x");
    let signed = |signature: &str| {
        vec![
            ("x-twilio-email-event-webhook-signature", signature.to_owned()),
            ("x-twilio-email-event-webhook-timestamp", now.clone()),
        ]
    };
    let (status, _) = post_raw(&app, &content_type, tampered, &signed(&signature)).await;
    assert_eq!(status, 401, "tampered");
    assert_eq!(b.count_of("CASE#").await, 0);
    let (status, taken) = post_raw(&app, &content_type, body, &signed(&signature)).await;
    assert_eq!(status, 200, "{taken}");
    assert_eq!(b.count_of("CASE#").await, 1);
}

async fn operators_work_cases_with_history_and_closed_ones_are_purged(b: Backend) {
    let (admin, mia) = team(&b).await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let (_, taken) = email(&b, "someone@elsewhere.example", "Question", "Where is my invoice?", "d1").await;
    let id = taken["case_id"].as_str().unwrap().to_owned();
    let case_path = format!("/v1/operator/cases/{id}");

    for who in [&admin, &mia] {
        assert_eq!(b.get("/v1/operator/cases", who.bearer()).await.0, 403);
        assert_eq!(b.post(&format!("{case_path}/close"), who.bearer(), json!({"outcome": "x"})).await.0, 403);
    }
    let (status, open) = b.get("/v1/operator/cases?status=open&kind=other", operator.bearer()).await;
    assert_eq!(status, 200);
    assert!(open["items"].as_array().unwrap().iter().any(|c| c["id"] == id.as_str()), "{open}");
    let (_, complaints) = b.get("/v1/operator/cases?status=open&kind=complaint", operator.bearer()).await;
    assert!(complaints["items"].as_array().unwrap().is_empty());

    let (status, case) =
        b.post(&format!("{case_path}/classify"), operator.bearer(), json!({"kind": "complaint"})).await;
    assert_eq!(
        (status, case["kind"].as_str(), case["suggested_kind"].as_str()),
        (200, Some("complaint"), Some("other"))
    );
    let (status, case) = b.post(&format!("{case_path}/link"), operator.bearer(), json!({"user_id": mia.user_id})).await;
    assert_eq!((status, case["user_id"].as_str()), (200, Some(mia.user_id.as_str())));
    let (status, _) = b
        .post(
            &format!("{case_path}/reply"),
            operator.bearer(),
            json!({"message": "Your invoice is attached to your account."}),
        )
        .await;
    assert_eq!(status, 200);
    b.deliver_mail().await;
    let replies = mails_to(&b, "someone@elsewhere.example");
    assert!(replies.iter().any(|m| m.contains("Your invoice is attached") && m.contains(&id)), "{replies:#?}");
    assert_eq!(b.post(&format!("{case_path}/close"), operator.bearer(), json!({"outcome": ""})).await.0, 422);
    let (status, closed) =
        b.post(&format!("{case_path}/close"), operator.bearer(), json!({"outcome": "Answered"})).await;
    assert_eq!((status, closed["status"].as_str()), (200, Some("closed")));
    let actions: Vec<&str> =
        closed["history"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["received", "classified", "linked", "replied", "closed"]);
    let operator_ref = format!("operator:{}", operator.user_id);
    assert!(closed["history"].as_array().unwrap().iter().skip(1).all(|e| e["by"] == operator_ref.as_str()));
    assert_eq!(b.post(&format!("{case_path}/reply"), operator.bearer(), json!({"message": "again"})).await.0, 409);
    assert_eq!(b.get("/v1/operator/cases/01ARZ3NDEKTSV4RRFFQ69G5FAV", operator.bearer()).await.0, 404);
    assert_eq!(b.get("/v1/operator/cases/not-an-id", operator.bearer()).await.0, 404);
    let (_, listed) = b.get("/v1/operator/cases?status=closed", operator.bearer()).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // Kept the retention period after closure (365 days by default), then gone.
    b.clock.advance(chrono::Duration::days(364));
    let operator = b.login("dpo@infentre.com", PASSWORD).await;
    assert_eq!(b.get(&case_path, operator.bearer()).await.0, 200);
    b.clock.advance(chrono::Duration::days(2));
    let operator = b.login("dpo@infentre.com", PASSWORD).await;
    assert_eq!(b.get(&case_path, operator.bearer()).await.0, 404);
}

async fn cases_are_erased_with_the_person(b: Backend) {
    let (_admin, mia) = team(&b).await;
    // A case from her address, one linked by an operator from another, one closed.
    let (_, own) = email(&b, "Mia <mia@example.com>", "Hello", "A question about mia@example.com", "e1").await;
    let (_, other) = email(&b, "mia.private@elsewhere.example", "Complaint", "I complain", "e2").await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let other_path = format!("/v1/operator/cases/{}", other["case_id"].as_str().unwrap());
    assert_eq!(b.post(&format!("{other_path}/link"), operator.bearer(), json!({"user_id": mia.user_id})).await.0, 200);
    let own_path = format!("/v1/operator/cases/{}", own["case_id"].as_str().unwrap());
    assert_eq!(b.post(&format!("{own_path}/close"), operator.bearer(), json!({"outcome": "Answered"})).await.0, 200);
    b.deliver_mail().await;
    assert!(b.count_of("mia@example.com").await > 0);

    b.cancel("/v1/me", &mia, PASSWORD).await;
    b.deliver_mail().await;
    assert_eq!(b.get(&own_path, operator.bearer()).await.0, 404);
    assert_eq!(b.get(&other_path, operator.bearer()).await.0, 404);
    let hash = shared::hash::sha256_hex(b"mia@example.com");
    let traces =
        b.traces_of(&[mia.user_id.as_str(), "mia@example.com", "mia.private@elsewhere.example", hash.as_str()]).await;
    assert!(traces.is_empty(), "traces of the erased person: {traces:#?}");
}

/// Locally, `.eml` files dropped into the inbox folder go through the same intake.
#[tokio::test]
async fn the_local_inbox_folder_takes_eml_files_in() {
    let b = infentre_tests::backend::sqlite().await;
    team(&b).await;
    let inbox = tempfile::tempdir().unwrap();
    std::fs::write(
        inbox.path().join("1.eml"),
        mime("mia@example.com", "Registerutdrag", "Vilka uppgifter har ni?", "l1"),
    )
    .unwrap();
    std::fs::write(inbox.path().join("2.eml"), "Subject: no sender\r\n\r\nx").unwrap();
    std::fs::write(inbox.path().join("notes.txt"), "not mail").unwrap();
    assert_eq!(infentre::inbox::scan(&b.platform, inbox.path()).await, 1);
    assert!(!inbox.path().join("1.eml").exists(), "taken in, then removed");
    assert!(inbox.path().join("rejected/2.eml").exists(), "a malformed file is moved aside");
    assert!(inbox.path().join("notes.txt").exists());
    assert_eq!(b.count_of("CASE#").await, 1);
    b.deliver_mail().await;
    let mail = mails_to(&b, "mia@example.com").pop().expect("the answer");
    assert!(mail.contains("token="), "{mail}");
    // `infentre inbox import FILE`: the same intake; the same message twice is one case.
    let file = inbox.path().join("again.eml");
    std::fs::write(&file, mime("mia@example.com", "Registerutdrag", "Vilka uppgifter har ni?", "l1")).unwrap();
    let taken = infentre::inbox::import_file(&b.platform, &file).await.unwrap();
    assert!(taken.duplicate);
    assert_eq!(b.count_of("CASE#").await, 1);
}

infentre_tests::on_both_engines!(
    withdrawal_by_email_takes_effect_by_its_link_only,
    emailed_access_request_reaches_the_admin_due_a_month_after_arrival,
    forged_or_unknown_senders_change_nothing,
    oversized_or_malformed_inbound_is_refused_and_nothing_stored,
    signed_inbound_mail_is_checked_when_a_key_is_configured,
    operators_work_cases_with_history_and_closed_ones_are_purged,
    cases_are_erased_with_the_person,
    a_message_from_someone_fenced_meanwhile_is_filed_as_from_a_stranger,
    a_case_moved_to_another_account_forgets_the_first,
    an_erased_operator_leaves_a_placeholder_in_what_they_worked,
);

/// The cases an operator worked and the letters they recorded keep what was done, not by
/// whom: their id becomes a placeholder when they are erased.
async fn an_erased_operator_leaves_a_placeholder_in_what_they_worked(b: Backend) {
    let (_admin, mia) = team(&b).await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let (_, taken) = email(&b, "someone@elsewhere.example", "Question", "Where is my invoice?", "o1").await;
    let case_path = format!("/v1/operator/cases/{}", taken["case_id"].as_str().unwrap());
    let acts = [
        ("classify", json!({"kind": "complaint"})),
        ("link", json!({"user_id": mia.user_id})),
        ("reply", json!({"message": "Your invoice is attached to your account."})),
        ("close", json!({"outcome": "Answered"})),
    ];
    for (act, body) in acts {
        let (status, answer) = b.post(&format!("{case_path}/{act}"), operator.bearer(), body).await;
        assert_eq!(status, 200, "{act}: {answer}");
    }
    let letter = json!({"channel": "letter", "received_on": "2026-11-20", "type": "access",
        "email": "mia@example.com", "identity_verified": true});
    let (status, recorded) = b.post("/v1/operator/rights-requests", operator.bearer(), letter).await;
    assert_eq!(status, 201, "{recorded}");
    let request_path = format!("/v1/rights-requests/{}", recorded["id"].as_str().unwrap());
    assert_eq!(recorded["history"][0]["by"], format!("operator:{}", operator.user_id));

    b.cancel("/v1/me", &operator, PASSWORD).await;

    let mut traces = b.traces_of(&[operator.user_id.as_str()]).await;
    traces.retain(|trace| !trace.contains("erasure_job"));
    assert!(traces.is_empty(), "the operator's id is left in: {traces:#?}");
    let (_, request) = b.get(&request_path, mia.bearer()).await;
    assert_eq!(request["history"][0]["by"], shared::accounts::placeholders::ERASED_OPERATOR, "{request}");
}

/// An operator links a case to the wrong account, then to the right one: the first account's
/// erasure no longer finds the case, so the case must not name it. And no case is linked to an
/// account whose erasure has begun.
async fn a_case_moved_to_another_account_forgets_the_first(b: Backend) {
    let (admin, mia) = team(&b).await;
    let operator = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    let (_, taken) = email(&b, "someone@elsewhere.example", "Question", "Where is my invoice?", "m1").await;
    let case_path = format!("/v1/operator/cases/{}", taken["case_id"].as_str().unwrap());
    for who in [&mia, &admin] {
        let (status, case) =
            b.post(&format!("{case_path}/link"), operator.bearer(), json!({"user_id": who.user_id})).await;
        assert_eq!((status, case["user_id"].as_str()), (200, Some(who.user_id.as_str())), "{case}");
    }
    let (_, case) = b.get(&case_path, operator.bearer()).await;
    assert!(!case.to_string().contains(&mia.user_id), "{case}");
    let notes: Vec<&str> = case["history"].as_array().unwrap().iter().filter_map(|e| e["note"].as_str()).collect();
    assert_eq!(notes, ["other", shared::cases::desk::ANOTHER_ACCOUNT, admin.user_id.as_str()]);

    let (status, _) = b.delete("/v1/me", mia.bearer(), json!({"password": PASSWORD})).await;
    assert_eq!(status, 202);
    let (status, refused) =
        b.post(&format!("{case_path}/link"), operator.bearer(), json!({"user_id": mia.user_id})).await;
    assert_eq!(status, 422, "{refused}");
    b.process_rights().await;
    assert!(b.traces_of(&[mia.user_id.as_str()]).await.is_empty());
}

/// Puts the erasure fence of `user_id` up just before the first transaction: as if the
/// person's cancellation landed between the intake's look at the account and its write.
#[derive(Debug)]
struct FenceBeforeFirstWrite {
    user_id: String,
    done: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl infentre_tests::intercepted::OnTransact for FenceBeforeFirstWrite {
    async fn transact(
        &self,
        inner: &dyn shared::store::Store,
        ops: Vec<shared::store::TransactOp>,
    ) -> Result<(), shared::store::StoreError> {
        if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let fence = shared::erasure::fence::Fence {
                job_id: "job".into(),
                state: shared::erasure::fence::FenceState::Erasing,
                since: 0,
            };
            inner.put(fence.item(&self.user_id)?, None).await?;
        }
        inner.transact(ops).await
    }
}

/// Nothing is filed under a person whose erasure has begun, even if it began while the
/// message was being taken in: the case is a stranger's, answered at the address it came from.
async fn a_message_from_someone_fenced_meanwhile_is_filed_as_from_a_stranger(b: Backend) {
    let (_admin, mia) = team(&b).await;
    let hook = FenceBeforeFirstWrite { user_id: mia.user_id.clone(), done: Default::default() };
    let mut platform = b.platform.clone();
    platform.store = Arc::new(infentre_tests::intercepted::Intercepted { inner: b.platform.store.clone(), hook });
    let raw = mime("Mia <mia@example.com>", "Access", "Please send me my data.", "f1").into_bytes();
    let message =
        shared::cases::intake::InboundMessage { raw, received_at: shared::clock::Clock::epoch_seconds(&b.clock) };

    let taken = shared::cases::intake::intake(&platform, message).await.unwrap();
    assert!(!taken.duplicate);
    let case = shared::cases::load(&b.platform, &taken.case_id).await.unwrap().expect("the case");
    assert_eq!((case.user_id, case.organisation_id), (None, None), "not linked to her");
    assert!(!b.table_text().await.iter().any(|t| t.contains("case_link")), "no confirmation link");
}
