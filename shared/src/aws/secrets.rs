//! Secrets from SSM Parameter Store (SecureString), never from plain environment variables:
//! the environment names the parameter; its value is fetched on first need and kept for the
//! life of the execution environment, so init makes no network round trip.

use tokio::sync::OnceCell;

use crate::config::{ConfigError, Source};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{setting}: reading parameter {parameter} from SSM failed: {reason}")]
    Fetch { setting: &'static str, parameter: String, reason: String },
    #[error("{setting}: parameter {parameter} is empty")]
    Empty { setting: &'static str, parameter: String },
}

/// One secret: the SSM parameter named by the `setting` environment variable.
pub struct Secret {
    setting: &'static str,
    parameter: String,
    ssm: aws_sdk_ssm::Client,
    value: OnceCell<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret").field("setting", &self.setting).field("parameter", &self.parameter).finish()
    }
}

impl Secret {
    /// The secret the deployment must have: an unset or malformed name fails the init.
    pub fn required(
        source: &dyn Source,
        setting: &'static str,
        ssm: &aws_sdk_ssm::Client,
    ) -> Result<Self, ConfigError> {
        let parameter = source.required(setting)?;
        Self::new(setting, parameter, ssm)
    }

    /// A secret that switches a feature on; `None` when the setting is empty.
    pub fn optional(
        source: &dyn Source,
        setting: &'static str,
        ssm: &aws_sdk_ssm::Client,
    ) -> Result<Option<Self>, ConfigError> {
        match source.get(setting).filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(parameter) => Self::new(setting, parameter, ssm).map(Some),
        }
    }

    fn new(setting: &'static str, parameter: String, ssm: &aws_sdk_ssm::Client) -> Result<Self, ConfigError> {
        let parameter = parameter.trim().to_owned();
        let valid = parameter.starts_with('/')
            && parameter.len() <= 1011
            && parameter.chars().all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c));
        if !valid {
            return Err(ConfigError::Invalid {
                name: setting,
                reason: "must be an SSM parameter name such as /infentre/signing-key".into(),
            });
        }
        Ok(Self { setting, parameter, ssm: ssm.clone(), value: OnceCell::new() })
    }

    pub fn parameter(&self) -> &str {
        &self.parameter
    }

    /// The value: one `GetParameter` on first use, then the cached value. A failed fetch is
    /// not cached, so the next request tries again.
    pub async fn get(&self) -> Result<&str, SecretError> {
        let value = self
            .value
            .get_or_try_init(|| async {
                let output =
                    self.ssm.get_parameter().name(&self.parameter).with_decryption(true).send().await.map_err(
                        |err| SecretError::Fetch {
                            setting: self.setting,
                            parameter: self.parameter.clone(),
                            reason: aws_sdk_ssm::error::DisplayErrorContext(&err).to_string(),
                        },
                    )?;
                let value = output.parameter.and_then(|p| p.value).unwrap_or_default();
                if value.trim().is_empty() {
                    return Err(SecretError::Empty { setting: self.setting, parameter: self.parameter.clone() });
                }
                Ok(value)
            })
            .await?;
        Ok(value.as_str())
    }
}
