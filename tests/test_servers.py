"""The one app object under real servers, over real sockets.

``tests.server_apps.app:app`` is served unchanged by uvicorn, hypercorn and granian (ASGI)
and by gunicorn's gthread worker and granian (WSGI), each started as a subprocess on
127.0.0.1 at an ephemeral port (see ``tests/_servers.py``). Each server starts once per
module, on first use, and is stopped when the module ends. Every network call has a
timeout, and every test sends a bounded number of requests.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

try:
    from tests._servers import (
        ASGI_SERVERS,
        SERVERS,
        TARGET,
        WSGI_SERVERS,
        RunningServer,
        on_servers,
        pooled_server_fixtures,
        raw_request,
    )
    from tests.server_apps.app import CHUNK_PAUSE, CHUNKS, SLOW_PAUSE
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import (  # type: ignore[no-redef]
        ASGI_SERVERS,
        SERVERS,
        WSGI_SERVERS,
        RunningServer,
        on_servers,
        pooled_server_fixtures,
        raw_request,
    )
    from server_apps.app import CHUNK_PAUSE, CHUNKS, SLOW_PAUSE  # type: ignore[no-redef]

pytestmark = pytest.mark.server

ALL_SERVERS = list(SERVERS)
REQUEST_TIMEOUT = 10.0
GATHER_TIMEOUT = 30.0
KINDS = {"def": "", "async": "-async"}


server_pool, server = pooled_server_fixtures(TARGET)


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client(timeout=REQUEST_TIMEOUT) as http:
        yield http


def _get_concurrently(
    server: RunningServer, paths: list[str]
) -> tuple[list[httpx.Response], float]:
    """GET every path at once, one connection each; the responses and the wall time."""

    async def main() -> tuple[list[httpx.Response], float]:
        limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=len(paths))
        async with server.async_client(timeout=REQUEST_TIMEOUT, limits=limits) as http:
            started = time.monotonic()
            responses = await asyncio.wait_for(
                asyncio.gather(*(http.get(path) for path in paths)), GATHER_TIMEOUT
            )
            return list(responses), time.monotonic() - started

    return asyncio.run(main())


def _document() -> dict[str, Any]:
    """A JSON document of about 1 KB: nesting, unicode, numbers, null, booleans."""
    document: dict[str, Any] = {
        "name": "Ambi ✓ — naïve café",
        "flags": [True, False, None],
        "numbers": [0, -1, 3.25, 1e-9, 2**53],
        "nested": {"deep": {"deeper": {"list": [{"i": i, "s": f"item-{i}"} for i in range(12)]}}},
        "text": "x" * 500,
    }
    size = len(json.dumps(document))
    assert 900 <= size <= 1300, size
    return document


# 1. Every server: views, JSON bodies, streaming.


@on_servers(*ALL_SERVERS)
def test_def_and_async_views_answer(client: httpx.Client) -> None:
    response = client.get("/text")
    assert (response.status_code, response.text) == (200, "hello from def")
    response = client.get("/text-async")
    assert (response.status_code, response.text) == (200, "hello from async def")


@on_servers(*ALL_SERVERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_json_echo_round_trips(client: httpx.Client, kind: str) -> None:
    document = _document()
    response = client.post(f"/echo{KINDS[kind]}", json=document)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"kind": kind, "got": document}


@on_servers(*ALL_SERVERS)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_generators_stream_in_full_in_order_and_incrementally(
    client: httpx.Client, kind: str
) -> None:
    path = "/stream" if kind == "sync" else "/stream-async"
    first_at: float | None = None
    received: list[bytes] = []
    started = time.monotonic()
    with client.stream("GET", path) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        for chunk in response.iter_raw():
            if chunk and first_at is None:
                first_at = time.monotonic() - started
            received.append(chunk)
    total = time.monotonic() - started
    body = b"".join(received).decode()
    assert body == "".join(f"{kind}-{number}\n" for number in range(CHUNKS))
    generating = (CHUNKS - 1) * CHUNK_PAUSE
    assert total >= generating * 0.9
    # The first chunk was on the wire while the generator still had pauses to go.
    assert first_at is not None
    assert first_at < total - 2 * CHUNK_PAUSE, (first_at, total)
    assert received[0].startswith(f"{kind}-0\n".encode())


# 2. No cross-talk between concurrent requests.


@on_servers(*ALL_SERVERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_g_has_no_cross_talk_between_concurrent_requests(server: RunningServer, kind: str) -> None:
    values = [f"{number}-{uuid.uuid4().hex}" for number in range(20)]
    responses, _ = _get_concurrently(server, [f"/g{KINDS[kind]}?value={v}" for v in values])
    for value, response in zip(values, responses, strict=True):
        assert response.status_code == 200, response.text
        assert response.json() == {"value": value, "arg": value}


# 3. Slow views overlap in time.


@on_servers(*ALL_SERVERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_slow_views_run_concurrently(server: RunningServer, kind: str) -> None:
    count = 10
    responses, wall = _get_concurrently(server, [f"/slow{KINDS[kind]}?n={n}" for n in range(count)])
    assert all(response.status_code == 200 for response in responses)
    spans = [(response.json()["start"], response.json()["end"]) for response in responses]
    assert all(end - start >= SLOW_PAUSE * 0.9 for start, end in spans)
    # Serially this would take count × SLOW_PAUSE = 5 s.
    assert wall < 2.5, wall
    # Every [start, end] interval overlaps every other: all started before any ended.
    latest_start = max(start for start, _ in spans)
    earliest_end = min(end for _, end in spans)
    assert latest_start < earliest_end, spans


# 4. Bad input over real sockets.


@on_servers(*ALL_SERVERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_malformed_json_is_400_and_the_server_keeps_serving(
    client: httpx.Client, kind: str
) -> None:
    path = f"/echo{KINDS[kind]}"
    response = client.post(
        path, content=b'{"a": [1, 2', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "Failed to decode JSON object" in response.text
    assert "Traceback" not in response.text
    response = client.post(path, json={"next": "request"})
    assert response.status_code == 200
    assert response.json() == {"kind": kind, "got": {"next": "request"}}


@on_servers("uvicorn", "gunicorn", "granian-asgi")
@pytest.mark.parametrize(
    ("raw_path", "message"),
    [
        (b"/text%zz", "Invalid percent-encoding in the URL path"),
        (b"/text%4", "Invalid percent-encoding in the URL path"),
        (b"/text%ff", "Invalid UTF-8 in the URL path"),
        (b"/text%c3%28", "Invalid UTF-8 in the URL path"),
    ],
)
def test_malformed_path_is_400(server: RunningServer, raw_path: bytes, message: str) -> None:
    # Sent byte for byte over a raw socket, so no client can normalise the path.
    request = b"GET " + raw_path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    status, _, body = raw_request(server.port, request, timeout=REQUEST_TIMEOUT)
    assert status == 400
    assert message in body.decode("utf-8", "replace")
    assert b"Traceback" not in body
    with server.client(timeout=REQUEST_TIMEOUT) as http:
        assert http.get("/text").text == "hello from def"


@on_servers(*ALL_SERVERS)
@pytest.mark.parametrize("method", ["DELETE", "PUT"])
def test_unknown_method_is_405_with_allow(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/text")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert "The method is not allowed" in response.text


# 5. One app object, each server's own interface.


@on_servers(*ALL_SERVERS)
def test_each_server_calls_its_own_interface(server: RunningServer, client: httpx.Client) -> None:
    expected = "asgi" if server.name in ASGI_SERVERS else "wsgi"
    assert server.name in ASGI_SERVERS + WSGI_SERVERS
    answers = [client.get("/where"), client.get("/where-async")]
    for response in answers:
        assert response.status_code == 200, response.text
    sync_view, async_view = (response.json() for response in answers)
    for answer in (sync_view, async_view):
        assert answer["interface"] == expected, answer
        assert answer["asgi_scope"] is (expected == "asgi")
    # A def view never runs on a running loop: directly on the WSGI thread, or in a
    # worker thread under ASGI. An async def view always does: the server's loop under
    # ASGI, the worker thread's persistent loop under WSGI.
    assert sync_view["loop_running"] is False
    assert async_view["loop_running"] is True
    if expected == "asgi":
        assert sync_view["thread"] != async_view["thread"]  # a worker thread, not the loop's
    assert sync_view["pid"] == async_view["pid"]
    if server.name == "uvicorn":
        assert sync_view["pid"] == server.process.pid  # no worker processes
    elif server.name == "gunicorn":
        assert sync_view["pid"] != server.process.pid  # the worker, not the arbiter
