//! The e-mails the account use cases send. All transactional: they need no consent. Links carry
//! their token in the query string (`token=...`); the privacy centre's pages post it back.

use crate::config::Settings;
use crate::lang::Lang;
use crate::mail::Email;
use crate::mail::texts::text;

pub fn verify_address(settings: &Settings, to: &str, token: &str, lang: Lang) -> Email {
    let link = format!("{}/verify-email?token={token}", settings.public_base_url);
    Email::transactional(to, text(lang, "verify-subject", &[]), text(lang, "verify-body", &[("link", &link)]) + "\n")
}

pub fn password_changed(to: &str, lang: Lang) -> Email {
    Email::transactional(
        to,
        text(lang, "password-changed-subject", &[]),
        text(lang, "password-changed-body", &[]) + "\n",
    )
}

/// In the language of the admin who invites (the invitee has no account yet).
pub fn invitation(settings: &Settings, to: &str, organisation_name: &str, token: &str, lang: Lang) -> Email {
    let link = format!("{}/accept-invitation?token={token}", settings.public_base_url);
    let body = text(lang, "invitation-body", &[("organisation", organisation_name), ("link", &link)]);
    Email::transactional(to, text(lang, "invitation-subject", &[]), body + "\n")
}

pub fn reset_password(settings: &Settings, to: &str, token: &str, lang: Lang) -> Email {
    let link = format!("{}/reset-password/new?token={token}", settings.public_base_url);
    Email::transactional(to, text(lang, "reset-subject", &[]), text(lang, "reset-body", &[("link", &link)]) + "\n")
}

/// Sent instead of a verification when the address already has an account: the person who
/// signed up learns nothing, the owner learns that someone tried.
pub fn already_registered(to: &str, lang: Lang) -> Email {
    Email::transactional(
        to,
        text(lang, "already-registered-subject", &[]),
        text(lang, "already-registered-body", &[]) + "\n",
    )
}

pub fn confirm_new_address(settings: &Settings, to: &str, token: &str, lang: Lang) -> Email {
    let link = format!("{}/verify-email?token={token}", settings.public_base_url);
    Email::transactional(
        to,
        text(lang, "confirm-new-subject", &[]),
        text(lang, "confirm-new-body", &[("link", &link)]) + "\n",
    )
}

pub fn address_change_requested(to: &str, lang: Lang) -> Email {
    Email::transactional(
        to,
        text(lang, "change-requested-subject", &[]),
        text(lang, "change-requested-body", &[]) + "\n",
    )
}
