"""The costs DESIGN.md promises, proven by counting adaptations (never by timing).

- WSGI + ``def``: called directly, no event loop touched.
- ASGI + ``async def``: awaited directly, no thread touched.
- ASGI + a route whose hooks and view are all ``def``: exactly one worker-thread hop.
- WSGI + ``async def``: the worker thread's persistent loop, one loop entry per request,
  and loop-bound objects survive from one request to the next.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import anyio.to_thread
import pytest

import ambi._drivers as drivers
from ambi import Ambi, Response, g, request


def _delta(before: tuple[int, int, int]) -> tuple[int, int, int]:
    after = drivers.adaptations.snapshot()
    return (after[0] - before[0], after[1] - before[1], after[2] - before[2])


def test_wsgi_def_view_touches_no_event_loop(app: Ambi, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_loop(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an event loop was touched for a def view under WSGI")

    monkeypatch.setattr(drivers, "thread_event_loop", no_loop)
    monkeypatch.setattr(asyncio, "new_event_loop", no_loop)
    seen: dict[str, Any] = {}

    @app.before_request
    def hook() -> None:
        seen["hook_thread"] = threading.get_ident()

    @app.get("/")
    def index() -> str:
        seen["view_thread"] = threading.get_ident()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen["loop_running"] = False
        else:
            seen["loop_running"] = True
        return "sync"

    with app.test_client("wsgi") as client:
        before = drivers.adaptations.snapshot()
        assert client.get("/").text == "sync"
        assert _delta(before) == (0, 0, 0)
    assert seen == {
        "hook_thread": threading.get_ident(),
        "view_thread": threading.get_ident(),
        "loop_running": False,
    }


def test_asgi_async_view_touches_no_thread(app: Ambi, monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_thread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a worker thread was used for an async view under ASGI")

    seen: list[int] = []

    @app.before_request
    async def hook() -> None:
        seen.append(threading.get_ident())

    @app.after_request
    async def after(response: Response) -> Response:
        seen.append(threading.get_ident())
        return response

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        seen.append(threading.get_ident())

    @app.post("/")
    async def index() -> dict[str, Any]:
        seen.append(threading.get_ident())
        return {"got": request.get_json()}  # the blocking body API, no thread needed

    with app.test_client("asgi") as client:
        client.get("/missing")  # warm up the client's loop thread
        seen.clear()
        monkeypatch.setattr(anyio.to_thread, "run_sync", no_thread)
        monkeypatch.setattr(drivers, "_run_in_worker", no_thread)  # the driver's own hop
        before = drivers.adaptations.snapshot()
        response = client.post("/", json={"a": 1})
        assert response.json() == {"got": {"a": 1}}
        assert _delta(before) == (0, 0, 0)
    assert len(seen) == 4
    assert len(set(seen)) == 1  # every callable on the event loop's thread
    assert seen[0] != threading.get_ident()  # which is the client's loop thread, not ours


def test_asgi_all_sync_route_costs_exactly_one_thread_hop(app: Ambi) -> None:
    threads: list[int] = []

    @app.url_value_preprocessor
    def preprocess(endpoint: str | None, values: dict[str, Any] | None) -> None:
        threads.append(threading.get_ident())

    @app.before_request
    def before_one() -> None:
        threads.append(threading.get_ident())

    @app.before_request
    def before_two() -> None:
        threads.append(threading.get_ident())

    @app.after_request
    def after(response: Response) -> Response:
        threads.append(threading.get_ident())
        return response

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        threads.append(threading.get_ident())

    @app.post("/items/<int:item>")
    def view(item: int) -> dict[str, Any]:
        threads.append(threading.get_ident())
        return {"item": item, "body": request.get_json()}  # read lazily through the loop

    with app.test_client("asgi") as client:
        for round_ in range(3):
            threads.clear()
            before = drivers.adaptations.snapshot()
            response = client.post(f"/items/{round_}", json=[round_])
            assert response.json() == {"item": round_, "body": [round_]}
            assert _delta(before) == (1, 0, 0)
            assert len(threads) == 6
            assert len(set(threads)) == 1  # all six callables in the one worker thread


def test_asgi_mixed_route_hops_once_per_sync_stretch(app: Ambi) -> None:
    @app.before_request
    def sync_hook() -> None:
        g.order = ["sync hook"]

    @app.get("/")
    async def index() -> str:
        g.order.append("async view")
        return " > ".join(g.order)

    with app.test_client("asgi") as client:
        before = drivers.adaptations.snapshot()
        assert client.get("/").text == "sync hook > async view"
        assert _delta(before) == (1, 0, 0)


def test_wsgi_async_view_runs_on_a_persistent_per_thread_loop(app: Ambi) -> None:
    state: dict[str, Any] = {}

    @app.get("/first")
    async def first() -> str:
        # A loop-bound object, like an async client's connection pool.
        state["queue"] = queue = asyncio.Queue[str]()
        await queue.put("kept")
        state["loop"] = asyncio.get_running_loop()
        return "first"

    @app.get("/second")
    async def second() -> str:
        assert asyncio.get_running_loop() is state["loop"]
        return await asyncio.wait_for(state["queue"].get(), timeout=1)

    def serve() -> None:
        with app.test_client("wsgi") as client:
            before = drivers.adaptations.snapshot()
            assert client.get("/first").text == "first"
            assert _delta(before) == (0, 1, 1)  # one entry, the loop created once
            before = drivers.adaptations.snapshot()
            assert client.get("/second").text == "kept"
            assert _delta(before) == (0, 1, 0)  # one entry, the same loop
            state["ok"] = True

    # A fresh thread, as a WSGI worker thread would be.
    worker = threading.Thread(target=serve)
    worker.start()
    worker.join(timeout=30)
    assert state.get("ok") is True
    assert state["loop"].is_closed()  # closed when its thread ended


def test_wsgi_async_hooks_and_view_share_one_loop_entry(app: Ambi) -> None:
    @app.before_request
    async def before() -> None:
        g.loop = asyncio.get_running_loop()

    @app.after_request
    def after(response: Response) -> Response:  # sync, after an async step: still inline
        response.headers["X-Same-Loop"] = str(asyncio.get_running_loop() is g.loop)
        return response

    @app.get("/")
    async def index() -> str:
        return str(asyncio.get_running_loop() is g.loop)

    with app.test_client("wsgi") as client:
        before = drivers.adaptations.snapshot()
        response = client.get("/")
        assert response.text == "True"
        assert response.headers["x-same-loop"] == "True"
        assert _delta(before)[1] == 1


def test_wsgi_from_inside_a_running_loop_says_what_to_do(app: Ambi) -> None:
    @app.get("/")
    async def index() -> str:
        return "x"

    async def call_wsgi_inside_loop() -> None:
        with app.test_client("wsgi") as client:
            client.get("/")

    with pytest.raises(RuntimeError, match="Serve the app through its ASGI interface"):
        asyncio.run(call_wsgi_inside_loop())


def test_context_reaches_tasks_threads_and_streams(app: Ambi, interface: str) -> None:
    import contextvars

    @app.get("/task")
    async def task() -> str:
        async def child() -> str:
            return f"{request.path} {g.tag}"

        g.tag = "task"
        return await asyncio.create_task(child())

    @app.get("/thread")
    def thread() -> str:
        g.tag = "thread"
        result: list[str] = []
        context = contextvars.copy_context()
        worker = threading.Thread(
            target=lambda: result.append(context.run(lambda: f"{request.path} {g.tag}"))
        )
        worker.start()
        worker.join()
        return result[0]

    with app.test_client(interface) as client:  # type: ignore[arg-type]
        assert client.get("/task").text == "/task task"
        assert client.get("/thread").text == "/thread thread"


def test_describe_reports_how_routes_run(app: Ambi) -> None:
    @app.get("/sync")
    def sync_view() -> str:
        return ""

    @app.get("/async")
    async def async_view() -> str:
        return ""

    assert app.plan_for("sync_view").describe() == {
        "wsgi": "direct (no loop)",
        "asgi": "worker thread (one hop)",
    }
    assert app.plan_for("async_view").describe() == {
        "wsgi": "thread's persistent loop (one entry)",
        "asgi": "event loop (no thread)",
    }

    @app.before_request
    def hook() -> None:
        pass

    assert app.plan_for("async_view").describe()["asgi"] == (
        "event loop + worker-thread hops for the sync hooks"
    )
