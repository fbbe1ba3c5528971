//! Opaque secrets handed to users (session tokens, single-use links): 256 random bits,
//! base64url. Only their SHA-256 is ever stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A fresh token; the caller shows it once and stores [`hash`] of it.
pub fn generate() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What is stored in place of a token. Refuses what cannot be one of ours before hashing.
pub fn hash(token: &str) -> Option<String> {
    let plausible = token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then(|| crate::hash::sha256_hex(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_only_plausible_ones_hash() {
        let token = generate();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert_ne!(generate(), token);
        assert_eq!(hash(&token).unwrap().len(), 64);
        assert!(hash("short").is_none());
        assert!(hash(&format!("{}!", &token[..42])).is_none());
    }
}
