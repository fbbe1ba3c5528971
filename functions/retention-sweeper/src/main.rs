//! The retention sweeper Lambda, run by an EventBridge schedule.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let platform = shared::aws::start().await?;
    let platform = &platform;
    // The schedule's event says nothing the run needs (it reads the clock itself).
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| async move {
        retention_sweeper::on_schedule(platform).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
