//! A sender or recipient as mail headers and provider APIs want it: an optional display name
//! and a bare address, kept apart (SendGrid refuses `"Infentre <no-reply@…>"` as an address).

use crate::domain::EmailAddress;

/// `no-reply@infentre.com` or `Infentre <no-reply@infentre.com>` (the name may be quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    name: Option<String>,
    address: EmailAddress,
}

impl Mailbox {
    /// Display names longer than this are refused (RFC 5322 lines stay short).
    pub const MAX_NAME_LEN: usize = 100;

    /// Parses either form; the error says what is wrong, for a configuration message.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (name, address) = match raw.strip_suffix('>') {
            Some(rest) => {
                let (name, address) =
                    rest.rsplit_once('<').ok_or_else(|| "a '>' without its '<' around the address".to_owned())?;
                (Some(name.trim()), address)
            }
            None if raw.contains(['<', '>']) => return Err("write the address inside <…>, at the end".into()),
            None => (None, raw),
        };
        let address = EmailAddress::parse(address).map_err(|err| err.detail.to_string())?;
        let name = match name {
            None => None,
            Some(name) => {
                let unquoted = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).unwrap_or(name).trim();
                if unquoted.is_empty() {
                    return Err("the display name before <…> is empty".into());
                }
                if unquoted.chars().count() > Self::MAX_NAME_LEN {
                    return Err(format!("the display name is longer than {} characters", Self::MAX_NAME_LEN));
                }
                if unquoted.chars().any(|c| c.is_control() || matches!(c, '"' | '<' | '>' | '\\')) {
                    return Err("the display name has a control character, a quote, '<', '>' or '\\'".into());
                }
                Some(unquoted.to_owned())
            }
        };
        Ok(Self { name, address })
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The bare address, as the user or operator wrote it (domain lower-cased).
    pub fn address(&self) -> &str {
        self.address.as_str()
    }
}

#[cfg(any(feature = "embedded", feature = "smtp"))]
impl Mailbox {
    /// The same mailbox for lettre's message builder (outbox files and SMTP).
    pub(crate) fn to_lettre(&self) -> Result<lettre::message::Mailbox, super::MailError> {
        let address = self
            .address()
            .parse::<lettre::Address>()
            .map_err(|_| super::MailError::Rejected("the sender address is invalid".into()))?;
        Ok(lettre::message::Mailbox::new(self.name.clone(), address))
    }
}

/// The header form: `"Name" <address>`, quoted whenever the name has RFC 5322 specials.
impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            None => f.write_str(self.address()),
            Some(name) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') => {
                write!(f, "{name} <{}>", self.address())
            }
            Some(name) => write!(f, "\"{name}\" <{}>", self.address()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_sender_splits_into_name_and_address() {
        let mailbox = Mailbox::parse("Infentre <no-reply@infentre.com>").unwrap();
        assert_eq!(mailbox.name(), Some("Infentre"));
        assert_eq!(mailbox.address(), "no-reply@infentre.com");
        assert_eq!(mailbox.to_string(), "Infentre <no-reply@infentre.com>");
    }

    #[test]
    fn bare_and_quoted_forms_parse() {
        let bare = Mailbox::parse(" no-reply@Infentre.COM ").unwrap();
        assert_eq!((bare.name(), bare.address()), (None, "no-reply@infentre.com"));
        let quoted = Mailbox::parse("\"Infentre, Privacy\" <privacy@infentre.com>").unwrap();
        assert_eq!(quoted.name(), Some("Infentre, Privacy"));
        assert_eq!(quoted.to_string(), "\"Infentre, Privacy\" <privacy@infentre.com>");
        let unicode = Mailbox::parse("Infentre Sverige AB – Support <support@infentre.se>").unwrap();
        assert_eq!(unicode.name(), Some("Infentre Sverige AB – Support"));
    }

    #[test]
    fn malformed_senders_are_refused() {
        for bad in [
            "",
            "Infentre",
            "Infentre <no-reply@infentre.com",
            "Infentre no-reply@infentre.com>",
            "<no-reply@infentre.com> Infentre",
            " <no-reply@infentre.com>",
            "\"\" <no-reply@infentre.com>",
            "In\r\nBcc: x@y.com <no-reply@infentre.com>",
            "Infentre <not an address>",
            "Infentre <a@b.com>, Other <c@d.com>",
        ] {
            assert!(Mailbox::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
