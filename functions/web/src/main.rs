//! The web Lambda: API Gateway HTTP API → the same axum router the local server runs.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init(shared::telemetry::Format::Json);
    let (platform, _clients) = shared::aws::platform_from_env().await?;
    shared::aws::run_http(shared::http::app(web::routes().with_state(platform))).await
}
