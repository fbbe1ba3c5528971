"""Schemathesis against the local binary, started as the README starts it (`infentre serve`,
here on a free port with a fresh data directory), with the committed /openapi.json.

Every operation is fuzzed with positive and negative data four times: unauthenticated, as a
member, as an admin and as an operator. The principals are made through the API itself
(sign up, the verification link from the outbox, an invitation, login). The checks that must
pass with zero failures: not_a_server_error, status_code_conformance,
content_type_conformance, response_schema_conformance.

Run by scripts/test with INFENTRE_BIN (the built binary) and SCHEMATHESIS (the pinned `st`);
INFENTRE_FUZZ_MAX_EXAMPLES bounds the cases per operation and run (CI time)."""

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BINARY = os.environ.get("INFENTRE_BIN", "target/debug/infentre")
ST = os.environ.get("SCHEMATHESIS", ".venv/bin/st")
MAX_EXAMPLES = os.environ.get("INFENTRE_FUZZ_MAX_EXAMPLES", "20")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
OPERATOR = "dpo@infentre.example"
PASSWORD = "correct horse battery staple"
# The webhooks are configured, as in production: unsigned fuzz gets 400/401, not 503.
# A P-256 public key whose private half nobody here holds (SendGrid's documentation key).
SENDGRID_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="infentre-fuzz-")
        env = dict(
            os.environ,
            INFENTRE_ADDR=f"127.0.0.1:{self.port}",
            INFENTRE_DATA_DIR=self.data_dir,
            INFENTRE_OPERATORS=OPERATOR,
            INFENTRE_SWEEP_INTERVAL_SECS="86400",
            INFENTRE_SENDGRID_WEBHOOK_PUBLIC_KEY=SENDGRID_KEY,
            INFENTRE_STRIPE_WEBHOOK_SECRET="whsec_fuzzing_only",
            RUST_LOG="warn",
        )
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([BINARY, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"infentre exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("infentre did not answer /healthz within 30 s")

    def alive(self):
        return self.process.poll() is None

    def close(self):
        if self.alive():
            self.process.terminate()
            self.process.wait(timeout=15)
        self.log.close()

    def call(self, method, path, body=None, token=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def mailed_token(self, to):
        """The token of the newest mail to `to` (the mail worker delivers within a second)."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for path in sorted(glob.glob(os.path.join(self.data_dir, "outbox", "*.eml")), reverse=True):
                with open(path, encoding="utf-8", errors="replace") as f:
                    mail = f.read()
                found = re.search(r"token=([A-Za-z0-9_-]+)", mail)
                if f"To: {to}" in mail and found:
                    return found.group(1)
            time.sleep(0.2)
        raise RuntimeError(f"no mail with a token reached {to}")

    def login(self, email):
        status, body = self.call("POST", "/v1/sessions", {"email": email, "password": PASSWORD})
        assert status == 201, (status, body)
        return body["token"]

    def admin(self, email, organisation):
        status, body = self.call(
            "POST", "/v1/signup", {"email": email, "password": PASSWORD, "organisation_name": organisation}
        )
        assert status == 202, (status, body)
        status, body = self.call("POST", "/v1/email-verifications", {"token": self.mailed_token(email)})
        assert status == 200, (status, body)
        return self.login(email)

    def member(self, admin_token, email):
        status, body = self.call(
            "POST", "/v1/organisations/current/invitations", {"email": email, "role": "member"}, admin_token
        )
        assert status == 201, (status, body)
        token = self.mailed_token(email)
        status, body = self.call("POST", "/v1/invitations/accept", {"token": token, "password": PASSWORD})
        assert status == 201, (status, body)
        return self.login(email)


def schemathesis(server, name, report_dir, token=None, extra=()):
    command = [
        ST, "run", "openapi.json",
        "--url", server.base,
        "--checks", CHECKS,
        "--mode", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", MAX_EXAMPLES,
        "--seed", "15",
        "--workers", "1",
        "--no-shrink",
        "--request-timeout", "30",
        "--suppress-health-check", "all",
        "--report", "junit",
        "--report-junit-path", os.path.join(report_dir, f"{name}.xml"),
        *extra,
    ]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    started = time.monotonic()
    print(f"\n-- schemathesis as {name}", flush=True)
    result = subprocess.run(command)
    print(f"-- {name}: exit {result.returncode} in {time.monotonic() - started:.0f} s", flush=True)
    return result.returncode


def main():
    report_dir = os.environ.get("INFENTRE_FUZZ_REPORTS", "target/schemathesis")
    os.makedirs(report_dir, exist_ok=True)
    server = Server()
    failed = []
    try:
        admin = server.admin("admin@fuzz-a.example", "Fuzz A")
        member = server.member(admin, "member@fuzz-a.example")
        operator = server.admin(OPERATOR, "Infentre")
        status, _ = server.call("GET", "/v1/operator/complaints", token=operator)
        assert status == 200, f"the operator is not one: {status}"
        # A session that ends mid-run turns the rest of the run into 401s: signing out is
        # fuzzed without a session, and then once with one, last.
        keep_session = ("--exclude-path", "/v1/sessions/current")
        runs = [
            ("unauthenticated", None, ()),
            ("member", member, keep_session),
            ("admin", admin, keep_session),
            ("operator", operator, keep_session),
            ("signing-out", admin, ("--include-path", "/v1/sessions/current")),
        ]
        for name, token, extra in runs:
            if schemathesis(server, name, report_dir, token, extra) != 0:
                failed.append(name)
            if not server.alive():
                failed.append(f"{name}: the server died")
                break
    finally:
        server.close()
    if failed:
        print(f"\nschemathesis failed: {', '.join(failed)}; server log: {server.log_path}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(server.data_dir, ignore_errors=True)
    print("\nschemathesis: no failure as anyone")


if __name__ == "__main__":
    main()
