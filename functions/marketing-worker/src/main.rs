//! The marketing worker Lambda: SQS-triggered, shares events with GA4 and the Conversions API.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let platform = shared::aws::start().await?;
    let destinations = shared::marketing::http::HttpDestination::from_env()?;
    let worker = marketing_worker::MarketingWorker::new(platform, destinations);
    shared::aws::run_sqs(|event| worker.handle(event)).await
}
