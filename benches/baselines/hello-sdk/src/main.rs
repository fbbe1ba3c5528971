//! A Lambda with the AWS SDK's configuration and a DynamoDB client built at init (as every
//! function does), reading one item per invocation: `{"table": "...", "pk": "...", "sk": "..."}`.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let client = &client;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let field = |name: &str| event.payload.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let item = client
            .get_item()
            .table_name(field("table"))
            .key("PK", AttributeValue::S(field("pk")))
            .key("SK", AttributeValue::S(field("sk")))
            .send()
            .await?;
        Ok::<_, Error>(json!({ "found": item.item.is_some() }))
    }))
    .await
}
