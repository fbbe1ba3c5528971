//! The marketing worker Lambda: SQS-triggered, shares events with GA4 and the Conversions API.
//! Their secrets (and GA4's service account key, for erase calls) come from SSM with the first batch.
// The lazily built worker nests the SDK's futures one level deeper than rustc's default.
#![recursion_limit = "256"]

use std::collections::HashMap;
use std::sync::Arc;

use marketing_worker::MarketingWorker;
use shared::aws::{Secret, WithValues};
use shared::config::Environment;
use shared::marketing::http::HttpDestination;
use shared::marketing::{Destination, DestinationSettings};
use tokio::sync::OnceCell;

/// (the SSM parameter's setting, the setting DestinationSettings reads the secret from)
const SECRETS: [(&str, &str); 3] = [
    ("INFENTRE_GA4_API_SECRET_PARAMETER", "INFENTRE_GA4_API_SECRET"),
    ("INFENTRE_GA4_SERVICE_ACCOUNT_KEY_PARAMETER", "INFENTRE_GA4_SERVICE_ACCOUNT_KEY"),
    ("INFENTRE_FACEBOOK_ACCESS_TOKEN_PARAMETER", "INFENTRE_FACEBOOK_ACCESS_TOKEN"),
];

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let cold = shared::aws::cold_start().await?;
    let (platform, clients) = (cold.platform(cold.settings(shared::signing::SigningKey::generate())?), &cold.clients);
    let mut secrets = Vec::new();
    for (parameter, setting) in SECRETS {
        if let Some(secret) = Secret::optional(&Environment, parameter, &clients.ssm)? {
            secrets.push((setting, secret));
        }
    }
    // Checked now, with stand-ins for the secrets: an id without its secret fails the init.
    let stand_ins = secrets.iter().map(|(setting, _)| (*setting, "set".to_owned())).collect();
    DestinationSettings::from_source(&WithValues { base: &Environment, values: stand_ins })?;

    let worker = OnceCell::new();
    let build = || async {
        let mut values = HashMap::new();
        for (setting, secret) in &secrets {
            values.insert(*setting, secret.get().await?.to_owned());
        }
        let settings = DestinationSettings::from_source(&WithValues { base: &Environment, values })?;
        let destinations = HttpDestination::all(&settings)?
            .into_iter()
            .map(|destination| Arc::new(destination) as Arc<dyn Destination>)
            .collect();
        Ok::<_, lambda_runtime::Error>(MarketingWorker::new(platform.clone(), destinations))
    };
    shared::aws::run_sqs(|event| async {
        let worker = worker.get_or_try_init(build).await?;
        worker.handle(event).await.map_err(lambda_runtime::Error::from)
    })
    .await
}
