//! The texts of the e-mails we send people, from Fluent catalogs (`shared/locales/mail.*.ftl`),
//! in the recipient's language. No e-mail text is written inline.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

use crate::lang::Lang;

const EN_SOURCE: &str = include_str!("../../locales/mail.en.ftl");
const SV_SOURCE: &str = include_str!("../../locales/mail.sv.ftl");

struct Catalog {
    bundle: FluentBundle<FluentResource>,
    /// Syntax errors (logged at parse; a unit test keeps this empty).
    #[cfg_attr(not(test), allow(dead_code))]
    errors: Vec<String>,
}

static EN: LazyLock<Catalog> = LazyLock::new(|| Catalog::parse(Lang::En, EN_SOURCE));
static SV: LazyLock<Catalog> = LazyLock::new(|| Catalog::parse(Lang::Sv, SV_SOURCE));

impl Catalog {
    fn parse(lang: Lang, source: &'static str) -> Catalog {
        let mut errors = Vec::new();
        let resource = FluentResource::try_new(source.to_owned()).unwrap_or_else(|(resource, errs)| {
            errors.extend(errs.iter().map(|e| format!("{e:?}")));
            resource
        });
        let mut bundle = FluentBundle::new_concurrent(vec![lang.code().parse().unwrap_or_default()]);
        // Isolation marks would end up in the mail around every variable.
        bundle.set_use_isolating(false);
        if let Err(errs) = bundle.add_resource(resource) {
            errors.extend(errs.iter().map(|e| format!("{e:?}")));
        }
        if !errors.is_empty() {
            tracing::error!(lang = lang.code(), count = errors.len(), "the mail catalog has errors");
        }
        Catalog { bundle, errors }
    }
}

fn catalog(lang: Lang) -> &'static Catalog {
    match lang {
        Lang::En => &EN,
        Lang::Sv => &SV,
    }
}

/// The message `id` in `lang` with its variables; a missing one shows its id (a test keeps
/// every id present in both languages).
pub fn text(lang: Lang, id: &str, vars: &[(&str, &str)]) -> String {
    let catalog = catalog(lang);
    let Some(pattern) = catalog.bundle.get_message(id).and_then(|m| m.value()) else {
        tracing::warn!(id, lang = lang.code(), "missing mail message");
        return id.to_owned();
    };
    let mut args = FluentArgs::new();
    for (name, value) in vars {
        args.set(*name, (*value).to_owned());
    }
    let mut errors = Vec::new();
    let text = catalog.bundle.format_pattern(pattern, Some(&args), &mut errors).into_owned();
    if !errors.is_empty() {
        tracing::warn!(id, lang = lang.code(), "mail message formatted with errors");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter(|line| line.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            .filter_map(|line| line.split_once('=').map(|(id, _)| id.trim()))
            .collect()
    }

    #[test]
    fn both_catalogs_parse_and_have_the_same_messages() {
        for lang in Lang::ALL {
            assert!(catalog(lang).errors.is_empty(), "{lang:?}: {:?}", catalog(lang).errors);
        }
        let (en, sv) = (ids(EN_SOURCE), ids(SV_SOURCE));
        assert!(en.len() >= 30, "{} messages", en.len());
        assert_eq!(en, sv, "the same messages in the same order");
    }

    #[test]
    fn bodies_keep_their_paragraphs_and_variables() {
        let body = text(Lang::Sv, "reset-body", &[("link", "https://example.com/x?token=abc")]);
        assert!(body.starts_with("Någon bad om"), "{body}");
        assert!(body.contains("\n\n") && body.contains("\nhttps://example.com/x?token=abc\n"), "{body:?}");
        assert!(!body.contains('\u{2068}'), "no isolation marks");
    }
}
