"""Concurrency controls: ``@inline`` def views on the loop, the worker-thread limit for
sync views (``SYNC_VIEW_THREADS``), and the blocked-loop warning (``LOOP_BLOCK_WARNING``)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest

import ambi._drivers as drivers
from ambi import Ambi, Response, inline, request
from ambi.testing import AmbiClient


def _hops() -> int:
    return drivers.adaptations.thread_hops


# -- @inline -------------------------------------------------------------------------------


def test_inline_def_view_runs_on_the_loop_with_no_thread_hop(app: Ambi) -> None:
    seen: dict[str, Any] = {}

    @app.before_request
    @inline
    def hook() -> None:
        seen["hook_loop"] = asyncio.get_running_loop()

    @app.post("/echo")
    @inline
    def echo() -> dict[str, Any]:
        seen["view_loop"] = asyncio.get_running_loop()
        # The body was read before the view: the blocking API works on the loop.
        return {"json": request.get_json(), "form": None}

    @app.after_request
    async def after(response: Response) -> Response:
        seen["after_loop"] = asyncio.get_running_loop()
        return response

    assert app.plan_for("echo").run_inline
    with app.test_client("asgi") as client:
        before = _hops()
        response = client.post("/echo", json={"a": [1, 2]})
        assert response.json() == {"json": {"a": [1, 2]}, "form": None}
        assert _hops() == before
    assert seen["hook_loop"] is seen["view_loop"] is seen["after_loop"]


def test_inline_form_body_is_read_ahead(app: Ambi) -> None:
    @app.post("/form")
    @inline
    def form() -> str:
        return ",".join(f"{k}={v}" for k, v in request.form.items(multi=True))

    with app.test_client("asgi") as client:
        assert client.post("/form", data={"a": "1", "b": "2"}).text == "a=1,b=2"


def test_inline_under_wsgi_changes_nothing(app: Ambi) -> None:
    @app.get("/")
    @inline
    def index() -> str:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return "no loop"
        return "loop"

    with app.test_client("wsgi") as client:
        before = drivers.adaptations.snapshot()
        assert client.get("/").text == "no loop"
        assert drivers.adaptations.snapshot() == before


def test_an_unmarked_sync_hook_keeps_the_route_on_its_thread_hop(app: Ambi) -> None:
    @app.before_request
    def blocking_hook() -> None:
        return None

    @app.get("/")
    @inline
    def index() -> str:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return "thread"
        return "loop"

    assert not app.plan_for("index").run_inline
    with app.test_client("asgi") as client:
        before = _hops()
        assert client.get("/").text == "thread"
        assert _hops() == before + 1


def test_ambi_routes_says_inline(app: Ambi) -> None:
    @app.get("/a")
    @inline
    def a() -> str:
        return "a"

    @app.get("/b")
    def b() -> str:
        return "b"

    assert app.plan_for("a").describe() == {
        "wsgi": "direct (no loop)",
        "asgi": "event loop, inline (no thread)",
    }
    assert app.plan_for("b").describe()["asgi"] == "worker thread (one hop)"

    @app.teardown_appcontext
    async def close(error: BaseException | None) -> None:
        return None

    assert app.plan_for("a").describe() == {
        "wsgi": "thread's persistent loop (one entry)",
        "asgi": "event loop, inline",
    }


# -- SYNC_VIEW_THREADS ---------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3])
def test_sync_view_threads_bounds_concurrent_def_views(app: Ambi, limit: int) -> None:
    app.config["SYNC_VIEW_THREADS"] = limit
    lock = threading.Lock()
    state = {"running": 0, "peak": 0}

    @app.get("/work")
    def work() -> str:
        with lock:
            state["running"] += 1
            state["peak"] = max(state["peak"], state["running"])
        time.sleep(0.05)
        with lock:
            state["running"] -= 1
        return "done"

    async def main() -> list[str]:
        async with app.async_test_client("asgi") as client:
            results: list[str] = []

            async def one() -> None:
                results.append((await client.get("/work")).text)

            async with anyio.create_task_group() as group:
                for _ in range(8):
                    group.start_soon(one)
            return results

    assert asyncio.run(main()) == ["done"] * 8
    assert state["peak"] == limit


def test_sync_view_threads_none_uses_anyios_default_limiter(app: Ambi) -> None:
    app.config["SYNC_VIEW_THREADS"] = None

    @app.get("/")
    def index() -> str:
        return "ok"

    with app.test_client("asgi") as client:
        assert client.get("/").text == "ok"


# -- LOOP_BLOCK_WARNING --------------------------------------------------------------------


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_blocking_async_view_is_named_in_a_warning(
    app: Ambi, caplog: pytest.LogCaptureFixture
) -> None:
    app.config["LOOP_BLOCK_WARNING"] = 0.05

    @app.get("/slow")
    async def slow_view() -> str:
        await asyncio.sleep(0)
        time.sleep(0.08)  # noqa: ASYNC251 - blocking the loop on purpose
        return "slow"

    @app.get("/fine")
    async def fine_view() -> str:
        await asyncio.sleep(0.08)  # waits without blocking
        return "fine"

    with caplog.at_level(logging.WARNING), app.test_client("asgi") as client:
        assert client.get("/fine").text == "fine"
        assert _warnings(caplog) == []
        assert client.get("/slow").text == "slow"
    (message,) = _warnings(caplog)
    assert "blocked for 0.0" in message
    assert "slow_view" in message
    assert "GET /slow" in message
    assert "'slow_view'" in message


def test_blocking_inline_view_is_named_and_debug_turns_the_warning_on(
    app: Ambi, caplog: pytest.LogCaptureFixture, make_client: Callable[..., AmbiClient]
) -> None:
    app.testing = False
    app.debug = True  # LOOP_BLOCK_WARNING None: 0.1 s in debug mode

    @app.get("/inline")
    @inline
    def inline_view() -> str:
        time.sleep(0.15)
        return "done"

    with caplog.at_level(logging.WARNING), app.test_client("asgi") as client:
        assert client.get("/inline").text == "done"
    assert any("inline_view" in m for m in _warnings(caplog))


def test_no_warning_when_off(app: Ambi, caplog: pytest.LogCaptureFixture) -> None:
    app.config["LOOP_BLOCK_WARNING"] = 0

    @app.get("/slow")
    async def slow_view() -> str:
        time.sleep(0.06)  # noqa: ASYNC251 - blocking the loop on purpose
        return "slow"

    with caplog.at_level(logging.WARNING), app.test_client("asgi") as client:
        assert client.get("/slow").text == "slow"
    assert _warnings(caplog) == []


def test_watched_coroutine_passes_results_errors_and_cancellation_through(
    app: Ambi,
) -> None:
    app.config["LOOP_BLOCK_WARNING"] = 10

    class Boom(Exception):
        pass

    @app.errorhandler(Boom)
    async def handle(error: Boom) -> tuple[str, int]:
        return "handled", 418

    @app.get("/boom")
    async def boom() -> str:
        await asyncio.sleep(0)
        raise Boom()

    @app.get("/value")
    async def value() -> dict[str, int]:
        total = 0
        for number in range(3):
            await asyncio.sleep(0)
            total += number
        return {"total": total}

    with app.test_client("asgi") as client:
        response = client.get("/boom")
        assert (response.status_code, response.text) == (418, "handled")
        assert client.get("/value").json() == {"total": 3}

    seen: list[float] = []

    async def waits_forever() -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        watched = drivers._Watched(waits_forever(), waits_forever, lambda s, f: seen.append(s))

        async def run() -> Any:
            return await watched

        task = asyncio.create_task(run())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(seen) == 1  # the cancelled coroutine was still timed
