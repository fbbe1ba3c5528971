"""People and requests for the desks' browser tests and screenshots, made through the API and
the mailed links, as a user would."""

import json
import sqlite3
import os
import time
from urllib.parse import parse_qs, urlparse

from test_links import PASSWORD, api, links, wait_for_mail

DAY = 24 * 3600


def token_of(message):
    [link] = [link for link in links(message) if "token=" in link]
    return parse_qs(urlparse(link).query)["token"][0]


def login(server, email):
    status, session = api(server, "POST", "/v1/sessions", {"email": email, "password": PASSWORD})
    assert status == 201, session
    return session


def admin(server, email, organisation):
    """Signs up, verifies by the mailed link, signs in: the admin's API session."""
    status, _ = api(server, "POST", "/v1/signup", {"email": email, "password": PASSWORD, "organisation_name": organisation})
    assert status == 202
    token = token_of(wait_for_mail(server, email, "verify your"))
    assert api(server, "POST", "/v1/email-verifications", {"token": token})[0] == 200
    return login(server, email)


def member(server, admin_session, email, role="member"):
    """Invited by the admin, joins by the mailed link: the member's API session."""
    invitation = {"email": email, "role": role}
    assert api(server, "POST", "/v1/organisations/current/invitations", invitation, admin_session["token"])[0] == 201
    token = token_of(wait_for_mail(server, email, "invited"))
    assert api(server, "POST", "/v1/invitations/accept", {"token": token, "password": PASSWORD})[0] == 201
    return login(server, email)


def file_request(server, session, kind, **fields):
    body = {"type": kind, **fields}
    if kind == "erasure" or "email" in fields.get("changes", {}):
        body.setdefault("password", PASSWORD)  # erasure and a new address need the password (M5)
    status, request = api(server, "POST", "/v1/rights-requests", body, session["token"])
    assert status == 201, request
    return request


def make_overdue(server, request_id, days_late):
    """Moves a request's deadline into the past, as if it had been received long ago: the local
    server's clock cannot be turned, so the test edits its SQLite file (the request and its
    entry in the deadline-ordered list of open requests)."""
    due_at = int(time.time()) - days_late * DAY
    db = sqlite3.connect(os.path.join(server.data_dir, "infentre.sqlite3"), timeout=30)
    with db:
        db.execute(
            "UPDATE items SET attrs = json_set(attrs, '$.due_at', ?, '$.created_at', ?) WHERE pk = ? AND sk = 'REQUEST'",
            (due_at, due_at - 30 * DAY, f"RIGHTS#{request_id}"),
        )
        moved = db.execute(
            "UPDATE items SET sk = ? WHERE pk = 'RIGHTS_OPEN' AND json_extract(attrs, '$.request_id') = ?",
            (f"{due_at:012d}#{request_id}", request_id),
        ).rowcount
    db.close()
    assert moved == 1, "the request is in the open list"
    return due_at


def sign_in(page, server, email):
    page.goto(server.base + "/sign-in")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form.link button[type=submit]")
    assert page.url == server.base + "/account", page.url


def wait_for_status(server, session, request_id, status, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = api(server, "GET", f"/v1/rights-requests/{request_id}", token=session["token"])[1]
        if found.get("status") == status:
            return found
        time.sleep(0.2)
    raise AssertionError(f"request {request_id} is {found.get('status')}, not {status}: {json.dumps(found)}")
