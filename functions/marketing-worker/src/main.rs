//! The marketing worker Lambda: SQS-triggered, shares events with GA4 and the Conversions API.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use marketing_worker::MarketingWorker;
use shared::config::Environment;
use shared::marketing::http::HttpDestination;
use shared::marketing::{Destination, DestinationSettings};
use shared::queue::batch::SqsEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init(shared::telemetry::Format::Json);
    let (platform, _clients) = shared::aws::platform_from_env().await?;
    let settings = DestinationSettings::from_source(&Environment)?;
    let destinations = HttpDestination::all(&settings)?
        .into_iter()
        .map(|destination| Arc::new(destination) as Arc<dyn Destination>)
        .collect();
    let worker = MarketingWorker::new(platform, destinations);
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        worker.handle(event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
