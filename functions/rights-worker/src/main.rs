//! The rights worker Lambda, triggered by the rights queue.

use lambda_runtime::{LambdaEvent, service_fn};
use shared::queue::batch::SqsEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init(shared::telemetry::Format::Json);
    let (platform, _clients) = shared::aws::platform_from_env().await?;
    let platform = &platform;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        rights_worker::handle(platform, event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
