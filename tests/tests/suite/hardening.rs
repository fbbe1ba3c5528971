//! The security review's findings, each as the behaviour that closes it: throttles that
//! count before the password is checked (M2), limits on everything that mails or hashes (M7),
//! no account taken over through an unverified signup (M6).

use infentre_tests::backend::{Backend, sqlite};
use infentre_tests::{Auth, call, on_both_engines, outbox_files, token_mailed_to};
use serde_json::json;

const ADA: &str = "ada@example.com";
const PASSWORD: &str = "analytical engine 1843";

on_both_engines!(
    a_right_password_gives_its_attempt_back,
    one_address_gets_at_most_five_unasked_mails_an_hour,
    invitations_and_complaints_are_limited,
    a_new_signup_replaces_an_unverified_one_and_its_link_dies,
    operator_rights_are_checked_on_every_request,
);

/// M6 and L10: being an operator is re-checked against the account as it is now, not only
/// the session's flag from login.
async fn operator_rights_are_checked_on_every_request(b: Backend) {
    let dpo = b.admin("dpo@infentre.com", PASSWORD, "Infentre").await;
    assert_eq!(b.get("/v1/operator/complaints", dpo.bearer()).await.0, 200);
    let change = json!({"email": "someone.else@infentre.com", "current_password": PASSWORD});
    assert_eq!(call(&b.app, "PATCH", "/v1/me", dpo.bearer(), Some(change)).await.0, 200);
    b.deliver_mail().await;
    let link = token_mailed_to(&b.outbox, "someone.else@infentre.com").unwrap();
    assert_eq!(b.post("/v1/email-verifications", Auth::None, json!({"token": link})).await.0, 200);

    // The same session, now without a listed address.
    for path in ["/v1/operator/complaints", "/v1/operator/rights-requests", "/v1/operator/retention-reports"] {
        assert_eq!(b.get(path, dpo.bearer()).await.0, 403, "{path}");
    }
    let update = json!({"subject": "Hello", "text": "Still an operator?"});
    assert_eq!(b.post("/v1/operator/product-updates", dpo.bearer(), update).await.0, 403);
}

/// M6: a squatter's unverified signup cannot hijack the account when the owner signs up and
/// clicks a link.
async fn a_new_signup_replaces_an_unverified_one_and_its_link_dies(b: Backend) {
    let signup = |password: &str, organisation: &str| json!({"email": ADA, "password": password, "organisation_name": organisation});
    assert_eq!(b.post("/v1/signup", Auth::None, signup("the squatter's password", "Squat")).await.0, 202);
    b.deliver_mail().await;
    let squatters_link = token_mailed_to(&b.outbox, ADA).unwrap();

    assert_eq!(b.post("/v1/signup", Auth::None, signup(PASSWORD, "Analytical Engines")).await.0, 202);
    b.deliver_mail().await;
    let owners_link = token_mailed_to(&b.outbox, ADA).unwrap();
    assert_ne!(owners_link, squatters_link, "a fresh verification link, not an 'already registered' notice");

    let (status, _) = b.post("/v1/email-verifications", Auth::None, json!({"token": squatters_link})).await;
    assert_eq!(status, 400, "the squatter's link activates nothing");
    assert_eq!(b.post("/v1/email-verifications", Auth::None, json!({"token": owners_link})).await.0, 200);
    let ada = b.login(ADA, PASSWORD).await;
    let (_, me) = b.get("/v1/me", ada.bearer()).await;
    assert_eq!(me["organisation"]["name"], "Analytical Engines");
    let squatter = json!({"email": ADA, "password": "the squatter's password"});
    assert_eq!(b.post("/v1/sessions", Auth::None, squatter).await.0, 401);
    assert_eq!(b.count_of("Squat").await, 0, "the squatter's organisation is gone");

    // Once verified, a signup for the address changes nothing (its owner is told).
    assert_eq!(b.post("/v1/signup", Auth::None, signup("another password!!", "Copycat")).await.0, 202);
    b.login(ADA, PASSWORD).await;
}

/// M2: twenty guesses at once, and only the limit's five reach the password check.
#[tokio::test]
async fn parallel_wrong_passwords_are_counted_before_the_check() {
    // Races are tested on the embedded engine (moto's DynamoDB does not lock).
    let b = sqlite().await;
    b.admin(ADA, PASSWORD, "Analytical Engines").await;

    let guesses = (0..20)
        .map(|i| b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": format!("guess number {i:02}")})));
    let statuses: Vec<u16> = futures::future::join_all(guesses).await.into_iter().map(|(status, _)| status).collect();

    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
    let right = b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": PASSWORD})).await;
    assert_eq!(right.0, 429, "the window is used up, for the right password too");
}

/// M2: the same for the password confirmation of an irreversible act.
#[tokio::test]
async fn parallel_wrong_confirmations_are_counted_before_the_check() {
    let b = sqlite().await;
    let ada = b.admin(ADA, PASSWORD, "Analytical Engines").await;
    let guesses = (0..12).map(|i| b.delete("/v1/me", ada.bearer(), json!({"password": format!("guess {i:02}")})));
    let statuses: Vec<u16> = futures::future::join_all(guesses).await.into_iter().map(|(status, _)| status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 7, "{statuses:?}");
    assert_eq!(b.get("/v1/me", ada.bearer()).await.0, 200, "nothing was erased");
}

/// M2: counting first must not lock out a client whose logins succeed: each right password
/// gives its attempt back to the client's window (50), the account's window starts afresh.
async fn a_right_password_gives_its_attempt_back(b: Backend) {
    b.admin(ADA, PASSWORD, "Analytical Engines").await;
    let limit = shared::throttle::LOGIN_PER_ADDRESS.max_failures as usize;
    for _ in 0..limit + 5 {
        b.login(ADA, PASSWORD).await;
    }
    for _ in 0..4 {
        assert_eq!(b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": "wrong!!"})).await.0, 401);
    }
    b.login(ADA, PASSWORD).await;
    for _ in 0..4 {
        assert_eq!(b.post("/v1/sessions", Auth::None, json!({"email": ADA, "password": "wrong!!"})).await.0, 401);
    }
    b.login(ADA, PASSWORD).await;
}

/// M7: signups for someone else's address cannot flood their mailbox from our domain.
async fn one_address_gets_at_most_five_unasked_mails_an_hour(b: Backend) {
    let victim = "victim@example.com";
    let mut statuses = Vec::new();
    for i in 0..8 {
        let body = json!({"email": victim, "password": PASSWORD, "organisation_name": format!("Spam {i}")});
        let (status, headers, _) = call(&b.app, "POST", "/v1/signup", Auth::None, Some(body)).await;
        if status == 429 {
            let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=3600).contains(&retry_after));
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [202, 202, 202, 202, 202, 429, 429, 429]);
    b.deliver_mail().await;
    let to_victim = outbox_files(&b.outbox).iter().filter(|m| m.contains(&format!("To: {victim}"))).count();
    assert_eq!(to_victim, 5);

    // An hour later the address may be mailed again.
    b.clock.advance(chrono::Duration::hours(1));
    let body = json!({"email": victim, "password": PASSWORD, "organisation_name": "Spam again"});
    assert_eq!(b.post("/v1/signup", Auth::None, body).await.0, 202);
}

/// M7: an organisation's invitations and a person's complaints are bounded.
async fn invitations_and_complaints_are_limited(b: Backend) {
    let ada = b.admin(ADA, PASSWORD, "Analytical Engines").await;
    let invite = |email: String| {
        b.post("/v1/organisations/current/invitations", ada.bearer(), json!({"email": email, "role": "member"}))
    };
    // One address: five invitations an hour at most.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(invite("grace@example.com".into()).await.0);
    }
    assert_eq!(statuses, [201, 201, 201, 201, 201, 429]);
    // One organisation: 50 a day, whoever they go to.
    let limit = shared::throttle::INVITATIONS_PER_ORGANISATION.max_failures as usize;
    let mut created = 5;
    for i in 0.. {
        let (status, _) = invite(format!("person{i}@example.com")).await;
        if status == 429 {
            break;
        }
        assert_eq!(status, 201);
        created += 1;
    }
    assert_eq!(created, limit);

    let limit = shared::throttle::COMPLAINTS_PER_USER.max_failures as usize;
    for i in 0..limit {
        let (status, _) = b.post("/v1/complaints", ada.bearer(), json!({"message": format!("complaint {i}")})).await;
        assert_eq!(status, 201);
    }
    let (status, problem) = b.post("/v1/complaints", ada.bearer(), json!({"message": "one more"})).await;
    assert_eq!((status, problem["code"].as_str()), (429, Some("rate_limited")));
}
