//! Consent with proof, on both engines: the ledger, receipts, GPC, unsubscribe links, the
//! published information, and erasure of it all with the account.

use std::sync::Arc;

use infentre_tests::backend::{Backend, Session, sqlite};
use infentre_tests::{Auth, call, on_both_engines};
use serde_json::{Value, json};
use shared::consent::{self, Method, PurposeId};

const PASSWORD: &str = "consent is a process";

async fn user(b: &Backend) -> Session {
    b.admin("ada@example.com", PASSWORD, "Analytical Engines").await
}

on_both_engines!(
    a_grant_and_a_withdrawal_are_both_proved_and_the_last_one_counts,
    replaying_the_same_choice_records_nothing_new,
    a_receipt_has_the_kantara_fields_and_only_its_owner_sees_it,
    a_gpc_visitor_is_recorded_as_refusing_marketing,
    an_unsubscribe_link_withdraws_product_updates,
    bad_consent_input_is_refused_precisely,
    a_cancelled_account_leaves_no_consent_record,
    gpc_refuses_sharing_on_every_consent_write_and_on_events,
    a_claimed_choice_keeps_its_own_time_version_and_notice,
    a_choice_under_an_older_notice_that_asks_again_is_not_claimed,
    every_receipt_the_api_issues_validates_against_the_kantara_schema,
);

async fn send_with_gpc(b: &Backend, method: &str, path: &str, who: &Session, body: Value) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", who.token))
        .header("sec-gpc", "1")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// GPC is honoured wherever consent is written, not only on the banner endpoint.
async fn gpc_refuses_sharing_on_every_consent_write_and_on_events(b: Backend) {
    let ada = user(&b).await;
    let (status, recorded) =
        send_with_gpc(&b, "PUT", "/v1/me/consents/marketing_sharing", &ada, json!({"granted": true})).await;
    assert_eq!((status, &recorded["granted"], &recorded["method"]), (200, &json!(false), &json!("gpc")));
    // Other purposes are not about sharing: GPC leaves them alone.
    let (_, analytics) =
        send_with_gpc(&b, "PUT", "/v1/me/consents/analytics_cookies", &ada, json!({"granted": true})).await;
    assert_eq!(analytics["granted"], true);

    // Granted without the signal, then a request with it: sharing stops before events go out.
    b.put("/v1/me/consents/marketing_sharing", ada.bearer(), json!({"granted": true})).await;
    assert!(consent::is_granted(&b.platform, &ada.user_id, PurposeId::MarketingSharing).await.unwrap());
    let (status, _) = send_with_gpc(&b, "POST", "/v1/events", &ada, json!({"events": [{"name": "page_view"}]})).await;
    assert_eq!(status, 202);
    assert!(!consent::is_granted(&b.platform, &ada.user_id, PurposeId::MarketingSharing).await.unwrap());
    let (_, history) = b.get("/v1/me/consents/history", ada.bearer()).await;
    let latest = &history["items"][0];
    assert_eq!(
        (&latest["purpose"], &latest["granted"], &latest["method"]),
        (&json!("marketing_sharing"), &json!(false), &json!("gpc"))
    );
}

async fn visitor_choice(b: &Backend, analytics: bool, marketing: bool) -> String {
    let (status, body) =
        b.post("/v1/cookie-consents", Auth::None, json!({"analytics": analytics, "marketing": marketing})).await;
    assert_eq!(status, 201, "{body}");
    body["visitor_id"].as_str().unwrap().to_owned()
}

/// M4: the ledger proves what the person chose when and under which notice, and the banner's
/// marketing (tags in the browser) does not become consent to share account usage.
async fn a_claimed_choice_keeps_its_own_time_version_and_notice(b: Backend) {
    let chosen_at = shared::clock::Clock::epoch_seconds(&b.clock);
    let visitor_id = visitor_choice(&b, true, true).await;
    b.clock.advance(chrono::Duration::days(20));
    let ada = user(&b).await;

    let (status, claimed) =
        b.post("/v1/me/cookie-consents/claim", ada.bearer(), json!({"visitor_id": visitor_id})).await;

    assert_eq!(status, 200, "{claimed}");
    let purposes: Vec<_> = claimed["purposes"].as_array().unwrap().iter().map(|p| p["purpose"].clone()).collect();
    assert_eq!(purposes, [json!("analytics_cookies")], "the banner's marketing is not sharing");
    let (_, history) = b.get("/v1/me/consents/history", ada.bearer()).await;
    let entry = &history["items"][0];
    assert_eq!(entry["purpose"], "analytics_cookies");
    assert_eq!(entry["recorded_at"], shared::clock::rfc3339_from_epoch(chosen_at), "the choice's own time");
    assert_eq!(entry["policy_version"], shared::config::DEFAULT_POLICY_VERSION);
    assert_eq!(entry["notice_sha256"], consent::NOTICE_SHA256.as_str());
    let (_, state) = b.get("/v1/me/consents", ada.bearer()).await;
    assert_eq!(state["purposes"]["marketing_sharing"]["granted"], false);

    // A later decision of the account is not overwritten by an older banner choice.
    let other_visit = visitor_choice(&b, true, false).await;
    b.clock.advance(chrono::Duration::minutes(5));
    b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": false})).await;
    let (_, claimed) = b.post("/v1/me/cookie-consents/claim", ada.bearer(), json!({"visitor_id": other_visit})).await;
    assert_eq!(claimed["not_carried_over"], json!(["analytics_cookies"]));
    let (_, state) = b.get("/v1/me/consents", ada.bearer()).await;
    assert_eq!(state["purposes"]["analytics_cookies"]["granted"], false);
}

/// M4: analytics asks again under a new notice, so a choice made under the old one is stale.
async fn a_choice_under_an_older_notice_that_asks_again_is_not_claimed(b: Backend) {
    let visitor_id = visitor_choice(&b, true, false).await;
    let key = shared::keys::visitor_cookie_state(&visitor_id);
    let older = shared::store::Update::new().set("policy_version", "2018-05-25");
    b.platform.store.update(&key, "visitor_consent_state", older, None).await.unwrap();
    let ada = user(&b).await;

    let (status, claimed) =
        b.post("/v1/me/cookie-consents/claim", ada.bearer(), json!({"visitor_id": visitor_id})).await;

    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["purposes"], json!([]));
    assert_eq!(claimed["not_carried_over"], json!(["analytics_cookies"]));
    let (_, history) = b.get("/v1/me/consents/history", ada.bearer()).await;
    assert!(history["items"].as_array().unwrap().is_empty(), "{history}");
    assert!(!consent::is_granted(&b.platform, &ada.user_id, PurposeId::AnalyticsCookies).await.unwrap());
}

async fn a_grant_and_a_withdrawal_are_both_proved_and_the_last_one_counts(b: Backend) {
    let ada = user(&b).await;
    let (_, before) = b.get("/v1/me/consents", ada.bearer()).await;
    assert_eq!(before["policy_version"], shared::config::DEFAULT_POLICY_VERSION);
    for purpose in ["analytics_cookies", "product_updates", "inactivity_reminders", "marketing_sharing"] {
        assert_eq!(before["purposes"][purpose]["granted"], false, "{purpose} defaults to not granted");
    }

    let (status, granted) = b.put("/v1/me/consents/product_updates", ada.bearer(), json!({"granted": true})).await;
    assert_eq!(status, 200, "{granted}");
    assert_eq!((granted["granted"].as_bool(), granted["method"].as_str()), (Some(true), Some("api")));
    assert!(consent::is_granted(&b.platform, &ada.user_id, PurposeId::ProductUpdates).await.unwrap());
    let (status, withdrawn) = b.put("/v1/me/consents/product_updates", ada.bearer(), json!({"granted": false})).await;
    assert_eq!(status, 200);

    assert!(!consent::is_granted(&b.platform, &ada.user_id, PurposeId::ProductUpdates).await.unwrap(), "at once");
    let (_, state) = b.get("/v1/me/consents", ada.bearer()).await;
    assert_eq!(state["purposes"]["product_updates"]["granted"], false);
    assert_eq!(state["purposes"]["product_updates"]["receipt_id"], withdrawn["receipt_id"]);
    let (_, history) = b.get("/v1/me/consents/history", ada.bearer()).await;
    let entries = history["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["receipt_id"], withdrawn["receipt_id"], "newest first");
    assert_eq!(entries[1]["receipt_id"], granted["receipt_id"]);
    assert_eq!(entries[0]["notice_sha256"], consent::NOTICE_SHA256.as_str());
}

async fn replaying_the_same_choice_records_nothing_new(b: Backend) {
    let ada = user(&b).await;
    let (_, first) = b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    let (status, replay) = b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    assert_eq!(status, 200);
    assert_eq!(replay["receipt_id"], first["receipt_id"]);
    let (_, history) = b.get("/v1/me/consents/history", ada.bearer()).await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
}

// On the embedded engine only: moto serialises neither transactions nor conditional writes
// (see store_contract.rs), DynamoDB does.
#[tokio::test]
async fn concurrent_changes_are_all_kept_and_the_state_is_the_last_of_them() {
    let b = sqlite().await;
    let ada = user(&b).await;
    let platform = Arc::new(b.platform.clone());
    let changes: Vec<_> = (0..16)
        .map(|n| {
            let platform = platform.clone();
            let user_id = ada.user_id.clone();
            tokio::spawn(async move {
                consent::record(&platform, &user_id, PurposeId::MarketingSharing, n % 2 == 0, Method::Api).await
            })
        })
        .collect();
    let results: Vec<_> = futures::future::join_all(changes).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    let written = results.iter().filter(|(_, new)| *new).count();

    let ledger =
        shared::store::query_all(b.platform.store.as_ref(), consent::ledger_query(&ada.user_id)).await.unwrap();
    let entries: Vec<consent::LedgerEntry> = ledger.iter().map(|item| item.data().unwrap()).collect();
    assert_eq!(entries.len(), written, "every change that was acknowledged is in the ledger");
    let mut versions: Vec<_> = entries.iter().map(|e| e.version).collect();
    versions.sort();
    assert_eq!(versions, (1..=written as i64).collect::<Vec<_>>(), "one unbroken chain of versions");
    let last = entries.iter().max_by_key(|e| e.version).unwrap();
    let state =
        consent::states(b.platform.store.as_ref(), &ada.user_id).await.unwrap()[&PurposeId::MarketingSharing].clone();
    assert_eq!((state.receipt_id.as_str(), state.granted), (last.receipt_id.as_str(), last.granted));
}

async fn a_receipt_has_the_kantara_fields_and_only_its_owner_sees_it(b: Backend) {
    let ada = user(&b).await;
    let (_, change) = b.put("/v1/me/consents/marketing_sharing", ada.bearer(), json!({"granted": true})).await;
    let path = format!("/v1/consent-receipts/{}", change["receipt_id"].as_str().unwrap());

    let (status, receipt) = b.get(&path, ada.bearer()).await;

    assert_eq!(status, 200);
    for field in [
        "version",
        "jurisdiction",
        "consentTimestamp",
        "collectionMethod",
        "consentReceiptID",
        "language",
        "piiPrincipalId",
        "piiControllers",
        "policyUrl",
        "services",
        "sensitive",
    ] {
        assert!(receipt.get(field).is_some(), "missing {field}: {receipt}");
    }
    assert_eq!(receipt["version"], "KI-CR-v1.1.0");
    assert_eq!(receipt["piiPrincipalId"], ada.user_id.as_str());
    assert_eq!(receipt["services"][0]["purposes"][0]["thirdPartyDisclosure"], true);
    let grace = b.member(&ada, "grace@example.com", "another long password", "member").await;
    assert_eq!(b.get(&path, grace.bearer()).await.0, 404, "someone else's receipt does not exist for them");
    assert_eq!(b.get("/v1/consent-receipts/not-a-receipt", ada.bearer()).await.0, 404);
    assert_eq!(b.get(&path, Auth::None).await.0, 401);
}

async fn a_gpc_visitor_is_recorded_as_refusing_marketing(b: Backend) {
    let request = http::Request::post("/v1/cookie-consents")
        .header("content-type", "application/json")
        .header("sec-gpc", "1")
        .body(axum::body::Body::from(json!({"analytics": true, "marketing": true}).to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.app.clone(), request).await.unwrap();
    assert_eq!(response.status(), 201);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body: Value =
        serde_json::from_slice(&http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes())
            .unwrap();

    assert_eq!((body["analytics"].as_bool(), body["marketing"].as_bool()), (Some(true), Some(false)));
    let visitor_id = body["visitor_id"].as_str().unwrap();
    assert!(cookie.starts_with(&format!("infentre_consent={visitor_id}:1:0")), "{cookie}");
    let proof = b.table_text().await.into_iter().find(|t| t.contains(visitor_id) && t.contains("receipt_id")).unwrap();
    assert!(proof.contains("gpc"), "the marketing refusal says gpc: {proof}");

    // The account that claims the choice inherits the refusal, with its method.
    let ada = user(&b).await;
    let (status, claimed) =
        b.post("/v1/me/cookie-consents/claim", ada.bearer(), json!({"visitor_id": visitor_id})).await;
    assert_eq!(status, 200, "{claimed}");
    let (_, history) = b.get("/v1/me/consents/history", ada.bearer()).await;
    let methods: Vec<_> =
        history["items"].as_array().unwrap().iter().map(|e| (e["purpose"].clone(), e["method"].clone())).collect();
    assert!(methods.contains(&(json!("marketing_sharing"), json!("gpc"))), "{methods:?}");
    assert!(methods.contains(&(json!("analytics_cookies"), json!("cookie_banner"))), "{methods:?}");
    let (_, state) = b.get("/v1/me/consents", ada.bearer()).await;
    assert_eq!(state["purposes"]["analytics_cookies"]["granted"], true);
    assert_eq!(state["purposes"]["marketing_sharing"]["granted"], false);
    assert_eq!(b.count_of(visitor_id).await, 0, "the visitor's records went to the account");
}

async fn an_unsubscribe_link_withdraws_product_updates(b: Backend) {
    let ada = user(&b).await;
    b.put("/v1/me/consents/product_updates", ada.bearer(), json!({"granted": true})).await;
    let now = shared::clock::Clock::epoch_seconds(&b.clock);
    let (link, headers) =
        shared::unsubscribe::headers(&b.platform.settings, &ada.user_id, PurposeId::ProductUpdates, now);
    assert_eq!(headers[1], ("List-Unsubscribe-Post".to_owned(), "List-Unsubscribe=One-Click".to_owned()));
    // The body links to the page (a GET changes nothing); the header is the one-click POST.
    assert!(link.contains("/unsubscribe?token=") && !link.contains("/v1/"), "{link}");
    let one_click = headers[0].1.trim_start_matches('<').trim_end_matches('>');
    let path = one_click.split_once("/v1/").map(|(_, rest)| format!("/v1/{rest}")).unwrap();

    let (status, _, body) = call(&b.app, "POST", &path, Auth::None, None).await;

    assert_eq!((status, body), (200, json!({"purpose": "product_updates", "granted": false})));
    let (_, history) = b.get("/v1/me/consents/history", ada.bearer()).await;
    assert_eq!(history["items"][0]["method"], "unsubscribe_link");
    assert!(!consent::is_granted(&b.platform, &ada.user_id, PurposeId::ProductUpdates).await.unwrap());
}

async fn bad_consent_input_is_refused_precisely(b: Backend) {
    let ada = user(&b).await;
    let (status, problem) = b.put("/v1/me/consents/telepathy", ada.bearer(), json!({"granted": true})).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    for body in
        [json!({"granted": "yes"}), json!({"granted": 1}), json!({}), json!({"granted": true, "method": "operator"})]
    {
        let (status, problem) = b.put("/v1/me/consents/analytics_cookies", ada.bearer(), body.clone()).await;
        assert_eq!((status, problem["code"].as_str()), (422, Some("invalid_body")), "{body}");
    }
    let forged = shared::unsubscribe::token(
        &shared::signing::SigningKey::generate(),
        &ada.user_id,
        PurposeId::ProductUpdates,
        0,
    );
    let expired =
        shared::unsubscribe::token(&b.platform.settings.signing_key, &ada.user_id, PurposeId::ProductUpdates, 0);
    for token in [forged.as_str(), expired.as_str(), "garbage"] {
        let (status, _, problem) =
            call(&b.app, "POST", &format!("/v1/unsubscribe?token={token}"), Auth::None, None).await;
        assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_token")));
        assert!(!problem.to_string().contains(&ada.user_id), "the answer does not say whose it was");
    }
    let (status, _, _) = call(&b.app, "POST", "/v1/unsubscribe", Auth::None, None).await;
    assert_eq!(status, 400);
    let (status, _) = b
        .post("/v1/cookie-consents", Auth::None, json!({"visitor_id": "me", "analytics": true, "marketing": false}))
        .await;
    assert_eq!(status, 422);
    let (_, history) = b.get("/v1/me/consents/history", ada.bearer()).await;
    assert!(history["items"].as_array().unwrap().is_empty(), "nothing was recorded");
}

async fn a_cancelled_account_leaves_no_consent_record(b: Backend) {
    let ada = user(&b).await;
    for purpose in ["analytics_cookies", "product_updates", "marketing_sharing"] {
        b.put(&format!("/v1/me/consents/{purpose}"), ada.bearer(), json!({"granted": true})).await;
    }
    b.put("/v1/me/consents/product_updates", ada.bearer(), json!({"granted": false})).await;
    assert!(b.count_of("consent_record").await >= 4);

    let progress = b.cancel("/v1/me", &ada, PASSWORD).await;

    assert_eq!(progress["member_jobs"], 1, "the sole member's organisation goes with her: {progress}");
    // The job's record names kinds with counts; no item of those kinds is left.
    let b = &b;
    let items = |kind: &'static str| async move {
        b.table_text().await.iter().filter(|t| t.contains(kind) && !t.contains("erasure_job")).count()
    };
    assert_eq!(items("consent_record").await, 0);
    assert_eq!(items("consent_state").await, 0);
    assert_eq!(b.count_of(&ada.user_id).await, 0);
}

// ---- Published information and policy versions (engine-independent) -----------------------

#[tokio::test]
async fn the_published_information_is_served() {
    let b = sqlite().await;
    let (_, cookies) = b.get("/v1/cookies", Auth::None).await;
    let fr = cookies.as_array().unwrap().iter().find(|c| c["name"] == "fr").expect("the fr cookie");
    assert_eq!((fr["domain"].as_str(), fr["duration_seconds"].as_u64()), (Some(".facebook.com"), Some(7_776_000)));
    assert_eq!(fr["provider"], "Facebook");
    assert_eq!(fr["purpose"], "marketing");

    let (_, purposes) = b.get("/v1/purposes", Auth::None).await;
    let ids: Vec<_> = purposes.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["analytics_cookies", "product_updates", "inactivity_reminders", "marketing_sharing"]);
    assert!(purposes[0]["lawful_basis"].as_str().unwrap().contains("consent"));

    let (_, notice) = b.get("/v1/privacy-notice", Auth::None).await;
    assert_eq!(notice["last_updated"], shared::config::DEFAULT_POLICY_VERSION);
    assert!(notice["dpo"]["email"].as_str().unwrap().contains('@'));
    assert_eq!(notice["text_sha256"], consent::NOTICE_SHA256.as_str());

    let (_, subprocessors) = b.get("/v1/subprocessors", Auth::None).await;
    let names: Vec<_> = subprocessors.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(names.iter().any(|n| n.contains("Amazon Web Services")) && names.iter().any(|n| n.contains("SendGrid")));
    assert!(subprocessors[0]["location"].as_str().unwrap().starts_with("EU"));

    let (_, gpc) = b.get("/.well-known/gpc.json", Auth::None).await;
    assert_eq!(gpc["gpc"], true);
}

#[tokio::test]
async fn a_new_policy_version_suspends_the_purposes_that_ask_again() {
    let b = sqlite().await;
    let ada = user(&b).await;
    for purpose in ["analytics_cookies", "product_updates", "marketing_sharing"] {
        b.put(&format!("/v1/me/consents/{purpose}"), ada.bearer(), json!({"granted": true})).await;
    }
    let mut settings = (*b.platform.settings).clone();
    settings.policy_version = "2027-01-01".into();
    let platform = shared::Platform { settings: Arc::new(settings), ..b.platform.clone() };
    let app = shared::http::app(signup::routes().merge(::consent::routes()).with_state(platform.clone()));

    assert!(!consent::is_granted(&platform, &ada.user_id, PurposeId::AnalyticsCookies).await.unwrap());
    assert!(!consent::is_granted(&platform, &ada.user_id, PurposeId::MarketingSharing).await.unwrap());
    assert!(
        consent::is_granted(&platform, &ada.user_id, PurposeId::ProductUpdates).await.unwrap(),
        "does not ask again"
    );
    let (_, _, state) = call(&app, "GET", "/v1/me/consents", ada.bearer(), None).await;
    assert_eq!(state["policy_version"], "2027-01-01");
    assert_eq!(state["purposes"]["analytics_cookies"]["renewal_needed"], true);

    let (status, _, renewed) =
        call(&app, "PUT", "/v1/me/consents/analytics_cookies", ada.bearer(), Some(json!({"granted": true}))).await;
    assert_eq!(status, 200);
    assert_eq!(renewed["policy_version"], "2027-01-01");
    assert!(consent::is_granted(&platform, &ada.user_id, PurposeId::AnalyticsCookies).await.unwrap());
}

// ---- What consent costs on DynamoDB (moto, counted by the SDK interceptor) -----------------

#[tokio::test]
async fn a_consent_change_is_one_transaction_and_the_check_one_read() {
    let b = infentre_tests::backend::moto().await;
    let ada = user(&b).await;
    let requests = b.requests.clone().unwrap();
    requests.reset();

    let (status, _) = b.put("/v1/me/consents/analytics_cookies", ada.bearer(), json!({"granted": true})).await;
    assert_eq!(status, 200);
    // The session, the fences of the user and organisation (one batch), the current state
    // (for the version), then one transaction.
    let change: std::collections::BTreeMap<String, u64> = [
        ("DynamoDB.GetItem".to_owned(), 2),
        ("DynamoDB.BatchGetItem".to_owned(), 1),
        ("DynamoDB.TransactWriteItems".to_owned(), 1),
    ]
    .into();
    assert_eq!(requests.snapshot(), change);

    requests.reset();
    assert!(consent::is_granted(&b.platform, &ada.user_id, PurposeId::AnalyticsCookies).await.unwrap());
    assert_eq!(requests.snapshot(), [("DynamoDB.GetItem".to_owned(), 1)].into());
    requests.reset();
    let all = consent::states(b.platform.store.as_ref(), &ada.user_id).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(requests.snapshot(), [("DynamoDB.Query".to_owned(), 1)].into(), "every purpose in one query");
}

/// Kantara's Consent Receipt v1.1 JSON schema, as published (see tests/data/kantara/SOURCE.md),
/// compiled once. The published file opens with `//` comment lines, which JSON does not allow.
fn kantara_schema() -> (boon::Schemas, boon::SchemaIndex) {
    let published = include_str!("../../data/kantara/consent-receipt-v1_1-schema.json");
    let json: String =
        published.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let schema: Value = serde_json::from_str(&json).expect("the schema is JSON once its comments go");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let url = "https://infentre.test/kantara-consent-receipt-v1_1-schema.json";
    compiler.add_resource(url, schema).unwrap();
    let index = compiler.compile(url, &mut schemas).expect("a draft-04 schema");
    (schemas, index)
}

/// Every kind of receipt we give out (each purpose granted and withdrawn, through the API, GPC
/// and a claimed banner choice) is a valid Kantara v1.1 receipt.
async fn every_receipt_the_api_issues_validates_against_the_kantara_schema(b: Backend) {
    let (schemas, kantara) = kantara_schema();
    assert!(schemas.validate(&json!({"version": "KI-CR-v1.1.0"}), kantara).is_err(), "the schema can fail");
    let visitor_id = visitor_choice(&b, true, true).await;
    let ada = user(&b).await;
    let (status, _) =
        send_with_gpc(&b, "POST", "/v1/me/cookie-consents/claim", &ada, json!({"visitor_id": visitor_id})).await;
    assert_eq!(status, 200);
    for purpose in PurposeId::ALL {
        for granted in [true, false, true] {
            let path = format!("/v1/me/consents/{}", purpose.as_str());
            assert_eq!(b.put(&path, ada.bearer(), json!({ "granted": granted })).await.0, 200);
        }
    }
    let path = "/v1/me/consents/marketing_sharing";
    assert_eq!(send_with_gpc(&b, "PUT", path, &ada, json!({"granted": true})).await.0, 200);

    let (status, history) = b.get("/v1/me/consents/history?limit=200", ada.bearer()).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> =
        history["items"].as_array().unwrap().iter().map(|e| e["receipt_id"].as_str().unwrap()).collect();
    let mut methods = std::collections::BTreeSet::new();
    for id in &ids {
        let (status, receipt) = b.get(&format!("/v1/consent-receipts/{id}"), ada.bearer()).await;
        assert_eq!(status, 200, "{receipt}");
        if let Err(err) = schemas.validate(&receipt, kantara) {
            panic!("receipt {id} is not a Kantara v1.1 receipt: {err:#}\n{receipt:#}");
        }
        methods.insert(receipt["collectionMethod"].to_string());
    }
    assert!(ids.len() >= 14, "{} receipts", ids.len());
    assert_eq!(methods.len(), 3, "api, cookie banner and gpc: {methods:?}");
}
