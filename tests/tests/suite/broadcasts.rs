//! Broadcasts as jobs, on both engines: a service notice to 1,000 users survives a provider
//! failure half-way (the step fails, its message is redelivered) with every user mailed exactly
//! once; marketing wording in a service notice is refused; chosen organisations only; the
//! notice version is announced once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use infentre_tests::backend::{Backend, mail_poller};
use infentre_tests::{Auth, call, on_both_engines, outbox_files};
use serde_json::json;
use shared::accounts::records::{OrganisationRecord, UserRecord};
use shared::domain::{Region, Role};
use shared::lang::Lang;
use shared::mail::{Email, MailError, Mailer};
use shared::store::BatchOp;

on_both_engines!(
    a_service_notice_to_1000_users_survives_a_failure_half_way_and_mails_each_once,
    a_service_notice_with_marketing_wording_is_refused,
    a_service_notice_to_chosen_organisations_reaches_only_their_users,
    a_new_notice_version_is_announced_once_to_every_user,
    a_new_notice_version_asks_again_at_the_next_sign_in_and_is_announced,
    a_broadcast_whose_step_message_was_lost_is_resumed_by_the_sweeper,
);

/// Fails every send after the first `allowed`, as a provider outage (or a worker stopping)
/// half-way through would.
#[derive(Debug)]
struct FailingAfter {
    inner: Arc<dyn Mailer>,
    allowed: usize,
    attempts: AtomicUsize,
}

#[async_trait]
impl Mailer for FailingAfter {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        if self.attempts.fetch_add(1, Ordering::SeqCst) >= self.allowed {
            return Err(MailError::Unavailable("the provider went away".into()));
        }
        self.inner.send(email).await
    }
}

/// `count` verified users in organisations of 100, written straight to the store (signing up
/// 1,000 people through argon2 would take minutes); every tenth reads Swedish.
async fn seed_users(b: &Backend, prefix: &str, count: usize) -> Vec<String> {
    let now = b.platform.clock.epoch_seconds();
    let mut items = Vec::new();
    let mut organisations = Vec::new();
    for n in 0..count {
        if n % 100 == 0 {
            let organisation = OrganisationRecord {
                organisation_id: ulid::Ulid::new().to_string(),
                name: format!("{prefix} org {n}"),
                region: Region::Eu,
                created_at: now,
            };
            items.push(BatchOp::Put(organisation.item().unwrap()));
            organisations.push(organisation.organisation_id);
        }
        let email = format!("{prefix}{n}@example.com");
        let user = UserRecord {
            user_id: ulid::Ulid::new().to_string(),
            organisation_id: organisations.last().unwrap().clone(),
            email: email.clone(),
            email_canonical: email,
            role: if n % 100 == 0 { Role::Admin } else { Role::Member },
            email_verified: true,
            password_hash: "not used".into(),
            created_at: now,
            last_active_at: None,
            reminded_at: None,
            lang: if n % 10 == 0 { Lang::Sv } else { Lang::En },
        };
        items.push(BatchOp::Put(user.item().unwrap()));
    }
    for chunk in items.chunks(25) {
        b.platform.store.batch_write(chunk.to_vec()).await.unwrap();
    }
    organisations
}

/// How many notices (by a word of their subject) each address got.
fn notices_to(b: &Backend, marker: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for mail in outbox_files(&b.outbox).iter().filter(|m| m.contains(marker)) {
        let to = mail.lines().find_map(|l| l.strip_prefix("To: ")).unwrap_or_default().trim().to_owned();
        *counts.entry(to).or_insert(0) += 1;
    }
    counts
}

const NOTICE: &str = "Maintenance window 42";

async fn a_service_notice_to_1000_users_survives_a_failure_half_way_and_mails_each_once(b: Backend) {
    let dpo = b.admin("dpo@infentre.com", "operators are staff", "Infentre").await;
    seed_users(&b, "user", 1_000).await;
    b.deliver_mail().await;

    let (status, job) = b
        .post(
            "/v1/operator/service-notices",
            dpo.bearer(),
            json!({
                "subject": NOTICE,
                "text": "On 3 May 02:00-04:00 UTC the API may answer slowly.",
                "sv": {"subject": format!("Underhall {NOTICE}"), "text": "Den 3 maj 02-04 UTC kan API:et svara langsamt."},
            }),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["status"], "queued");
    let job_id = job["job_id"].as_str().unwrap().to_owned();

    // The worker fails after 450 sends: the step that met the failure is redelivered.
    let failing = Arc::new(FailingAfter { inner: b.mailer.clone(), allowed: 450, attempts: AtomicUsize::new(0) });
    let mut crashing = mail_poller(&b.platform, failing.clone());
    crashing.visibility = Duration::from_secs(2);
    while failing.attempts.load(Ordering::SeqCst) <= 450 {
        assert!(crashing.poll_once().await.unwrap() > 0, "the job stopped before the failure");
    }
    let half_way = notices_to(&b, NOTICE);
    assert_eq!(half_way.values().sum::<usize>(), 450, "exactly the sends that succeeded");
    let (_, progress) = b.get(&format!("/v1/operator/broadcast-jobs/{job_id}"), dpo.bearer()).await;
    assert_eq!(progress["status"], "running");

    // The failed step's message comes back (visibility timeout) to a healthy worker.
    b.clock.advance(chrono::TimeDelta::seconds(3));
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    b.deliver_mail().await;

    let counts = notices_to(&b, NOTICE);
    assert_eq!(counts.len(), 1_001, "every user and the operator");
    assert!(
        counts.values().all(|&n| n == 1),
        "nobody twice: {:?}",
        counts.iter().filter(|(_, n)| **n > 1).take(5).collect::<Vec<_>>()
    );
    for n in [0, 1, 499, 500, 999] {
        assert_eq!(counts.get(&format!("user{n}@example.com")), Some(&1), "user{n}");
    }
    let swedish: Vec<_> =
        outbox_files(&b.outbox).into_iter().filter(|m| m.contains("To: user10@example.com")).collect();
    assert_eq!(swedish.len(), 1);
    assert!(swedish[0].contains("Underhall"), "in the recipient's language: {}", swedish[0]);
    assert!(!swedish[0].contains("List-Unsubscribe"), "service mail has nothing to unsubscribe from");

    let (status, progress) = b.get(&format!("/v1/operator/broadcast-jobs/{job_id}"), dpo.bearer()).await;
    assert_eq!(status, 200);
    assert_eq!(progress["status"], "completed");
    assert_eq!(progress["counts"]["sent"], 1_001);
    // A late duplicate of a step changes nothing.
    let step = json!({"broadcast_job": job_id}).to_string();
    b.platform.queue.send(shared::queue::QueueName::Mail, step).await.unwrap();
    b.deliver_mail().await;
    assert_eq!(notices_to(&b, NOTICE).values().sum::<usize>(), 1_001);
}

async fn a_service_notice_with_marketing_wording_is_refused(b: Backend) {
    let dpo = b.admin("dpo@infentre.com", "operators are staff", "Infentre").await;
    let ada = b.admin("ada@example.com", "not an operator", "Analytical Engines").await;
    b.deliver_mail().await;
    let before = outbox_files(&b.outbox).len();

    for body in [
        json!({"subject": "Maintenance", "text": "Downtime tonight. Upgrade now to get 20% off!"}),
        json!({"subject": "Special offer", "text": "The API is slow."}),
        json!({"subject": "Underhall", "text": "Driftstopp i natt.", "sv": {"subject": "Underhall", "text": "Passa på: rabatt på alla planer"}}),
    ] {
        let (status, problem) = b.post("/v1/operator/service-notices", dpo.bearer(), body).await;
        assert_eq!((status, problem["code"].as_str()), (422, Some("marketing_content")), "{problem}");
    }
    let (status, _) =
        b.post("/v1/operator/service-notices", ada.bearer(), json!({"subject": "Outage", "text": "x"})).await;
    assert_eq!(status, 403, "operators only");
    let (status, problem) = b
        .post(
            "/v1/operator/service-notices",
            dpo.bearer(),
            json!({"subject": "Outage", "text": "x", "organisation_ids": ["01JNOSUCHORGANISATION000000"]}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("unknown_organisation")));
    b.deliver_mail().await;
    assert_eq!(outbox_files(&b.outbox).len(), before, "nothing sent");
    let (status, _) = b.get("/v1/operator/broadcast-jobs/01JNOSUCHJOB", dpo.bearer()).await;
    assert_eq!(status, 404);
    let (status, _) = b.get("/v1/operator/broadcast-jobs/01JNOSUCHJOB", ada.bearer()).await;
    assert_eq!(status, 403);
    let (status, _) = b.get("/v1/operator/broadcast-jobs/01JNOSUCHJOB", Auth::None).await;
    assert_eq!(status, 401);
}

async fn a_service_notice_to_chosen_organisations_reaches_only_their_users(b: Backend) {
    let dpo = b.admin("dpo@infentre.com", "operators are staff", "Infentre").await;
    let organisations = seed_users(&b, "member", 300).await;
    b.deliver_mail().await;
    let (status, job) = b
        .post(
            "/v1/operator/service-notices",
            dpo.bearer(),
            json!({"subject": NOTICE, "text": "Exports of your organisation are delayed.", "organisation_ids": [organisations[0], organisations[2]]}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    b.deliver_mail().await;
    let counts = notices_to(&b, NOTICE);
    assert_eq!(counts.len(), 200);
    assert!(counts.values().all(|&n| n == 1));
    assert!(counts.contains_key("member0@example.com") && counts.contains_key("member299@example.com"));
    assert!(!counts.contains_key("member100@example.com") && !counts.contains_key("dpo@infentre.com"));
}

async fn a_new_notice_version_is_announced_once_to_every_user(b: Backend) {
    b.admin("ada@example.com", "ada reads notices", "Analytical Engines").await;
    seed_users(&b, "reader", 120).await;
    b.deliver_mail().await;

    // The hourly sweeper starts it; later runs (and calls) find it.
    retention_sweeper::run(&b.platform, retention_sweeper::BUDGET).await.unwrap();
    assert!(!shared::broadcast::announce_policy(&b.platform).await.unwrap(), "once per version");
    retention_sweeper::run(&b.platform, retention_sweeper::BUDGET).await.unwrap();
    b.deliver_mail().await;
    assert!(!shared::broadcast::announce_policy(&b.platform).await.unwrap(), "not again when completed");
    b.deliver_mail().await;

    let counts = notices_to(&b, "(version ");
    assert_eq!(counts.len(), 121);
    assert!(counts.values().all(|&n| n == 1));
    let mail = outbox_files(&b.outbox)
        .into_iter()
        .find(|m| m.contains("To: ada@example.com") && m.contains("(version "))
        .unwrap();
    assert!(mail.contains(&b.platform.settings.policy_date), "the date: {mail}");
}

async fn a_new_notice_version_asks_again_at_the_next_sign_in_and_is_announced(b: Backend) {
    let ada = b.admin("ada@example.com", "ada reads notices", "Analytical Engines").await;
    for purpose in ["analytics_cookies", "product_updates", "marketing_sharing"] {
        b.put(&format!("/v1/me/consents/{purpose}"), ada.bearer(), json!({"granted": true})).await;
    }
    let (status, _, session) = call(
        &b.app,
        "POST",
        "/v1/sessions",
        Auth::None,
        Some(json!({"email": "ada@example.com", "password": "ada reads notices"})),
    )
    .await;
    assert_eq!((status, &session["ask_again"]), (201, &json!([])), "nothing to ask under the version in force");
    assert!(shared::broadcast::announce_policy(&b.platform).await.unwrap());
    b.deliver_mail().await;

    // A new version is published (the deployment's settings).
    let mut settings = (*b.platform.settings).clone();
    settings.policy_version = "2027-01-01".into();
    settings.policy_date = "2027-01-01".into();
    let platform = shared::Platform { settings: Arc::new(settings), ..b.platform.clone() };
    let app = shared::http::app(::signup::routes().merge(::consent::routes()).with_state(platform.clone()));

    let login = json!({"email": "ada@example.com", "password": "ada reads notices"});
    let (status, _, session) = call(&app, "POST", "/v1/sessions", Auth::None, Some(login)).await;
    assert_eq!(status, 201);
    assert_eq!(
        session["ask_again"],
        json!(["analytics_cookies", "marketing_sharing"]),
        "product updates do not ask again"
    );
    assert!(shared::broadcast::announce_policy(&platform).await.unwrap(), "the new version is announced");
    assert!(!shared::broadcast::announce_policy(&platform).await.unwrap());
    let worker = mail_poller(&platform, b.mailer.clone());
    worker.drain().await.unwrap();
    let announcements: Vec<_> =
        outbox_files(&b.outbox).into_iter().filter(|m| m.contains("(version 2027-01-01, dated 2027-01-01)")).collect();
    assert_eq!(announcements.len(), 1, "one for the one user");
    assert!(announcements[0].contains("To: ada@example.com"));

    // Given again, it is no longer asked.
    let (status, _, _) = call(
        &app,
        "PUT",
        "/v1/me/consents/marketing_sharing",
        Auth::Bearer(session["token"].as_str().unwrap()),
        Some(json!({"granted": true})),
    )
    .await;
    assert_eq!(status, 200);
    let login = json!({"email": "ada@example.com", "password": "ada reads notices"});
    let (_, _, session) = call(&app, "POST", "/v1/sessions", Auth::None, Some(login)).await;
    assert_eq!(session["ask_again"], json!(["analytics_cookies"]));
}

const LOST: &str = "Maintenance window 43";

/// A job whose step message is gone (lost, or failed until it went to the dead-letter queue)
/// is resumed once it has been idle 10 minutes, and mails each recipient once; a completed
/// job is not resumed.
async fn a_broadcast_whose_step_message_was_lost_is_resumed_by_the_sweeper(b: Backend) {
    use shared::clock::Clock;
    use shared::queue::QueueName;
    let dpo = b.admin("dpo@infentre.com", "operators are staff", "Infentre").await;
    seed_users(&b, "user", 150).await;
    b.deliver_mail().await;
    let notice = json!({"subject": LOST, "text": "On 4 May 02:00-04:00 UTC the API may answer slowly."});
    let (status, job) = b.post("/v1/operator/service-notices", dpo.bearer(), notice).await;
    assert_eq!(status, 202, "{job}");
    let progress_path = format!("/v1/operator/broadcast-jobs/{}", job["job_id"].as_str().unwrap());
    // Its first step's message never reaches a worker.
    let lost = b.platform.queue.receive(QueueName::Mail, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(lost.len(), 1, "only the step is queued");
    assert!(lost[0].body.contains("broadcast_job"), "{}", lost[0].body);
    b.platform.queue.delete(QueueName::Mail, &lost[0].receipt).await.unwrap();
    b.deliver_mail().await;
    assert!(notices_to(&b, LOST).is_empty());

    // Not idle long enough yet: left alone.
    let now = b.clock.epoch_seconds();
    assert_eq!(shared::broadcast::resume_stalled(&b.platform, now).await.unwrap(), 0);
    b.clock.advance(chrono::TimeDelta::seconds(shared::broadcast::IDLE_AFTER_SECONDS + 60));
    if b.sendgrid.is_none() {
        // The sweeper's run does it (on SQLite its whole run is cheap).
        retention_sweeper::on_schedule(&b.platform).await.unwrap();
    } else {
        let now = b.clock.epoch_seconds();
        assert_eq!(shared::broadcast::resume_stalled(&b.platform, now).await.unwrap(), 1);
    }
    b.deliver_mail().await;

    let counts = notices_to(&b, LOST);
    assert_eq!(counts.len(), 151, "every user and the operator");
    assert!(counts.values().all(|&n| n == 1), "nobody twice");
    let (_, progress) = b.get(&progress_path, dpo.bearer()).await;
    assert_eq!((progress["status"].as_str(), progress["counts"]["sent"].as_u64()), (Some("completed"), Some(151)));
    // Completed: no longer listed, never resumed again.
    b.clock.advance(chrono::TimeDelta::seconds(shared::broadcast::IDLE_AFTER_SECONDS + 60));
    let now = b.clock.epoch_seconds();
    assert_eq!(shared::broadcast::resume_stalled(&b.platform, now).await.unwrap(), 0);
}
