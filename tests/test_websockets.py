"""WebSockets in process: ``@app.websocket`` handlers (``def`` and ``async def``), the
``websocket`` object, hooks, errors and close codes, limits, sessions, and the plain-HTTP
and WSGI answers for websocket URLs. The test client's ``websocket_connect`` drives the
app's ASGI face on its loop thread, as a server would. Real servers (uvicorn with both
websocket backends, hypercorn) are in ``test_servers_websockets.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
from click.testing import CliRunner

from ambi import (
    Ambi,
    Blueprint,
    SyncWebsocket,
    Websocket,
    WebSocketDisconnect,
    abort,
    current_app,
    g,
    session,
    url_for,
    websocket,
)
from ambi._drivers import adaptations
from ambi.appgroup import ScriptInfo
from ambi.cli import cli
from ambi.exceptions import BadRequest
from ambi.testing import AmbiClient, TestWebsocket, WebSocketRejected


@pytest.fixture
def client(app: Ambi) -> Iterator[AmbiClient]:
    with app.test_client("asgi") as client:
        yield client


def echo_handler(view_kind: str) -> Callable[..., Any]:
    """An echo handler of the given kind, answering ``"<room>: <message>"``."""
    if view_kind == "def":

        def echo(room: str) -> None:
            for message in websocket:
                websocket.send(f"{room}: {message}" if isinstance(message, str) else message)

        return echo

    async def echo_async(room: str) -> None:
        async for message in websocket:
            await websocket.send(f"{room}: {message}" if isinstance(message, str) else message)

    return echo_async


# -- the conversation ------------------------------------------------------------------------


def test_echo_text_bytes_and_json(app: Ambi, client: AmbiClient, view_kind: str) -> None:
    app.add_websocket("/ws/<room>", "echo", echo_handler(view_kind))

    with client.websocket_connect("/ws/lobby") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "lobby: hello"
        ws.send_bytes(b"\x00\xff")
        assert ws.receive_bytes() == b"\x00\xff"
        ws.send_json({"a": [1, 2]})
        assert ws.receive_text() == 'lobby: {"a": [1, 2]}'


def test_json_both_ways(app: Ambi, client: AmbiClient, view_kind: str) -> None:
    if view_kind == "def":

        @app.websocket("/json")
        def json_echo() -> None:
            data = websocket.receive_json()
            websocket.send_json({"got": data, "kind": "def"})

    else:

        @app.websocket("/json")
        async def json_echo_async() -> None:
            data = await websocket.receive_json()
            await websocket.send_json({"got": data, "kind": "async"})

    with client.websocket_connect("/json") as ws:
        ws.send_json({"x": "é"})
        assert ws.receive_json() == {"got": {"x": "é"}, "kind": view_kind}
        # The handler returned: the app closes normally.
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert info.value.code == 1000


def test_url_converters_and_handshake_attributes(app: Ambi, client: AmbiClient) -> None:
    @app.websocket("/items/<int:item_id>/<path:rest>")
    async def item(item_id: int, rest: str) -> None:
        ws = cast(Websocket, websocket._get_current_object())
        await websocket.send_json(
            {
                "item_id": item_id,
                "rest": rest,
                "path": websocket.path,
                "args": websocket.args.to_dict(),
                "header": websocket.headers["X-Thing"],
                "cookie": websocket.cookies.get("flavour"),
                "view_args": websocket.view_args,
                "rule": websocket.url_rule.rule if websocket.url_rule else None,
                "endpoint": websocket.endpoint,
                "scheme": websocket.scheme,
                "host": websocket.host,
                "root_path": websocket.root_path,
                "subprotocols": websocket.subprotocols,
                "type": type(ws).__name__,
                "url": websocket.url,
            }
        )

    client.cookies.set("flavour", "mint")
    with client.websocket_connect(
        "/items/7/a/b?q=1", headers={"X-Thing": "yes"}, subprotocols=["chat", "v2"]
    ) as ws:
        assert ws.receive_json() == {
            "item_id": 7,
            "rest": "a/b",
            "path": "/items/7/a/b",
            "args": {"q": "1"},
            "header": "yes",
            "cookie": "mint",
            "view_args": {"item_id": 7, "rest": "a/b"},
            "rule": "/items/<int:item_id>/<path:rest>",
            "endpoint": "item",
            "scheme": "ws",
            "host": "localhost",
            "root_path": "",
            "subprotocols": ["chat", "v2"],
            "type": "Websocket",
            "url": "ws://localhost/items/7/a/b?q=1",
        }
    # A converter that refuses the value: no websocket rule matches.
    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/items/x/a")
    assert info.value.status_code == 404


def test_def_handler_gets_the_blocking_facade(app: Ambi, client: AmbiClient) -> None:
    seen: list[Any] = []

    @app.websocket("/sync")
    def sync_handler() -> None:
        ws = cast(SyncWebsocket, websocket)
        seen.append(type(websocket._get_current_object()))
        seen.append(ws.path)
        ws.send_text(ws.receive_text().upper())
        ws.send_bytes(ws.receive_bytes()[::-1])
        ws.close(4000, "done")

    with client.websocket_connect("/sync") as ws:
        ws.send_text("abc")
        assert ws.receive_text() == "ABC"
        ws.send_bytes(b"xyz")
        assert ws.receive_bytes() == b"zyx"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert (info.value.code, info.value.reason) == (4000, "done")
    assert seen == [SyncWebsocket, "/sync"]


def test_threads_of_a_def_handler_may_use_the_blocking_facade(
    app: Ambi, client: AmbiClient
) -> None:
    @app.websocket("/fan-out")
    def fan_out() -> None:
        ws = cast(SyncWebsocket, websocket._get_current_object())
        ws.accept()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: ws.send(f"from thread {n}"), range(4)))
        ws.send("done")

    with client.websocket_connect("/fan-out") as ws:
        messages = [ws.receive_text() for _ in range(5)]
    assert sorted(messages[:4]) == [f"from thread {n}" for n in range(4)]
    assert messages[4] == "done"


def test_the_blocking_facade_refuses_to_block_the_loop(app: Ambi, client: AmbiClient) -> None:
    captured: list[SyncWebsocket] = []

    @app.before_websocket
    def capture() -> None:
        captured.append(cast(SyncWebsocket, websocket._get_current_object()))

    @app.websocket("/misuse")
    async def misuse() -> None:
        try:
            captured[0].send("blocking on the loop")
        except RuntimeError as exc:
            await websocket.send(str(exc))

    with client.websocket_connect("/misuse") as ws:
        assert "called on the event loop, which it would block" in ws.receive_text()


def test_explicit_accept_with_subprotocol_and_headers(
    app: Ambi, client: AmbiClient, view_kind: str
) -> None:
    if view_kind == "def":

        @app.websocket("/proto")
        def proto() -> None:
            ws = cast(SyncWebsocket, websocket)
            ws.accept(subprotocol="v2", headers={"X-Server": "ambi"})
            ws.accept()  # a second accept does nothing
            ws.send_text(f"accepted {websocket.accepted}")

    else:

        @app.websocket("/proto")
        async def proto_async() -> None:
            await websocket.accept(subprotocol="v2", headers={"X-Server": "ambi"})
            await websocket.accept()
            await websocket.send(f"accepted {websocket.accepted}")

    with client.websocket_connect("/proto", subprotocols=["v1", "v2"]) as ws:
        assert ws.accepted_subprotocol == "v2"
        assert ws.accept_headers["x-server"] == "ambi"
        assert ws.receive_text() == "accepted True"


def test_implicit_accept_on_first_send(app: Ambi, client: AmbiClient) -> None:
    @app.websocket("/implicit")
    async def implicit() -> None:
        assert not websocket.accepted
        await websocket.send("hi")
        assert websocket.accepted

    with client.websocket_connect("/implicit") as ws:
        assert ws.accepted_subprotocol is None
        assert ws.receive_text() == "hi"


def test_a_subprotocol_the_client_did_not_offer_is_an_error(
    app: Ambi, client: AmbiClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.websocket("/proto")
    async def proto() -> None:
        await websocket.accept(subprotocol="v9")

    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/proto", subprotocols=["v1"])
    assert info.value.status_code == 500
    assert "did not offer the subprotocol 'v9'" in caplog.text


def test_send_rejects_other_types(app: Ambi, client: AmbiClient) -> None:
    @app.websocket("/types")
    async def types() -> None:
        errors = []
        for bad in ({"a": 1}, 3):
            try:
                await websocket.send(bad)  # type: ignore[arg-type]
            except TypeError as exc:
                errors.append(str(exc))
        try:
            await websocket.send_bytes("text")  # type: ignore[arg-type]
        except TypeError as exc:
            errors.append(str(exc))
        try:
            await websocket.send_text(b"bytes")  # type: ignore[arg-type]
        except TypeError as exc:
            errors.append(str(exc))
        await websocket.send(bytearray(b"ok"))
        await websocket.send_json(errors)

    with client.websocket_connect("/types") as ws:
        assert ws.receive_bytes() == b"ok"
        errors = ws.receive_json()
    assert "takes str or bytes, not dict; use websocket.send_json()" in errors[0]
    assert "not int" in errors[1]
    assert "use send_text() for text" in errors[2]
    assert "takes a str, not bytes" in errors[3]


# -- disconnects -----------------------------------------------------------------------------


def test_client_disconnect_raises_with_its_code_and_ends_iteration(
    app: Ambi, client: AmbiClient, view_kind: str
) -> None:
    events: list[Any] = []

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        events.append(("teardown", error))

    if view_kind == "def":

        @app.websocket("/raw")
        def raw() -> None:
            try:
                while True:
                    websocket.receive()
            except WebSocketDisconnect as exc:
                events.append(("disconnect", exc.code, exc.reason))

        @app.websocket("/iterate")
        def iterate() -> None:
            events.append(("messages", list(cast(SyncWebsocket, websocket))))

    else:

        @app.websocket("/raw")
        async def raw_async() -> None:
            try:
                while True:
                    await websocket.receive()
            except WebSocketDisconnect as exc:
                events.append(("disconnect", exc.code, exc.reason))

        @app.websocket("/iterate")
        async def iterate_async() -> None:
            events.append(("messages", [message async for message in websocket]))

    with client.websocket_connect("/raw") as ws:
        ws.send_text("x")
        ws.close(4001, "bye")
    with client.websocket_connect("/iterate") as ws:
        ws.send_text("a")
        ws.send_bytes(b"b")
    assert events == [
        ("disconnect", 4001, "bye"),
        ("teardown", None),
        ("messages", ["a", b"b"]),
        ("teardown", None),
    ]


def test_an_uncaught_disconnect_is_no_error(
    app: Ambi, client: AmbiClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False
    ended: list[bool] = []

    @app.websocket("/careless")
    async def careless() -> None:
        try:
            while True:
                await websocket.receive()
        finally:
            ended.append(True)

    with client.websocket_connect("/careless") as ws:
        ws.send_text("x")
    assert ended == [True]
    assert "Exception" not in caplog.text


def test_send_after_the_client_left_raises_disconnect(app: Ambi, client: AmbiClient) -> None:
    outcome: list[Any] = []

    @app.websocket("/late")
    async def late() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            await websocket.receive()
        for call in (websocket.send("too late"), websocket.receive()):
            try:
                await call
            except WebSocketDisconnect as exc:
                outcome.append(exc.code)
        outcome.append(websocket.closed)

    with client.websocket_connect("/late") as ws:
        ws.close(1001)
    assert outcome == [1001, 1001, True]


def test_a_handler_that_only_sends_learns_of_the_disconnect(
    app: Ambi, client: AmbiClient, view_kind: str
) -> None:
    ended: list[int] = []

    if view_kind == "def":

        @app.websocket("/ticker")
        def ticker() -> None:
            try:
                while True:
                    websocket.send("tick")
                    time.sleep(0.005)
            except WebSocketDisconnect as exc:
                ended.append(exc.code)

    else:

        @app.websocket("/ticker")
        async def ticker_async() -> None:
            try:
                while True:
                    await websocket.send("tick")
                    await asyncio.sleep(0.005)
            except WebSocketDisconnect as exc:
                ended.append(exc.code)

    with client.websocket_connect("/ticker") as ws:
        assert [ws.receive_text(), ws.receive_text()] == ["tick", "tick"]
        ws.close(1001)  # returns once the handler has ended
    assert ended == [1001]


def test_messages_sent_before_a_disconnect_are_still_received(
    app: Ambi, client: AmbiClient
) -> None:
    received: list[Any] = []

    @app.websocket("/slow")
    async def slow() -> None:
        await websocket.accept()
        await asyncio.sleep(0.05)  # everything below has arrived by now
        async for message in websocket:
            received.append(message)
        received.append(websocket.close_code)

    with client.websocket_connect("/slow") as ws:
        for number in range(40):  # more than the channel reads ahead
            ws.send_text(str(number))
        ws.close(4002)
    assert received == [*(str(number) for number in range(40)), 4002]


def test_closing_wakes_a_task_waiting_for_a_message(app: Ambi, client: AmbiClient) -> None:
    woken: list[Any] = []

    @app.websocket("/close-while-waiting")
    async def close_while_waiting() -> None:
        await websocket.accept()

        async def listen() -> None:
            try:
                await websocket.receive()
            except WebSocketDisconnect as exc:
                woken.append(exc.code)

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.01)  # the listener is waiting now
        await websocket.close(4003, "bye")
        await asyncio.wait_for(listener, 5)

    with client.websocket_connect("/close-while-waiting") as ws:
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert (info.value.code, info.value.reason) == (4003, "bye")
    assert woken == [4003]


# -- hooks and context -----------------------------------------------------------------------


def test_hooks_run_in_order_app_and_blueprint(app: Ambi, client: AmbiClient) -> None:
    calls: list[str] = []
    bp = Blueprint("live", __name__, url_prefix="/live")

    @app.before_request
    def not_for_websockets() -> None:
        calls.append("before_request")

    @app.url_value_preprocessor
    def pull(endpoint: str | None, values: dict[str, Any] | None) -> None:
        calls.append(f"url_value {endpoint}")
        if values is not None:
            g.room = values.pop("room")

    @app.before_websocket
    async def app_before() -> None:
        calls.append("app before")

    @bp.before_websocket
    def bp_before() -> None:
        calls.append("bp before")

    @bp.after_websocket
    async def bp_after(response: Any) -> Any:
        calls.append(f"bp after {response}")
        return response

    @app.after_websocket
    def app_after(response: Any) -> Any:
        calls.append(f"app after {response}")
        return response

    @bp.before_app_websocket
    def everywhere() -> None:
        calls.append("app-wide before")

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        calls.append("teardown_request")

    @app.teardown_appcontext
    async def teardown_app(error: BaseException | None) -> None:
        calls.append("teardown_appcontext")

    @bp.websocket("/<room>")
    async def room() -> None:
        calls.append(f"handler {g.room} {current_app.name}")
        await websocket.send(g.room)

    app.register_blueprint(bp)

    with client.websocket_connect("/live/kitchen") as ws:
        assert ws.receive_text() == "kitchen"
    assert calls == [
        "url_value live.room",
        "app before",
        "app-wide before",
        "bp before",
        "handler kitchen conftest",
        "bp after None",
        "app after None",
        "teardown_request",
        "teardown_appcontext",
    ]


def test_before_websocket_abort_rejects_the_handshake(
    app: Ambi, client: AmbiClient, view_kind: str
) -> None:
    handled: list[str] = []

    if view_kind == "def":

        @app.before_websocket
        def guard() -> None:
            if "token" not in websocket.args:
                abort(403, "A token is needed.")

    else:

        @app.before_websocket
        async def guard_async() -> None:
            if "token" not in websocket.args:
                abort(403, "A token is needed.")

    @app.websocket("/guarded")
    async def guarded() -> None:
        handled.append("handler")
        await websocket.send("welcome")

    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/guarded")
    assert info.value.status_code == 403
    assert "A token is needed." in info.value.text
    # A server without the websocket.http.response extension: the refusal is a close
    # (servers then answer 403 themselves).
    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/guarded", http_response_extension=False)
    assert (info.value.status_code, info.value.close_code) == (403, 1008)
    assert info.value.close_reason == "A token is needed."
    with client.websocket_connect("/guarded?token=1") as ws:
        assert ws.receive_text() == "welcome"
    assert handled == ["handler"]


def test_a_value_from_before_websocket_or_the_handler_rejects(
    app: Ambi, client: AmbiClient
) -> None:
    @app.before_websocket
    def maybe_refuse() -> Any:
        if websocket.path == "/refused":
            return {"error": "go away"}, 429, {"Retry-After": "5"}
        return None

    @app.websocket("/refused")
    async def refused() -> None:
        raise AssertionError("not reached")

    @app.websocket("/returns")
    async def returns() -> Any:
        return "Not today", 401

    @app.websocket("/returns-after-accept")
    async def returns_after_accept() -> Any:
        await websocket.send("hi")
        return "ignored", 500

    @app.websocket("/returns-nothing")
    async def returns_nothing() -> None:
        return None

    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/refused")
    assert (info.value.status_code, info.value.headers["retry-after"]) == (429, "5")
    assert info.value.text.strip() == '{"error":"go away"}'
    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/returns")
    assert (info.value.status_code, info.value.text) == (401, "Not today")
    with client.websocket_connect("/returns-after-accept") as ws:
        assert ws.receive_text() == "hi"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
        assert closed.value.code == 1000
    # Returning without accepting refuses the handshake (a close before the accept).
    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/returns-nothing")
    assert (info.value.status_code, info.value.close_code) == (403, 1000)


def test_session_g_and_url_for(
    app: Ambi, client: AmbiClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.secret_key = "test secret"

    @app.post("/login")
    def login() -> str:
        session["user"] = "ada"
        return "ok"

    @app.get("/page/<int:n>")
    def page(n: int) -> str:
        return str(n)

    @app.websocket("/live/<room>")
    async def live(room: str) -> None:
        g.greeting = "hi"
        await websocket.send_json(
            {
                "user": session.get("user"),
                "g": g.greeting,
                "self": url_for("live", room="x"),
                "page": url_for("page", n=2),
                "page_external": url_for("page", n=2, _external=True),
            }
        )
        session["visits"] = 1  # cannot be saved: logged once per endpoint

    client.post("/login")
    for _ in range(2):
        with client.websocket_connect("/live/r") as ws:
            assert ws.receive_json() == {
                "user": "ada",
                "g": "hi",
                "self": "ws://localhost/live/x",
                "page": "/page/2",
                "page_external": "http://localhost/page/2",
            }
    assert caplog.text.count("The session was modified in the websocket handler 'live'") == 1
    with app.test_request_context("/"):
        assert url_for("live", room="y") == "ws://localhost/live/y"
        assert url_for("live", room="y", _scheme="https") == "wss://localhost/live/y"


def test_websocket_outside_a_websocket_handler(app: Ambi, client: AmbiClient) -> None:
    @app.get("/http")
    def http_view() -> str:
        try:
            websocket.path  # noqa: B018
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "only available in a websocket handler" in client.get("/http").text
    with pytest.raises(RuntimeError, match="Working outside of websocket context"):
        websocket.path  # noqa: B018


# -- errors and close codes ------------------------------------------------------------------


def test_unhandled_error_after_accept_closes_1011_and_is_logged_once(
    app: Ambi, client: AmbiClient, view_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False
    torn_down: list[Any] = []

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        torn_down.append(type(error).__name__)

    if view_kind == "def":

        @app.websocket("/boom")
        def boom() -> None:
            websocket.send("before")
            raise ValueError("kaboom")

    else:

        @app.websocket("/boom")
        async def boom_async() -> None:
            await websocket.send("before")
            raise ValueError("kaboom")

    with client.websocket_connect("/boom") as ws:
        assert ws.receive_text() == "before"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
    assert (info.value.code, info.value.reason) == (1011, "500 Internal Server Error")
    assert caplog.text.count("ValueError: kaboom") == 1
    assert "Exception on /boom [GET]" in caplog.text
    assert torn_down == ["ValueError"]


def test_unhandled_error_before_accept_is_a_500_rejection(
    app: Ambi, client: AmbiClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.websocket("/early")
    async def early() -> None:
        raise ValueError("early")

    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/early")
    assert info.value.status_code == 500
    assert "early" not in info.value.text  # no traceback outside debug mode
    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/early", http_response_extension=False)
    assert info.value.close_code == 1011
    assert caplog.text.count("ValueError: early") == 2


def test_testing_mode_propagates_the_error_to_the_test(app: Ambi, client: AmbiClient) -> None:
    @app.websocket("/boom")
    async def boom() -> None:
        await websocket.receive()
        raise ValueError("to the test")

    ws = client.websocket_connect("/boom")
    ws.send_text("go")
    with pytest.raises(ValueError, match="to the test"):
        ws.receive()
    ws.close()  # raised once only
    assert (ws.close_code, ws.closed) == (1011, True)


def test_http_errors_after_accept_close_1008_with_the_description(
    app: Ambi, client: AmbiClient
) -> None:
    @app.websocket("/forbidden")
    async def forbidden() -> None:
        await websocket.send("hi")
        abort(403, "Not in this room.")

    with client.websocket_connect("/forbidden") as ws:
        assert ws.receive_text() == "hi"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
    assert (info.value.code, info.value.reason) == (1008, "Not in this room.")


def test_error_handlers_apply_and_may_talk_to_the_client(
    app: Ambi, client: AmbiClient, view_kind: str
) -> None:
    class RoomFull(Exception):
        pass

    bp = Blueprint("rooms", __name__)

    if view_kind == "def":

        @bp.errorhandler(RoomFull)
        def room_full(error: RoomFull) -> Any:
            websocket.send_json({"error": "room full"})
            return "full", 409

    else:

        @bp.errorhandler(RoomFull)
        async def room_full_async(error: RoomFull) -> Any:
            await websocket.send_json({"error": "room full"})
            return "full", 409

    @app.errorhandler(404)
    def not_found(error: Exception) -> Any:
        return {"error": "no such websocket"}, 404

    @bp.websocket("/full")
    async def full() -> None:
        await websocket.accept()
        raise RoomFull()

    @bp.websocket("/fine")
    async def fine() -> None:
        await websocket.accept()
        raise RoomFull()

    @app.errorhandler(500)
    def server_error(error: Exception) -> Any:
        return "handled", 200

    app.register_blueprint(bp)
    with client.websocket_connect("/full") as ws:
        assert ws.receive_json() == {"error": "room full"}
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
    assert (info.value.code, info.value.reason) == (1008, "409 Conflict")
    with pytest.raises(WebSocketRejected) as rejected:
        client.websocket_connect("/nowhere")
    assert rejected.value.status_code == 404
    assert rejected.value.text.strip() == '{"error":"no such websocket"}'


def test_errorhandler_500_chooses_the_close_code(
    app: Ambi, client: AmbiClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.errorhandler(500)
    def server_error(error: Exception) -> Any:
        return "we are on it", 503

    @app.websocket("/boom")
    async def boom() -> None:
        await websocket.accept()
        raise KeyError("missing")

    with client.websocket_connect("/boom") as ws, pytest.raises(WebSocketDisconnect) as info:
        ws.receive()
    assert (info.value.code, info.value.reason) == (1011, "503 Service Unavailable")
    assert caplog.text.count("KeyError: 'missing'") == 1


def test_bad_messages_get_clear_close_codes(app: Ambi, client: AmbiClient, view_kind: str) -> None:
    if view_kind == "def":

        @app.websocket("/text")
        def text() -> None:
            cast(SyncWebsocket, websocket).receive_text()

        @app.websocket("/binary")
        def binary() -> None:
            cast(SyncWebsocket, websocket).receive_bytes()

        @app.websocket("/json")
        def json_in() -> None:
            cast(SyncWebsocket, websocket).receive_json()

    else:

        @app.websocket("/text")
        async def text_async() -> None:
            await websocket.receive_text()

        @app.websocket("/binary")
        async def binary_async() -> None:
            await websocket.receive_bytes()

        @app.websocket("/json")
        async def json_in_async() -> None:
            await websocket.receive_json()

    for path, message, code, reason in [
        ("/text", b"bin", 1003, "Expected a text message, got a binary one."),
        ("/binary", "txt", 1003, "Expected a binary message, got a text one."),
        ("/json", "{oops", 1007, "The message is not valid JSON"),
    ]:
        with client.websocket_connect(path) as ws:
            ws.send(message)
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
        assert info.value.code == code
        assert info.value.reason.startswith(reason)


def test_a_bad_message_can_be_caught_as_bad_request(app: Ambi, client: AmbiClient) -> None:
    @app.websocket("/forgiving")
    async def forgiving() -> None:
        while True:
            try:
                data = await websocket.receive_json()
            except BadRequest as exc:
                await websocket.send_json({"error": exc.description})
                continue
            await websocket.send_json({"ok": data})

    with client.websocket_connect("/forgiving") as ws:
        ws.send_text("nope")
        assert ws.receive_json()["error"].startswith("The message is not valid JSON")
        ws.send_text("[1]")
        assert ws.receive_json() == {"ok": [1]}


def test_oversized_messages_close_1009(app: Ambi, client: AmbiClient, view_kind: str) -> None:
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 10
    seen: list[Any] = []

    if view_kind == "def":

        @app.websocket("/small")
        def small() -> None:
            try:
                while True:
                    websocket.send(websocket.receive())
            except WebSocketDisconnect as exc:
                seen.append(exc.code)

    else:

        @app.websocket("/small")
        async def small_async() -> None:
            try:
                while True:
                    await websocket.send(await websocket.receive())
            except WebSocketDisconnect as exc:
                seen.append(exc.code)

    for too_big in ("x" * 11, b"x" * 11, "é" * 6):  # "é" * 6 is 12 bytes of UTF-8
        with client.websocket_connect("/small") as ws:
            ws.send("exactly 10" if isinstance(too_big, str) else b"exactly 10")
            assert ws.receive() in ("exactly 10", b"exactly 10")
            ws.send(too_big)
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
            assert info.value.code == 1009
            assert info.value.reason == "The message is larger than the limit of 10 bytes."
    assert seen == [1009, 1009, 1009]


def test_the_limit_can_be_raised_per_connection(app: Ambi, client: AmbiClient) -> None:
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 10

    @app.before_websocket
    def raise_limit() -> None:
        if websocket.path == "/big":
            websocket.max_message_size = None

    @app.websocket("/big")
    async def big() -> None:
        await websocket.send(str(len(await websocket.receive())))

    with client.websocket_connect("/big") as ws:
        ws.send("x" * 100_000)
        assert ws.receive_text() == "100000"


# -- routing: websocket versus HTTP ----------------------------------------------------------


def test_unknown_and_http_only_urls_refuse_the_handshake(app: Ambi, client: AmbiClient) -> None:
    @app.get("/page")
    def page() -> str:
        return "page"

    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/nowhere")
    assert info.value.status_code == 404
    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/page")
    assert info.value.status_code == 400
    assert "not a WebSocket endpoint: it answers plain HTTP requests" in info.value.text
    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/nowhere", http_response_extension=False)
    assert (info.value.status_code, info.value.close_code) == (403, 1008)


def test_an_http_request_to_a_websocket_url_is_a_clear_400(
    app: Ambi, make_client: Callable[..., AmbiClient], interface: str
) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send("hi")

    @app.get("/both")
    def both_http() -> str:
        return "http"

    @app.websocket("/both")
    async def both_ws() -> None:
        await websocket.send("websocket")

    client = make_client(app)
    response = client.get("/ws")
    assert response.status_code == 400
    if interface == "wsgi":
        assert "WebSockets need an ASGI server (such as uvicorn)" in response.text
    else:
        assert "connect to it with a WebSocket client" in response.text
    # The same URL may have an HTTP view and a websocket handler.
    assert client.get("/both").text == "http"
    if interface == "wsgi":  # the handshake is the plain GET a WSGI server passes on
        with pytest.raises(WebSocketRejected) as info:
            client.websocket_connect("/ws")
        assert info.value.status_code == 400
        assert "need an ASGI server" in info.value.text
    else:
        with client.websocket_connect("/both") as ws_conn:
            assert ws_conn.receive_text() == "websocket"


def test_wsgi_warns_once_when_websocket_routes_exist(
    app: Ambi, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/")
    def index() -> str:
        return "index"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send("hi")

    with caplog.at_level(logging.WARNING), app.test_client("wsgi") as client:
        assert client.get("/").text == "index"
        assert client.get("/").text == "index"
    warnings = [r for r in caplog.records if "need an ASGI server" in r.getMessage()]
    assert len(warnings) == 1
    assert "websocket routes (ws)" in warnings[0].getMessage()
    assert "e.g. uvicorn" in warnings[0].getMessage()


def test_wsgi_does_not_warn_without_websocket_routes(
    app: Ambi, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/")
    def index() -> str:
        return "index"

    with app.test_client("wsgi") as client:
        assert client.get("/").text == "index"
    assert "ASGI server" not in caplog.text


def test_registration_errors(app: Ambi) -> None:
    async def handler() -> None:
        pass

    with pytest.raises(TypeError, match="takes no 'methods'"):
        app.add_websocket("/ws", "ws", handler, methods=["POST"])
    app.add_websocket("/ws", "ws", handler)
    rule = next(app.url_map.iter_rules("ws"))
    assert rule.websocket
    assert rule.methods == {"GET", "HEAD"}
    assert app.websocket_endpoints == {"ws"}


# -- how handlers run ------------------------------------------------------------------------


def test_a_sync_handler_and_hooks_cost_one_thread_hop(app: Ambi, client: AmbiClient) -> None:
    @app.before_websocket
    def before() -> None:
        g.ready = True

    @app.after_websocket
    def after(response: Any) -> Any:
        return response

    @app.websocket("/sync")
    def sync_handler() -> None:
        for message in cast(SyncWebsocket, websocket):
            websocket.send(message)

    @app.websocket("/async")
    async def async_handler() -> None:
        async for message in websocket:
            await websocket.send(message)

    # The sync chain (hook, handler, hook) runs in one thread for the whole connection;
    # an async handler runs on the loop, its sync hooks hop before and after it.
    for path, hops in (("/sync", 1), ("/async", 2)):
        before_hops = adaptations.thread_hops
        with client.websocket_connect(path) as ws:
            for text in ("a", "b", "c"):
                ws.send_text(text)
                assert ws.receive_text() == text
        assert adaptations.thread_hops - before_hops == hops


def test_an_async_handler_with_async_hooks_uses_no_thread(app: Ambi, client: AmbiClient) -> None:
    @app.before_websocket
    async def before() -> None:
        pass

    @app.websocket("/async")
    async def async_handler() -> None:
        async for message in websocket:
            await websocket.send(message)

    before_hops = adaptations.thread_hops
    with client.websocket_connect("/async") as ws:
        ws.send_text("a")
        assert ws.receive_text() == "a"
    assert adaptations.thread_hops == before_hops


def test_a_chat_room_broadcasts_to_every_member(app: Ambi, client: AmbiClient) -> None:
    rooms: dict[str, set[asyncio.Queue[str]]] = {}

    @app.websocket("/chat/<room>")
    async def chat(room: str) -> None:
        inbox: asyncio.Queue[str] = asyncio.Queue()
        members = rooms.setdefault(room, set())
        members.add(inbox)
        await websocket.accept()

        async def deliver() -> None:
            while True:
                await websocket.send(await inbox.get())

        task = asyncio.create_task(deliver())
        try:
            async for message in websocket:
                for member in members:
                    member.put_nowait(f"{websocket.args['name']}: {message}")
        finally:
            members.discard(inbox)
            task.cancel()

    sockets: list[TestWebsocket] = [
        client.websocket_connect(f"/chat/lobby?name=user{i}") for i in range(5)
    ]
    try:
        sockets[0].send_text("hello")
        sockets[3].send_text("hi")
        for ws in sockets:
            assert {ws.receive_text(), ws.receive_text()} == {"user0: hello", "user3: hi"}
    finally:
        for ws in sockets:
            ws.close()
    assert rooms["lobby"] == set()


def test_routes_command_describes_websocket_endpoints(app: Ambi) -> None:
    @app.websocket("/async")
    async def async_handler() -> None:
        pass

    @app.websocket("/sync")
    def sync_handler() -> None:
        pass

    @app.get("/page")
    def page() -> str:
        return ""

    assert app.websocket_plan_for("async_handler").describe() == {
        "wsgi": "not served (needs an ASGI server)",
        "asgi": "event loop (no thread)",
    }
    with app.app_context():
        output = CliRunner().invoke(cli, ["routes"], obj=ScriptInfo()).output
    lines = {line.split()[0]: " ".join(line.split()) for line in output.splitlines()[2:]}
    assert lines["async_handler"] == (
        "async_handler WEBSOCKET /async not served (needs an ASGI server) event loop (no thread)"
    )
    assert lines["sync_handler"].endswith("worker thread for the connection (one hop)")
    assert lines["page"].startswith("page GET /page")


# -- the ASGI adapter at the protocol level ---------------------------------------------------


class FakeServer:
    """An ASGI websocket server in a few lines: feeds ``receive`` from a list, records
    what the app sends, and can make ``send`` fail like a server whose client is gone."""

    def __init__(self, incoming: list[dict[str, Any]], *, fail_sends: bool = False) -> None:
        self.incoming = list(incoming)
        self.sent: list[dict[str, Any]] = []
        self.fail_sends = fail_sends

    async def receive(self) -> dict[str, Any]:
        if self.incoming:
            return self.incoming.pop(0)
        await asyncio.sleep(3600)  # the client says nothing more
        raise AssertionError("not reached")

    async def send(self, message: dict[str, Any]) -> None:
        if self.fail_sends and message["type"] in ("websocket.send", "websocket.close"):
            raise OSError("the client is gone")
        self.sent.append(message)


def websocket_scope(path: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("10.0.0.1", 1234),
        "server": ("testserver", 80),
        **extra,
    }


@pytest.mark.anyio
async def test_a_client_gone_before_the_handshake_runs_nothing(app: Ambi) -> None:
    called: list[str] = []

    @app.websocket("/ws")
    async def ws() -> None:
        called.append("handler")

    server = FakeServer([{"type": "websocket.disconnect", "code": 1001}])
    await app(websocket_scope("/ws"), server.receive, server.send)
    assert (called, server.sent) == ([], [])


@pytest.mark.anyio
async def test_sends_to_a_gone_client_raise_disconnect(app: Ambi) -> None:
    outcome: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        try:
            await websocket.send("anyone?")
        except WebSocketDisconnect as exc:
            outcome.append(exc.code)

    server = FakeServer([{"type": "websocket.connect"}], fail_sends=True)
    await app(websocket_scope("/ws"), server.receive, server.send)
    # The close that follows fails too, quietly.
    assert outcome == [1006]
    assert [m["type"] for m in server.sent] == ["websocket.accept"]


@pytest.mark.anyio
async def test_the_reader_skips_unknown_messages_and_repeats_the_disconnect(app: Ambi) -> None:
    outcome: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        outcome.append(await websocket.receive())
        for _ in range(2):
            try:
                await websocket.receive()
            except WebSocketDisconnect as exc:
                outcome.append((exc.code, exc.reason))
        outcome.append(websocket.closed)

    server = FakeServer(
        [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "bytes": b"\x01"},
            {"type": "websocket.mystery"},
            {"type": "websocket.disconnect", "code": 1001, "reason": "away"},
        ]
    )
    await app(websocket_scope("/ws"), server.receive, server.send)
    assert outcome == [b"\x01", (1001, "away"), (1001, "away"), True]


@pytest.mark.anyio
async def test_a_streamed_rejection_body_is_sent_in_chunks(app: Ambi) -> None:
    @app.websocket("/ws")
    async def ws() -> Any:
        async def body() -> Any:
            yield "Not "
            yield b"now"

        return body(), 503

    @app.websocket("/sync-body")
    async def sync_body() -> Any:
        return iter(["a", "b"]), 409

    server = FakeServer([{"type": "websocket.connect"}])
    scope = websocket_scope("/ws", extensions={"websocket.http.response": {}})
    await app(scope, server.receive, server.send)
    assert server.sent[0]["type"] == "websocket.http.response.start"
    assert server.sent[0]["status"] == 503
    assert b"".join(m.get("body", b"") for m in server.sent[1:]) == b"Not now"
    assert [m.get("more_body", False) for m in server.sent[1:]] == [True, True, False]

    server = FakeServer([{"type": "websocket.connect"}])
    scope = websocket_scope("/sync-body", extensions={"websocket.http.response": {}})
    await app(scope, server.receive, server.send)
    assert server.sent[0]["status"] == 409
    assert b"".join(m.get("body", b"") for m in server.sent[1:]) == b"ab"


# -- odds and ends -----------------------------------------------------------------------------


def test_reprs_messages_and_truncated_reasons(app: Ambi, client: AmbiClient) -> None:
    seen: dict[str, str] = {}

    @app.before_websocket
    def before() -> None:
        seen["sync"] = repr(websocket._get_current_object())

    @app.websocket("/odd")
    async def odd() -> None:
        seen["async"] = repr(websocket._get_current_object())
        await websocket.close(4000, "é" * 100)  # 200 bytes: cut to at most 123

    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/odd", http_response_extension=False)
    assert info.value.close_code == 4000
    assert info.value.close_reason == "é" * 61
    assert seen["async"] == "<Websocket 'ws://localhost/odd' [connecting]>"
    assert seen["sync"] == "<SyncWebsocket over <Websocket 'ws://localhost/odd' [connecting]>>"
    assert str(WebSocketDisconnect(1001)) == "WebSocket closed with code 1001"
    assert str(WebSocketDisconnect(1008, "no")) == "WebSocket closed with code 1008: no"


def test_a_websocket_without_a_server_says_how_to_test_it(app: Ambi) -> None:
    from ambi._testing_connection import build_test_connection

    connection = build_test_connection("/ws", "GET", b"", [], None, "http://localhost")
    ws = app.create_websocket_context(connection).websocket
    with pytest.raises(RuntimeError, match="websocket_connect"):
        asyncio.run(ws.send("x"))


def test_async_pieces_behind_sync_wrappers_and_a_missing_handler(
    app: Ambi, client: AmbiClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False
    order: list[str] = []

    async def async_before() -> None:
        order.append("before")

    async def async_handler() -> None:
        order.append("handler")
        await websocket.send("hi")

    async def async_after(response: Any) -> Any:
        order.append("after")
        return response

    # Plain def wrappers returning coroutines (a decorator that lost the async marker).
    app.before_websocket(lambda: async_before())
    app.after_websocket(lambda response: async_after(response))
    app.add_websocket("/wrapped", "wrapped", lambda: async_handler())
    app.add_url_rule("/no-handler", "no_handler", websocket=True)

    with client.websocket_connect("/wrapped") as ws:
        assert ws.receive_text() == "hi"
    assert order == ["before", "handler", "after"]
    with pytest.raises(WebSocketRejected) as info:
        client.websocket_connect("/no-handler")
    assert info.value.status_code == 500
    assert "No websocket handler is registered for endpoint 'no_handler'" in caplog.text


def test_a_failing_after_websocket_while_handling_an_error_is_logged(
    app: Ambi, client: AmbiClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.after_websocket
    def after(response: Any) -> Any:
        raise KeyError("after")

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send("hi")

    with client.websocket_connect("/ws") as conn:
        assert conn.receive_text() == "hi"
        with pytest.raises(WebSocketDisconnect) as info:
            conn.receive()
    assert info.value.code == 1011
    assert "after_websocket failed while handling an error" in caplog.text


def test_a_custom_session_interface_opens_the_session(app: Ambi, client: AmbiClient) -> None:
    from ambi.sessions import SecureCookieSessionInterface

    class AsyncSessions(SecureCookieSessionInterface):
        async def open_session(self, app: Any, request: Any) -> Any:  # type: ignore[override]
            session = super().open_session(app, request)
            if session is not None:
                session["opened_by"] = "async interface"
            return session

    app.secret_key = "secret"
    app.session_interface = AsyncSessions()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(session.get("opened_by", "nobody"))

    with client.websocket_connect("/ws") as conn:
        assert conn.receive_text() == "async interface"


def test_describe_an_async_handler_with_sync_hooks(app: Ambi) -> None:
    @app.before_websocket
    def before() -> None:
        pass

    @app.websocket("/ws")
    async def ws() -> None:
        pass

    assert app.websocket_plan_for("ws").describe()["asgi"] == (
        "event loop + worker-thread hops for the sync hooks"
    )


@pytest.mark.anyio
async def test_propagated_errors_still_close_the_socket(app: Ambi) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        raise ValueError("propagated")

    server = FakeServer([{"type": "websocket.connect"}])
    with pytest.raises(ValueError, match="propagated"):
        await app(websocket_scope("/ws"), server.receive, server.send)
    assert [m["type"] for m in server.sent] == ["websocket.accept", "websocket.close"]
    assert server.sent[1]["code"] == 1011


@pytest.mark.anyio
async def test_closing_when_the_client_is_gone_is_quiet(app: Ambi) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        server.fail_sends = True
        await websocket.close(1000)

    server = FakeServer([{"type": "websocket.connect"}])
    await app(websocket_scope("/ws"), server.receive, server.send)
    assert [m["type"] for m in server.sent] == ["websocket.accept"]


@pytest.mark.anyio
async def test_the_channel_before_accepting_and_when_the_server_fails() -> None:
    from ambi.asgi_websocket import ASGIWebsocketChannel

    async def broken_receive() -> dict[str, Any]:
        raise OSError("the server failed")

    async def send(message: dict[str, Any]) -> None:
        pass

    channel = ASGIWebsocketChannel(websocket_scope("/"), broken_receive, send)
    with pytest.raises(RuntimeError, match="before the websocket handshake was accepted"):
        await channel.receive()
    await channel.accept(None, [])
    with pytest.raises(WebSocketDisconnect) as info:
        await channel.receive()
    assert info.value.code == 1006  # the connection is lost
    with pytest.raises(WebSocketDisconnect):
        await channel.receive()
    await channel.stop()


def test_the_test_websocket_api_edges(app: Ambi, client: AmbiClient) -> None:
    @app.websocket("/mixed")
    async def mixed() -> None:
        await websocket.send(b"bytes")
        await websocket.send("text")

    @app.websocket("/silent")
    async def silent() -> None:
        await websocket.accept()
        try:
            await websocket.receive()
        except WebSocketDisconnect:
            await asyncio.sleep(60)  # ignores the disconnect: the test must not hang

    with client.websocket_connect("/mixed") as ws:
        with pytest.raises(TypeError, match="Expected a text message, got binary"):
            ws.receive_text()
        with pytest.raises(TypeError, match="Expected a binary message, got text"):
            ws.receive_bytes()
        with pytest.raises(WebSocketDisconnect):
            ws.receive()
        with pytest.raises(WebSocketDisconnect):  # and again
            ws.receive()
    with pytest.raises(RuntimeError, match="closed by the client"):
        ws.send("late")

    ws = client.websocket_connect("/silent", timeout=0.2)
    with pytest.raises(TimeoutError, match=r"sent nothing within 0\.2 s"):
        ws.receive()
    with pytest.raises(TimeoutError, match=r"did not end within 0\.2 s"):
        ws.close()

    # An error of the test itself is not hidden by the close.
    with pytest.raises(KeyError, match="the test's own"), client.websocket_connect("/mixed"):
        raise KeyError("the test's own")


def test_the_test_websocket_with_a_raw_asgi_app(client: AmbiClient) -> None:
    scope = websocket_scope("/")

    async def ends_without_closing(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})

    ws = TestWebsocket(
        ends_without_closing,
        client._app_transport.loop_thread(),
        scope,
        timeout=5,  # type: ignore[attr-defined]
    )
    with pytest.raises(WebSocketDisconnect) as info:
        ws.receive()
    assert info.value.code == 1006
    with pytest.raises(WebSocketDisconnect):
        ws.receive_json()

    async def odd_messages(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.mystery"})

    ws = TestWebsocket(odd_messages, client._app_transport.loop_thread(), scope, timeout=5)  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match=r"Unexpected ASGI message 'websocket\.mystery'"):
        ws.receive()

    async def odd_handshake(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.send", "text": "too early"})

    with pytest.raises(RuntimeError, match="in answer to the handshake"):
        TestWebsocket(odd_handshake, client._app_transport.loop_thread(), scope, timeout=5)  # type: ignore[attr-defined]
