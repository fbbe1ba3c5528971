//! Secrets come from SSM Parameter Store (SecureString) on first need, once per execution
//! environment; a missing or malformed parameter name fails the init, naming the setting.

use std::collections::HashMap;

use infentre_tests::{moto_clients, unique};
use shared::aws::{Secret, SecretError, signing_key};

#[tokio::test]
async fn a_secret_is_fetched_once_on_first_use_and_then_kept() {
    let clients = moto_clients().await;
    let name = format!("/{}/signing-key", unique("secrets"));
    let value = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let ssm = &clients.ssm;
    ssm.put_parameter()
        .name(&name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let source = HashMap::from([("INFENTRE_SIGNING_KEY_PARAMETER", name.as_str())]);
    clients.requests.reset();

    let secret = Secret::required(&source, "INFENTRE_SIGNING_KEY_PARAMETER", ssm).unwrap();
    assert_eq!(clients.requests.total(), 0, "naming the secret costs no request: init stays fast");
    assert_eq!(secret.get().await.unwrap(), value);
    assert_eq!(secret.get().await.unwrap(), value);
    let key = signing_key(&secret).await.unwrap();
    assert_eq!(key.as_bytes().len(), 32);
    assert_eq!(clients.requests.get("SSM.GetParameter"), 1, "fetched once, then kept");
}

#[tokio::test]
async fn a_missing_parameter_names_the_setting_and_is_tried_again() {
    let clients = moto_clients().await;
    let name = format!("/{}/sendgrid-api-key", unique("secrets"));
    let source = HashMap::from([("SENDGRID_API_KEY_PARAMETER", name.as_str())]);
    let secret = Secret::required(&source, "SENDGRID_API_KEY_PARAMETER", &clients.ssm).unwrap();

    let err = secret.get().await.unwrap_err();
    assert!(matches!(err, SecretError::Fetch { .. }), "{err}");
    assert!(err.to_string().contains("SENDGRID_API_KEY_PARAMETER") && err.to_string().contains(&name), "{err}");

    // Created after the failure (an operator fixes it): the next use finds it.
    clients
        .ssm
        .put_parameter()
        .name(&name)
        .value("SG.key")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    assert_eq!(secret.get().await.unwrap(), "SG.key");
}

#[tokio::test]
async fn an_unset_or_malformed_parameter_name_fails_the_init() {
    let clients = moto_clients().await;
    let unset = HashMap::from([("SENDGRID_API_KEY_PARAMETER", " ")]);
    let err = Secret::required(&unset, "SENDGRID_API_KEY_PARAMETER", &clients.ssm).unwrap_err();
    assert_eq!(err.to_string(), "SENDGRID_API_KEY_PARAMETER is not set");

    let relative = HashMap::from([("SENDGRID_API_KEY_PARAMETER", "sendgrid key")]);
    let err = Secret::required(&relative, "SENDGRID_API_KEY_PARAMETER", &clients.ssm).unwrap_err();
    assert!(err.to_string().starts_with("SENDGRID_API_KEY_PARAMETER is invalid"), "{err}");

    let optional = HashMap::from([("INFENTRE_STRIPE_WEBHOOK_SECRET_PARAMETER", "")]);
    assert!(Secret::optional(&optional, "INFENTRE_STRIPE_WEBHOOK_SECRET_PARAMETER", &clients.ssm).unwrap().is_none());
}
