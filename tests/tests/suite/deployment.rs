//! The template routes to Lambda exactly the API the code serves (the OpenAPI document), and
//! exactly the pages the web function serves, so no endpoint is missing from, or left
//! dangling in, the deployment.

use std::collections::BTreeSet;

/// The (method, path) pairs of the template's HttpApi events, with the function they go to.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let template = include_str!("../../../template.yaml");
    let mut routes = BTreeSet::new();
    let mut function = String::new();
    let mut method = None;
    for raw in template.lines() {
        // Resources sit two spaces in: `  SignupFunction:`.
        if let Some(name) = raw.strip_prefix("  ").and_then(|r| r.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            function = name.to_owned();
        }
        let line = raw.trim();
        if let Some(m) = line.strip_prefix("Method: ") {
            method = Some(m.to_uppercase());
        } else if let Some(path) = line.strip_prefix("Path: ")
            && let Some(method) = method.take()
        {
            routes.insert((function.clone(), method, path.to_owned()));
        }
    }
    routes
}

/// The API's routes, whatever function serves them (the pages are not API operations).
fn api_routes() -> BTreeSet<(String, String)> {
    template_routes().into_iter().filter(|(f, _, _)| f != "WebFunction").map(|(_, m, p)| (m, p)).collect()
}

#[test]
fn every_endpoint_is_routed_and_every_route_is_served() {
    let document = infentre::openapi();
    let mut served = BTreeSet::new();
    for (path, item) in &document.paths.paths {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
            ("OPTIONS", item.options.is_some()),
        ];
        for (method, present) in methods {
            // Export downloads are the local server's own: in AWS they are S3 presigned URLs.
            if present && !path.starts_with("/v1/exports/") {
                served.insert((method.to_owned(), path.clone()));
            }
        }
    }
    let routed = api_routes();
    let missing: Vec<_> = served.difference(&routed).collect();
    let dangling: Vec<_> = routed.difference(&served).collect();
    assert!(missing.is_empty(), "served but not routed by template.yaml: {missing:?}");
    assert!(dangling.is_empty(), "routed by template.yaml but not served: {dangling:?}");
    assert!(routed.len() > 30, "{} routes: the template was read", routed.len());
}

#[test]
fn the_web_function_gets_exactly_its_pages_and_no_api_route() {
    let to_web: BTreeSet<(String, String)> =
        template_routes().into_iter().filter(|(f, _, _)| f == "WebFunction").map(|(_, m, p)| (m, p)).collect();
    let pages: BTreeSet<(String, String)> =
        web::ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(to_web, pages, "template.yaml routes to WebFunction exactly web::ROUTES");
    let document = infentre::openapi();
    for (method, path) in &pages {
        assert!(!path.starts_with("/v1/"), "{method} {path}: pages stay out of the API's namespace");
        assert!(!document.paths.paths.contains_key(path), "{method} {path} is also an API operation");
    }
    // Every other route goes to an API function: a page route there would be served by no one.
    assert!(api_routes().iter().all(|(_, p)| !pages.iter().any(|(_, page)| page == p)));
}

/// L3: a mail message's idempotency claim outlives the queue's visibility timeout, so a copy
/// SQS hands out again while the first is being worked finds the claim held.
#[test]
fn the_mail_queue_hides_a_message_no_longer_than_its_claim_holds() {
    let template = include_str!("../../../template.yaml");
    let queue = template.split("\n  MailQueue:\n").nth(1).expect("a MailQueue resource");
    let visibility: u64 = queue
        .lines()
        .find_map(|line| line.trim().strip_prefix("VisibilityTimeout: "))
        .expect("MailQueue's VisibilityTimeout")
        .parse()
        .unwrap();
    assert!(visibility <= shared::idempotency::IN_PROGRESS_TIMEOUT.as_secs(), "{visibility}");
}

/// Every `alarm = "..."` a function logs is counted by a metric filter with an alarm: a new
/// one left out of template.yaml would page no one.
#[test]
fn every_alarm_the_code_logs_is_counted_by_the_template() {
    let template = include_str!("../../../template.yaml");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut logged = BTreeSet::new();
    let mut folders = vec![root.join("shared/src")];
    folders.extend(std::fs::read_dir(root.join("functions")).unwrap().map(|f| f.unwrap().path().join("src")));
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for part in text.split("alarm = \"").skip(1) {
                    logged.insert(part.split('"').next().unwrap().to_owned());
                }
            }
        }
    }
    assert!(logged.contains("erasure_job_failing") && logged.contains("erase_call_failing"), "{logged:?}");
    for alarm in &logged {
        assert!(
            template.contains(&format!("$.fields.alarm = \"{alarm}\"")),
            "template.yaml has no metric filter for alarm = {alarm:?}"
        );
    }
    assert!(template.contains("MetricName: SweeperGaveUp") && template.contains("RetentionSweeperGaveUpAlarm:"));
}
