//! The distributed engine: AWS clients built once per cold start, and the platform on
//! DynamoDB, SQS and S3.

mod metrics;

use std::collections::HashMap;
use std::sync::Arc;

pub use metrics::RequestCounter;

use crate::blob::s3::S3BlobStore;
use crate::clock::Clock;
use crate::config::{ConfigError, Settings, Source, signing_key_from_base64};
use crate::platform::Platform;
use crate::queue::QueueName;
use crate::queue::batch::{BatchError, SqsBatchResponse, SqsEvent};
use crate::queue::sqs::{QueueUrls, SqsQueue};
use crate::store::dynamodb::DynamoStore;

/// The AWS resources of a deployment (set by `template.yaml`).
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub table: String,
    pub queues: HashMap<QueueName, QueueUrls>,
    pub export_bucket: String,
}

impl AwsSettings {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let mut queues = HashMap::new();
        for queue in QueueName::ALL {
            let (url_name, dlq_name) = queue_setting_names(queue);
            queues.insert(
                queue,
                QueueUrls { url: source.required(url_name)?, dead_letter_url: source.required(dlq_name)? },
            );
        }
        Ok(Self {
            table: source.required("INFENTRE_TABLE")?,
            queues,
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

/// The settings shared by both engines, as a Lambda reads them.
pub fn settings_from_source(source: &dyn Source) -> Result<Settings, ConfigError> {
    let signing_key = signing_key_from_base64("INFENTRE_SIGNING_KEY", &source.required("INFENTRE_SIGNING_KEY")?)?;
    Settings::from_source(source, source.required("INFENTRE_PUBLIC_BASE_URL")?, signing_key)
}

/// The three clients, sharing one configuration and one request counter.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub requests: RequestCounter,
}

impl AwsClients {
    /// Loads credentials and region from the environment (the Lambda role), once.
    pub async fn from_env() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::from_config(&config)
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        let requests = RequestCounter::new();
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(config).interceptor(requests.clone()).build();
        let sqs = aws_sdk_sqs::config::Builder::from(config).interceptor(requests.clone()).build();
        // A custom endpoint (moto, MinIO) serves buckets by path, not by host name.
        let path_style = config.endpoint_url().is_some();
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .interceptor(requests.clone())
            .force_path_style(path_style)
            .build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
            s3: aws_sdk_s3::Client::from_conf(s3),
            requests,
        }
    }

    pub fn platform(&self, aws: &AwsSettings, settings: Settings, clock: Arc<dyn Clock>) -> Platform {
        Platform {
            store: Arc::new(DynamoStore::new(self.dynamodb.clone(), &aws.table, clock.clone())),
            queue: Arc::new(SqsQueue::new(self.sqs.clone(), aws.queues.clone())),
            blobs: Arc::new(S3BlobStore::new(self.s3.clone(), &aws.export_bucket, clock.clone())),
            clock,
            settings: Arc::new(settings),
        }
    }
}

/// Everything a Lambda needs at cold start: JSON logs, settings checked, clients built,
/// platform wired. A missing or bad setting fails the start, never a request.
pub async fn start() -> Result<Platform, ConfigError> {
    crate::telemetry::init(crate::telemetry::Format::Json);
    let source = crate::config::Environment;
    let aws = AwsSettings::from_source(&source)?;
    let settings = settings_from_source(&source)?;
    let clients = AwsClients::from_env().await;
    Ok(clients.platform(&aws, settings, Arc::new(crate::clock::SystemClock)))
}

/// Runs an SQS worker on Lambda: each batch goes to `handler`, whose answer reports the
/// records that failed (`ReportBatchItemFailures`); an error fails the whole batch.
pub async fn run_sqs<H, F>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = Result<SqsBatchResponse, BatchError>>,
{
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
        handler(event.payload).await.map_err(lambda_runtime::Error::from)
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
