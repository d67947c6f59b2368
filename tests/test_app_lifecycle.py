"""teardown_appcontext, ensure_sync, the instance folder, open_resource and the CLI
test runner: Flask's application-lifecycle API."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from ambi import Ambi, g
from ambi._drivers import thread_event_loop
from ambi.app import App
from ambi.scaffold import find_instance_path
from ambi.testing import AmbiClient

# -- teardown_appcontext in requests ---------------------------------------------------------


def test_teardown_appcontext_runs_after_teardown_request_once_per_request(
    app: Ambi, make_client: Callable[..., AmbiClient], as_view: Callable[..., Any]
) -> None:
    events: list[str] = []

    @app.teardown_request
    def request_teardown(error: BaseException | None) -> None:
        events.append("teardown_request")

    @app.teardown_appcontext
    def first(error: BaseException | None) -> None:
        events.append(f"first:{g.get('db')}:{error!r}")

    @app.teardown_appcontext
    async def second(error: BaseException | None) -> None:
        await asyncio.sleep(0)
        events.append("second")

    @app.get("/")
    @as_view
    def index() -> str:
        g.db = "conn"
        return "ok"

    client = make_client(app)
    assert client.get("/").text == "ok"
    # Reverse registration order, after the request's own teardown, with g still there.
    assert events == ["teardown_request", "second", "first:conn:None"]
    events.clear()
    assert client.get("/missing").status_code == 404
    assert events == ["teardown_request", "second", "first:None:None"]


def test_teardown_appcontext_sees_the_unhandled_error_and_its_errors_are_logged(
    app: Ambi,
    make_client: Callable[..., AmbiClient],
    as_view: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.testing = False
    seen: list[str] = []

    @app.teardown_appcontext
    def broken(error: BaseException | None) -> None:
        raise RuntimeError("teardown broke")

    @app.teardown_appcontext
    def record(error: BaseException | None) -> None:
        seen.append(repr(error))

    @app.get("/boom")
    @as_view
    def boom() -> str:
        raise ValueError("view broke")

    with caplog.at_level(logging.ERROR):
        response = make_client(app).get("/boom")
    assert response.status_code == 500
    assert seen == ["ValueError('view broke')"]
    messages = [record.getMessage() for record in caplog.records]
    assert any("Error in teardown_appcontext function" in m for m in messages)


def test_async_teardown_appcontext_makes_a_route_async_in_ambi_routes(app: Ambi) -> None:
    @app.get("/")
    def index() -> str:
        return "ok"

    assert app.plan_for("index").all_sync

    @app.teardown_appcontext
    async def close(error: BaseException | None) -> None:
        return None

    assert not app.plan_for("index").all_sync


def test_teardown_appcontext_runs_after_a_streamed_body(
    app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    events: list[str] = []

    @app.teardown_appcontext
    def close(error: BaseException | None) -> None:
        events.append("closed")

    @app.get("/stream")
    def stream() -> Any:
        def body() -> Any:
            events.append("chunk")
            yield "a"
            events.append("chunk")
            yield "b"

        return body()

    assert make_client(app).get("/stream").text == "ab"
    assert events == ["chunk", "chunk", "closed"]


# -- teardown_appcontext in plain app contexts ---------------------------------------------


def test_app_context_exit_runs_teardown_appcontext_with_the_error(app: Ambi) -> None:
    seen: list[object] = []

    @app.teardown_appcontext
    def close(error: BaseException | None) -> None:
        seen.append(error)

    with app.app_context():
        with app.app_context():  # nested: only the outermost pop of *this* ctx counts
            pass
        assert len(seen) == 1  # the inner context ended
    assert len(seen) == 2
    assert seen == [None, None]
    ctx = app.app_context()
    ctx.push()
    ctx.push()
    ctx.pop()
    assert len(seen) == 2  # the same context pushed twice: teardown at its last pop
    ctx.pop()
    assert len(seen) == 3
    with pytest.raises(KeyError), app.app_context():
        raise KeyError("x")
    assert isinstance(seen[-1], KeyError)


def test_async_teardown_appcontext_runs_on_the_threads_persistent_loop(app: Ambi) -> None:
    loops: list[object] = []

    @app.teardown_appcontext
    async def close(error: BaseException | None) -> None:
        loops.append(asyncio.get_running_loop())

    with app.app_context():
        pass
    with app.app_context():
        pass
    assert loops == [thread_event_loop(), thread_event_loop()]


def test_teardown_appcontext_error_propagates_and_the_context_is_still_popped(
    app: Ambi,
) -> None:
    from ambi.globals import _cv_context

    @app.teardown_appcontext
    def broken(error: BaseException | None) -> None:
        raise RuntimeError("close failed")

    with pytest.raises(RuntimeError, match="close failed"), app.app_context():
        pass
    assert _cv_context.get(None) is None


def test_ensure_sync_and_its_limits(app: Ambi) -> None:
    def plain(x: int) -> int:
        return x + 1

    async def coro(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    assert app.ensure_sync(plain) is plain
    assert app.ensure_sync(coro)(21) == 42

    async def inside_a_loop() -> None:
        with pytest.raises(RuntimeError, match="Await it instead"):
            app.ensure_sync(coro)(1)

    asyncio.run(inside_a_loop())

    core = App("core_only")
    with pytest.raises(RuntimeError, match=r"use ambi\.Ambi"):
        core.ensure_sync(coro)(1)


def test_teardown_appcontext_in_a_worker_thread_uses_that_threads_loop(app: Ambi) -> None:
    loops: list[object] = []

    @app.teardown_appcontext
    async def close(error: BaseException | None) -> None:
        loops.append(asyncio.get_running_loop())

    def work() -> None:
        with app.app_context():
            pass
        loops.append(thread_event_loop())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert len(loops) == 2
    assert loops[0] is loops[1]


# -- instance folder and resources ---------------------------------------------------------


def test_default_instance_path_is_beside_the_top_level_package() -> None:
    app = Ambi("tests.test_app_lifecycle")
    repo = Path(__file__).resolve().parent.parent
    assert app.instance_path == str(repo / "instance")


def test_instance_path_of_a_module_and_of_an_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "lonely_module.py"
    module.write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert find_instance_path("lonely_module", "lonely_module") == str(tmp_path / "instance")
    site = tmp_path / "lib" / "site-packages" / "installed_pkg"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site.parent))
    expected = os.path.join(os.path.abspath(sys.prefix), "var", "installed_pkg-instance")
    assert find_instance_path("installed_pkg.sub", "installed_pkg") == expected
    assert find_instance_path("no_such_module_anywhere", "x") == os.path.join(
        os.getcwd(), "instance"
    )


def test_instance_path_must_be_absolute_and_instance_relative_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be absolute"):
        Ambi(__name__, instance_path="relative/instance")
    (tmp_path / "settings.py").write_text("GREETING = 'hi'\n")
    (tmp_path / "data.txt").write_text("héllo", encoding="utf-8")
    app = Ambi(__name__, instance_path=str(tmp_path), instance_relative_config=True)
    assert app.config.from_pyfile("settings.py")
    assert app.config["GREETING"] == "hi"
    with app.open_instance_resource("data.txt", "r") as file:
        assert file.read() == "héllo"
    with app.open_instance_resource("data.txt") as binary:
        assert binary.read() == "héllo".encode()
    with app.open_instance_resource("new.txt", "w") as out:
        out.write("written")
    assert (tmp_path / "new.txt").read_text() == "written"


def test_open_resource_reads_relative_to_root_path(tmp_path: Path) -> None:
    (tmp_path / "schema.sql").write_text("CREATE TABLE t (x);", encoding="utf-8")
    app = Ambi(__name__, root_path=str(tmp_path))
    with app.open_resource("schema.sql", "r", encoding="utf-8") as file:
        assert file.read() == "CREATE TABLE t (x);"
    with app.open_resource("schema.sql") as binary:
        assert binary.read() == b"CREATE TABLE t (x);"
    with pytest.raises(ValueError, match="only be opened for reading"):
        app.open_resource("schema.sql", "w")


# -- test_cli_runner -------------------------------------------------------------------------


def test_cli_runner_invokes_app_commands_in_the_app_context(app: Ambi) -> None:
    closed: list[bool] = []

    @app.teardown_appcontext
    def close(error: BaseException | None) -> None:
        closed.append(True)

    @app.cli.command("greet")
    @click.argument("name")
    def greet(name: str) -> None:
        from ambi import current_app

        click.echo(f"hello {name} from {current_app.name}")

    @app.cli.command("later")
    async def later() -> None:
        await asyncio.sleep(0)
        click.echo("async done")

    runner = app.test_cli_runner()
    result = runner.invoke(args=["greet", "ada"])
    assert result.exit_code == 0, result.output
    assert result.output == f"hello ada from {app.name}\n"
    assert closed == [True]
    result = runner.invoke(args=["later"])
    assert result.exit_code == 0, result.output
    assert result.output == "async done\n"
    result = runner.invoke(args=["nope"])
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.output


def test_cli_runner_with_another_command(app: Ambi) -> None:
    @click.command()
    def standalone() -> None:
        click.echo("standalone")

    result = app.test_cli_runner().invoke(standalone)
    assert result.exit_code == 0
    assert result.output == "standalone\n"
