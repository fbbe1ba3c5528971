//! Configuration, read and checked once at start: a missing or invalid setting stops the
//! start with a message naming it, never a request later.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::mail::mailbox::Mailbox;
use crate::signing::SigningKey;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where settings come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name))
    }
}

pub struct Environment;

impl Source for Environment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for std::collections::HashMap<&str, &str> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).map(|v| (*v).to_owned())
    }
}

/// The notice's version and date (GDPR Art. 7(1): consent is recorded against them): the
/// version line of `privacy-notice.md` (a web test keeps the two equal).
pub const DEFAULT_POLICY_VERSION: &str = "2026-11-30";

/// The controller and DPO contacts the notice names, when not configured.
pub const DEFAULT_CONTROLLER_ADDRESS: &str = "Infentre AB, Malmskillnadsgatan 32, 111 51 Stockholm, Sweden";
pub const DEFAULT_DPO_ADDRESS: &str =
    "Data Protection Officer, Infentre AB, Malmskillnadsgatan 32, 111 51 Stockholm, Sweden";
pub const DEFAULT_CONTACT_EMAIL: &str = "hello@infentre.com";

/// The sender when `INFENTRE_MAIL_FROM` is not set.
pub const DEFAULT_MAIL_FROM: &str = "Infentre <no-reply@infentre.com>";

/// Settings every engine needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address users reach the API at; links in e-mails and exports start with it.
    pub public_base_url: String,
    /// Operators (the DPO and staff), by normalised e-mail address.
    pub operators: Vec<String>,
    pub signing_key: SigningKey,
    /// Our sender (`INFENTRE_MAIL_FROM`), name and address apart.
    pub mail_from: Mailbox,
    /// The privacy notice's version: consents are recorded against it, and purposes marked
    /// "ask again" stop counting when it changes.
    pub policy_version: String,
    /// The notice's date (RFC 3339 date).
    pub policy_date: String,
    pub controller: Party,
    pub dpo: Party,
    /// Where users may complain (GDPR Art. 77): Sweden's IMY unless configured.
    pub supervisory_authority: SupervisoryAuthority,
    /// SendGrid's Event Webhook verification key (`INFENTRE_SENDGRID_WEBHOOK_PUBLIC_KEY`,
    /// base64 DER). Without it the webhook refuses every request. Only the tracking function,
    /// which serves the webhook, has it (and links P-256 for it).
    #[cfg(feature = "sendgrid-webhook")]
    pub sendgrid_webhook_key: Option<p256::ecdsa::VerifyingKey>,
    /// Stripe's webhook endpoint secret (`whsec_...`); without it the webhook refuses events.
    pub stripe_webhook_secret: Option<String>,
    /// How long invoices are kept: years after the end of their fiscal year.
    pub bookkeeping: Bookkeeping,
    /// Users inactive this many days get one reminder, with consent (`INFENTRE_INACTIVITY_DAYS`).
    pub inactivity_days: i64,
    /// Whether consented usage is queued for Google Analytics and Facebook
    /// (`INFENTRE_MARKETING_SYNC=on`); off, nothing is queued for them at all.
    pub marketing_sync: bool,
    /// Usage events one user may have stored per UTC day (`INFENTRE_EVENTS_PER_USER_DAY`,
    /// default 10,000); over it, `POST /v1/events` answers 429 with `Retry-After`.
    pub events_per_user_day: i64,
    /// Cookie choices one client address may post per hour
    /// (`INFENTRE_COOKIE_CONSENTS_PER_CLIENT_HOUR`, default 1,000); over it,
    /// `POST /v1/cookie-consents` answers 429 with `Retry-After`.
    pub cookie_consents_per_client_hour: i64,
    /// How long the local outbox folder keeps sent e-mails (`INFENTRE_OUTBOX_RETENTION_HOURS`,
    /// default 72); the retention sweep deletes older ones, an erasure the person's at once.
    pub outbox_retention_hours: i64,
    /// The web origins (`https://host[:port]`) whose pages may post cookie choices to
    /// `/v1/cookie-consents` from the browser (`INFENTRE_COOKIE_CONSENT_ORIGINS`,
    /// comma-separated): Infentre's own website and app that embed the banner.
    pub cookie_consent_origins: Vec<String>,
    /// Days a closed case of the hello@ channel is kept (`INFENTRE_CASE_RETENTION_DAYS`,
    /// default 365).
    pub case_retention_days: i64,
    /// The verification key of the Inbound Parse webhook's security policy
    /// (`INFENTRE_SENDGRID_INBOUND_PUBLIC_KEY`): when set, unsigned inbound mail is refused.
    /// Served by the tracking function, like the event webhook.
    #[cfg(feature = "sendgrid-webhook")]
    pub sendgrid_inbound_key: Option<p256::ecdsa::VerifyingKey>,
    /// The controller's telephone number (`INFENTRE_CONTROLLER_PHONE`), which a Kantara v1.1
    /// receipt must carry; empty when none is configured.
    pub controller_phone: String,
}

/// The bookkeeping law's retention: Sweden's Bokföringslagen (1999:1078) 7 kap. 2 § keeps
/// accounting records until the end of the seventh year after the end of the fiscal year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bookkeeping {
    /// The last day of the fiscal year, (month, day).
    pub fiscal_year_end: (u32, u32),
    pub years: i32,
    pub legal_basis: String,
}

impl Bookkeeping {
    /// The day an invoice of `date` may be purged: `years` after the end of its fiscal year.
    pub fn purge_after(&self, date: chrono::NaiveDate) -> chrono::NaiveDate {
        use chrono::Datelike;
        let (month, day) = self.fiscal_year_end;
        let end_in = |year: i32| {
            chrono::NaiveDate::from_ymd_opt(year, month, day)
                .or_else(|| chrono::NaiveDate::from_ymd_opt(year, month, day - 1))
                .unwrap_or(chrono::NaiveDate::MAX)
        };
        let fiscal_end = if date <= end_in(date.year()) { end_in(date.year()) } else { end_in(date.year() + 1) };
        end_in(fiscal_end.year() + self.years)
    }
}

/// The supervisory authority a user may complain to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct SupervisoryAuthority {
    pub name: String,
    pub address: String,
    pub email: String,
    pub url: String,
}

/// A party named in the privacy notice.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Party {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub address: String,
    pub email: String,
}

impl Settings {
    /// `signing_key` comes from the engine: a secret parameter in AWS, a key file locally.
    pub fn from_source(
        source: &dyn Source,
        public_base_url: String,
        signing_key: SigningKey,
    ) -> Result<Self, ConfigError> {
        let public_base_url = public_base_url.trim_end_matches('/').to_owned();
        if !(public_base_url.starts_with("https://") || public_base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "INFENTRE_PUBLIC_BASE_URL",
                reason: "must be an http(s) URL".into(),
            });
        }
        let operators = source
            .get("INFENTRE_OPERATORS")
            .unwrap_or_default()
            .split(',')
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect::<Vec<_>>();
        if let Some(bad) = operators.iter().find(|e| !e.contains('@')) {
            return Err(ConfigError::Invalid {
                name: "INFENTRE_OPERATORS",
                reason: format!("{bad:?} is not an e-mail address"),
            });
        }
        let mail_from = source.get("INFENTRE_MAIL_FROM").unwrap_or_else(|| DEFAULT_MAIL_FROM.into());
        let mail_from =
            Mailbox::parse(&mail_from).map_err(|reason| ConfigError::Invalid { name: "INFENTRE_MAIL_FROM", reason })?;
        let policy_version = source.get("INFENTRE_POLICY_VERSION").unwrap_or_else(|| DEFAULT_POLICY_VERSION.into());
        let policy_date = source.get("INFENTRE_POLICY_DATE").unwrap_or_else(|| DEFAULT_POLICY_VERSION.into());
        if chrono::NaiveDate::parse_from_str(&policy_date, "%Y-%m-%d").is_err() {
            return Err(ConfigError::Invalid {
                name: "INFENTRE_POLICY_DATE",
                reason: "must be a date, YYYY-MM-DD".into(),
            });
        }
        let get = |name: &str, default: &str| source.get(name).unwrap_or_else(|| default.to_owned());
        let controller = Party {
            name: Some(get("INFENTRE_CONTROLLER_NAME", "Infentre AB")),
            address: get("INFENTRE_CONTROLLER_ADDRESS", DEFAULT_CONTROLLER_ADDRESS),
            email: get("INFENTRE_CONTROLLER_EMAIL", DEFAULT_CONTACT_EMAIL),
        };
        let dpo = Party {
            name: None,
            address: get("INFENTRE_DPO_ADDRESS", DEFAULT_DPO_ADDRESS),
            email: get("INFENTRE_DPO_EMAIL", DEFAULT_CONTACT_EMAIL),
        };
        let supervisory_authority = SupervisoryAuthority {
            name: get("INFENTRE_SUPERVISORY_AUTHORITY_NAME", "Integritetsskyddsmyndigheten (IMY)"),
            address: get("INFENTRE_SUPERVISORY_AUTHORITY_ADDRESS", "Box 8114, 104 20 Stockholm, Sweden"),
            email: get("INFENTRE_SUPERVISORY_AUTHORITY_EMAIL", "imy@imy.se"),
            url: get(
                "INFENTRE_SUPERVISORY_AUTHORITY_URL",
                "https://www.imy.se/en/individuals/forms-and-e-services/file-a-gdpr-complaint/",
            ),
        };
        for (name, party) in [("INFENTRE_CONTROLLER_EMAIL", &controller), ("INFENTRE_DPO_EMAIL", &dpo)] {
            if !party.email.contains('@') {
                return Err(ConfigError::Invalid { name, reason: "must be an e-mail address".into() });
            }
        }
        #[cfg(feature = "sendgrid-webhook")]
        let sendgrid_webhook_key =
            match source.get("INFENTRE_SENDGRID_WEBHOOK_PUBLIC_KEY").filter(|v| !v.trim().is_empty()) {
                None => None,
                Some(text) => Some(sendgrid_key(&text)?),
            };
        // The Inbound Parse webhook's security policy has its own key pair.
        #[cfg(feature = "sendgrid-webhook")]
        let sendgrid_inbound_key =
            match source.get("INFENTRE_SENDGRID_INBOUND_PUBLIC_KEY").filter(|v| !v.trim().is_empty()) {
                None => None,
                Some(text) => Some(public_key("INFENTRE_SENDGRID_INBOUND_PUBLIC_KEY", &text)?),
            };
        let stripe_webhook_secret = source.get("INFENTRE_STRIPE_WEBHOOK_SECRET").filter(|v| !v.trim().is_empty());
        let fiscal_year_end = {
            let text = get("INFENTRE_FISCAL_YEAR_END", "12-31");
            let parsed = text
                .split_once('-')
                .and_then(|(m, d)| Some((m.parse::<u32>().ok()?, d.parse::<u32>().ok()?)))
                .filter(|(m, d)| chrono::NaiveDate::from_ymd_opt(2024, *m, *d).is_some());
            parsed.ok_or(ConfigError::Invalid { name: "INFENTRE_FISCAL_YEAR_END", reason: "must be MM-DD".into() })?
        };
        let years = get("INFENTRE_BOOKKEEPING_YEARS", "7")
            .parse::<i32>()
            .ok()
            .filter(|y| (1..=30).contains(y))
            .ok_or(ConfigError::Invalid { name: "INFENTRE_BOOKKEEPING_YEARS", reason: "must be 1 to 30".into() })?;
        let bookkeeping = Bookkeeping {
            fiscal_year_end,
            years,
            legal_basis: get(
                "INFENTRE_BOOKKEEPING_LEGAL_BASIS",
                "Bokföringslagen (1999:1078) 7 kap. 2 § (Swedish Bookkeeping Act): accounting records are kept for seven years after the end of the fiscal year",
            ),
        };
        let inactivity_days = get("INFENTRE_INACTIVITY_DAYS", "30")
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or(ConfigError::Invalid { name: "INFENTRE_INACTIVITY_DAYS", reason: "must be 1 to 365".into() })?;
        let marketing_sync = match source.get("INFENTRE_MARKETING_SYNC").as_deref().map(str::trim) {
            None | Some("") | Some("off") => false,
            Some("on") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "INFENTRE_MARKETING_SYNC",
                    reason: "must be on or off".into(),
                });
            }
        };
        let events_per_user_day = get("INFENTRE_EVENTS_PER_USER_DAY", "10000")
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or(ConfigError::Invalid {
                name: "INFENTRE_EVENTS_PER_USER_DAY",
                reason: "must be 1 to 1000000".into(),
            })?;
        let cookie_consents_per_client_hour = get("INFENTRE_COOKIE_CONSENTS_PER_CLIENT_HOUR", "1000")
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1_000_000_000).contains(n))
            .ok_or(ConfigError::Invalid {
                name: "INFENTRE_COOKIE_CONSENTS_PER_CLIENT_HOUR",
                reason: "must be 1 to 1000000000".into(),
            })?;
        let outbox_retention_hours = get("INFENTRE_OUTBOX_RETENTION_HOURS", "72")
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=24 * 30).contains(n))
            .ok_or(ConfigError::Invalid {
                name: "INFENTRE_OUTBOX_RETENTION_HOURS",
                reason: "must be 1 to 720".into(),
            })?;
        let cookie_consent_origins = cookie_consent_origins(source)?;
        let case_retention_days =
            get("INFENTRE_CASE_RETENTION_DAYS", "365").parse::<i64>().ok().filter(|n| (1..=3650).contains(n)).ok_or(
                ConfigError::Invalid { name: "INFENTRE_CASE_RETENTION_DAYS", reason: "must be 1 to 3650".into() },
            )?;
        Ok(Self {
            public_base_url,
            operators,
            signing_key,
            mail_from,
            policy_version,
            policy_date,
            controller,
            dpo,
            supervisory_authority,
            #[cfg(feature = "sendgrid-webhook")]
            sendgrid_webhook_key,
            stripe_webhook_secret,
            bookkeeping,
            inactivity_days,
            marketing_sync,
            events_per_user_day,
            cookie_consents_per_client_hour,
            outbox_retention_hours,
            cookie_consent_origins,
            case_retention_days,
            #[cfg(feature = "sendgrid-webhook")]
            sendgrid_inbound_key,
            controller_phone: get("INFENTRE_CONTROLLER_PHONE", "").trim().to_owned(),
        })
    }
}

/// An origin exactly as a browser sends it: scheme, host and optional port; no path, no
/// trailing slash, no wildcard.
fn cookie_consent_origins(source: &dyn Source) -> Result<Vec<String>, ConfigError> {
    let name = "INFENTRE_COOKIE_CONSENT_ORIGINS";
    let mut origins = Vec::new();
    for origin in source.get(name).unwrap_or_default().split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        let valid = host.is_some_and(|h| {
            !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
        if !valid {
            return Err(ConfigError::Invalid {
                name,
                reason: format!("{origin:?} is not an origin like https://www.example.com"),
            });
        }
        origins.push(origin.to_ascii_lowercase());
    }
    Ok(origins)
}

/// SendGrid publishes its webhook key as base64 of a DER SubjectPublicKeyInfo (P-256).
#[cfg(feature = "sendgrid-webhook")]
pub fn sendgrid_key(text: &str) -> Result<p256::ecdsa::VerifyingKey, ConfigError> {
    public_key("INFENTRE_SENDGRID_WEBHOOK_PUBLIC_KEY", text)
}

/// A P-256 public key given as base64 of a DER SubjectPublicKeyInfo, from the setting `name`.
#[cfg(feature = "sendgrid-webhook")]
fn public_key(name: &'static str, text: &str) -> Result<p256::ecdsa::VerifyingKey, ConfigError> {
    use p256::pkcs8::DecodePublicKey;
    let der = STANDARD
        .decode(text.trim())
        .map_err(|err| ConfigError::Invalid { name, reason: format!("not base64: {err}") })?;
    p256::ecdsa::VerifyingKey::from_public_key_der(&der)
        .map_err(|err| ConfigError::Invalid { name, reason: format!("not a P-256 public key: {err}") })
}

/// Decodes a base64 signing key setting.
pub fn signing_key_from_base64(name: &'static str, value: &str) -> Result<SigningKey, ConfigError> {
    let bytes = STANDARD
        .decode(value.trim())
        .map_err(|err| ConfigError::Invalid { name, reason: format!("not base64: {err}") })?;
    SigningKey::new(bytes).map_err(|err| ConfigError::Invalid { name, reason: err.to_string() })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn cookie_consent_origins_are_exact_origins() {
        let source =
            HashMap::from([("INFENTRE_COOKIE_CONSENT_ORIGINS", " https://www.Infentre.com, http://localhost:3000 ,")]);
        let settings =
            Settings::from_source(&source, "https://privacy.example".into(), SigningKey::generate()).unwrap();
        assert_eq!(settings.cookie_consent_origins, vec!["https://www.infentre.com", "http://localhost:3000"]);
        for bad in ["*", "https://www.infentre.com/", "www.infentre.com", "https://x.com/path", "https://"] {
            let source = HashMap::from([("INFENTRE_COOKIE_CONSENT_ORIGINS", bad)]);
            assert!(
                Settings::from_source(&source, "https://privacy.example".into(), SigningKey::generate()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn operators_are_normalised_and_checked() {
        let source = HashMap::from([("INFENTRE_OPERATORS", " DPO@Infentre.com, ,staff@infentre.com")]);
        let settings = Settings::from_source(&source, "http://127.0.0.1:8080/".into(), SigningKey::generate()).unwrap();
        assert_eq!(settings.operators, vec!["dpo@infentre.com", "staff@infentre.com"]);
        assert_eq!(settings.public_base_url, "http://127.0.0.1:8080");

        let bad = HashMap::from([("INFENTRE_OPERATORS", "not-an-address")]);
        assert!(Settings::from_source(&bad, "http://x".into(), SigningKey::generate()).is_err());
    }

    #[test]
    fn invoices_are_kept_seven_years_after_their_fiscal_year() {
        let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let calendar = Settings::from_source(&HashMap::new(), "http://x".into(), SigningKey::generate()).unwrap();
        assert_eq!(calendar.bookkeeping.purge_after(date("2026-03-15")), date("2033-12-31"));
        assert_eq!(calendar.bookkeeping.purge_after(date("2026-12-31")), date("2033-12-31"));
        let broken = HashMap::from([("INFENTRE_FISCAL_YEAR_END", "06-30")]);
        let broken = Settings::from_source(&broken, "http://x".into(), SigningKey::generate()).unwrap();
        assert_eq!(broken.bookkeeping.purge_after(date("2026-07-01")), date("2034-06-30"));
        assert_eq!(broken.bookkeeping.purge_after(date("2026-06-30")), date("2033-06-30"));
        let bad = HashMap::from([("INFENTRE_FISCAL_YEAR_END", "13-01")]);
        assert!(Settings::from_source(&bad, "http://x".into(), SigningKey::generate()).is_err());
    }

    #[test]
    fn the_sender_is_parsed_once_and_a_bad_one_fails_the_start() {
        let default = Settings::from_source(&HashMap::new(), "http://x".into(), SigningKey::generate()).unwrap();
        assert_eq!(
            (default.mail_from.name(), default.mail_from.address()),
            (Some("Infentre"), "no-reply@infentre.com")
        );
        let bad = HashMap::from([("INFENTRE_MAIL_FROM", "Infentre <no-reply@infentre.com")]);
        let err = Settings::from_source(&bad, "http://x".into(), SigningKey::generate()).unwrap_err();
        assert!(err.to_string().starts_with("INFENTRE_MAIL_FROM is invalid"), "{err}");
    }

    #[test]
    fn a_short_signing_key_fails_the_start() {
        let err = signing_key_from_base64("INFENTRE_SIGNING_KEY", &STANDARD.encode([1u8; 16])).unwrap_err();
        assert!(err.to_string().contains("INFENTRE_SIGNING_KEY"));
    }
}
