//! The complaint page for anyone, `/complaint`: a visitor without an account complains to our
//! Data Protection Officer through the same use case as `POST /v1/public-complaints`
//! (`shared::complaints::file_public`, with its limits per client and per contact address).
//! A plain form with the CSRF token, as every public form: it works without JavaScript.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use shared::Platform;
use shared::complaints::{self, ComplaintError, PublicComplaint, PublicComplaintError};
use shared::config::{Party, SupervisoryAuthority};
use shared::http::ClientAddress;

use crate::csrf;
use crate::pages::failed;
use crate::pages::{Layout, form_expired, render, request};

const PATH: &str = "/complaint";

#[derive(Template)]
#[template(path = "public_complaint.html")]
struct PublicComplaintPage {
    l: Layout,
    dpo: Party,
    authority: SupervisoryAuthority,
    /// The filed complaint's reference: the page confirms it instead of showing the form.
    received: Option<String>,
    error: Option<String>,
    form: ComplaintForm,
    max_message: usize,
    max_name: usize,
}

#[derive(Debug, Default, Deserialize)]
pub struct ComplaintForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    message: String,
}

fn page(
    platform: &Platform,
    headers: &HeaderMap,
    status: StatusCode,
    received: Option<String>,
    error: Option<&str>,
    form: ComplaintForm,
) -> Response {
    let r = request(platform, headers, PATH, "public-complaint-title");
    let page = PublicComplaintPage {
        error: error.map(|id| r.layout.t(id)),
        l: r.layout,
        dpo: platform.settings.dpo.clone(),
        authority: platform.settings.supervisory_authority.clone(),
        received,
        form: ComplaintForm { csrf: String::new(), ..form },
        max_message: complaints::MAX_MESSAGE,
        max_name: complaints::MAX_NAME,
    };
    render(status, &page, r.set_cookie)
}

pub async fn form(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    page(&platform, &headers, StatusCode::OK, None, None, ComplaintForm::default())
}

/// Files the complaint; a refusal shows why and keeps what was typed.
pub async fn file(
    State(platform): State<Platform>,
    headers: HeaderMap,
    client: Option<axum::Extension<ClientAddress>>,
    form: Result<Form<ComplaintForm>, FormRejection>,
) -> Response {
    let key = &platform.settings.signing_key;
    let Some(form) = form.ok().map(|Form(f)| f).filter(|f| csrf::verify(&headers, key, &f.csrf)) else {
        return form_expired(&platform, &headers, PATH);
    };
    let complaint = PublicComplaint {
        name: Some(form.name.as_str()),
        contact: &form.email,
        message: &form.message,
        client: client.map(|c| c.0.0),
    };
    let (status, error) = match complaints::file_public(&platform, complaint).await {
        Ok(receipt) => return page(&platform, &headers, StatusCode::OK, Some(receipt.id), None, Default::default()),
        Err(PublicComplaintError::Invalid(invalid)) if invalid.code == "invalid_name" => {
            (StatusCode::UNPROCESSABLE_ENTITY, "public-complaint-name-invalid")
        }
        Err(PublicComplaintError::Invalid(_)) => (StatusCode::UNPROCESSABLE_ENTITY, "email-invalid"),
        Err(PublicComplaintError::Complaint(ComplaintError::InvalidMessage)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "complaint-invalid")
        }
        Err(PublicComplaintError::Complaint(ComplaintError::RateLimited { .. })) => {
            (StatusCode::TOO_MANY_REQUESTS, "complaint-throttled")
        }
        Err(PublicComplaintError::Complaint(err)) => return failed(&platform, &headers, &err),
    };
    page(&platform, &headers, status, None, Some(error), form)
}
