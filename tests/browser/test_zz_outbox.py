"""Last of the browser tests (pytest runs files in name order, and the server is shared by
the session): every link of every e-mail the journeys made the system send opens a page
that works, in a browser that is not signed in."""

from urllib.parse import urlparse

from test_links import links, mails


def test_every_link_in_every_email_sent_opens_a_working_page(context, server):
    sent = mails(server)
    every = [(str(message["Subject"]), url) for message in sent for url in links(message)]
    assert len(sent) >= 15 and len(every) >= 10, "the journeys before this one sent mail with links"
    paths = {urlparse(url).path for _, url in every}
    for expected in ["/verify-email", "/accept-invitation", "/unsubscribe", "/reset-password/new", "/account/requests"]:
        assert expected in paths, f"no {expected} link among {sorted(paths)}"
    assert any(path.endswith("/export") for path in paths), sorted(paths)

    page = context(locale="en-GB").new_page()
    broken = []
    for subject, url in every:
        assert urlparse(url).netloc == server.host, (subject, url)
        answer = page.goto(url)
        # A used or expired link answers 410 with a page that says so; anything else is a page.
        if answer.status not in (200, 410) or not answer.headers["content-type"].startswith("text/html"):
            broken.append((subject, url, answer.status))
        elif page.locator("main h1").count() != 1:
            broken.append((subject, url, "no page"))
    assert broken == [], broken
