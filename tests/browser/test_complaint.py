"""The complaint page for anyone (/complaint) in Chromium: reached from the privacy notice,
axe-clean (checked where scripts run), and a complaint filed without an account, in English and
Swedish, with and without JavaScript. The DPO is e-mailed the complaint under the reference the page shows."""

import re

import pytest
from test_links import mails, wait_for_mail
from test_pages import serious

TEXTS = {
    "en-GB": {"link": "Make a complaint", "title": "Make a complaint", "bad_email": "Enter a valid e-mail address."},
    "sv-SE": {"link": "Lämna ett klagomål", "title": "Lämna ett klagomål", "bad_email": "Ange en giltig e-postadress."},
}


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("locale", ["en-GB", "sv-SE"])
def test_anyone_files_a_complaint_from_the_privacy_notice(context, server, locale, javascript):
    texts = TEXTS[locale]
    page = context(locale=locale, java_script_enabled=javascript).new_page()
    checked = []

    def axe(name):
        # axe runs as a script in the page: only where the page may run scripts.
        if javascript:
            checked.append((name, serious(page)))

    contact = f"visitor-{locale[:2]}-{'js' if javascript else 'nojs'}@example.net"

    # The notice links to the page where it speaks of complaints.
    page.goto(server.base + "/privacy")
    link = page.locator("#complain-link")
    assert link.inner_text() == texts["link"]
    link.click()
    assert page.url == server.base + "/complaint"
    assert page.locator("h1").inner_text() == texts["title"]
    assert page.locator("html").get_attribute("lang") == locale[:2]
    axe("/complaint")

    # An address the browser lets through but we cannot answer is refused, keeping what was typed.
    page.fill("#complaint-name", "Charles")
    page.fill("#email", "visitor@localhost")
    page.fill("#complaint-message", "You kept my data after I asked you to erase it.")
    page.click("form.link button[type=submit]")
    assert page.locator("#form-error").inner_text() == texts["bad_email"]
    assert page.locator("#complaint-message").input_value() == "You kept my data after I asked you to erase it."
    assert page.locator("#complaint-name").input_value() == "Charles"
    axe("/complaint, refused")

    page.fill("#email", contact)
    page.click("form.link button[type=submit]")
    received = page.locator("#complaint-received")
    assert received.is_visible()
    [reference] = re.findall(r"[0-9A-HJKMNP-TV-Z]{26}", received.inner_text())
    axe("/complaint, received")

    # The DPO is told, with the address to answer and the reference shown.
    told = wait_for_mail(server, "hello@infentre.com", f"New complaint {reference}")
    body = told.get_body(("plain",)).get_content()
    assert contact in body and "You kept my data" in body and "Charles" in body, body
    failures = [(path, found) for path, found in checked if found]
    assert failures == [], failures


def test_a_complaint_without_the_form_token_is_refused_and_not_filed(context, server):
    page = context(locale="en-GB").new_page()
    page.goto(server.base + "/complaint")
    before = len(mails(server))
    answer = page.request.post(
        server.base + "/complaint",
        form={"name": "", "email": "forger@example.net", "message": "Posted from another site."},
    )
    assert answer.status == 403
    assert "forger@example.net" not in answer.text()
    page.wait_for_timeout(1000)
    assert [m for m in mails(server)[before:] if "forger@example.net" in m.get_body(("plain",)).get_content()] == []
