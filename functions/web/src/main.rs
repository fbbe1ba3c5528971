//! The web Lambda: API Gateway HTTP API → the same axum router the local server runs.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let platform = shared::aws::start().await?;
    shared::aws::run_http(shared::http::app(web::routes().with_state(platform))).await
}
