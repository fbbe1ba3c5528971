//! Accounts and organisations, end to end: on the local binary's router (SQLite) and on the
//! signup function's router against moto (DynamoDB, SQS), with the mail worker delivering to
//! an outbox folder on both.

use infentre_tests::backend::{Backend, moto, sqlite};
use infentre_tests::{Auth, call, on_both_engines, outbox_files, token_mailed_to};
use serde_json::json;

const ADA: &str = "Ada@Example.com";
const ADA_PASSWORD: &str = "analytical engine 1843";
const GRACE: &str = "grace@example.com";
const GRACE_PASSWORD: &str = "compilers all the way";

on_both_engines!(
    the_whole_journey_ends_with_nothing_left_about_the_cancelled_member,
    signup_is_silent_about_existing_accounts,
    a_failed_signup_writes_nothing,
    tokens_are_single_use_and_forged_ones_fail,
    unknown_address_wrong_password_and_unverified_account_look_the_same,
);

async fn the_whole_journey_ends_with_nothing_left_about_the_cancelled_member(b: Backend) {
    // Signup → verification e-mail → verify → login → /v1/me.
    let (status, body) = b
        .post(
            "/v1/signup",
            Auth::None,
            json!({"email": ADA, "password": ADA_PASSWORD, "organisation_name": "Analytical Engines"}),
        )
        .await;
    assert_eq!((status, body), (202, json!({"status": "verification_sent"})));
    b.deliver_mail().await;
    let verification = token_mailed_to(&b.outbox, "Ada@example.com").expect("a verification e-mail in the outbox");
    let (status, verified) = b.post("/v1/email-verifications", Auth::None, json!({"token": verification})).await;
    assert_eq!(status, 200, "{verified}");
    let ada = b.login(ADA, ADA_PASSWORD).await;
    assert!(
        ada.cookie.starts_with("__Host-infentre_session=")
            && ada.cookie.contains("HttpOnly")
            && ada.cookie.contains("Secure")
    );
    let (status, me) = b.get("/v1/me", ada.bearer()).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "Ada@example.com");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["organisation"]["name"], "Analytical Engines");
    assert_eq!(me["organisation"]["region"], "eu");

    // Invite → accept → member login.
    let grace = b.member(&ada, GRACE, GRACE_PASSWORD, "member").await;
    assert_eq!(grace.organisation_id, ada.organisation_id);
    let (_, grace_me) = b.get("/v1/me", grace.bearer()).await;
    assert_eq!(grace_me["role"], "member");
    let (status, members) = b.get("/v1/organisations/current/members", ada.bearer()).await;
    assert_eq!(status, 200);
    let emails: Vec<_> = members["items"].as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["Ada@example.com", GRACE]);
    assert!(b.count_of(&grace.user_id).await > 0);

    // Cancel → nothing about the member remains, the session is dead, login fails.
    let progress = b.cancel("/v1/me", &grace, GRACE_PASSWORD).await;
    assert_eq!(progress["retained"], json!([]));
    assert!(progress["erased"]["user"] == 1 && progress["erased"]["session"] == 1, "{progress}");
    let grace_email_hash = shared::hash::sha256_hex(GRACE.as_bytes());
    for trace in [grace.user_id.as_str(), GRACE, grace_email_hash.as_str()] {
        assert_eq!(b.count_of(trace).await, 0, "an item still holds {trace}");
    }
    assert_eq!(b.get("/v1/me", grace.bearer()).await.0, 401);
    let (status, _, body) =
        call(&b.app, "POST", "/v1/sessions", Auth::None, Some(json!({"email": GRACE, "password": GRACE_PASSWORD})))
            .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_credentials")));
    let (_, members) = b.get("/v1/organisations/current/members", ada.bearer()).await;
    assert_eq!(members["items"].as_array().unwrap().len(), 1);

    // The admin cancels the organisation: nothing of it remains either.
    let progress = b.cancel("/v1/organisations/current", &ada, ADA_PASSWORD).await;
    assert_eq!(progress["member_jobs"], 1, "{progress}");
    for trace in [ada.user_id.as_str(), ada.organisation_id.as_str(), "Ada@example.com", "ada@example.com"] {
        assert_eq!(b.count_of(trace).await, 0, "an item still holds {trace}");
    }
    assert_eq!(b.get("/v1/me", ada.bearer()).await.0, 401);
}

async fn signup_is_silent_about_existing_accounts(b: Backend) {
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let mails_before = outbox_files(&b.outbox).len();

    let (status, body) = b
        .post(
            "/v1/signup",
            Auth::None,
            json!({"email": "ada@EXAMPLE.com", "password": "another password!", "organisation_name": "Copycat"}),
        )
        .await;

    assert_eq!((status, body), (202, json!({"status": "verification_sent"})), "the same answer as a new signup");
    b.deliver_mail().await;
    let mails = outbox_files(&b.outbox);
    assert_eq!(mails.len(), mails_before + 1);
    assert!(mails.last().unwrap().contains("Someone tried to sign up with your address"));
    assert!(!mails.last().unwrap().contains("token="), "the notice carries no link");
    assert_eq!(b.count_of("Copycat").await, 0, "no second organisation");
    let (_, me) = b.get("/v1/me", ada.bearer()).await;
    assert_eq!(me["organisation"]["name"], "Analytical Engines");
}

async fn a_failed_signup_writes_nothing(b: Backend) {
    let cases = [
        (json!({"email": "not-an-address", "password": ADA_PASSWORD, "organisation_name": "X"}), 422, "invalid_email"),
        (json!({"email": "аda@example.com", "password": ADA_PASSWORD, "organisation_name": "X"}), 422, "invalid_email"),
        (json!({"email": ADA, "password": "short", "organisation_name": "X"}), 422, "weak_password"),
        (json!({"email": ADA, "password": ADA, "organisation_name": "X"}), 422, "weak_password"),
        (json!({"email": ADA, "password": ADA_PASSWORD, "organisation_name": "  "}), 422, "invalid_organisation_name"),
        (
            json!({"email": ADA, "password": ADA_PASSWORD, "organisation_name": "x".repeat(101)}),
            422,
            "invalid_organisation_name",
        ),
        (json!({"email": ADA, "password": ADA_PASSWORD, "organisation_name": "X", "admin": true}), 422, "invalid_body"),
        (json!({"email": ADA, "password": ADA_PASSWORD, "organisation_name": 7}), 422, "invalid_body"),
        (
            json!({"email": ADA, "password": ADA_PASSWORD, "organisation_name": "X", "region": "mars"}),
            422,
            "invalid_body",
        ),
        (json!({"email": ADA, "password": ADA_PASSWORD}), 422, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let (got, problem) = b.post("/v1/signup", Auth::None, body.clone()).await;
        assert_eq!((got, problem["code"].as_str()), (status, Some(code)), "{body}");
    }
    let (status, _, problem) = call(&b.app, "POST", "/v1/signup", Auth::None, None).await;
    assert_eq!((status, problem["code"].as_str()), (415, Some("unsupported_media_type")));
    assert!(b.table_text().await.is_empty(), "nothing half written");
    b.deliver_mail().await;
    assert!(outbox_files(&b.outbox).is_empty());
}

async fn tokens_are_single_use_and_forged_ones_fail(b: Backend) {
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let used = token_mailed_to(&b.outbox, "Ada@example.com").unwrap();
    let forged = shared::tokens::generate();
    for token in [used.as_str(), forged.as_str(), "", "../../etc/passwd", &"A".repeat(5000)] {
        let (status, problem) = b.post("/v1/email-verifications", Auth::None, json!({"token": token})).await;
        assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_token")), "{token:.20}");
    }
    let (status, _) =
        b.post("/v1/organisations/current/invitations", ada.bearer(), json!({"email": GRACE, "role": "member"})).await;
    assert_eq!(status, 201);
    b.deliver_mail().await;
    let invitation = token_mailed_to(&b.outbox, GRACE).unwrap();
    // An invitation token is not a verification token, and vice versa.
    assert_eq!(b.post("/v1/email-verifications", Auth::None, json!({"token": invitation})).await.0, 400);
    assert_eq!(
        b.post("/v1/invitations/accept", Auth::None, json!({"token": invitation, "password": GRACE_PASSWORD})).await.0,
        201
    );
    let (status, problem) =
        b.post("/v1/invitations/accept", Auth::None, json!({"token": invitation, "password": GRACE_PASSWORD})).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_token")), "replayed");
    for bad in ["Bearer", "Bearer x", &format!("Bearer {forged}")] {
        let (status, _, problem) =
            call(&b.app, "GET", "/v1/me", Auth::Bearer(bad.trim_start_matches("Bearer").trim()), None).await;
        assert_eq!((status, problem["code"].as_str()), (401, Some("unauthenticated")));
    }
}

async fn unknown_address_wrong_password_and_unverified_account_look_the_same(b: Backend) {
    b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let (status, _) = b
        .post(
            "/v1/signup",
            Auth::None,
            json!({"email": GRACE, "password": GRACE_PASSWORD, "organisation_name": "Unverified"}),
        )
        .await;
    assert_eq!(status, 202);

    let attempts = [(ADA, "wrong password!!"), ("nobody@example.com", ADA_PASSWORD), (GRACE, GRACE_PASSWORD)];
    let mut answers = Vec::new();
    for (email, password) in attempts {
        let (status, headers, body) =
            call(&b.app, "POST", "/v1/sessions", Auth::None, Some(json!({"email": email, "password": password}))).await;
        assert!(headers.get("set-cookie").is_none());
        answers.push((status, body));
    }
    assert!(answers.iter().all(|answer| answer == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 401);
    assert_eq!(answers[0].1["code"], "invalid_credentials");
}

// ---- The embedded engine only: behaviour that does not depend on the backend --------------

#[tokio::test]
async fn login_is_throttled_per_account_with_retry_after() {
    let b = sqlite().await;
    b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    for _ in 0..5 {
        assert_eq!(
            b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": "wrong password!!"})).await.0,
            401
        );
    }

    let (status, headers, body) =
        call(&b.app, "POST", "/v1/sessions", Auth::None, Some(json!({"email": ADA, "password": ADA_PASSWORD}))).await;

    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "even the right password waits");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after));
    b.clock.advance(chrono::Duration::seconds(retry_after as i64));
    b.login(ADA, ADA_PASSWORD).await;
}

#[tokio::test]
async fn a_cookie_session_needs_the_csrf_token_for_unsafe_requests() {
    let b = sqlite().await;
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let cookie = |csrf| Auth::Cookie { token: &ada.token, csrf };
    assert_eq!(b.get("/v1/me", cookie(None)).await.0, 200, "reads need no CSRF token");

    let invite = json!({"email": GRACE, "role": "member"});
    let (status, problem) = b.post("/v1/organisations/current/invitations", cookie(None), invite.clone()).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("csrf_token_invalid")));
    let (status, _) = b.post("/v1/organisations/current/invitations", cookie(Some("forged")), invite.clone()).await;
    assert_eq!(status, 403);
    let (status, _) = b.post("/v1/organisations/current/invitations", cookie(Some(&ada.csrf)), invite.clone()).await;
    assert_eq!(status, 201);
    let (status, _) = b.post("/v1/organisations/current/invitations", ada.bearer(), invite).await;
    assert_eq!(status, 201, "a Bearer token is not sent by browsers on their own: no CSRF token needed");
}

#[tokio::test]
async fn logout_ends_the_session_and_sessions_expire_when_idle() {
    let b = sqlite().await;
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let (status, headers, _) = call(&b.app, "DELETE", "/v1/sessions/current", ada.bearer(), None).await;
    assert_eq!(status, 204);
    assert!(headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(b.get("/v1/me", ada.bearer()).await.0, 401);

    let again = b.login(ADA, ADA_PASSWORD).await;
    b.clock.advance(chrono::Duration::minutes(119));
    assert_eq!(b.get("/v1/me", again.bearer()).await.0, 200, "use slides the idle expiry");
    b.clock.advance(chrono::Duration::minutes(119));
    assert_eq!(b.get("/v1/me", again.bearer()).await.0, 200);
    b.clock.advance(chrono::Duration::minutes(121));
    assert_eq!(b.get("/v1/me", again.bearer()).await.0, 401, "two idle hours end it");

    let third = b.login(ADA, ADA_PASSWORD).await;
    for _ in 0..12 {
        b.clock.advance(chrono::Duration::minutes(61));
        b.get("/v1/me", third.bearer()).await;
    }
    assert_eq!(b.get("/v1/me", third.bearer()).await.0, 401, "12 hours end any session");
}

#[tokio::test]
async fn last_active_at_is_written_at_most_hourly() {
    let b = sqlite().await;
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    // Signing in counts as activity.
    let (_, me) = b.get("/v1/me", ada.bearer()).await;
    let first = me["last_active_at"].as_str().expect("set at login").to_owned();
    b.clock.advance(chrono::Duration::minutes(6));
    let (_, me) = b.get("/v1/me", ada.bearer()).await;
    assert_eq!(me["last_active_at"], first.as_str(), "not again within the hour");
    b.clock.advance(chrono::Duration::minutes(30));
    let (_, me) = b.get("/v1/me", ada.bearer()).await;
    assert_eq!(me["last_active_at"], first.as_str(), "not again within the hour");
    b.clock.advance(chrono::Duration::minutes(31));
    let (_, me) = b.get("/v1/me", ada.bearer()).await;
    assert_ne!(me["last_active_at"], first.as_str());
}

/// Each password change costs two argon2 runs and a mail, and a right current password gives
/// its login attempt back: 5 changes an hour per account, then 429 with `Retry-After`.
#[tokio::test]
async fn password_changes_are_limited_per_account_with_retry_after() {
    let b = sqlite().await;
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let passwords = ["password number one", "password number two", ADA_PASSWORD];
    let mut current = ADA_PASSWORD;
    for new in passwords.iter().cycle().take(5) {
        let change = json!({"current_password": current, "new_password": new});
        let (status, _, body) = call(&b.app, "PATCH", "/v1/me", ada.bearer(), Some(change)).await;
        assert_eq!(status, 200, "{body}");
        current = new;
    }

    let change = json!({"current_password": current, "new_password": "one change too many"});
    let (status, headers, body) = call(&b.app, "PATCH", "/v1/me", ada.bearer(), Some(change.clone())).await;

    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after));
    b.clock.advance(chrono::Duration::seconds(retry_after as i64));
    assert_eq!(call(&b.app, "PATCH", "/v1/me", ada.bearer(), Some(change)).await.0, 200);
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let b = sqlite().await;
    let laptop = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let phone = b.login(ADA, ADA_PASSWORD).await;
    let wrong = json!({"current_password": "not my password", "new_password": "a brand new password"});
    let (status, _, _) = call(&b.app, "PATCH", "/v1/me", laptop.bearer(), Some(wrong)).await;
    assert_eq!(status, 401);

    let change = json!({"current_password": ADA_PASSWORD, "new_password": "a brand new password"});
    let (status, _, body) = call(&b.app, "PATCH", "/v1/me", laptop.bearer(), Some(change)).await;

    assert_eq!((status, body), (200, json!({"status": "password_changed"})));
    assert_eq!(b.get("/v1/me", laptop.bearer()).await.0, 200);
    assert_eq!(b.get("/v1/me", phone.bearer()).await.0, 401);
    assert_eq!(b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": ADA_PASSWORD})).await.0, 401);
    b.login(ADA, "a brand new password").await;
}

#[tokio::test]
async fn a_new_address_replaces_the_old_only_once_confirmed() {
    let b = sqlite().await;
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    // A session alone cannot move the account to another address (M5).
    let (status, _, _) =
        call(&b.app, "PATCH", "/v1/me", ada.bearer(), Some(json!({"email": "countess@example.com"}))).await;
    assert_eq!(status, 422);
    let wrong = json!({"email": "countess@example.com", "current_password": "not my password"});
    assert_eq!(call(&b.app, "PATCH", "/v1/me", ada.bearer(), Some(wrong)).await.0, 401);
    b.deliver_mail().await;
    assert!(token_mailed_to(&b.outbox, "countess@example.com").is_none(), "no link went out");
    let change = json!({"email": "countess@example.com", "current_password": ADA_PASSWORD});
    let (status, _, body) = call(&b.app, "PATCH", "/v1/me", ada.bearer(), Some(change)).await;
    assert_eq!((status, body), (200, json!({"status": "verification_sent"})));
    b.deliver_mail().await;
    assert_eq!(b.get("/v1/me", ada.bearer()).await.1["email"], "Ada@example.com", "not before confirmation");
    assert!(
        outbox_files(&b.outbox).iter().any(|m| m.contains("To: Ada@example.com") && m.contains("is being changed"))
    );

    let token = token_mailed_to(&b.outbox, "countess@example.com").unwrap();
    assert_eq!(b.post("/v1/email-verifications", Auth::None, json!({"token": token})).await.0, 200);

    assert_eq!(b.get("/v1/me", ada.bearer()).await.1["email"], "countess@example.com");
    b.login("countess@example.com", ADA_PASSWORD).await;
    assert_eq!(b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": ADA_PASSWORD})).await.0, 401);
    // The old address is free again.
    let (status, _) = b
        .post("/v1/signup", Auth::None, json!({"email": ADA, "password": ADA_PASSWORD, "organisation_name": "New"}))
        .await;
    assert_eq!(status, 202);
    b.deliver_mail().await;
    assert!(outbox_files(&b.outbox).last().unwrap().contains("Verify your e-mail address"));
}

#[tokio::test]
async fn the_last_admin_cannot_leave_members_behind() {
    let b = sqlite().await;
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, GRACE, GRACE_PASSWORD, "member").await;
    let (status, problem) = b.delete("/v1/me", ada.bearer(), json!({"password": ADA_PASSWORD})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("last_admin")));
    let (status, _) = b.delete("/v1/organisations/current", grace.bearer(), json!({"password": GRACE_PASSWORD})).await;
    assert_eq!(status, 403, "members cannot cancel the organisation");
    let (status, _) = b.delete("/v1/me", ada.bearer(), json!({"password": "wrong password!!"})).await;
    assert_eq!(status, 401);
    assert_eq!(b.get("/v1/me", ada.bearer()).await.0, 200);
}

#[tokio::test]
async fn an_unverified_signup_expires_and_frees_the_address() {
    let b = sqlite().await;
    let (status, _) = b
        .post(
            "/v1/signup",
            Auth::None,
            json!({"email": ADA, "password": ADA_PASSWORD, "organisation_name": "Squatter"}),
        )
        .await;
    assert_eq!(status, 202);
    // Its mail goes out now, so the verification link found later is the new signup's.
    b.deliver_mail().await;
    b.clock.advance(chrono::Duration::days(8));
    let report = infentre_sweep(&b).await;
    assert!(report >= 4, "user, organisation, claim and token erased ({report})");
    assert!(b.table_text().await.iter().all(|t| !t.contains("Squatter")));
    b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
}

async fn infentre_sweep(b: &Backend) -> u64 {
    retention_sweeper::sweep(b.platform.store.as_ref(), b.platform.clock.as_ref(), 1_000).await.unwrap().total()
}

/// Two organisations side by side: nothing of one is reachable from the other.
#[tokio::test]
async fn an_organisation_never_sees_or_touches_another() {
    let b = sqlite().await;
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let grace = b.member(&ada, GRACE, GRACE_PASSWORD, "admin").await;
    b.member(&ada, "charles@example.com", "difference engine no 2", "member").await;
    let other = b.admin("eve@example.org", "eavesdropping always", "Eve Corp").await;
    let other_member = b.member(&other, "mallory@example.org", "man in the middle!", "member").await;

    let (_, org) = b.get("/v1/organisations/current", other.bearer()).await;
    assert_eq!(org["name"], "Eve Corp");
    let (_, page) = b.get("/v1/organisations/current/members?limit=1", other.bearer()).await;
    let (_, all) = b.get("/v1/organisations/current/members", other.bearer()).await;
    let emails: Vec<_> =
        all["items"].as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap().to_owned()).collect();
    assert_eq!(emails, ["eve@example.org", "mallory@example.org"]);
    let (_, me) = b.get("/v1/me", other_member.bearer()).await;
    assert_eq!(me["organisation"]["id"], other.organisation_id.as_str());

    // A cursor from one organisation's list is refused in another's.
    let foreign_cursor = page["cursor"].as_str().unwrap();
    let (status, problem) =
        b.get(&format!("/v1/organisations/current/members?cursor={foreign_cursor}"), ada.bearer()).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_cursor")));
    // A member of one organisation cannot list it; an admin of another cannot list this one.
    assert_eq!(b.get("/v1/organisations/current/members", other_member.bearer()).await.0, 403);

    // Cancelling one organisation leaves the other whole.
    let (status, _, accepted) = call(
        &b.app,
        "DELETE",
        "/v1/organisations/current",
        other.bearer(),
        Some(json!({"password": "eavesdropping always"})),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(b.get("/v1/me", other_member.bearer()).await.0, 401, "refused from the instant the job is queued");
    b.process_rights().await;
    let (_, members) = b.get("/v1/organisations/current/members", grace.bearer()).await;
    assert_eq!(members["items"].as_array().unwrap().len(), 3);
    assert!(b.count_of(&ada.organisation_id).await > 0);
    assert_eq!(b.count_of(&other.organisation_id).await, 0);
}

#[tokio::test]
async fn bad_list_parameters_are_400() {
    let b = sqlite().await;
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    for query in ["limit=0", "limit=201", "limit=ten", "cursor=%%%", "cursor=bm90IGEgY3Vyc29y", "extra=1"] {
        let (status, problem) = b.get(&format!("/v1/organisations/current/members?{query}"), ada.bearer()).await;
        assert_eq!(status, 400, "{query}: {problem}");
    }
}

// ---- What operations cost on DynamoDB and SQS (moto, counted by the SDK interceptor) ------

#[tokio::test]
async fn signup_costs_one_counter_one_transaction_one_stored_mail_and_one_queue_send() {
    let b = moto().await;
    let requests = b.requests.clone().unwrap();
    requests.reset();
    let (status, _) = b
        .post(
            "/v1/signup",
            Auth::None,
            json!({"email": ADA, "password": ADA_PASSWORD, "organisation_name": "Analytical Engines"}),
        )
        .await;
    assert_eq!(status, 202);
    let expected: std::collections::BTreeMap<String, u64> =
        // The counter: mails to the address (the test's request carries no client address).
        // The verification e-mail is stored (BatchWriteItem) and its id queued: a message
        // carries no address, so a dead letter holds nothing erasure cannot reach.
        [
            ("DynamoDB.UpdateItem".to_owned(), 1),
            ("DynamoDB.TransactWriteItems".to_owned(), 1),
            ("DynamoDB.BatchWriteItem".to_owned(), 1),
            ("SQS.SendMessageBatch".to_owned(), 1),
        ]
        .into();
    assert_eq!(requests.snapshot(), expected);
}

#[tokio::test]
async fn authenticating_a_request_costs_one_read_and_the_fence_checks() {
    let b = moto().await;
    let ada = b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let requests = b.requests.clone().unwrap();
    requests.reset();
    let (status, _) = b.get("/v1/organisations/current", ada.bearer()).await;
    assert_eq!(status, 200);
    // One GetItem for the session, one BatchGetItem for the fences of the user and the
    // organisation (an erasure refuses sessions from its first instant), one GetItem for the
    // organisation the endpoint returns.
    let expected: std::collections::BTreeMap<String, u64> =
        [("DynamoDB.BatchGetItem".to_owned(), 1), ("DynamoDB.GetItem".to_owned(), 2)].into();
    assert_eq!(requests.snapshot(), expected);
}

/// `DELETE /v1/me` checks the password, fences and queues the job: the same dozen requests
/// whatever the account holds (the job does the erasing).
/// L17: a failed login costs the same requests whether the address has an account, has an
/// unverified one or has none, so round trips do not enumerate accounts.
#[tokio::test]
async fn a_failed_login_costs_the_same_requests_for_known_and_unknown_addresses() {
    let b = moto().await;
    b.admin(ADA, ADA_PASSWORD, "Analytical Engines").await;
    let body = json!({"email": GRACE, "password": GRACE_PASSWORD, "organisation_name": "Unverified"});
    assert_eq!(b.post("/v1/signup", Auth::None, body).await.0, 202);
    let requests = b.requests.clone().unwrap();
    let mut costs = Vec::new();
    for (email, password) in [(ADA, "wrong password!!"), (GRACE, GRACE_PASSWORD), ("nobody@example.com", ADA_PASSWORD)]
    {
        requests.reset();
        let (status, _) = b.post("/v1/sessions", Auth::None, json!({"email": email, "password": password})).await;
        assert_eq!(status, 401);
        costs.push(requests.snapshot());
    }
    assert!(costs.iter().all(|cost| cost == &costs[0]), "{costs:?}");
}

#[tokio::test]
async fn cancelling_an_account_costs_the_same_few_requests_whatever_it_holds() {
    let b = moto().await;
    let requests = b.requests.clone().unwrap();
    let mut costs = Vec::new();
    for (email, events) in [(ADA, 0), ("bob@example.com", 2_000)] {
        let who = b.admin(email, ADA_PASSWORD, "Analytical Engines").await;
        let now_ms = b.platform.clock.epoch_seconds() * 1000;
        let items: Vec<_> = (0..events)
            .map(|n| infentre_tests::page_view(&who.user_id, &who.organisation_id, n, now_ms).item().unwrap())
            .map(shared::store::BatchOp::Put)
            .collect();
        for chunk in items.chunks(25) {
            b.platform.store.batch_write(chunk.to_vec()).await.unwrap();
        }
        requests.reset();
        let started = std::time::Instant::now();
        let (status, _) = b.delete("/v1/me", who.bearer(), json!({"password": ADA_PASSWORD})).await;
        assert_eq!(status, 202);
        eprintln!("DELETE /v1/me with {events} events: {:?}, {:?}", started.elapsed(), requests.snapshot());
        costs.push(requests.snapshot());
    }
    assert_eq!(costs[0], costs[1], "the size of the account changes nothing");
    let expected: std::collections::BTreeMap<String, u64> = [
        // As counted: the session, both fences (one BatchGetItem: an erasure under way is the
        // answer, whatever the password), the password check, both fences again as the
        // erasure starts (the check every start makes), the last-admin rule and the
        // cancellation's reads (the organisation's membership version among them);
        // one transaction writes the fence and the job and bumps that version, one message
        // queues it. Nothing here reads or deletes what the account holds, nor
        // reads what grows with the organisation: the role placeholders in others' histories
        // (membership history, the organisation's requests, the requests the person acted on
        // as an operator) are the job's first step. The one query is the other members, for
        // the last-admin rule.
        ("DynamoDB.BatchGetItem".to_owned(), 2),
        ("DynamoDB.GetItem".to_owned(), 4),
        ("DynamoDB.Query".to_owned(), 1),
        ("DynamoDB.TransactWriteItems".to_owned(), 1),
        ("DynamoDB.UpdateItem".to_owned(), 2),
        ("SQS.SendMessageBatch".to_owned(), 1),
    ]
    .into();
    assert_eq!(costs[0], expected);
}
