"""The privacy center in Chromium: the journey of a new person (sign up → the .eml → verify →
sign in → withdraw and give a purpose again → download a receipt → file an access request →
download the export from the e-mailed link, signed in and signed out → change the password →
cancel the account), and axe on every page of the center in both languages at both widths."""

import json
import time

import pytest
from conftest import DESKTOP, PHONE
from test_links import PASSWORD, api, links, mails, wait_for_mail
from test_pages import serious

NEW_PASSWORD = "a difference engine too"


def sign_in(page, server, email, password):
    page.goto(server.base + "/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form.link button[type=submit]")


def test_the_journey_of_a_new_person_through_the_privacy_center(context, server):
    page = context(locale="en-GB").new_page()
    checked = []

    def axe(name):
        checked.append((name, serious(page)))

    # Sign up on the web, open the .eml, click its link, verify.
    page.goto(server.base + "/sign-up")
    page.fill("#organisation_name", "Babbage & Co")
    page.fill("#email", "babbage@example.com")
    page.fill("#password", PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Check your e-mail"
    [verify] = links(wait_for_mail(server, "babbage@example.com", "verify your"))
    page.goto(verify)
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Address confirmed"

    # Sign in; withdraw and give again a purpose, one click each.
    sign_in(page, server, "babbage@example.com", PASSWORD)
    assert page.url == server.base + "/account"
    axe("/account")
    updates = page.locator("#consent-product_updates")
    updates.locator("button").click()
    assert updates.locator(".state").inner_text() == "Given"
    updates.locator("button").click()
    assert updates.locator(".state").inner_text() == "Not given"
    updates.locator("button").click()
    assert updates.locator(".state").inner_text() == "Given"

    # The history lists the three changes, newest first; a receipt downloads.
    page.click("a[href='/account/history']")
    rows = page.locator("#history tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).locator("td").nth(1).inner_text() for i in range(3)] == ["Given", "Withdrawn", "Given"]
    axe("/account/history")
    with page.expect_download() as download:
        rows.nth(0).locator("a.receipt").click()
    receipt = json.loads(open(download.value.path()).read())
    assert download.value.suggested_filename == f"consent-receipt-{receipt['consentReceiptID']}.json"
    assert receipt["granted"] is True and receipt["services"][0]["purposes"][0]["purpose"], receipt

    # File an access request; it is processed and its status shown with the deadline.
    page.goto(server.base + "/account")
    page.click("a[href='/account/requests']")
    assert page.locator("#requests-empty").is_visible()
    axe("/account/requests")
    page.check("#type-access")
    page.click("form.link button[type=submit]")
    assert page.url == server.base + "/account/requests"
    row = page.locator("#requests tbody tr").first
    assert row.locator("th").inner_text() == "Access"
    page.check("#type-correction")
    page.fill("#details", "My address changed.")
    page.click("form.link button[type=submit]")  # a correction without the corrected address
    assert page.locator("#form-error").inner_text() == "Enter a valid e-mail address."
    assert page.locator("#details").input_value() == "My address changed.", "what was typed is kept"
    axe("/account/requests, refused")
    done = wait_for_mail(server, "babbage@example.com", "is done")
    [export_link] = [link for link in links(done) if "/export" in link]
    assert "/account/requests/" in export_link and "/v1/" not in export_link
    page.goto(server.base + "/account/requests")
    assert row.locator(".status").inner_text() == "Completed"

    # The e-mailed link, signed in: straight to the download.
    answer = page.request.get(export_link)
    assert answer.status == 200 and answer.headers["content-disposition"].startswith("attachment")
    assert answer.json()["subject"]["email"] == "babbage@example.com"

    # Signed out (another browser): sign in first, then back to the download.
    other = context(locale="en-GB").new_page()
    other.goto(export_link)
    assert "/sign-in?next=" in other.url
    other.fill("#email", "babbage@example.com")
    other.fill("#password", PASSWORD)
    with other.expect_download() as download:
        other.click("form.link button[type=submit]")
    assert json.loads(open(download.value.path()).read())["subject"]["email"] == "babbage@example.com"

    # Change the password: the wrong current one is refused, the right one signs others out.
    other_session = [c for c in other.context.cookies() if c["name"] == "__Host-infentre_session"][0]["value"]
    page.goto(server.base + "/account/settings")
    axe("/account/settings")
    page.fill("#current-password", "not my password at all")
    page.fill("#new-password", NEW_PASSWORD)
    page.click("form[action='/account/password'] button")
    assert page.locator("#password-error").inner_text() == "The password is wrong."
    axe("/account/settings, refused")
    page.fill("#current-password", PASSWORD)
    page.fill("#new-password", NEW_PASSWORD)
    page.click("form[action='/account/password'] button")
    assert page.locator("#settings-notice").is_visible()
    assert api(server, "GET", "/v1/me", token=other_session)[0] == 401, "the other browser is signed out"

    # Complain: the DPO and the authority are shown.
    page.goto(server.base + "/account/complaint")
    assert page.locator("#authority-name").inner_text() == "Integritetsskyddsmyndigheten (IMY)"
    axe("/account/complaint")

    # Cancel: the wrong password is refused; the right one erases and lists what is kept.
    page.goto(server.base + "/account/cancel")
    axe("/account/cancel")
    page.fill("#password", PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.locator("#form-error").inner_text() == "The password is wrong."
    page.fill("#password", NEW_PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Your account is cancelled"
    assert page.locator("#retained-none").is_visible(), "nothing about a new person is under a legal duty"
    axe("cancelled")
    page.goto(server.base + "/account")
    assert page.url == server.base + "/sign-in"
    assert api(server, "POST", "/v1/sessions", {"email": "babbage@example.com", "password": NEW_PASSWORD})[0] == 401
    failures = [(path, found) for path, found in checked if found]
    assert failures == [], failures


@pytest.fixture(scope="module")
def member(server):
    """A verified account with a consent change and a request, for the pages' axe checks."""
    status, _ = api(server, "POST", "/v1/signup", {"email": "somerville@example.com", "password": PASSWORD, "organisation_name": "Mechanism"})
    assert status == 202
    [verify] = links(wait_for_mail(server, "somerville@example.com", "verify your"))
    assert api(server, "POST", "/v1/email-verifications", {"token": verify.split("token=")[1]})[0] == 200
    token = api(server, "POST", "/v1/sessions", {"email": "somerville@example.com", "password": PASSWORD})[1]["token"]
    assert api(server, "PUT", "/v1/me/consents/inactivity_reminders", {"granted": True}, token)[0] == 200
    assert api(server, "POST", "/v1/rights-requests", {"type": "portability"}, token)[0] == 201
    return "somerville@example.com"


CENTER_PAGES = ["/account", "/account/history", "/account/requests", "/account/settings", "/account/complaint", "/account/cancel"]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("locale", ["en-GB", "sv-SE"])
def test_every_page_of_the_center_passes_axe(context, server, member, locale, viewport):
    page = context(locale=locale, viewport=viewport).new_page()
    sign_in(page, server, member, PASSWORD)
    checked = []
    for path in CENTER_PAGES:
        assert page.goto(server.base + path).status == 200, path
        assert page.locator("html").get_attribute("lang") == locale[:2]
        checked.append((path, serious(page)))
    failures = [(path, found) for path, found in checked if found]
    assert failures == [], failures


def test_the_center_works_without_javascript(context, server, member):
    page = context(locale="en-GB", java_script_enabled=False).new_page()
    page.goto(server.base + "/account/requests")
    assert "/sign-in?next=" in page.url, "signed out: sign in first"
    page.fill("#email", member)
    page.fill("#password", PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.url == server.base + "/account/requests", "then back where they were going"
    page.check("#type-correction")
    page.click("form.link button[type=submit]")
    assert page.locator("#form-error").is_visible(), "a correction needs the corrected address"
    page.check("#type-correction")
    page.fill("#new_email", "mary@example.com")
    page.click("form.link button[type=submit]")
    assert page.locator("#form-error").is_visible(), "a new address needs the current password"
    page.check("#type-correction")
    page.fill("#new_email", "mary@example.com")
    page.fill("#request-password", PASSWORD)
    page.click("form.link button[type=submit]")
    assert "Correction" in [page.locator("#requests tbody tr th").nth(i).inner_text() for i in range(page.locator("#requests tbody tr").count())]


def test_the_language_chosen_while_signed_in_is_the_language_of_the_emails(context, server, member):
    page = context(locale="en-GB", java_script_enabled=False).new_page()
    sign_in(page, server, member, PASSWORD)
    page.click("form.language button[value='sv']")
    assert page.locator("html").get_attribute("lang") == "sv"
    assert api(server, "POST", "/v1/password-reset-requests", {"email": member})[0] == 202
    reset = wait_for_mail(server, member, "återställ ditt lösenord")
    assert "Öppna den här länken inom 1 timme" in reset.get_body(("plain",)).get_content()


def file_complaint(page, message):
    page.fill("#complaint-message", message)
    page.click("form[action='/account/complaint'] button")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("locale", ["en-GB", "sv-SE"])
def test_a_complaint_is_filed_from_the_page_and_every_step_passes_axe(context, server, member, locale, viewport):
    page = context(locale=locale, viewport=viewport).new_page()
    sign_in(page, server, member, PASSWORD)
    page.goto(server.base + "/account/complaint")
    assert page.locator("#complaint-message").get_attribute("maxlength") == "10000"
    checked = [("form", serious(page))]
    # Only spaces pass the browser's `required` but not the server: refused, the text kept.
    file_complaint(page, "   ")
    assert page.locator("#form-error").is_visible()
    assert page.locator("#complaint-message").input_value() == "   "
    checked.append(("refused", serious(page)))
    file_complaint(page, "You kept e-mailing me after I withdrew.")
    assert page.locator("#complaint-received").is_visible()
    assert page.locator("#dpo-email").is_visible() and page.locator("#authority-name").is_visible()
    checked.append(("received", serious(page)))
    failures = [(step, found) for step, found in checked if found]
    assert failures == [], failures


def test_a_complaint_is_filed_without_javascript(context, server, member):
    page = context(locale="en-GB", java_script_enabled=False).new_page()
    sign_in(page, server, member, PASSWORD)
    page.goto(server.base + "/account/complaint")
    file_complaint(page, "x" * 20)
    received = page.locator("#complaint-received").inner_text()
    assert received.startswith("We received your complaint (reference "), received
