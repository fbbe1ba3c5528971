//! Password hashing: argon2id at OWASP's parameters (19 MiB, 2 iterations, 1 lane), on the
//! blocking pool so a hash never stalls the async runtime.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::AccountError;

/// OWASP Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    // The constants are valid parameters; `Params::new` only rejects out-of-range values.
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// An argon2id hash, at the parameters above, of a random password that nobody kept: verified
/// against when the e-mail is unknown, so a login takes as long whether or not the account
/// exists. A constant: hashing one at cold start added ~37 ms to the signup function's init
/// (benches/lambda_init.py). A test holds its parameters to the ones above.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$0quxZfQhMIMuQE3htICqdQ$7noJfo5q7vZ1H/n9Ikp6+g6lJ0tPbMrS2xnnWFNDjU4";

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    Ok(argon2().hash_password(password.as_bytes(), &salt)?.to_string())
}

pub async fn hash(password: &str) -> Result<String, AccountError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|err| AccountError::Hashing(err.to_string()))?
        .map_err(|err| AccountError::Hashing(err.to_string()))
}

/// Checks `password` against `stored` (or, if `None`, against the dummy hash, and fails).
pub async fn verify(password: &str, stored: Option<&str>) -> Result<bool, AccountError> {
    let password = password.to_owned();
    let known = stored.is_some();
    let stored = stored.unwrap_or(DUMMY_HASH).to_owned();
    let matches = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|err| AccountError::Hashing(err.to_string()))?;
    Ok(known && matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_at_owasp_parameters() {
        let stored = hash("correct horse battery staple").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        let parsed = PasswordHash::new(&stored).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        assert!(params.m_cost() >= 19 * 1024 && params.t_cost() >= 2 && params.p_cost() == 1);
    }

    #[tokio::test]
    async fn the_dummy_hash_costs_what_a_real_one_costs() {
        let real = hash("correct horse battery staple").await.unwrap();
        let (real, dummy) = (PasswordHash::new(&real).unwrap(), PasswordHash::new(DUMMY_HASH).unwrap());
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(Params::try_from(&dummy).unwrap(), Params::try_from(&real).unwrap(), "the same work to verify");
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
    }

    #[tokio::test]
    async fn verification_accepts_only_the_password() {
        let stored = hash("correct horse battery staple").await.unwrap();
        assert!(verify("correct horse battery staple", Some(&stored)).await.unwrap());
        assert!(!verify("correct horse battery stapler", Some(&stored)).await.unwrap());
        assert!(!verify("anything at all", None).await.unwrap(), "the dummy never matches");
    }
}
