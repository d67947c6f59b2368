"""The adapters at the protocol level: raw ASGI messages and raw WSGI environs."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from ambi import Ambi, g, request

pytestmark = pytest.mark.anyio


class ASGIRecorder:
    """Feeds ``receive`` from a list of messages and records what the app sends."""

    def __init__(self, messages: list[dict[str, Any]], *, then_disconnect: bool = True) -> None:
        self.incoming = list(messages)
        self.sent: list[dict[str, Any]] = []
        self.then_disconnect = then_disconnect
        self.disconnect = anyio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.incoming:
            return self.incoming.pop(0)
        if self.then_disconnect:
            await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.disconnect.set()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])


def http_scope(
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [(b"host", b"testserver")],
        "client": ("10.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


async def test_lifespan_is_acknowledged(app: Ambi) -> None:
    recorder = ASGIRecorder(
        [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}], then_disconnect=False
    )
    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, recorder.receive, recorder.send)
    assert [m["type"] for m in recorder.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_websocket_to_an_unknown_path_is_refused(app: Ambi) -> None:
    # Without the websocket.http.response extension a refusal is a close before the
    # accept (servers answer it with 403); tests/test_websockets.py covers the rest.
    recorder = ASGIRecorder([{"type": "websocket.connect"}], then_disconnect=False)
    await app({"type": "websocket", "path": "/ws"}, recorder.receive, recorder.send)
    assert [(m["type"], m["code"]) for m in recorder.sent] == [("websocket.close", 1008)]


async def test_unknown_scope_type(app: Ambi) -> None:
    recorder = ASGIRecorder([])
    with pytest.raises(ValueError, match="does not handle ASGI scope type 'mystery'"):
        await app({"type": "mystery"}, recorder.receive, recorder.send)


async def test_asgi_environ_view_and_server_host(app: Ambi) -> None:
    @app.get("/env")
    def env() -> dict[str, Any]:
        environ = request.environ
        return {
            "method": environ["REQUEST_METHOD"],
            "path": environ["PATH_INFO"],
            "remote": environ["REMOTE_ADDR"],
            "accept": environ["HTTP_ACCEPT"],
            "type": environ["CONTENT_TYPE"],
            "host": request.host,
            "interface": request.connection.interface,
        }

    recorder = ASGIRecorder([])
    headers = [(b"accept", b"a"), (b"accept", b"b"), (b"content-type", b"text/plain")]
    await app(
        http_scope("/env", headers=headers, server=("example.org", 8080)),
        recorder.receive,
        recorder.send,
    )
    import json

    assert json.loads(recorder.body) == {
        "method": "GET",
        "path": "/env",
        "remote": "10.0.0.1",
        "accept": "a,b",
        "type": "text/plain",
        "host": "example.org:8080",
        "interface": "asgi",
    }


@pytest.mark.parametrize("kind", ["def", "async"])
async def test_asgi_chunked_body_and_disconnect_mid_body(app: Ambi, kind: str) -> None:
    app.testing = False
    torn: list[Any] = []
    app.teardown_request(lambda error: torn.append(error))

    def read() -> str:
        return request.get_data(as_text=True)

    async def read_async() -> str:
        return request.get_data(as_text=True)

    app.add_url_rule("/", "read", read if kind == "def" else read_async, methods=["POST"])
    headers = [(b"transfer-encoding", b"chunked")]
    parts = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    ]
    recorder = ASGIRecorder(parts)
    await app(http_scope("/", "POST", headers), recorder.receive, recorder.send)
    assert (recorder.status, recorder.body) == (200, b"abcd")

    recorder = ASGIRecorder(
        [{"type": "http.request", "body": b"ab", "more_body": True}], then_disconnect=False
    )
    await app(http_scope("/", "POST", headers), recorder.receive, recorder.send)
    assert recorder.status == 400
    assert b"disconnected" in recorder.body
    assert torn == [None, None]


async def test_asgi_async_view_body_over_limit_stops_reading(app: Ambi) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10
    received: list[int] = []

    @app.post("/")
    async def index() -> str:
        return str(len(request.get_data()))

    chunks = [{"type": "http.request", "body": b"x" * 6, "more_body": True} for _ in range(50)]
    recorder = ASGIRecorder(chunks)
    original = recorder.receive

    async def counting_receive() -> dict[str, Any]:
        message = await original()
        received.append(1)
        return message

    await app(
        http_scope("/", "POST", [(b"transfer-encoding", b"chunked")]),
        counting_receive,
        recorder.send,
    )
    assert recorder.status == 413
    assert len(received) == 2  # stopped just past the limit, not all 50 chunks


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_asgi_stream_stops_and_tears_down_on_disconnect(app: Ambi, kind: str) -> None:
    events: list[str] = []

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        events.append(f"teardown {g.name}")

    def sync_gen() -> Iterator[str]:
        try:
            for index in range(1000):
                events.append(f"chunk {index}")
                yield f"{index}"
                import time

                time.sleep(0.01)
        finally:
            events.append("closed")

    async def async_gen() -> AsyncIterator[str]:
        try:
            for index in range(1000):
                events.append(f"chunk {index}")
                yield f"{index}"
                await anyio.sleep(0.01)
        finally:
            events.append("closed")

    @app.get("/")
    def index() -> Any:
        g.name = "stream"
        return sync_gen() if kind == "sync" else async_gen()

    recorder = ASGIRecorder([])

    async def send(message: dict[str, Any]) -> None:
        await recorder.send(message)
        if len(recorder.sent) == 4:  # start + 3 chunks: the client goes away
            recorder.disconnect.set()

    with anyio.fail_after(10):
        await app(http_scope("/"), recorder.receive, send)
    chunks = [event for event in events if event.startswith("chunk")]
    assert 3 <= len(chunks) < 20
    assert events[-2:] == ["closed", "teardown stream"]


async def test_asgi_head_sends_no_body(app: Ambi) -> None:
    @app.get("/")
    def index() -> str:
        return "hello"

    recorder = ASGIRecorder([])
    await app(http_scope("/", "HEAD"), recorder.receive, recorder.send)
    assert recorder.status == 200
    assert recorder.body == b""
    assert recorder.headers[b"content-length"] == b"5"


def wsgi_call(app: Ambi, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], Any]:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None

    body = app(environ, start_response)
    return started[0], started[1], body


def wsgi_environ(
    path: str = "/", method: str = "GET", body: bytes = b"", **extra: Any
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "HTTP_HOST": "localhost",
    }
    environ.update(extra)
    return environ


def test_wsgi_chunked_input_terminated(app: Ambi) -> None:
    @app.post("/")
    def index() -> str:
        return request.get_data(as_text=True)

    status, _, body = wsgi_call(
        app, wsgi_environ("/", "POST", b"chunked body", **{"wsgi.input_terminated": True})
    )
    assert (status, b"".join(body)) == ("200 OK", b"chunked body")
    # Without a length or the terminated flag, WSGI says there is no body.
    status, _, body = wsgi_call(app, wsgi_environ("/", "POST", b"ignored"))
    assert b"".join(body) == b""


def test_wsgi_truncated_body_is_400(app: Ambi) -> None:
    app.testing = False

    @app.post("/")
    def index() -> str:
        return request.get_data(as_text=True)

    status, _, body = wsgi_call(app, wsgi_environ("/", "POST", b"short", CONTENT_LENGTH="100"))
    assert status == "400 BAD REQUEST"
    assert b"disconnected with 95 bytes" in b"".join(body)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_wsgi_stream_close_runs_teardown_once(app: Ambi, kind: str) -> None:
    events: list[str] = []

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        events.append(f"teardown {request.path}")

    def sync_gen() -> Iterator[bytes]:
        try:
            for index in range(100):
                yield f"{index}".encode()
        finally:
            events.append("closed")

    async def async_gen() -> AsyncIterator[bytes]:
        try:
            for index in range(100):
                yield f"{index}".encode()
        finally:
            events.append("closed")

    @app.get("/stream")
    def stream() -> Any:
        return sync_gen() if kind == "sync" else async_gen()

    _status, _headers, body = wsgi_call(app, wsgi_environ("/stream"))
    iterator = iter(body)
    assert [next(iterator), next(iterator)] == [b"0", b"1"]
    assert events == []  # the context is alive while the server iterates
    body.close()  # a client disconnect: the server closes the iterable
    body.close()
    assert events == ["closed", "teardown /stream"]


def test_wsgi_stream_error_mid_body_is_logged_and_torn_down(
    app: Ambi, caplog: pytest.LogCaptureFixture
) -> None:
    torn: list[Any] = []
    app.teardown_request(lambda error: torn.append(error))

    def failing() -> Iterator[str]:
        yield "first"
        raise RuntimeError("generator failed")

    @app.get("/")
    def index() -> Any:
        return failing()

    _status, _, body = wsgi_call(app, wsgi_environ("/"))
    iterator = iter(body)
    assert next(iterator) == b"first"
    with pytest.raises(RuntimeError, match="generator failed"):
        next(iterator)
    body.close()
    assert isinstance(torn[0], RuntimeError)
    assert "Error while streaming the response to /" in caplog.text


def test_wsgi_head_stream_sends_nothing(app: Ambi) -> None:
    closed: list[bool] = []

    def gen() -> Iterator[str]:
        try:
            yield "never sent"
        finally:
            closed.append(True)

    @app.get("/")
    def index() -> Any:
        return gen()

    status, _, body = wsgi_call(app, wsgi_environ("/", "HEAD"))
    assert list(body) == []
    body.close()
    assert status == "200 OK"


def test_wsgi_script_name_and_non_latin1_path_info(app: Ambi) -> None:
    @app.get("/ünï/日本")
    def unicode_view() -> str:
        return f"{request.root_path}|{request.path}"

    # PEP 3333: PATH_INFO holds the bytes as latin-1 "native" text.
    native = "/ünï/日本".encode().decode("latin-1")
    _, _, body = wsgi_call(app, wsgi_environ(native, SCRIPT_NAME="/app/"))
    assert b"".join(body).decode() == "/app|/ünï/日本"
    # Some callers pass decoded text instead; text latin-1 cannot hold is taken as such.
    _status, _, body = wsgi_call(app, wsgi_environ("/ünï/日本"))
    assert b"".join(body).decode() == "|/ünï/日本"


async def test_asgi_stream_error_is_logged_and_torn_down_with_the_error(
    app: Ambi, caplog: pytest.LogCaptureFixture
) -> None:
    torn: list[Any] = []
    app.teardown_request(lambda error: torn.append(error))

    async def failing() -> AsyncIterator[str]:
        yield "first"
        raise RuntimeError("generator failed")

    @app.get("/")
    def index() -> Any:
        return failing()

    recorder = ASGIRecorder([])
    with pytest.raises(RuntimeError, match="generator failed"):
        await app(http_scope("/"), recorder.receive, recorder.send)
    assert isinstance(torn[0], RuntimeError)
    assert "Error while streaming the response to /" in caplog.text


async def test_asgi_declared_length_over_limit_is_refused_unread(app: Ambi) -> None:
    app.testing = False
    app.config["MAX_CONTENT_LENGTH"] = 10
    received: list[int] = []

    @app.post("/")
    async def index() -> str:
        return str(len(request.get_data()))

    recorder = ASGIRecorder([{"type": "http.request", "body": b"x" * 100}])

    async def receive() -> dict[str, Any]:
        received.append(1)
        return await recorder.receive()

    await app(http_scope("/", "POST", [(b"content-length", b"100")]), receive, recorder.send)
    assert recorder.status == 413
    assert received == []


def test_error_handlers_run_inside_except(app: Ambi, caplog: pytest.LogCaptureFixture) -> None:
    import sys

    app.testing = False
    seen: list[Any] = []

    @app.errorhandler(ValueError)
    def handle(error: ValueError) -> tuple[str, int]:
        seen.append(sys.exc_info()[1])
        app.logger.exception("handled")
        return "handled", 400

    @app.get("/")
    def index() -> str:
        raise ValueError("bad value")

    with app.test_client() as client:
        assert client.get("/").status_code == 400
    assert isinstance(seen[0], ValueError)
    assert "ValueError: bad value" in caplog.text
