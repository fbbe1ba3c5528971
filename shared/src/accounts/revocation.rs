//! Revoking a user's pending single-use links (address changes, reset links) when their
//! password changes, by a reset or from the settings.

use super::{AccountError, TokenKind, TokenRecord};
use crate::Platform;
use crate::keys;
use crate::store::{BatchOp, Index, Query, SortKey, query_all};

/// Deletes the user's pending tokens of these kinds; returns how many.
pub(crate) async fn revoke_tokens(
    platform: &Platform,
    user_id: &str,
    kinds: &[TokenKind],
) -> Result<usize, AccountError> {
    let query = Query::index(Index::Gsi1, keys::subject_index(user_id))
        .sort(SortKey::BeginsWith(keys::TOKEN_INDEX_PREFIX.into()))
        .limit(1_000);
    let mut deletes = Vec::new();
    for item in query_all(platform.store.as_ref(), query).await? {
        let token: TokenRecord = item.data()?;
        if kinds.contains(&token.kind) {
            deletes.push(BatchOp::Delete(item.key));
        }
    }
    let count = deletes.len();
    platform.store.batch_write(deletes).await?;
    Ok(count)
}
