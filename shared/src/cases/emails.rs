//! The answers to inbound messages, in the person's language. All transactional (an answer to
//! their own message): they need no consent.

use super::{Case, CaseKind};
use crate::clock::rfc3339_from_epoch;
use crate::config::Settings;
use crate::lang::Lang;
use crate::mail::Email;
use crate::mail::texts::text;

fn received_day(case: &Case) -> String {
    rfc3339_from_epoch(case.received_at).chars().take(10).collect()
}

/// Where a confirmation link opens.
pub fn confirmation_link(settings: &Settings, token: &str) -> String {
    format!("{}/confirm-request?token={token}", settings.public_base_url)
}

/// What confirming does, in the person's words.
pub fn action(lang: Lang, kind: CaseKind) -> String {
    text(lang, &format!("case-action-{}", kind.as_str()), &[])
}

/// The single-use link, to the account's own address.
pub fn confirm(settings: &Settings, to: &str, lang: Lang, case: &Case, token: &str, hours: i64, member: bool) -> Email {
    let link = confirmation_link(settings, token);
    let hours = hours.to_string();
    let action = action(lang, case.kind);
    let mut body = text(
        lang,
        "case-confirm-body",
        &[
            ("subject", &case.subject),
            ("received", &received_day(case)),
            ("action", &action),
            ("hours", &hours),
            ("link", &link),
        ],
    );
    if member && case.kind != CaseKind::WithdrawConsent {
        body = format!("{body}\n\n{}", text(lang, "case-member-note", &[]));
    }
    Email::transactional(to, text(lang, "case-confirm-subject", &[]), body + "\n").auto_reply()
}

/// To a known sender whose message is for an operator.
pub fn received(settings: &Settings, to: &str, lang: Lang, case: &Case) -> Email {
    let link = format!("{}/account", settings.public_base_url);
    let body = text(
        lang,
        "case-received-body",
        &[("subject", &case.subject), ("received", &received_day(case)), ("link", &link)],
    );
    Email::transactional(to, text(lang, "case-received-subject", &[]), body + "\n").auto_reply()
}

/// To a sender with no account: how to proceed.
pub fn unknown_sender(settings: &Settings, to: &str, lang: Lang, case: &Case) -> Email {
    let signin = format!("{}/sign-in", settings.public_base_url);
    let signup = format!("{}/sign-up", settings.public_base_url);
    let complaint = format!("{}/complaint", settings.public_base_url);
    let body = text(
        lang,
        "case-unknown-body",
        &[
            ("subject", &case.subject),
            ("received", &received_day(case)),
            ("signin", &signin),
            ("signup", &signup),
            ("complaint", &complaint),
            ("dpo", &settings.dpo.email),
            ("authority", &settings.supervisory_authority.name),
            ("authority_url", &settings.supervisory_authority.url),
        ],
    );
    Email::transactional(to, text(lang, "case-unknown-subject", &[]), body + "\n").auto_reply()
}

/// An operator's answer, with the case's id below it.
pub fn reply(to: &str, lang: Lang, case: &Case, message: &str) -> Email {
    let subject = format!("Re: {}", case.subject);
    let body = format!("{}\n\n{}\n", message.trim_end(), text(lang, "case-reply-footer", &[("id", &case.id)]));
    Email::transactional(to, subject, body).written_by_a_person()
}
