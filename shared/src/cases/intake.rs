//! One intake for every inbound message, whichever way it came (SendGrid's Inbound Parse on
//! AWS, the inbox folder or `infentre inbox import` locally).
//!
//! The raw MIME message is parsed (attachments are never read out, never stored), becomes a
//! case, and the sender is answered: a known account gets a single-use confirmation link at
//! its own address (whoever forged the `From` never sees it), anyone else an answer saying how
//! to proceed. A provider's retry (the same `Message-ID`) makes no second case and no second
//! answer.

use super::{Case, CaseLink, CaseStatus, MAX_SUBJECT, MAX_TEXT, bounded, canonical, classify, emails};
use crate::Platform;
use crate::accounts::{self, EmailClaim, UserRecord};
use crate::domain::Role;
use crate::keys;
use crate::lang::Lang;
use crate::mail;
use crate::queue::QueueError;
use crate::store::{Condition, Index, Item, StoreError, TransactOp};
use crate::throttle::{MAIL_PER_RECIPIENT, ThrottleError};
use crate::tokens;
use serde::{Deserialize, Serialize};

/// The largest raw message taken in (SendGrid's raw field, an `.eml` file): larger ones are
/// refused whole, nothing stored.
pub const MAX_RAW_BYTES: usize = 5 * 1024 * 1024;

/// How long a confirmation link works.
pub const LINK_TTL_SECONDS: i64 = 24 * 3600;

/// How long a taken-in message's id is remembered against a provider's retries (SendGrid
/// retries for up to 3 days).
const SEEN_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// A message as it arrived.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// The whole RFC 5322 message.
    pub raw: Vec<u8>,
    /// When it reached us (unix seconds): the clock of a rights request starts here, never at
    /// the sender's own `Date`.
    pub received_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the message is larger than {MAX_RAW_BYTES} bytes")]
    TooLarge,
    #[error("the message is malformed: {0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub case_id: String,
    /// The same message came before: nothing new was stored or sent.
    pub duplicate: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Seen {
    case_id: String,
}

/// What intake reads of a message.
struct Parsed {
    sender: String,
    subject: String,
    text: String,
    message_id: Option<String>,
    /// Auto-replies and bounces get no answer (no mail loops).
    automatic: bool,
}

fn parse(raw: &[u8]) -> Result<Parsed, IntakeError> {
    if raw.len() > MAX_RAW_BYTES {
        return Err(IntakeError::TooLarge);
    }
    let message = mail_parser::MessageParser::default().parse(raw).ok_or(IntakeError::Malformed("no headers"))?;
    let sender = message
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
        .ok_or(IntakeError::Malformed("no sender address"))?;
    let sender = crate::domain::EmailAddress::parse(sender).map_err(|_| IntakeError::Malformed("invalid sender"))?;
    let subject = bounded(message.subject().unwrap_or_default().trim(), MAX_SUBJECT);
    // The first text part (or the HTML one as text); attachments are never read.
    let text = message.body_text(0).map(|t| bounded(t.trim(), MAX_TEXT)).unwrap_or_default();
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    let automatic = header("Auto-Submitted").is_some_and(|v| v != "no")
        || header("Precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply"))
        || sender.canonical().starts_with("mailer-daemon@")
        || sender.canonical().starts_with("postmaster@");
    Ok(Parsed {
        sender: sender.as_str().to_owned(),
        subject,
        text,
        message_id: message.message_id().map(str::to_owned),
        automatic,
    })
}

/// A guess of an unknown sender's language: Swedish letters in what they wrote.
fn language_of(parsed: &Parsed) -> Lang {
    let swedish = |s: &str| s.chars().any(|c| matches!(c, 'å' | 'ä' | 'ö' | 'Å' | 'Ä' | 'Ö'));
    if swedish(&parsed.subject) || swedish(&parsed.text) { Lang::Sv } else { Lang::En }
}

/// The verified account that owns the address, if any, and not being erased (nothing new is
/// filed under a person whose erasure has started).
async fn owner(platform: &Platform, sender: &str) -> Result<Option<UserRecord>, StoreError> {
    let Some(claim) = platform.store.get(&EmailClaim::key(&canonical(sender))).await? else { return Ok(None) };
    let claim: EmailClaim = claim.data()?;
    let Some(user) = accounts::find_user(platform, &claim.user_id).await?.filter(|user| user.email_verified) else {
        return Ok(None);
    };
    let fenced = crate::erasure::fence::any(platform, &[&user.user_id, &user.organisation_id]).await?.is_some();
    Ok((!fenced).then_some(user))
}

/// Takes one message in: a case, and an answer to the sender.
#[tracing::instrument(skip_all)]
pub async fn intake(platform: &Platform, message: InboundMessage) -> Result<Taken, IntakeError> {
    // The sender's account may start being erased between the check of its fences and the
    // write: then the message is taken in once more, as from an unknown sender (the fence
    // stands from then on).
    match take_in(platform, &message).await? {
        Some(taken) => Ok(taken),
        // The second time the account is seen fenced, so nothing is guarded; should it still
        // come back empty, the webhook answers 503 and the sender's service retries.
        None => take_in(platform, &message).await?.ok_or(IntakeError::Store(StoreError::Throttled)),
    }
}

/// [`intake`] once; `None` when the sender's account was fenced meanwhile.
async fn take_in(platform: &Platform, message: &InboundMessage) -> Result<Option<Taken>, IntakeError> {
    let parsed = parse(&message.raw)?;
    let now = platform.clock.epoch_seconds();
    // A message without an id is known by its content.
    let seen_hash = crate::hash::sha256_hex(parsed.message_id.as_deref().map_or(&message.raw[..], str::as_bytes));
    let seen_key = keys::inbound_message(&seen_hash);
    if let Some(seen) = platform.store.get(&seen_key).await? {
        let seen: Seen = seen.data()?;
        return Ok(Some(Taken { case_id: seen.case_id, duplicate: true }));
    }

    let user = owner(platform, &parsed.sender).await?;
    let kind = classify(&parsed.subject, &parsed.text);
    // Each answer is unasked mail to that address, counted as the others are: a flood of
    // forged messages cannot turn us into a flood of mail.
    let recipient = user.as_ref().map_or(parsed.sender.as_str(), |u| u.email.as_str());
    let answered = !parsed.automatic
        && match MAIL_PER_RECIPIENT.count(platform, &canonical(recipient)).await {
            Ok(()) => true,
            Err(ThrottleError::Limited { .. }) => false,
            Err(ThrottleError::Store(err)) => return Err(err.into()),
        };
    let wants_link = user.is_some() && kind.confirmable() && answered;
    let mut case = Case {
        id: ulid::Ulid::new().to_string(),
        sender: parsed.sender.clone(),
        subject: parsed.subject.clone(),
        received_at: message.received_at.min(now),
        suggested_kind: kind,
        kind,
        text: parsed.text.clone(),
        status: if wants_link { CaseStatus::AwaitingConfirmation } else { CaseStatus::Open },
        user_id: user.as_ref().map(|u| u.user_id.clone()),
        organisation_id: user.as_ref().map(|u| u.organisation_id.clone()),
        rights_request_id: None,
        outcome: None,
        closed_at: None,
        history: Vec::new(),
        version: 0,
    };
    case.record(now, "received", "intake", Some(kind.as_str().to_owned()));
    if let Some(user) = &user {
        case.record(now, "linked", "intake", Some(user.user_id.clone()));
    }

    let mut ops = vec![TransactOp::Put {
        item: Item::new(seen_key, "inbound_message")
            .with_data(&Seen { case_id: case.id.clone() })?
            .expires_at(now + SEEN_TTL_SECONDS),
        condition: Some(Condition::NotExists),
    }];
    let mut answer = None;
    match (&user, wants_link) {
        (Some(user), true) => {
            let token = tokens::generate();
            let token_hash = crate::hash::sha256_hex(token.as_bytes());
            let link = CaseLink { case_id: case.id.clone(), user_id: user.user_id.clone() };
            ops.push(TransactOp::Put {
                item: Item::new(keys::case_link(&token_hash), "case_link")
                    .with_data(&link)?
                    .with_index(Index::Gsi1, keys::case_link_index(&user.user_id, &token_hash))
                    .expires_at(now + LINK_TTL_SECONDS),
                condition: Some(Condition::NotExists),
            });
            case.record(now, "link_mailed", "intake", None);
            let member = user.role != Role::Admin;
            // To the account's address, not to whatever the message claimed to be from.
            answer = Some(emails::confirm(
                &platform.settings,
                &user.email,
                user.lang,
                &case,
                &token,
                LINK_TTL_SECONDS / 3600,
                member,
            ));
        }
        (Some(user), false) if answered => {
            answer = Some(emails::received(&platform.settings, &user.email, user.lang, &case));
        }
        (None, _) if answered => {
            answer = Some(emails::unknown_sender(&platform.settings, &case.sender, language_of(&parsed), &case));
        }
        _ => {}
    }
    ops.push(TransactOp::Put {
        item: case.item(platform.settings.case_retention_days)?,
        condition: Some(Condition::NotExists),
    });
    // Nothing filed under a person whose erasure began since `owner` looked.
    let first_guard = ops.len();
    if let Some(user) = &user {
        ops.extend([&user.user_id, &user.organisation_id].map(|id| crate::erasure::fence::guard(id)));
    }
    match platform.store.transact(ops).await {
        Ok(()) => {}
        // The same message, taken in by a concurrent delivery.
        Err(StoreError::ConditionFailed { operation: Some(0) }) => {
            let case_id = match platform.store.get(&keys::inbound_message(&seen_hash)).await? {
                Some(seen) => seen.data::<Seen>()?.case_id,
                None => String::new(),
            };
            return Ok(Some(Taken { case_id, duplicate: true }));
        }
        Err(StoreError::ConditionFailed { operation: Some(op) }) if op >= first_guard => return Ok(None),
        Err(err) => return Err(err.into()),
    }
    if let Some(answer) = answer {
        mail::enqueue(platform, vec![answer]).await?;
    }
    // Ids and kinds only: the sender and the text stay out of the logs.
    tracing::info!(case_id = %case.id, kind = kind.as_str(), linked = user.is_some(), answered, "inbound message taken in");
    Ok(Some(Taken { case_id: case.id, duplicate: false }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_without_a_sender_is_malformed_and_an_oversized_one_too_large() {
        assert!(matches!(parse(b"Subject: hi\r\n\r\nbody"), Err(IntakeError::Malformed(_))));
        assert!(matches!(parse(b""), Err(IntakeError::Malformed(_))));
        let big = vec![b'a'; MAX_RAW_BYTES + 1];
        assert!(matches!(parse(&big), Err(IntakeError::TooLarge)));
    }

    #[test]
    fn attachments_are_not_read_and_texts_are_bounded() {
        let raw = format!(
            "From: Anna <anna@example.com>\r\nSubject: {}\r\nMessage-ID: <1@example.com>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n\
             --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"x.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nU0VDUkVUQVRUQUNITUVOVA==\r\n--b--\r\n",
            "s".repeat(500),
            "t".repeat(MAX_TEXT + 10)
        );
        let parsed = parse(raw.as_bytes()).unwrap();
        assert_eq!(parsed.sender, "anna@example.com");
        assert_eq!(parsed.subject.chars().count(), MAX_SUBJECT);
        assert_eq!(parsed.text.chars().count(), MAX_TEXT);
        assert!(!parsed.text.contains("SECRETATTACHMENT") && !parsed.text.contains("U0VDUkVU"));
        assert!(!parsed.automatic);
    }

    /// A notice we send to a DPO whose address is hello@ comes back to the intake: it must be
    /// taken as automatic (no answer), or every notice would start an exchange of answers.
    #[cfg(any(feature = "embedded", feature = "smtp"))]
    #[test]
    fn what_we_send_is_not_answered_when_it_comes_back() {
        let from: lettre::message::Mailbox = "Infentre <no-reply@infentre.test>".parse().unwrap();
        let notice = crate::mail::Email::transactional("hello@infentre.test", "A deadline is near", "Request 1\n");
        let raw =
            crate::mail::mime::message(&from, &notice, chrono::Utc::now(), "1", "infentre.test").unwrap().formatted();
        assert!(parse(&raw).unwrap().automatic, "{}", String::from_utf8_lossy(&raw));
        let person = notice.written_by_a_person();
        let raw =
            crate::mail::mime::message(&from, &person, chrono::Utc::now(), "2", "infentre.test").unwrap().formatted();
        assert!(!parse(&raw).unwrap().automatic, "an operator's own answer is a person's mail");
    }

    #[test]
    fn auto_replies_are_recognised() {
        let raw = b"From: a@example.com\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nAway";
        assert!(parse(raw).unwrap().automatic);
    }
}
