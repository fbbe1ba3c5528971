//! Domain newtypes that can only hold valid values (parse, don't validate). Each `parse`
//! fails with an [`Invalid`]: a stable code and a sentence for the person who typed it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A value that breaks a domain rule: `code` is stable (`invalid_email`, `weak_password`, ...),
/// `detail` says what to change. The HTTP edge answers it with 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Invalid {
    pub code: &'static str,
    pub detail: Cow<'static, str>,
}

impl Invalid {
    pub fn new(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self { code, detail: detail.into() }
    }
}

/// An e-mail address: trimmed, domain in lower case, ASCII only (internationalised domains
/// in punycode), so look-alike characters cannot create a second account for "the same"
/// address. `canonical` (all lower case) is what uniqueness and lookups use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    display: String,
    canonical: String,
}

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let invalid = |why: &'static str| Invalid::new("invalid_email", why);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(invalid("The e-mail address is empty."));
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(invalid("The e-mail address is longer than 254 characters."));
        }
        if !trimmed.is_ascii() {
            return Err(invalid(
                "The e-mail address may only contain ASCII characters; write an internationalised domain in punycode (xn--).",
            ));
        }
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(invalid("The e-mail address has no @."));
        };
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
        if local.is_empty()
            || local.len() > 64
            || !local.chars().all(atext)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(invalid("The part before the @ is not a valid mailbox name."));
        }
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let tld_ok = labels.last().is_some_and(|tld| {
            tld.len() >= 2 && (tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--"))
        });
        if labels.len() < 2 || !labels.iter().all(label_ok) || !tld_ok {
            return Err(invalid("The domain of the e-mail address is not valid."));
        }
        let display = format!("{local}@{domain}");
        let canonical = display.to_ascii_lowercase();
        Ok(Self { display, canonical })
    }

    /// As the user wrote it (domain lower-cased): where e-mails go.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form that identifies the mailbox: lookups and uniqueness.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }
}

/// A new password: 12 to 128 characters, not the e-mail address.
#[derive(Clone)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

impl NewPassword {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str, email: Option<&EmailAddress>) -> Result<Self, Invalid> {
        let weak = |why: &'static str| Invalid::new("weak_password", why);
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(weak("The password must have at least 12 characters."));
        }
        if chars > Self::MAX_CHARS {
            return Err(weak("The password must have at most 128 characters."));
        }
        if raw.chars().any(char::is_control) {
            return Err(weak("The password must not contain control characters."));
        }
        if let Some(email) = email
            && (raw.trim().eq_ignore_ascii_case(email.canonical()) || raw.trim().eq_ignore_ascii_case(email.as_str()))
        {
            return Err(weak("The password must not be the e-mail address."));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// An organisation's name: 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationName(String);

impl OrganisationName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let invalid = |why: &'static str| Invalid::new("invalid_organisation_name", why);
        let name = raw.trim();
        if name.is_empty() {
            return Err(invalid("The organisation name is empty."));
        }
        if name.chars().count() > 100 {
            return Err(invalid("The organisation name is longer than 100 characters."));
        }
        if name.chars().any(|c| {
            c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        }) {
            return Err(invalid("The organisation name contains control or bidirectional formatting characters."));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

/// Where an organisation's data is processed, as chosen at signup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Region {
    #[default]
    Eu,
    NonEu,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised() {
        let email = EmailAddress::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace@example.com");
        assert_eq!(email.canonical(), "ada.lovelace@example.com");
        assert_eq!(EmailAddress::parse("a@xn--bcher-kva.example").unwrap().canonical(), "a@xn--bcher-kva.example");
    }

    #[test]
    fn invalid_and_look_alike_addresses_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@-x.com",
            "a..b@example.com",
            "a@exa mple.com",
            "аdmin@example.com", // Cyrillic а
            "admin@exаmple.com",
            "a@example.c0m",
            "a\n@example.com",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert_eq!(err.code, "invalid_email", "{bad:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_need_12_to_128_characters_and_not_the_address() {
        let email = EmailAddress::parse("someone@example.com").unwrap();
        assert!(NewPassword::parse("correct horse battery", Some(&email)).is_ok());
        assert!(NewPassword::parse("ǅǅǅǅǅǅǅǅǅǅǅǅ", None).is_ok(), "characters, not bytes");
        for bad in ["short", &"x".repeat(129), "SOMEONE@example.com", "twelve\u{0}chars!!"] {
            assert_eq!(NewPassword::parse(bad, Some(&email)).unwrap_err().code, "weak_password", "{bad:?}");
        }
    }

    #[test]
    fn organisation_names_are_trimmed_and_bounded() {
        assert_eq!(OrganisationName::parse("  Acme AB ").unwrap().as_str(), "Acme AB");
        for bad in ["", "   ", &"x".repeat(101), "Acme\u{202E}BA"] {
            assert!(OrganisationName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
