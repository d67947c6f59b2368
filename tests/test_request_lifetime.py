"""What a request leaves behind, and the ASGI worker-thread hop.

- A request's objects die by reference counting: no reference cycle, so the cyclic GC
  has nothing to do (its runs were the p99 latency under load).
- Under ASGI the last response message is sent with the request context unset, so
  what the server schedules in ``send()`` (uvicorn's keep-alive timer copies the current
  context) does not keep the request alive.
- ``def`` callables under ASGI run in Ambi's worker threads: the task's contextvars are
  copied in, ``anyio.from_thread`` works there, a cancellation waits for the thread, and
  idle threads end with their loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.from_thread
import pytest

import ambi._drivers as drivers
from ambi import Ambi, request
from ambi.ctx import RequestContext
from ambi.globals import _cv_context
from ambi.wrappers import Request, Response

try:
    from tests._asgi import http_scope
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _asgi import http_scope  # type: ignore[no-redef]


class _Exchange:
    """An ASGI server's side of one request: no body, the messages sent kept."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        #: For each message sent, whether a request context was current in send() (not
        #: the context itself: kept here, it would make a cycle through ``receive``).
        self.in_context: list[bool] = []

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.in_context.append(isinstance(_cv_context.get(None), RequestContext))


def _serve_asgi(app: Ambi, count: int, path: str = "/") -> list[_Exchange]:
    async def main() -> list[_Exchange]:
        exchanges = []
        for _ in range(count):
            exchange = _Exchange()
            await app(http_scope(path), exchange.receive, exchange.send)
            exchanges.append(exchange)
        return exchanges

    return asyncio.run(main())


def _serve_wsgi(app: Ambi, count: int) -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        assert status.startswith("200")
        return lambda data: None

    for _ in range(count):
        env = dict(environ, **{"wsgi.input": io.BytesIO(b"")})
        result = app(env, start_response)
        assert b"".join(result) == b"ok"
        getattr(result, "close", lambda: None)()


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_requests_leave_no_cyclic_garbage(
    no_gc: None, interface: str, view_kind: str, as_view: Any
) -> None:
    app = Ambi(__name__)

    @app.get("/")
    @as_view
    def index() -> str:
        return "ok"

    if interface == "wsgi":
        _serve_wsgi(app, 20)
    else:
        _serve_asgi(app, 20)
    gc.collect()
    cyclic = [obj for obj in gc.garbage if isinstance(obj, RequestContext | Request | Response)]
    assert cyclic == []


def test_asgi_last_message_is_sent_outside_the_request_context() -> None:
    app = Ambi(__name__)
    closed: list[str] = []

    @app.get("/")
    async def index() -> str:
        return "ok"

    @app.after_request
    def on_close(response: Response) -> Response:
        response.call_on_close(lambda: closed.append(request.path))  # in the context again
        return response

    (exchange,) = _serve_asgi(app, 1)
    assert [m["type"] for m in exchange.sent] == ["http.response.start", "http.response.body"]
    # A context copied in the last send() holds no request.
    assert exchange.in_context == [True, False]
    assert exchange.sent[1]["body"] == b"ok"
    assert closed == ["/"]


def test_def_view_under_asgi_runs_in_a_worker_thread_with_the_tasks_context() -> None:
    app = Ambi(__name__)
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def on_loop() -> str:
        return threading.current_thread().name

    @app.before_request
    async def set_var() -> None:
        var.set("set by an async hook")

    @app.get("/")
    def index() -> dict[str, str]:
        anyio.from_thread.check_cancelled()
        return {
            "var": var.get(),
            "thread": threading.current_thread().name,
            "loop thread": anyio.from_thread.run(on_loop),
            "path": request.path,
        }

    async def main() -> tuple[dict[str, Any], str]:
        exchange = _Exchange()
        await app(http_scope(), exchange.receive, exchange.send)
        return exchange.sent[1], threading.current_thread().name

    message, loop_thread = asyncio.run(main())
    assert json.loads(message["body"]) == {
        "var": "set by an async hook",
        "thread": "ambi worker thread",
        "loop thread": loop_thread,
        "path": "/",
    }


def test_a_cancelled_request_waits_for_its_def_view() -> None:
    app = Ambi(__name__)
    finished = threading.Event()

    @app.get("/")
    def slow() -> str:
        time.sleep(0.3)
        finished.set()
        return "slow"

    async def main() -> tuple[float, bool]:
        exchange = _Exchange()
        started = time.monotonic()
        with anyio.move_on_after(0.05):
            await app(http_scope(), exchange.receive, exchange.send)
        # The thread can neither be stopped nor abandoned: the cancellation waited.
        return time.monotonic() - started, finished.is_set()

    took, done = asyncio.run(main())
    assert done
    assert took >= 0.25


def test_worker_threads_end_with_their_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drivers, "_IDLE_POLL", 0.05)
    app = Ambi(__name__)
    threads: list[threading.Thread] = []

    @app.get("/")
    def index() -> str:
        threads.append(threading.current_thread())
        return "ok"

    exchanges = _serve_asgi(app, 3)
    assert all(e.sent[1]["body"] == b"ok" for e in exchanges)
    assert len(set(threads)) == 1  # one idle worker, reused
    threads[0].join(timeout=5)
    assert not threads[0].is_alive()


def test_idle_worker_threads_retire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drivers, "_IDLE_POLL", 0.05)
    monkeypatch.setattr(drivers, "_IDLE_SECONDS", 0.1)
    app = Ambi(__name__)
    threads: list[threading.Thread] = []

    @app.get("/")
    def index() -> str:
        threads.append(threading.current_thread())
        return "ok"

    async def main() -> bool:
        await app(http_scope(), _Exchange().receive, _Exchange().send)
        for _ in range(100):  # the loop runs: the idle thread retires
            await asyncio.sleep(0.02)
            if not threads[0].is_alive():
                break
        exchange = _Exchange()
        await app(http_scope(), exchange.receive, exchange.send)  # a new worker serves it
        return exchange.sent[1]["body"] == b"ok"

    assert asyncio.run(main())
    assert len(threads) == 2
    assert threads[0] is not threads[1]
    assert not threads[0].is_alive()


def test_closed_loops_and_their_worker_pools_are_let_go() -> None:
    """A pool refers to its loop: the registry drops those of closed loops (a weak-keyed
    dict kept every loop that ever ran a def view alive)."""

    async def hop() -> int:
        return await drivers._run_in_worker(lambda: 1, (), None)

    loops: list[Any] = []
    for _ in range(5):
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(hop()) == 1
        loops.append(loop)
        loop.close()
    last = asyncio.new_event_loop()
    try:
        assert last.run_until_complete(hop()) == 1  # adding its pool drops the closed ones
        kept = list(drivers._pools._by_loop)
    finally:
        last.close()
    assert kept == [last]
    assert drivers._pools.values() == []  # none open now
