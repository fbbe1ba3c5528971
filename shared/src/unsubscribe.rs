//! One-click unsubscribe (RFC 8058): signed links naming a user and an e-mail purpose. The
//! mail pipeline adds `List-Unsubscribe` and `List-Unsubscribe-Post` with [`headers`]; the
//! consent function's `POST /v1/unsubscribe?token=` withdraws that purpose at once, and the
//! link in the e-mail's body opens the web page `/unsubscribe?token=`, whose button does the
//! same (a GET never does: mail scanners prefetch links).

use crate::Platform;
use crate::config::Settings;
use crate::consent::{self, Method, PurposeId, RecordError};
use crate::signing::SigningKey;

/// Links keep working for a year: people unsubscribe from old e-mails too.
pub const LIFETIME_SECONDS: i64 = 365 * 24 * 3600;

fn signer(key: &SigningKey) -> crate::signing::Signer {
    key.signer("unsubscribe")
}

/// The e-mail purposes a link may withdraw.
pub fn is_email_purpose(purpose: PurposeId) -> bool {
    matches!(purpose, PurposeId::ProductUpdates | PurposeId::InactivityReminders)
}

pub fn token(key: &SigningKey, user_id: &str, purpose: PurposeId, now: i64) -> String {
    let expires = (now + LIFETIME_SECONDS).to_string();
    let signature = signer(key).sign(&[user_id, purpose.as_str(), &expires]);
    format!("v1.{user_id}.{}.{expires}.{signature}", purpose.as_str())
}

/// The user and purpose of a valid, unexpired link; `None` for anything else.
pub fn verify(key: &SigningKey, token: &str, now: i64) -> Option<(String, PurposeId)> {
    if token.len() > 256 {
        return None;
    }
    let mut parts = token.split('.');
    let (Some("v1"), Some(user_id), Some(purpose), Some(expires), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if !signer(key).verify(&[user_id, purpose, expires], signature) {
        return None;
    }
    let purpose = PurposeId::parse(purpose).filter(|p| is_email_purpose(*p))?;
    (expires.parse::<i64>().ok()? > now).then(|| (user_id.to_owned(), purpose))
}

/// The link for the e-mail's body (the page), and the RFC 8058 headers (the one-click POST).
pub fn headers(settings: &Settings, user_id: &str, purpose: PurposeId, now: i64) -> (String, Vec<(String, String)>) {
    let token = token(&settings.signing_key, user_id, purpose, now);
    let base = &settings.public_base_url;
    let headers = vec![
        ("List-Unsubscribe".to_owned(), format!("<{base}/v1/unsubscribe?token={token}>")),
        ("List-Unsubscribe-Post".to_owned(), "List-Unsubscribe=One-Click".to_owned()),
    ];
    (format!("{base}/unsubscribe?token={token}"), headers)
}

/// Withdraws the purpose a valid link names; `None` for a forged, altered or expired link.
/// An erased account has nothing to withdraw: nothing is written that would bring it back.
pub async fn withdraw(platform: &Platform, token: &str) -> Result<Option<PurposeId>, RecordError> {
    let now = platform.clock.epoch_seconds();
    let Some((user_id, purpose)) = verify(&platform.settings.signing_key, token, now) else { return Ok(None) };
    if crate::accounts::find_user(platform, &user_id).await?.is_some() {
        match consent::record(platform, &user_id, purpose, false, Method::UnsubscribeLink).await {
            // Its erasure started meanwhile (the fence refused the write): nothing to withdraw.
            Ok(_) | Err(RecordError::Erased) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Some(purpose))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_names_its_user_and_purpose_until_it_expires() {
        let key = SigningKey::generate();
        let token = token(&key, "01JUSER", PurposeId::ProductUpdates, 1_000);
        assert_eq!(verify(&key, &token, 2_000), Some(("01JUSER".to_owned(), PurposeId::ProductUpdates)));
        assert_eq!(verify(&key, &token, 1_000 + LIFETIME_SECONDS), None, "expired");
        assert_eq!(verify(&SigningKey::generate(), &token, 2_000), None, "another deployment's key");
        let other_user = token.replace("01JUSER", "01JOTHER");
        assert_eq!(verify(&key, &other_user, 2_000), None);
        let other_purpose = token.replace("product_updates", "inactivity_reminders");
        assert_eq!(verify(&key, &other_purpose, 2_000), None);
        assert_eq!(verify(&key, "v1.a.b.c.d.e", 0), None);
    }

    #[test]
    fn only_email_purposes_get_links() {
        let key = SigningKey::generate();
        let token = token(&key, "u", PurposeId::MarketingSharing, 0);
        assert_eq!(verify(&key, &token, 1), None);
    }
}
