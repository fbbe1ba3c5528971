//! The tracking Lambda: API Gateway HTTP API → the same axum router the local server runs.
//! The Stripe webhook's secret, when configured, comes from SSM on the first request.

use shared::aws::Secret;
use shared::config::Environment;
use shared::signing::SigningKey;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let cold = shared::aws::cold_start().await?;
    let stripe = Secret::optional(&Environment, "INFENTRE_STRIPE_WEBHOOK_SECRET_PARAMETER", &cold.clients.ssm)?;
    let (cold, stripe) = (&cold, &stripe);
    shared::aws::run_http_lazy(|| async move {
        // Tracking signs no links: a throwaway key (see settings_from_source).
        let mut settings = cold.settings(SigningKey::generate())?;
        if let Some(secret) = stripe {
            settings.stripe_webhook_secret = Some(secret.get().await?.to_owned());
        }
        Ok(shared::http::app(tracking::routes().with_state(cold.platform(settings))))
    })
    .await
}
