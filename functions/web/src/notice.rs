//! The privacy notice as HTML: the English original (`privacy-notice.md`, whose SHA-256 every
//! consent record carries), its Swedish translation, and the archive of earlier versions.
//!
//! The Markdown is rendered when the crate is built (`build.rs`, with [`crate::markdown`]): the
//! texts never change at run time, so no request renders them and the Lambda package carries
//! the HTML instead of a Markdown parser.

use crate::i18n::Lang;

/// The Swedish translation. Consent is recorded against the English original.
pub const NOTICE_SV: &str = include_str!("../../../privacy-notice.sv.md");

const NOTICE_EN_HTML: &str = include_str!(concat!(env!("OUT_DIR"), "/privacy-notice.html"));
const NOTICE_SV_HTML: &str = include_str!(concat!(env!("OUT_DIR"), "/privacy-notice.sv.html"));

/// An earlier version of the notice, kept verbatim.
#[derive(Debug)]
pub struct ArchivedNotice {
    pub version: &'static str,
    pub date: &'static str,
    pub text: &'static str,
    /// `text` rendered when built.
    pub html: &'static str,
}

/// Earlier versions, newest first. When the notice changes, its old text moves to
/// `notices/<version>.md` and is listed here, so what people agreed to stays readable (the
/// consent records of that version carry its SHA-256). `build.rs` renders every file there.
pub static ARCHIVE: [ArchivedNotice; 1] = [ArchivedNotice {
    version: "2019-10-28",
    date: "2019-10-28",
    text: include_str!("../../../notices/2019-10-28.md"),
    html: include_str!(concat!(env!("OUT_DIR"), "/notices/2019-10-28.html")),
}];

pub fn archived(version: &str) -> Option<&'static ArchivedNotice> {
    ARCHIVE.iter().find(|notice| notice.version == version)
}

/// The current notice's HTML in a language, and whether it is a translation.
pub fn current_html(lang: Lang) -> (&'static str, bool) {
    match lang {
        Lang::En => (NOTICE_EN_HTML, false),
        Lang::Sv => (NOTICE_SV_HTML, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_show_the_texts_as_they_are_now() {
        use crate::markdown::to_html;
        assert_eq!(current_html(Lang::En), (to_html(shared::consent::NOTICE_TEXT).as_str(), false));
        assert_eq!(current_html(Lang::Sv), (to_html(NOTICE_SV).as_str(), true));
        for archived in &ARCHIVE {
            assert_eq!(archived.html, to_html(archived.text), "{}", archived.version);
        }
    }

    #[test]
    fn markdown_becomes_html_and_raw_html_is_escaped() {
        use crate::markdown::to_html;
        let out = to_html("# Title\n\n## Part\n\nSome *text*.\n\n<script>alert(1)</script>\n\nand <b>inline</b>");
        // One level down: the page's own <h1> is its title.
        assert!(out.contains("<h2>Title</h2>") && out.contains("<h3>Part</h3>"), "{out}");
        assert!(out.contains("<em>text</em>") && !out.contains("<h1>"), "{out}");
        assert!(!out.contains("<script>") && out.contains("&lt;script&gt;"), "{out}");
        assert!(!out.contains("<b>"), "{out}");
    }

    #[test]
    fn the_translation_is_of_the_current_version() {
        // The first lines name the version; a translation left behind on an older one fails.
        let version_line = |text: &str| text.lines().find(|l| l.starts_with("Version ")).map(str::to_owned);
        let english = version_line(shared::consent::NOTICE_TEXT).expect("the notice states its version");
        assert_eq!(version_line(NOTICE_SV), Some(english));
        let paragraphs = |text: &str| text.split("\n\n").filter(|p| !p.trim().is_empty()).count();
        assert_eq!(paragraphs(NOTICE_SV), paragraphs(shared::consent::NOTICE_TEXT), "same structure");
    }

    /// The notice and what the code publishes and does, kept in agreement: a change to one
    /// that the other does not follow fails here.
    mod facts {
        use std::collections::HashMap;

        use shared::config::{DEFAULT_POLICY_VERSION, Settings};
        use shared::consent::NOTICE_TEXT;
        use shared::marketing::DestinationId;
        use shared::published::{COOKIES, CookieCategory, SUBPROCESSORS};
        use shared::signing::SigningKey;

        use super::super::*;

        const YEAR: i64 = 365 * 24 * 3600;

        /// What consent records of each archived version carry as `notice_sha256`: the archive
        /// must be those texts, byte for byte.
        const ARCHIVED_SHA256: &[(&str, &str)] =
            &[("2019-10-28", "8fd50517da8539f002810281e3b5de52cc01d457393c7b6a151f0a29129d9f5d")];

        fn both() -> [(Lang, &'static str); 2] {
            [(Lang::En, NOTICE_TEXT), (Lang::Sv, NOTICE_SV)]
        }

        /// The text with its line breaks as spaces, as a reader sees it.
        fn flat(text: &str) -> String {
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        }

        fn version_line(text: &str) -> Option<&str> {
            text.lines().find(|l| l.starts_with("Version "))
        }

        #[test]
        fn the_notice_is_of_the_configured_version_and_the_earlier_ones_are_kept_verbatim() {
            let current = format!("Version {DEFAULT_POLICY_VERSION}.");
            let settings = settings();
            assert_eq!(settings.policy_date, DEFAULT_POLICY_VERSION, "the date defaults to the version");
            for (lang, text) in both() {
                assert_eq!(version_line(text), Some(current.as_str()), "{lang:?}");
                let updated = match lang {
                    Lang::En => format!("last updated on {DEFAULT_POLICY_VERSION}."),
                    Lang::Sv => format!("uppdaterades senast {DEFAULT_POLICY_VERSION}."),
                };
                assert!(flat(text).contains(&updated), "{lang:?}: {updated}");
            }
            let previous = ARCHIVE.first().expect("the version this one replaced is archived");
            assert!(flat(NOTICE_TEXT).contains(&format!("replaces the version of {}", previous.version)));
            assert!(flat(NOTICE_SV).contains(&format!("ersätter versionen från {}", previous.version)));
            let mut newer = DEFAULT_POLICY_VERSION;
            for archived in &ARCHIVE {
                assert!(archived.version < newer, "newest first, all older than the current one");
                newer = archived.version;
                assert_eq!(version_line(archived.text), Some(format!("Version {}.", archived.version).as_str()));
                let recorded = ARCHIVED_SHA256.iter().find(|(v, _)| *v == archived.version).map(|(_, h)| *h);
                assert_eq!(Some(shared::hash::sha256_hex(archived.text.as_bytes()).as_str()), recorded);
            }
            assert_eq!(ARCHIVE.len(), ARCHIVED_SHA256.len());
        }

        /// A parameter's `Default` in `template.yaml` (each sits in its parameter's block).
        fn template_default(name: &str) -> Option<&'static str> {
            let template = include_str!("../../../template.yaml");
            let block = template.split(&format!("\n  {name}:\n")).nth(1)?;
            block
                .lines()
                .take_while(|line| line.starts_with("    "))
                .find_map(|line| line.trim().strip_prefix("Default: "))
                .map(|v| v.trim_matches('"'))
        }

        #[test]
        fn the_template_deploys_this_version_and_the_contacts_the_notice_gives() {
            let settings = settings();
            let expected = [
                ("PolicyVersion", DEFAULT_POLICY_VERSION),
                ("PolicyDate", DEFAULT_POLICY_VERSION),
                ("ControllerName", settings.controller.name.as_deref().unwrap_or_default()),
                ("ControllerAddress", settings.controller.address.as_str()),
                ("ControllerEmail", settings.controller.email.as_str()),
                ("DpoEmail", settings.dpo.email.as_str()),
                ("DpoAddress", settings.dpo.address.as_str()),
            ];
            for (parameter, value) in expected {
                assert_eq!(template_default(parameter), Some(value), "{parameter}");
            }
        }

        fn settings() -> Settings {
            let none = HashMap::<&str, &str>::new();
            Settings::from_source(&none, "http://127.0.0.1:8080/".into(), SigningKey::generate())
                .expect("the defaults are valid")
        }

        /// The notice's words for what a field holds (`shared::marketing::fields`).
        fn phrase(lang: Lang, holds: &str) -> &'static str {
            match (lang, holds) {
                (Lang::En, "pseudonym") => "a pseudonymous id",
                (Lang::En, "email-hash") => "a hash of your e-mail address",
                (Lang::En, "event-name") => "what you did",
                (Lang::En, "event-time") => "when",
                (Lang::En, "event-id") => "the event's random id",
                (Lang::En, "action-source") => "whether it happened in the web app or in an e-mail",
                (Lang::En, "event-properties") => "the event's details",
                (Lang::Sv, "pseudonym") => "ett pseudonymt id",
                (Lang::Sv, "email-hash") => "en hash av din e-postadress",
                (Lang::Sv, "event-name") => "vad du gjorde",
                (Lang::Sv, "event-time") => "när",
                (Lang::Sv, "event-id") => "händelsens slumpmässiga id",
                (Lang::Sv, "action-source") => "om den hände i webbappen eller i ett e-postmeddelande",
                (Lang::Sv, "event-properties") => "händelsens detaljer",
                (lang, other) => panic!("the notice ({lang:?}) does not say what a field holding {other} is"),
            }
        }

        /// The list item that begins with `- **<name>**`, flattened.
        fn item(text: &str, name: &str) -> String {
            let start = text.find(&format!("- **{name}**")).unwrap_or_else(|| panic!("no item for {name}"));
            let rest = &text[start + 2..];
            let end = [rest.find("\n- "), rest.find("\n\n")].into_iter().flatten().min().unwrap_or(rest.len());
            flat(&rest[..end])
        }

        #[test]
        fn the_notice_names_every_sub_processor_and_says_what_each_marketing_destination_receives() {
            for (lang, text) in both() {
                for subprocessor in &SUBPROCESSORS {
                    assert!(text.contains(&format!("- **{}**", subprocessor.name)), "{lang:?}: {}", subprocessor.name);
                }
                for destination in DestinationId::ALL {
                    let label = match destination {
                        DestinationId::GoogleAnalytics => "Google Analytics",
                        DestinationId::Facebook => "Facebook",
                    };
                    let name = SUBPROCESSORS
                        .iter()
                        .map(|s| s.name)
                        .find(|name| name.contains(label))
                        .unwrap_or_else(|| panic!("{label} is a published sub-processor"));
                    let said = item(text, name);
                    let declared: Vec<&str> = destination.fields_sent().iter().map(|f| f.holds).collect();
                    for holds in &declared {
                        assert!(said.contains(phrase(lang, holds)), "{lang:?} {label}: {holds} in {said}");
                    }
                    // Nothing the destination does not receive is said to reach it.
                    for holds in ["event-id", "action-source"].into_iter().filter(|h| !declared.contains(h)) {
                        assert!(!said.contains(phrase(lang, holds)), "{lang:?} {label} does not receive {holds}");
                    }
                }
            }
        }

        #[test]
        fn the_notice_gives_the_configured_contacts_and_links_the_published_pages() {
            let settings = settings();
            let authority = &settings.supervisory_authority;
            for (lang, text) in both() {
                let text = flat(text);
                for expected in [&settings.controller.email, &settings.dpo.email, &authority.name, &authority.email] {
                    assert!(text.contains(expected.as_str()), "{lang:?}: {expected}");
                }
                // Every line of the postal addresses but the role and the country.
                let lines = [&settings.controller.address, &settings.dpo.address, &authority.address]
                    .into_iter()
                    .flat_map(|address| address.split(", "))
                    .filter(|line| !matches!(*line, "Sweden" | "Data Protection Officer"));
                for line in lines {
                    assert!(text.contains(line), "{lang:?}: {line}");
                }
                for path in ["/privacy/cookies", "/privacy/subprocessors", "/complaint"] {
                    assert!(text.contains(&format!("]({path})")), "{lang:?} links {path}");
                    assert!(crate::ROUTES.contains(&("GET", path)), "{path} is a page");
                }
            }
        }

        #[test]
        fn the_notice_states_the_periods_and_cookie_categories_the_code_uses() {
            let settings = settings();
            let usage = shared::tracking::RETENTION_SECONDS / YEAR;
            let told = shared::marketing::erasure::RECORD_SECONDS / YEAR;
            let complaints = shared::complaints::PUBLIC_RETENTION_SECONDS / YEAR;
            let books = settings.bookkeeping.years;
            assert_eq!(settings.case_retention_days, 365, "a message to hello@ is kept one year");
            let fr = COOKIES.iter().find(|c| c.name == "fr").expect("Facebook's fr cookie is declared");
            assert_eq!(fr.duration_seconds, 90 * 24 * 3600, "3 months");
            let periods = [
                [
                    format!("no longer than {usage} years"),
                    format!("which names no one, for {told} years"),
                    format!("at most {complaints} years"),
                    format!("until {books} years after the end of the fiscal year"),
                    "expires after 3 months".to_owned(),
                ],
                [
                    format!("i högst {usage} år"),
                    format!("som inte namnger någon, i {told} år"),
                    format!("i högst {complaints} år"),
                    format!("till {books} år efter utgången av det räkenskapsår"),
                    "upphör efter 3 månader".to_owned(),
                ],
            ];
            for ((lang, text), expected) in both().into_iter().zip(periods) {
                let text = flat(text);
                for expected in expected {
                    assert!(text.contains(&expected), "{lang:?}: {expected}");
                }
                for cookie in &COOKIES {
                    let bullet = match (lang, &cookie.purpose) {
                        (Lang::En, CookieCategory::StrictlyNecessary) => "- **Strictly necessary**",
                        (Lang::En, CookieCategory::Analytics) => "- **Analytics**",
                        (Lang::En, CookieCategory::Marketing) => "- **Marketing**",
                        (Lang::Sv, CookieCategory::StrictlyNecessary) => "- **Nödvändiga**",
                        (Lang::Sv, CookieCategory::Analytics) => "- **Analys**",
                        (Lang::Sv, CookieCategory::Marketing) => "- **Marknadsföring**",
                    };
                    assert!(text.contains(bullet), "{lang:?}: {} ({bullet})", cookie.name);
                }
            }
        }
    }
}
