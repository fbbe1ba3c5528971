//! The destinations over HTTPS (reqwest with rustls): the Lambda engine's adapter.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::erasure::Erased;
use super::{Destination, DestinationId, DestinationSettings, FacebookSettings, Ga4Settings, SyncError};

#[derive(Clone)]
pub struct HttpDestination {
    id: DestinationId,
    http: reqwest::Client,
    /// The request URL; it carries the API secret or token, so it is never logged.
    url: String,
    /// GA4's User Deletion API, when configured (and built with `ga4-user-deletion`).
    #[cfg(feature = "ga4-user-deletion")]
    user_deletion: Option<std::sync::Arc<super::google::UserDeletion>>,
}

/// Why a destination could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("GA4 user deletion: {0}")]
    UserDeletion(String),
}

/// Without its settings (or in a build that cannot sign) GA4 cannot be asked to erase.
const GA4_DELETION_UNCONFIGURED: &str = "the GA4 User Deletion API is not configured \
     (INFENTRE_GA4_PROPERTY_ID and INFENTRE_GA4_SERVICE_ACCOUNT_KEY)";

impl std::fmt::Debug for HttpDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpDestination").field("id", &self.id).finish_non_exhaustive()
    }
}

impl HttpDestination {
    pub fn google_analytics(settings: &Ga4Settings, http: reqwest::Client) -> Result<Self, BuildError> {
        let url = reqwest::Url::parse_with_params(
            &settings.endpoint,
            [("measurement_id", settings.measurement_id.as_str()), ("api_secret", settings.api_secret.as_str())],
        )
        .map(String::from)
        .unwrap_or_else(|_| settings.endpoint.clone());
        #[cfg(feature = "ga4-user-deletion")]
        let user_deletion = match &settings.user_deletion {
            Some(deletion) => Some(std::sync::Arc::new(
                super::google::UserDeletion::new(deletion, http.clone()).map_err(BuildError::UserDeletion)?,
            )),
            None => None,
        };
        Ok(Self {
            id: DestinationId::GoogleAnalytics,
            http,
            url,
            #[cfg(feature = "ga4-user-deletion")]
            user_deletion,
        })
    }

    pub fn facebook(settings: &FacebookSettings, http: reqwest::Client) -> Self {
        let base = format!("{}/{}/events", settings.endpoint, settings.pixel_id);
        let url = reqwest::Url::parse_with_params(&base, [("access_token", settings.access_token.as_str())])
            .map(String::from)
            .unwrap_or(base);
        Self {
            id: DestinationId::Facebook,
            http,
            url,
            #[cfg(feature = "ga4-user-deletion")]
            user_deletion: None,
        }
    }

    /// Every configured destination, sharing one HTTP client (built once per cold start).
    pub fn all(settings: &DestinationSettings) -> Result<Vec<Self>, BuildError> {
        crate::tls::install_provider();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        let mut destinations = Vec::new();
        if let Some(ga4) = &settings.google_analytics {
            destinations.push(Self::google_analytics(ga4, http.clone())?);
        }
        if let Some(facebook) = &settings.facebook {
            destinations.push(Self::facebook(facebook, http));
        }
        Ok(destinations)
    }
}

#[async_trait]
impl Destination for HttpDestination {
    fn id(&self) -> DestinationId {
        self.id
    }

    async fn send(&self, body: &Value) -> Result<(), SyncError> {
        let destination = self.id.as_str();
        // `without_url`: reqwest's errors would otherwise print the secret in the query.
        let response = self
            .http
            .post(&self.url)
            .json(body)
            .send()
            .await
            .map_err(|err| SyncError::Unavailable { destination, reason: err.without_url().to_string() })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let reason = format!("HTTP {}", status.as_u16());
        if status.is_server_error() || status.as_u16() == 429 {
            Err(SyncError::Unavailable { destination, reason })
        } else {
            Err(SyncError::Refused { destination, reason })
        }
    }

    async fn erase(&self, user: &str) -> Result<Erased, SyncError> {
        match self.id {
            DestinationId::Facebook => Ok(Erased::NotPossible { reason: super::FACEBOOK_NO_DELETION }),
            DestinationId::GoogleAnalytics => {
                #[cfg(feature = "ga4-user-deletion")]
                if let Some(deletion) = &self.user_deletion {
                    let provider_time = deletion.upsert(user).await?;
                    return Ok(Erased::Confirmed { provider_time });
                }
                let _ = user;
                Ok(Erased::NotPossible { reason: GA4_DELETION_UNCONFIGURED })
            }
        }
    }
}
