"""Screenshots of the main pages, as the README shows them: home, the notice, the cookie
banner's demo, sign-in, the account, the admin desk and the operator desk, with people and
requests made through the API first.

scripts/test runs this into a temporary folder (each page must render and be captured);
`scripts/screenshots` runs it with INFENTRE_SCREENSHOTS=docs/screenshots to refresh the
committed pictures."""

import os
import struct
import tempfile

from conftest import Server
from desk_setup import admin, file_request, make_overdue, member, sign_in

PAGES = [
    ("home", "/"),
    ("notice", "/privacy"),
    ("cookie-banner", "/demo/consent-banner"),
    ("sign-in", "/sign-in"),
    ("account", "/account"),
    ("admin-desk", "/admin"),
    ("operator-desk", "/operator"),
]


def png_size(path):
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_screenshots_of_the_main_pages(context):
    folder = os.environ.get("INFENTRE_SCREENSHOTS") or tempfile.mkdtemp(prefix="infentre-screenshots-")
    os.makedirs(folder, exist_ok=True)
    server = Server()
    try:
        ada = admin(server, "ada@example.com", "Analytical Engines")
        grace = member(server, ada, "grace@example.com")
        erin = member(server, ada, "erin@example.com")
        file_request(server, grace, "access")
        late = file_request(server, erin, "erasure")
        make_overdue(server, late["id"], days_late=2)
        page = context(locale="en-GB").new_page()
        taken = []
        for name, path in PAGES:
            if path == "/account":
                sign_in(page, server, "ada@example.com")
            answer = page.goto(server.base + path)
            assert answer.status == 200, path
            if name == "cookie-banner":
                page.wait_for_selector("#infentre-consent button[data-action='accept']")
            target = os.path.join(folder, f"{name}.png")
            page.screenshot(path=target, full_page=name in ("account", "admin-desk", "operator-desk"))
            width, height = png_size(target)
            assert width == 1280 and height >= 600, (name, width, height)
            taken.append(name)
        assert taken == [name for name, _ in PAGES]
    finally:
        server.close()
