//! The template routes to Lambda exactly the API the code serves (the OpenAPI document), so
//! no endpoint is missing from, or left dangling in, the deployment.

use std::collections::BTreeSet;

/// The (method, path) pairs of the template's HttpApi events.
fn template_routes() -> BTreeSet<(String, String)> {
    let template = include_str!("../../../template.yaml");
    let mut routes = BTreeSet::new();
    let mut method = None;
    for line in template.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("Method: ") {
            method = Some(m.to_uppercase());
        } else if let Some(path) = line.strip_prefix("Path: ")
            && let Some(method) = method.take()
        {
            routes.insert((method, path.to_owned()));
        }
    }
    routes
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
        ];
        for (method, present) in methods {
            // Export downloads are the local server's own: in AWS they are S3 presigned URLs.
            if present && !path.starts_with("/v1/exports/") {
                served.insert((method.to_owned(), path.clone()));
            }
        }
    }
    let routed = template_routes();
    let missing: Vec<_> = served.difference(&routed).collect();
    let dangling: Vec<_> = routed.difference(&served).collect();
    assert!(missing.is_empty(), "served but not routed by template.yaml: {missing:?}");
    assert!(dangling.is_empty(), "routed by template.yaml but not served: {dangling:?}");
    assert!(routed.len() > 30, "{} routes: the template was read", routed.len());
}
