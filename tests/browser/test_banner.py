"""The cookie banner (consent.js) on its demo page, in Chromium."""

import json
import time

import pytest
from conftest import PHONE, POLICY_VERSION, PREVIOUS_POLICY_VERSION, Recorder, Server

DEMO = "/demo/consent-banner"
STANDINS = {"/assets/gtag-standin.js", "/assets/gtag-config.js", "/assets/fbevents-standin.js"}
ESSENTIAL_COOKIES = {"infentre_csrf", "infentre_lang", "infentre_consent", "__Host-infentre_session"}
GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"


def wait_until(page, expression, timeout=10.0):
    """Polls `expression` from here: `page.wait_for_function` polls with eval() inside the page,
    which the pages' CSP forbids (no 'unsafe-eval'), so it failed whenever the first check came
    too early. `page.evaluate` goes through the DevTools protocol, which the CSP does not govern."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true within {timeout} s: {expression}"
        time.sleep(0.05)


def consent_calls(page, kind):
    """The gtag('consent', kind, {...}) calls in dataLayer, in order."""
    return page.evaluate(
        """kind => (window.dataLayer || []).map(e => Array.from(e))
             .filter(e => e[0] === 'consent' && e[1] === kind).map(e => e[2])""",
        kind,
    )


def open_demo(context, server, **options):
    c = context(**options)
    recorder = Recorder(server.host)
    c.route("**/*", recorder)
    page = c.new_page()
    page.goto(server.base + DEMO)
    return c, page, recorder


def record_choice(page, action):
    """Clicks a banner button and returns the recorded choice (the API's answer)."""
    with page.expect_response(lambda r: r.url.endswith("/v1/cookie-consents")) as answer:
        page.click(f"#infentre-consent button[data-action='{action}']")
    assert answer.value.status == 201
    return answer.value.json()


def non_essential_cookies(c):
    return sorted(cookie["name"] for cookie in c.cookies() if cookie["name"] not in ESSENTIAL_COOKIES)


def test_before_any_choice_everything_is_denied_and_nothing_leaves(context, server):
    c, page, recorder = open_demo(context, server)
    banner = page.locator("#infentre-consent")
    banner.wait_for(state="visible")

    first = page.evaluate("Array.from(window.dataLayer[0])")
    assert first[:2] == ["consent", "default"], "the defaults come before anything else"
    assert first[2] == {
        "ad_storage": "denied",
        "analytics_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
        "wait_for_update": 500,
    }
    assert consent_calls(page, "update") == []
    assert page.evaluate("window.__standins === undefined"), "no blocked tag ran"
    assert not STANDINS & set(recorder.paths()), "no blocked tag was even fetched"
    assert recorder.third_party() == []
    assert non_essential_cookies(c) == []
    assert page.evaluate("localStorage.getItem('infentre_consent')") is None
    assert page.locator("#tag-google").inner_text() != page.locator("#tag-google").get_attribute("data-loaded")


def test_the_three_choices_are_equally_prominent(context, server):
    for viewport in (None, PHONE):
        options = {"viewport": viewport} if viewport else {}
        _, page, _ = open_demo(context, server, **options)
        buttons = page.locator("#infentre-consent .ic-actions button")
        assert buttons.count() == 3
        boxes = [buttons.nth(i).bounding_box() for i in range(3)]
        styles = [
            buttons.nth(i).evaluate("b => { const s = getComputedStyle(b); return [s.backgroundColor, s.color, s.fontSize, s.fontWeight] }")
            for i in range(3)
        ]
        assert len({json.dumps(s) for s in styles}) == 1, styles
        assert max(b["height"] for b in boxes) - min(b["height"] for b in boxes) < 1, boxes
        assert max(b["width"] for b in boxes) - min(b["width"] for b in boxes) < 1, boxes


def test_accepting_updates_consent_mode_and_runs_the_blocked_tags(context, server):
    c, page, recorder = open_demo(context, server)
    recorded = record_choice(page, "accept")
    assert (recorded["analytics"], recorded["marketing"]) == (True, True)

    wait_until(page, "window.__standins && window.__standins.google && window.__standins.facebook")
    assert page.evaluate("window.__standins.googleConfigured"), "the tags ran in document order"
    assert consent_calls(page, "update")[-1] == {
        "analytics_storage": "granted",
        "ad_storage": "granted",
        "ad_user_data": "granted",
        "ad_personalization": "granted",
    }
    assert page.evaluate("window.__standins.google.consent.analytics_storage") == "granted"
    assert STANDINS <= set(recorder.paths())
    assert {"_fbp", "_ga"} <= set(non_essential_cookies(c))
    assert page.locator("#infentre-consent").is_hidden()
    stored = page.evaluate("JSON.parse(localStorage.getItem('infentre_consent'))")
    assert stored["visitor_id"] == recorded["visitor_id"] and stored["recorded"] is True
    assert stored["version"] == POLICY_VERSION

    # The next page applies the choice at once, without asking.
    page.reload()
    wait_until(page, "window.__standins && window.__standins.facebook")
    assert page.locator("#infentre-consent").count() == 0
    assert consent_calls(page, "update")[0]["ad_storage"] == "granted"
    assert recorder.third_party() == []


def test_rejecting_runs_nothing(context, server):
    c, page, recorder = open_demo(context, server)
    recorded = record_choice(page, "reject")
    assert (recorded["analytics"], recorded["marketing"]) == (False, False)
    assert consent_calls(page, "update")[-1] == {
        "analytics_storage": "denied",
        "ad_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
    }
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.locator("#infentre-consent").count() == 0, "not asked again"
    assert page.evaluate("window.__standins === undefined")
    assert not STANDINS & set(recorder.paths())
    assert non_essential_cookies(c) == []
    assert recorder.third_party() == []


def test_choosing_analytics_only_runs_only_the_analytics_tag(context, server):
    c, page, _ = open_demo(context, server)
    page.click("#infentre-consent button[data-action='choose']")
    assert page.locator("#infentre-consent button[data-action='choose']").get_attribute("aria-expanded") == "true"
    page.check("#ic-analytics")
    recorded = record_choice(page, "save")
    assert (recorded["analytics"], recorded["marketing"]) == (True, False)
    wait_until(page, "window.__standins && window.__standins.google")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__standins.facebook === undefined")
    assert non_essential_cookies(c) == ["_ga"]
    assert consent_calls(page, "update")[-1]["ad_storage"] == "denied"


def test_global_privacy_control_keeps_marketing_off_and_says_why(context, server):
    c = context(extra_http_headers={"Sec-GPC": "1"})
    c.add_init_script(GPC)
    recorder = Recorder(server.host)
    c.route("**/*", recorder)
    page = c.new_page()
    page.goto(server.base + DEMO)
    assert page.locator("#ic-gpc").is_visible()
    assert "Global Privacy Control" in page.locator("#ic-gpc").inner_text()
    page.click("#infentre-consent button[data-action='choose']")
    assert page.locator("#ic-marketing").is_disabled()

    recorded = record_choice(page, "accept")
    assert (recorded["analytics"], recorded["marketing"]) == (True, False), "the server honours Sec-GPC too"
    update = consent_calls(page, "update")[-1]
    assert update["analytics_storage"] == "granted" and update["ad_storage"] == "denied"
    assert update["ad_user_data"] == "denied" and update["ad_personalization"] == "denied"
    wait_until(page, "window.__standins && window.__standins.google")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__standins.facebook === undefined")
    assert "/assets/fbevents-standin.js" not in recorder.paths()


def test_cookie_settings_reopens_the_banner_and_a_withdrawal_stops_the_tags(context, server):
    c, page, _ = open_demo(context, server)
    record_choice(page, "accept")
    wait_until(page, "window.__standins && window.__standins.facebook")
    page.click("a[data-consent-settings]")
    banner = page.locator("#infentre-consent")
    assert banner.is_visible()
    assert page.evaluate("document.activeElement.closest('#infentre-consent') !== null"), "focus moves to the banner"

    # Tags that already ran stop only with a new page: the banner reloads it after recording.
    with page.expect_navigation():
        with page.expect_response(lambda r: r.url.endswith("/v1/cookie-consents")) as answer:
            page.click("#infentre-consent button[data-action='reject']")
    assert answer.value.status == 201
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__standins === undefined"), "after the reload no tag runs"
    assert page.evaluate("window.InfentreConsent.choice()")["marketing"] is False


def test_the_link_works_without_javascript(context, server):
    c = context(java_script_enabled=False)
    page = c.new_page()
    page.goto(server.base + DEMO)
    page.click("a[data-consent-settings]")
    assert page.url == server.base + "/privacy/cookies"


def test_the_banner_speaks_the_page_language(context, server):
    _, page, _ = open_demo(context, server, locale="sv-SE")
    assert page.locator("html").get_attribute("lang") == "sv"
    assert page.locator("#infentre-consent button[data-action='accept']").inner_text() == "Godkänn alla"
    assert page.locator("#infentre-consent button[data-action='reject']").inner_text() == "Avvisa alla"
    assert page.locator("#infentre-consent").get_attribute("lang") == "sv"


@pytest.fixture
def own_server():
    s = Server(policy_version=PREVIOUS_POLICY_VERSION)
    yield s
    s.close()


def test_a_new_policy_version_asks_again(context, own_server):
    c, page, _ = open_demo(context, own_server)
    record_choice(page, "accept")
    wait_until(page, "window.__standins && window.__standins.facebook")

    own_server.restart(policy_version=POLICY_VERSION)
    page.goto(own_server.base + DEMO)
    page.locator("#infentre-consent").wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__standins === undefined"), "a choice made under the old notice does not count"
    assert consent_calls(page, "update") == []

    recorded = record_choice(page, "reject")
    stored = page.evaluate("JSON.parse(localStorage.getItem('infentre_consent'))")
    assert stored["version"] == POLICY_VERSION
    assert recorded["visitor_id"] == stored["visitor_id"], "the same visitor answers again"
