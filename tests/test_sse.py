"""Server-sent events: ``EventStream`` / ``sse()`` and ``ServerSentEvent``.

* The wire format, in isolation: data lines, JSON, fields, comments, and what is refused.
* In process, on both interfaces, with ``def`` and ``async def`` views returning sync and
  async generators: framing and headers, the app's JSON provider, keep-alive pings
  between slow events, the request context inside the generator (``Last-Event-ID``
  resuming included), teardown after the generator's ``finally``.
* At the protocol level (raw WSGI calls and ASGI messages): a client going away while the
  generator is quiet closes it and tears the request down; errors mid-stream; at most
  one chunk is produced ahead of the server; WSGI runs a sync generator with no loop.
* Under real servers (``tests.server_apps.sse_app``): events arrive one by one with pings
  while the generator is quiet, and a client that reads two events and leaves gets the
  generator's ``finally`` and the request's teardown run, in that order.
"""

from __future__ import annotations

import asyncio
import io
import json
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from ambi import Ambi, EventStream, ServerSentEvent, g, request, session, sse
from ambi._drivers import adaptations
from ambi._sse_format import PING, encode_event
from ambi.json import DefaultJSONProvider
from ambi.testing import AmbiClient

try:
    from tests._asgi import http_scope
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _asgi import http_scope  # type: ignore[no-redef]

try:
    from tests._servers import (
        ASGI_SERVERS,
        WSGI_SERVERS,
        RunningServer,
        on_servers,
        pooled_server_fixtures,
    )
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import (  # type: ignore[no-redef]
        ASGI_SERVERS,
        WSGI_SERVERS,
        RunningServer,
        on_servers,
        pooled_server_fixtures,
    )

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]
PING_TEXT = PING.decode()


@pytest.fixture(params=["sync", "async"])
def gen_kind(request: pytest.FixtureRequest) -> str:
    """Whether the view returns a sync or an async generator."""
    return str(request.param)


def events_of(kind: str, items: list[Any], pause: float = 0.0) -> Any:
    """A sync or async generator of ``items``, pausing ``pause`` seconds between them."""

    def sync_events() -> Iterator[Any]:
        for index, item in enumerate(items):
            if index and pause:
                time.sleep(pause)
            yield item

    async def async_events() -> AsyncIterator[Any]:
        for index, item in enumerate(items):
            if index and pause:
                await asyncio.sleep(pause)
            yield item

    return sync_events() if kind == "sync" else async_events()


def blocks(body: str) -> list[str]:
    """The events of a stream body, each without its closing blank line."""
    assert body.endswith("\n\n"), body
    return body[:-2].split("\n\n")


# -- 1. the wire format -----------------------------------------------------------------------


def test_plain_values_are_data_lines() -> None:
    assert encode_event("hello") == b"data: hello\n\n"
    assert encode_event("") == b"data: \n\n"
    # CR, LF and CRLF end lines in this format; other Unicode breaks are data.
    assert encode_event("a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert encode_event("x\u2028y\x0bz") == "data: x\u2028y\x0bz\n\n".encode()
    assert encode_event("line\n") == b"data: line\ndata: \n\n"


def test_other_values_are_json_with_the_app_provider(app: Ambi) -> None:
    # Outside an app: the standard library.
    assert encode_event({"b": 1, "a": [1, 2]}) == b'data: {"b": 1, "a": [1, 2]}\n\n'
    assert encode_event([1, "é"]) == b'data: [1, "\\u00e9"]\n\n'
    assert encode_event(42) == b"data: 42\n\n"
    assert encode_event(None) == b""  # nothing: see test_yielding_none_sends_nothing
    assert encode_event("null") == b"data: null\n\n"

    class Provider(DefaultJSONProvider):
        def dumps(self, obj: Any, **kwargs: Any) -> str:
            return super().dumps(obj, separators=(",", ":"), indent=None, **kwargs)

    app.json = Provider(app)
    with app.app_context():
        # The app's provider: keys sorted (Flask's default), compact here.
        assert encode_event({"b": 1, "a": [1, 2]}) == b'data: {"a":[1,2],"b":1}\n\n'

    class Indented(DefaultJSONProvider):
        def dumps(self, obj: Any, **kwargs: Any) -> str:
            return super().dumps(obj, indent=2, **kwargs)

    app.json = Indented(app)
    with app.app_context():
        # An indented document spans data lines; the browser joins them with "\n".
        assert encode_event({"a": 1}) == b'data: {\ndata:   "a": 1\ndata: }\n\n'
    with pytest.raises(TypeError, match="decode it first"):
        encode_event(b"raw bytes")


def test_server_sent_event_fields() -> None:
    event = ServerSentEvent({"price": 10}, event="price", id=7, retry=2500, comment="first\nsecond")
    assert event.id == "7"
    assert encode_event(event) == (
        b': first\n: second\nevent: price\nid: 7\nretry: 2500\ndata: {"price": 10}\n\n'
    )
    assert ServerSentEvent("two\nlines", id="a-1").encode() == (
        b"id: a-1\ndata: two\ndata: lines\n\n"
    )
    # No data: the browser dispatches nothing but applies id and retry.
    assert ServerSentEvent(retry=0).encode() == b"retry: 0\n\n"
    assert ServerSentEvent(id="").encode() == b"id: \n\n"  # resets the last event id
    assert ServerSentEvent(comment="hi").encode() == b": hi\n\n"
    assert ServerSentEvent(comment="").encode() == b": \n\n"
    assert ServerSentEvent().encode() == b"\n"


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "a\x00b", "\n"])
@pytest.mark.parametrize("field", ["event", "id"])
def test_line_breaks_and_nul_in_event_and_id_are_refused(field: str, bad: str) -> None:
    with pytest.raises(ValueError, match=f"ServerSentEvent {field}=.* break the event-stream"):
        ServerSentEvent("data", **{field: bad})


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"retry": -1}, ValueError),
        ({"retry": 1.5}, ValueError),
        ({"retry": "10"}, ValueError),
        ({"retry": True}, ValueError),
        ({"id": 1.5}, TypeError),
        ({"id": True}, TypeError),
        ({"event": 3}, TypeError),
        ({"comment": 3}, TypeError),
    ],
)
def test_bad_field_types_are_refused(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        ServerSentEvent("data", **kwargs)


def test_event_stream_arguments() -> None:
    for bad in (0, -1, "5", True, float("nan")):
        with pytest.raises(ValueError, match="ping_interval must be a positive number"):
            EventStream(iter(()), ping_interval=bad)
    for not_events in ("a string", b"bytes", {"a": 1}, 42):
        with pytest.raises(TypeError, match="EventStream needs a generator"):
            EventStream(not_events)  # type: ignore[arg-type]
    stream = EventStream(iter(()))
    assert stream.ping_interval == EventStream.default_ping_interval == 15.0
    assert stream.is_streamed

    class Quiet(EventStream):
        default_ping_interval = None

    assert Quiet(iter(())).ping_interval is None
    assert sse(iter(()), ping_interval=2).ping_interval == 2


# -- 2. in process, both interfaces, def and async def views, sync and async generators -------


def test_framing_and_headers(
    app: Ambi, client: AmbiClient, as_view: MakeView, gen_kind: str
) -> None:
    items = [
        "plain",
        "two\nlines",
        {"b": 2, "a": ["é"]},
        [1, 2],
        ServerSentEvent("x", event="update", id=7, retry=2500),
        ServerSentEvent(comment="just a comment"),
    ]

    def view() -> Any:
        return sse(events_of(gen_kind, items), 201, {"X-Stream": "1"}, ping_interval=None)

    app.get("/events")(as_view(view))
    response = client.get("/events")
    assert response.status_code == 201
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-stream"] == "1"
    assert "content-length" not in response.headers
    assert response.text == (
        "data: plain\n\n"
        "data: two\ndata: lines\n\n"
        'data: {"a": ["\\u00e9"], "b": 2}\n\n'
        "data: [1, 2]\n\n"
        "event: update\nid: 7\nretry: 2500\ndata: x\n\n"
        ": just a comment\n\n"
    )


def test_headers_given_are_kept(app: Ambi, client: AmbiClient) -> None:
    @app.get("/")
    def index() -> Any:
        stream = EventStream(iter(["a"]), headers={"Cache-Control": "no-store"})
        stream.headers["Content-Length"] = "99"  # wrong for a stream; set after the fact
        return stream

    @app.get("/sized")
    def sized() -> Any:
        return EventStream(iter(["a"]), headers={"Content-Length": "5"})

    response = client.get("/")
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/sized").headers.get("content-length") is None


def test_pings_between_slow_events(
    app: Ambi, client: AmbiClient, as_view: MakeView, gen_kind: str
) -> None:
    def view() -> Any:
        return sse(events_of(gen_kind, ["one", "two"], pause=0.4), ping_interval=0.05)

    app.get("/events")(as_view(view))
    events = blocks(client.get("/events").text)
    first, second = events.index("data: one"), events.index("data: two")
    assert first < second
    pings_between = events[first + 1 : second]
    assert len(pings_between) >= 2, events
    assert set(pings_between) == {PING_TEXT[:-2]}
    assert set(events) == {"data: one", "data: two", ": ping"}


def test_no_pings_when_disabled(app: Ambi, client: AmbiClient, gen_kind: str) -> None:
    @app.get("/events")
    def view() -> Any:
        return sse(events_of(gen_kind, ["one", "two"], pause=0.15), ping_interval=None)

    assert client.get("/events").text == "data: one\n\ndata: two\n\n"


@pytest.mark.parametrize("ping_interval", [None, 0.05])
def test_yielding_none_sends_nothing(
    app: Ambi, client: AmbiClient, gen_kind: str, ping_interval: float | None
) -> None:
    @app.get("/events")
    def view() -> Any:
        items = ["a", None, None, "b", None]
        return sse(events_of(gen_kind, items), ping_interval=ping_interval)

    assert client.get("/events").text == "data: a\n\ndata: b\n\n"


def test_request_context_inside_the_generator_and_resuming(
    app: Ambi, client: AmbiClient, as_view: MakeView, gen_kind: str
) -> None:
    app.secret_key = "sse secret"

    @app.post("/login")
    def login() -> str:
        session["user"] = "ada"
        return "ok"

    def describe(number: int) -> ServerSentEvent:
        return ServerSentEvent(
            {"n": number, "g": g.label, "path": request.path, "user": session.get("user")},
            id=str(number),
        )

    def sync_events(start: int) -> Iterator[ServerSentEvent]:
        for number in range(start, start + 2):
            time.sleep(0.06)  # pings go out meanwhile: the context survives the wait
            yield describe(number)

    async def async_events(start: int) -> AsyncIterator[ServerSentEvent]:
        for number in range(start, start + 2):
            await asyncio.sleep(0.06)
            yield describe(number)

    def view() -> Any:
        g.label = "set in the view"
        last = request.headers.get("Last-Event-ID")
        start = int(last) + 1 if last is not None else 0
        events = sync_events(start) if gen_kind == "sync" else async_events(start)
        return sse(events, ping_interval=0.02)

    app.get("/events")(as_view(view))
    client.post("/login")
    first = [block for block in blocks(client.get("/events").text) if block != ": ping"]
    assert first == [
        'id: 0\ndata: {"g": "set in the view", "n": 0, "path": "/events", "user": "ada"}',
        'id: 1\ndata: {"g": "set in the view", "n": 1, "path": "/events", "user": "ada"}',
    ]
    # The browser reconnects with the last id it saw: the stream resumes after it.
    resumed = client.get("/events", headers={"Last-Event-ID": "1"}).text
    data = [
        json.loads(block.partition("data: ")[2]) for block in blocks(resumed) if "data" in block
    ]
    assert [item["n"] for item in data] == [2, 3]


def test_finally_runs_before_teardown(
    app: Ambi, client: AmbiClient, as_view: MakeView, gen_kind: str
) -> None:
    order: list[str] = []

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        order.append(f"teardown {error}")

    def sync_events() -> Iterator[str]:
        try:
            yield "a"
        finally:
            order.append("finally")

    async def async_events() -> AsyncIterator[str]:
        try:
            yield "a"
        finally:
            order.append("finally")

    def view() -> Any:
        return sse(sync_events() if gen_kind == "sync" else async_events(), ping_interval=1)

    app.get("/events")(as_view(view))
    assert client.get("/events").text == "data: a\n\n"
    assert order == ["finally", "teardown None"]


def test_head_sends_no_body_and_never_starts_the_generator(
    app: Ambi, client: AmbiClient, gen_kind: str
) -> None:
    started: list[bool] = []
    torn_down: list[bool] = []
    app.teardown_request(lambda error: torn_down.append(True))

    def sync_events() -> Iterator[str]:
        started.append(True)
        yield "never sent"

    async def async_events() -> AsyncIterator[str]:
        started.append(True)
        yield "never sent"

    @app.get("/events")
    def view() -> Any:
        return sse(sync_events() if gen_kind == "sync" else async_events(), ping_interval=0.05)

    response = client.head("/events")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.content == b""
    assert started == []
    assert torn_down == [True]


# -- 3. the protocol level: disconnects, errors, back-pressure --------------------------------


def wsgi_environ(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "HTTP_HOST": "localhost",
    }


def wsgi_get(app: Ambi, path: str) -> tuple[str, dict[str, str], Any]:
    """Call the WSGI app as a server does; return status, headers and the body iterable."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, dict(headers)]
        return lambda data: None

    body = app.wsgi_app(wsgi_environ(path), start_response)
    return started[0], started[1], body


class ASGIClient:
    """Plays the ASGI server for one request: records what is sent and reports a
    disconnect once ``leave_after`` events (pings aside) have been sent."""

    def __init__(self, leave_after: int | None = None) -> None:
        self.leave_after = leave_after
        self.sent: list[dict[str, Any]] = []
        self.gone = anyio.Event()

    @property
    def body(self) -> bytes:
        return b"".join(message.get("body", b"") for message in self.sent[1:])

    def events(self) -> list[str]:
        return [block for block in self.body.decode().split("\n\n") if block and block != ": ping"]

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        finished = message["type"] == "http.response.body" and not message.get("more_body")
        if finished or (self.leave_after is not None and len(self.events()) >= self.leave_after):
            self.gone.set()


def quiet_generators(log: list[str], *, quiet: float) -> tuple[Any, Any]:
    """Generators that yield two events, then stay quiet for ``quiet`` seconds (the sync
    one in short sleeps), then one more; each logs where it is."""

    def sync_events() -> Iterator[str]:
        try:
            log.append(f"start {g.label}")
            yield "one"
            yield "two"
            deadline = time.monotonic() + quiet
            while time.monotonic() < deadline:
                time.sleep(0.02)
            log.append("after quiet")
            yield "three"
        except GeneratorExit:
            log.append("GeneratorExit")
            raise
        finally:
            log.append("finally")

    async def async_events() -> AsyncIterator[str]:
        try:
            log.append(f"start {g.label}")
            yield "one"
            yield "two"
            await asyncio.sleep(quiet)
            log.append("after quiet")
            yield "three"
        except asyncio.CancelledError:
            log.append("cancelled")
            raise
        finally:
            await asyncio.sleep(0)  # an await in finally (unsubscribing, say) still runs
            log.append("finally")

    return sync_events, async_events


def quiet_app(app: Ambi, gen_kind: str, log: list[str], quiet: float) -> None:
    sync_events, async_events = quiet_generators(log, quiet=quiet)

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        log.append(f"teardown {error}")

    @app.get("/events")
    def view() -> Any:
        g.label = "g"
        return sse(sync_events() if gen_kind == "sync" else async_events(), ping_interval=0.02)


def test_wsgi_disconnect_while_quiet_closes_the_generator_then_tears_down(
    app: Ambi, gen_kind: str
) -> None:
    log: list[str] = []
    quiet_app(app, gen_kind, log, quiet=0.3 if gen_kind == "sync" else 30.0)
    status, headers, body = wsgi_get(app, "/events")
    assert status == "200 OK"
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    iterator = iter(body)
    received = [next(iterator), next(iterator)]
    assert received == [b"data: one\n\n", b"data: two\n\n"]
    # The generator is quiet now: the server keeps getting pings.
    assert [next(iterator) for _ in range(3)] == [PING] * 3
    assert log == ["start g"]
    started = time.monotonic()
    body.close()  # what the server does once a write to the gone client fails
    elapsed = time.monotonic() - started
    body.close()
    if gen_kind == "sync":
        # A sync generator cannot be interrupted: it finishes its step, then is closed
        # at its yield.
        assert log == ["start g", "after quiet", "GeneratorExit", "finally", "teardown None"]
    else:
        # An async generator is cancelled where it waits: no 30 s wait.
        assert log == ["start g", "cancelled", "finally", "teardown None"]
        assert elapsed < 5


def test_wsgi_sync_generator_yielding_none_stops_promptly(app: Ambi) -> None:
    log: list[str] = []
    inbox: queue.Queue[str] = queue.Queue()

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        log.append("teardown")

    def events() -> Iterator[str | None]:
        try:
            yield "hello"
            while True:  # nothing ever arrives
                try:
                    yield inbox.get(timeout=0.05)
                except queue.Empty:
                    yield None  # nothing to send: a point where the stream can stop
        finally:
            log.append("finally")

    @app.get("/events")
    def view() -> Any:
        return sse(events(), ping_interval=0.02)

    _status, _headers, body = wsgi_get(app, "/events")
    iterator = iter(body)
    assert next(iterator) == b"data: hello\n\n"
    assert next(iterator) == PING  # the Nones sent nothing; the pings still go out
    started = time.monotonic()
    body.close()
    assert time.monotonic() - started < 1
    assert log == ["finally", "teardown"]


@pytest.mark.anyio
async def test_asgi_disconnect_while_quiet_closes_the_generator_then_tears_down(
    app: Ambi, gen_kind: str
) -> None:
    log: list[str] = []
    quiet_app(app, gen_kind, log, quiet=0.3 if gen_kind == "sync" else 30.0)
    client = ASGIClient(leave_after=2)
    with anyio.fail_after(10):
        await app(http_scope("/events"), client.receive, client.send)
    assert client.sent[0]["status"] == 200
    assert client.events() == ["data: one", "data: two"]
    if gen_kind == "sync":
        assert log == ["start g", "after quiet", "GeneratorExit", "finally", "teardown None"]
    else:
        assert log == ["start g", "cancelled", "finally", "teardown None"]


@pytest.mark.anyio
async def test_asgi_pings_while_quiet(app: Ambi, gen_kind: str) -> None:
    log: list[str] = []
    quiet_app(app, gen_kind, log, quiet=0.3)
    client = ASGIClient()
    with anyio.fail_after(10):
        await app(http_scope("/events"), client.receive, client.send)
    chunks = [message.get("body", b"") for message in client.sent[1:]]
    assert chunks[:2] == [b"data: one\n\n", b"data: two\n\n"]
    assert chunks[-2:] == [b"data: three\n\n", b""]
    assert set(chunks[2:-2]) == {PING}
    assert len(chunks[2:-2]) >= 3
    assert log == ["start g", "after quiet", "finally", "teardown None"]


def failing_generators() -> tuple[Any, Any]:
    def sync_events() -> Iterator[Any]:
        yield "fine"
        yield ServerSentEvent("bad", event="line\nbreak")

    async def async_events() -> AsyncIterator[Any]:
        yield "fine"
        await asyncio.sleep(0.1)  # a ping or two first
        yield ServerSentEvent("bad", event="line\nbreak")

    return sync_events, async_events


def test_wsgi_error_mid_stream_ends_it_and_reaches_teardown(
    app: Ambi, gen_kind: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.logger, "disabled", False)  # another test may have disabled it
    torn: list[Any] = []
    app.teardown_request(lambda error: torn.append(error))
    sync_events, async_events = failing_generators()

    @app.get("/events")
    def view() -> Any:
        return sse(sync_events() if gen_kind == "sync" else async_events(), ping_interval=0.02)

    _status, _headers, body = wsgi_get(app, "/events")
    received: list[bytes] = []

    def read_all() -> None:
        received.extend(body)

    with pytest.raises(ValueError, match="break the event-stream framing"):
        read_all()
    body.close()
    assert received[0] == b"data: fine\n\n"
    assert set(received[1:]) <= {PING}
    assert isinstance(torn[0], ValueError)
    assert "Error while streaming the response to /events" in caplog.text


@pytest.mark.anyio
async def test_asgi_error_mid_stream_ends_it_and_reaches_teardown(
    app: Ambi, gen_kind: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.logger, "disabled", False)  # another test may have disabled it
    torn: list[Any] = []
    app.teardown_request(lambda error: torn.append(error))
    sync_events, async_events = failing_generators()

    @app.get("/events")
    def view() -> Any:
        return sse(sync_events() if gen_kind == "sync" else async_events(), ping_interval=0.02)

    client = ASGIClient()
    with anyio.fail_after(10), pytest.raises(ValueError, match="break the event-stream framing"):
        await app(http_scope("/events"), client.receive, client.send)
    assert client.events() == ["data: fine"]
    assert isinstance(torn[0], ValueError)
    assert "Error while streaming the response to /events" in caplog.text


def test_the_generator_gets_at_most_two_events_ahead(app: Ambi, gen_kind: str) -> None:
    produced: list[int] = []
    closed: list[str] = []

    def sync_events() -> Iterator[int]:
        try:
            for number in range(1000):
                produced.append(number)
                yield number
        finally:
            closed.append(threading.current_thread().name)

    async def async_events() -> AsyncIterator[int]:
        try:
            for number in range(1000):
                produced.append(number)
                yield number
        finally:
            await asyncio.sleep(0)
            closed.append(threading.current_thread().name)

    @app.get("/events")
    def view() -> Any:
        return sse(sync_events() if gen_kind == "sync" else async_events(), ping_interval=0.02)

    _status, _headers, body = wsgi_get(app, "/events")
    iterator = iter(body)
    assert next(iterator) == b"data: 0\n\n"
    time.sleep(0.2)
    # One taken, one waiting in the slot, one more made and waiting to go in.
    assert len(produced) <= 3
    assert next(iterator) == b"data: 1\n\n"
    assert closed == []
    body.close()  # the generator waits at its yield: closed there
    assert len(produced) <= 4
    # A sync generator is closed in the thread that runs it; an async one on the loop of
    # the server's thread.
    assert closed == ["ambi-sse-generator" if gen_kind == "sync" else "MainThread"]


def test_wsgi_runs_a_sync_generator_with_no_event_loop(app: Ambi) -> None:
    threads: list[str] = []

    def events() -> Iterator[str]:
        threads.append(threading.current_thread().name)
        for number in range(3):
            time.sleep(0.03)
            yield str(number)

    @app.get("/events")
    def view() -> Any:
        return sse(events(), ping_interval=0.01)

    before = adaptations.snapshot()
    with app.test_client("wsgi") as client:
        text = client.get("/events").text
    assert [block for block in blocks(text) if block != ": ping"] == [
        "data: 0",
        "data: 1",
        "data: 2",
    ]
    assert ": ping" in blocks(text)
    assert adaptations.snapshot() == before  # no loop entered, no thread hop counted
    assert threads == ["ambi-sse-generator"]


@pytest.mark.anyio
@pytest.mark.parametrize("ping_interval", [None, 1.0])
@pytest.mark.parametrize(
    ("gen_kind", "closing"), [("sync", "close"), ("sync", "aclose"), ("async", "aclose")]
)
async def test_a_body_closed_unread_closes_a_started_generator(
    gen_kind: str, closing: str, ping_interval: float | None
) -> None:
    # A server closes a body it never iterated (HEAD under WSGI): the user's iterator is
    # closed all the same, started or not.
    closed: list[bool] = []

    def sync_events() -> Iterator[str]:
        try:
            yield "primed"
            yield "never sent"
        finally:
            closed.append(True)

    async def async_events() -> AsyncIterator[str]:
        try:
            yield "primed"
            yield "never sent"
        finally:
            closed.append(True)

    events: Any
    if gen_kind == "sync":
        events = sync_events()
        assert next(events) == "primed"
    else:
        events = async_events()
        assert await events.__anext__() == "primed"
    body: Any = EventStream(events, ping_interval=ping_interval).response
    if closing == "close":
        body.close()  # the WSGI adapter's way
    elif hasattr(body, "aclose"):
        await body.aclose()  # the ASGI adapter's way
    else:
        await anyio.to_thread.run_sync(body.close)  # a plain sync body under ASGI
    assert closed == [True]


@pytest.mark.anyio
async def test_async_bodies_after_the_end_and_without_aclose() -> None:
    class Countdown:
        """An async iterator with no aclose()."""

        def __init__(self) -> None:
            self.left = 2

        def __aiter__(self) -> Countdown:
            return self

        async def __anext__(self) -> int:
            if not self.left:
                raise StopAsyncIteration
            self.left -= 1
            return self.left

    for ping_interval in (None, 1.0):
        body: Any = EventStream(Countdown(), ping_interval=ping_interval).response
        assert [chunk async for chunk in body] == [b"data: 1\n\n", b"data: 0\n\n"]
        with pytest.raises(StopAsyncIteration):
            await body.__anext__()
        await body.aclose()


def test_sync_body_after_the_end(app: Ambi) -> None:
    @app.get("/events")
    def view() -> Any:
        return sse(iter(["only"]), ping_interval=1)

    _status, _headers, body = wsgi_get(app, "/events")
    assert list(body) == [b"data: only\n\n"]
    assert list(body) == []  # still ended
    body.close()


@pytest.mark.anyio
async def test_a_producer_cancelled_from_outside_ends_the_stream() -> None:
    async def events() -> AsyncIterator[str]:
        yield "first"
        await asyncio.sleep(30)
        yield "never"

    body: Any = EventStream(events(), ping_interval=0.02).response
    assert await body.__anext__() == b"data: first\n\n"
    body._producer.cancel()  # as a loop shutting down would

    async def read_until_the_end() -> None:
        while await body.__anext__() == PING:
            pass

    with pytest.raises(RuntimeError, match="task was cancelled"):
        await read_until_the_end()
    await body.aclose()


# -- 4. under real servers ----------------------------------------------------------------------

TARGET = "tests.server_apps.sse_app:app"
SSE_SERVERS = [*ASGI_SERVERS, *WSGI_SERVERS]
READ_TIMEOUT = 10.0
REPORT_DEADLINE = 5.0


server_pool, server = pooled_server_fixtures(TARGET)


class EventReader:
    """Reads a live event stream block by block (pings included)."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.iter_lines()

    def next_block(self) -> str:
        lines: list[str] = []
        for line in self._lines:
            if line == "":
                if lines:
                    return "\n".join(lines)
                continue
            lines.append(line)
        raise AssertionError(f"the stream ended; read so far: {lines}")

    def next_event(self) -> dict[str, Any]:
        """The next event that is not a ping, as {"id": ..., "data": parsed JSON}."""
        while True:
            block = self.next_block()
            if block != ": ping":
                fields = dict(line.split(": ", 1) for line in block.split("\n"))
                return {"id": fields.get("id"), "data": json.loads(fields["data"])}


def report(server: RunningServer, rid: str) -> dict[str, Any]:
    with server.client(timeout=READ_TIMEOUT) as http:
        answer: dict[str, Any] = http.get("/report", params={"id": rid}).json()
        return answer


@pytest.mark.server
@on_servers(*SSE_SERVERS)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_events_arrive_one_by_one_with_pings_while_quiet(server: RunningServer, kind: str) -> None:
    rid = uuid.uuid4().hex
    with (
        server.client(timeout=READ_TIMEOUT) as http,
        http.stream(
            "GET", f"/events/{kind}", params={"id": rid}, headers={"Last-Event-ID": "41"}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert "content-length" not in response.headers
        reader = EventReader(response)
        first = reader.next_event()
        # Read while the generator waits for the release below: it has not finished.
        assert first == {
            "id": "0",
            "data": {"n": 0, "g": rid, "path": f"/events/{kind}", "last_event_id": "41"},
        }
        assert reader.next_block() == ": ping"  # the generator is quiet, pings go out
        assert reader.next_block() == ": ping"
        assert report(server, rid)["events"] == ["view", "generator-start"]
        http.post("/release", params={"id": rid})
        assert reader.next_event() == {"id": "1", "data": {"n": 1}}
        assert reader.next_event() == {"id": "2", "data": {"n": 2}}


@pytest.mark.server
@on_servers(*SSE_SERVERS)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_client_leaving_closes_the_generator_then_tears_down(
    server: RunningServer, kind: str
) -> None:
    rid = uuid.uuid4().hex
    with server.client(timeout=READ_TIMEOUT) as http:
        http.post("/release", params={"id": rid})  # no quiet spell: events keep coming
        with http.stream("GET", f"/events/{kind}", params={"id": rid}) as response:
            reader = EventReader(response)
            assert reader.next_event()["data"]["n"] == 0
            assert reader.next_event()["data"]["n"] == 1
        # Leaving the block closed the connection half-way through the stream.
    deadline = time.monotonic() + REPORT_DEADLINE
    answer = report(server, rid)
    while "teardown" not in answer["events"] and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = report(server, rid)
    assert answer["events"] == ["view", "generator-start", "finally", "teardown"], answer
    assert answer["seen"]["teardown_error"] is None
