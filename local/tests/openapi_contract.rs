//! Structural facts of the OpenAPI document: what a generated client and schemathesis rely
//! on. Each rule names the operations that break it.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    op: &'a Value,
}

impl Operation<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    fn documents(&self, status: &str) -> bool {
        self.op["responses"].get(status).is_some()
    }

    fn params(&self, location: &str) -> Vec<&Value> {
        self.op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == location).collect()
    }

    fn needs_session(&self) -> bool {
        self.op["security"].as_array().is_some_and(|s| !s.is_empty())
    }

    fn safe(&self) -> bool {
        self.method == "get"
    }

    /// A body read by `ApiJson`: a named schema. The webhooks read raw bytes (an inline
    /// schema), because their signatures cover the exact bytes.
    fn json_body_schema(&self) -> Option<&str> {
        self.op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
    }
}

fn document() -> Value {
    serde_json::from_str(&infentre::openapi_json()).expect("the document is JSON")
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push(Operation { method, path, op });
            }
        }
    }
    out
}

fn breaking<'a>(doc: &'a Value, rule: impl Fn(&Operation<'a>) -> bool) -> Vec<String> {
    operations(doc).iter().filter(|op| !rule(op)).map(Operation::name).collect()
}

#[test]
fn the_document_has_every_operation_the_api_serves() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    // 65 API operations and /openapi.json itself (the CORS preflight is documented, not counted).
    assert_eq!(operations(&doc).len(), 66);
}

#[test]
fn path_parameters_are_exactly_the_template_variables() {
    let doc = document();
    let bad = breaking(&doc, |op| {
        let declared: BTreeSet<&str> = op.params("path").iter().filter_map(|p| p["name"].as_str()).collect();
        let in_template: BTreeSet<&str> =
            op.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        declared == in_template && op.params("path").iter().all(|p| p["required"] == true)
    });
    assert!(bad.is_empty(), "path parameters that are not the template's: {bad:?}");
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen: HashMap<&str, String> = HashMap::new();
    for op in operations(&doc) {
        let id = op.op["operationId"].as_str().expect("every operation has an id");
        if let Some(first) = seen.insert(id, op.name()) {
            panic!("operationId {id} is used by {first} and {}", op.name());
        }
    }
}

#[test]
fn every_operation_that_needs_a_session_documents_401_and_csrf_403_on_writes() {
    let doc = document();
    let without_401 = breaking(&doc, |op| !op.needs_session() || op.documents("401"));
    assert!(without_401.is_empty(), "a session is needed but 401 is not documented: {without_401:?}");
    let without_403 = breaking(&doc, |op| !op.needs_session() || op.safe() || op.documents("403"));
    assert!(without_403.is_empty(), "a cookie without its CSRF token gets 403, undocumented: {without_403:?}");
    // And the other way round: nothing public claims to need a session.
    let public = breaking(&doc, |op| {
        op.needs_session()
            || !op.op["responses"]["401"]["description"].as_str().unwrap_or_default().contains("unauthenticated")
    });
    assert!(public.is_empty(), "a public operation documents the session's 401: {public:?}");
}

#[test]
fn everything_that_reads_or_writes_the_store_documents_503() {
    let doc = document();
    // The published texts and the platform's own paths touch no store.
    let static_paths = ["/healthz", "/openapi.json", "/.well-known/gpc.json", "/v1/cookies", "/v1/purposes"];
    let bad = breaking(&doc, |op| {
        static_paths.contains(&op.path)
            || op.path == "/v1/privacy-notice"
            || op.path == "/v1/subprocessors"
            || op.path.starts_with("/v1/exports/")
            || op.documents("503")
    });
    assert!(bad.is_empty(), "the store may be busy, 503 undocumented: {bad:?}");
}

#[test]
fn every_json_body_documents_what_the_body_parser_answers() {
    let doc = document();
    let bad = breaking(&doc, |op| {
        op.json_body_schema().is_none() || ["400", "413", "415", "422"].iter().all(|s| op.documents(s))
    });
    assert!(bad.is_empty(), "a JSON body without 400/413/415/422 documented: {bad:?}");
    let raw = breaking(&doc, |op| op.op.get("requestBody").is_none() || op.documents("413"));
    assert!(raw.is_empty(), "a body without 413 documented: {raw:?}");
}

#[test]
fn request_bodies_refuse_unknown_fields_as_the_server_does() {
    let doc = document();
    let bad = breaking(&doc, |op| {
        let Some(reference) = op.json_body_schema() else { return true };
        let name = reference.trim_start_matches("#/components/schemas/");
        doc["components"]["schemas"][name]["additionalProperties"] == Value::Bool(false)
    });
    assert!(bad.is_empty(), "a body schema that admits unknown fields the server refuses: {bad:?}");
}

#[test]
fn query_parameters_are_in_the_query_and_their_errors_documented() {
    let doc = document();
    let bad = breaking(&doc, |op| op.params("query").is_empty() || op.documents("400") || op.documents("403"));
    assert!(bad.is_empty(), "query parameters without 400 documented: {bad:?}");
    for op in operations(&doc) {
        for param in op.params("query") {
            if param["name"] == "limit" {
                assert_eq!(param["schema"]["minimum"], 1, "{}", op.name());
                assert_eq!(param["schema"]["maximum"], 200, "{}", op.name());
            }
        }
    }
    let lists = breaking(&doc, |op| {
        let paginated = op.op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .is_some_and(|r| r.contains("Paginated"));
        !paginated || ["cursor", "limit"].iter().all(|n| op.params("query").iter().any(|p| p["name"] == *n))
    });
    assert!(lists.is_empty(), "a paginated list without cursor and limit in the query: {lists:?}");
}

#[test]
fn an_operation_on_an_object_by_id_documents_404() {
    let doc = document();
    // Erasing a recipient's interactions is idempotent: an unknown address erases nothing (200).
    let bad = breaking(&doc, |op| op.params("path").iter().all(|p| p["name"] == "email") || op.documents("404"));
    assert!(bad.is_empty(), "an id in the path but no 404: {bad:?}");
}

#[test]
fn every_error_is_a_problem_document_and_429_says_when_to_retry() {
    let doc = document();
    for op in operations(&doc) {
        for (status, response) in op.op["responses"].as_object().expect("responses") {
            assert_ne!(status, "default", "{}: a catch-all hides the statuses", op.name());
            // 414 is the HTTP server's, before the API: no body.
            if (status.starts_with('4') || status.starts_with('5')) && status != "414" {
                let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/Problem", "{} {status}", op.name());
                assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{} {status}", op.name());
            }
            if status == "429" {
                assert!(response["headers"].get("Retry-After").is_some(), "{}: 429 without Retry-After", op.name());
            }
        }
    }
}
