//! The cookie banner: `consent.js` with its settings (the notice version, the banner's texts
//! in every language from the catalogs), its stylesheet, and the pages' static assets.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::Platform;

use crate::i18n::Lang;

const SCRIPT: &str = include_str!("../assets/consent.js");
const STYLESHEET: &str = include_str!("../assets/consent.css");
/// Where the script takes its settings.
const CONFIG_SLOT: &str = "/*CONFIG*/";

/// The banner's messages: the catalogs' `banner-*` ids, without the prefix.
pub const MESSAGES: [&str; 17] = [
    "title",
    "text",
    "accept",
    "reject",
    "choose",
    "save",
    "close",
    "necessary",
    "necessary-desc",
    "analytics",
    "analytics-desc",
    "marketing",
    "marketing-desc",
    "gpc",
    "policy-link",
    "saved",
    "always-on",
];

#[derive(Serialize)]
struct Config {
    /// Choices made under another version are asked again.
    version: String,
    privacy_url: String,
    cookies_url: String,
    texts: std::collections::BTreeMap<&'static str, std::collections::BTreeMap<&'static str, String>>,
}

/// The script with its settings in place.
pub fn render_script(platform: &Platform) -> String {
    let base = &platform.settings.public_base_url;
    let texts = Lang::ALL
        .into_iter()
        .map(|lang| {
            let catalog = crate::i18n::catalog(lang);
            let messages = MESSAGES.into_iter().map(|id| (id, catalog.t(&format!("banner-{id}")))).collect();
            (lang.code(), messages)
        })
        .collect();
    let config = Config {
        version: platform.settings.policy_version.clone(),
        privacy_url: format!("{base}/privacy"),
        cookies_url: format!("{base}/privacy/cookies"),
        texts,
    };
    let json = serde_json::to_string(&config).unwrap_or_else(|_| "null".to_owned());
    SCRIPT.replacen(CONFIG_SLOT, &json, 1)
}

fn asset_response(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // Short: a new notice version must reach the banner soon.
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
        ],
        body,
    )
        .into_response()
}

pub async fn script(State(platform): State<Platform>) -> Response {
    asset_response("text/javascript; charset=utf-8", render_script(&platform))
}

pub async fn stylesheet() -> Response {
    asset_response("text/css; charset=utf-8", STYLESHEET)
}

/// The pages' stylesheet and the demo's stand-in tags (never a real third party).
pub const ASSETS: [(&str, &str, &str); 4] = [
    ("style.css", "text/css; charset=utf-8", include_str!("../assets/style.css")),
    ("gtag-standin.js", "text/javascript; charset=utf-8", include_str!("../assets/demo/gtag-standin.js")),
    ("fbevents-standin.js", "text/javascript; charset=utf-8", include_str!("../assets/demo/fbevents-standin.js")),
    ("gtag-config.js", "text/javascript; charset=utf-8", include_str!("../assets/demo/gtag-config.js")),
];

pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => asset_response(content_type, *body),
        None => {
            (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found").into_response()
        }
    }
}
