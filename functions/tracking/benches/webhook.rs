//! What checking a SendGrid Event Webhook signature costs (ECDSA P-256 over the raw body).
//!
//! `cargo bench -p infentre-tracking --bench webhook`

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

fn benches(c: &mut Criterion) {
    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let events: Vec<_> = (0..100)
        .map(|n| serde_json::json!({"email": format!("c{n}@example.net"), "event": "open", "timestamp": 1_795_900_000, "sg_event_id": format!("e{n}")}))
        .collect();
    let body = serde_json::to_vec(&events).unwrap();
    let timestamp = "1795900100";
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(&body);
    let signature: Signature = key.sign(&signed);
    let signature = STANDARD.encode(signature.to_der().as_bytes());
    let verifying = *key.verifying_key();
    c.bench_function("sendgrid_signature_100_events", |b| {
        b.iter(|| assert!(tracking::sendgrid::verify(&verifying, timestamp, &body, &signature)))
    });
}

criterion_group!(webhook, benches);
criterion_main!(webhook);
