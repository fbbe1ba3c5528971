//! The providers' request rules (../shared/EXTERNAL-APIS.md), as checks on the JSON bodies we
//! send. The stand-ins in [`crate::recorder`] run them on every body they receive, so a body
//! that the real service would refuse (or, for GA4, silently drop) fails the suite.
//!
//! Each check returns every rule the body breaks, as `path: what is wrong`; empty means valid.

use serde_json::{Map, Value};

fn is_hex_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A bare address as JSON Schema's `format: email` takes it: one `@`, no display name, no
/// angle brackets, no spaces, a dotted domain.
fn is_bare_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else { return false };
    !local.is_empty()
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.contains(|c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';'))
}

struct Violations(Vec<String>);

impl Violations {
    fn add(&mut self, path: impl std::fmt::Display, what: impl std::fmt::Display) {
        self.0.push(format!("{path}: {what}"));
    }

    fn unknown_keys(&mut self, path: &str, object: &Map<String, Value>, allowed: &[&str]) {
        for key in object.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.add(path, format!("unknown field {key:?}"));
        }
    }
}

/// SendGrid v3 Mail Send (`POST /v3/mail/send`).
pub mod sendgrid {
    use super::*;

    /// Header names SendGrid refuses in `headers` (case-insensitive).
    pub const FORBIDDEN_HEADERS: [&str; 12] = [
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    ];

    const TOP_LEVEL: [&str; 17] = [
        "personalizations",
        "from",
        "reply_to",
        "reply_to_list",
        "subject",
        "content",
        "attachments",
        "template_id",
        "headers",
        "categories",
        "custom_args",
        "send_at",
        "batch_id",
        "asm",
        "ip_pool_name",
        "mail_settings",
        "tracking_settings",
    ];

    pub fn violations(body: &Value) -> Vec<String> {
        let mut v = Violations(Vec::new());
        let Some(body) = body.as_object() else {
            v.add("$", "the body is not a JSON object");
            return v.0;
        };
        v.unknown_keys("$", body, &TOP_LEVEL);
        match body.get("from") {
            Some(from) => email_object(&mut v, "from", from),
            None => v.add("from", "required"),
        }
        if let Some(reply_to) = body.get("reply_to") {
            email_object(&mut v, "reply_to", reply_to);
        }
        let message_subject = match body.get("subject") {
            None => false,
            Some(Value::String(s)) if !s.is_empty() => true,
            Some(_) => {
                v.add("subject", "must be a string of at least 1 character");
                true
            }
        };
        match body.get("personalizations").and_then(Value::as_array) {
            None => v.add("personalizations", "required: an array"),
            Some(list) if list.is_empty() || list.len() > 1000 => v.add("personalizations", "1 to 1000 entries"),
            Some(list) => {
                for (i, p) in list.iter().enumerate() {
                    personalization(&mut v, &format!("personalizations[{i}]"), p, message_subject);
                }
            }
        }
        if body.get("template_id").is_none() {
            content(&mut v, body.get("content"));
        }
        if let Some(categories) = body.get("categories") {
            match categories.as_array() {
                Some(list) if list.len() <= 10 => {
                    let mut seen = std::collections::HashSet::new();
                    for (i, category) in list.iter().enumerate() {
                        match category.as_str() {
                            Some(text) if !text.is_empty() && text.chars().count() <= 255 => {
                                if !seen.insert(text) {
                                    v.add(format!("categories[{i}]"), "categories must be unique");
                                }
                            }
                            _ => v.add(format!("categories[{i}]"), "a string of 1 to 255 characters"),
                        }
                    }
                }
                _ => v.add("categories", "an array of at most 10 strings"),
            }
        }
        if let Some(args) = body.get("custom_args") {
            custom_args(&mut v, "custom_args", args);
        }
        if let Some(headers) = body.get("headers") {
            self::headers(&mut v, "headers", headers);
        }
        if let Some(send_at) = body.get("send_at")
            && !send_at.is_u64()
        {
            v.add("send_at", "unix seconds, an integer");
        }
        v.0
    }

    fn email_object(v: &mut Violations, path: &str, value: &Value) {
        let Some(object) = value.as_object() else {
            v.add(path, "must be an object {email, name}");
            return;
        };
        v.unknown_keys(path, object, &["email", "name"]);
        match object.get("email").and_then(Value::as_str) {
            Some(email) if is_bare_address(email) => {}
            Some(email) => {
                v.add(format!("{path}.email"), format!("{email:?} is not a bare address (name goes in `name`)"))
            }
            None => v.add(format!("{path}.email"), "required: a string"),
        }
        if let Some(name) = object.get("name") {
            match name.as_str() {
                Some(name) if !name.trim().is_empty() && !name.contains(['\r', '\n']) => {}
                _ => v.add(format!("{path}.name"), "a non-empty string on one line"),
            }
        }
    }

    fn recipients(v: &mut Violations, path: &str, value: Option<&Value>, required: bool) {
        match value {
            None if required => v.add(path, "required"),
            None => {}
            Some(Value::Array(list)) if !list.is_empty() && list.len() <= 1000 => {
                for (i, r) in list.iter().enumerate() {
                    email_object(v, &format!("{path}[{i}]"), r);
                }
            }
            Some(_) => v.add(path, "an array of 1 to 1000 recipients"),
        }
    }

    fn personalization(v: &mut Violations, path: &str, value: &Value, message_subject: bool) {
        let Some(p) = value.as_object() else {
            v.add(path, "must be an object");
            return;
        };
        v.unknown_keys(
            path,
            p,
            &[
                "to",
                "cc",
                "bcc",
                "from",
                "subject",
                "headers",
                "substitutions",
                "dynamic_template_data",
                "custom_args",
                "send_at",
            ],
        );
        recipients(v, &format!("{path}.to"), p.get("to"), true);
        recipients(v, &format!("{path}.cc"), p.get("cc"), false);
        recipients(v, &format!("{path}.bcc"), p.get("bcc"), false);
        match p.get("subject") {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => v.add(format!("{path}.subject"), "must be a string of at least 1 character"),
            None if !message_subject => v.add("subject", "required at the message level or in every personalization"),
            None => {}
        }
        if let Some(args) = p.get("custom_args") {
            custom_args(v, &format!("{path}.custom_args"), args);
        }
        if let Some(h) = p.get("headers") {
            headers(v, &format!("{path}.headers"), h);
        }
    }

    fn content(v: &mut Violations, value: Option<&Value>) {
        let Some(list) = value.and_then(Value::as_array).filter(|l| !l.is_empty()) else {
            v.add("content", "required: an array of at least one {type, value}");
            return;
        };
        let mut types = Vec::new();
        for (i, part) in list.iter().enumerate() {
            let path = format!("content[{i}]");
            let Some(part) = part.as_object() else {
                v.add(&path, "must be an object {type, value}");
                continue;
            };
            v.unknown_keys(&path, part, &["type", "value"]);
            match part.get("type").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => types.push(t.to_owned()),
                _ => v.add(format!("{path}.type"), "a string of at least 1 character"),
            }
            match part.get("value").and_then(Value::as_str) {
                Some(text) if !text.is_empty() => {}
                _ => v.add(format!("{path}.value"), "a string of at least 1 character"),
            }
        }
        let position = |t: &str| types.iter().position(|x| x == t);
        if let Some(plain) = position("text/plain")
            && plain != 0
        {
            v.add("content", "text/plain must come first");
        }
        if let (Some(plain), Some(html)) = (position("text/plain"), position("text/html"))
            && html < plain
        {
            v.add("content", "text/html must come after text/plain");
        }
    }

    fn custom_args(v: &mut Violations, path: &str, value: &Value) {
        let Some(args) = value.as_object() else {
            v.add(path, "must be an object");
            return;
        };
        for (key, arg) in args {
            if !arg.is_string() {
                v.add(format!("{path}.{key}"), format!("values must be strings, not {arg}"));
            }
        }
        let size = value.to_string().len();
        if size > 10_000 {
            v.add(path, format!("{size} bytes; at most 10,000"));
        }
    }

    fn headers(v: &mut Violations, path: &str, value: &Value) {
        let Some(headers) = value.as_object() else {
            v.add(path, "must be an object");
            return;
        };
        for (name, header) in headers {
            if FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                v.add(format!("{path}.{name}"), "SendGrid does not allow setting this header");
            }
            if !header.is_string() {
                v.add(format!("{path}.{name}"), "header values must be strings");
            }
        }
    }
}

/// Google Analytics 4 Measurement Protocol (`POST /mp/collect`). GA4 answers 2xx even to
/// invalid hits and drops them, so only these checks stand between us and silent loss.
pub mod ga4 {
    use super::*;

    pub const MAX_EVENTS: usize = 25;
    pub const MAX_PARAMS: usize = 25;
    pub const MAX_AGE_MICROS: i64 = 72 * 3600 * 1_000_000;

    /// Event names GA4 reserves (its "Reserved event names" list).
    pub const RESERVED_EVENT_NAMES: [&str; 38] = [
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_impression",
        "ad_query",
        "ad_reward",
        "adunit_exposure",
        "app_background",
        "app_clear_data",
        "app_exception",
        "app_remove",
        "app_store_refund",
        "app_store_subscription_cancel",
        "app_store_subscription_convert",
        "app_store_subscription_renew",
        "app_uninstall",
        "app_update",
        "app_upgrade",
        "dynamic_link_app_open",
        "dynamic_link_app_update",
        "dynamic_link_first_open",
        "error",
        "firebase_campaign",
        "firebase_in_app_message_action",
        "firebase_in_app_message_dismiss",
        "firebase_in_app_message_impression",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "session_start",
        "session_start_with_rollout",
        "user_engagement",
        "screen_view",
    ];
    pub const RESERVED_PREFIXES: [&str; 4] = ["_", "ga_", "google_", "firebase_"];
    pub const RESERVED_USER_PROPERTIES: [&str; 5] =
        ["first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id", "first_open_after_install"];

    fn valid_name(name: &str, max: usize) -> Result<(), String> {
        if name.is_empty() || name.chars().count() > max {
            return Err(format!("{name:?} must have 1 to {max} characters"));
        }
        if !name.starts_with(|c: char| c.is_ascii_alphabetic())
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!("{name:?}: letters, digits and underscores, starting with a letter"));
        }
        if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
            return Err(format!("{name:?}: the prefix {prefix:?} is reserved"));
        }
        Ok(())
    }

    /// `now_micros` is the sending time (the test's clock), for the 72-hour rule.
    pub fn violations(body: &Value, now_micros: i64) -> Vec<String> {
        let mut v = Violations(Vec::new());
        let Some(body) = body.as_object() else {
            v.add("$", "the body is not a JSON object");
            return v.0;
        };
        v.unknown_keys(
            "$",
            body,
            &[
                "client_id",
                "app_instance_id",
                "user_id",
                "timestamp_micros",
                "user_properties",
                "consent",
                "user_data",
                "non_personalized_ads",
                "user_location",
                "ip_override",
                "device",
                "validation_behavior",
                "events",
            ],
        );
        match body.get("client_id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => {}
            _ => v.add("client_id", "required for web streams: a non-empty string"),
        }
        if let Some(user_id) = body.get("user_id") {
            match user_id.as_str() {
                Some(id) if !id.is_empty() && id.chars().count() <= 256 => {}
                _ => v.add("user_id", "a string of 1 to 256 characters"),
            }
        }
        if let Some(ts) = body.get("timestamp_micros") {
            timestamp(&mut v, "timestamp_micros", ts, now_micros);
        }
        if body.contains_key("ip_override") || body.contains_key("user_location") || body.contains_key("device") {
            v.add("$", "no IP address, location or device leaves us (the privacy notice)");
        }
        if let Some(consent) = body.get("consent") {
            match consent.as_object() {
                Some(c) => {
                    v.unknown_keys("consent", c, &["ad_user_data", "ad_personalization"]);
                    for (key, value) in c {
                        if !matches!(value.as_str(), Some("GRANTED" | "DENIED")) {
                            v.add(format!("consent.{key}"), "GRANTED or DENIED");
                        }
                    }
                }
                None => v.add("consent", "must be an object"),
            }
        }
        if let Some(user_data) = body.get("user_data") {
            match user_data.get("sha256_email_address") {
                None => {}
                Some(Value::String(h)) if is_hex_sha256(h) => {}
                Some(Value::Array(list)) if !list.is_empty() => {
                    for (i, h) in list.iter().enumerate() {
                        if !h.as_str().is_some_and(is_hex_sha256) {
                            v.add(format!("user_data.sha256_email_address[{i}]"), "hex SHA-256, lower case");
                        }
                    }
                }
                Some(_) => v.add("user_data.sha256_email_address", "hex SHA-256 (or an array of them)"),
            }
            if user_data.to_string().contains('@') {
                v.add("user_data", "an address in clear");
            }
        }
        if let Some(properties) = body.get("user_properties") {
            match properties.as_object() {
                Some(p) if p.len() <= 25 => {
                    for (name, property) in p {
                        let path = format!("user_properties.{name}");
                        if let Err(why) = valid_name(name, 24) {
                            v.add(&path, why);
                        }
                        if RESERVED_USER_PROPERTIES.contains(&name.as_str()) {
                            v.add(&path, "a reserved user property name");
                        }
                        match property.get("value") {
                            Some(Value::String(s)) if s.chars().count() <= 36 => {}
                            Some(Value::Number(_)) => {}
                            _ => v.add(&path, "{value}: a string of at most 36 characters, or a number"),
                        }
                    }
                }
                _ => v.add("user_properties", "an object of at most 25 properties"),
            }
        }
        match body.get("events").and_then(Value::as_array) {
            Some(events) if !events.is_empty() && events.len() <= MAX_EVENTS => {
                for (i, event) in events.iter().enumerate() {
                    self::event(&mut v, &format!("events[{i}]"), event, now_micros);
                }
            }
            _ => v.add("events", format!("an array of 1 to {MAX_EVENTS} events")),
        }
        v.0
    }

    fn timestamp(v: &mut Violations, path: &str, value: &Value, now_micros: i64) {
        match value.as_i64() {
            Some(ts) if ts < now_micros - MAX_AGE_MICROS => v.add(path, "more than 72 hours in the past"),
            // A minute of clock skew; GA4 takes only past times.
            Some(ts) if ts > now_micros + 60_000_000 => v.add(path, "in the future"),
            Some(_) => {}
            None => v.add(path, "unix microseconds, an integer"),
        }
    }

    fn event(v: &mut Violations, path: &str, value: &Value, now_micros: i64) {
        let Some(event) = value.as_object() else {
            v.add(path, "must be an object");
            return;
        };
        v.unknown_keys(path, event, &["name", "params", "timestamp_micros"]);
        match event.get("name").and_then(Value::as_str) {
            Some(name) => {
                if let Err(why) = valid_name(name, 40) {
                    v.add(format!("{path}.name"), why);
                }
                if RESERVED_EVENT_NAMES.contains(&name) {
                    v.add(format!("{path}.name"), format!("{name:?} is a reserved event name"));
                }
            }
            None => v.add(format!("{path}.name"), "required: a string"),
        }
        if let Some(ts) = event.get("timestamp_micros") {
            timestamp(v, &format!("{path}.timestamp_micros"), ts, now_micros);
        }
        let Some(params) = event.get("params") else { return };
        let Some(params) = params.as_object() else {
            v.add(format!("{path}.params"), "must be an object");
            return;
        };
        if params.len() > MAX_PARAMS {
            v.add(format!("{path}.params"), format!("{} parameters; at most {MAX_PARAMS}", params.len()));
        }
        for (name, param) in params {
            let param_path = format!("{path}.params.{name}");
            if let Err(why) = valid_name(name, 40) {
                v.add(&param_path, why);
            }
            match param {
                Value::String(s) if s.chars().count() <= 100 => {}
                Value::String(_) => v.add(&param_path, "string values have at most 100 characters"),
                Value::Number(_) => {}
                Value::Array(_) if name == "items" => {}
                other => v.add(&param_path, format!("values are strings or numbers, not {other}")),
            }
        }
    }
}

/// Meta's Conversions API (`POST /v{version}/{pixel_id}/events`).
pub mod facebook {
    use super::*;

    pub const MAX_EVENTS: usize = 1000;
    pub const MAX_AGE_SECONDS: i64 = 7 * 24 * 3600;
    pub const ACTION_SOURCES: [&str; 9] = [
        "website",
        "email",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    ];
    /// Customer-information fields that must be hashed (hex SHA-256) before they are sent.
    pub const HASHED: [&str; 11] = ["em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id"];

    /// `now` is the sending time in unix seconds (the test's clock), for the 7-day rule.
    pub fn violations(body: &Value, now: i64) -> Vec<String> {
        let mut v = Violations(Vec::new());
        let Some(body) = body.as_object() else {
            v.add("$", "the body is not a JSON object");
            return v.0;
        };
        v.unknown_keys("$", body, &["data", "test_event_code", "partner_agent", "namespace_id", "upload_id"]);
        match body.get("data").and_then(Value::as_array) {
            Some(events) if !events.is_empty() && events.len() <= MAX_EVENTS => {
                for (i, event) in events.iter().enumerate() {
                    self::event(&mut v, &format!("data[{i}]"), event, now);
                }
            }
            _ => v.add("data", format!("an array of 1 to {MAX_EVENTS} events")),
        }
        v.0
    }

    fn event(v: &mut Violations, path: &str, value: &Value, now: i64) {
        let Some(event) = value.as_object() else {
            v.add(path, "must be an object");
            return;
        };
        match event.get("event_name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => {}
            _ => v.add(format!("{path}.event_name"), "required: a non-empty string"),
        }
        match event.get("event_time").and_then(Value::as_i64) {
            Some(t) if t < now - MAX_AGE_SECONDS => v.add(format!("{path}.event_time"), "more than 7 days old"),
            Some(t) if t > now + 60 => v.add(format!("{path}.event_time"), "in the future"),
            Some(_) => {}
            None => v.add(format!("{path}.event_time"), "required: unix seconds, an integer"),
        }
        match event.get("event_id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => {}
            _ => v.add(format!("{path}.event_id"), "a non-empty string (Meta deduplicates on it)"),
        }
        let action_source = event.get("action_source").and_then(Value::as_str);
        match action_source {
            Some(source) if ACTION_SOURCES.contains(&source) => {}
            _ => v.add(format!("{path}.action_source"), format!("one of {ACTION_SOURCES:?}")),
        }
        if action_source == Some("website") {
            for required in ["event_source_url", "client_user_agent"] {
                let present =
                    event.get(required).is_some() || event.get("user_data").is_some_and(|u| u.get(required).is_some());
                if !present {
                    v.add(format!("{path}.action_source"), format!("website events need {required}"));
                }
            }
        }
        let Some(user_data) = event.get("user_data").and_then(Value::as_object) else {
            v.add(format!("{path}.user_data"), "required: an object");
            return;
        };
        let mut customer_fields = 0;
        for (key, field) in user_data {
            let field_path = format!("{path}.user_data.{key}");
            if ["client_ip_address", "client_user_agent"].contains(&key.as_str()) {
                v.add(&field_path, "no IP address or browser string leaves us (the privacy notice)");
            }
            if HASHED.contains(&key.as_str()) {
                customer_fields += 1;
                let values: Vec<&Value> = match field {
                    Value::Array(list) => list.iter().collect(),
                    single => vec![single],
                };
                if values.is_empty() || !values.iter().all(|h| h.as_str().is_some_and(is_hex_sha256)) {
                    v.add(&field_path, "hex SHA-256 of the normalised value (or an array of them)");
                }
            } else if ["fbc", "fbp", "subscription_id", "lead_id", "fb_login_id"].contains(&key.as_str()) {
                customer_fields += 1;
            }
        }
        if customer_fields == 0 {
            v.add(format!("{path}.user_data"), "at least one customer-information field");
        }
        if let Some(custom) = event.get("custom_data")
            && !custom.is_object()
        {
            v.add(format!("{path}.custom_data"), "must be an object");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sendgrid_body() -> Value {
        json!({
            "personalizations": [{"to": [{"email": "ada@example.com"}]}],
            "from": {"email": "no-reply@infentre.com", "name": "Infentre"},
            "subject": "Hello",
            "content": [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi</p>"}],
            "categories": ["transactional"],
            "custom_args": {"organisation_id": "01J"},
            "headers": {"List-Unsubscribe": "<https://x/u>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        })
    }

    #[test]
    fn a_valid_sendgrid_body_passes_and_each_broken_rule_is_named() {
        assert_eq!(sendgrid::violations(&sendgrid_body()), Vec::<String>::new());
        let broken: [(&str, Value, &str); 10] = [
            ("/from/email", json!("Infentre <no-reply@infentre.com>"), "from.email"),
            ("/subject", json!(""), "subject"),
            ("/custom_args/organisation_id", json!(42), "custom_args.organisation_id"),
            ("/categories", json!(vec!["a"; 11]), "categories"),
            ("/categories/0", json!("x".repeat(256)), "categories[0]"),
            (
                "/content",
                json!([{"type": "text/html", "value": "<p>Hi</p>"}, {"type": "text/plain", "value": "Hi"}]),
                "content",
            ),
            ("/content/1/value", json!(""), "content[1].value"),
            ("/headers/Reply-To", json!("x@y.com"), "headers.Reply-To"),
            ("/personalizations", json!([]), "personalizations"),
            ("/personalizations/0/to/0/email", json!("Ada <ada@example.com>"), "personalizations[0].to[0].email"),
        ];
        for (pointer, value, expected) in broken {
            let mut body = sendgrid_body();
            match body.pointer_mut(pointer) {
                Some(slot) => *slot = value,
                None => {
                    let (parent, key) = pointer.rsplit_once('/').unwrap();
                    body.pointer_mut(parent).unwrap()[key] = value;
                }
            }
            let found = sendgrid::violations(&body);
            assert!(found.iter().any(|v| v.starts_with(expected)), "{pointer}: expected {expected}, got {found:?}");
        }
    }

    const NOW: i64 = 1_790_000_000;

    fn ga4_body() -> Value {
        json!({
            "client_id": "c".repeat(64),
            "user_data": {"sha256_email_address": ["a".repeat(64)]},
            "events": [{"name": "page_view", "timestamp_micros": (NOW - 60) * 1_000_000, "params": {"page": "/a", "n": 3}}],
        })
    }

    #[test]
    fn a_valid_ga4_body_passes_and_each_broken_rule_is_named() {
        assert_eq!(ga4::violations(&ga4_body(), NOW * 1_000_000), Vec::<String>::new());
        let event = |e: Value| json!({"client_id": "c", "events": [e]});
        let broken: [(Value, &str); 10] = [
            (json!({"events": [{"name": "a"}]}), "client_id"),
            (json!({"client_id": "c", "user_id": "u".repeat(257), "events": [{"name": "a"}]}), "user_id"),
            (json!({"client_id": "c", "events": vec![json!({"name": "a"}); 26]}), "events"),
            (event(json!({"name": "session_start"})), "events[0].name"),
            (event(json!({"name": "9lives"})), "events[0].name"),
            (event(json!({"name": "x".repeat(41)})), "events[0].name"),
            (
                event(json!({"name": "a", "timestamp_micros": (NOW - 73 * 3600) * 1_000_000})),
                "events[0].timestamp_micros",
            ),
            (event(json!({"name": "a", "params": {"long": "x".repeat(101)}})), "events[0].params.long"),
            (event(json!({"name": "a", "params": {"flag": true}})), "events[0].params.flag"),
            (
                event(
                    json!({"name": "a", "params": (0..26).map(|i| (format!("p{i}"), json!(i))).collect::<Map<_, _>>()}),
                ),
                "events[0].params",
            ),
        ];
        for (body, expected) in broken {
            let found = ga4::violations(&body, NOW * 1_000_000);
            assert!(found.iter().any(|v| v.starts_with(expected)), "expected {expected}, got {found:?}");
        }
    }

    fn capi_event() -> Value {
        json!({
            "event_name": "page_view", "event_time": NOW - 60, "event_id": "e1", "action_source": "other",
            "user_data": {"em": ["a".repeat(64)], "external_id": ["b".repeat(64)]}, "custom_data": {"page": "/"},
        })
    }

    #[test]
    fn a_valid_capi_body_passes_and_each_broken_rule_is_named() {
        assert_eq!(facebook::violations(&json!({"data": [capi_event()]}), NOW), Vec::<String>::new());
        let broken: [(&str, Value, &str); 7] = [
            ("/action_source", json!("website"), "data[0].action_source"),
            ("/action_source", json!("web"), "data[0].action_source"),
            ("/event_time", json!(NOW - 8 * 24 * 3600), "data[0].event_time"),
            ("/user_data/em/0", json!("ada@example.com"), "data[0].user_data.em"),
            ("/user_data", json!({}), "data[0].user_data"),
            ("/user_data/client_ip_address", json!("198.51.100.1"), "data[0].user_data.client_ip_address"),
            ("/event_id", json!(""), "data[0].event_id"),
        ];
        for (pointer, value, expected) in broken {
            let mut event = capi_event();
            match event.pointer_mut(pointer) {
                Some(slot) => *slot = value,
                None => {
                    let (parent, key) = pointer.rsplit_once('/').unwrap();
                    event.pointer_mut(parent).unwrap()[key] = value;
                }
            }
            let found = facebook::violations(&json!({"data": [event]}), NOW);
            assert!(found.iter().any(|v| v.starts_with(expected)), "{pointer}: expected {expected}, got {found:?}");
        }
        let too_many = json!({"data": vec![capi_event(); 1001]});
        assert!(facebook::violations(&too_many, NOW).iter().any(|v| v.starts_with("data")));
    }
}

/// GA4's User Deletion API: the service account's token grant (OAuth 2.0 JWT bearer, RFC
/// 7523, RS256) and the `userDeletionRequests:upsert` body.
pub mod ga4_user_deletion {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    pub const SCOPE: &str = "https://www.googleapis.com/auth/analytics.user.deletion";
    pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    /// Google takes assertions valid for at most an hour.
    pub const MAX_LIFETIME: i64 = 3600;

    /// What the assertion must say: who signs, for which token endpoint.
    pub struct Expected<'a> {
        pub client_email: &'a str,
        pub token_uri: &'a str,
        /// PKCS#1 RSAPublicKey (DER) of the service account's key.
        pub public_key: &'a [u8],
        pub now: i64,
    }

    fn part(text: &str, name: &str, v: &mut Violations) -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| v.add(name, "not base64url without padding")).ok()?;
        serde_json::from_slice(&bytes).map_err(|_| v.add(name, "not JSON")).ok()
    }

    /// The token request's form fields.
    pub fn grant_violations(form: &std::collections::HashMap<String, String>, expected: &Expected) -> Vec<String> {
        let mut v = Violations(Vec::new());
        if form.get("grant_type").map(String::as_str) != Some(GRANT_TYPE) {
            v.add("grant_type", format!("must be {GRANT_TYPE}"));
        }
        let Some(assertion) = form.get("assertion") else {
            v.add("assertion", "missing");
            return v.0;
        };
        let parts: Vec<&str> = assertion.split('.').collect();
        let [header, claims, signature] = parts[..] else {
            v.add("assertion", "a JWT has three parts");
            return v.0;
        };
        if let Some(header) = part(header, "header", &mut v) {
            if header["alg"] != "RS256" {
                v.add("header.alg", "must be RS256");
            }
            if header.get("typ").is_some_and(|typ| typ != "JWT") {
                v.add("header.typ", "must be JWT");
            }
        }
        match URL_SAFE_NO_PAD.decode(signature) {
            Ok(signature) => {
                let key = ring::signature::UnparsedPublicKey::new(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    expected.public_key,
                );
                if key.verify(format!("{header}.{claims}").as_bytes(), &signature).is_err() {
                    v.add("signature", "does not verify with the service account's public key");
                }
            }
            Err(_) => v.add("signature", "not base64url without padding"),
        }
        if let Some(claims) = part(claims, "claims", &mut v) {
            if claims["iss"] != expected.client_email {
                v.add("claims.iss", "must be the service account's e-mail");
            }
            if claims["scope"] != SCOPE {
                v.add("claims.scope", format!("must be {SCOPE}"));
            }
            if claims["aud"] != expected.token_uri {
                v.add("claims.aud", "must be the token URI");
            }
            match (claims["iat"].as_i64(), claims["exp"].as_i64()) {
                (Some(iat), Some(exp)) => {
                    if exp <= iat || exp - iat > MAX_LIFETIME {
                        v.add("claims.exp", "after iat, at most an hour");
                    }
                    if (iat - expected.now).abs() > 300 {
                        v.add("claims.iat", "must be now");
                    }
                }
                _ => v.add("claims", "iat and exp are unix seconds"),
            }
        }
        v.0
    }

    /// `userDeletionRequests:upsert` for a GA4 property, by user id.
    pub fn upsert_violations(body: &Value, property_id: &str) -> Vec<String> {
        let mut v = Violations(Vec::new());
        let Some(object) = body.as_object() else {
            v.add("body", "must be an object");
            return v.0;
        };
        v.unknown_keys("body", object, &["kind", "id", "propertyId", "webPropertyId", "firebaseProjectId"]);
        if body.get("kind").is_some_and(|kind| kind != "analytics#userDeletionRequest") {
            v.add("kind", "analytics#userDeletionRequest");
        }
        if body["propertyId"] != property_id {
            v.add("propertyId", "the GA4 property");
        }
        if body.get("webPropertyId").is_some() || body.get("firebaseProjectId").is_some() {
            v.add("body", "exactly one of propertyId, webPropertyId, firebaseProjectId");
        }
        if !["CLIENT_ID", "USER_ID", "APP_INSTANCE_ID"].contains(&body["id"]["type"].as_str().unwrap_or_default()) {
            v.add("id.type", "CLIENT_ID, USER_ID or APP_INSTANCE_ID");
        }
        match body["id"]["userId"].as_str() {
            Some(id) if !id.is_empty() && id.chars().count() <= 256 => {}
            _ => v.add("id.userId", "a string of 1 to 256 characters"),
        }
        v.0
    }
}
