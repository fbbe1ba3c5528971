//! Infentre in one process, on the embedded engine: every function's routes behind one
//! server, every queue polled by the same worker code the Lambdas run, and the retention
//! sweeper on a timer. Nothing here branches on "local": it only wires the embedded
//! adapters to the functions.

mod delivery;
pub mod inbox;
pub mod operators;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures::FutureExt;
use shared::client_address::TrustedProxies;
use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, Settings, Source};
use shared::embedded::{Engine, load_or_create_signing_key};
use shared::mail::Mailer;
use shared::marketing::Destination;
use shared::queue::QueueName;
use shared::queue::poller::{Poller, Worker};
use tokio::sync::watch;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};

/// How long a received message stays hidden: the template's visibility timeout.
pub const VISIBILITY: Duration = Duration::from_secs(180);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Open(#[from] shared::embedded::OpenError),
    #[error("cannot read or create the signing key: {0}")]
    SigningKey(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("cannot seed the operators' allow-list: {0}")]
    Store(#[from] shared::store::StoreError),
}

pub use delivery::{MAIL_TRANSPORT, MailTransport};

/// How often the inbox folder is looked at.
const INBOX_SCAN_EVERY: Duration = Duration::from_secs(5);

/// The local binary's parts: the embedded engine, where mail and marketing go, and whose
/// `X-Forwarded-For` to believe.
#[derive(Debug, Clone)]
pub struct Local {
    pub engine: Engine,
    pub mailer: Arc<dyn Mailer>,
    pub destinations: Vec<Arc<dyn Destination>>,
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Where `.eml` files dropped in are taken in from (`<data-dir>/inbox/`).
    pub inbox: std::path::PathBuf,
}

/// Opens the data directory (database, exports, outbox and signing key) and checks every
/// setting, the mail transport's and the proxies' included.
pub fn open(
    data_dir: &Path,
    public_base_url: String,
    source: &dyn Source,
    clock: Arc<dyn Clock>,
) -> Result<Local, StartError> {
    // Settings first: a bad one fails the start before anything is created on disk.
    let transport = MailTransport::from_source(source)?;
    let trusted_proxies = Arc::new(TrustedProxies::from_source(source)?);
    let signing_key = load_or_create_signing_key(data_dir).map_err(StartError::SigningKey)?;
    let settings = Settings::from_source(source, public_base_url, signing_key)?;
    let engine = Engine::open(data_dir, settings, clock.clone())?;
    let mailer = transport.mailer(&engine, &engine.platform.settings, clock)?;
    let destinations = delivery::marketing_destinations(source, &engine)?;
    let inbox = inbox::inbox_dir(data_dir);
    std::fs::create_dir_all(&inbox)
        .map_err(|source| StartError::Open(shared::embedded::OpenError::DataDir { path: inbox.clone(), source }))?;
    Ok(Local { engine, mailer, destinations, trusted_proxies, inbox })
}

/// Opens with the system clock, reading settings from the environment.
pub fn open_from_env(data_dir: &Path, addr: SocketAddr) -> Result<Local, StartError> {
    let source = shared::config::Environment;
    let public_base_url = source.get("INFENTRE_PUBLIC_BASE_URL").unwrap_or_else(|| format!("http://{addr}"));
    open(data_dir, public_base_url, &source, Arc::new(SystemClock))
}

/// Every function's routes (the web pages too), and the export downloads, as one application.
pub fn router(engine: &Engine) -> Router {
    let functions = Router::new()
        .merge(signup::routes())
        .merge(consent::routes())
        .merge(tracking::routes())
        .merge(rights::routes())
        .merge(web::routes())
        .with_state(engine.platform.clone());
    shared::http::app(functions.merge(engine.blobs.clone().routes()))
}

/// One poller per queue, each feeding the worker its Lambda runs.
pub fn pollers(local: &Local) -> Vec<Poller> {
    let engine = &local.engine;
    let mail = Arc::new(mail_worker::MailWorker::new(engine.platform.clone(), local.mailer.clone()));
    let mail_worker: Worker = Arc::new(move |event| {
        let mail = mail.clone();
        async move { mail.handle(event).await.map_err(Into::into) }.boxed()
    });
    let platform = engine.platform.clone();
    let tracking_worker: Worker = Arc::new(move |event| {
        let platform = platform.clone();
        async move { tracking_worker::handle(&platform, event).await.map_err(Into::into) }.boxed()
    });
    let marketing =
        Arc::new(marketing_worker::MarketingWorker::new(engine.platform.clone(), local.destinations.clone()));
    let marketing_worker: Worker = Arc::new(move |event| {
        let marketing = marketing.clone();
        async move { marketing.handle(event).await.map_err(Into::into) }.boxed()
    });
    let platform = engine.platform.clone();
    let rights_worker: Worker = Arc::new(move |event| {
        let platform = platform.clone();
        async move { rights_worker::handle(&platform, event).await.map_err(Into::into) }.boxed()
    });
    // Batch sizes as in the template: tracking writes fill BatchWriteItem's 25 several times.
    [
        (QueueName::Mail, mail_worker, 10),
        (QueueName::Tracking, tracking_worker, 100),
        (QueueName::Marketing, marketing_worker, 10),
        (QueueName::Rights, rights_worker, 10),
    ]
    .into_iter()
    .map(|(name, worker, batch_size)| Poller {
        queue: engine.platform.queue.clone(),
        name,
        worker,
        visibility: VISIBILITY,
        batch_size,
    })
    .collect()
}

/// Runs every queue until nothing is visible: what tests call instead of waiting.
pub async fn drain_queues(local: &Local) -> Result<usize, shared::queue::QueueError> {
    let mut total = 0;
    for poller in pollers(local) {
        total += poller.drain().await?;
    }
    Ok(total)
}

/// One retention run: sweep, resumed erasures, deadline alerts, reminders, report.
pub async fn sweep_once(engine: &Engine) -> Result<shared::retention::RetentionReport, retention_sweeper::RunError> {
    retention_sweeper::run(&engine.platform, retention_sweeper::BUDGET).await
}

/// Serves until `shutdown` resolves, with the pollers and the sweeper running beside. Each
/// request gets the client's address from its TCP peer (or a trusted proxy's report).
pub async fn serve(
    local: Local,
    addr: SocketAddr,
    sweep_every: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
    serve_on(local, listener, sweep_every, shutdown).await
}

/// [`serve`] on a socket already bound (tests bind port 0 and keep the socket).
pub async fn serve_on(
    local: Local,
    listener: tokio::net::TcpListener,
    sweep_every: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    // The allow-list records follow the setting from the start (each is also seeded on use).
    shared::accounts::operators::seed_from_settings(&local.engine.platform).await?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = Vec::new();
    for poller in pollers(&local) {
        background.push(tokio::spawn(poller.run(Duration::from_millis(250), stop_rx.clone())));
    }
    background.push(tokio::spawn(inbox::scan_periodically(
        local.engine.platform.clone(),
        local.inbox.clone(),
        INBOX_SCAN_EVERY,
        stop_rx.clone(),
    )));
    background.push(tokio::spawn(sweep_periodically(local.engine.clone(), sweep_every, stop_rx)));

    let app = router(&local.engine)
        .layer(axum::middleware::from_fn_with_state(local.trusted_proxies.clone(), shared::client_address::from_peer));
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    // Let the workers finish the batch in hand, then stop.
    if stop_tx.send(true).is_err() {
        // Every background task has already ended: nothing left to stop.
    }
    for task in background {
        if let Err(err) = task.await {
            tracing::error!(error = %err, "a background task ended abnormally");
        }
    }
    served.map_err(StartError::Serve)
}

async fn sweep_periodically(engine: Engine, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        // A panicking sweep is logged like a failed one; the next still runs on schedule.
        match std::panic::AssertUnwindSafe(sweep_once(&engine)).catch_unwind().await {
            Ok(Ok(report)) => tracing::info!(erased = report.erased.values().sum::<u64>(), "scheduled sweep"),
            Ok(Err(retention_sweeper::RunError::Busy)) => tracing::info!("a sweep is already running; skipped"),
            Ok(Err(err)) => tracing::error!(error = %err, "scheduled sweep failed"),
            Err(_) => tracing::error!("scheduled sweep panicked"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The OpenAPI document of everything the server answers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = shared::http::PlatformApi::openapi();
    doc.merge(signup::ApiDoc::openapi());
    doc.merge(consent::ApiDoc::openapi());
    doc.merge(tracking::ApiDoc::openapi());
    doc.merge(rights::ApiDoc::openapi());
    doc.merge(shared::blob::local::LocalExportsApi::openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            shared::session::COOKIE_NAME,
            "Set by POST /v1/sessions. Unsafe requests must also send X-CSRF-Token.",
        ))),
    );
    components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    doc.info = utoipa::openapi::InfoBuilder::new()
        .title("Infentre API")
        .version("1")
        .description(Some(
            "The privacy backend of Infentre. Errors are RFC 9457 problem+json documents with a stable `code`.",
        ))
        .build();
    doc
}

/// The document as committed in `openapi.json` and served at `/openapi.json`.
pub fn openapi_json() -> String {
    let mut text = openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}
