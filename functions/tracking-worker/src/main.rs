//! The tracking worker Lambda, triggered by the tracking queue.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let platform = shared::aws::start().await?;
    shared::aws::run_sqs(|event| tracking_worker::handle(&platform, event)).await
}
