//! HMAC-SHA256 signatures for links we hand out (export downloads, unsubscribe links).
//! Each use has its own derived key, so a signature made for one can never pass for another.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The deployment's signing secret; at least 32 bytes.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the signing key must be at least 32 bytes")]
pub struct WeakKey;

impl SigningKey {
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, WeakKey> {
        let secret = secret.into();
        if secret.len() < 32 {
            return Err(WeakKey);
        }
        Ok(Self(secret))
    }

    /// A fresh random key (for tests, and the local server's first start).
    pub fn generate() -> Self {
        Self(rand::random::<[u8; 32]>().to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The signer for one use (`"export"`, `"unsubscribe"`, ...).
    pub fn signer(&self, purpose: &str) -> Signer {
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"infentre-signing-v1:");
        mac.update(purpose.as_bytes());
        Signer(mac.finalize().into_bytes().to_vec())
    }
}

#[derive(Clone)]
pub struct Signer(Vec<u8>);

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    fn mac(&self, parts: &[&str]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        for part in parts {
            // Length-prefixed, so ("ab","c") and ("a","bc") sign differently.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().to_vec()
    }

    pub fn sign(&self, parts: &[&str]) -> String {
        crate::hash::hex(&self.mac(parts))
    }

    pub fn verify(&self, parts: &[&str], signature: &str) -> bool {
        let expected = self.sign(parts);
        expected.as_bytes().ct_eq(signature.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_the_parts_and_the_purpose() {
        let key = SigningKey::generate();
        let export = key.signer("export");
        let sig = export.sign(&["a/b.json", "1700000000"]);
        assert!(export.verify(&["a/b.json", "1700000000"], &sig));
        assert!(!export.verify(&["a/b.json", "1700000001"], &sig));
        assert!(!export.verify(&["a/b.jso", "n1700000000"], &sig));
        assert!(!key.signer("unsubscribe").verify(&["a/b.json", "1700000000"], &sig));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(SigningKey::new(vec![0u8; 31]).is_err());
    }
}
