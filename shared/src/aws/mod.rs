//! The distributed engine: AWS clients built once per cold start, and the platform on
//! DynamoDB, SQS and S3. A function is built with only the clients its role lets it call
//! (features `aws-sqs`, `aws-s3`, `aws-ssm`; `aws-s3-links` signs presigned GETs without an S3
//! client); the ports it has no client for are [`NotGranted`].

mod env_config;
mod metrics;
mod not_granted;
#[cfg(feature = "aws-ssm")]
mod secrets;

use std::collections::HashMap;
use std::sync::Arc;

pub use metrics::RequestCounter;
pub use not_granted::NotGranted;
#[cfg(feature = "aws-ssm")]
pub use secrets::{Secret, SecretError};

#[cfg(feature = "aws-s3")]
use crate::blob::s3::S3BlobStore;
#[cfg(all(feature = "aws-s3-links", not(feature = "aws-s3")))]
use crate::blob::s3_links::S3Links;
use crate::clock::Clock;
use crate::config::{ConfigError, Environment, Settings, Source};
use crate::platform::Platform;
use crate::queue::QueueName;
use crate::queue::batch::{SqsBatchResponse, SqsEvent};
#[cfg(feature = "aws-sqs")]
use crate::queue::sqs::{QueueUrls, SqsQueue};
use crate::signing::SigningKey;
use crate::store::dynamodb::DynamoStore;

/// The AWS resources of a deployment (set by `template.yaml`) that this function has clients for.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub table: String,
    #[cfg(feature = "aws-sqs")]
    pub queues: HashMap<QueueName, QueueUrls>,
    #[cfg(any(feature = "aws-s3", feature = "aws-s3-links"))]
    pub export_bucket: String,
}

impl AwsSettings {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        #[cfg(feature = "aws-sqs")]
        let mut queues = HashMap::new();
        #[cfg(feature = "aws-sqs")]
        for queue in QueueName::ALL {
            let (url_name, dlq_name) = queue_setting_names(queue);
            queues.insert(
                queue,
                QueueUrls { url: source.required(url_name)?, dead_letter_url: source.required(dlq_name)? },
            );
        }
        Ok(Self {
            table: source.required("INFENTRE_TABLE")?,
            #[cfg(feature = "aws-sqs")]
            queues,
            #[cfg(any(feature = "aws-s3", feature = "aws-s3-links"))]
            export_bucket: source.required("INFENTRE_EXPORT_BUCKET")?,
        })
    }
}

pub fn queue_setting_names(queue: QueueName) -> (&'static str, &'static str) {
    match queue {
        QueueName::Mail => ("INFENTRE_MAIL_QUEUE_URL", "INFENTRE_MAIL_DLQ_URL"),
        QueueName::Tracking => ("INFENTRE_TRACKING_QUEUE_URL", "INFENTRE_TRACKING_DLQ_URL"),
        QueueName::Rights => ("INFENTRE_RIGHTS_QUEUE_URL", "INFENTRE_RIGHTS_DLQ_URL"),
        QueueName::Marketing => ("INFENTRE_MARKETING_QUEUE_URL", "INFENTRE_MARKETING_DLQ_URL"),
    }
}

/// The settings shared by both engines, as a Lambda reads them. Only the functions that sign
/// or verify links (consent, mail worker) read the deployment's signing key (from SSM); the
/// others get a throwaway key, so anything they might sign would verify nowhere.
pub fn settings_from_source(source: &dyn Source, signing_key: SigningKey) -> Result<Settings, ConfigError> {
    Settings::from_source(source, source.required("INFENTRE_PUBLIC_BASE_URL")?, signing_key)
}

/// The SSM parameter holding the link-signing key (base64, at least 32 bytes).
pub const SIGNING_KEY_PARAMETER: &str = "INFENTRE_SIGNING_KEY_PARAMETER";

/// The signing key, from its SSM parameter on first need.
#[cfg(feature = "aws-ssm")]
pub async fn signing_key(secret: &Secret) -> Result<SigningKey, lambda_runtime::Error> {
    Ok(crate::config::signing_key_from_base64(SIGNING_KEY_PARAMETER, secret.get().await?)?)
}

/// A source with some values set in code (secrets fetched from SSM) over another source.
pub struct WithValues<'a> {
    pub base: &'a dyn Source,
    pub values: HashMap<&'static str, String>,
}

impl Source for WithValues<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned().or_else(|| self.base.get(name))
    }
}

/// The clients this function is built with (DynamoDB always; SQS, S3, SSM by feature),
/// sharing one configuration and one request counter.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    #[cfg(feature = "aws-sqs")]
    pub sqs: aws_sdk_sqs::Client,
    #[cfg(feature = "aws-s3")]
    pub s3: aws_sdk_s3::Client,
    #[cfg(feature = "aws-ssm")]
    pub ssm: aws_sdk_ssm::Client,
    /// What presigned links are signed with (region, endpoint, credentials), without an S3 client.
    #[cfg(feature = "aws-s3-links")]
    pub links: aws_types::SdkConfig,
    pub requests: RequestCounter,
}

impl AwsClients {
    /// Loads credentials and region from the environment (the Lambda role), once.
    ///
    /// Lambda hands the role's credentials and the region over in environment variables, so only
    /// those are read ([`env_config`]): the default chains' other sources (profiles, web identity
    /// and assume-role through STS, IMDS, ECS) are not linked into the function.
    pub async fn from_env() -> Self {
        Self::from_config(&env_config::sdk_config(|name| std::env::var(name).ok()))
    }

    pub fn from_config(config: &aws_types::SdkConfig) -> Self {
        let requests = RequestCounter::new();
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(config).interceptor(requests.clone()).build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            #[cfg(feature = "aws-sqs")]
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(config).interceptor(requests.clone()).build(),
            ),
            #[cfg(feature = "aws-s3")]
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .interceptor(requests.clone())
                    // A custom endpoint (moto, MinIO) serves buckets by path, not by host name.
                    .force_path_style(config.endpoint_url().is_some())
                    .build(),
            ),
            #[cfg(feature = "aws-ssm")]
            ssm: aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(config).interceptor(requests.clone()).build(),
            ),
            #[cfg(feature = "aws-s3-links")]
            links: config.clone(),
            requests,
        }
    }

    pub fn platform(&self, aws: &AwsSettings, settings: Settings, clock: Arc<dyn Clock>) -> Platform {
        #[cfg(feature = "aws-sqs")]
        let queue = Arc::new(SqsQueue::new(self.sqs.clone(), aws.queues.clone()));
        #[cfg(not(feature = "aws-sqs"))]
        let queue = Arc::new(NotGranted("SQS"));
        #[cfg(feature = "aws-s3")]
        let blobs = Arc::new(S3BlobStore::new(self.s3.clone(), &aws.export_bucket, clock.clone()));
        #[cfg(all(feature = "aws-s3-links", not(feature = "aws-s3")))]
        let blobs = Arc::new(S3Links::new(&self.links, &aws.export_bucket, clock.clone()));
        #[cfg(not(any(feature = "aws-s3", feature = "aws-s3-links")))]
        let blobs = Arc::new(NotGranted("S3"));
        Platform {
            store: Arc::new(DynamoStore::new(self.dynamodb.clone(), &aws.table, clock.clone())),
            queue,
            blobs,
            clock,
            settings: Arc::new(settings),
            sent_mail: None,
        }
    }
}

/// Everything a function without secrets needs at cold start: JSON logs, settings checked,
/// clients built, platform wired. A missing or bad setting fails the start, never a request.
/// (It signs nothing: its signing key is a throwaway one, see [`settings_from_source`].)
pub async fn start() -> Result<Platform, ConfigError> {
    crate::telemetry::init(crate::telemetry::Format::Json);
    let cold = cold_start().await?;
    Ok(cold.platform(cold.settings(SigningKey::generate())?))
}

/// What a function with secrets does at init: JSON logs, every setting checked (a bad one
/// fails the init, naming it), clients built. Its platform waits for the secrets' first use.
pub struct ColdStart {
    pub aws: AwsSettings,
    pub clients: AwsClients,
}

pub async fn cold_start() -> Result<ColdStart, ConfigError> {
    crate::telemetry::init(crate::telemetry::Format::Json);
    let aws = AwsSettings::from_source(&Environment)?;
    settings_from_source(&Environment, SigningKey::generate())?;
    Ok(ColdStart { aws, clients: AwsClients::from_env().await })
}

impl ColdStart {
    pub fn settings(&self, signing_key: SigningKey) -> Result<Settings, ConfigError> {
        settings_from_source(&Environment, signing_key)
    }

    pub fn platform(&self, settings: Settings) -> Platform {
        self.clients.platform(&self.aws, settings, Arc::new(crate::clock::SystemClock))
    }

    #[cfg(feature = "aws-ssm")]
    pub fn signing_key_secret(&self) -> Result<Secret, ConfigError> {
        Secret::required(&Environment, SIGNING_KEY_PARAMETER, &self.clients.ssm)
    }
}

/// Runs an SQS worker on Lambda: each batch goes to `handler`, whose answer reports the
/// records that failed (`ReportBatchItemFailures`); an error fails the whole batch.
pub async fn run_sqs<H, F, E>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = Result<SqsBatchResponse, E>>,
    E: Into<lambda_runtime::Error>,
{
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
        handler(event.payload).await.map_err(Into::into)
    }))
    .await
}

/// [`run_sqs`] for a worker that must stop in time: `handler` also gets the invocation's
/// deadline (Lambda's), as an `Instant`.
pub async fn run_sqs_until<H, F, E>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(SqsEvent, std::time::Instant) -> F,
    F: Future<Output = Result<SqsBatchResponse, E>>,
    E: Into<lambda_runtime::Error>,
{
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
        let deadline = std::time::Instant::now()
            + event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
        handler(event.payload, deadline).await.map_err(Into::into)
    }))
    .await
}

/// Runs an HTTP function on Lambda: the router gets the client's address from API Gateway's
/// request context.
#[cfg(feature = "aws-http")]
pub async fn run_http(router: axum::Router) -> Result<(), lambda_http::Error> {
    let router = router.layer(axum::middleware::from_fn(client_address_from_api_gateway));
    lambda_http::run(router).await
}

/// `run_http` for a function with secrets: the router is built on the first request (which
/// fetches the secrets) and kept for the life of the execution environment. If building
/// fails, that request fails and the next one tries again.
#[cfg(feature = "aws-http")]
pub async fn run_http_lazy<F, Fut>(build: F) -> Result<(), lambda_http::Error>
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Result<axum::Router, lambda_http::Error>> + Send,
{
    use tower::ServiceExt;
    let router = tokio::sync::OnceCell::new();
    let (router, build) = (&router, &build);
    lambda_http::run(lambda_http::service_fn(move |request: lambda_http::Request| async move {
        let app = router
            .get_or_try_init(|| async {
                Ok::<_, lambda_http::Error>(
                    build().await?.layer(axum::middleware::from_fn(client_address_from_api_gateway)),
                )
            })
            .await?;
        let response = app.clone().oneshot(request).await?;
        Ok::<_, lambda_http::Error>(response)
    }))
    .await
}

#[cfg(feature = "aws-http")]
async fn client_address_from_api_gateway(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use lambda_http::request::RequestContext;
    let source_ip = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    };
    if let Some(ip) = source_ip.and_then(|ip| ip.parse().ok()) {
        request.extensions_mut().insert(crate::http::ClientAddress(ip));
    }
    next.run(request).await
}
