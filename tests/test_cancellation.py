"""An ``async def`` view whose client disconnects is cancelled (ASGI); a ``def`` view's
thread cannot be, and is not leaked.

First at the ASGI level, in-process: ``receive()`` reports ``http.disconnect`` while the
view awaits, as a server does when the client goes away (``src/ambi/_disconnect.py``):
the view is cancelled within a bound, its ``finally`` runs, the teardown hooks run once
with :class:`~ambi.exceptions.ClientDisconnected`, nothing is sent and the app returns
normally; with ``CANCEL_ON_DISCONNECT = False`` the view runs to its end.

Then on real servers (uvicorn; hypercorn and granian too for the main cases) with
``tests/server_apps/faults_app.py``: a client opens a request to a long view, waits until
the view has started, and closes its socket; the app's records show what ran.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest

from ambi import Ambi, request
from ambi._disconnect import TICK, disconnect_monitors

try:
    from tests._asgi import http_scope
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _asgi import http_scope  # type: ignore[no-redef]

try:
    from tests._reliability import (
        Checked,
        ServerSet,
        assert_clean,
        connect,
        new_id,
        records,
        request_bytes,
        serve_checked,
        wait_for,
        wait_for_teardown,
    )
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _reliability import (  # type: ignore[no-redef]
        Checked,
        ServerSet,
        assert_clean,
        connect,
        new_id,
        records,
        request_bytes,
        serve_checked,
        wait_for,
        wait_for_teardown,
    )

#: A cancelled view's teardown must have run this soon after its client disconnected.
CANCEL_BOUND = 5.0

# -- in-process, at the ASGI level --------------------------------------------------------


class Client:
    """An ASGI client that sends a GET, then disconnects when told to."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone = anyio.Event()
        self.body_sent = False

    async def receive(self) -> dict[str, Any]:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def _recording_app(seconds: float) -> tuple[Ambi, list[str]]:
    app = Ambi(__name__)
    events: list[str] = []

    @app.get("/slow")
    async def slow() -> str:
        events.append("view-start")
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        finally:
            events.append("finally")
        events.append("view-done")
        return "done"

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        events.append(f"teardown:{type(error).__name__ if error else None}")

    return app, events


async def _serve_and_leave(app: Ambi, leave_after: float) -> tuple[Client, float]:
    """Serve ``GET /slow``; the client leaves after ``leave_after`` s. The client and how
    long the app took to return after it left."""
    client = Client()
    left_at = 0.0

    async def leave() -> None:
        nonlocal left_at
        await anyio.sleep(leave_after)
        left_at = time.monotonic()
        client.gone.set()

    async with anyio.create_task_group() as group:
        group.start_soon(leave)
        with anyio.fail_after(CANCEL_BOUND + leave_after + 5):
            await app.asgi_app(http_scope("/slow"), client.receive, client.send)
    return client, time.monotonic() - left_at


@pytest.mark.anyio
async def test_view_cancelled_when_the_client_leaves() -> None:
    app, events = _recording_app(seconds=30)
    client, after_leaving = await _serve_and_leave(app, leave_after=0.5)
    assert events == ["view-start", "cancelled", "finally", "teardown:ClientDisconnected"]
    assert after_leaving < 2 * TICK + 1.0
    assert client.sent == []  # nothing for a client that is gone
    assert not any(monitor.requests for monitor in disconnect_monitors())


@pytest.mark.anyio
async def test_view_cancelled_when_the_client_left_before_it_was_watched() -> None:
    """Gone before the first tick: the watcher, when it starts, finds the disconnect."""
    app, events = _recording_app(seconds=30)
    _, after_leaving = await _serve_and_leave(app, leave_after=0.01)
    assert events == ["view-start", "cancelled", "finally", "teardown:ClientDisconnected"]
    assert after_leaving < 2 * TICK + 1.0


@pytest.mark.anyio
async def test_view_not_cancelled_while_the_client_waits() -> None:
    app, events = _recording_app(seconds=3 * TICK)
    client, _ = await _serve_and_leave(app, leave_after=5 * TICK)
    assert events == ["view-start", "finally", "view-done", "teardown:None"]
    assert client.sent[0]["status"] == 200


@pytest.mark.anyio
async def test_cancel_on_disconnect_off_lets_the_view_finish() -> None:
    app, events = _recording_app(seconds=4 * TICK)
    app.config["CANCEL_ON_DISCONNECT"] = False
    await _serve_and_leave(app, leave_after=0.01)
    assert events == ["view-start", "finally", "view-done", "teardown:None"]


@pytest.mark.anyio
async def test_a_view_that_catches_the_cancellation_still_gets_no_response_sent() -> None:
    app = Ambi(__name__)
    events: list[str] = []

    @app.get("/slow")
    async def stubborn() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("swallowed")
        return "finished anyway"

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        events.append(f"teardown:{type(error).__name__ if error else None}")

    client, _ = await _serve_and_leave(app, leave_after=0.3)
    assert events == ["swallowed", "teardown:None"]
    assert client.sent == []
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


@pytest.mark.anyio
async def test_quick_requests_leave_no_watcher_behind() -> None:
    app = Ambi(__name__)

    @app.get("/slow")
    async def quick() -> str:
        await asyncio.sleep(0)
        return request.path

    for _ in range(50):
        client = Client()
        client.gone.set()  # gone at once: nothing is watched before the first tick
        await app.asgi_app(http_scope("/slow"), client.receive, client.send)
        assert client.sent[0]["status"] == 200
    tasks_before = len(asyncio.all_tasks())
    await anyio.sleep(3 * TICK)
    assert not any(monitor.requests or monitor.watches for monitor in disconnect_monitors())
    assert len(asyncio.all_tasks()) <= tasks_before


# -- on real servers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers() -> Iterator[ServerSet]:
    pool = ServerSet()
    yield pool
    pool.close()


@pytest.fixture
def server(request: pytest.FixtureRequest, servers: ServerSet) -> Iterator[Checked]:
    yield from serve_checked(request.param, servers)


def _on(*names: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("server", list(names), indirect=True)


def _sleep_briefly(server: Checked) -> int:
    with server.server.client() as http:
        return http.get("/sleep-def", params={"s": "0.3"}).status_code


def _open_then_leave(server: Checked, path: str, rid: str) -> float:
    """Request ``path``, wait until its view started, close the connection; when."""
    with connect(server.server) as sock:
        sock.sendall(request_bytes("GET", path))
        wait_for(lambda: "view-start" in records(server.http, rid)["events"], "view start")
    return time.monotonic()


@pytest.mark.server
@_on("uvicorn", "hypercorn", "granian-asgi")
@pytest.mark.parametrize("path", ["/sleep-async", "/event-async"])
def test_async_view_cancelled_on_disconnect(server: Checked, path: str) -> None:
    rid = new_id()
    left_at = _open_then_leave(server, f"{path}?id={rid}", rid)
    answer = wait_for_teardown(server.http, rid, "finally")
    took = time.monotonic() - left_at
    expected = ["start", "view-start", "finally", "teardown"]
    if path == "/sleep-async":
        expected.insert(2, "cancelled")
    assert answer["events"] == expected, answer
    assert answer["values"]["teardown_error"] == "ClientDisconnected", answer
    assert took < CANCEL_BOUND, took
    assert_clean(server)


@pytest.mark.server
@_on("uvicorn", "hypercorn", "granian-asgi")
def test_async_view_not_cancelled_while_the_client_waits(server: Checked) -> None:
    rid = new_id()
    response = server.http.get("/sleep-async", params={"id": rid, "s": str(5 * TICK)})
    assert (response.status_code, response.text) == (200, f"slept {5 * TICK}")
    answer = wait_for_teardown(server.http, rid)
    assert answer["events"] == ["start", "view-start", "finally", "view-done", "teardown"]
    assert answer["values"]["teardown_error"] is None
    assert_clean(server)


@pytest.mark.server
@_on("uvicorn")
def test_def_view_finishes_and_its_thread_returns_to_the_pool(server: Checked) -> None:
    """A thread cannot be cancelled: the view runs to its end, its response goes nowhere,
    the teardown runs once, and the thread is back in the pool, idle: the next def view
    runs on it and the thread count is what it was."""
    # Two idle workers first: one for the view, one for the def hooks of the requests
    # polling the app's records meanwhile; then the pool needs no new thread.
    with ThreadPoolExecutor(2) as pool:
        for response in pool.map(_sleep_briefly, [server, server]):
            assert response == 200
    threads_before = server.http.get("/debug/state").json()["threads"]
    rid = new_id()
    _open_then_leave(server, f"/sleep-def?id={rid}&s=1", rid)
    answer = wait_for_teardown(server.http, rid)
    assert answer["events"] == ["start", "view-start", "view-done", "teardown"], answer
    assert answer["values"]["teardown_error"] is None
    assert_clean(server)
    # anyio hands the next job to the worker that became idle last: this one.
    assert server.http.get("/thread").json()["thread"] == answer["values"]["thread"]
    assert records(server.http, rid)["events"].count("teardown") == 1
    assert server.http.get("/debug/state").json()["threads"] == threads_before


@pytest.mark.server
@_on("uvicorn")
def test_async_hook_after_a_def_view_cancelled_once_the_thread_returns(server: Checked) -> None:
    """The client leaves while the def view holds a thread (the request is watched since
    its async before hook): nothing is cancelled under the thread's feet; the async
    after_request hook that follows is cancelled."""
    rid = new_id()
    left_at = _open_then_leave(server, f"/mixed?id={rid}&s=1&after=30", rid)
    answer = wait_for_teardown(server.http, rid, "after-finally")
    assert answer["events"] == [
        "start",
        "before",
        "view-start",
        "view-done",
        "after-start",
        "after-finally",
        "teardown",
    ], answer
    assert answer["values"]["teardown_error"] == "ClientDisconnected", answer
    assert time.monotonic() - left_at < 1 + CANCEL_BOUND
    assert_clean(server)


def test_disconnect_monitors_are_per_loop() -> None:
    """Two loops in two threads each get their own monitor."""
    seen: list[Any] = []

    async def register() -> None:
        from ambi._disconnect import register as register_request

        class Connection:
            async def wait_for_disconnect(self) -> None:
                await asyncio.Event().wait()

        connection: Any = Connection()
        register_request(connection)
        seen.append(connection._monitor)
        connection._monitor.release(connection)

    threads = [threading.Thread(target=asyncio.run, args=(register(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 2
    assert seen[0] is not seen[1]
