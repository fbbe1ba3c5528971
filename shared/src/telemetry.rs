//! Logging. JSON lines in Lambda (CloudWatch), readable lines locally. Fields never carry
//! personal data: ids, counts, route templates and error kinds only.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, registry};

pub enum Format {
    Json,
    Pretty,
}

/// Installs the global subscriber once; `RUST_LOG` overrides the default level.
pub fn init(format: Format) {
    let filter = std::env::var("RUST_LOG").ok().and_then(|value| filter(&value)).unwrap_or_else(default_filter);
    let result = match format {
        Format::Json => registry()
            .with(filter)
            .with(fmt::layer().json().with_current_span(true).without_time().with_target(false))
            .try_init(),
        Format::Pretty => registry().with(filter).with(fmt::layer().with_target(false)).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}

fn default_filter() -> Targets {
    Targets::new().with_default(LevelFilter::INFO)
}

/// `RUST_LOG` as levels, overall and per module (`warn`, `info,shared::sqlite=debug`). Not
/// tracing's `EnvFilter`: its span and field matching links a regex engine into every Lambda
/// (about 0.5 MB of each package), for directives we never use.
fn filter(value: &str) -> Option<Targets> {
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn rust_log_sets_the_level_overall_and_per_module() {
        let warn = filter("warn").expect("a level");
        assert!(warn.would_enable("shared::store", &Level::WARN) && !warn.would_enable("shared::store", &Level::INFO));
        let mixed = filter("info,shared::sqlite=debug").expect("levels per module");
        assert!(mixed.would_enable("shared::sqlite", &Level::DEBUG));
        assert!(
            !mixed.would_enable("shared::store", &Level::DEBUG) && mixed.would_enable("shared::store", &Level::INFO)
        );
        assert!(filter("[span{field=1}]=debug").is_none(), "span filters are not taken");
        assert!(
            default_filter().would_enable("local", &Level::INFO)
                && !default_filter().would_enable("local", &Level::DEBUG)
        );
    }
}
