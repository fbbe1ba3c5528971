"""Browser tests: Debian's Chromium driven by Playwright against the local binary, started
the way the README starts it (`infentre serve`, here on a free port with a fresh data dir).

Run by scripts/test with INFENTRE_BIN set to the built binary; CHROMIUM may point elsewhere
than /usr/bin/chromium."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from urllib.parse import urlparse

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium as root, headless, without the browser's own traffic to Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The notice version in force (read from shared::config::DEFAULT_POLICY_VERSION) and the
# newest archived one (`notices/<version>.md`), so a new version needs no edit here.
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
with open(os.path.join(ROOT, "shared", "src", "config.rs"), encoding="utf-8") as config:
    POLICY_VERSION = re.search(r'DEFAULT_POLICY_VERSION: &str = "([^"]+)"', config.read()).group(1)
PREVIOUS_POLICY_VERSION = max(name[: -len(".md")] for name in os.listdir(os.path.join(ROOT, "notices")))


class Server:
    """One `infentre serve` process; restartable on the same port and data, with new settings."""

    def __init__(self, policy_version=POLICY_VERSION):
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="infentre-browser-")
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = urlparse(self.base).netloc
        self.process = None
        self.start(policy_version)

    def start(self, policy_version):
        binary = os.environ.get("INFENTRE_BIN", "target/debug/infentre")
        env = dict(
            os.environ,
            INFENTRE_ADDR=f"127.0.0.1:{self.port}",
            INFENTRE_DATA_DIR=self.data_dir,
            INFENTRE_POLICY_VERSION=policy_version,
            INFENTRE_SWEEP_INTERVAL_SECS="86400",
            RUST_LOG="warn",
            INFENTRE_OPERATORS="ada@example.com",
        )
        self.log = open(os.path.join(self.data_dir, "server.log"), "ab")
        self.process = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"infentre exited with {self.process.returncode}; see {self.data_dir}/server.log")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("infentre did not answer /healthz within 30 s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.log.close()

    def restart(self, policy_version):
        self.stop()
        self.start(policy_version)

    def close(self):
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Recorder:
    """Every request the page makes; any to another host is refused and remembered."""

    def __init__(self, first_party_host):
        self.first_party_host = first_party_host
        self.requests = []

    def __call__(self, route):
        request = route.request
        self.requests.append((request.method, request.url))
        if urlparse(request.url).netloc != self.first_party_host:
            route.abort()
        else:
            route.continue_()

    def third_party(self):
        return [url for _, url in self.requests if urlparse(url).netloc != self.first_party_host]

    def paths(self):
        return [urlparse(url).path for _, url in self.requests]


@pytest.fixture
def context(browser):
    contexts = []

    def make(**options):
        options.setdefault("viewport", DESKTOP)
        c = browser.new_context(**options)
        contexts.append(c)
        return c

    yield make
    for c in contexts:
        c.close()
