//! The DPO is told once when a rights request is 7 days from its deadline, once when it is
//! past it. The flags live on the request's entry in the open list, set conditionally, so a
//! second run (or two at once) sends nothing twice; an extension makes a new entry, with new
//! alerts for the new deadline.

use shared::Platform;
use shared::mail::{self, Email};
use shared::rights;
use shared::store::{Condition, Update, query_all};

use crate::RunError;

const SOON_SECONDS: i64 = 7 * 24 * 3600;

pub async fn send(platform: &Platform, now: i64) -> Result<usize, RunError> {
    let entries = query_all(platform.store.as_ref(), rights::open_query(Some(now + SOON_SECONDS)).limit(200)).await?;
    let mut sent = 0;
    for entry in entries {
        let Some(id) = entry.attrs.get("request_id").and_then(|v| v.as_str()).map(str::to_owned) else { continue };
        let Some(request) = rights::load(platform, &id).await? else {
            // Erased with its requester: its entry goes too.
            rights::drop_open_entry(platform, &entry.key).await?;
            continue;
        };
        let (flag, what) = if request.due_at <= now {
            ("alerted_overdue", "is OVERDUE")
        } else {
            ("alerted_due_soon", "is due within 7 days")
        };
        if entry.attrs.contains_key(flag) {
            continue;
        }
        let once = Condition::And(vec![Condition::Exists, Condition::AttributeNotExists(flag.into())]);
        match platform.store.update(&entry.key, "rights_request_open", Update::new().set(flag, true), Some(once)).await
        {
            Ok(_) => {}
            Err(err) if err.is_condition_failed() => continue,
            Err(err) => return Err(err.into()),
        }
        let notice = Email::transactional(
            platform.settings.dpo.email.clone(),
            format!("Rights request {id} {what}"),
            format!(
                "The {} request {id} of organisation {} {what}: due {}, status {:?}.\n\n{}/v1/rights-requests/{id}\n",
                request.kind.as_str(),
                request.organisation_id,
                shared::clock::rfc3339_from_epoch(request.due_at),
                request.status,
                platform.settings.public_base_url
            ),
        );
        mail::enqueue(platform, vec![notice]).await?;
        sent += 1;
    }
    Ok(sent)
}
