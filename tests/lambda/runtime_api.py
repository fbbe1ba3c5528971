"""A Lambda Runtime API emulator, and a function process served by it.

Lambda starts `bootstrap` with AWS_LAMBDA_RUNTIME_API=host:port; the runtime then long-polls
`GET /2018-06-01/runtime/invocation/next` for an event and posts the answer to
`.../invocation/{id}/response` or `.../invocation/{id}/error` (or `/runtime/init/error` when
its init fails). This module plays Lambda's side, so the real binaries run as Lambda runs
them, with nothing but the Python standard library.

    api = RuntimeApi()
    function = FunctionProcess("target/debug/signup", environment, api, name="signup")
    init_seconds = function.wait_until_ready()   # time until the first /next: the init
    answer = function.invoke({"version": "2.0", ...})
    answer.kind, answer.json()                   # "response" or "error"
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


@dataclass
class Answer:
    request_id: str
    kind: str  # "response" or "error"
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


class InitError(Exception):
    """The function reported an init error, or exited before asking for an event."""


class RuntimeApi:
    """One function's Runtime API: events go in through `submit`, answers come back."""

    def __init__(self, function_arn: str = "arn:aws:lambda:eu-north-1:123456789012:function:test", deadline_seconds: float = 60):
        self.function_arn = function_arn
        self.deadline_seconds = deadline_seconds
        self._events: queue.Queue = queue.Queue()
        self._answers: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()
        self.init_error: bytes | None = None
        self.first_next_at: float | None = None
        self._ready = threading.Event()
        self._closed = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet: the harness reports what matters
                pass

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None):
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the function process was stopped while it waited for an event

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                if api.first_next_at is None:
                    api.first_next_at = time.monotonic()
                    api._ready.set()
                item = api._events.get()
                if item is None:  # closing: leave the runtime waiting, as Lambda freezes it
                    return self._reply(410)
                request_id, body = item
                deadline_ms = int((time.time() + api.deadline_seconds) * 1000)
                self._reply(
                    200,
                    body,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                    },
                )

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path == f"{PREFIX}/init/error":
                    api.init_error = body or b"{}"
                    api._ready.set()
                    return self._reply(202, b'{"status":"OK"}')
                parts = self.path[len(PREFIX) :].strip("/").split("/")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with api._lock:
                        answers = api._answers.get(parts[1])
                    if answers is None:
                        return self._reply(400, b'{"errorType":"InvalidRequestID"}')
                    answers.put((parts[2], body))
                    return self._reply(202, b'{"status":"OK"}')
                self._reply(404, b'{"errorType":"NotFound"}')

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def submit(self, event) -> tuple[str, queue.Queue]:
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        request_id = str(uuid.uuid4())
        answers: queue.Queue = queue.Queue()
        with self._lock:
            self._answers[request_id] = answers
        self._events.put((request_id, body))
        return request_id, answers

    def wait_ready(self, timeout: float) -> bool:
        """True once the runtime asked for its first event (or reported an init error)."""
        return self._ready.wait(timeout)

    def close(self):
        if not self._closed:
            self._closed = True
            self._events.put(None)
            self._server.shutdown()
            self._server.server_close()


class FunctionProcess:
    """A compiled `bootstrap` started as Lambda starts it, served by a RuntimeApi."""

    def __init__(self, binary: str, environment: dict, api: RuntimeApi, name: str, memory_mb: int = 256, log_path: str | None = None):
        self.name = name
        self.api = api
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/29/[$LATEST]0123456789abcdef",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "_HANDLER": "bootstrap",
            "LAMBDA_TASK_ROOT": os.path.dirname(os.path.abspath(binary)),
        }
        env.update({k: str(v) for k, v in environment.items()})
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.started_at = time.monotonic()
        self.process = subprocess.Popen([binary], env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_until_ready(self, timeout: float = 30) -> float:
        """Seconds from start to the first `/next` (the init); raises InitError if init failed."""
        deadline = time.monotonic() + timeout
        while not self.api.wait_ready(0.05):
            if self.process.poll() is not None:
                raise InitError(f"{self.name} exited with {self.process.returncode} during init")
            if time.monotonic() > deadline:
                raise InitError(f"{self.name} did not ask for an event within {timeout} s")
        if self.api.init_error is not None:
            raise InitError(f"{self.name} init error: {self.api.init_error.decode(errors='replace')}")
        return self.api.first_next_at - self.started_at

    def invoke(self, event, timeout: float = 60) -> Answer:
        request_id, answers = self.api.submit(event)
        started = time.monotonic()
        while True:
            try:
                kind, body = answers.get(timeout=0.05)
                return Answer(request_id, kind, body, time.monotonic() - started)
            except queue.Empty:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode} during an invocation")
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"{self.name} gave no answer within {timeout} s")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.api.close()
        if self._log is not subprocess.DEVNULL:
            self._log.close()
