//! The public pages: home, the notice (current, translated, earlier versions), the cookie
//! table, the sub-processors, contacts (DPO, controller, supervisory authority), the banner's
//! demo; and what every page shares (the frame, "form expired", our failure).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::Platform;
use shared::config::{Party, SupervisoryAuthority};
use shared::marketing::DestinationId;
use shared::published::{COOKIES, Cookie, CookieCategory, SUBPROCESSORS, Subprocessor};

use crate::csrf::{self, Csrf};
use crate::i18n::{Catalog, Lang};
use crate::notice;

/// What every page's frame needs: language, texts, the form token, where "switch language"
/// returns to.
pub struct Layout {
    pub lang: Lang,
    catalog: &'static Catalog,
    pub csrf: String,
    pub path: String,
    pub title: String,
}

impl Layout {
    pub fn t(&self, id: &str) -> String {
        self.catalog.t(id)
    }

    pub fn t1(&self, id: &str, name: &str, value: &str) -> String {
        self.catalog.t1(id, name, value)
    }

    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// The switch's choices: (code, native name, whether it is the page's language).
    pub fn languages(&self) -> Vec<(&'static str, String, bool)> {
        Lang::ALL.into_iter().map(|l| (l.code(), self.t(&format!("lang-{}", l.code())), l == self.lang)).collect()
    }
}

/// The end of a flow, or why it cannot go on: a text and the next step.
#[derive(Template)]
#[template(path = "outcome.html")]
pub(crate) struct Outcome {
    pub(crate) l: Layout,
    pub(crate) text: String,
    pub(crate) next_href: &'static str,
    pub(crate) next: String,
}

pub(crate) struct Request {
    pub layout: Layout,
    pub set_cookie: Option<String>,
}

pub(crate) fn request(platform: &Platform, headers: &HeaderMap, path: &str, title_id: &str) -> Request {
    let lang = crate::i18n::negotiate(headers);
    let catalog = crate::i18n::catalog(lang);
    let Csrf { token, set_cookie } = csrf::issue(headers, &platform.settings.signing_key, secure(platform));
    let layout = Layout { lang, catalog, csrf: token, path: path.to_owned(), title: catalog.t(title_id) };
    Request { layout, set_cookie }
}

pub(crate) fn secure(platform: &Platform) -> bool {
    platform.settings.public_base_url.starts_with("https://")
}

pub(crate) fn render(status: StatusCode, page: &impl Template, set_cookie: Option<String>) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
            if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!doctype html><title>Error</title><p>Error</p>",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    l: Layout,
}

pub async fn home(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    let r = request(&platform, &headers, "/", "home-title");
    render(StatusCode::OK, &Home { l: r.layout }, r.set_cookie)
}

#[derive(Template)]
#[template(path = "notice.html")]
struct Notice {
    l: Layout,
    version: String,
    date: String,
    /// Rendered when built (`notice`).
    html: &'static str,
    translation: bool,
    earlier: Vec<(&'static str, &'static str)>,
    current: bool,
}

pub async fn notice(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    let r = request(&platform, &headers, "/privacy", "notice-title");
    let (html, translation) = notice::current_html(r.layout.lang);
    let page = Notice {
        version: platform.settings.policy_version.clone(),
        date: platform.settings.policy_date.clone(),
        html,
        translation,
        earlier: notice::ARCHIVE.iter().map(|n| (n.version, n.date)).collect(),
        current: true,
        l: r.layout,
    };
    render(StatusCode::OK, &page, r.set_cookie)
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    l: Layout,
}

/// An earlier version, in the language it was written in (English).
pub async fn archived_notice(
    State(platform): State<Platform>,
    headers: HeaderMap,
    Path(version): Path<String>,
) -> Response {
    let Some(archived) = notice::archived(&version) else {
        let r = request(&platform, &headers, "/privacy", "not-found-title");
        return render(StatusCode::NOT_FOUND, &NotFound { l: r.layout }, r.set_cookie);
    };
    let r = request(&platform, &headers, &format!("/privacy/versions/{}", archived.version), "notice-title");
    let page = Notice {
        version: archived.version.to_owned(),
        date: archived.date.to_owned(),
        html: archived.html,
        translation: false,
        earlier: Vec::new(),
        current: false,
        l: r.layout,
    };
    render(StatusCode::OK, &page, r.set_cookie)
}

/// A cookie or sub-processor's message id in the catalogs: its name, lowercase, with every
/// other character a dash (`__Host-infentre_session` → `cookie-host-infentre-session`).
pub fn message_id(prefix: &str, name: &str) -> String {
    let slug: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let slug = slug.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
    format!("{prefix}-{slug}")
}

/// Browser storage and a cookie may share a name; their texts differ.
pub fn cookie_message_id(cookie: &Cookie) -> String {
    message_id(if cookie.storage_type == "web" { "storage" } else { "cookie" }, cookie.name)
}

pub struct CookieRow {
    pub name: &'static str,
    pub domain: &'static str,
    pub provider: &'static str,
    pub category: String,
    pub duration: String,
    pub storage: String,
    pub description: String,
}

fn duration(l: &Layout, seconds: u64) -> String {
    let days = seconds / 86_400;
    if days >= 60 {
        l.t1("duration-months", "count", &(days * 12 / 365).to_string())
    } else if days >= 1 {
        l.t1("duration-days", "count", &days.to_string())
    } else {
        l.t1("duration-hours", "count", &(seconds / 3600).to_string())
    }
}

fn cookie_row(l: &Layout, cookie: &Cookie) -> CookieRow {
    let category = match cookie.purpose {
        CookieCategory::StrictlyNecessary => "category-necessary",
        CookieCategory::Analytics => "category-analytics",
        CookieCategory::Marketing => "category-marketing",
    };
    let web = cookie.storage_type == "web";
    let storage = if web { "storage-web" } else { "storage-cookie" };
    CookieRow {
        name: cookie.name,
        domain: cookie.domain,
        provider: cookie.provider,
        category: l.t(category),
        duration: duration(l, cookie.duration_seconds),
        storage: l.t(storage),
        description: l.t(&cookie_message_id(cookie)),
    }
}

#[derive(Template)]
#[template(path = "cookies.html")]
struct Cookies {
    l: Layout,
    rows: Vec<CookieRow>,
}

pub async fn cookies(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    let r = request(&platform, &headers, "/privacy/cookies", "cookies-title");
    let rows = COOKIES.iter().map(|c| cookie_row(&r.layout, c)).collect();
    render(StatusCode::OK, &Cookies { l: r.layout, rows }, r.set_cookie)
}

pub struct SubprocessorRow {
    pub name: &'static str,
    pub service: String,
    pub data: String,
    pub location: String,
    pub safeguards: String,
}

fn subprocessor_row(l: &Layout, s: &Subprocessor) -> SubprocessorRow {
    let id = message_id("subprocessor", s.name);
    SubprocessorRow {
        name: s.name,
        service: l.t(&format!("{id}-service")),
        data: l.t(&format!("{id}-data")),
        location: l.t(&format!("{id}-location")),
        safeguards: l.t(&format!("{id}-safeguards")),
    }
}

/// One field a marketing destination receives, from its declaration
/// (`shared::marketing::fields`): the table is what the request builders send.
pub struct SharedFieldRow {
    pub destination: &'static str,
    pub path: &'static str,
    pub holds: String,
}

fn destination_name(destination: DestinationId) -> &'static str {
    match destination {
        DestinationId::GoogleAnalytics => "Google Analytics",
        DestinationId::Facebook => "Facebook (Meta)",
    }
}

fn shared_field_rows(l: &Layout) -> Vec<SharedFieldRow> {
    DestinationId::ALL
        .into_iter()
        .flat_map(|destination| destination.fields_sent().iter().map(move |field| (destination, field)))
        .map(|(destination, field)| SharedFieldRow {
            destination: destination_name(destination),
            path: field.path,
            holds: l.t(&format!("sharing-holds-{}", field.holds)),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "subprocessors.html")]
struct Subprocessors {
    l: Layout,
    rows: Vec<SubprocessorRow>,
    shared_fields: Vec<SharedFieldRow>,
}

pub async fn subprocessors(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    let r = request(&platform, &headers, "/privacy/subprocessors", "subprocessors-title");
    let rows = SUBPROCESSORS.iter().map(|s| subprocessor_row(&r.layout, s)).collect();
    let shared_fields = shared_field_rows(&r.layout);
    render(StatusCode::OK, &Subprocessors { l: r.layout, rows, shared_fields }, r.set_cookie)
}

#[derive(Template)]
#[template(path = "contact.html")]
struct Contact {
    l: Layout,
    controller: Party,
    dpo: Party,
    authority: SupervisoryAuthority,
}

pub async fn contact(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    let r = request(&platform, &headers, "/privacy/contact", "contact-title");
    let settings = &platform.settings;
    let page = Contact {
        controller: settings.controller.clone(),
        dpo: settings.dpo.clone(),
        authority: settings.supervisory_authority.clone(),
        l: r.layout,
    };
    render(StatusCode::OK, &page, r.set_cookie)
}

#[derive(Template)]
#[template(path = "demo.html")]
struct Demo {
    l: Layout,
}

pub async fn demo(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    let r = request(&platform, &headers, "/demo/consent-banner", "demo-title");
    render(StatusCode::OK, &Demo { l: r.layout }, r.set_cookie)
}

#[derive(Template)]
#[template(path = "form_expired.html")]
struct FormExpired {
    l: Layout,
    back: String,
}

/// A form whose CSRF token did not match: say so, and offer the way back.
pub(crate) fn form_expired(platform: &Platform, headers: &HeaderMap, back: &str) -> Response {
    let r = request(platform, headers, back, "expired-title");
    let page = FormExpired { l: r.layout, back: back.to_owned() };
    render(StatusCode::FORBIDDEN, &page, r.set_cookie)
}

/// One of our failures, as a page: logged (the error only), and the way home.
/// The one page for a failure of ours, on every page (account, desks, links): logged, and the
/// person sent home.
pub(crate) fn failed(platform: &Platform, headers: &HeaderMap, err: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %err, "a page failed");
    let r = request(platform, headers, "/", "error-title");
    let page = Outcome { text: r.layout.t("error-text"), next: r.layout.t("link-home"), next_href: "/", l: r.layout };
    render(StatusCode::INTERNAL_SERVER_ERROR, &page, r.set_cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_slugs_of_names() {
        assert_eq!(message_id("cookie", "__Host-infentre_session"), "cookie-host-infentre-session");
        assert_eq!(message_id("cookie", "_ga_<container-id>"), "cookie-ga-container-id");
        assert_eq!(message_id("subprocessor", "Twilio Inc. (SendGrid)"), "subprocessor-twilio-inc-sendgrid");
    }

    #[test]
    fn every_cookie_and_subprocessor_has_texts_in_every_language() {
        for lang in Lang::ALL {
            let catalog = crate::i18n::catalog(lang);
            for cookie in &COOKIES {
                assert!(catalog.has(&cookie_message_id(cookie)), "{lang:?}: {}", cookie.name);
            }
            for s in &SUBPROCESSORS {
                let id = message_id("subprocessor", s.name);
                for field in ["service", "data", "location", "safeguards"] {
                    assert!(catalog.has(&format!("{id}-{field}")), "{lang:?}: {id}-{field}");
                }
            }
            for destination in DestinationId::ALL {
                for field in destination.fields_sent() {
                    assert!(catalog.has(&format!("sharing-holds-{}", field.holds)), "{lang:?}: {}", field.holds);
                }
            }
            for purpose in shared::consent::PurposeId::ALL {
                let id = message_id("purpose", purpose.as_str());
                assert!(catalog.has(&format!("{id}-title")) && catalog.has(&format!("{id}-desc")), "{lang:?}: {id}");
            }
            for id in crate::banner::MESSAGES {
                assert!(catalog.has(&format!("banner-{id}")), "{lang:?}: banner-{id}");
            }
        }
    }

    #[test]
    fn every_message_a_template_asks_for_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut asked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for call in text.split("l.t").skip(1) {
                let Some(args) = call.strip_prefix("(\"").or_else(|| call.strip_prefix("1(\"")) else { continue };
                let id = args.split('"').next().unwrap_or_default();
                asked += 1;
                for lang in Lang::ALL {
                    assert!(crate::i18n::catalog(lang).has(id), "{lang:?} lacks {id}");
                }
            }
        }
        assert!(asked > 30, "{asked} messages found in the templates");
    }
}
