//! The rights worker Lambda, triggered by the rights queue.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let platform = shared::aws::start().await?;
    shared::aws::run_sqs_until(|event, deadline| rights_worker::handle_until(&platform, event, deadline)).await
}
