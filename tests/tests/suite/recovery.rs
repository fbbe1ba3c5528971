//! Getting back in, on both engines: a password reset link (single use, an hour, every session
//! ends, pending address changes revoked), a new verification link, both silent about whether
//! an address has an account and throttled per address and per client.

use infentre_tests::backend::{Backend, Session, sqlite};
use infentre_tests::pages::post_form;
use infentre_tests::{Auth, call, on_both_engines, outbox_files, token_in};
use serde_json::json;

const ADA: &str = "ada@example.com";
const ADA_PASSWORD: &str = "analytical engine 1843";
const NEW_PASSWORD: &str = "a difference engine too";
const GRACE: &str = "grace@example.com";
const GRACE_PASSWORD: &str = "compilers all the way";

on_both_engines!(
    a_reset_link_sets_a_new_password_once_and_ends_every_session,
    reset_requests_are_silent_about_unknown_and_unverified_addresses,
    a_reset_link_dies_after_an_hour,
    link_requests_are_throttled_per_address_with_retry_after,
    a_new_verification_link_goes_only_to_an_unverified_account,
    reset_links_and_their_counters_are_erased_with_the_account,
    emails_are_written_in_the_language_of_their_recipient,
    a_password_change_from_the_api_or_the_settings_page_revokes_address_changes,
    a_reset_lets_the_owner_in_past_a_lockout_someone_else_caused,
);

/// The mails to `to` whose text holds `part`, oldest first.
fn mails_about(b: &Backend, to: &str, part: &str) -> Vec<String> {
    outbox_files(&b.outbox).into_iter().filter(|m| m.contains(&format!("To: {to}")) && m.contains(part)).collect()
}

async fn request_reset(b: &Backend, email: &str) -> (u16, serde_json::Value) {
    b.post("/v1/password-reset-requests", Auth::None, json!({"email": email})).await
}

async fn a_reset_link_sets_a_new_password_once_and_ends_every_session(b: Backend) {
    let laptop = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let phone = b.login(ADA, ADA_PASSWORD).await;
    let (status, _, _) = call(
        &b.app,
        "PATCH",
        "/v1/me",
        laptop.bearer(),
        Some(json!({"email": "countess@example.com", "current_password": ADA_PASSWORD})),
    )
    .await;
    assert_eq!(status, 200);
    b.deliver_mail().await;
    let address_change = token_in(&mails_about(&b, "countess@example.com", "new e-mail address")[0]).unwrap();

    let answer = request_reset(&b, ADA).await;
    assert_eq!(answer, (202, json!({"status": "requested"})));
    b.deliver_mail().await;
    let mails = mails_about(&b, ADA, "Reset your password");
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("/reset-password/new?token="), "the link opens a page");
    let token = token_in(&mails[0]).unwrap();

    let (status, problem) =
        b.post("/v1/password-resets", Auth::None, json!({"token": token, "password": "short"})).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("weak_password")), "{problem}");
    let (status, body) =
        b.post("/v1/password-resets", Auth::None, json!({"token": token, "password": NEW_PASSWORD})).await;
    assert_eq!(status, 200, "a refused password did not use the link up: {body}");
    assert_eq!(body["user_id"], laptop.user_id.as_str());

    assert_eq!(b.get("/v1/me", laptop.bearer()).await.0, 401, "every session ends");
    assert_eq!(b.get("/v1/me", phone.bearer()).await.0, 401);
    assert_eq!(b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": ADA_PASSWORD})).await.0, 401);
    b.login(ADA, NEW_PASSWORD).await;
    let (status, problem) =
        b.post("/v1/password-resets", Auth::None, json!({"token": token, "password": "yet another password"})).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_token")), "single use");
    let (status, problem) = b.post("/v1/email-verifications", Auth::None, json!({"token": address_change})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_token")),
        "the pending address change is revoked"
    );
    b.deliver_mail().await;
    assert_eq!(mails_about(&b, ADA, "password was changed").len(), 1, "the owner is told");
}

async fn reset_requests_are_silent_about_unknown_and_unverified_addresses(b: Backend) {
    b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let signup = json!({"email": GRACE, "password": GRACE_PASSWORD, "organisation_name": "Unverified"});
    assert_eq!(b.post("/v1/signup", Auth::None, signup).await.0, 202);
    b.deliver_mail().await;
    let before = outbox_files(&b.outbox).len();

    let answers =
        [request_reset(&b, ADA).await, request_reset(&b, GRACE).await, request_reset(&b, "nobody@example.com").await];

    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    b.deliver_mail().await;
    let sent = outbox_files(&b.outbox);
    assert_eq!(sent.len(), before + 1, "only the verified account gets a link");
    assert!(sent[before].contains(&format!("To: {ADA}")) && sent[before].contains("Reset your password"));
    let (status, problem) = request_reset(&b, "not an address").await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("invalid_email")));
}

async fn a_reset_link_dies_after_an_hour(b: Backend) {
    b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    request_reset(&b, ADA).await;
    b.deliver_mail().await;
    let token = token_in(&mails_about(&b, ADA, "Reset your password")[0]).unwrap();

    b.clock.advance(chrono::Duration::seconds(3601));

    let (status, problem) =
        b.post("/v1/password-resets", Auth::None, json!({"token": token, "password": NEW_PASSWORD})).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_token")));
    b.login(ADA, ADA_PASSWORD).await;
}

async fn link_requests_are_throttled_per_address_with_retry_after(b: Backend) {
    for _ in 0..3 {
        assert_eq!(request_reset(&b, "nobody@example.com").await.0, 202);
    }

    let (status, headers, problem) =
        call(&b.app, "POST", "/v1/password-reset-requests", Auth::None, Some(json!({"email": "Nobody@Example.com"})))
            .await;

    assert_eq!((status, problem["code"].as_str()), (429, Some("rate_limited")), "the same address, however typed");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(request_reset(&b, "somebody@example.com").await.0, 202, "other addresses are not held up");
    let resend = json!({"email": "nobody@example.com"});
    assert_eq!(b.post("/v1/verification-requests", Auth::None, resend).await.0, 202, "a limit of its own");
    b.clock.advance(chrono::Duration::seconds(retry_after as i64));
    assert_eq!(request_reset(&b, "nobody@example.com").await.0, 202);
}

async fn a_new_verification_link_goes_only_to_an_unverified_account(b: Backend) {
    b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let signup = json!({"email": GRACE, "password": GRACE_PASSWORD, "organisation_name": "Compilers"});
    assert_eq!(b.post("/v1/signup", Auth::None, signup).await.0, 202);
    b.deliver_mail().await;
    let before = outbox_files(&b.outbox).len();

    let mut answers = Vec::new();
    for email in [ADA, GRACE, "nobody@example.com"] {
        answers.push(b.post("/v1/verification-requests", Auth::None, json!({"email": email})).await);
    }

    assert!(answers.iter().all(|a| a == &answers[0]) && answers[0].0 == 202, "{answers:?}");
    b.deliver_mail().await;
    let sent = outbox_files(&b.outbox);
    assert_eq!(sent.len(), before + 1);
    assert!(sent[before].contains(&format!("To: {GRACE}")) && sent[before].contains("Verify your e-mail address"));
    let token = token_in(&sent[before]).unwrap();
    assert_eq!(b.post("/v1/email-verifications", Auth::None, json!({"token": token})).await.0, 200);
    b.login(GRACE, GRACE_PASSWORD).await;
}

async fn reset_links_and_their_counters_are_erased_with_the_account(b: Backend) {
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, GRACE, GRACE_PASSWORD, "member").await;
    request_reset(&b, GRACE).await;
    b.post("/v1/verification-requests", Auth::None, json!({"email": GRACE})).await;
    b.deliver_mail().await;
    let token = token_in(&mails_about(&b, GRACE, "Reset your password")[0]).unwrap();
    let token_hash = shared::hash::sha256_hex(token.as_bytes());
    let address_hash = shared::hash::sha256_hex(GRACE.as_bytes());
    assert!(b.count_of(&token_hash).await > 0 && b.count_of(&address_hash).await > 0);

    let (status, _) = b.delete("/v1/me", grace.bearer(), json!({"password": GRACE_PASSWORD})).await;
    assert!(status == 200 || status == 202, "{status}");
    b.process_rights().await;

    for trace in [grace.user_id.as_str(), token_hash.as_str(), address_hash.as_str()] {
        assert_eq!(b.count_of(trace).await, 0, "an item still holds {trace}");
    }
}

#[tokio::test]
async fn reset_requests_from_one_client_are_throttled_across_addresses() {
    let b = sqlite().await;
    // In process there is no client address: every request shares the "unknown" client.
    for n in 0..20 {
        assert_eq!(request_reset(&b, &format!("person{n}@example.com")).await.0, 202);
    }
    let (status, problem) = request_reset(&b, "person20@example.com").await;
    assert_eq!((status, problem["code"].as_str()), (429, Some("rate_limited")));
}

/// Signs up with `Accept-Language`.
async fn sign_up_in(b: &Backend, email: &str, password: &str, accept_language: &str) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let body = json!({"email": email, "password": password, "organisation_name": "Språkbolaget"});
    let request = http::Request::post("/v1/signup")
        .header("content-type", "application/json")
        .header("accept-language", accept_language)
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = b.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 202, "{:?}", response.into_body().collect().await.unwrap().to_bytes());
}

async fn emails_are_written_in_the_language_of_their_recipient(b: Backend) {
    sign_up_in(&b, GRACE, GRACE_PASSWORD, "sv-SE,sv;q=0.9,en;q=0.5").await;
    sign_up_in(&b, ADA, ADA_PASSWORD, "de-DE, fr;q=0.8").await;
    b.deliver_mail().await;
    // Subjects are RFC 2047 encoded once not ASCII: the bodies tell the language.
    let swedish = mails_about(&b, GRACE, "Välkommen till Infentre.");
    assert_eq!(swedish.len(), 1, "{:?}", outbox_files(&b.outbox));
    assert_eq!(mails_about(&b, ADA, "to verify your e-mail address").len(), 1, "neither German nor French: English");
    let token = token_in(&swedish[0]).unwrap();
    assert_eq!(b.post("/v1/email-verifications", Auth::None, json!({"token": token})).await.0, 200);
    let grace = b.login(GRACE, GRACE_PASSWORD).await;

    // What she is sent later follows the language kept on her account.
    request_reset(&b, GRACE).await;
    let invite = json!({"email": "bob@example.com", "role": "member"});
    assert_eq!(b.post("/v1/organisations/current/invitations", grace.bearer(), invite).await.0, 201);
    let (status, _) = b.post("/v1/rights-requests", grace.bearer(), json!({"type": "access"})).await;
    assert_eq!(status, 201);
    b.deliver_mail().await;
    b.process_rights().await;
    b.deliver_mail().await;

    assert_eq!(mails_about(&b, GRACE, "Någon bad om att återställa lösenordet").len(), 1);
    assert_eq!(
        mails_about(&b, "bob@example.com", "Du är inbjuden att gå med i Språkbolaget").len(),
        1,
        "the inviter's"
    );
    assert_eq!(mails_about(&b, GRACE, "Vi har tagit emot din begäran om tillgång").len(), 1);
    let done = mails_about(&b, GRACE, "Ladda ner den (logga in om du ombeds)");
    assert_eq!(done.len(), 1, "{:?}", outbox_files(&b.outbox));
    assert!(done[0].contains("/account/requests/") && done[0].contains("/export"), "{}", done[0]);
}

/// Starts an address change to `to` through the API; the link mailed to the new address.
async fn pending_address_change(b: &Backend, who: &Session, password: &str, to: &str) -> String {
    let (status, _, body) =
        call(&b.app, "PATCH", "/v1/me", who.bearer(), Some(json!({"email": to, "current_password": password}))).await;
    assert_eq!(status, 200, "{body}");
    b.deliver_mail().await;
    token_in(mails_about(b, to, "new e-mail address").last().expect("a link to the new address")).unwrap()
}

async fn address_change_refused(b: &Backend, token: &str) -> bool {
    let (status, problem) = b.post("/v1/email-verifications", Auth::None, json!({"token": token})).await;
    (status, problem["code"].as_str()) == (400, Some("invalid_token"))
}

/// M5: a password changed in the settings (the API's `PATCH /v1/me`, or the page's form) ends
/// the other sessions and revokes what the old password may have started: pending address
/// changes and reset links. The session that changed it lives on.
async fn a_password_change_from_the_api_or_the_settings_page_revokes_address_changes(b: Backend) {
    let laptop = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let phone = b.login(ADA, ADA_PASSWORD).await;
    let change = pending_address_change(&b, &phone, ADA_PASSWORD, "thief@example.com").await;
    assert_eq!(request_reset(&b, ADA).await.0, 202);
    b.deliver_mail().await;
    let reset = token_in(&mails_about(&b, ADA, "Reset your password")[0]).unwrap();

    let (status, _, body) = call(
        &b.app,
        "PATCH",
        "/v1/me",
        laptop.bearer(),
        Some(json!({"current_password": ADA_PASSWORD, "new_password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("password_changed")), "{body}");
    assert_eq!(b.get("/v1/me", laptop.bearer()).await.0, 200, "the session that changed it lives on");
    assert_eq!(b.get("/v1/me", phone.bearer()).await.0, 401, "every other session ends");
    assert!(address_change_refused(&b, &change).await, "the pending address change is revoked");
    let (status, problem) =
        b.post("/v1/password-resets", Auth::None, json!({"token": reset, "password": "yet another password"})).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_token")), "the reset link is revoked");

    // The same from the settings page's form.
    let tablet = b.login(ADA, NEW_PASSWORD).await;
    let change = pending_address_change(&b, &tablet, NEW_PASSWORD, "thief@example.com").await;
    let answer = post_form(
        &b,
        &laptop,
        "/account/settings",
        "/account/password",
        &[("current_password", NEW_PASSWORD), ("new_password", ADA_PASSWORD)],
    )
    .await;
    assert_eq!((answer.status, answer.location.as_str()), (303, "/account/settings?done=password"), "{}", answer.body);
    assert_eq!(b.get("/v1/me", laptop.bearer()).await.0, 200);
    assert_eq!(b.get("/v1/me", tablet.bearer()).await.0, 401);
    assert!(address_change_refused(&b, &change).await, "the pending address change is revoked");
    b.login(ADA, ADA_PASSWORD).await;
    let (status, body) = b.get("/v1/me", laptop.bearer()).await;
    assert_eq!((status, body["email"].as_str()), (200, Some(ADA)), "the address never changed");
}

/// L11: anyone can lock a known address out of login with 5 wrong passwords; the mailbox's
/// owner gets back in at once with a reset link, which clears the account's counter.
async fn a_reset_lets_the_owner_in_past_a_lockout_someone_else_caused(b: Backend) {
    b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    for _ in 0..5 {
        let (status, _) =
            b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": "a wrong guess!!"})).await;
        assert_eq!(status, 401);
    }
    let (status, _) = b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": ADA_PASSWORD})).await;
    assert_eq!(status, 429, "locked out");

    assert_eq!(request_reset(&b, ADA).await.0, 202);
    b.deliver_mail().await;
    let token = token_in(&mails_about(&b, ADA, "Reset your password")[0]).unwrap();
    let (status, body) =
        b.post("/v1/password-resets", Auth::None, json!({"token": token, "password": NEW_PASSWORD})).await;
    assert_eq!(status, 200, "{body}");

    b.login(ADA, NEW_PASSWORD).await;
}
