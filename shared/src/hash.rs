//! Hashing helpers: how secrets (tokens) and personal identifiers that only need matching (a
//! recipient's e-mail) are written into keys and records, and stable shard numbers.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256.
pub fn sha256_hex(value: &[u8]) -> String {
    hex(&Sha256::digest(value))
}

/// Lower-case hex, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        // Writing into a String cannot fail.
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// A stable shard number for a value, the same on every machine and version.
pub fn shard_of(value: &str, shards: u32) -> u32 {
    let digest = Sha256::digest(value.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % shards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(hex(&[0, 10, 255]), "000aff");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn shards_are_stable() {
        assert_eq!(shard_of("USER#01J", 16), shard_of("USER#01J", 16));
        assert!(shard_of("x", 8) < 8);
    }
}
