//! Where the local binary's mail and marketing go: folders by default (nothing leaves the
//! machine), or the real thing when configured. The settings are read and checked at start;
//! a bad one stops the start with its name.

use std::sync::Arc;

use shared::clock::Clock;
use shared::config::{ConfigError, Settings, Source};
use shared::embedded::Engine;
use shared::mail::Mailer;
use shared::mail::sendgrid::{DEFAULT_BASE_URL, SendGridMailer};
use shared::mail::smtp::{SmtpMailer, SmtpSettings};
use shared::marketing::http::{BuildError, HttpDestination};
use shared::marketing::{Destination, DestinationId, DestinationSettings};

/// `INFENTRE_MAIL_TRANSPORT`: `outbox` (the default), `smtp` or `sendgrid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// `.eml` files in `<data-dir>/outbox/`.
    Outbox,
    /// An SMTP server: `INFENTRE_SMTP_*`.
    Smtp(SmtpSettings),
    /// SendGrid's v3 Mail Send: `SENDGRID_API_KEY`, `SENDGRID_BASE_URL`.
    SendGrid { base_url: String, api_key: String },
}

pub const MAIL_TRANSPORT: &str = "INFENTRE_MAIL_TRANSPORT";

impl MailTransport {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        match source.get(MAIL_TRANSPORT).as_deref().map(str::trim) {
            None | Some("") | Some("outbox") => Ok(Self::Outbox),
            Some("smtp") => Ok(Self::Smtp(SmtpSettings::from_source(source)?)),
            Some("sendgrid") => {
                let api_key = source.required("SENDGRID_API_KEY")?;
                let base_url = source.get("SENDGRID_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
                if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
                    return Err(ConfigError::Invalid {
                        name: "SENDGRID_BASE_URL",
                        reason: "must be an http(s) URL".into(),
                    });
                }
                Ok(Self::SendGrid { base_url, api_key })
            }
            Some(_) => {
                Err(ConfigError::Invalid { name: MAIL_TRANSPORT, reason: "must be outbox, smtp or sendgrid".into() })
            }
        }
    }

    pub fn mailer(
        &self,
        engine: &Engine,
        settings: &Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<dyn Mailer>, ConfigError> {
        Ok(match self {
            Self::Outbox => engine.mailer.clone(),
            Self::Smtp(smtp) => Arc::new(SmtpMailer::new(smtp, &settings.mail_from, clock)?),
            Self::SendGrid { base_url, api_key } => {
                Arc::new(SendGridMailer::new(base_url, api_key, settings.mail_from.clone()).map_err(|err| {
                    ConfigError::Invalid {
                        name: "SENDGRID_BASE_URL",
                        reason: format!("cannot build the client: {err}"),
                    }
                })?)
            }
        })
    }
}

/// Google Analytics and Facebook: over HTTPS when their settings are given (as in AWS),
/// otherwise a folder of the request bodies.
pub fn marketing_destinations(source: &dyn Source, engine: &Engine) -> Result<Vec<Arc<dyn Destination>>, ConfigError> {
    let settings = DestinationSettings::from_source(source)?;
    let http = HttpDestination::all(&settings).map_err(|err| ConfigError::Invalid {
        name: match err {
            BuildError::Http(_) => "INFENTRE_GA4_ENDPOINT",
            BuildError::UserDeletion(_) => "INFENTRE_GA4_SERVICE_ACCOUNT_KEY",
        },
        reason: err.to_string(),
    })?;
    let destinations = [DestinationId::GoogleAnalytics, DestinationId::Facebook]
        .into_iter()
        .filter_map(|id| match http.iter().find(|d| d.id() == id) {
            Some(real) => Some(Arc::new(real.clone()) as Arc<dyn Destination>),
            None => engine.marketing.iter().find(|d| d.id() == id).map(|d| d.clone() as Arc<dyn Destination>),
        })
        .collect();
    Ok(destinations)
}
