"""``lifespan``, ``before_serving`` and ``after_serving`` on both interfaces.

In process, ``app.test_serving(interface)`` runs the startup and shutdown as a server
would (the ASGI lifespan protocol on the client's loop; under WSGI, on the calling
thread), and ``WSGITransport(..., lazy_startup=True)`` calls the app as a real WSGI server
does, so the startup runs at the first request. The real-server tests at the end start
uvicorn and gunicorn with ``tests/server_apps/lifespan_app.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ambi import Ambi, current_app, g
from ambi._drivers import adaptations
from ambi.testing import WSGITransport

try:
    from tests._servers import REPO_ROOT, SERVERS, free_port, start_server
    from tests.server_apps.lifespan_app import STARTUP_ERROR
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import REPO_ROOT, SERVERS, free_port, start_server  # type: ignore[no-redef]
    from server_apps.lifespan_app import STARTUP_ERROR  # type: ignore[no-redef]

LIFESPAN_TARGET = "tests.server_apps.lifespan_app:app"
FAILING_TARGET = "tests.server_apps.lifespan_app:failing_app"


def recording_app(events: list[Any]) -> Ambi:
    """An app whose lifespan, before_serving and after_serving functions (def and async
    def, mixed) append what they see to ``events``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Ambi) -> AsyncIterator[None]:
        events.append(("lifespan enter", current_app.name))
        yield
        events.append("lifespan exit")

    app = Ambi(__name__, lifespan=lifespan)

    @app.before_serving
    def first() -> None:
        g.seen = ["first"]
        events.append("before 1 (def)")

    @app.before_serving
    async def second() -> None:
        g.seen.append("second")
        events.append(("before 2 (async)", list(g.seen)))

    @app.after_serving
    async def third() -> None:
        events.append("after 1 (async)")

    @app.after_serving
    def fourth() -> None:
        events.append(("after 2 (def)", current_app.name))

    @app.get("/")
    def index() -> str:
        return "ok"

    return app


# -- order and context ---------------------------------------------------------------------


def test_startup_and_shutdown_order_and_context(interface: str) -> None:
    events: list[Any] = []
    app = recording_app(events)
    with app.test_serving(interface) as client:  # type: ignore[arg-type]
        assert events == [
            ("lifespan enter", __name__),
            "before 1 (def)",
            ("before 2 (async)", ["first", "second"]),  # one app context, one g
        ]
        assert client.get("/").text == "ok"
    assert events[3:] == ["after 1 (async)", ("after 2 (def)", __name__), "lifespan exit"]


def test_test_client_runs_no_lifespan(interface: str) -> None:
    events: list[Any] = []
    app = recording_app(events)
    with app.test_client(interface) as client:  # type: ignore[arg-type]
        assert client.get("/").text == "ok"
    assert events == []


def test_serving_twice(interface: str) -> None:
    events: list[Any] = []
    app = recording_app(events)
    for _ in range(2):
        with app.test_serving(interface):  # type: ignore[arg-type]
            pass
    assert events.count("before 1 (def)") == 2
    assert events.count("lifespan exit") == 2


def test_teardown_appcontext_runs_after_each_phase(interface: str) -> None:
    app = Ambi(__name__)
    torn_down: list[Any] = []

    @app.teardown_appcontext
    async def close_db(error: BaseException | None) -> None:
        torn_down.append(g.get("db"))

    @app.before_serving
    def open_db() -> None:
        g.db = "startup connection"

    @app.after_serving
    def close() -> None:
        g.db = "shutdown connection"

    with app.test_serving(interface):  # type: ignore[arg-type]
        assert torn_down == ["startup connection"]
    assert torn_down == ["startup connection", "shutdown connection"]


def test_sync_context_manager_is_accepted(interface: str) -> None:
    events: list[str] = []

    @contextlib.contextmanager
    def lifespan(app: Ambi) -> Iterator[None]:
        events.append("enter")
        yield
        events.append("exit")

    app = Ambi(__name__, lifespan=lifespan)  # type: ignore[arg-type]
    with app.test_serving(interface):  # type: ignore[arg-type]
        assert events == ["enter"]
    assert events == ["enter", "exit"]


def test_lifespan_must_return_a_context_manager(interface: str) -> None:
    app = Ambi(__name__, lifespan=lambda app: None)  # type: ignore[arg-type,return-value]
    with (
        pytest.raises(RuntimeError, match="must return an async context manager"),
        app.test_serving(interface),  # type: ignore[arg-type]
    ):
        pass


# -- failures --------------------------------------------------------------------------------


def test_startup_failure(interface: str, caplog: pytest.LogCaptureFixture) -> None:
    events: list[Any] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Ambi) -> AsyncIterator[None]:
        try:
            yield
        except Exception as exc:
            events.append(("lifespan exited with", type(exc).__name__))
            raise

    app = Ambi(__name__, lifespan=lifespan)

    @app.before_serving
    def ok() -> None:
        events.append("ran")

    @app.before_serving
    async def broken() -> None:
        raise ValueError("no database")

    @app.after_serving
    def never() -> None:
        events.append("after_serving ran")

    with (
        caplog.at_level(logging.ERROR),
        pytest.raises(RuntimeError) as info,
        app.test_serving(interface),  # type: ignore[arg-type]
    ):
        pytest.fail("the body must not run")
    message = str(info.value)
    assert "The application failed to start" in message
    assert "the before_serving function" in message
    assert "broken" in message
    assert "ValueError: no database" in message
    assert isinstance(info.value.__cause__, ValueError)
    assert events == ["ran", ("lifespan exited with", "ValueError")]
    assert any("no database" in record.getMessage() for record in caplog.records)


def test_shutdown_errors_are_logged_and_the_rest_still_runs(
    interface: str, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Ambi) -> AsyncIterator[None]:
        yield
        events.append("lifespan exit")

    app = Ambi(__name__, lifespan=lifespan)

    @app.after_serving
    def broken() -> None:
        raise OSError("disk gone")

    @app.after_serving
    async def still_runs() -> None:
        events.append("second after_serving")

    with (
        caplog.at_level(logging.ERROR),
        pytest.raises(RuntimeError, match="disk gone"),
        app.test_serving(interface),  # type: ignore[arg-type]
    ):
        pass
    assert events == ["second after_serving", "lifespan exit"]
    assert any("after_serving function" in r.getMessage() for r in caplog.records)


# -- where the functions run -----------------------------------------------------------------


def test_asgi_def_functions_run_in_one_worker_thread_hop() -> None:
    app = Ambi(__name__)
    where: list[tuple[str, str]] = []

    def record(kind: str) -> None:
        try:
            asyncio.get_running_loop()
            on = "loop"
        except RuntimeError:
            on = "thread"
        where.append((kind, on))

    @app.before_serving
    def one() -> None:
        record("def")

    @app.before_serving
    def two() -> None:
        record("def")

    @app.before_serving
    async def three() -> None:
        record("async")

    before = adaptations.thread_hops
    with app.test_serving("asgi"):
        hops = adaptations.thread_hops - before
    assert where == [("def", "thread"), ("def", "thread"), ("async", "loop")]
    assert hops == 1  # the two consecutive def functions share one hop


def test_wsgi_def_functions_run_without_a_loop() -> None:
    app = Ambi(__name__)
    running: list[bool] = []

    @app.before_serving
    def check() -> None:
        try:
            asyncio.get_running_loop()
            running.append(True)
        except RuntimeError:
            running.append(False)

    with app.test_serving("wsgi"):
        pass
    assert running == [False]


# -- WSGI: startup at the first request ----------------------------------------------------


def lazy_client(app: Ambi) -> httpx.Client:
    """A client that calls the app as a real WSGI server does (startup at first request)."""
    return httpx.Client(
        transport=WSGITransport(app.wsgi_app, lazy_startup=True), base_url="http://testserver"
    )


def test_wsgi_startup_runs_once_at_the_first_request() -> None:
    events: list[Any] = []
    app = recording_app(events)
    with lazy_client(app) as client:
        assert events == []  # nothing before a request
        assert client.get("/").text == "ok"
        assert client.get("/").text == "ok"
    assert events.count("before 1 (def)") == 1
    assert "lifespan exit" not in events  # that happens at the process's exit
    assert app._lifecycle.shutdown_sync() == []
    assert events[-1] == "lifespan exit"


def test_wsgi_concurrent_first_requests_wait_for_one_startup() -> None:
    app = Ambi(__name__)
    release = threading.Event()
    entered = threading.Event()
    startups: list[int] = []

    @app.before_serving
    def slow_startup() -> None:
        startups.append(threading.get_ident())
        entered.set()
        assert release.wait(10)

    @app.get("/")
    def index() -> str:
        return "served"

    results: list[str] = []

    def get() -> None:
        with lazy_client(app) as client:
            results.append(client.get("/").text)

    threads = [threading.Thread(target=get) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert entered.wait(10)
    assert results == []  # every request waits while the startup runs
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["served"] * 4
    assert len(startups) == 1
    app._lifecycle.shutdown_sync()


def test_wsgi_startup_failure_answers_503_and_is_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Ambi(__name__)
    attempts: list[int] = []

    @app.before_serving
    def connect() -> None:
        attempts.append(1)
        raise ConnectionError("database down")

    @app.get("/")
    def index() -> str:
        return "never"

    with caplog.at_level(logging.ERROR), lazy_client(app) as client:
        first = client.get("/")
        second = client.get("/")
    assert first.status_code == second.status_code == 503
    assert "failed to start" in first.text
    assert attempts == [1]
    failures = [r for r in caplog.records if "failed to start" in r.getMessage()]
    assert len(failures) == 1
    assert "before_serving function" in failures[0].getMessage()
    assert "ConnectionError: database down" in failures[0].getMessage()
    assert any("not retried" in r.getMessage() for r in caplog.records)


def test_wsgi_nothing_registered_costs_one_check() -> None:
    app = Ambi(__name__)

    @app.get("/")
    def index() -> str:
        return "ok"

    with lazy_client(app) as client:
        assert client.get("/").text == "ok"
    assert app._lifecycle.wsgi_pending is False


def test_wsgi_loop_bound_resources_from_startup_serve_async_views_on_that_thread() -> None:
    """An async "pool" opened in before_serving (a queue and a consumer task bound to the
    loop) keeps working for async views on the same thread under WSGI."""
    app = Ambi(__name__)

    @app.before_serving
    async def open_pool() -> None:
        jobs: asyncio.Queue[tuple[int, asyncio.Future[int]]] = asyncio.Queue()

        async def consume() -> None:
            while True:
                number, answer = await jobs.get()
                answer.set_result(number * 2)

        app.extensions["pool"] = (jobs, asyncio.get_running_loop(), asyncio.create_task(consume()))

    @app.after_serving
    async def close_pool() -> None:
        _, _, consumer = app.extensions.pop("pool")
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer

    @app.get("/double/<int:number>")
    async def double(number: int) -> dict[str, Any]:
        jobs, loop, _ = app.extensions["pool"]
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await jobs.put((number, answer))
        return {"result": await asyncio.wait_for(answer, 5), "same_loop": loop is answer.get_loop()}

    with app.test_serving("wsgi") as client:
        assert client.get("/double/4").json() == {"result": 8, "same_loop": True}
        assert client.get("/double/5").json() == {"result": 10, "same_loop": True}
    assert "pool" not in app.extensions


# -- real servers ------------------------------------------------------------------------------


def _server_env(markers: Path | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONWARNINGS", None)
    if markers is not None:
        env["AMBI_LIFESPAN_MARKERS"] = str(markers)
    env.update(extra)
    return env


@pytest.fixture
def markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    monkeypatch.setenv("AMBI_LIFESPAN_MARKERS", str(folder))
    return folder


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.server
@pytest.mark.parametrize("name", ["uvicorn", "gunicorn", "granian-wsgi"])
def test_real_server_runs_startup_then_shutdown_at_sigterm(name: str, markers: Path) -> None:
    server = start_server(name, LIFESPAN_TARGET)
    try:
        with server.client() as client:
            state = client.get("/state").json()
            assert state["started"] is True
            assert state["startup_pid"] == state["pid"]  # the serving process ran it
        assert sorted(os.listdir(markers)) == [
            "1-lifespan-enter",
            "2-before-serving-def",
            "3-before-serving-async",
        ]
        assert (markers / "3-before-serving-async").read_text() == "tests.server_apps.lifespan_app"
    finally:
        server.stop()
    # uvicorn re-raises the SIGTERM it handled once its shutdown is done.
    assert server.process.returncode in (0, -signal.SIGTERM), server.process.returncode
    after = (markers / "8-after-serving").read_text().split(",")
    assert after == ["1-lifespan-enter", "2-before-serving-def", "3-before-serving-async"]
    assert "8-after-serving" in (markers / "9-lifespan-exit").read_text()


@pytest.mark.server
def test_uvicorn_exits_with_the_startup_error() -> None:
    port = free_port()
    result = subprocess.run(
        SERVERS["uvicorn"](port, FAILING_TARGET),
        cwd=REPO_ROOT,
        env=_server_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert (
        "The application failed to start: the before_serving function 'connect_database'"
        f" raised RuntimeError: {STARTUP_ERROR}"
    ) in log
    assert "Application startup failed" in log  # uvicorn's own line


@pytest.mark.server
def test_gunicorn_stops_when_the_startup_fails(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            SERVERS["gunicorn"](port, FAILING_TARGET),
            cwd=REPO_ROOT,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            answers: list[httpx.Response] = []

            def answered() -> bool:
                try:
                    answers.append(httpx.get(f"http://127.0.0.1:{port}/text", timeout=2))
                except httpx.TransportError:
                    return process.poll() is not None
                return True

            assert _wait_for(answered, 20), log_path.read_text()
            assert answers
            assert answers[0].status_code == 503
            assert "failed to start" in answers[0].text
            returncode = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    log = log_path.read_text()
    assert returncode == 3, log  # gunicorn's "worker failed to boot"
    assert f"RuntimeError: {STARTUP_ERROR}" in log
    assert "Worker failed to boot" in log
