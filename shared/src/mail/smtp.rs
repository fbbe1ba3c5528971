//! Real mail from one machine: SMTP through lettre (tokio, rustls), to the operator's own
//! mail server or a provider's submission port. The message is the outbox's, byte for byte.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Email, MailError, Mailbox, Mailer};
use crate::clock::Clock;
use crate::config::{ConfigError, Source};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text: only for a relay on the same machine or network.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (no silent downgrade).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl Security {
    fn default_port(self) -> u16 {
        match self {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// User name and password, sent only over TLS.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("credentials", &self.credentials.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl SmtpSettings {
    /// `INFENTRE_SMTP_HOST` (required), `_PORT`, `_SECURITY` (`starttls` by default, `tls`,
    /// `none`), `_USERNAME` and `_PASSWORD` (both or neither; never over `none`).
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let set = |name: &str| source.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let host = source.required("INFENTRE_SMTP_HOST")?.trim().to_owned();
        if host.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
            return Err(ConfigError::Invalid {
                name: "INFENTRE_SMTP_HOST",
                reason: "must be a host name or address".into(),
            });
        }
        let security = match set("INFENTRE_SMTP_SECURITY").as_deref() {
            None | Some("starttls") => Security::StartTls,
            Some("tls") => Security::Tls,
            Some("none") => Security::None,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "INFENTRE_SMTP_SECURITY",
                    reason: "must be starttls, tls or none".into(),
                });
            }
        };
        let port = match set("INFENTRE_SMTP_PORT") {
            None => security.default_port(),
            Some(text) => text.parse::<u16>().ok().filter(|p| *p > 0).ok_or(ConfigError::Invalid {
                name: "INFENTRE_SMTP_PORT",
                reason: "must be a port number, 1 to 65535".into(),
            })?,
        };
        let credentials = match (set("INFENTRE_SMTP_USERNAME"), source.get("INFENTRE_SMTP_PASSWORD")) {
            (None, None) => None,
            (Some(user), Some(password)) if !password.is_empty() => Some((user, password)),
            (Some(_), _) => return Err(ConfigError::Missing("INFENTRE_SMTP_PASSWORD")),
            (None, Some(_)) => return Err(ConfigError::Missing("INFENTRE_SMTP_USERNAME")),
        };
        if credentials.is_some() && security == Security::None {
            return Err(ConfigError::Invalid {
                name: "INFENTRE_SMTP_SECURITY",
                reason: "is none, so the password would travel in clear: use starttls or tls".into(),
            });
        }
        Ok(Self { host, port, security, credentials })
    }
}

#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    /// Message ids are made under the sender's domain, as receiving servers expect.
    id_domain: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").finish_non_exhaustive()
    }
}

impl SmtpMailer {
    pub fn new(settings: &SmtpSettings, from: &Mailbox, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|err| ConfigError::Invalid {
                name: "INFENTRE_SMTP_HOST",
                reason: format!("cannot set up TLS for it: {err}"),
            })
        };
        let tls = match settings.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(tls(&settings.host)?),
            Security::Tls => Tls::Wrapper(tls(&settings.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from_lettre = from
            .to_lettre()
            .map_err(|err| ConfigError::Invalid { name: "INFENTRE_MAIL_FROM", reason: err.to_string() })?;
        let id_domain = from.address().rsplit_once('@').map_or("localhost", |(_, domain)| domain).to_owned();
        Ok(Self { transport: builder.build(), from: from_lettre, id_domain, clock })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let id = ulid::Ulid::new().to_string();
        let message = super::mime::message(&self.from, email, self.clock.now(), &id, &self.id_domain)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // 5xx: the server refused this message (an unknown recipient, a policy).
            Err(err) if err.is_permanent() => Err(MailError::Rejected(format!("the SMTP server refused: {err}"))),
            // 4xx, connection, TLS, timeout: try again later.
            Err(err) => Err(MailError::Unavailable(format!("SMTP: {err}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(pairs: &[(&'static str, &'static str)]) -> Result<SmtpSettings, ConfigError> {
        SmtpSettings::from_source(&pairs.iter().copied().collect::<HashMap<_, _>>())
    }

    #[test]
    fn starttls_on_the_submission_port_is_the_default() {
        let settings = parse(&[("INFENTRE_SMTP_HOST", "smtp.example.com")]).unwrap();
        assert_eq!((settings.port, settings.security, settings.credentials), (587, Security::StartTls, None));
        let tls = parse(&[("INFENTRE_SMTP_HOST", "smtp.example.com"), ("INFENTRE_SMTP_SECURITY", "tls")]).unwrap();
        assert_eq!(tls.port, 465);
        let relay = parse(&[
            ("INFENTRE_SMTP_HOST", "127.0.0.1"),
            ("INFENTRE_SMTP_SECURITY", "none"),
            ("INFENTRE_SMTP_PORT", "2525"),
        ])
        .unwrap();
        assert_eq!((relay.port, relay.security), (2525, Security::None));
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let cases: [(&[(&'static str, &'static str)], &str); 7] = [
            (&[], "INFENTRE_SMTP_HOST is not set"),
            (&[("INFENTRE_SMTP_HOST", "smtp example")], "INFENTRE_SMTP_HOST is invalid"),
            (&[("INFENTRE_SMTP_HOST", "h.example"), ("INFENTRE_SMTP_PORT", "70000")], "INFENTRE_SMTP_PORT is invalid"),
            (
                &[("INFENTRE_SMTP_HOST", "h.example"), ("INFENTRE_SMTP_SECURITY", "ssl")],
                "INFENTRE_SMTP_SECURITY is invalid",
            ),
            (
                &[("INFENTRE_SMTP_HOST", "h.example"), ("INFENTRE_SMTP_USERNAME", "u")],
                "INFENTRE_SMTP_PASSWORD is not set",
            ),
            (
                &[("INFENTRE_SMTP_HOST", "h.example"), ("INFENTRE_SMTP_PASSWORD", "p")],
                "INFENTRE_SMTP_USERNAME is not set",
            ),
            (
                &[
                    ("INFENTRE_SMTP_HOST", "h.example"),
                    ("INFENTRE_SMTP_SECURITY", "none"),
                    ("INFENTRE_SMTP_USERNAME", "u"),
                    ("INFENTRE_SMTP_PASSWORD", "p"),
                ],
                "INFENTRE_SMTP_SECURITY is invalid",
            ),
        ];
        for (pairs, expected) in cases {
            let err = parse(pairs).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let settings = parse(&[
            ("INFENTRE_SMTP_HOST", "h.example"),
            ("INFENTRE_SMTP_USERNAME", "u"),
            ("INFENTRE_SMTP_PASSWORD", "hunter2-secret"),
        ])
        .unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
