"""The public pages in Chromium: accessibility (axe-core) in both languages at desktop and
phone widths, and the language switch working without JavaScript."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from conftest import DESKTOP, PHONE, POLICY_VERSION, PREVIOUS_POLICY_VERSION

PAGES = [
    "/",
    "/privacy",
    "/privacy/cookies",
    "/privacy/subprocessors",
    "/privacy/contact",
    "/demo/consent-banner",
    "/privacy/versions/none",
    f"/privacy/versions/{PREVIOUS_POLICY_VERSION}",
    "/sign-in",
    "/sign-up",
    "/reset-password",
    "/resend-verification",
    "/complaint",
]
AXE = Axe()


def serious(page):
    results = AXE.run(page)
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("locale", ["en-GB", "sv-SE"])
def test_every_page_passes_axe(context, server, locale, viewport):
    c = context(locale=locale, viewport=viewport)
    page = c.new_page()
    checked = []
    for path in PAGES:
        page.goto(server.base + path)
        assert page.locator("html").get_attribute("lang") == locale[:2]
        checked.append((path, serious(page)))
    # The banner's "Choose" panel, open.
    page.goto(server.base + "/demo/consent-banner")
    page.click("#infentre-consent button[data-action='choose']")
    checked.append(("banner choices", serious(page)))
    failures = [(path, found) for path, found in checked if found]
    assert failures == [], failures


def test_the_language_switch_works_without_javascript(context, server):
    c = context(java_script_enabled=False, locale="en-GB")
    page = c.new_page()
    page.goto(server.base + "/privacy")
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("form.language button[value='sv']")
    assert page.url == server.base + "/privacy"
    assert page.locator("html").get_attribute("lang") == "sv"
    assert page.locator("#translation-note").is_visible()
    # Remembered on the next page, whatever the browser prefers.
    page.goto(server.base + "/privacy/contact")
    assert page.locator("h1").inner_text() == "Kontakt och klagomål"
    page.click("form.language button[value='en']")
    assert page.locator("h1").inner_text() == "Contact and complaints"


@pytest.mark.parametrize("locale", ["en-GB", "sv-SE"])
def test_the_notice_reads_as_one_outline_and_links_the_version_it_replaced(context, server, locale):
    page = context(locale=locale).new_page()
    page.goto(server.base + "/privacy")
    # The page's title is the one <h1>; the notice's own title and sections sit under it.
    assert page.locator("h1").count() == 1
    assert page.locator("article.notice h2").count() == 1
    assert page.locator("article.notice h3").count() >= 10
    assert page.locator("article.notice h1").count() == 0
    assert f"Version {POLICY_VERSION}" in page.locator("article.notice").inner_text()
    # Its links lead to the published tables.
    page.locator("article.notice a[href='/privacy/cookies']").click()
    assert page.url == server.base + "/privacy/cookies"
    page.go_back()
    page.locator(f"a[href='/privacy/versions/{PREVIOUS_POLICY_VERSION}']").click()
    assert page.url == server.base + f"/privacy/versions/{PREVIOUS_POLICY_VERSION}"
    # The earlier version as it was written (English), with the way back to the current one.
    assert f"Version {PREVIOUS_POLICY_VERSION}" in page.locator("article.notice").inner_text()
    assert page.locator("article.notice").get_attribute("lang") == "en"
    page.locator("main a[href='/privacy']").click()
    assert page.url == server.base + "/privacy"
