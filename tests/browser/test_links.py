"""Every link we e-mail opens a page that works: sign up, invite, send a product update, then
walk the outbox and follow each link in Chromium. A GET never uses a link up (mail scanners
prefetch them); the page's one button does."""

import email
import email.policy
import glob
import json
import os
import re
import time
import urllib.error
import urllib.request

from test_pages import serious

PASSWORD = "correct horse battery staple"


def api(server, method, path, body=None, token=None):
    request = urllib.request.Request(server.base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def mails(server):
    found = []
    for path in sorted(glob.glob(os.path.join(server.data_dir, "outbox", "*.eml"))):
        with open(path, "rb") as f:
            message = email.message_from_binary_file(f, policy=email.policy.default)
        found.append(message)
    return found


def wait_for_mail(server, to, subject_part):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for message in mails(server):
            if to in str(message["To"]) and subject_part.lower() in str(message["Subject"]).lower():
                return message
        time.sleep(0.2)
    raise AssertionError(f"no mail to {to} about {subject_part!r}: {[str(m['Subject']) for m in mails(server)]}")


def links(message):
    return re.findall(r"https?://[^\s<>\"]+", message.get_body(("plain",)).get_content())


def test_every_emailed_link_opens_a_page_that_works(context, server):
    page = context(locale="en-GB").new_page()
    checked = []

    def open_link(url):
        answer = page.goto(url)
        assert answer.headers["content-type"].startswith("text/html"), url
        checked.append((url.split("?")[0], serious(page)))
        return answer

    # Sign up: the verification link.
    status, _ = api(server, "POST", "/v1/signup", {"email": "ada@example.com", "password": PASSWORD, "organisation_name": "Analytical Engines"})
    assert status == 202
    [verify] = links(wait_for_mail(server, "ada@example.com", "verify your"))
    assert "/verify-email?token=" in verify
    for _ in range(2):  # a mail scanner's prefetch, then the person
        assert open_link(verify).status == 200
        assert page.locator("h1").inner_text() == "Confirm your e-mail address"
    assert api(server, "POST", "/v1/sessions", {"email": "ada@example.com", "password": PASSWORD})[0] == 401, "opening the link did not verify"
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Address confirmed"
    status, session = api(server, "POST", "/v1/sessions", {"email": "ada@example.com", "password": PASSWORD})
    assert status == 201
    ada = session["token"]
    used = open_link(verify)
    assert used.status == 410 and page.locator("h1").inner_text() == "This link no longer works"
    assert "Ask for a new link" in page.locator("main").inner_text(), "the next step is offered"

    # An invitation: set a password, join.
    status, _ = api(server, "POST", "/v1/organisations/current/invitations", {"email": "bob@example.com", "role": "member"}, ada)
    assert status == 201
    [invitation] = links(wait_for_mail(server, "bob@example.com", "invit"))
    assert open_link(invitation).status == 200
    assert "Analytical Engines" in page.locator("main").inner_text()
    page.fill("#password", "short")
    page.evaluate("document.querySelector('#password').removeAttribute('minlength')")  # the server's rule, not the browser's
    page.click("form.link button[type=submit]")
    assert page.locator("#password-error").is_visible()
    assert page.locator("#password").get_attribute("aria-invalid") == "true"
    checked.append(("invitation, refused password", serious(page)))
    page.fill("#password", PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Welcome to Infentre"
    assert api(server, "POST", "/v1/sessions", {"email": "bob@example.com", "password": PASSWORD})[0] == 201
    assert open_link(invitation).status == 410

    # A product update: the body's unsubscribe link opens the page; the header stays one-click.
    assert api(server, "PUT", "/v1/me/consents/product_updates", {"granted": True}, ada)[0] == 200
    status, _ = api(server, "POST", "/v1/operator/product-updates", {"subject": "New: reports", "text": "Reports are here."}, ada)
    assert status == 202
    update = wait_for_mail(server, "ada@example.com", "New: reports")
    assert "/v1/unsubscribe?token=" in str(update["List-Unsubscribe"])
    [unsubscribe] = [link for link in links(update) if "unsubscribe" in link]
    assert "/unsubscribe?token=" in unsubscribe and "/v1/" not in unsubscribe
    assert open_link(unsubscribe).status == 200
    assert api(server, "GET", "/v1/me/consents", token=ada)[1]["purposes"]["product_updates"]["granted"] is True
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    assert api(server, "GET", "/v1/me/consents", token=ada)[1]["purposes"]["product_updates"]["granted"] is False

    # An e-mail to hello@ dropped into the local inbox: answered with a confirmation link to
    # the account's address, which does nothing until its button is pressed.
    assert api(server, "PUT", "/v1/me/consents/marketing_sharing", {"granted": True}, ada)[0] == 200
    with open(os.path.join(server.data_dir, "inbox", "hello.eml"), "w") as f:
        f.write("From: Ada <ada@example.com>\r\nTo: hello@infentre.com\r\nSubject: Please unsubscribe me\r\n"
                "Message-ID: <hello-1@example.com>\r\n\r\nNo more marketing, thank you.\r\n")
    [confirm] = [link for link in links(wait_for_mail(server, "ada@example.com", "confirm your request")) if "token=" in link]
    assert "/confirm-request?token=" in confirm
    for _ in range(2):  # a mail scanner's prefetch, then the person
        assert open_link(confirm).status == 200
        assert page.locator("h1").inner_text() == "Confirm your e-mailed request"
    assert api(server, "GET", "/v1/me/consents", token=ada)[1]["purposes"]["marketing_sharing"]["granted"] is True
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Confirmed"
    checked.append(("confirmed", serious(page)))
    assert api(server, "GET", "/v1/me/consents", token=ada)[1]["purposes"]["marketing_sharing"]["granted"] is False
    assert open_link(confirm).status == 410

    # Every link in every mail sent opens one of our pages (no 404, no error).
    for message in mails(server):
        for url in links(message):
            answer = page.goto(url)
            assert answer.status in (200, 410), (str(message["Subject"]), url, answer.status)
    failures = [(path, found) for path, found in checked if found]
    assert failures == [], failures


def test_sign_up_verify_sign_in_and_out_in_the_browser(context, server):
    page = context(locale="sv-SE").new_page()
    page.goto(server.base + "/sign-up")
    page.fill("#organisation_name", "Grace's Compilers")
    page.fill("#email", "grace@example.com")
    page.fill("#password", "short")
    page.evaluate("document.querySelector('#password').removeAttribute('minlength')")
    page.click("form.link button[type=submit]")
    assert page.locator("#form-error").inner_text() == "Minst 12 och högst 128 tecken, och inte din e-postadress."
    assert page.locator("#email").input_value() == "grace@example.com", "what was typed is kept, but the password"
    assert page.locator("#password").input_value() == ""
    page.fill("#password", PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Kolla din e-post"

    # Signed up on a Swedish page: the e-mail is in Swedish too.
    [verify] = links(wait_for_mail(server, "grace@example.com", "bekräfta din e-postadress"))
    page.goto(verify)
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Adressen är bekräftad"
    page.click("main a[href='/sign-in']")

    page.fill("#email", "grace@example.com")
    page.fill("#password", "wrong password, twelve")
    page.click("form.link button[type=submit]")
    assert page.locator("#form-error").is_visible()
    page.fill("#password", PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.url == server.base + "/account"
    assert page.locator("#account-email").inner_text() == "grace@example.com"
    assert serious(page) == []
    session = [c for c in page.context.cookies() if c["name"] == "__Host-infentre_session"]
    assert session and session[0]["httpOnly"], "the API's session cookie"
    # The same session works for the API.
    assert page.request.get(server.base + "/v1/me").status == 200

    # Give and withdraw a purpose: one click each, the API sees each change.
    def product_updates():
        return api(server, "GET", "/v1/me/consents", token=session[0]["value"])[1]["purposes"]["product_updates"]

    updates = page.locator("#consent-product_updates")
    assert updates.locator(".state").inner_text() == "Inte givet" and product_updates()["granted"] is False
    updates.locator("button").click()
    assert page.url == server.base + "/account"
    assert updates.locator(".state").inner_text() == "Givet" and product_updates()["granted"] is True
    updates.locator("button").click()
    assert updates.locator(".state").inner_text() == "Inte givet" and product_updates()["granted"] is False
    history = api(server, "GET", "/v1/me/consents/history", token=session[0]["value"])[1]["items"]
    assert [(e["purpose"], e["granted"]) for e in history[:2]] == [("product_updates", False), ("product_updates", True)]
    assert serious(page) == []

    page.click("button:has-text('Logga ut')")
    assert page.url == server.base + "/sign-in"
    assert page.request.get(server.base + "/v1/me").status == 401
    assert api(server, "GET", "/v1/me", token=session[0]["value"])[0] == 401, "the session ended on the server"
    page.goto(server.base + "/account")
    assert page.url == server.base + "/sign-in"
