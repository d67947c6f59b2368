"""The Flask body and streaming API under real servers, over real sockets.

``tests.server_apps.http_app:app`` is served by uvicorn, hypercorn and granian (ASGI) and
by gunicorn's gthread worker and granian (WSGI), each a subprocess on 127.0.0.1 (see
``tests/_servers.py``), started once per module on first use. Every test runs with a
``def`` and an ``async def`` view.

* Bodies: url-encoded and multipart forms (a file checked by sha256), ``get_json()``,
  ``get_data()``, ``values``, and ``request.stream`` on a ``stream_request=True`` route fed
  a chunked body.
* Bad input: a clear 400/413/415 with a message, never a 500 or a traceback, and the
  server answers the next request. Oversized bodies go over raw sockets, so the 413 is
  read while the body is still being sent, whatever the server then does with the rest.
* Streaming teardown: a generator's ``finally`` and the ``teardown_request`` hook run
  exactly once after the last chunk, and also when the client goes away mid-stream.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import select
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

try:
    from tests._servers import (
        HOST,
        SERVERS,
        RunningServer,
        on_servers,
        pooled_server_fixtures,
    )
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import (  # type: ignore[no-redef]
        HOST,
        SERVERS,
        RunningServer,
        pooled_server_fixtures,
    )

pytestmark = pytest.mark.server

TARGET = "tests.server_apps.http_app:app"
ALL_SERVERS = list(SERVERS)
REQUEST_TIMEOUT = 10.0
KINDS = {"def": "", "async": "-async"}
MAX_CONTENT_LENGTH = 64 * 1024  # http_app's config
REPORT_DEADLINE = 5.0
BOUNDARY = "AmbiBoundary7MA4YWxk"


server_pool, server = pooled_server_fixtures(TARGET)


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client(timeout=REQUEST_TIMEOUT) as http:
        yield http


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def multipart(parts: list[tuple[Any, ...]], boundary: str = BOUNDARY) -> bytes:
    """A multipart body by hand: ``(name, value)`` fields, ``(name, filename, data, type)``
    files; the closing boundary is included."""
    out = bytearray()
    for part in parts:
        out += f"--{boundary}\r\n".encode()
        if len(part) == 2:
            name, value = part
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            out += value if isinstance(value, bytes) else value.encode()
        else:
            name, filename, data, content_type = part
            out += (
                f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            out += data
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def _multipart_type(boundary: str = BOUNDARY) -> str:
    return f"multipart/form-data; boundary={boundary}"


def _still_serving(server: RunningServer, kind: str) -> None:
    """A fresh connection gets answers from both view kinds, a body included."""
    with server.client(timeout=REQUEST_TIMEOUT) as http:
        assert http.get("/text").text == "hello from def"
        response = http.post(f"/json{KINDS[kind]}", json={"next": "request"})
        assert response.status_code == 200, response.text
        assert response.json()["json"] == {"next": "request"}


# -- 1. bodies over real sockets ------------------------------------------------------------


@on_servers(*ALL_SERVERS)
def test_urlencoded_form_and_values(client: httpx.Client, kind: str) -> None:
    response = client.post(f"/form{KINDS[kind]}?q=1&a=0", data={"a": ["1", "2"], "b": "é & = ✓"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "kind": kind,
        "form": {"a": ["1", "2"], "b": ["é & = ✓"]},
        "values": {"q": ["1"], "a": ["0", "1", "2"], "b": ["é & = ✓"]},
        "files": {},
    }


@on_servers(*ALL_SERVERS)
def test_multipart_fields_and_file(client: httpx.Client, kind: str) -> None:
    data = _payload(40 * 1024, seed=1)
    response = client.post(
        f"/form{KINDS[kind]}?q=1",
        data={"title": "Ünïcode ✓", "tag": ["x", "y"]},
        files={"doc": ("notes.bin", data, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "kind": kind,
        "form": {"title": ["Ünïcode ✓"], "tag": ["x", "y"]},
        "values": {"q": ["1"], "title": ["Ünïcode ✓"], "tag": ["x", "y"]},
        "files": {
            "doc": {
                "filename": "notes.bin",
                "content_type": "application/octet-stream",
                "size": len(data),
                "sha256": _sha256(data),
            }
        },
    }


@on_servers(*ALL_SERVERS)
def test_large_multipart_file_is_spooled_and_intact(client: httpx.Client, kind: str) -> None:
    # Past the parser's in-memory threshold (500 KiB) and the ASGI spool threshold
    # (1 MiB); the route raises its limit in a before_request hook.
    data = _payload(3 * 1024 * 1024, seed=2)
    response = client.post(
        f"/upload{KINDS[kind]}",
        data={"note": "big"},
        files={"file": ("big.bin", data, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["kind"], answer["filename"], answer["fields"]) == (
        kind,
        "big.bin",
        {"note": "big"},
    )
    assert (answer["size"], answer["sha256"]) == (len(data), _sha256(data))


@on_servers(*ALL_SERVERS)
def test_get_json_and_get_data(client: httpx.Client, kind: str) -> None:
    document = {"name": "naïve café ✓", "list": list(range(50)), "nested": {"null": None}}
    body = json.dumps(document, ensure_ascii=False).encode()
    response = client.post(
        f"/json{KINDS[kind]}", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"kind": kind, "json": document, "data": body.decode()}


@on_servers(*ALL_SERVERS)
def test_get_data_binary_body(client: httpx.Client, kind: str) -> None:
    data = _payload(60 * 1024, seed=3)
    response = client.post(
        f"/data{KINDS[kind]}", content=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"kind": kind, "size": len(data), "sha256": _sha256(data)}


@on_servers(*ALL_SERVERS)
@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_request_stream_on_a_streaming_route(client: httpx.Client, kind: str, framing: str) -> None:
    pieces = [_payload(16 * 1024, seed=10 + number) for number in range(64)]  # 1 MiB
    expected = b"".join(pieces)

    def generate() -> Iterator[bytes]:
        yield from pieces

    headers = {"Content-Type": "application/octet-stream"}
    if framing == "content-length":
        headers["Content-Length"] = str(len(expected))
    response = client.post(f"/stream-in{KINDS[kind]}", content=generate(), headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["kind"] == kind
    assert (answer["size"], answer["sha256"]) == (len(expected), _sha256(expected))
    assert answer["chunks"] >= 1
    assert answer["data_after"] == 0  # the stream consumed the body, as in Flask


# -- 2. bad input: a clear 4xx, never a 500, and the server keeps serving --------------------

BAD_BODIES: dict[str, tuple[str, str, bytes, int, str]] = {
    # case: (route, content type, body, status, message)
    "malformed-json": ("/json", "application/json", b'{"a": [1, 2', 400, "Failed to decode JSON"),
    "json-wrong-content-type": (
        "/json",
        "text/plain",
        b'{"a": 1}',
        415,
        "Content-Type was not 'application/json'",
    ),
    "truncated-multipart": (
        "/form",
        _multipart_type(),
        multipart([("a", "value")])[: -len(f"\r\n--{BOUNDARY}--\r\n")],
        400,
        "truncated",
    ),
    "missing-boundary": (
        "/form",
        "multipart/form-data",
        multipart([("a", "value")]),
        400,
        "Missing boundary",
    ),
    "too-many-parts": (
        "/form",
        _multipart_type(),
        multipart([("f", str(number)) for number in range(9)]),  # MAX_FORM_PARTS = 8
        413,
        "more than 8 parts (MAX_FORM_PARTS)",
    ),
    "oversized-field": (
        "/form",
        _multipart_type(),
        multipart([("big", "v" * 5000)]),  # MAX_FORM_MEMORY_SIZE = 4096
        413,
        "MAX_FORM_MEMORY_SIZE",
    ),
    "invalid-utf8-multipart-field": (
        "/form",
        _multipart_type(),
        multipart([("bad", b"caf\xe9 \xff\xfe")]),
        400,
        "Invalid UTF-8 in the form field",
    ),
    "invalid-utf8-urlencoded": (
        "/form",
        "application/x-www-form-urlencoded",
        b"ok=1&bad=caf%E9",
        400,
        "Invalid UTF-8 in the form data",
    ),
}


@on_servers(*ALL_SERVERS)
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_body_is_a_clear_4xx(
    server: RunningServer, client: httpx.Client, kind: str, case: str
) -> None:
    route, content_type, body, status, message = BAD_BODIES[case]
    response = client.post(
        f"{route}{KINDS[kind]}", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert message in html.unescape(response.text)  # error pages are HTML
    assert "Traceback" not in response.text
    # The same connection, then a fresh one.
    assert client.get("/text").text == "hello from def"
    _still_serving(server, kind)


OVERSIZED_TOTAL = 32 * 1024 * 1024
_SEND_PIECE = 64 * 1024


def _post_oversized(
    port: int,
    path: str,
    content_type: str,
    *,
    chunked: bool,
    preamble: bytes = b"",
    timeout: float = REQUEST_TIMEOUT,
) -> tuple[int, bytes, int]:
    """POST a 32 MiB body (``preamble``, then filler) over a raw socket, sending only
    while the server reads and reading all the while; stop once a whole response is in.

    Returns the status, the response body and how many body bytes were sent by then. A
    reset or a closed socket after the response arrived is fine (the server may drop a
    connection whose body it will not read); before it, the test fails.
    """
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: {content_type}\r\n"
    head += (
        "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {OVERSIZED_TOTAL}\r\n"
    )
    outgoing = bytearray((head + "\r\n").encode())
    if preamble:
        outgoing += b"%x\r\n%s\r\n" % (len(preamble), preamble) if chunked else preamble
    piece = b"x" * _SEND_PIECE
    frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    head_size = len(outgoing)
    wire_sent = 0
    queued = 0  # body bytes put in ``outgoing``
    received = bytearray()
    deadline = time.monotonic() + timeout
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.setblocking(False)
        while time.monotonic() < deadline:
            if len(outgoing) < _SEND_PIECE and queued < OVERSIZED_TOTAL:
                outgoing += frame
                queued += len(piece)
                if chunked and queued >= OVERSIZED_TOTAL:
                    outgoing += b"0\r\n\r\n"
            writers = [sock] if outgoing else []
            readable, writable, _ = select.select([sock], writers, [], 0.5)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                received += data
                if _response_complete(received):
                    break
            if writable and outgoing:
                try:
                    sent = sock.send(outgoing)
                except (BrokenPipeError, ConnectionResetError):
                    outgoing.clear()
                    queued = OVERSIZED_TOTAL  # stop sending; keep reading
                    continue
                del outgoing[:sent]
                wire_sent += sent
    body_sent = max(0, wire_sent - head_size)
    assert received, f"no response to the oversized body ({body_sent} body bytes sent)"
    head_bytes, _, response_body = bytes(received).partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    return status, response_body, body_sent


def _response_complete(received: bytearray) -> bool:
    head, separator, body = bytes(received).partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return body.endswith(b"0\r\n\r\n")


@on_servers(*ALL_SERVERS)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("route", ["/data", "/form"])
def test_oversized_body_is_413_before_it_is_all_sent(
    server: RunningServer, kind: str, framing: str, route: str
) -> None:
    if route == "/data":
        content_type, preamble = "application/octet-stream", b""
    else:  # a well-formed start: one file part whose data never ends
        content_type = _multipart_type()
        preamble = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="huge.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
    status, body, sent = _post_oversized(
        server.port,
        f"{route}{KINDS[kind]}",
        content_type,
        chunked=framing == "chunked",
        preamble=preamble,
    )
    assert status == 413, body[:2000]
    assert b"MAX_CONTENT_LENGTH" in body
    assert b"Traceback" not in body
    assert sent < OVERSIZED_TOTAL, "the 413 came only after the whole body was sent"
    _still_serving(server, kind)


# -- 3. streaming teardown --------------------------------------------------------------------


def _report(server: RunningServer, rid: str) -> dict[str, Any]:
    with server.client(timeout=REQUEST_TIMEOUT) as http:
        response = http.get("/report", params={"id": rid})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


def _wait_for_teardown(server: RunningServer, rid: str) -> dict[str, Any]:
    """Poll the report until both the generator's ``finally`` and the teardown ran."""
    deadline = time.monotonic() + REPORT_DEADLINE
    while True:
        answer = _report(server, rid)
        counts = answer.get("counts", {})
        if counts.get("finally") and counts.get("teardown"):
            return answer
        if time.monotonic() > deadline:
            pytest.fail(
                f"finally and teardown not both recorded within {REPORT_DEADLINE} s: {answer}"
            )
        time.sleep(0.05)


@on_servers(*ALL_SERVERS)
def test_client_disconnect_mid_stream_runs_finally_and_teardown_once(
    server: RunningServer, client: httpx.Client, kind: str
) -> None:
    rid = uuid.uuid4().hex
    path = f"/endless{KINDS[kind]}"
    received = b""
    with client.stream("GET", path, params={"id": rid}) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            received += chunk
            if received.count(b"\n") >= 3:
                break
    # Leaving the block closed the half-read response, and with it the connection.
    assert received.startswith(f"{rid}:0\n{rid}:1\n{rid}:2\n".encode())
    answer = _wait_for_teardown(server, rid)
    time.sleep(0.3)  # anything run twice would show by now
    answer = _report(server, rid)
    assert answer["events"] == ["view", "generator-start", "finally", "teardown"], answer
    assert answer["seen"] == {"g_rid": rid, "path": path, "teardown_error": None}


@on_servers(*ALL_SERVERS)
def test_full_stream_tears_down_after_the_last_chunk(
    server: RunningServer, client: httpx.Client, kind: str
) -> None:
    rid = uuid.uuid4().hex
    path = f"/endless{KINDS[kind]}"
    response = client.get(path, params={"id": rid, "n": "20"})
    assert response.status_code == 200
    assert response.text == "".join(f"{rid}:{number}\n" for number in range(20))
    answer = _wait_for_teardown(server, rid)
    assert answer["events"] == [
        "view",
        "generator-start",
        "generator-end",
        "finally",
        "teardown",
    ], answer
    assert answer["seen"] == {"g_rid": rid, "path": path, "teardown_error": None}
