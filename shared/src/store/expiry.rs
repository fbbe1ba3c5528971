//! The expiry index (GSI2), which the store port keeps for every item with a time to live:
//! each such item is filed under the day it expires, spread over [`EXPIRY_SHARDS`] partitions,
//! so the retention sweeper finds what has expired by querying a few partitions per day
//! instead of scanning the table.

use chrono::{DateTime, Utc};

use crate::hash::shard_of;

/// Shards per expiry day: keeps the index under DynamoDB's per-partition write rate
/// (1,000 writes/s) when a busy day writes many expiring items.
pub const EXPIRY_SHARDS: u32 = 16;

/// The expiry index partition of an item that expires at `expires_at` (unix seconds).
pub fn partition(expires_at: i64, pk: &str) -> String {
    let day = DateTime::<Utc>::from_timestamp(expires_at, 0).unwrap_or(DateTime::<Utc>::MAX_UTC).format("%Y-%m-%d");
    format!("EXPIRES#{day}#{}", shard_of(pk, EXPIRY_SHARDS))
}

/// Every expiry partition of one day, for the sweeper.
pub fn partitions_of_day(day: chrono::NaiveDate) -> impl Iterator<Item = String> {
    let day = day.format("%Y-%m-%d").to_string();
    (0..EXPIRY_SHARDS).map(move |shard| format!("EXPIRES#{day}#{shard}"))
}

/// The expiry index sort key: zero-padded seconds sort as numbers do.
pub fn sort_key(expires_at: i64) -> String {
    format!("{:012}", expires_at.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_is_the_day_and_a_stable_shard() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z").unwrap().timestamp();
        let partition = partition(at, "USER#01J");
        assert!(partition.starts_with("EXPIRES#2026-11-29#"), "{partition}");
        assert_eq!(partition, super::partition(at + 60, "USER#01J"));
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        assert!(partitions_of_day(day).any(|p| p == partition));
    }

    #[test]
    fn sort_keys_sort_as_numbers() {
        assert!(sort_key(999) < sort_key(1_000));
        assert_eq!(sort_key(-5), sort_key(0));
    }
}
