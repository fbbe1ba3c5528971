"""Getting back in, in Chromium: a password reset by the e-mailed link (GET shows a form, the
POST sets the password, a used link says so and offers a new one), and a new verification link
asked for from the sign-in page."""

import time

from test_links import PASSWORD, api, links, mails, wait_for_mail
from test_pages import serious

NEW_PASSWORD = "a difference engine too"


def test_password_reset_by_the_emailed_link(context, server):
    status, _ = api(server, "POST", "/v1/signup", {"email": "hopper@example.com", "password": PASSWORD, "organisation_name": "Cobol"})
    assert status == 202
    [verify] = links(wait_for_mail(server, "hopper@example.com", "verify your"))
    assert api(server, "POST", "/v1/email-verifications", {"token": verify.split("token=")[1]})[0] == 200
    old_session = api(server, "POST", "/v1/sessions", {"email": "hopper@example.com", "password": PASSWORD})[1]["token"]

    page = context(locale="en-GB").new_page()
    checked = []
    page.goto(server.base + "/sign-in")
    page.click("a[href='/reset-password']")
    checked.append(("/reset-password", serious(page)))
    page.fill("#email", "hopper@example.com")
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Check your e-mail"
    checked.append(("/reset-password sent", serious(page)))

    [reset] = links(wait_for_mail(server, "hopper@example.com", "reset your password"))
    assert "/reset-password/new?token=" in reset
    for _ in range(2):  # a mail scanner's prefetch, then the person: neither uses the link
        assert page.goto(reset).status == 200
        assert page.locator("h1").inner_text() == "Choose a new password"
    checked.append(("/reset-password/new", serious(page)))
    page.fill("#password", "short")
    page.evaluate("document.querySelector('#password').removeAttribute('minlength')")
    page.click("form.link button[type=submit]")
    assert page.locator("#password-error").is_visible(), "the server's rule, and the link still works"
    checked.append(("/reset-password/new, refused password", serious(page)))
    page.fill("#password", NEW_PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Your password is changed"
    assert api(server, "GET", "/v1/me", token=old_session)[0] == 401, "every session ended"
    assert api(server, "POST", "/v1/sessions", {"email": "hopper@example.com", "password": PASSWORD})[0] == 401

    used = page.goto(reset)
    assert used.status == 410 and page.locator("h1").inner_text() == "This link no longer works"
    checked.append(("/reset-password/new, used", serious(page)))
    page.click("main a[href='/reset-password']")
    assert page.locator("h1").inner_text() == "Reset your password", "a new link is one click away"

    page.goto(server.base + "/sign-in")
    page.fill("#email", "hopper@example.com")
    page.fill("#password", NEW_PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.url == server.base + "/account"
    assert [str(m["Subject"]) for m in mails(server) if "hopper@" in str(m["To"])][-1] == "Your password was changed"
    failures = [(path, found) for path, found in checked if found]
    assert failures == [], failures


def test_a_new_verification_link_from_the_sign_in_page(context, server):
    status, _ = api(server, "POST", "/v1/signup", {"email": "lovelace@example.com", "password": PASSWORD, "organisation_name": "Notes"})
    assert status == 202
    wait_for_mail(server, "lovelace@example.com", "verify your")
    page = context(locale="sv-SE", java_script_enabled=False).new_page()
    page.goto(server.base + "/sign-in")
    page.click("a[href='/resend-verification']")
    assert page.locator("h1").inner_text() == "Få en ny verifieringslänk"
    page.fill("#email", "lovelace@example.com")
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Kolla din e-post"

    def verify_mails():
        return [m for m in mails(server) if "lovelace@" in str(m["To"]) and "verify" in str(m["Subject"]).lower()]

    deadline = time.monotonic() + 15
    while len(verify_mails()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(verify_mails()) == 2, "a second verification e-mail"
    [fresh] = links(verify_mails()[-1])
    page.goto(fresh)
    page.click("form.link button[type=submit]")
    assert page.locator("h1").inner_text() == "Adressen är bekräftad"
