"""Shared by the client-fault and cancellation tests (``tests/test_client_faults.py``,
``tests/test_cancellation.py``): servers started with short timeouts, raw sockets, the
per-request records of ``tests/server_apps/faults_app.py`` and the checks every test ends
with — the teardown ran once, the server log is clean, no thread is still busy with a
request and the asyncio tasks are back to their baseline.

Everything waits by polling against a deadline, never by a fixed sleep long enough "on
this machine": on a busy 2-core CI machine the deadlines are generous, and a passing
test returns as soon as the condition holds.
"""

from __future__ import annotations

import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

try:
    from tests._servers import HOST, RunningServer, ServerPool
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import HOST, RunningServer, ServerPool  # type: ignore[no-redef]

TARGET = "tests.server_apps.faults_app:app"

#: The keep-alive timeout each server is started with (seconds). hypercorn applies its own
#: to a connection until its request has arrived whole too, so a client sending its
#: headers slowly (about a second in the tests) must be done within it: 2 s there.
KEEP_ALIVE_TIMEOUT = {"uvicorn": 1, "gunicorn": 1, "hypercorn": 2, "granian-asgi": 1}
#: How long the checking client keeps an idle connection: half the shortest of the above.
KEEP_ALIVE_EXPIRY = min(KEEP_ALIVE_TIMEOUT.values()) / 2
#: hypercorn's read timeout: the longest a read of the request may wait for data.
READ_TIMEOUT = 2
#: Command-line flags per server: a short keep-alive timeout (and where the server has
#: one, a read timeout).
SERVER_ARGS: dict[str, list[str]] = {
    "uvicorn": ["--timeout-keep-alive", str(KEEP_ALIVE_TIMEOUT["uvicorn"])],
    # gthread with 16 threads (tests/_servers.py); --timeout is the arbiter's watchdog on
    # the worker, not a read timeout.
    "gunicorn": ["--keep-alive", str(KEEP_ALIVE_TIMEOUT["gunicorn"]), "--graceful-timeout", "5"],
    "hypercorn": [
        "--keep-alive",
        str(KEEP_ALIVE_TIMEOUT["hypercorn"]),
        "--read-timeout",
        str(READ_TIMEOUT),
        "--graceful-timeout",
        "5",
    ],
    "granian-asgi": [],
}

#: Upper bound of any wait for a server-side effect (teardown, cancellation, settling).
DEADLINE = 15.0
#: What must never appear in a server log: an exception that escaped the app or server.
LOG_ALARMS = ("Traceback", "Exception in ASGI application", "Error", "ERROR", "CRITICAL")


class ServerSet(ServerPool):
    """The faults app's servers, started on first use with :data:`SERVER_ARGS`, kept for
    a module."""

    def __init__(self) -> None:
        super().__init__(TARGET, extra_args=SERVER_ARGS)


class Checked:
    """The server of one test, with its baseline taken before the test ran."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        # Idle connections dropped after half the servers' shortest keep-alive timeout
        # (KEEP_ALIVE_TIMEOUT: 1 s): a request sent on a connection just as the server
        # closes it is reset (ECONNRESET), the client's race, not the app's fault. (Not a
        # new connection per check: each one adds tasks to hypercorn's count for a while.)
        self.http = server.client(limits=httpx.Limits(keepalive_expiry=KEEP_ALIVE_EXPIRY))
        self.log_start = server.log_size()
        self.baseline = settled_state(self.http, None)

    @property
    def name(self) -> str:
        return self.server.name

    def close(self) -> None:
        self.http.close()


def serve_checked(name: str, servers: ServerSet) -> Iterator[Checked]:
    """A fixture body: the server ``name`` with its baseline; after a passing test, the
    closing checks (:func:`assert_clean`); after a failing one, the server's log."""
    checked = Checked(servers.get(name))
    try:
        yield checked
        if getattr(sys, "last_value", None) is not None:
            print(f"--- {name} log during the test (port {checked.server.port}) ---")
            print(checked.server.log(checked.log_start)[-20_000:])
    finally:
        checked.close()


def new_id() -> str:
    return uuid.uuid4().hex


def connect(server: RunningServer, timeout: float = DEADLINE) -> socket.socket:
    sock = socket.create_connection((HOST, server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request_bytes(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """An HTTP/1.1 request, ``Content-Length`` set when there is a body."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    all_headers = dict(headers or {})
    if body or method == "POST":
        all_headers.setdefault("Content-Length", str(len(body)))
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class ResponseReader:
    """Reads HTTP/1.1 responses one after the other from a socket (pipelining)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def _take_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read(self) -> tuple[int, dict[str, str], bytes]:
        """The next response: status, headers (lower-case names), body."""
        head = self._take_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(self._take_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._take_until(b"\r\n")
                    break
                parts.append(self._take(size + 2)[:-2])
            return status, headers, b"".join(parts)
        return status, headers, self._take(int(headers.get("content-length", "0")))


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds (reading and dropping
    anything it sends first, such as an error response)."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except OSError:  # a reset is a close too
            return True
    return False


def wait_for(
    condition: Callable[[], Any], what: str, deadline: float = DEADLINE, pause: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``deadline`` s."""
    give_up = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > give_up:
            pytest.fail(f"{what}: not within {deadline} s (last: {value!r})")
        time.sleep(pause)


def records(http: httpx.Client, rid: str) -> dict[str, Any]:
    """What the app recorded for request ``rid``."""
    response = http.get("/records", params={"of": rid})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def wait_for_teardown(http: httpx.Client, rid: str, *events: str) -> dict[str, Any]:
    """The record of ``rid`` once it shows ``teardown`` (and ``events``); a moment later
    it is read again, so that anything run twice shows."""
    return wait_for_teardowns(http, [rid], *events)[rid]


def wait_for_teardowns(
    http: httpx.Client, rids: list[str], *events: str
) -> dict[str, dict[str, Any]]:
    """:func:`wait_for_teardown` for several requests at once."""

    def done(rid: str) -> bool:
        seen = records(http, rid)["events"]
        return "teardown" in seen and all(event in seen for event in events)

    for rid in rids:
        wait_for(lambda: done(rid), f"teardown of request {rid}")  # noqa: B023
    time.sleep(0.1)
    return {rid: records(http, rid) for rid in rids}


def state(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/debug/state")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def settled_state(http: httpx.Client, baseline: dict[str, Any] | None) -> dict[str, Any]:
    """The server's state once no thread is busy with a request and (given a
    ``baseline``) there are no more asyncio tasks than then. (Fewer is fine: connections
    of an earlier test may still have been closing when the baseline was taken.)"""

    last: list[dict[str, Any]] = []

    def settled() -> dict[str, Any] | None:
        current = state(http)
        last[:] = [current]
        if current["busy_threads"]:
            return None
        if baseline is not None and current["tasks"] > baseline["tasks"]:
            return None
        return current

    try:
        result: dict[str, Any] = wait_for(settled, "no busy thread, tasks back to the baseline")
    except pytest.fail.Exception:
        pytest.fail(f"not settled within {DEADLINE} s: {last} (baseline: {baseline})")
    return result


def assert_clean(checked: Checked) -> None:
    """The closing checks: no thread stays busy with a request (a pool may keep the
    threads it started, idle), the asyncio tasks settle back to the baseline, and the
    server log written during the test has no error in it."""
    after = settled_state(checked.http, checked.baseline)
    assert after["tasks"] <= checked.baseline["tasks"], after
    assert not after["busy_threads"], after
    log = checked.server.log(checked.log_start)
    alarms = [line for line in log.splitlines() if any(word in line for word in LOG_ALARMS)]
    assert not alarms, log[-5000:]
