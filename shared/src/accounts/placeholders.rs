//! When a person is erased, their id in other people's records (their organisation's
//! membership history, the history of its members' rights requests, and the requests and
//! cases an operator acted on) becomes a placeholder of their role, such as `erased admin`: the
//! record keeps what happened and in which role, and nothing that leads to the person.

use super::records::UserRecord;
use crate::Platform;
use crate::domain::Role;
use crate::keys;
use crate::rights::{self, RightsRequest};
use crate::store::{Condition, Index, Query, StoreError, Update, query_all};
use crate::store::{IndexKey, Item, Key};

/// What stands for an erased person in a history.
pub fn placeholder(role: Role) -> &'static str {
    match role {
        Role::Admin => "erased admin",
        Role::Member => "erased member",
    }
}

pub const ERASED_OPERATOR: &str = "erased operator";

/// Notes that an operator acted on a request (an extension, a resolution, a recorded letter)
/// or a case (`keys::operator_case_act`), so their id can be found there when they are
/// erased. In their erasure registry (the subject index), so it goes with them. Written
/// before the act: a marker without an act changes nothing.
pub async fn note_operator_act(platform: &Platform, operator_id: &str, record: &str) -> Result<(), StoreError> {
    let item = Item::new(Key::new(keys::operator_acts(operator_id), record), "operator_act")
        .with_index(Index::Gsi1, IndexKey::new(keys::subject_index(operator_id), format!("ACT#{record}")));
    platform.store.put(item, None).await
}

/// Replaces the person's id in the histories they appear in; returns how many records changed.
/// Run by the erasure job's first step (fenced, they can act no more), while their account
/// record still names their role and organisation.
pub async fn erase_from_histories(platform: &Platform, user: &UserRecord) -> Result<usize, StoreError> {
    let mut changed = membership_history(platform, user).await?;
    let organisation = Query::index(Index::Gsi1, keys::organisation_rights(&user.organisation_id)).limit(1_000);
    let mut requests = Vec::new();
    for item in query_all(platform.store.as_ref(), organisation).await? {
        requests.push(item.data::<RightsRequest>()?.id);
    }
    // An operator acts on every organisation's requests: each act left a marker.
    let acts = Query::partition(keys::operator_acts(&user.user_id)).limit(1_000);
    for marker in query_all(platform.store.as_ref(), acts).await? {
        // Cases are rewritten by `cases::forget_operator`.
        if marker.key.sk.starts_with(&keys::operator_case_act("")) {
            continue;
        }
        if !requests.contains(&marker.key.sk) {
            requests.push(marker.key.sk);
        }
    }
    for id in requests {
        if rewrite_request(platform, &id, user).await? {
            changed += 1;
        }
    }
    Ok(changed)
}

async fn membership_history(platform: &Platform, user: &UserRecord) -> Result<usize, StoreError> {
    let query = Query::partition(keys::membership_history(&user.organisation_id)).limit(1_000);
    let mut changed = 0;
    for item in query_all(platform.store.as_ref(), query).await? {
        // Read by attribute (the event's type lives with the password use cases).
        let text = |name: &str| item.attrs.get(name).and_then(|v| v.as_str()).unwrap_or_default();
        let mut update = Update::new();
        if text("by") == user.user_id {
            // Only admins change the membership.
            update = update.set("by", placeholder(Role::Admin));
        }
        if text("subject") == user.user_id {
            let role = match text("from_role") {
                "admin" => Role::Admin,
                "member" => Role::Member,
                _ => user.role,
            };
            update = update.set("subject", placeholder(role));
        }
        if update != Update::new() {
            platform.store.update(&item.key, &item.entity_type, update, Some(Condition::Exists)).await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Rewrites one request's history (under its version; read again if it changed meanwhile).
async fn rewrite_request(platform: &Platform, id: &str, user: &UserRecord) -> Result<bool, StoreError> {
    let as_admin = format!("admin:{}", user.user_id);
    let as_operator = format!("operator:{}", user.user_id);
    for _attempt in 0..3 {
        let Some(mut request) = rights::load(platform, id).await? else { return Ok(false) };
        // Their own requests are erased with them, or kept anonymous by the erasure itself.
        if request.is_requester(&user.user_id) {
            return Ok(false);
        }
        let mut touched = false;
        for entry in &mut request.history {
            if entry.by == as_admin {
                entry.by = placeholder(Role::Admin).to_owned();
                touched = true;
            } else if entry.by == as_operator {
                entry.by = ERASED_OPERATOR.to_owned();
                touched = true;
            }
        }
        if !touched {
            return Ok(false);
        }
        // Only the request itself changes (not its lock or place in the open list, which
        // belong to its status), under its version.
        let read_version = request.version;
        request.version += 1;
        match platform.store.put(request.item()?, Some(Condition::equals("version", read_version))).await {
            Ok(()) => return Ok(true),
            Err(err) if err.is_condition_failed() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Invalid("a rights request kept changing while its history was rewritten".into()))
}
