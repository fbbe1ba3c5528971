//! Every key of the single table is formatted here and nowhere else.
//!
//! Layout (the DynamoDB Book's single-table design):
//! - `PK`/`SK`: the item's home partition and its place in it.
//! - `GSI1PK`/`GSI1SK`: an alternate access path (by subject, by token, ...).
//! - `GSI2PK`/`GSI2SK`: the expiry index. Every item with a TTL is filed under the day it
//!   expires, spread over [`EXPIRY_SHARDS`] partitions, so the retention sweeper finds what
//!   has expired by querying a few partitions per day instead of scanning the table.
//! - `GSI3PK`/`GSI3SK`: time-ordered listings (activity, deadlines).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Shards per expiry day: keeps the index under DynamoDB's per-partition write rate
/// (1,000 writes/s) when a busy day writes many expiring items.
pub const EXPIRY_SHARDS: u32 = 16;

/// The characters that separate key segments; ids and other parts must not contain it.
pub const SEPARATOR: char = '#';

// ---- Accounts and organisations -------------------------------------------------------------

/// Everything about one user lives in their partition (or carries `GSI1PK = SUBJECT#<id>`,
/// see [`subject_index`]): that is how erasure and the access export find it.
pub fn user_partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

pub fn user(user_id: &str) -> (String, String) {
    (user_partition(user_id), "PROFILE".to_owned())
}

pub fn organisation(organisation_id: &str) -> (String, String) {
    (format!("ORG#{organisation_id}"), "ORG".to_owned())
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

/// GSI1 partition of the items about a user that live outside their partition (sessions,
/// tokens, the e-mail uniqueness claim).
pub fn subject_index(user_id: &str) -> String {
    format!("SUBJECT#{user_id}")
}

/// The claim on an e-mail address; keyed by a hash so keys never show the address.
pub fn email_claim(canonical_email: &str) -> (String, String) {
    (format!("EMAIL#{}", sha256_hex(canonical_email.as_bytes())), "EMAIL".to_owned())
}

/// A single-use token (verification, invitation, e-mail change), keyed by its hash.
pub fn token(token_hash: &str) -> (String, String) {
    (format!("TOKEN#{token_hash}"), "TOKEN".to_owned())
}

/// A session, keyed by the hash of its token: a stolen table reveals no usable token.
pub fn session(token_hash: &str) -> (String, String) {
    (format!("SESSION#{token_hash}"), "SESSION".to_owned())
}

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

/// GSI1 partition listing every interaction of an organisation (to erase them with it).
pub fn organisation_interactions(organisation_id: &str, shard: u32) -> String {
    format!("ORG#{organisation_id}#INTERACTIONS#{shard}")
}

/// Invoices of an organisation (ids, amounts, dates), kept under the bookkeeping law.
pub fn organisation_invoices(organisation_id: &str) -> String {
    format!("ORG#{organisation_id}#INVOICES")
}

/// Recipients an organisation's admin had erased: their interactions are no longer stored or synced.
pub fn suppression(organisation_id: &str, recipient_hash: &str) -> (String, String) {
    (format!("ORG#{organisation_id}#SUPPRESSIONS"), format!("RECIPIENT#{recipient_hash}"))
}

pub fn organisation_suppressions(organisation_id: &str) -> String {
    format!("ORG#{organisation_id}#SUPPRESSIONS")
}

/// Shards of the "who consented to this purpose" index (GSI3).
pub const CONSENTED_SHARDS: u32 = 8;

pub fn consented(purpose: &str, shard: u32) -> String {
    format!("CONSENTED#{purpose}#{shard}")
}

/// A throttling counter for one fixed window.
pub fn throttle(scope: &str, subject_hash: &str, window: i64) -> (String, String) {
    (format!("THROTTLE#{scope}#{subject_hash}"), format!("WINDOW#{window}"))
}

/// Shards of the activity index (GSI3 on the user item): users by the day they were last
/// active, so the reminder job reads one day's users, never the whole table.
pub const ACTIVITY_SHARDS: u32 = 8;

pub fn activity(day: chrono::NaiveDate, user_id: &str) -> (String, String) {
    (format!("ACTIVE#{}#{}", day.format("%Y-%m-%d"), shard_of(user_id, ACTIVITY_SHARDS)), user_id.to_owned())
}

pub fn activity_partitions_of_day(day: chrono::NaiveDate) -> impl Iterator<Item = String> {
    let day = day.format("%Y-%m-%d").to_string();
    (0..ACTIVITY_SHARDS).map(move |shard| format!("ACTIVE#{day}#{shard}"))
}

/// Which destinations already received one shared event (a redelivery skips them).
pub fn marketing_sent(event_id: &str) -> (String, String) {
    (format!("MARKETING#{}", sha256_hex(event_id.as_bytes())), "SENT".to_owned())
}

/// An idempotency record: the scope names the operation (worker, endpoint), the key is a
/// hash of what identifies one invocation.
pub fn idempotency(scope: &str, key_hash: &str) -> (String, String) {
    (format!("IDEMPOTENCY#{scope}#{key_hash}"), "IDEMPOTENCY".to_owned())
}

/// The expiry index partition of an item that expires at `expires_at` (unix seconds).
pub fn expiry_partition(expires_at: i64, pk: &str) -> String {
    let day = DateTime::<Utc>::from_timestamp(expires_at, 0).unwrap_or(DateTime::<Utc>::MAX_UTC).format("%Y-%m-%d");
    format!("EXPIRES#{day}#{}", shard_of(pk, EXPIRY_SHARDS))
}

/// Every expiry partition of one day, for the sweeper.
pub fn expiry_partitions_of_day(day: chrono::NaiveDate) -> impl Iterator<Item = String> {
    let day = day.format("%Y-%m-%d").to_string();
    (0..EXPIRY_SHARDS).map(move |shard| format!("EXPIRES#{day}#{shard}"))
}

/// The expiry index sort key: zero-padded seconds sort as numbers do.
pub fn expiry_sort_key(expires_at: i64) -> String {
    format!("{:012}", expires_at.max(0))
}

/// A stable shard number for a partition key, the same on every machine and version.
pub fn shard_of(value: &str, shards: u32) -> u32 {
    let digest = Sha256::digest(value.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % shards
}

/// Lower-case hex SHA-256: how secrets (tokens) and personal identifiers that only need
/// matching (a recipient's e-mail) are written into keys.
pub fn sha256_hex(value: &[u8]) -> String {
    hex(&Sha256::digest(value))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_partition_is_the_day_and_a_stable_shard() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z").unwrap().timestamp();
        let partition = expiry_partition(at, "USER#01J");
        assert!(partition.starts_with("EXPIRES#2026-11-29#"), "{partition}");
        assert_eq!(partition, expiry_partition(at + 60, "USER#01J"));
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        assert!(expiry_partitions_of_day(day).any(|p| p == partition));
    }

    #[test]
    fn expiry_sort_keys_sort_as_numbers() {
        assert!(expiry_sort_key(999) < expiry_sort_key(1_000));
        assert_eq!(expiry_sort_key(-5), expiry_sort_key(0));
    }

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(hex(&[0, 10, 255]), "000aff");
    }
}
