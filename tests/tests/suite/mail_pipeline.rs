//! The e-mail pipeline on both engines: mail that needs consent is checked when it is sent,
//! carries RFC 8058 unsubscribe headers, and its queue message carries no address.

use std::time::Duration;

use infentre_tests::backend::Backend;
use infentre_tests::{on_both_engines, outbox_files, token_mailed_to};
use serde_json::json;
use shared::queue::QueueName;

on_both_engines!(
    a_product_update_reaches_only_those_who_consented_and_can_unsubscribe,
    a_withdrawal_after_queueing_stops_the_email,
    only_operators_send_product_updates,
);

const UPDATE: &str = "New: exports in CSV";

async fn a_product_update_reaches_only_those_who_consented_and_can_unsubscribe(b: Backend) {
    let dpo = b.admin("dpo@infentre.com", "operators are staff", "Infentre").await;
    let ada = b.admin("ada@example.com", "ada wants updates", "Analytical Engines").await;
    // Bob never consents.
    b.admin("bob@example.com", "bob wants nothing", "Bob AB").await;
    let cid = b.admin("cid@example.com", "cid changed her mind", "Cid AB").await;
    b.put("/v1/me/consents/product_updates", ada.bearer(), json!({"granted": true})).await;
    b.put("/v1/me/consents/product_updates", cid.bearer(), json!({"granted": true})).await;
    b.put("/v1/me/consents/product_updates", cid.bearer(), json!({"granted": false})).await;

    let (status, body) = b
        .post(
            "/v1/operator/product-updates",
            dpo.bearer(),
            json!({"subject": UPDATE, "text": "Exports now come as CSV too."}),
        )
        .await;

    assert_eq!((status, &body["kind"], &body["status"]), (202, &json!("product_update"), &json!("queued")));
    let queued = b.platform.queue.receive(QueueName::Mail, 10, Duration::ZERO).await.unwrap();
    assert_eq!(queued.len(), 1, "one step of the job");
    assert!(!queued[0].body.contains("ada@example.com"), "the queue carries no address: {}", queued[0].body);
    b.deliver_mail().await;
    let (_, progress) =
        b.get(&format!("/v1/operator/broadcast-jobs/{}", body["job_id"].as_str().unwrap()), dpo.bearer()).await;
    assert_eq!((&progress["status"], &progress["counts"]["sent"]), (&json!("completed"), &json!(1)));
    let updates: Vec<_> = outbox_files(&b.outbox).into_iter().filter(|m| m.contains(UPDATE)).collect();
    assert_eq!(updates.len(), 1);
    let mail = &updates[0];
    assert!(mail.contains("To: ada@example.com"));
    assert!(
        mail.contains("List-Unsubscribe: <") && mail.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{mail}"
    );

    let token = token_mailed_to(&b.outbox, "ada@example.com").unwrap();
    let (status, body) =
        b.post(&format!("/v1/unsubscribe?token={token}"), infentre_tests::Auth::None, json!(null)).await;
    assert_eq!((status, body["granted"].as_bool()), (200, Some(false)));
    let (_, state) = b.get("/v1/me/consents", ada.bearer()).await;
    assert_eq!(state["purposes"]["product_updates"]["granted"], false);
}

async fn a_withdrawal_after_queueing_stops_the_email(b: Backend) {
    let dpo = b.admin("dpo@infentre.com", "operators are staff", "Infentre").await;
    let ada = b.admin("ada@example.com", "ada wants updates", "Analytical Engines").await;
    b.put("/v1/me/consents/product_updates", ada.bearer(), json!({"granted": true})).await;
    let (_, body) =
        b.post("/v1/operator/product-updates", dpo.bearer(), json!({"subject": UPDATE, "text": "Hello"})).await;
    assert_eq!(body["status"], "queued");

    b.put("/v1/me/consents/product_updates", ada.bearer(), json!({"granted": false})).await;
    b.deliver_mail().await;

    assert!(outbox_files(&b.outbox).iter().all(|m| !m.contains(UPDATE)), "checked again when sending");
}

async fn only_operators_send_product_updates(b: Backend) {
    let ada = b.admin("ada@example.com", "not an operator", "Analytical Engines").await;
    let dpo = b.admin("dpo@infentre.com", "operators are staff", "Infentre").await;
    let (status, _) =
        b.post("/v1/operator/product-updates", ada.bearer(), json!({"subject": UPDATE, "text": "x"})).await;
    assert_eq!(status, 403);
    for body in [
        json!({"subject": "", "text": "x"}),
        json!({"subject": "a\nb", "text": "x"}),
        json!({"subject": "s", "text": ""}),
    ] {
        assert_eq!(b.post("/v1/operator/product-updates", dpo.bearer(), body).await.0, 422);
    }
}
