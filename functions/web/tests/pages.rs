//! The pages through the whole application (`shared::http::app`), on the embedded engine.

use std::io::Write;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use shared::clock::SystemClock;
use tower::ServiceExt;

struct App {
    router: Router,
    platform: shared::Platform,
    _dir: tempfile::TempDir,
}

fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let engine = shared::embedded::Engine::open_with_defaults(dir.path(), Arc::new(SystemClock)).unwrap();
    let platform = engine.platform.clone();
    App { router: shared::http::app(web::routes().with_state(platform.clone())), platform, _dir: dir }
}

async fn send(app: &App, request: Request<Body>) -> (Response<()>, String) {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), String::from_utf8(bytes.to_vec()).unwrap())
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).unwrap()
}

fn header<'a>(response: &'a Response<()>, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The csrf cookie pair and the token of the page's language form.
fn form_token(response: &Response<()>, html: &str) -> (String, String) {
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("infentre_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("a csrf cookie")
        .to_owned();
    let token = html.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    (cookie, token.to_owned())
}

/// The pages behind e-mailed links (they need a token) and the signed-in pages (account, desks).
const LINK_PAGES: [&str; 10] = [
    "/verify-email",
    "/accept-invitation",
    "/unsubscribe",
    "/confirm-request",
    "/account",
    "/admin",
    "/operator",
    "/reset-password/new",
    "/operator/cases",
    "/operator/letters",
];

fn page_paths() -> Vec<&'static str> {
    web::ROUTES
        .iter()
        .filter(|(method, path)| *method == "GET" && !path.contains('{') && !path.contains('.'))
        .filter(|(_, path)| !LINK_PAGES.contains(path) && !path.starts_with("/account/"))
        .map(|(_, path)| *path)
        .collect()
}

#[tokio::test]
async fn every_page_is_html_with_a_strict_policy_and_no_inline_code() {
    let app = app();
    let pages = page_paths();
    assert!(pages.len() >= 6, "{pages:?}");
    for path in pages {
        for lang in ["en", "sv"] {
            let (response, html) = send(&app, get(path, &[("accept-language", lang)])).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(header(&response, "content-type").starts_with("text/html"), "{path}");
            let csp = header(&response, "content-security-policy");
            assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
            assert_eq!(header(&response, "x-frame-options"), "DENY");
            assert_eq!(header(&response, "x-content-type-options"), "nosniff");
            assert_eq!(header(&response, "referrer-policy"), "no-referrer");
            assert_eq!(header(&response, "strict-transport-security"), "max-age=31536000");
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{path} in {lang}");
            // Inline code would be blocked by the policy: there must be none.
            assert!(!html.contains("<style") && !html.contains(" style="), "{path}: inline style");
            for script in html.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap_or_default();
                assert!(tag.contains(" src="), "{path}: inline script <script{tag}>");
            }
            assert!(html.contains("name=\"csrf\""), "{path}: the form carries a token");
        }
    }
}

#[tokio::test]
async fn the_language_switch_is_remembered_and_needs_the_form_token() {
    let app = app();
    let (page, html) = send(&app, get("/privacy/cookies", &[("accept-language", "en")])).await;
    assert!(html.contains("<html lang=\"en\">"));
    let (cookie, token) = form_token(&page, &html);

    let post = |cookie: &str, body: String| {
        Request::post("/language")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(Body::from(body))
            .unwrap()
    };
    let (forged, html) = send(&app, post(&cookie, "csrf=0000&lang=sv&return_to=%2Fprivacy%2Fcookies".into())).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(html.contains("<html lang=\"en\">"), "the refusal is a page");
    let (no_cookie, _) = send(&app, post("", format!("csrf={token}&lang=sv&return_to=%2F"))).await;
    assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);

    let (switched, _) = send(&app, post(&cookie, format!("csrf={token}&lang=sv&return_to=%2Fprivacy%2Fcookies"))).await;
    assert_eq!(switched.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&switched, "location"), "/privacy/cookies");
    let lang_cookie = header(&switched, "set-cookie");
    assert!(lang_cookie.starts_with("infentre_lang=sv;") && lang_cookie.contains("Max-Age="), "{lang_cookie}");

    let (_, html) =
        send(&app, get("/privacy/cookies", &[("accept-language", "en"), ("cookie", "infentre_lang=sv")])).await;
    assert!(html.contains("<html lang=\"sv\">") && html.contains("Nödvändig"), "the choice beats the browser");

    let (elsewhere, _) =
        send(&app, post(&cookie, format!("csrf={token}&lang=en&return_to=%2F%2Fevil.example%2F"))).await;
    assert_eq!(header(&elsewhere, "location"), "/", "never a redirect off the site");
}

#[tokio::test]
async fn the_notice_shows_its_version_and_the_translation_says_it_is_one() {
    let app = app();
    let (_, en) = send(&app, get("/privacy", &[])).await;
    let version = shared::config::DEFAULT_POLICY_VERSION;
    assert!(en.contains(&format!("Version {version}")) && en.contains(&format!("last updated {version}")));
    assert!(en.contains("<h2>Infentre privacy notice</h2>"), "the Markdown is rendered, under the page's <h1>");
    assert!(en.contains("<h3>Which rights do I have?</h3>") && en.contains("href=\"/privacy/cookies\""));
    assert!(en.contains("Earlier versions") && !en.contains("translation-note"));

    let (_, sv) = send(&app, get("/privacy", &[("accept-language", "sv-SE,sv;q=0.9")])).await;
    assert!(sv.contains("id=\"translation-note\"") && sv.contains("Det här är en översättning"));
    assert!(sv.contains("<h2>Infentres integritetspolicy</h2>") && sv.contains("Tidigare versioner"));

    // The version it replaced, listed and readable at its own page.
    let earlier = &web::notice::ARCHIVE[0];
    assert!(en.contains(&format!("href=\"/privacy/versions/{}\"", earlier.version)), "{en}");
    let (found, old) = send(&app, get(&format!("/privacy/versions/{}", earlier.version), &[])).await;
    assert_eq!(found.status(), StatusCode::OK);
    assert!(old.contains(&format!("Version {}", earlier.version)) && old.contains("This is an earlier version"));
    assert!(old.contains("<h2>Infentre privacy notice</h2>") && old.contains("Google (Google Analytics)"));
    assert!(!old.contains("Earlier versions"), "the archived page lists no versions itself");

    let (missing, html) = send(&app, get("/privacy/versions/1999-01-01", &[])).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(html.contains("<html lang=\"en\">") && html.contains("href=\"/privacy\""));
}

#[tokio::test]
async fn the_published_tables_and_contacts_are_complete() {
    let app = app();
    let (_, cookies) = send(&app, get("/privacy/cookies", &[])).await;
    for cookie in &shared::published::COOKIES {
        let name = cookie.name.replace('<', "&#60;").replace('>', "&#62;");
        assert!(cookies.contains(&format!("<code>{name}</code>")), "{}", cookie.name);
    }
    assert!(cookies.contains("13 months") && cookies.contains("Strictly necessary"));
    let (_, subprocessors) = send(&app, get("/privacy/subprocessors", &[("accept-language", "sv")])).await;
    for s in &shared::published::SUBPROCESSORS {
        assert!(subprocessors.contains(s.name), "{}", s.name);
    }
    assert!(subprocessors.contains("Skyddsåtgärder"));
    let (_, contact) = send(&app, get("/privacy/contact", &[])).await;
    for expected in ["hello@infentre.com", "Malmskillnadsgatan 32", "Integritetsskyddsmyndigheten (IMY)", "imy@imy.se"]
    {
        assert!(contact.contains(expected), "{expected}");
    }
}

#[tokio::test]
async fn consent_js_carries_the_notice_version_and_both_languages_within_15_kb_gzipped() {
    let app = app();
    let (response, script) = send(&app, get("/consent.js", &[])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "content-type").starts_with("text/javascript"));
    assert!(!script.contains("/*CONFIG*/"), "the settings are in place");
    let (code, config) = script.rsplit_once("})(").unwrap();
    let config = config.trim_end().trim_end_matches(");");
    let config: serde_json::Value = serde_json::from_str(config).unwrap();
    assert_eq!(config["version"], shared::config::DEFAULT_POLICY_VERSION);
    assert_eq!(config["texts"]["en"]["accept"], "Accept all");
    assert_eq!(config["texts"]["sv"]["reject"], "Avvisa alla");
    assert_eq!(config["cookies_url"], "http://127.0.0.1:8080/privacy/cookies");
    // No third party is named anywhere in the script: it loads nothing itself.
    for host in ["google", "facebook", "doubleclick", "https://"] {
        assert!(!code.to_lowercase().contains(&format!("{host}.")), "{host}");
    }

    let (_, css) = send(&app, get("/consent.css", &[])).await;
    let gzipped = |text: &str| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap().len()
    };
    let total = gzipped(&script) + gzipped(&css);
    println!("consent.js {} B gzipped, consent.css {} B gzipped", gzipped(&script), gzipped(&css));
    assert!(total <= 15 * 1024, "{total} bytes gzipped");
}

#[tokio::test]
async fn assets_are_served_and_unknown_ones_are_not() {
    let app = app();
    for (name, content_type, _) in &web::banner::ASSETS {
        let (response, _) = send(&app, get(&format!("/assets/{name}"), &[])).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert_eq!(header(&response, "content-type"), *content_type);
    }
    let (missing, _) = send(&app, get("/assets/../Cargo.toml", &[])).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

fn post_form(path: &str, cookie: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn a_dead_link_gets_a_page_that_says_so_and_what_to_do_next() {
    let app = app();
    for (path, next_step) in [
        ("/verify-email?token=not-a-token", "Ask for a new link"),
        ("/reset-password/new?token=not-a-token", "Ask for a new one"),
        ("/reset-password/new", "href=\"/reset-password\""),
        ("/accept-invitation?token=not-a-token", "Ask an admin"),
        ("/unsubscribe?token=v1.a.product_updates.9999999999.00", "withdraw consent"),
        ("/verify-email", "href=\"/resend-verification\""),
        ("/confirm-request?token=not-a-token", "write to us again"),
        ("/confirm-request", "write to us again"),
    ] {
        let (response, html) = send(&app, get(path, &[])).await;
        assert_eq!(response.status(), StatusCode::GONE, "{path}");
        assert!(html.contains("This link no longer works") && html.contains(next_step), "{path}: {html}");
        assert!(!html.contains("<form class=\"link\""), "{path}: no button for a dead link");
    }
}

/// Ada's account, signed up through the use case, with product updates given: her user id.
async fn subscribed_account(app: &App) -> String {
    use shared::consent::{self, Method, PurposeId};
    let form = shared::accounts::SignupForm {
        email: "ada@example.com",
        password: "correct horse battery staple",
        organisation_name: "Analytical Engines",
        region: None,
        client: None,
        lang: shared::lang::Lang::En,
    };
    shared::accounts::signup(&app.platform, form).await.unwrap();
    let claim = app.platform.store.get(&shared::accounts::EmailClaim::key("ada@example.com")).await.unwrap().unwrap();
    let user_id = claim.data::<shared::accounts::EmailClaim>().unwrap().user_id;
    consent::record(&app.platform, &user_id, PurposeId::ProductUpdates, true, Method::Api).await.unwrap();
    user_id
}

#[tokio::test]
async fn opening_an_unsubscribe_link_changes_nothing_until_the_button_is_pressed() {
    use shared::consent::{self, PurposeId};
    let app = app();
    let user_id = subscribed_account(&app).await;
    let now = shared::clock::Clock::epoch_seconds(app.platform.clock.as_ref());
    let (link, _) = shared::unsubscribe::headers(&app.platform.settings, &user_id, PurposeId::ProductUpdates, now);
    let path = link.trim_start_matches("http://127.0.0.1:8080");
    assert!(path.starts_with("/unsubscribe?token="), "{link}");

    // A mail scanner's prefetch, twice.
    for _ in 0..2 {
        let (page, html) = send(&app, get(path, &[("accept-language", "sv")])).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(html.contains("Sluta få e-post om nya och förbättrade funktioner"), "{html}");
    }
    assert!(consent::is_granted(&app.platform, &user_id, PurposeId::ProductUpdates).await.unwrap());

    let (page, html) = send(&app, get(path, &[])).await;
    let (cookie, csrf) = form_token(&page, &html);
    let token = path.trim_start_matches("/unsubscribe?token=");
    let (forged, _) = send(&app, post_form("/unsubscribe", "", format!("csrf={csrf}&token={token}"))).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "another site cannot press the button");
    assert!(consent::is_granted(&app.platform, &user_id, PurposeId::ProductUpdates).await.unwrap());

    let (done, html) = send(&app, post_form("/unsubscribe", &cookie, format!("csrf={csrf}&token={token}"))).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(html.contains("You are unsubscribed"), "{html}");
    assert!(!consent::is_granted(&app.platform, &user_id, PurposeId::ProductUpdates).await.unwrap());
}

#[tokio::test]
async fn an_emailed_request_is_carried_out_by_the_button_of_its_link_only() {
    use shared::cases::{Case, CaseKind, CaseLink, CaseStatus};
    use shared::consent::{self, PurposeId};
    use shared::store::{Index, Item};
    let app = app();
    let user_id = subscribed_account(&app).await;
    // A case as intake leaves it, awaiting its link.
    let now = shared::clock::Clock::epoch_seconds(app.platform.clock.as_ref());
    let case = Case {
        id: "01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
        sender: "ada@example.com".into(),
        subject: "Unsubscribe".into(),
        received_at: now,
        suggested_kind: CaseKind::WithdrawConsent,
        kind: CaseKind::WithdrawConsent,
        text: "Stop".into(),
        status: CaseStatus::AwaitingConfirmation,
        user_id: Some(user_id.clone()),
        organisation_id: None,
        rights_request_id: None,
        outcome: None,
        closed_at: None,
        history: Vec::new(),
        version: 0,
    };
    app.platform.store.put(case.item(365).unwrap(), None).await.unwrap();
    let token = shared::tokens::generate();
    let hash = shared::tokens::hash(&token).unwrap();
    let link = Item::new(shared::keys::case_link(&hash), "case_link")
        .with_data(&CaseLink { case_id: case.id.clone(), user_id: user_id.clone() })
        .unwrap()
        .with_index(Index::Gsi1, shared::keys::case_link_index(&user_id, &hash))
        .expires_at(now + 3600);
    app.platform.store.put(link, None).await.unwrap();
    let path = format!("/confirm-request?token={token}");

    for lang in ["sv", "en"] {
        let (page, html) = send(&app, get(&path, &[("accept-language", lang)])).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(html.contains("<form class=\"link\""), "{html}");
    }
    assert!(consent::is_granted(&app.platform, &user_id, PurposeId::ProductUpdates).await.unwrap());
    let (page, html) = send(&app, get(&path, &[])).await;
    assert!(html.contains("withdraw your consent to product update e-mails"), "{html}");
    let (cookie, csrf) = form_token(&page, &html);
    let (forged, _) = send(&app, post_form("/confirm-request", "", format!("csrf={csrf}&token={token}"))).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "another site cannot press the button");
    assert!(consent::is_granted(&app.platform, &user_id, PurposeId::ProductUpdates).await.unwrap());
    let (done, html) = send(&app, post_form("/confirm-request", &cookie, format!("csrf={csrf}&token={token}"))).await;
    assert_eq!(done.status(), StatusCode::OK, "{html}");
    assert!(html.contains("Your consent is withdrawn"), "{html}");
    assert!(!consent::is_granted(&app.platform, &user_id, PurposeId::ProductUpdates).await.unwrap());
    let (again, _) = send(&app, post_form("/confirm-request", &cookie, format!("csrf={csrf}&token={token}"))).await;
    assert_eq!(again.status(), StatusCode::GONE, "a link works once");
}

#[tokio::test]
async fn a_consent_change_needs_the_form_token_and_a_session() {
    let app = app();
    let (page, html) = send(&app, get("/sign-in", &[])).await;
    let (cookie, csrf) = form_token(&page, &html);
    let body = |csrf: &str| format!("csrf={csrf}&purpose=product_updates&granted=true");
    let (forged, _) = send(&app, post_form("/account/consents", "", body(&csrf))).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (anonymous, _) = send(&app, post_form("/account/consents", &cookie, body(&csrf))).await;
    assert_eq!((anonymous.status(), header(&anonymous, "location")), (StatusCode::SEE_OTHER, "/sign-in"));
    let (signed_out, _) = send(&app, get("/account", &[])).await;
    assert_eq!(header(&signed_out, "location"), "/sign-in");
}

#[tokio::test]
async fn filing_a_complaint_needs_the_form_token_and_a_session() {
    let app = app();
    let (page, html) = send(&app, get("/sign-in", &[])).await;
    let (cookie, csrf) = form_token(&page, &html);
    let body = |csrf: &str| format!("csrf={csrf}&message=Too+many+e-mails");
    let (forged, _) = send(&app, post_form("/account/complaint", "", body(&csrf))).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (anonymous, _) = send(&app, post_form("/account/complaint", &cookie, body(&csrf))).await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert!(header(&anonymous, "location").starts_with("/sign-in"));
}

/// The use case behind both the API and the form: checked, stored for the operators, bounded.
#[tokio::test]
async fn a_complaint_is_checked_stored_and_bounded_per_person() {
    use shared::complaints::{self, ComplaintError, MAX_MESSAGE};
    let app = app();
    let p = &app.platform;
    assert!(matches!(complaints::file(p, "u1", "o1", "  \n ").await, Err(ComplaintError::InvalidMessage)));
    let long = "é".repeat(MAX_MESSAGE + 1);
    assert!(matches!(complaints::file(p, "u1", "o1", &long).await, Err(ComplaintError::InvalidMessage)));
    let receipt = complaints::file(p, "u1", "o1", " Too many e-mails ").await.unwrap();
    assert_eq!(receipt.dpo, p.settings.dpo);
    let (listed, _) = shared::operator::complaints_page(p, 10, None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].message.as_str()), (receipt.id.as_str(), "Too many e-mails"));
    let limit = shared::throttle::COMPLAINTS_PER_USER.max_failures as usize;
    for _ in 1..limit {
        complaints::file(p, "u1", "o1", "again").await.unwrap();
    }
    assert!(matches!(complaints::file(p, "u1", "o1", "again").await, Err(ComplaintError::RateLimited { .. })));
    // Another person's limit is their own.
    complaints::file(p, "u2", "o1", "mine").await.unwrap();
}

/// The complaint page for anyone: the form token, then the API's use case with its limits.
#[tokio::test]
async fn a_complaint_from_anyone_needs_the_form_token_and_is_filed_and_bounded_per_address() {
    let app = app();
    let (page, html) = send(&app, get("/complaint", &[("accept-language", "sv")])).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(html.contains("action=\"/complaint\"") && html.contains("lang=\"sv\""), "{html}");
    let (cookie, csrf) = form_token(&page, &html);
    let body = |csrf: &str, email: &str| format!("csrf={csrf}&name=Ada&email={email}&message=You+kept+my+data");
    let listed = || async { shared::operator::complaints_page(&app.platform, 10, None).await.unwrap().0 };

    let (forged, _) = send(&app, post_form("/complaint", "", body(&csrf, "ada%40example.net"))).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (refused, html) = send(&app, post_form("/complaint", &cookie, body(&csrf, "ada%40localhost"))).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"form-error\"") && html.contains("You kept my data"), "typed text is kept: {html}");
    assert!(listed().await.is_empty(), "nothing is filed");

    let (filed, html) = send(&app, post_form("/complaint", &cookie, body(&csrf, "ada%40example.net"))).await;
    assert_eq!(filed.status(), StatusCode::OK);
    let [complaint] = listed().await.try_into().expect("one complaint");
    assert!(html.contains(&complaint.id), "the page shows the reference: {html}");
    assert_eq!((complaint.contact.as_deref(), complaint.name.as_deref()), (Some("ada@example.net"), Some("Ada")));
    assert!(complaint.user_id.is_none());

    let per_address = shared::complaints::PUBLIC_PER_ADDRESS.max_failures as usize;
    for _ in 1..per_address {
        let (filed, _) = send(&app, post_form("/complaint", &cookie, body(&csrf, "ADA%40example.net"))).await;
        assert_eq!(filed.status(), StatusCode::OK);
    }
    let (limited, html) = send(&app, post_form("/complaint", &cookie, body(&csrf, "ada%40example.net"))).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("id=\"form-error\""), "{html}");
    assert_eq!(listed().await.len(), per_address);
}
