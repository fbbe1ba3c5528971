//! Every key of the single table is formatted here and nowhere else: partition and sort
//! keys, index keys, and the prefixes that queries match.
//!
//! Layout (the DynamoDB Book's single-table design):
//! - `PK`/`SK`: the item's home partition and its place in it.
//! - `GSI1PK`/`GSI1SK`: an alternate access path (by subject, by token, ...).
//! - `GSI2PK`/`GSI2SK`: the expiry index, kept by the store port itself (`store::expiry`).
//! - `GSI3PK`/`GSI3SK`: time-ordered listings (activity, deadlines).
//!
//! Segments are separated by `#`; ids (ULIDs, hex hashes, Stripe ids) never contain it.

use crate::hash::{sha256_hex, shard_of};
use crate::store::{IndexKey, Key};

/// Time-ordered sort keys: zero-padded seconds sort as numbers do.
fn padded(seconds: i64) -> String {
    format!("{:012}", seconds.max(0))
}

// ---- Accounts and organisations -------------------------------------------------------------

/// Everything about one user lives in their partition (or carries `GSI1PK = SUBJECT#<id>`,
/// see [`subject_index`]): that is how erasure and the access export find it.
pub fn user_partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

pub fn user(user_id: &str) -> Key {
    Key::new(user_partition(user_id), "PROFILE")
}

pub fn organisation(organisation_id: &str) -> Key {
    Key::new(format!("ORG#{organisation_id}"), "ORG")
}

/// GSI1 partition listing an organisation's members, in order of joining (ULIDs sort by time).
pub fn organisation_members(organisation_id: &str) -> String {
    format!("ORG#{organisation_id}#MEMBERS")
}

pub fn member_sort(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// GSI1 partition listing an organisation's open invitations.
pub fn organisation_invitations(organisation_id: &str) -> String {
    format!("ORG#{organisation_id}#INVITATIONS")
}

/// An organisation's membership history (role changes, removals, revoked invitations), oldest
/// first: ids and roles only.
pub fn membership_history(organisation_id: &str) -> String {
    format!("ORG#{organisation_id}#MEMBERSHIP")
}

pub fn membership_event(organisation_id: &str, at: i64, id: &str) -> Key {
    Key::new(membership_history(organisation_id), format!("{}#{id}", padded(at)))
}

/// Markers of the records an operator acted on (rights requests by id, cases as `CASE#<id>`),
/// so their id can be found there when they are erased.
pub fn operator_acts(operator_id: &str) -> String {
    format!("OPERATOR_ACTS#{operator_id}")
}

/// The sort key of an operator's marker on a case (a request's is its bare id).
pub fn operator_case_act(case_id: &str) -> String {
    format!("CASE#{case_id}")
}

/// GSI1 partition of the items about a user that live outside their partition (sessions,
/// tokens, the e-mail uniqueness claim).
pub fn subject_index(user_id: &str) -> String {
    format!("SUBJECT#{user_id}")
}

/// The claim on an e-mail address; keyed by a hash so keys never show the address.
pub fn email_claim(canonical_email: &str) -> Key {
    Key::new(format!("EMAIL#{}", sha256_hex(canonical_email.as_bytes())), "EMAIL")
}

/// The claim's entry in its owner's subject index.
pub const EMAIL_CLAIM_INDEX_SORT: &str = "EMAIL";

/// A single-use token (verification, invitation, e-mail change), keyed by its hash.
pub fn token(token_hash: &str) -> Key {
    Key::new(format!("TOKEN#{token_hash}"), "TOKEN")
}

/// A token's entry in its user's subject index, or its organisation's invitations
/// ([`TOKEN_INDEX_PREFIX`] finds them all).
pub fn token_index(partition: String, token_hash: &str) -> IndexKey {
    IndexKey::new(partition, format!("{TOKEN_INDEX_PREFIX}{token_hash}"))
}

pub const TOKEN_INDEX_PREFIX: &str = "TOKEN#";

/// A session, keyed by the hash of its token: a stolen table reveals no usable token.
pub fn session(token_hash: &str) -> Key {
    Key::new(format!("SESSION#{token_hash}"), "SESSION")
}

/// A session's entry in its user's subject index ([`SESSION_INDEX_PREFIX`] finds them all).
pub fn session_index(user_id: &str, token_hash: &str) -> IndexKey {
    IndexKey::new(subject_index(user_id), format!("{SESSION_INDEX_PREFIX}{token_hash}"))
}

pub const SESSION_INDEX_PREFIX: &str = "SESSION#";

// ---- Consent --------------------------------------------------------------------------------

/// The current state of one purpose for a user.
pub fn consent_state(user_id: &str, purpose: &str) -> Key {
    Key::new(user_partition(user_id), format!("{CONSENT_STATE_PREFIX}{purpose}"))
}

pub const CONSENT_STATE_PREFIX: &str = "CONSENT#STATE#";

/// One ledger entry (receipt) of a user's consent.
pub fn consent_ledger(user_id: &str, receipt_id: &str) -> Key {
    Key::new(user_partition(user_id), format!("{CONSENT_LEDGER_PREFIX}{receipt_id}"))
}

pub const CONSENT_LEDGER_PREFIX: &str = "CONSENT#LOG#";

/// Shards of the "who consented to this purpose" index (GSI3).
pub const CONSENTED_SHARDS: u32 = 8;

pub fn consented(purpose: &str, shard: u32) -> String {
    format!("CONSENTED#{purpose}#{shard}")
}

/// A visitor's (not signed in) cookie choices: state and ledger, in one partition.
pub fn visitor_partition(visitor_id: &str) -> String {
    format!("VISITOR#{visitor_id}")
}

pub fn visitor_cookie_state(visitor_id: &str) -> Key {
    Key::new(visitor_partition(visitor_id), "COOKIE#STATE")
}

pub fn visitor_cookie_ledger(visitor_id: &str, receipt_id: &str) -> Key {
    Key::new(visitor_partition(visitor_id), format!("COOKIE#LOG#{receipt_id}"))
}

/// Both of a visitor's cookie items.
pub const VISITOR_COOKIE_PREFIX: &str = "COOKIE#";

// ---- Usage events ---------------------------------------------------------------------------

/// Usage events are spread over this many partitions per user, so one busy account stays under
/// DynamoDB's 1,000 writes/s per partition and its erasure reads several partitions at once.
pub const USAGE_EVENT_SHARDS: u32 = 8;

/// One of a user's usage-event partitions.
pub fn usage_events(user_id: &str, shard: u32) -> String {
    format!("USER#{user_id}#EVENTS#{shard}")
}

/// A usage event's sort key: time-ordered, unique by the event id.
pub fn usage_event_sort(occurred_at_ms: i64, event_id: &str) -> String {
    format!("EVENT#{:015}#{event_id}", occurred_at_ms.max(0))
}

// ---- E-mail interactions of organisations' recipients -------------------------------------

/// Shards of an organisation's interaction index (GSI1), for write rate and erasure.
pub const INTERACTION_SHARDS: u32 = 8;

/// One recipient's interactions with an organisation's e-mails; the recipient is the hash
/// of their normalised address.
pub fn recipient_interactions(organisation_id: &str, recipient_hash: &str) -> String {
    format!("ORG#{organisation_id}#RECIPIENT#{recipient_hash}")
}

pub fn interaction_sort(timestamp: i64, sg_event_id: &str) -> String {
    format!("EVENT#{:012}#{sg_event_id}", timestamp.max(0))
}

/// An interaction's entry in its organisation's index.
pub fn organisation_interaction(
    organisation_id: &str,
    shard: u32,
    recipient_hash: &str,
    sg_event_id: &str,
) -> IndexKey {
    IndexKey::new(organisation_interactions(organisation_id, shard), format!("{recipient_hash}#{sg_event_id}"))
}

/// GSI1 partition listing every interaction of an organisation (to erase them with it).
pub fn organisation_interactions(organisation_id: &str, shard: u32) -> String {
    format!("ORG#{organisation_id}#INTERACTIONS#{shard}")
}

/// Invoices of an organisation (ids, amounts, dates), kept under the bookkeeping law.
pub fn organisation_invoices(organisation_id: &str) -> String {
    format!("ORG#{organisation_id}#INVOICES")
}

/// Recipients an organisation's admin had erased: their interactions are no longer stored or synced.
pub fn suppression(organisation_id: &str, recipient_hash: &str) -> Key {
    Key::new(organisation_suppressions(organisation_id), format!("RECIPIENT#{recipient_hash}"))
}

pub fn organisation_suppressions(organisation_id: &str) -> String {
    format!("ORG#{organisation_id}#SUPPRESSIONS")
}

/// An invoice kept under the bookkeeping law, in its organisation's partition (or, when
/// Stripe named no organisation, an unassigned one).
pub fn invoice(organisation_id: Option<&str>, invoice_id: &str) -> Key {
    let partition = match organisation_id {
        Some(organisation_id) => organisation_invoices(organisation_id),
        None => "INVOICES#UNASSIGNED".to_owned(),
    };
    Key::new(partition, format!("INVOICE#{invoice_id}"))
}

/// A Stripe event already handled (deduplication).
pub fn stripe_event(event_id: &str) -> Key {
    Key::new(format!("STRIPE_EVENT#{event_id}"), "SEEN")
}

/// A throttling counter for one fixed window.
pub fn throttle(scope: &str, subject_hash: &str, window: i64) -> Key {
    Key::new(throttle_partition(scope, subject_hash), format!("WINDOW#{window}"))
}

/// Every window of one throttled subject (erasure deletes the partition).
pub fn throttle_partition(scope: &str, subject_hash: &str) -> String {
    format!("THROTTLE#{scope}#{subject_hash}")
}

/// Shards of the activity index (GSI3 on the user item): users by the day they were last
/// active, so the reminder job reads one day's users, never the whole table.
pub const ACTIVITY_SHARDS: u32 = 8;

pub fn activity(day: chrono::NaiveDate, user_id: &str) -> IndexKey {
    IndexKey::new(format!("ACTIVE#{}#{}", day.format("%Y-%m-%d"), shard_of(user_id, ACTIVITY_SHARDS)), user_id)
}

pub fn activity_partitions_of_day(day: chrono::NaiveDate) -> impl Iterator<Item = String> {
    let day = day.format("%Y-%m-%d").to_string();
    (0..ACTIVITY_SHARDS).map(move |shard| format!("ACTIVE#{day}#{shard}"))
}

/// Which destinations already received one shared event (a redelivery skips them).
pub fn marketing_sent(event_id: &str) -> Key {
    Key::new(format!("MARKETING#{}", sha256_hex(event_id.as_bytes())), "SENT")
}

/// An e-mail waiting for the mail worker: the queue message carries only this id, so a
/// message stuck in a dead-letter queue holds no address (`shared::mail::enqueue`).
pub fn outgoing_mail(mail_id: &str) -> Key {
    Key::new(format!("MAIL#{mail_id}"), "MAIL")
}

/// GSI1 partition of the e-mails waiting for one address (erasure deletes them); keyed by a
/// hash so keys never show the address.
pub fn outgoing_mail_partition(canonical_email: &str) -> String {
    format!("MAILTO#{}", sha256_hex(canonical_email.as_bytes()))
}

pub fn outgoing_mail_index(canonical_email: &str, mail_id: &str) -> IndexKey {
    IndexKey::new(outgoing_mail_partition(canonical_email), format!("MAIL#{mail_id}"))
}

/// A usage event waiting for the tracking worker, in the user's partition (erased with them):
/// the tracking messages carry only the user's and the event's ids.
pub fn pending_event(user_id: &str, event_id: &str) -> Key {
    Key::new(user_partition(user_id), format!("PENDING_EVENT#{event_id}"))
}

/// An event waiting for the marketing worker, in the sharing user's partition (erased with
/// them): the marketing messages carry only the user's and the event's ids.
pub fn marketing_event(user_id: &str, event_id: &str) -> Key {
    Key::new(user_partition(user_id), format!("MARKETING_EVENT#{event_id}"))
}

/// An idempotency record: the scope names the operation (worker, endpoint), the key is a
/// hash of what identifies one invocation.
pub fn idempotency(scope: &str, key_hash: &str) -> Key {
    Key::new(format!("IDEMPOTENCY#{scope}#{key_hash}"), "IDEMPOTENCY")
}

// ---- Rights requests, complaints, exports ----------------------------------------------------

pub fn rights_request(id: &str) -> Key {
    Key::new(format!("RIGHTS#{id}"), "REQUEST")
}

/// The lock that allows one open request per type and person.
pub fn open_rights_lock(user_id: &str, kind: &str) -> Key {
    Key::new(user_partition(user_id), format!("OPEN_RIGHTS#{kind}"))
}

/// The operators' list of open requests, ordered by deadline (overdue = a range query).
pub const OPEN_RIGHTS_PARTITION: &str = "RIGHTS_OPEN";

pub fn open_rights_entry(due_at: i64, id: &str) -> Key {
    Key::new(OPEN_RIGHTS_PARTITION, open_rights_sort(due_at, id))
}

fn open_rights_sort(due_at: i64, id: &str) -> String {
    format!("{}#{id}", padded(due_at))
}

/// Below this sort key are the entries due before `at` (the overdue ones).
pub fn open_rights_due_before(at: i64) -> String {
    padded(at)
}

pub fn organisation_rights(organisation_id: &str) -> String {
    format!("ORG#{organisation_id}#RIGHTS")
}

pub fn user_rights(user_id: &str) -> String {
    format!("USER#{user_id}#RIGHTS")
}

pub fn complaint(user_id: &str, id: &str) -> Key {
    Key::new(user_partition(user_id), format!("COMPLAINT#{id}"))
}

/// A complaint from someone without a session, filed under a hash of their address.
pub fn public_complaint(address_canonical: &str, id: &str) -> Key {
    Key::new(public_complaints_of(address_canonical), format!("COMPLAINT#{id}"))
}

/// The partition of the complaints filed without a session from one address: erasure finds
/// them by the address of the account it erases.
pub fn public_complaints_of(address_canonical: &str) -> String {
    format!("COMPLAINANT#{}", sha256_hex(address_canonical.as_bytes()))
}

/// Every complaint, newest last (GSI3), for operators.
pub const COMPLAINTS_LISTING: &str = "COMPLAINTS";

/// An export file's record, in its owner's partition, keyed by the file (the sweeper reads
/// the file back with [`export_file`]).
pub fn export_record(user_id: &str, blob_key: &str) -> Key {
    Key::new(user_partition(user_id), format!("EXPORT#{blob_key}"))
}

pub fn export_file(record: &Key) -> Option<&str> {
    record.sk.strip_prefix("EXPORT#")
}

// ---- The platform's own bookkeeping ----------------------------------------------------------

/// The fence of an erased or being-erased subject (a user or an organisation), keyed by the
/// hash of its id: every write about the subject checks that it is absent.
pub fn erasure_fence(subject_id: &str) -> Key {
    Key::new(format!("FENCE#{}", sha256_hex(subject_id.as_bytes())), "FENCE")
}

/// One erasure job: its target while it runs, its checkpoint and its progress.
pub fn erasure_job(job_id: &str) -> Key {
    Key::new(format!("ERASURE_JOB#{job_id}"), "JOB")
}

/// What a marketing destination was told about an erasure (Art. 19), in the job's partition.
pub fn recipient_erasure(job_id: &str, destination: &str) -> Key {
    Key::new(format!("ERASURE_JOB#{job_id}"), format!("RECIPIENT#{destination}"))
}

/// An erase call (Art. 19) that failed and waits for the retention sweeper to queue it again.
pub fn erase_call(job_id: &str) -> Key {
    Key::new(format!("ERASURE_JOB#{job_id}"), "ERASE_CALL")
}

/// GSI1 partition of the erase calls waiting to be queued again, sorted by when they are due,
/// so the sweeper reads the due ones with one query (not a scan).
pub const ERASE_CALLS_DUE: &str = "ERASE_CALLS_DUE";

pub fn erase_call_due(due_at: i64, job_id: &str) -> IndexKey {
    IndexKey::new(ERASE_CALLS_DUE, format!("{}#{job_id}", erase_call_due_sort(due_at)))
}

/// Zero-padded, so the index sorts by time.
pub fn erase_call_due_sort(due_at: i64) -> String {
    format!("{:012}", due_at.max(0))
}

/// A rights request waiting on an erasure job it did not start (another erasure of the same
/// person was under way): the job hands it back too when it completes.
pub fn erasure_waiting(job_id: &str, request_id: &str) -> Key {
    Key::new(format!("ERASURE_JOB#{job_id}"), format!("{ERASURE_WAITING_PREFIX}{request_id}"))
}

pub const ERASURE_WAITING_PREFIX: &str = "WAITING#";

/// Open erasure jobs (GSI1), oldest first: the sweeper finishes those nobody is running.
pub const OPEN_ERASURE_JOBS: &str = "ERASURE_JOBS_OPEN";

pub fn open_erasure_job(started_at: i64, job_id: &str) -> IndexKey {
    IndexKey::new(OPEN_ERASURE_JOBS, format!("{}#{job_id}", padded(started_at)))
}

/// The retention runs' reports, oldest first.
pub const RETENTION_REPORTS_PARTITION: &str = "RETENTION_REPORTS";

pub fn retention_report(started_at: i64, id: &str) -> Key {
    Key::new(RETENTION_REPORTS_PARTITION, format!("{}#{id}", padded(started_at)))
}

pub fn sweeper_checkpoint() -> Key {
    Key::new("SWEEPER", "CHECKPOINT")
}

/// The lease that lets one retention run at a time.
pub fn sweeper_lease() -> Key {
    Key::new("SWEEPER", "LEASE")
}

pub fn reminders_checkpoint() -> Key {
    Key::new("REMINDERS", "CHECKPOINT")
}

// ---- Cases of the hello@ channel -------------------------------------------------------------

/// One case: an inbound message on the operator desk.
pub fn case(case_id: &str) -> Key {
    Key::new(format!("CASE#{case_id}"), "CASE")
}

/// GSI1 partition of the cases sent from one address (keyed by its hash): erasure finds a
/// person's cases by their address even when no account was linked.
pub fn cases_of_sender(canonical_email: &str) -> String {
    format!("CASES#SENDER#{}", sha256_hex(canonical_email.as_bytes()))
}

/// GSI1 partition of the cases linked to an account.
pub fn cases_of_user(user_id: &str) -> String {
    format!("USER#{user_id}#CASES")
}

/// The operators' listing of cases in one status (GSI3), newest last.
pub fn cases_in_status(status: &str) -> String {
    format!("CASES#{status}")
}

pub fn case_listing_sort(received_at: i64, case_id: &str) -> String {
    format!("{}#{case_id}", padded(received_at))
}

/// A message already taken in (by the hash of its Message-ID): a provider's retry makes no
/// second case.
pub fn inbound_message(message_id_hash: &str) -> Key {
    Key::new(format!("INBOUND#{message_id_hash}"), "SEEN")
}

/// A case's single-use confirmation link, keyed by the hash of its token.
pub fn case_link(token_hash: &str) -> Key {
    Key::new(format!("CASE_LINK#{token_hash}"), "LINK")
}

/// The link's entry in its account's subject index (erased with the person). Not under
/// [`TOKEN_INDEX_PREFIX`]: those entries decode as account tokens.
pub fn case_link_index(user_id: &str, token_hash: &str) -> IndexKey {
    IndexKey::new(subject_index(user_id), format!("CASE_LINK#{token_hash}"))
}

// ---- Broadcasts (service notices, product updates) -------------------------------------------

/// A broadcast job and its per-recipient markers share one partition.
pub fn broadcast_partition(job_id: &str) -> String {
    format!("BROADCAST#{job_id}")
}

pub fn broadcast_job(job_id: &str) -> Key {
    Key::new(broadcast_partition(job_id), "JOB")
}

/// GSI1 partition of the broadcast jobs not yet completed (the sweeper resumes stalled ones).
pub const OPEN_BROADCAST_JOBS: &str = "BROADCAST_JOBS_OPEN";

/// "This job mailed this recipient": keyed by a hash of the pair, so it holds no user id.
pub fn broadcast_sent(job_id: &str, user_id: &str) -> Key {
    Key::new(broadcast_partition(job_id), format!("SENT#{}", sha256_hex(format!("{job_id}:{user_id}").as_bytes())))
}

/// Shards of the listing of every organisation (GSI3), which a broadcast to all users reads.
pub const ORGANISATION_SHARDS: u32 = 8;

pub fn organisations_listing(shard: u32) -> String {
    format!("ORGANISATIONS#{shard}")
}

pub fn organisation_listed(organisation_id: &str) -> IndexKey {
    IndexKey::new(
        organisations_listing(shard_of(organisation_id, ORGANISATION_SHARDS)),
        format!("ORG#{organisation_id}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_records_give_back_their_file() {
        let record = export_record("01J", "exports/01J/a.json");
        assert_eq!(export_file(&record), Some("exports/01J/a.json"));
        assert_eq!(export_file(&user("01J")), None);
    }

    #[test]
    fn deadlines_sort_as_numbers() {
        assert!(open_rights_sort(999, "b") < open_rights_sort(1_000, "a"));
        assert_eq!(open_rights_sort(-5, "x"), open_rights_sort(0, "x"));
        assert!(open_rights_sort(999, "z") < open_rights_due_before(1_000));
        assert!(open_rights_sort(1_000, "a") > open_rights_due_before(1_000), "due now is not overdue yet");
    }
}
