"""WebSockets under real servers, over real sockets, with a real websocket client.

``tests.server_apps.ws_app:app`` is served by uvicorn (its default, and each of its
websocket implementations: ``--ws wsproto``, ``--ws websockets``), hypercorn and granian,
each a subprocess on 127.0.0.1 (see ``tests/_servers.py``), started once per module on
first use. The client is the ``websockets`` package's sync client. Under gunicorn (WSGI) the
same URLs answer a clear 400, and the app warns once that it needs an ASGI server.
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import ExitStack

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

try:
    from tests._servers import (
        HOST,
        RunningServer,
        on_servers,
        pooled_server_fixtures,
    )
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import (  # type: ignore[no-redef]
        HOST,
        RunningServer,
        on_servers,
        pooled_server_fixtures,
    )

pytestmark = pytest.mark.server

TARGET = "tests.server_apps.ws_app:app"
# uvicorn's default websocket implementation, then each one by name; hypercorn; granian.
WEBSOCKET_SERVERS = (
    "uvicorn",
    "uvicorn-wsproto",
    "uvicorn-websockets",
    "hypercorn",
    "granian-asgi",
)
TIMEOUT = 10.0
#: Path prefix of each handler kind in ws_app.
KINDS = {"async": "/echo/lobby", "def": "/echo-sync/7"}
PREFIX = {"async": "lobby", "def": "7"}


server_pool, server = pooled_server_fixtures(TARGET)


def ws_connect(server: RunningServer, path: str, **kwargs: object) -> ClientConnection:
    """A websocket client connection to ``path`` on ``server`` (close it)."""
    return connect(
        f"ws://{HOST}:{server.port}{path}",
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        proxy=None,
        **kwargs,  # type: ignore[arg-type]
    )


def closed_with(connection: ClientConnection) -> tuple[int, str]:
    """Wait until the server closes ``connection``; its close code and reason."""
    try:
        while True:
            connection.recv(timeout=TIMEOUT)
    except ConnectionClosed as closed:
        received = closed.rcvd
    assert received is not None, "the connection ended without a close frame"
    return received.code, received.reason


@on_servers(*WEBSOCKET_SERVERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_echo_text_and_bytes(server: RunningServer, kind: str) -> None:
    with ws_connect(server, KINDS[kind]) as ws:
        for text in ("hello", "é ✓", "x" * 50_000):
            ws.send(text)
            assert ws.recv(timeout=TIMEOUT) == f"{PREFIX[kind]}: {text}"
        ws.send(b"\x00\x01\xff")
        assert ws.recv(timeout=TIMEOUT) == b"\x00\x01\xff"


@on_servers(*WEBSOCKET_SERVERS)
def test_json_and_bad_json(server: RunningServer) -> None:
    with ws_connect(server, "/json") as ws:
        ws.send('{"a": [1, 2]}')
        assert json.loads(ws.recv(timeout=TIMEOUT)) == {"got": {"a": [1, 2]}}
        ws.send("{not json")
        code, reason = closed_with(ws)
    assert code == 1007
    assert reason.startswith("The message is not valid JSON")


@on_servers(*WEBSOCKET_SERVERS)
def test_def_handlers_run_in_a_worker_thread(server: RunningServer) -> None:
    with ws_connect(server, KINDS["def"]) as sync_ws, ws_connect(server, KINDS["async"]) as ws:
        sync_ws.send("thread?")
        ws.send("thread?")
        assert "worker" in str(sync_ws.recv(timeout=TIMEOUT)).lower()
        assert ws.recv(timeout=TIMEOUT) == "MainThread"


@on_servers(*WEBSOCKET_SERVERS)
def test_before_websocket_rejects_with_an_http_answer(server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        ws_connect(server, "/guarded")
    response = info.value.response
    assert response.status_code == 403
    assert b"A token is needed." in response.body
    with ws_connect(server, "/guarded?token=1") as ws:
        assert ws.recv(timeout=TIMEOUT) == "welcome"
        assert closed_with(ws) == (1000, "")


@on_servers(*WEBSOCKET_SERVERS)
def test_unknown_and_http_only_urls_are_refused(server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        ws_connect(server, "/nowhere")
    assert info.value.response.status_code == 404
    with pytest.raises(InvalidStatus) as info:
        ws_connect(server, "/text")
    assert info.value.response.status_code == 400
    assert b"not a WebSocket endpoint" in info.value.response.body


@on_servers(*WEBSOCKET_SERVERS)
def test_plain_http_to_a_websocket_url_is_a_clear_400(server: RunningServer) -> None:
    with server.client() as client:
        response = client.get("/echo/lobby")
    assert response.status_code == 400
    assert "connect to it with a WebSocket client" in response.text


@on_servers(*WEBSOCKET_SERVERS)
def test_a_failing_handler_closes_1011_and_is_logged_once(server: RunningServer) -> None:
    log_start = server.log_size()
    with ws_connect(server, "/boom") as ws:
        assert ws.recv(timeout=TIMEOUT) == "about to fail"
        assert closed_with(ws) == (1011, "500 Internal Server Error")
    log = server.log(log_start)
    assert log.count("RuntimeError: the handler failed on purpose") == 1, log
    assert "Exception on /boom [GET]" in log
    # The server is fine.
    with ws_connect(server, KINDS["async"]) as ws:
        ws.send("still here")
        assert ws.recv(timeout=TIMEOUT) == "lobby: still here"


@on_servers(*WEBSOCKET_SERVERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_an_oversized_message_closes_1009(server: RunningServer, kind: str) -> None:
    with ws_connect(server, KINDS[kind]) as ws:
        ws.send("x" * (64 * 1024))  # exactly the limit
        assert len(ws.recv(timeout=TIMEOUT)) == 64 * 1024 + len(f"{PREFIX[kind]}: ")
        ws.send(b"x" * (64 * 1024 + 1))
        code, reason = closed_with(ws)
    assert code == 1009
    assert reason == "The message is larger than the limit of 65536 bytes."


@on_servers(*WEBSOCKET_SERVERS)
@pytest.mark.parametrize("kind", ["async", "def"])
def test_a_handler_that_only_sends_learns_that_the_client_left(
    server: RunningServer, kind: str
) -> None:
    ticker_id = uuid.uuid4().hex
    path = "/ticker" if kind == "async" else "/ticker-sync"
    with ws_connect(server, f"{path}?id={ticker_id}") as ws:
        assert [ws.recv(timeout=TIMEOUT), ws.recv(timeout=TIMEOUT)] == ["tick", "tick"]
    deadline = time.monotonic() + TIMEOUT
    with server.client() as client:
        while (code := client.get(f"/ticker-report/{ticker_id}").json()["code"]) is None:
            assert time.monotonic() < deadline, "the handler never learned the client left"
            time.sleep(0.02)
    assert code in (1000, 1006)  # hypercorn reports 1006 for a close the client began


@on_servers(*WEBSOCKET_SERVERS)
def test_twenty_members_of_a_chat_room_get_every_message(
    server: RunningServer, request: pytest.FixtureRequest
) -> None:
    room = f"/chat/{request.node.callspec.id}"
    with ExitStack() as stack:
        members = []
        for number in range(20):
            member = stack.enter_context(ws_connect(server, f"{room}?name=user{number}"))
            assert member.recv(timeout=TIMEOUT) == f"joined {number + 1}"
            members.append(member)
        members[0].send("hello")
        members[19].send("bye")
        members[7].send("✓")
        for member in members:
            received = {member.recv(timeout=TIMEOUT) for _ in range(3)}
            assert received == {"user0: hello", "user19: bye", "user7: ✓"}
        # One leaves; the others still hear each other.
        members.pop(5).close()
        members[1].send("after")
        for member in members:
            assert member.recv(timeout=TIMEOUT) == "user1: after"


# -- under WSGI ------------------------------------------------------------------------------


@on_servers("gunicorn")
def test_under_wsgi_websocket_urls_answer_400_and_the_app_warns_once(
    server: RunningServer,
) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as client:
        for _ in range(3):
            response = client.get("/echo/lobby", headers=upgrade)
            assert response.status_code == 400
            assert "WebSockets need an ASGI server (such as uvicorn)" in response.text
    with pytest.raises(InvalidStatus) as info:
        ws_connect(server, "/echo/lobby")
    assert info.value.response.status_code == 400
    log = server.log()
    assert log.count("websocket routes need an ASGI server, e.g. uvicorn") == 1, log
