"""The admin and operator desks in Chromium, without JavaScript (forms post and redirect; axe,
which needs it, runs on the same pages with it): an
admin approves a member's access request and it is carried out; an admin changes a role,
removes a member, revokes an invitation and cancels the organisation; an operator sees an
overdue request marked in words and by its border (too late to extend, as the desk says),
and extends another with a reason. Every desk
page passes axe in both languages at desktop and phone widths."""

import time

import pytest
from conftest import DESKTOP, PHONE, Server
from desk_setup import admin, file_request, login, make_overdue, member, sign_in, token_of, wait_for_status
from test_links import PASSWORD, api, mails, wait_for_mail
from test_pages import serious

# INFENTRE_OPERATORS names ada@example.com on every test server: Ada is admin and operator.
ADA = "ada@example.com"


@pytest.fixture(scope="module")
def desks():
    """A server of its own (the other tests' server has its own Ada), with an organisation."""
    server = Server()
    people = {"ada": admin(server, ADA, "Analytical Engines")}
    for name in ["grace", "charles", "erin"]:
        people[name] = member(server, people["ada"], f"{name}@example.com")
    yield server, people
    server.close()


def no_js(context, locale="en-GB", viewport=DESKTOP):
    return context(java_script_enabled=False, locale=locale, viewport=viewport).new_page()


def test_an_admin_approves_a_members_access_request_and_it_is_carried_out(context, desks):
    server, people = desks
    request = file_request(server, people["grace"], "access")
    assert request["status"] == "awaiting_organisation_approval"
    page = no_js(context)
    sign_in(page, server, ADA)
    page.goto(server.base + "/admin")
    card = page.locator(f"#request-{request['id']}")
    assert card.locator(".request-status").inner_text() == "Awaiting an admin's approval"
    card.locator("form[action='/admin/rights-requests/approve'] button").click()
    assert page.url == server.base + "/admin?done=approved"
    assert page.locator("#desk-done").inner_text() == "The request was approved and is being carried out."
    done = wait_for_status(server, people["grace"], request["id"], "completed")
    assert [entry["to"] for entry in done["history"]] == ["awaiting_organisation_approval", "queued", "processing", "completed"]
    assert done["history"][1]["by"] == f"admin:{people['ada']['user_id']}"
    page.reload()
    assert page.locator(f"#request-{request['id']} .request-status").inner_text() == "Completed"
    # Decided once: no button is left on it, and a replayed form changes nothing.
    assert page.locator(f"#request-{request['id']} form").count() == 0
    status, export = api(server, "GET", f"/v1/rights-requests/{request['id']}/export", token=people["grace"]["token"])
    assert status == 200 and export["url"], export


def test_an_admin_denies_a_request_with_a_reason_the_member_is_told(context, desks):
    server, people = desks
    request = file_request(server, people["erin"], "portability")
    page = no_js(context)
    sign_in(page, server, ADA)
    page.goto(server.base + "/admin")
    card = page.locator(f"#request-{request['id']}")
    card.locator("input[name='reason']").fill("We hold no data you provided yourself.")
    card.locator("form[action='/admin/rights-requests/deny'] button").click()
    assert page.url == server.base + "/admin?done=denied"
    assert page.locator(f"#request-{request['id']} .request-status").inner_text() == "Denied"
    told = wait_for_mail(server, "erin@example.com", "denied")
    assert "We hold no data you provided yourself." in told.get_body(("plain",)).get_content()


def test_an_admin_changes_a_role_removes_a_member_and_revokes_an_invitation(context, desks):
    server, people = desks
    page = no_js(context)
    sign_in(page, server, ADA)
    page.goto(server.base + "/admin")
    grace = page.locator(f"#member-{people['grace']['user_id']}")
    assert grace.locator(".member-role").inner_text() == "Member"

    # A wrong password changes nothing and says so.
    grace.locator("select[name='role']").select_option("admin")
    grace.locator("form[action='/admin/members/role'] input[name='password']").fill("not my password at all")
    grace.locator("form[action='/admin/members/role'] button").click()
    assert page.url == server.base + "/admin?error=wrong-password"
    assert page.locator("#desk-error").inner_text() == "That is not your password. Nothing was changed."
    assert grace.locator(".member-role").inner_text() == "Member"

    grace.locator("select[name='role']").select_option("admin")
    grace.locator("form[action='/admin/members/role'] input[name='password']").fill(PASSWORD)
    grace.locator("form[action='/admin/members/role'] button").click()
    assert page.url == server.base + "/admin?done=role-changed"
    assert grace.locator(".member-role").inner_text() == "Admin"
    assert api(server, "GET", "/v1/me", token=people["grace"]["token"])[0] == 401, "her session ended"
    people["grace"] = login(server, "grace@example.com")
    assert api(server, "GET", "/v1/me", token=people["grace"]["token"])[1]["role"] == "admin"
    assert "changed the role of grace@example.com → Admin" in page.locator("#history").inner_text()

    # Removing a member erases them; they are told.
    charles = page.locator(f"#member-{people['charles']['user_id']}")
    charles.locator("form[action='/admin/members/remove'] input[name='password']").fill(PASSWORD)
    charles.locator("form[action='/admin/members/remove'] button").click()
    assert page.url == server.base + "/admin?done=member-removed"
    # Fenced at once; the erasure job (the local rights worker) then deletes the account.
    for _ in range(40):
        if charles.count() == 0:
            break
        time.sleep(0.25)
        page.reload()
    assert charles.count() == 0
    assert api(server, "POST", "/v1/sessions", {"email": "charles@example.com", "password": PASSWORD})[0] == 401
    wait_for_mail(server, "charles@example.com", "removed")
    assert "removed a member" in page.locator("#history").inner_text()

    # Invite from the desk, then revoke: the link stops working.
    page.fill("#invite-email", "dora@example.com")
    page.click("form[action='/admin/invitations'] button")
    assert page.url == server.base + "/admin?done=invited"
    invitations = page.locator("#invitations")
    assert "dora@example.com" in invitations.inner_text()
    invitations.locator("tr:has-text('dora@example.com') button").click()
    assert page.url == server.base + "/admin?done=invitation-revoked"
    assert "dora@example.com" not in page.locator("#invitations").inner_text()
    # The invitation was queued when made; the local mail worker delivers it on its next poll.
    invitation = wait_for_mail(server, "dora@example.com", "invited")
    assert len([m for m in mails(server) if "dora@example.com" in str(m["To"])]) == 1
    status, problem = api(server, "POST", "/v1/invitations/accept", {"token": token_of(invitation), "password": PASSWORD})
    assert (status, problem["code"]) == (400, "invalid_token")


def test_the_desks_admit_only_their_people(context, desks):
    server, people = desks
    page = no_js(context)
    for path in ["/admin", "/operator"]:
        page.goto(server.base + path)
        assert page.url == server.base + "/sign-in", "signed out: the sign-in page"
    sign_in(page, server, "erin@example.com")
    for path, text in [("/admin", "Only an admin of the organisation"), ("/operator", "Only Infentre's operators")]:
        answer = page.goto(server.base + path)
        assert answer.status == 403
        assert text in page.locator("main").inner_text()
    # A form posted from another site (no token of ours) is refused, whoever is signed in.
    sign_in(page, server, ADA)
    answer = page.request.post(server.base + "/admin/invitations", form={"csrf": "forged", "email": "x@example.com", "role": "admin"})
    assert answer.status == 403
    assert not [m for m in mails(server) if "x@example.com" in str(m["To"])]


def test_an_operator_sees_an_overdue_request_marked_and_extends_another_with_a_reason(context, desks):
    server, people = desks
    late = file_request(server, people["erin"], "erasure")
    on_time = file_request(server, people["erin"], "correction", changes={"email": "erin.new@example.com"})
    make_overdue(server, late["id"], days_late=3)
    page = no_js(context)
    sign_in(page, server, ADA)
    page.goto(server.base + "/operator")
    cards = page.locator("#open li.desk-card")
    ids = [card.get_attribute("id") for card in cards.all()]
    assert ids.index(f"open-{late['id']}") < ids.index(f"open-{on_time['id']}"), "earliest deadline first"
    overdue = page.locator(f"#open-{late['id']}")
    current = page.locator(f"#open-{on_time['id']}")
    # Said in words, not by colour alone...
    assert "Overdue" in overdue.locator("h3").inner_text()
    assert "overdue: the deadline has passed" in overdue.inner_text()
    assert "Overdue" not in current.inner_text()
    assert page.locator("#overdue-summary").inner_text() == "Overdue requests: 1"
    # ...and shown by a thicker border too.
    width = "el => getComputedStyle(el).borderTopWidth"
    assert (overdue.evaluate(width), current.evaluate(width)) == ("3px", "1px")

    # Past the deadline it is too late to extend (GDPR Art. 12(3)): the desk says so, and the
    # server refuses a posted extension anyway.
    assert overdue.locator("form").count() == 0
    assert "can no longer be extended" in overdue.inner_text()
    token = current.locator("input[name='csrf']").get_attribute("value")
    form = {"csrf": token, "id": late["id"], "reason": "Too late.", "days": "10"}
    answer = page.request.post(server.base + "/operator/rights-requests/extend", form=form, max_redirects=0)
    assert (answer.status, answer.headers["location"]) == (303, "/operator?error=deadline-passed")
    # The browser keeps the days within 1..61; the server holds the API's rule whatever is posted.
    assert current.locator("input[name='days']").get_attribute("max") == "62"
    form = {"csrf": token, "id": on_time["id"], "reason": "Complex.", "days": "400"}
    answer = page.request.post(server.base + "/operator/rights-requests/extend", form=form, max_redirects=0)
    assert (answer.status, answer.headers["location"]) == (303, "/operator?error=invalid-days")

    reason = "The correction touches several systems; we need more time."
    current.locator("input[name='reason']").fill(reason)
    current.locator("input[name='days']").fill("30")
    current.locator("button").click()
    assert page.url == server.base + "/operator?done=extended"
    current = page.locator(f"#open-{on_time['id']}")
    assert "extended by 30 days" in current.inner_text()
    assert current.locator("form").count() == 0, "once only"
    found = api(server, "GET", f"/v1/rights-requests/{on_time['id']}", token=people["erin"]["token"])[1]
    assert found["extension"] == {"days": 30, "reason": reason, "at": found["extension"]["at"]}
    assert found["due_at"] > on_time["due_at"]
    assert reason in wait_for_mail(server, "erin@example.com", "more time").get_body(("plain",)).get_content()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("locale", ["en-GB", "sv-SE"])
def test_every_desk_page_passes_axe(context, desks, locale, viewport):
    server, people = desks
    if not api(server, "GET", "/v1/rights-requests", token=people["erin"]["token"])[1]["items"][0]["type"] == "access":
        file_request(server, people["erin"], "access")  # a request awaiting approval: its forms are checked too
    page = context(locale=locale, viewport=viewport).new_page()
    sign_in(page, server, ADA)
    checked = []
    for path in ["/admin", "/admin?done=approved", "/admin?error=last-admin", "/operator", "/operator?done=extended"]:
        page.goto(server.base + path)
        assert page.locator("html").get_attribute("lang") == locale[:2]
        checked.append((path, serious(page)))
    # The refusal page, as a member sees it.
    sign_in(page, server, "erin@example.com")
    assert page.goto(server.base + "/admin").status == 403
    checked.append(("/admin as a member", serious(page)))
    failures = [(path, found) for path, found in checked if found]
    assert failures == [], failures


def test_an_admin_cancels_the_organisation_and_sees_what_is_kept(context, desks):
    server, _ = desks
    frank = admin(server, "frank@example.org", "Frank's Fireworks")
    page = context(locale="sv-SE", viewport=PHONE).new_page()
    sign_in(page, server, "frank@example.org")
    page.goto(server.base + "/admin")
    assert "Inget: inga uppgifter" in page.locator("#cancel").inner_text(), "what the law keeps is shown first"
    page.fill("#cancel-password", "not my password at all")
    page.click("form[action='/admin/cancel'] button")
    assert page.url == server.base + "/admin?error=wrong-password"
    page.fill("#cancel-password", PASSWORD)
    page.click("form[action='/admin/cancel'] button")
    assert page.locator("h1").inner_text() == "Organisationen är avslutad"
    assert serious(page) == []
    assert api(server, "GET", "/v1/me", token=frank["token"])[0] == 401
    assert api(server, "POST", "/v1/sessions", {"email": "frank@example.org", "password": PASSWORD})[0] == 401
    page.goto(server.base + "/admin")
    assert page.url == server.base + "/sign-in"
