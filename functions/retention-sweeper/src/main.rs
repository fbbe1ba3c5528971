//! The retention sweeper Lambda, run by an EventBridge schedule.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use retention_sweeper::{SweepReport, sweep};

/// Items erased per invocation at most; the next run continues from the checkpoint.
const BUDGET: u64 = 50_000;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init(shared::telemetry::Format::Json);
    let (platform, _clients) = shared::aws::platform_from_env().await?;
    let platform = &platform;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<EventBridgeEvent>| async move {
        let report: SweepReport = sweep(platform.store.as_ref(), platform.clock.as_ref(), BUDGET).await?;
        Ok::<_, lambda_runtime::Error>(report)
    }))
    .await
}
