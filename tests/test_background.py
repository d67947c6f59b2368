"""``app.add_background_task`` on both interfaces, with ``def`` and ``async def`` tasks
added from ``def`` and ``async def`` views.

Ordering is proven with events, not sleeps: a task blocks on an event the test sets
only after it has the response, so "the response came before the task finished" is a
fact, not a timing. The real-server tests at the end use
``tests/server_apps/lifespan_app.py`` under uvicorn and gunicorn.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ambi import Ambi, current_app, g, request
from ambi.testing import AmbiClient

try:
    from tests._servers import start_server
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import start_server  # type: ignore[no-redef]

WAIT = 10.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _wait_async(event: threading.Event) -> None:
    """Wait for a thread event on the loop without blocking it."""
    deadline = time.monotonic() + WAIT
    while not event.is_set():
        assert time.monotonic() < deadline, "the test never released the task"
        await asyncio.sleep(0.002)


class Probe:
    """A task that waits to be released, then records what it saw."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.done = threading.Event()
        self.seen: dict[str, Any] = {}

    def _record(self) -> None:
        self.seen = {
            "path": request.path,
            "g": g.get("value"),
            "app": current_app.name,
            "thread": threading.current_thread().name,
            "loop": _running_loop(),
        }

    def sync_task(self, label: str) -> None:
        assert self.release.wait(WAIT)
        self._record()
        self.seen["label"] = label
        self.done.set()

    async def async_task(self, label: str) -> None:
        await _wait_async(self.release)
        self._record()
        self.seen["label"] = label
        self.done.set()

    def task(self, kind: str) -> Callable[[str], Any]:
        return self.sync_task if kind == "def" else self.async_task


@pytest.fixture(params=["def", "async"])
def task_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["test_client", "test_serving"])
def serving(request: pytest.FixtureRequest) -> str:
    """Plain test client (no lifespan) or test_serving (lifespan, as under a server)."""
    return str(request.param)


@contextmanager
def client_for(app: Ambi, interface: str, serving: str) -> Iterator[AmbiClient]:
    if serving == "test_serving":
        with app.test_serving(interface) as client:  # type: ignore[arg-type]
            yield client
    else:
        with app.test_client(interface) as client:  # type: ignore[arg-type]
            yield client


def test_the_response_is_sent_before_the_task_runs_and_the_task_sees_the_context(
    interface: str,
    serving: str,
    task_kind: str,
    as_view: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> None:
    app = Ambi(__name__)
    probe = Probe()

    @app.before_request
    def set_g() -> None:
        g.value = "from the request"

    def start() -> str:
        app.add_background_task(probe.task(task_kind), "hello")
        return "accepted"

    app.add_url_rule("/start", "start", as_view(start), methods=["POST"])

    with client_for(app, interface, serving) as client:
        response = client.post("/start")
        assert response.text == "accepted"
        assert not probe.done.is_set()  # the task is still waiting: the response came first
        probe.release.set()
        assert probe.done.wait(WAIT)
    assert probe.seen["path"] == "/start"
    assert probe.seen["g"] == "from the request"
    assert probe.seen["app"] == __name__
    assert probe.seen["label"] == "hello"
    if task_kind == "def":
        assert probe.seen["thread"].startswith("ambi-background")
        assert probe.seen["loop"] is None
    else:
        assert probe.seen["loop"] is not None


def test_under_asgi_with_lifespan_async_tasks_run_on_the_server_loop(
    as_view: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> None:
    app = Ambi(__name__)
    probe = Probe()
    loops: list[asyncio.AbstractEventLoop] = []

    @app.before_serving
    async def remember_loop() -> None:
        loops.append(asyncio.get_running_loop())

    def start() -> str:
        app.add_background_task(probe.async_task, "x")
        return "ok"

    app.add_url_rule("/", "start", as_view(start))
    with app.test_serving("asgi") as client:
        client.get("/")
        probe.release.set()
        assert probe.done.wait(WAIT)
    assert probe.seen["loop"] is loops[0]


def test_under_wsgi_async_tasks_outlive_the_view_on_a_loop_of_their_own() -> None:
    """Flask runs an async view on a loop that ends with the view, taking any task it
    started along; Ambi's tasks run on the app's background loop thread."""
    app = Ambi(__name__)
    probe = Probe()
    view_loops: list[asyncio.AbstractEventLoop] = []

    @app.get("/")
    async def start() -> str:
        view_loops.append(asyncio.get_running_loop())
        app.add_background_task(probe.async_task, "x")
        return "ok"

    with app.test_serving("wsgi") as client:
        client.get("/")
        probe.release.set()  # the view returned long ago; the task still runs
        assert probe.done.wait(WAIT)
    assert probe.seen["loop"] is not view_loops[0]
    assert probe.seen["thread"].startswith("ambi-background-loop")


def test_task_exceptions_are_logged_and_serving_goes_on(
    interface: str, task_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Ambi(__name__)

    def broken_sync() -> None:
        raise ValueError("boom in a def task")

    async def broken_async() -> None:
        raise ValueError("boom in an async task")

    @app.get("/")
    def start() -> str:
        app.add_background_task(broken_sync if task_kind == "def" else broken_async)
        return "ok"

    with caplog.at_level(logging.ERROR), app.test_serving(interface) as client:  # type: ignore[arg-type]
        assert client.get("/").text == "ok"
        assert client.get("/").text == "ok"
    # test_serving waited for the tasks at its exit.
    logged = [r for r in caplog.records if "Error in background task" in r.getMessage()]
    assert len(logged) == 2
    assert logged[0].exc_info is not None
    assert "boom" in str(logged[0].exc_info[1])


def test_the_server_waits_for_running_tasks_at_shutdown(interface: str, task_kind: str) -> None:
    app = Ambi(__name__)
    finished = threading.Event()
    started = threading.Event()

    def sync_task() -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    async def async_task() -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    @app.after_serving
    def after() -> None:
        # The tasks were waited for before after_serving runs.
        assert finished.is_set()

    @app.get("/")
    def start() -> str:
        app.add_background_task(sync_task if task_kind == "def" else async_task)
        return "ok"

    with app.test_serving(interface) as client:  # type: ignore[arg-type]
        client.get("/")
        assert started.wait(WAIT)
    assert finished.is_set()


def test_tasks_past_the_shutdown_timeout_are_cancelled_and_logged(
    interface: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Ambi(__name__)
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 0.2
    async_started = threading.Event()
    sync_started = threading.Event()
    cancelled = threading.Event()
    let_thread_end = threading.Event()

    async def stuck_async() -> None:
        async_started.set()
        try:
            await asyncio.sleep(WAIT)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def stuck_sync() -> None:
        sync_started.set()
        let_thread_end.wait(WAIT)

    @app.get("/")
    def start() -> str:
        app.add_background_task(stuck_async)
        app.add_background_task(stuck_sync)
        return "ok"

    began = time.monotonic()
    with caplog.at_level(logging.WARNING), app.test_serving(interface) as client:  # type: ignore[arg-type]
        client.get("/")
        assert async_started.wait(WAIT)
        assert sync_started.wait(WAIT)
    assert time.monotonic() - began < WAIT / 2
    let_thread_end.set()
    assert cancelled.is_set()
    messages = [r.getMessage() for r in caplog.records]
    assert any("stuck_async was cancelled at shutdown" in m for m in messages), messages
    assert any("stuck_sync was abandoned" in m for m in messages), messages


def test_def_tasks_have_their_own_thread_budget(interface: str) -> None:
    app = Ambi(__name__)
    app.config["BACKGROUND_TASK_THREADS"] = 2
    lock = threading.Lock()
    running = 0
    most = 0
    release = threading.Event()
    two_running = threading.Event()
    finished: list[int] = []

    def task(number: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == 2:
                two_running.set()
        release.wait(WAIT)
        with lock:
            running -= 1
            finished.append(number)

    @app.get("/")
    def start() -> str:
        for number in range(4):
            app.add_background_task(task, number)
        return "ok"

    @app.get("/sync-view")
    def sync_view() -> str:
        return "a def view still has its own threads"

    with app.test_serving(interface) as client:  # type: ignore[arg-type]
        client.get("/")
        assert two_running.wait(WAIT)
        assert client.get("/sync-view").status_code == 200  # not starved by the tasks
        time.sleep(0.1)  # a third task would have started by now: none may
        assert most == 2
        release.set()
    assert sorted(finished) == [0, 1, 2, 3]
    assert most == 2


def test_tasks_added_from_before_serving_and_from_tasks(interface: str) -> None:
    app = Ambi(__name__)
    ran: list[str] = []
    all_done = threading.Event()

    async def nested() -> None:
        ran.append("nested async task")
        all_done.set()

    def from_startup() -> None:
        ran.append(f"task from before_serving ({current_app.name})")
        app.add_background_task(nested)

    @app.before_serving
    async def start() -> None:
        app.add_background_task(from_startup)

    with app.test_serving(interface):  # type: ignore[arg-type]
        assert all_done.wait(WAIT)
    assert ran == [f"task from before_serving ({__name__})", "nested async task"]


def test_outside_any_context_a_task_gets_an_app_context() -> None:
    app = Ambi(__name__)
    seen: list[str] = []
    done = threading.Event()

    def task() -> None:
        seen.append(current_app.name)
        done.set()

    app.add_background_task(task)
    assert done.wait(WAIT)
    app._lifecycle.background.stop_loop_thread()
    assert seen == [__name__]


def test_not_a_callable_is_refused() -> None:
    app = Ambi(__name__)
    with pytest.raises(TypeError, match="needs a callable"):
        app.add_background_task("send_email")  # type: ignore[arg-type]


# -- real servers ------------------------------------------------------------------------------


@pytest.fixture
def markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    monkeypatch.setenv("AMBI_LIFESPAN_MARKERS", str(folder))
    return folder


def _poll(client: httpx.Client, path: str, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        state: dict[str, Any] = client.get(path).json()
        if state.get(key) or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


@pytest.mark.server
@pytest.mark.parametrize("name", ["uvicorn", "gunicorn"])
def test_real_server_tasks_finish_after_the_response_and_at_sigterm(
    name: str, markers: Path
) -> None:
    server = start_server(name, "tests.server_apps.lifespan_app:app")
    try:
        with server.client() as client:
            for kind in ("def", "async"):
                task = f"held-{kind}"
                assert client.post(f"/tasks/{task}?kind={kind}").json() == {"accepted": task}
                assert client.get(f"/tasks/{task}").json()["done"] is False
                client.post(f"/tasks/{task}/release")
                state = _poll(client, f"/tasks/{task}", "done")
                assert state == {"known": True, "done": True, "path": f"/tasks/{task}"}
            # Two tasks still running when the server is told to stop.
            client.post("/tasks/late-def?kind=def&sleep=1")
            client.post("/tasks/late-async?kind=async&sleep=1")
            assert not (markers / "task-late-def-done").exists()
    finally:
        server.stop()
    after_serving = (markers / "8-after-serving").read_text().split(",")
    assert "task-late-def-done" in after_serving  # waited for before after_serving
    assert "task-late-async-done" in after_serving
    assert (markers / "task-late-async-done").read_text() == "/tasks/late-async"


@pytest.mark.server
@pytest.mark.parametrize("name", ["uvicorn", "gunicorn"])
def test_real_server_cancels_tasks_past_the_timeout(
    name: str, markers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBI_LIFESPAN_TIMEOUT", "0.5")
    server = start_server(name, "tests.server_apps.lifespan_app:app")
    try:
        with server.client() as client:
            client.post("/tasks/forever?kind=async&sleep=60")
            client.post("/tasks/forever-def?kind=def&sleep=60")
        began = time.monotonic()
    finally:
        server.stop()
    assert time.monotonic() - began < 8  # not the 60 s the tasks wanted
    assert (markers / "task-forever-cancelled").exists()
    assert not (markers / "task-forever-def-done").exists()
    assert (markers / "8-after-serving").exists()
    assert os.path.exists(markers / "9-lifespan-exit")
