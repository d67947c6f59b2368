"""Client faults on real servers: clients that leave mid-upload, mid-download and
mid-stream, slow and stalled clients, pipelined requests.

The app is ``tests/server_apps/faults_app.py``: it records, per request id, when the
request started, what its view and body generator did and its teardown (with the error
the hook got). Servers (``tests/_reliability.py``): uvicorn and hypercorn (ASGI), gunicorn
gthread (WSGI), each with a short keep-alive timeout, and for hypercorn a 2 s read timeout
(uvicorn and gunicorn have none: see ``docs/operations.md``, "Reliability").

Every test ends with the same checks: each request was torn down exactly once, the
server log written during the test has no traceback or error, and once things settle no
thread is still busy with a request and the asyncio tasks are back to their count from
before the test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

try:
    from tests._reliability import (
        KEEP_ALIVE_TIMEOUT,
        READ_TIMEOUT,
        Checked,
        ResponseReader,
        ServerSet,
        assert_clean,
        closed_by_server,
        connect,
        new_id,
        records,
        request_bytes,
        serve_checked,
        wait_for_teardown,
        wait_for_teardowns,
    )
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _reliability import (  # type: ignore[no-redef]
        KEEP_ALIVE_TIMEOUT,
        READ_TIMEOUT,
        Checked,
        ResponseReader,
        ServerSet,
        assert_clean,
        closed_by_server,
        connect,
        new_id,
        records,
        request_bytes,
        serve_checked,
        wait_for_teardown,
        wait_for_teardowns,
    )

pytestmark = pytest.mark.server

SERVERS = ["uvicorn", "gunicorn", "hypercorn"]
#: Servers that time out a client that stops sending mid-request (``--read-timeout``).
READ_TIMEOUT_SERVERS = {"hypercorn"}
KINDS = {"def": "", "async": "-async"}
BOUNDARY = "AmbiFaultBoundary0f3c9a"
#: How much longer than its timeout a server may take to act on it.
TIMEOUT_MARGIN = 3.0


@pytest.fixture(scope="module")
def servers() -> Iterator[ServerSet]:
    pool = ServerSet()
    yield pool
    pool.close()


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, servers: ServerSet) -> Iterator[Checked]:
    yield from serve_checked(request.param, servers)


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _multipart(size: int) -> tuple[bytes, str]:
    payload = bytes(range(256)) * (size // 256)
    body = (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={BOUNDARY}"


class Bystander:
    """A client requesting ``/text`` in a loop from a thread while a test misbehaves."""

    def __init__(self, server: Checked) -> None:
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(server,), daemon=True)

    def _run(self, server: Checked) -> None:
        try:
            with server.server.client(timeout=10.0) as other:
                while not self.stop.is_set():
                    started = time.monotonic()
                    response = other.get("/text")
                    assert response.status_code == 200, response.text
                    self.latencies.append(time.monotonic() - started)
                    time.sleep(0.05)
        except BaseException as exc:
            self.errors.append(exc)

    def __enter__(self) -> Bystander:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(timeout=15)

    def assert_served(self) -> None:
        assert not self.errors, self.errors
        assert len(self.latencies) >= 3, self.latencies
        assert max(self.latencies) < 2.0, self.latencies


# -- disconnects ------------------------------------------------------------------------


def test_disconnect_mid_upload(server: Checked, kind: str) -> None:
    rid = new_id()
    body, content_type = _multipart(256 * 1024)
    head = request_bytes(
        "POST",
        f"/upload{KINDS[kind]}?id={rid}",
        headers={"Content-Type": content_type, "Content-Length": str(len(body))},
    )
    with connect(server.server) as sock:
        sock.sendall(head + body[: len(body) // 2])
        time.sleep(0.3)  # the view is reading the body now
    answer = wait_for_teardown(server.http, rid)
    events = answer["events"]
    assert events.count("start") == 1, answer
    assert events.count("teardown") == 1, answer
    assert "view-done" not in events, answer
    # The body's end never came: reading it failed with ClientDisconnected (a 400, for
    # nobody), in the view or, for an async view under ASGI, before it (the body is read
    # in before an async view runs); the teardown saw no unhandled error.
    assert answer["values"].get("view_error", "ClientDisconnected") == "ClientDisconnected"
    assert answer["values"]["teardown_error"] is None, answer
    assert_clean(server)


def test_disconnect_mid_download(server: Checked, kind: str) -> None:
    rid = new_id()
    with connect(server.server) as sock:
        sock.sendall(request_bytes("GET", f"/big{KINDS[kind]}?id={rid}"))
        received = 0
        while received < 64 * 1024:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection early"
            received += len(chunk)
    answer = wait_for_teardown(server.http, rid)
    assert answer["events"] == ["start", "view-done", "teardown"], answer
    assert answer["values"]["teardown_error"] is None, answer
    assert_clean(server)


def test_disconnect_mid_stream(server: Checked, kind: str) -> None:
    rid = new_id()
    with connect(server.server) as sock:
        sock.sendall(request_bytes("GET", f"/stream{KINDS[kind]}?id={rid}"))
        reader = ResponseReader(sock)
        head = reader._take_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        while f"{rid}:0\n".encode() not in reader.buffer:
            reader._fill()
    answer = wait_for_teardown(server.http, rid, "finally")
    assert answer["events"] == ["start", "generator-start", "finally", "teardown"], answer
    assert answer["values"]["teardown_error"] is None, answer
    assert_clean(server)


# -- slow and stalled clients ---------------------------------------------------------------


def test_slowloris_headers_served_when_complete(server: Checked) -> None:
    """Headers sent a few bytes at a time (15 pieces, 0.05 s apart: about 0.75 s in all,
    each pause shorter than any server timeout): answered correctly, while another client
    is served as usual."""
    rid = new_id()
    data = request_bytes("GET", f"/text?id={rid}", headers={"X-Padding": "p" * 40})
    piece = -(-len(data) // 15)
    with Bystander(server) as bystander, connect(server.server) as sock:
        for start in range(0, len(data), piece):
            sock.sendall(data[start : start + piece])
            time.sleep(0.05)
        status, _, body = ResponseReader(sock).read()
    assert (status, body) == (200, b"ok")
    bystander.assert_served()
    answer = wait_for_teardown(server.http, rid)
    assert answer["events"] == ["start", "teardown"], answer
    assert_clean(server)


def test_slow_body_received_whole(server: Checked, kind: str) -> None:
    body = bytes(range(256)) * 24  # 6 KiB, sent in 6 pieces about 0.08 s apart
    rid = new_id()
    with Bystander(server) as bystander, connect(server.server) as sock:
        sock.sendall(request_bytes("POST", f"/echo{KINDS[kind]}?id={rid}", body)[: -len(body)])
        for start in range(0, len(body), 1024):
            sock.sendall(body[start : start + 1024])
            time.sleep(0.08)
        status, _, answer_body = ResponseReader(sock).read()
    assert status == 200
    assert answer_body == body
    bystander.assert_served()
    assert wait_for_teardown(server.http, rid)["events"] == ["start", "teardown"]
    assert_clean(server)


@pytest.mark.parametrize("stage", ["headers", "body"])
def test_stalled_client_bounded_or_harmless(server: Checked, stage: str) -> None:
    """A client that stops sending mid-request. A server with a read timeout closes its
    connection within that timeout; one without keeps it open (uvicorn: one idle
    connection; gunicorn: one of its threads). Either way everyone else is served
    meanwhile, and once the client leaves, the request is torn down exactly once and no
    thread is left busy."""
    rid = new_id()
    if stage == "headers":
        partial = request_bytes("GET", f"/text?id={rid}")[:20]
    else:
        partial = request_bytes("POST", f"/echo?id={rid}", b"x" * 100)[:-60]
    # A server with a read timeout must close the connection within it (and a margin);
    # on one without, the client gives up after a while.
    has_timeout = server.name in READ_TIMEOUT_SERVERS
    hold = READ_TIMEOUT + TIMEOUT_MARGIN if has_timeout else 0.6
    with Bystander(server) as bystander, connect(server.server) as sock:
        sock.sendall(partial)
        closed = closed_by_server(sock, within=hold)
    bystander.assert_served()
    if has_timeout:
        assert closed, f"{server.name} kept a stalled connection open for {hold} s"
    if stage == "body":
        answer = wait_for_teardown(server.http, rid)
        assert answer["events"] == ["start", "teardown"], answer
    else:
        time.sleep(0.2)
        assert records(server.http, rid)["events"] == []  # never a request
    assert_clean(server)


def test_idle_keep_alive_connection_closed(server: Checked) -> None:
    with connect(server.server) as sock:
        sock.sendall(request_bytes("GET", "/text"))
        status, _, body = ResponseReader(sock).read()
        assert (status, body) == (200, b"ok")
        started = time.monotonic()
        timeout = KEEP_ALIVE_TIMEOUT[server.name]
        assert closed_by_server(sock, within=timeout + TIMEOUT_MARGIN)
        assert time.monotonic() - started >= timeout / 2
    assert_clean(server)


# -- pipelining -------------------------------------------------------------------------


def test_pipelined_requests_answered_in_order(server: Checked) -> None:
    ids = [new_id() for _ in range(3)]
    payload = json.dumps({"pipelined": ids}).encode()
    data = (
        request_bytes("GET", f"/text?id={ids[0]}")
        + request_bytes("POST", f"/echo?id={ids[1]}", payload)
        + request_bytes("POST", f"/echo-async?id={ids[2]}", payload[::-1])
    )
    with connect(server.server) as sock:
        sock.sendall(data)  # all three in one send
        reader = ResponseReader(sock)
        answers = [reader.read() for _ in ids]
    assert [(status, body) for status, _, body in answers] == [
        (200, b"ok"),
        (200, payload),
        (200, payload[::-1]),
    ]
    for answer in wait_for_teardowns(server.http, ids).values():
        assert answer["events"] == ["start", "teardown"], answer
    assert_clean(server)


def test_many_disconnects_leave_nothing_behind(server: Checked) -> None:
    """Twenty clients leaving at once, mid-stream and mid-download, on both kinds of
    view: every request torn down exactly once, nothing left busy."""
    ids = []
    sockets = []
    for number in range(20):
        rid = new_id()
        ids.append(rid)
        path = ["/stream", "/stream-async", "/big", "/big-async"][number % 4]
        sock = connect(server.server)
        sock.sendall(request_bytes("GET", f"{path}?id={rid}"))
        sockets.append(sock)
    for sock in sockets:
        assert sock.recv(1024)  # each is being answered
        sock.close()
    for answer in wait_for_teardowns(server.http, ids).values():
        assert answer["events"].count("teardown") == 1, answer
        assert answer["events"].count("start") == 1, answer
    assert_clean(server)
