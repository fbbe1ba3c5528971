//! Languages and message catalogs: every text a page shows comes from `locales/<lang>.ftl`
//! (Fluent). The language is the one the person chose (a cookie), else the best match of
//! `Accept-Language`, else English.

use std::sync::LazyLock;

use axum::http::{HeaderMap, header};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// The cookie that remembers the language chosen with the switch.
pub const LANG_COOKIE: &str = "infentre_lang";

/// The languages of the pages are the ones of the e-mails (`shared::lang`).
pub use shared::lang::Lang;

/// The remembered choice first, then the browser's preferences by weight, then English.
pub fn negotiate(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(|value| Lang::from_code(&value))
        .or_else(|| {
            headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En)
}

/// A language's messages.
pub fn catalog(lang: Lang) -> &'static Catalog {
    match lang {
        Lang::En => &EN,
        Lang::Sv => &SV,
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

pub const EN_SOURCE: &str = include_str!("../locales/en.ftl");
pub const SV_SOURCE: &str = include_str!("../locales/sv.ftl");

static EN: LazyLock<Catalog> = LazyLock::new(|| Catalog::parse(Lang::En, EN_SOURCE));
static SV: LazyLock<Catalog> = LazyLock::new(|| Catalog::parse(Lang::Sv, SV_SOURCE));

/// One language's messages.
pub struct Catalog {
    pub lang: Lang,
    bundle: FluentBundle<FluentResource>,
    /// Syntax errors found while parsing; a unit test keeps this empty.
    pub errors: Vec<String>,
}

impl Catalog {
    fn parse(lang: Lang, source: &'static str) -> Catalog {
        let mut errors = Vec::new();
        let resource = FluentResource::try_new(source.to_owned()).unwrap_or_else(|(resource, errs)| {
            errors.extend(errs.iter().map(|e| format!("{e:?}")));
            resource
        });
        let langid = match lang.code().parse() {
            Ok(id) => id,
            Err(err) => {
                errors.push(format!("{err:?}"));
                unic_langid::LanguageIdentifier::default()
            }
        };
        let mut bundle = FluentBundle::new_concurrent(vec![langid]);
        // Unicode isolation marks would end up in the HTML and in attribute values.
        bundle.set_use_isolating(false);
        if let Err(errs) = bundle.add_resource(resource) {
            errors.extend(errs.iter().map(|e| format!("{e:?}")));
        }
        Catalog { lang, bundle, errors }
    }

    pub fn has(&self, id: &str) -> bool {
        self.bundle.get_message(id).and_then(|m| m.value()).is_some()
    }

    /// The message `id`; a missing one shows its id (a test keeps every id present).
    pub fn t(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with one variable.
    pub fn t1(&self, id: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), value.to_owned());
        self.format(id, Some(&args))
    }

    fn format(&self, id: &str, args: Option<&FluentArgs>) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::warn!(id, lang = self.lang.code(), "missing message");
            return id.to_owned();
        };
        let mut errors = Vec::new();
        let text = self.bundle.format_pattern(pattern, args, &mut errors).into_owned();
        if !errors.is_empty() {
            tracing::warn!(id, lang = self.lang.code(), "message formatted with errors");
        }
        text
    }

    /// Every message id, for the completeness tests.
    pub fn ids(source: &str) -> Vec<String> {
        source
            .lines()
            .filter(|line| line.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            .filter_map(|line| line.split_once('=').map(|(id, _)| id.trim().to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_remembered_choice_beats_the_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("sv"));
        assert_eq!(negotiate(&headers), Lang::Sv);
        headers.insert(header::COOKIE, HeaderValue::from_static("a=b; infentre_lang=en"));
        assert_eq!(negotiate(&headers), Lang::En);
        headers.insert(header::COOKIE, HeaderValue::from_static("infentre_lang=xx"));
        assert_eq!(negotiate(&headers), Lang::Sv);
        assert_eq!(negotiate(&HeaderMap::new()), Lang::En);
    }

    #[test]
    fn both_catalogs_parse_and_have_the_same_messages() {
        for lang in Lang::ALL {
            assert!(catalog(lang).errors.is_empty(), "{:?}: {:?}", lang, catalog(lang).errors);
        }
        let en = Catalog::ids(EN_SOURCE);
        let sv = Catalog::ids(SV_SOURCE);
        assert!(en.len() > 40, "{} messages read", en.len());
        let missing_in_sv: Vec<_> = en.iter().filter(|id| !sv.contains(id)).collect();
        let missing_in_en: Vec<_> = sv.iter().filter(|id| !en.contains(id)).collect();
        assert!(
            missing_in_sv.is_empty() && missing_in_en.is_empty(),
            "sv lacks {missing_in_sv:?}, en lacks {missing_in_en:?}"
        );
        for id in &en {
            assert!(catalog(Lang::En).has(id) && catalog(Lang::Sv).has(id), "{id} has no value");
        }
    }

    #[test]
    fn messages_take_variables_without_isolation_marks() {
        let text = catalog(Lang::Sv).t1("notice-version", "version", "2019-10-28");
        assert!(text.contains("2019-10-28") && !text.contains('\u{2068}'), "{text}");
    }
}
