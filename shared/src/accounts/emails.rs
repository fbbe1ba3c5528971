//! The e-mails the account use cases send. All transactional: they need no consent. Links carry
//! their token in the query string (`token=...`); the privacy centre's pages post it back.

use crate::config::Settings;
use crate::mail::Email;

const TRANSACTIONAL: &str = "transactional";

fn email(to: &str, subject: &str, text: String) -> Email {
    Email {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text,
        html: None,
        headers: Vec::new(),
        category: TRANSACTIONAL.into(),
        organisation_id: None,
    }
}

pub fn verify_address(settings: &Settings, to: &str, token: &str) -> Email {
    let link = format!("{}/verify-email?token={token}", settings.public_base_url);
    email(
        to,
        "Verify your e-mail address",
        format!(
            "Welcome to Infentre.\n\nOpen this link within 24 hours to verify your e-mail address:\n{link}\n\nIf you did not sign up, ignore this e-mail: the account is erased after 7 days.\n"
        ),
    )
}

/// Sent instead of a verification when the address already has an account: the person who
/// signed up learns nothing, the owner learns that someone tried.
pub fn already_registered(to: &str) -> Email {
    email(
        to,
        "Someone tried to sign up with your address",
        "Someone tried to create an Infentre account with this e-mail address, which already has one.\n\nIf it was you, sign in instead. If not, you need do nothing: no second account was created.\n".into(),
    )
}

pub fn confirm_new_address(settings: &Settings, to: &str, token: &str) -> Email {
    let link = format!("{}/verify-email?token={token}", settings.public_base_url);
    email(
        to,
        "Confirm your new e-mail address",
        format!("Open this link within 24 hours to make this the e-mail address of your Infentre account:\n{link}\n"),
    )
}

pub fn address_change_requested(to: &str) -> Email {
    email(
        to,
        "Your e-mail address is being changed",
        "A change of your Infentre account's e-mail address was requested. It takes effect once the new address is confirmed.\n\nIf you did not ask for this, change your password.\n".into(),
    )
}

pub fn password_changed(to: &str) -> Email {
    email(
        to,
        "Your password was changed",
        "The password of your Infentre account was changed and every other session was signed out.\n\nIf you did not do this, contact your organisation's admin.\n".into(),
    )
}

pub fn invitation(settings: &Settings, to: &str, organisation_name: &str, token: &str) -> Email {
    let link = format!("{}/accept-invitation?token={token}", settings.public_base_url);
    email(
        to,
        "You are invited to Infentre",
        format!(
            "You are invited to join {organisation_name} on Infentre.\n\nOpen this link within 7 days to accept and choose a password:\n{link}\n"
        ),
    )
}

pub fn reset_password(settings: &Settings, to: &str, token: &str) -> Email {
    let link = format!("{}/reset-password/new?token={token}", settings.public_base_url);
    email(
        to,
        "Reset your password",
        format!(
            "Someone asked to reset the password of the Infentre account with this address.\n\nOpen this link within 1 hour to choose a new password (it works once):\n{link}\n\nIf it was not you, ignore this e-mail: your password stays as it is.\n"
        ),
    )
}
