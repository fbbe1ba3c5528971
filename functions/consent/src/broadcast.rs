//! Operators send a product-update e-mail to everyone who consented to `product_updates`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::Platform;
use shared::consent::{self, PurposeId};
use shared::error::{ApiError, Problem};
use shared::http::ApiJson;
use shared::mail;
use shared::responses::{JsonBody, SessionWrite};
use shared::session::AuthUser;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductUpdate {
    /// 1 to 200 characters, one line.
    #[schema(min_length = 1, max_length = 200, pattern = "^[^\\r\\n]*$")]
    pub subject: String,
    /// The message, 1 to 20,000 characters of plain text. An unsubscribe link is added.
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Broadcast {
    /// E-mails queued; each is sent only if the consent still holds when it goes out.
    pub queued: usize,
}

/// Queues a product-update e-mail for every user who consented (operators only).
#[utoipa::path(post, path = "/v1/operator/product-updates", tag = "consent", request_body = ProductUpdate,
    responses(JsonBody, SessionWrite,
        (status = 202, body = Broadcast),
        (status = 403, description = "forbidden: operators only; or csrf_token_invalid", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_subject, invalid_text, or invalid_body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn send_product_update(
    State(platform): State<Platform>,
    auth: AuthUser,
    ApiJson(update): ApiJson<ProductUpdate>,
) -> Result<(StatusCode, Json<Broadcast>), ApiError> {
    auth.require_operator(&platform).await?;
    let subject = update.subject.trim();
    if subject.is_empty() || subject.chars().count() > 200 || subject.contains(['\r', '\n']) {
        return Err(ApiError::unprocessable("invalid_subject", "The subject must be one line of 1 to 200 characters."));
    }
    if update.text.trim().is_empty() || update.text.chars().count() > 20_000 {
        return Err(ApiError::unprocessable("invalid_text", "The text must have 1 to 20,000 characters."));
    }
    let mut queued = 0;
    for shard in 0..shared::keys::CONSENTED_SHARDS {
        let mut query = consent::consented_query(PurposeId::ProductUpdates, shard);
        loop {
            let page = platform.store.query(query.clone()).await?;
            let user_ids: Vec<String> = page
                .items
                .iter()
                .filter_map(|item| item.index(shared::store::Index::Gsi3))
                .map(|k| k.sk.clone())
                .collect();
            mail::enqueue_consented(
                platform.queue.as_ref(),
                &user_ids,
                PurposeId::ProductUpdates,
                subject,
                &update.text,
            )
            .await?;
            queued += user_ids.len();
            match page.cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
    }
    tracing::info!(queued, "product update queued");
    Ok((StatusCode::ACCEPTED, Json(Broadcast { queued })))
}
