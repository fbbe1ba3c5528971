//! Logging. JSON lines in Lambda (CloudWatch), readable lines locally. Fields never carry
//! personal data: ids, counts, route templates and error kinds only.

use tracing_subscriber::EnvFilter;

pub enum Format {
    Json,
    Pretty,
}

/// Installs the global subscriber once; `RUST_LOG` overrides the default level.
pub fn init(format: Format) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = match format {
        Format::Json => builder.json().with_current_span(true).without_time().try_init(),
        Format::Pretty => builder.try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}
