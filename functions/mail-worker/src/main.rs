//! The mail worker Lambda: SQS-triggered, sends through SendGrid.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let platform = shared::aws::start().await?;
    let mailer = shared::mail::sendgrid::SendGridMailer::from_env(&platform.settings)?;
    let worker = mail_worker::MailWorker::new(platform, Arc::new(mailer));
    shared::aws::run_sqs(|event| worker.handle(event)).await
}
