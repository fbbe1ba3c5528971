//! The retention sweeper Lambda, run by an EventBridge schedule.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use retention_sweeper::RunError;

/// Items erased per invocation at most; the next run continues from the checkpoint.
const BUDGET: u64 = 50_000;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init(shared::telemetry::Format::Json);
    let (platform, _clients) = shared::aws::platform_from_env().await?;
    let platform = &platform;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<EventBridgeEvent>| async move {
        match retention_sweeper::run(platform, BUDGET).await {
            Ok(report) => Ok(serde_json::to_value(report)?),
            // Another run is at work: this one has nothing to do (and is no error).
            Err(RunError::Busy) => Ok(serde_json::json!({ "skipped": "another sweep holds the lease" })),
            Err(err) => Err(lambda_runtime::Error::from(err)),
        }
    }))
    .await
}
