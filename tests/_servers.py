"""Start and stop real servers (uvicorn, gunicorn, hypercorn, granian) as subprocesses.

Each server serves ``tests.server_apps.app:app`` (or another ``target``) on 127.0.0.1 at
an ephemeral port: a socket is bound to port 0, its port read and the socket closed, then
the port is passed to the server. If another process takes the port in between, the
server fails to bind and the start is retried on a fresh port. Readiness is polled over
HTTP with a deadline. The server's stdout and stderr go to a temp file, shown when a start
fails and when a test using the server fails.

Every server runs in its own session (process group), so stopping it also stops the
worker processes it forked (gunicorn and granian workers): SIGTERM to the group, a
bounded wait, then SIGKILL to the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

__all__ = [
    "ASGI_SERVERS",
    "HOST",
    "REPO_ROOT",
    "SERVERS",
    "SERVER_VARIANTS",
    "TARGET",
    "WSGI_SERVERS",
    "RunningServer",
    "ServerPool",
    "ServerStartError",
    "free_port",
    "on_servers",
    "pooled_server_fixtures",
    "raw_request",
    "serve_for_test",
    "start_server",
]

HOST = "127.0.0.1"
TARGET = "tests.server_apps.app:app"
REPO_ROOT = Path(__file__).resolve().parent.parent
READY_DEADLINE = 20.0
STOP_DEADLINE = 10.0
BIND_ATTEMPTS = 3
_BIND_ERRORS = (
    "address already in use",
    "connection in use",
    "errno 98",
    "errno 48",
    "os error 98",
)

_PY = [sys.executable, "-m"]

# name -> command builder ((port, target) -> argv); ``target`` defaults to TARGET.
SERVERS: dict[str, Callable[..., list[str]]] = {
    "uvicorn": lambda port, target=TARGET: [
        *_PY,
        "uvicorn",
        target,
        "--host",
        HOST,
        "--port",
        str(port),
    ],
    "gunicorn": lambda port, target=TARGET: [
        *_PY,
        "gunicorn",
        "-k",
        "gthread",
        "--threads",
        "16",
        "--no-control-socket",  # else all share ~/.gunicorn/gunicorn.ctl
        "-w",
        "1",
        "-b",
        f"{HOST}:{port}",
        target,
    ],
    # gunicorn managing uvicorn worker processes (the uvicorn-worker package): ASGI.
    "gunicorn-uvicorn": lambda port, target=TARGET: [
        *_PY,
        "gunicorn",
        "-k",
        "uvicorn_worker.UvicornWorker",
        "--no-control-socket",  # else all share ~/.gunicorn/gunicorn.ctl
        "-w",
        "1",
        "-b",
        f"{HOST}:{port}",
        target,
    ],
    "hypercorn": lambda port, target=TARGET: [*_PY, "hypercorn", "-b", f"{HOST}:{port}", target],
    "granian-asgi": lambda port, target=TARGET: [
        *_PY,
        "granian",
        "--interface",
        "asgi",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        target,
    ],
    "granian-wsgi": lambda port, target=TARGET: [
        *_PY,
        "granian",
        "--interface",
        "wsgi",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        target,
    ],
}

# Variants outside the general matrix above: uvicorn with each of its websocket
# protocol implementations (for the websocket tests). ``start_server`` knows them too.
SERVER_VARIANTS: dict[str, Callable[..., list[str]]] = {
    "uvicorn-wsproto": lambda port, target=TARGET: [
        *_PY,
        "uvicorn",
        target,
        "--ws",
        "wsproto",
        "--host",
        HOST,
        "--port",
        str(port),
    ],
    "uvicorn-websockets": lambda port, target=TARGET: [
        *_PY,
        "uvicorn",
        target,
        "--ws",
        "websockets",
        "--host",
        HOST,
        "--port",
        str(port),
    ],
}

# Which face of the one app object each server is expected to call.
ASGI_SERVERS = ("uvicorn", "gunicorn-uvicorn", "hypercorn", "granian-asgi")
WSGI_SERVERS = ("gunicorn", "granian-wsgi")


class ServerStartError(RuntimeError):
    """The server did not become ready; the message carries its log."""


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # granian is not started with ``-m``-style cwd on sys.path semantics everywhere;
    # make ``tests.server_apps`` importable for every server the same way.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH", "")])]
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONWARNINGS", None)
    return env


@dataclass
class RunningServer:
    """A started server process and where to reach it."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _log_file: IO[bytes] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log(self, start: int = 0) -> str:
        """The server's combined stdout/stderr from byte offset ``start``."""
        self._log_file.flush()
        with open(self.log_path, "rb") as file:
            file.seek(start)
            return file.read().decode("utf-8", "replace")

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def client(self, **kwargs: object) -> httpx.Client:
        """An ``httpx.Client`` for this server, with a 10 s timeout (close it)."""
        kwargs.setdefault("timeout", 10.0)
        return httpx.Client(base_url=self.base_url, **kwargs)  # type: ignore[arg-type]

    def async_client(self, **kwargs: object) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` for this server, with a 10 s timeout (close it)."""
        kwargs.setdefault("timeout", 10.0)
        return httpx.AsyncClient(base_url=self.base_url, **kwargs)  # type: ignore[arg-type]

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (or with ``kill``, SIGKILL) the server's process group, wait, then
        SIGKILL what is left."""
        try:
            if self.process.poll() is None:
                _signal_group(self.process, signal.SIGKILL if kill else signal.SIGTERM)
                try:
                    self.process.wait(timeout=STOP_DEADLINE)
                except subprocess.TimeoutExpired:
                    _signal_group(self.process, signal.SIGKILL)
                    self.process.wait(timeout=STOP_DEADLINE)
            # Workers that outlived their master (they should not) go too.
            _signal_group(self.process, signal.SIGKILL)
        finally:
            self._log_file.close()
            with contextlib.suppress(OSError):
                self.log_path.unlink()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # The server was started with start_new_session=True: its pid is its group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _bind_failed(log: str) -> bool:
    lowered = log.lower()
    return any(marker in lowered for marker in _BIND_ERRORS)


def _wait_ready(server: RunningServer, deadline: float) -> bool:
    """Poll until the server answers HTTP; False if it exited or failed to bind first."""
    with httpx.Client(base_url=server.base_url, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                client.get("/text")
            except httpx.TransportError:
                if _bind_failed(server.log()):
                    return False  # gunicorn keeps retrying the bind for seconds
                time.sleep(0.05)
                continue
            # Any HTTP answer means the server is up; a broken app (a 500 here) is for
            # the tests to report, with the log, not a reason to wait out the deadline.
            return True
    raise ServerStartError(
        f"{server.name} on port {server.port} was not ready within {READY_DEADLINE:.0f} s."
        f"\n--- server log ---\n{server.log()}"
    )


def start_server(
    name: str, target: str = TARGET, *, extra_args: Sequence[str] = ()
) -> RunningServer:
    """Start server ``name`` (a key of :data:`SERVERS` or :data:`SERVER_VARIANTS`) serving
    ``target`` (an app's ``module:attribute``, which must answer ``GET /text``) and wait
    until it answers. ``extra_args`` are appended to its command line (a test module's own
    flags)."""
    build = SERVERS[name] if name in SERVERS else SERVER_VARIANTS[name]
    last_log = ""
    for _attempt in range(BIND_ATTEMPTS):
        port = free_port()
        fd, log_name = tempfile.mkstemp(prefix=f"ambi-{name}-", suffix=".log")
        log_file = os.fdopen(fd, "wb")
        process = subprocess.Popen(
            [*build(port, target), *extra_args],
            cwd=REPO_ROOT,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = RunningServer(name, port, process, Path(log_name), log_file)
        try:
            ready = _wait_ready(server, time.monotonic() + READY_DEADLINE)
        except BaseException:
            server.stop(kill=True)
            raise
        if ready:
            return server
        last_log = server.log()
        server.stop(kill=True)  # gunicorn ignores SIGTERM while it retries the bind
        if not _bind_failed(last_log):
            break
    raise ServerStartError(f"{name} exited during startup.\n--- server log ---\n{last_log}")


class ServerPool:
    """Starts each server on first use and keeps it for the pool's lifetime."""

    def __init__(
        self, target: str = TARGET, extra_args: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self.target = target
        #: Flags added to a server's command line, by server name.
        self.extra_args = extra_args or {}
        self._servers: dict[str, RunningServer] = {}
        self._failed: dict[str, str] = {}

    def get(self, name: str) -> RunningServer:
        if name in self._failed:
            raise ServerStartError(self._failed[name])
        server = self._servers.get(name)
        if server is not None and server.process.poll() is not None:
            # It died (a test crashed it): report that, and start a fresh one.
            self._servers.pop(name).stop()
            server = None
        if server is None:
            try:
                server = start_server(name, self.target, extra_args=self.extra_args.get(name, ()))
            except ServerStartError as exc:
                self._failed[name] = str(exc)
                raise
            self._servers[name] = server
        return server

    def close(self) -> None:
        servers, self._servers = self._servers, {}
        errors: list[BaseException] = []
        for server in servers.values():
            try:
                server.stop()
            except BaseException as exc:  # stop every server before reporting
                errors.append(exc)
        if errors:
            raise errors[0]


def raw_request(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as-is over a fresh TCP connection; return status, headers, body.

    For requests an HTTP client would normalise (``/text%zz``). The request should say
    ``Connection: close``; the answer is read until the server closes the connection.
    """
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return status, headers, body


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)


def pooled_server_fixtures(target: str) -> tuple[Any, Any]:
    """A module's ``server_pool`` and ``server`` fixtures for the app ``target``::

        server_pool, server = pooled_server_fixtures("tests.server_apps.sse_app:app")

    ``server`` is parametrized indirectly by the test (:func:`on_servers`)."""

    @pytest.fixture(scope="module")
    def server_pool() -> Iterator[ServerPool]:
        pool = ServerPool(target)
        yield pool
        pool.close()

    @pytest.fixture
    def server(request: pytest.FixtureRequest, server_pool: ServerPool) -> Iterator[RunningServer]:
        """The running server named by the test's ``server`` parameter."""
        yield from serve_for_test(request.param, server_pool)

    return server_pool, server


def serve_for_test(name: str, pool: ServerPool) -> Iterator[RunningServer]:
    """The body of a module's ``server`` fixture: the pooled server ``name``; if the test
    failed, the server's log written during it is printed (pytest shows it under the
    failure as "Captured stdout teardown")."""
    running = pool.get(name)
    log_start = running.log_size()
    yield running
    # pytest sets sys.last_value when the test's call phase failed.
    if getattr(sys, "last_value", None) is not None:
        print(f"--- {running.name} log during the test (port {running.port}) ---")
        print(running.log(log_start)[-20_000:])


def on_servers(*names: str) -> pytest.MarkDecorator:
    """Parametrize a test's ``server`` fixture over the named servers."""
    return pytest.mark.parametrize("server", list(names), indirect=True)
