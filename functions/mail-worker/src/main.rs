//! The mail worker Lambda: SQS-triggered, sends through SendGrid. Its secrets (the SendGrid
//! API key, the key that signs unsubscribe links) come from SSM with the first batch.
// The lazily built worker nests the SDK's futures one level deeper than rustc's default.
#![recursion_limit = "256"]

use std::sync::Arc;

use mail_worker::MailWorker;
use shared::aws::Secret;
use shared::config::{Environment, Source};
use shared::mail::sendgrid::{DEFAULT_BASE_URL, SendGridMailer};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let cold = shared::aws::cold_start().await?;
    let signing_key = cold.signing_key_secret()?;
    let api_key = Secret::required(&Environment, "SENDGRID_API_KEY_PARAMETER", &cold.clients.ssm)?;
    let base_url = Environment.get("SENDGRID_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let worker = OnceCell::new();
    let build = || async {
        let platform = cold.platform(cold.settings(shared::aws::signing_key(&signing_key).await?)?);
        let mailer = SendGridMailer::new(&base_url, api_key.get().await?, platform.settings.mail_from.clone())?;
        Ok::<_, lambda_runtime::Error>(MailWorker::new(platform, Arc::new(mailer)))
    };
    shared::aws::run_sqs(|event| async {
        let worker = worker.get_or_try_init(build).await?;
        worker.handle(event).await.map_err(lambda_runtime::Error::from)
    })
    .await
}
