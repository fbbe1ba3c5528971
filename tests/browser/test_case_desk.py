"""The operator desk's pages for hello@ cases and for requests by letter or phone, in Chromium:
an operator without JavaScript opens a case from the list, classifies it, links it to an
account by address, answers the sender and closes it; records a letter (refused for an
unknown person, what was typed kept; then recorded into the rights workflow); others get 403
or the sign-in page; every page passes axe in English and Swedish."""

import os
import time

import pytest
from conftest import DESKTOP, PHONE, Server
from desk_setup import admin, login, member, sign_in
from test_links import PASSWORD, api, wait_for_mail
from test_pages import serious

# INFENTRE_OPERATORS names ada@example.com on every test server.
ADA = "ada@example.com"
STRANGER = "mia.private@elsewhere.example"


def drop_mail(server, name, sender, subject, text):
    with open(os.path.join(server.data_dir, "inbox", f"{name}.eml"), "w") as f:
        f.write(f"From: {sender}\r\nTo: hello@infentre.com\r\nSubject: {subject}\r\n"
                f"Message-ID: <{name}@elsewhere.example>\r\n\r\n{text}\r\n")


def wait_for_case(server, token, subject, seconds=20):
    """The local inbox folder is read every 5 seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for case in api(server, "GET", "/v1/operator/cases?limit=200", token=token)[1]["items"]:
            if case["subject"] == subject:
                return case
        time.sleep(0.3)
    raise AssertionError(f"no case about {subject!r}")


@pytest.fixture(scope="module")
def desk():
    """A server of its own, with an operator (Ada), a member (Grace), and a case from a stranger."""
    server = Server()
    people = {"ada": admin(server, ADA, "Analytical Engines")}
    people["grace"] = member(server, people["ada"], "grace@example.com")
    drop_mail(server, "c1", f"Mia <{STRANGER}>", "Please delete what you hold", "I am Grace, writing from my private address.")
    drop_mail(server, "c2", "ann@elsewhere.example", "A question", "Which cookies do you set?")
    case = wait_for_case(server, people["ada"]["token"], "Please delete what you hold")
    people["open_case"] = wait_for_case(server, people["ada"]["token"], "A question")
    yield server, people, case
    server.close()


def no_js(context, locale="en-GB"):
    return context(java_script_enabled=False, locale=locale).new_page()


def test_an_operator_works_a_case_from_the_list_to_its_close(context, desk):
    server, people, case = desk
    page = no_js(context)
    sign_in(page, server, ADA)
    page.goto(server.base + "/operator")
    page.click("a[href='/operator/cases']")
    row = page.locator(f"#case-{case['id']}")
    assert STRANGER in row.inner_text() and "Not linked" in row.inner_text()
    row.locator("a").click()
    assert page.url == server.base + f"/operator/cases/{case['id']}"
    assert page.locator("#case-text").inner_text().strip() == "I am Grace, writing from my private address."

    page.select_option("#classify-kind", "erasure")
    page.click("form[action='/operator/cases/classify'] button")
    assert page.url == server.base + f"/operator/cases/{case['id']}?done=classified"
    assert page.locator("#case-kind").inner_text().startswith("Erasure")

    page.fill("#link-account", "nobody@example.com")
    page.click("form[action='/operator/cases/link'] button")
    assert page.locator("#desk-error").inner_text() == "No account has this id or address."
    page.fill("#link-account", "Grace@Example.com")
    page.click("form[action='/operator/cases/link'] button")
    assert page.locator("#desk-done").inner_text() == "The case is linked to the account."
    assert page.locator("#case-account").inner_text() == people["grace"]["user_id"]

    page.fill("#reply-message", "We will erase your account once you confirm from its address.")
    page.click("form[action='/operator/cases/reply'] button")
    assert page.locator("#desk-done").is_visible()
    answer = wait_for_mail(server, STRANGER, "Please delete what you hold")
    assert "We will erase your account" in answer.get_body(("plain",)).get_content()

    page.fill("#close-outcome", "Answered; waiting for the account holder.")
    page.click("form[action='/operator/cases/close'] button")
    assert page.locator("#desk-done").inner_text() == "The case is closed."
    assert page.locator("#case-status").inner_text() == "Closed"
    assert page.locator("form[action^='/operator/cases/']").count() == 0, "a closed case has no forms"
    history = page.locator("#case-history").inner_text()
    for action in ["classified", "linked", "answered", "closed"]:
        assert action in history, history
    found = api(server, "GET", f"/v1/operator/cases/{case['id']}", token=people["ada"]["token"])[1]
    assert (found["status"], found["kind"], found["user_id"]) == ("closed", "erasure", people["grace"]["user_id"])

    page.goto(server.base + "/operator/cases")
    assert page.locator(f"#case-{case['id']}").count() == 0, "no longer among the open ones"
    page.select_option("#filter-status", "closed")
    page.click("#case-filter button")
    assert page.locator(f"#case-{case['id']}").is_visible()


def test_an_operator_records_a_letter_without_javascript(context, desk):
    server, people, _ = desk
    page = no_js(context, "sv-SE")
    sign_in(page, server, ADA)
    page.goto(server.base + "/operator/letters")
    page.check("#channel-letter")
    page.check("#type-portability")
    page.fill("#letter-account", "nobody@example.com")
    page.fill("#letter-details", "Vill ha sina uppgifter i ett maskinläsbart format.")
    page.check("#identity-verified")
    page.click("#letter-form button[type=submit]")
    assert page.locator("#desk-error").inner_text().startswith("Inget verifierat konto har detta id")
    assert page.locator("#letter-details").input_value() == "Vill ha sina uppgifter i ett maskinläsbart format."
    assert page.locator("#channel-letter").is_checked() and page.locator("#type-portability").is_checked()

    page.fill("#letter-account", "grace@example.com")
    page.check("#identity-verified")
    page.click("#letter-form button[type=submit]")
    assert "/operator/letters?done=recorded&request=" in page.url
    reference = page.url.split("request=")[1]
    assert reference in page.locator("#desk-done").inner_text()
    recorded = api(server, "GET", f"/v1/rights-requests/{reference}", token=people["grace"]["token"])
    assert recorded[0] == 200, recorded
    assert (recorded[1]["type"], recorded[1]["status"]) == ("portability", "awaiting_organisation_approval")


def test_the_case_pages_are_for_operators_only(context, desk):
    server, people, case = desk
    page = no_js(context)
    for path in ["/operator/cases", f"/operator/cases/{case['id']}", "/operator/letters"]:
        page.goto(server.base + path)
        assert page.url == server.base + "/sign-in", "signed out: to sign in"
    sign_in(page, server, "grace@example.com")
    for path in ["/operator/cases", f"/operator/cases/{case['id']}", "/operator/letters"]:
        assert page.goto(server.base + path).status == 403, path
    # A member's form post is refused too (with a valid form token of her own).
    token = page.locator("form.language input[name='csrf']").first.get_attribute("value")
    form = {"csrf": token, "id": case["id"], "outcome": "Closed by a member"}
    answer = page.request.post(server.base + "/operator/cases/close", form=form, max_redirects=0)
    assert answer.status == 403
    form = {"csrf": token, "channel": "phone", "received_on": "2020-01-01", "type": "access", "account": "grace@example.com", "identity_verified": "yes"}
    assert page.request.post(server.base + "/operator/letters", form=form, max_redirects=0).status == 403


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("locale", ["en-GB", "sv-SE"])
def test_every_case_desk_page_passes_axe(context, desk, locale, viewport):
    server, people, _ = desk
    case = people["open_case"]  # stays open: its forms are checked too
    page = context(locale=locale, viewport=viewport).new_page()
    sign_in(page, server, ADA)
    checked = []
    paths = ["/operator/cases", "/operator/cases?status=closed", f"/operator/cases/{case['id']}",
             f"/operator/cases/{case['id']}?error=closed", "/operator/letters"]
    for path in paths:
        assert page.goto(server.base + path).status == 200, path
        assert page.locator("html").get_attribute("lang") == locale[:2]
        checked.append((path, serious(page)))
    failures = [(path, found) for path, found in checked if found]
    assert failures == [], failures
