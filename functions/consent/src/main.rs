//! The consent Lambda: API Gateway HTTP API → the same axum router the local server runs.
//! It verifies unsubscribe links, so it reads the signing key (from SSM, on the first request).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let cold = shared::aws::cold_start().await?;
    let signing_key = cold.signing_key_secret()?;
    let (cold, signing_key) = (&cold, &signing_key);
    shared::aws::run_http_lazy(|| async move {
        let settings = cold.settings(shared::aws::signing_key(signing_key).await?)?;
        Ok(shared::http::app(consent::routes().with_state(cold.platform(settings))))
    })
    .await
}
