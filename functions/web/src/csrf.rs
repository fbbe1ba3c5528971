//! CSRF protection for the pages' forms: a signed double-submit token. The browser holds a
//! random nonce in a `SameSite=Strict`, `HttpOnly` cookie; each form carries the nonce's HMAC
//! (`shared::signing`, its own derived key). Another site can neither read the cookie nor
//! forge the HMAC, so it cannot make a form post that passes.

use axum::http::HeaderMap;
use shared::signing::SigningKey;

use crate::i18n::cookie;

pub const CSRF_COOKIE: &str = "infentre_csrf";
/// The form field that carries the token.
pub const CSRF_FIELD: &str = "csrf";
const LIFETIME_SECONDS: u32 = 12 * 3600;

/// The token for this request's forms, and the cookie to set when the browser had none.
#[derive(Debug, Clone)]
pub struct Csrf {
    pub token: String,
    pub set_cookie: Option<String>,
}

fn valid_nonce(nonce: &str) -> bool {
    nonce.len() == 64 && nonce.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reuses the browser's nonce (several tabs stay valid) or makes one.
pub fn issue(headers: &HeaderMap, key: &SigningKey, secure: bool) -> Csrf {
    let signer = key.signer("csrf");
    if let Some(nonce) = cookie(headers, CSRF_COOKIE).filter(|n| valid_nonce(n)) {
        return Csrf { token: signer.sign(&[&nonce]), set_cookie: None };
    }
    let nonce = shared::hash::hex(&rand::random::<[u8; 32]>());
    let secure = if secure { "; Secure" } else { "" };
    let set_cookie =
        format!("{CSRF_COOKIE}={nonce}; Path=/; Max-Age={LIFETIME_SECONDS}; HttpOnly; SameSite=Strict{secure}");
    Csrf { token: signer.sign(&[&nonce]), set_cookie: Some(set_cookie) }
}

/// Whether a posted form's token belongs to the browser's nonce.
pub fn verify(headers: &HeaderMap, key: &SigningKey, token: &str) -> bool {
    cookie(headers, CSRF_COOKIE)
        .filter(|n| valid_nonce(n))
        .is_some_and(|nonce| key.signer("csrf").verify(&[&nonce], token))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    fn with_cookie(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
        headers
    }

    #[test]
    fn a_token_passes_only_with_its_own_cookie_and_key() {
        let key = SigningKey::generate();
        let first = issue(&HeaderMap::new(), &key, true);
        let cookie = first.set_cookie.clone().expect("a new browser gets a cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Secure"));
        let browser = with_cookie(&cookie);
        assert!(verify(&browser, &key, &first.token));

        let again = issue(&browser, &key, true);
        assert!(again.set_cookie.is_none(), "the nonce is reused");
        assert_eq!(again.token, first.token);

        let other = issue(&HeaderMap::new(), &key, true);
        assert!(!verify(&browser, &key, &other.token), "another browser's token");
        assert!(!verify(&HeaderMap::new(), &key, &first.token), "no cookie");
        assert!(!verify(&browser, &SigningKey::generate(), &first.token), "another key");
        assert!(!verify(&browser, &key, ""), "no token");
    }
}
