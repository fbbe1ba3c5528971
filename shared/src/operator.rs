//! What operators (the DPO and staff) read: complaints and the retention sweeper's reports,
//! newest first. Shared by the API and the operator desk. Open rights requests by deadline are
//! `rights::decisions::open_page`.

use serde::{Deserialize, Serialize};

use crate::Platform;
use crate::keys;
use crate::retention::{self, RetentionReport};
use crate::store::{Index, Query, StoreError};

/// A complaint as filed (`POST /v1/complaints`), kept with the complainant and erased with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct ComplaintEntry {
    pub id: String,
    /// The signed-in complainant (absent for a complaint from anyone, `POST /v1/public-complaints`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<String>,
    /// A complaint from anyone: the address to answer, and the name if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub message: String,
    pub status: String,
    /// RFC 3339.
    pub created_at: String,
}

/// One page of complaints, newest first.
pub async fn complaints_page(
    platform: &Platform,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<ComplaintEntry>, Option<String>), StoreError> {
    let query = Query::index(Index::Gsi3, keys::COMPLAINTS_LISTING).backward().limit(limit).cursor(cursor);
    let page = platform.store.query(query).await?;
    let complaints = page.items.iter().map(|item| item.data()).collect::<Result<_, _>>()?;
    Ok((complaints, page.cursor))
}

/// One page of the retention sweeper's reports, newest first.
pub async fn retention_reports_page(
    platform: &Platform,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<RetentionReport>, Option<String>), StoreError> {
    let page = platform.store.query(retention::reports_query().limit(limit).cursor(cursor)).await?;
    let reports = page.items.iter().map(|item| item.data()).collect::<Result<_, _>>()?;
    Ok((reports, page.cursor))
}
