//! The SQS event Lambda hands a worker and the partial batch response it answers with: the
//! fields we read, in Lambda's JSON. Our own types rather than `aws_lambda_events`, whose
//! serde_with and darling stack the local server would otherwise compile for three structs.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};

/// An SQS event source's batch (`{"Records": [...]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsMessage>,
}

/// One message of the batch; fields Lambda sends that we never read are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsMessage {
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub receipt_handle: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// System attributes, e.g. `ApproximateReceiveCount` (Lambda may send `null`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub attributes: HashMap<String, String>,
}

/// `ReportBatchItemFailures`: the messages SQS is to redeliver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsBatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

impl SqsBatchResponse {
    pub fn add_failure(&mut self, message_id: impl Into<String>) {
        self.batch_item_failures.push(BatchItemFailure { item_identifier: message_id.into() });
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<HashMap<String, String>, D::Error> {
    Ok(Option::<HashMap<String, String>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_sqs_event_decodes() {
        let event: SqsEvent = serde_json::from_str(include_str!("../../../events/sqs-mail.json")).unwrap();
        assert_eq!(event.records.len(), 2);
        let first = &event.records[0];
        assert!(first.message_id.as_deref().is_some_and(|id| !id.is_empty()));
        assert!(first.body.is_some());
        assert!(first.attributes.contains_key("ApproximateReceiveCount"));
    }

    #[test]
    fn null_attributes_are_empty() {
        let event: SqsEvent =
            serde_json::from_str(r#"{"Records":[{"messageId":"m","body":"b","attributes":null}]}"#).unwrap();
        assert!(event.records[0].attributes.is_empty());
    }

    #[test]
    fn the_response_is_lambdas_shape() {
        let mut response = SqsBatchResponse::default();
        response.add_failure("m1");
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
        );
    }
}
