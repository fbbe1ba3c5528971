//! The retention sweeper Lambda, run by an EventBridge schedule.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let platform = shared::aws::start().await?;
    let platform = &platform;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<EventBridgeEvent>| async move {
        retention_sweeper::on_schedule(platform).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
