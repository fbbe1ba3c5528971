//! The privacy notice as HTML: the English original (`privacy-notice.md`, whose SHA-256 every
//! consent record carries), its Swedish translation, and the archive of earlier versions.

use pulldown_cmark::{Event, Options, Parser, html};

use crate::i18n::Lang;

/// The Swedish translation. Consent is recorded against the English original.
pub const NOTICE_SV: &str = include_str!("../../../privacy-notice.sv.md");

/// An earlier version of the notice, kept verbatim.
#[derive(Debug)]
pub struct ArchivedNotice {
    pub version: &'static str,
    pub date: &'static str,
    pub text: &'static str,
}

/// Earlier versions, newest first. When the notice changes, its old text moves to
/// `notices/<version>.md` and is listed here, so what people agreed to stays readable.
/// 2019-10-28 is the first version: nothing precedes it yet.
pub static ARCHIVE: [ArchivedNotice; 0] = [];

pub fn archived(version: &str) -> Option<&'static ArchivedNotice> {
    ARCHIVE.iter().find(|notice| notice.version == version)
}

/// The current notice's Markdown in a language, and whether it is a translation.
pub fn current(lang: Lang) -> (&'static str, bool) {
    match lang {
        Lang::En => (shared::consent::NOTICE_TEXT, false),
        Lang::Sv => (NOTICE_SV, true),
    }
}

/// Markdown to HTML. Raw HTML in the source is shown as text, never passed through.
pub fn to_html(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, Options::empty()).map(|event| match event {
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut out, parser);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html_and_raw_html_is_escaped() {
        let out = to_html("# Title\n\nSome *text*.\n\n<script>alert(1)</script>\n\nand <b>inline</b>");
        assert!(out.contains("<h1>Title</h1>") && out.contains("<em>text</em>"), "{out}");
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
}
