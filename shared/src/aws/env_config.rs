//! The SDK configuration from the environment Lambda gives a function, without aws-config.
//!
//! aws-config's loader builds its default chains (profile files, web identity and assume-role
//! through STS, SSO, IMDS, ECS) for any setting not given, a branch taken at run time, so all of
//! that code, with an STS client, is linked into every function even when credentials and region
//! are set. Lambda passes the role's credentials, the region and nothing else we use in
//! environment variables, so those are read here, as aws-config's environment providers read them.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_types::SdkConfig;

/// What the environment says, read through `var` (the process environment in production).
pub fn sdk_config(var: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).map(Region::new));
    // Without keys no provider is set: every request then fails for want of credentials, as it
    // did with aws-config's environment provider.
    if let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        let credentials = Credentials::new(key, secret, var("AWS_SESSION_TOKEN"), None, "Environment");
        config = config.credentials_provider(SharedCredentialsProvider::new(credentials));
    }
    // A local endpoint (moto in the Lambda harness); Lambda itself never sets it.
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    config.build()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> SdkConfig {
        let env: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        sdk_config(|name| env.get(name).cloned())
    }

    #[tokio::test]
    async fn lambdas_variables_give_region_credentials_and_endpoint() {
        use aws_sdk_dynamodb::config::ProvideCredentials;
        let config = config(&[
            ("AWS_REGION", "eu-north-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]);
        assert_eq!(config.region().map(Region::as_ref), Some("eu-north-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        let credentials = config.credentials_provider().unwrap().provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKID");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
        assert!(config.behavior_version().is_some());
    }

    #[test]
    fn the_default_region_is_the_fallback_and_nothing_is_invented() {
        let config = config(&[("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "AKID")]);
        assert_eq!(config.region().map(Region::as_ref), Some("us-east-1"));
        assert!(config.credentials_provider().is_none(), "a key without its secret is no credentials");
        assert!(config.endpoint_url().is_none());
    }
}
