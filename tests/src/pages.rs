//! The web's form posts, as a browser makes them: open the page (it sets the CSRF cookie and
//! puts the token in its forms), then post the form with both cookies.

use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::backend::{Backend, Session};

/// What a page or a form post answered: status, `Location` (if any) and body.
#[derive(Debug)]
pub struct PageAnswer {
    pub status: u16,
    pub location: String,
    pub body: String,
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn send(b: &Backend, request: http::Request<axum::body::Body>) -> (http::HeaderMap, PageAnswer) {
    let response = b.app.clone().oneshot(request).await.expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let location = headers.get(http::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (headers, PageAnswer { status, location, body: String::from_utf8_lossy(&bytes).into_owned() })
}

/// A page's form as a browser holds it: the session and CSRF cookies, and the form's token.
#[derive(Debug, Clone)]
pub struct OpenForm {
    cookies: String,
    token: String,
}

impl OpenForm {
    /// Opens `page` signed in as `who` (it must answer 200 with a form).
    pub async fn of(b: &Backend, who: &Session, page: &str) -> Self {
        let session = format!("{}={}", shared::session::COOKIE_NAME, who.token);
        let request =
            http::Request::get(page).header("cookie", &session).body(axum::body::Body::empty()).expect("request");
        let (headers, answer) = send(b, request).await;
        assert_eq!(answer.status, 200, "{page}: {}", answer.body);
        let csrf_cookie = headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("infentre_csrf="))
            .and_then(|c| c.split(';').next())
            .expect("the page sets a csrf cookie")
            .to_owned();
        let token = answer
            .body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the page has a form with a csrf token")
            .to_owned();
        Self { cookies: format!("{session}; {csrf_cookie}"), token }
    }

    /// Posts `fields` (and the form's CSRF token) to `action`.
    pub async fn post(&self, b: &Backend, action: &str, fields: &[(&str, &str)]) -> PageAnswer {
        let mut body = format!("csrf={}", percent_encode(&self.token));
        for (name, value) in fields {
            body.push_str(&format!("&{}={}", percent_encode(name), percent_encode(value)));
        }
        let request = http::Request::post(action)
            .header("cookie", &self.cookies)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body))
            .expect("request");
        send(b, request).await.1
    }
}

/// Opens `page` signed in as `who`, then posts `fields` (and the page's CSRF token) to `action`.
pub async fn post_form(b: &Backend, who: &Session, page: &str, action: &str, fields: &[(&str, &str)]) -> PageAnswer {
    OpenForm::of(b, who, page).await.post(b, action, fields).await
}
