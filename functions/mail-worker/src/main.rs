//! The mail worker Lambda: SQS-triggered, sends through SendGrid.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use mail_worker::MailWorker;
use shared::config::{Environment, Source};
use shared::mail::sendgrid::{DEFAULT_BASE_URL, SendGridMailer};
use shared::queue::batch::SqsEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init(shared::telemetry::Format::Json);
    let (platform, _clients) = shared::aws::platform_from_env().await?;
    let api_key = Environment.required("SENDGRID_API_KEY")?;
    let base_url = Environment.get("SENDGRID_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let mailer = SendGridMailer::new(&base_url, &api_key, platform.settings.mail_from.clone())?;
    let worker = MailWorker::new(platform, Arc::new(mailer));
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        worker.handle(event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
