//! What each destination receives, field by field: one declaration per destination. The
//! request builders send nothing else (the tests walk every body they build against it), and
//! the published sharing table (`/privacy/subprocessors`) is rendered from it, so what leaves
//! us and what we say leaves us cannot drift apart.

use serde_json::Value;

use super::DestinationId;

/// One field a destination receives: where it sits in the request body (`[]` for each element
/// of an array, `*` for every key of an object) and what it holds (a message id suffix in the
/// web's catalogs: `sharing-holds-<holds>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSent {
    pub path: &'static str,
    pub holds: &'static str,
}

const fn field(path: &'static str, holds: &'static str) -> FieldSent {
    FieldSent { path, holds }
}

/// GA4 Measurement Protocol (`ga4_requests`).
pub const GOOGLE_ANALYTICS: &[FieldSent] = &[
    field("client_id", "pseudonym"),
    field("user_id", "pseudonym"),
    field("user_data.sha256_email_address[]", "email-hash"),
    field("events[].name", "event-name"),
    field("events[].timestamp_micros", "event-time"),
    field("events[].params.*", "event-properties"),
];

/// Meta Conversions API (`facebook_requests`).
pub const FACEBOOK: &[FieldSent] = &[
    field("data[].event_name", "event-name"),
    field("data[].event_time", "event-time"),
    field("data[].event_id", "event-id"),
    field("data[].action_source", "action-source"),
    field("data[].user_data.em[]", "email-hash"),
    field("data[].user_data.external_id[]", "pseudonym"),
    field("data[].custom_data.*", "event-properties"),
];

impl DestinationId {
    /// Every destination, in the order the published table lists them.
    pub const ALL: [DestinationId; 2] = [DestinationId::GoogleAnalytics, DestinationId::Facebook];

    /// What this destination receives.
    pub fn fields_sent(self) -> &'static [FieldSent] {
        match self {
            DestinationId::GoogleAnalytics => GOOGLE_ANALYTICS,
            DestinationId::Facebook => FACEBOOK,
        }
    }
}

/// The leaf paths of a request body, in the declaration's notation; the keys under an object
/// declared with `*` (the event's properties) become `*`.
pub fn paths_in(body: &Value, declared: &[FieldSent]) -> Vec<String> {
    let mut out = Vec::new();
    walk(body, String::new(), declared, &mut out);
    out
}

fn walk(value: &Value, path: String, declared: &[FieldSent], out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let wildcard = format!("{path}.*");
            if declared.iter().any(|f| f.path == wildcard.trim_start_matches('.')) {
                // An event's properties: each is one field of the declared kind (their values
                // are scalars: `ga4_params` drops the rest, Facebook's take what was tracked).
                if !map.is_empty() {
                    out.push(wildcard.trim_start_matches('.').to_owned());
                }
                return;
            }
            for (key, inner) in map {
                let next = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                walk(inner, next, declared, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, format!("{path}[]"), declared, out);
            }
        }
        _ => out.push(path),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{EventSource, HashedUser, Outgoing, SharedEvent, facebook_requests, ga4_requests};
    use super::*;

    fn events() -> Vec<SharedEvent> {
        let properties = json!({"path": "/reports", "count": 3, "nested": {"dropped": true}});
        [EventSource::Website, EventSource::Email]
            .into_iter()
            .enumerate()
            .map(|(n, source)| SharedEvent {
                event_id: format!("01J000000000000000000000E{n}"),
                user_id: "01J0000000000000000000000U".into(),
                name: "report_viewed".into(),
                occurred_at: 1_790_000_000,
                params: properties.as_object().cloned().unwrap_or_default(),
                recipient: None,
                source,
            })
            .collect()
    }

    /// The builders send exactly what is declared: no field outside the declaration, and no
    /// declared field that is never sent (the published table would promise too much).
    #[test]
    fn each_destination_receives_exactly_its_declared_fields() {
        let user = HashedUser::new("01J0000000000000000000000U", "Ada@example.com");
        let messages = events();
        let outgoing: Vec<Outgoing<'_>> = messages.iter().map(|event| Outgoing { event, user: &user }).collect();
        for destination in DestinationId::ALL {
            let requests = match destination {
                DestinationId::GoogleAnalytics => ga4_requests(&outgoing),
                DestinationId::Facebook => facebook_requests(&outgoing),
            };
            let declared = destination.fields_sent();
            let mut sent: Vec<String> = requests.iter().flat_map(|r| paths_in(&r.body, declared)).collect();
            sent.sort();
            sent.dedup();
            let mut expected: Vec<String> = declared.iter().map(|f| f.path.to_owned()).collect();
            expected.sort();
            assert_eq!(sent, expected, "{destination:?}");
        }
    }

    #[test]
    fn paths_name_array_elements_and_declared_property_maps() {
        let declared = [field("a[].props.*", "event-properties")];
        let body = json!({"a": [{"b": 1, "props": {"x": 1, "y": "z"}}], "c": {"d": "e"}});
        let mut paths = paths_in(&body, &declared);
        paths.sort();
        assert_eq!(paths, vec!["a[].b", "a[].props.*", "c.d"]);
    }
}
