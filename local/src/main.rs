//! `infentre`: the whole product in one process on SQLite.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's allocator (see Cargo.toml): the server allocates per request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "Infentre's privacy backend in one process, on SQLite.")]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "INFENTRE_ADDR", default_value = "127.0.0.1:8080", global = true)]
    addr: SocketAddr,
    /// Where the database, exports, outbox and signing key live.
    #[arg(long, env = "INFENTRE_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// Seconds between retention sweeps.
    #[arg(long, env = "INFENTRE_SWEEP_INTERVAL_SECS", default_value_t = 3600, global = true)]
    sweep_interval_secs: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API with the workers and the sweeper (the default).
    Serve,
    /// Run one retention sweep and print its report.
    Sweep,
    /// Print the OpenAPI document.
    Openapi,
    /// The hello@ mailbox.
    #[command(subcommand)]
    Inbox(InboxCommand),
    /// Manage the operators' allow-list (besides `INFENTRE_OPERATORS`).
    Operator {
        #[command(subcommand)]
        action: OperatorAction,
    },
}

#[derive(Subcommand)]
enum InboxCommand {
    /// Take in one `.eml` file as an e-mail to hello@ (a case, and the answer to its sender).
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum OperatorAction {
    /// Put an address on the list (its first verified account becomes an operator).
    Add { address: String },
    /// Take an address off the list.
    Remove { address: String },
    /// Show the list.
    List,
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init(shared::telemetry::Format::Pretty);
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", infentre::openapi_json());
            Ok(())
        }
        Command::Sweep => match infentre::open_from_env(&cli.data_dir, cli.addr) {
            Ok(local) => match infentre::sweep_once(&local.engine).await {
                Ok(report) => {
                    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                    Ok(())
                }
                Err(err) => Err(err.to_string()),
            },
            Err(err) => Err(err.to_string()),
        },
        Command::Inbox(InboxCommand::Import { file }) => match infentre::open_from_env(&cli.data_dir, cli.addr) {
            Ok(local) => match infentre::inbox::import_file(&local.engine.platform, &file).await {
                Ok(taken) => {
                    let note = if taken.duplicate { " (already taken in)" } else { "" };
                    println!("case {}{note}", taken.case_id);
                    // The answer to the sender goes out now, as the server would send it.
                    infentre::drain_queues(&local).await.map(|_| ()).map_err(|err| err.to_string())
                }
                Err(err) => Err(err.to_string()),
            },
            Err(err) => Err(err.to_string()),
        },
        Command::Operator { action } => match infentre::open_from_env(&cli.data_dir, cli.addr) {
            Ok(local) => {
                let command = match action {
                    OperatorAction::Add { address } => infentre::operators::OperatorCommand::Add(address),
                    OperatorAction::Remove { address } => infentre::operators::OperatorCommand::Remove(address),
                    OperatorAction::List => infentre::operators::OperatorCommand::List,
                };
                infentre::operators::run(&local.engine.platform, command).await.map(|line| println!("{line}"))
            }
            Err(err) => Err(err.to_string()),
        },
        Command::Serve => match infentre::open_from_env(&cli.data_dir, cli.addr) {
            Ok(local) => {
                let every = Duration::from_secs(cli.sweep_interval_secs.max(1));
                infentre::serve(local, cli.addr, every, shutdown_signal()).await.map_err(|err| err.to_string())
            }
            Err(err) => Err(err.to_string()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("infentre: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return interrupt.await.unwrap_or_default(),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or_default();
    tracing::info!("shutting down");
}
