"""The ``ambi`` command: app discovery, ``.env`` files, ``routes``, ``shell``, ``run`` on
both servers, and custom commands on ``app.cli`` and ``bp.cli`` (as Flask's CLI)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner, Result

import ambi.cli
from ambi import Ambi, Blueprint
from ambi.appgroup import (
    NOT_FOUND_MESSAGE,
    AppGroup,
    NoAppException,
    ScriptInfo,
    _split_import_path,
    get_load_dotenv,
    locate_app,
    merge_blueprint_cli,
    with_appcontext,
)
from ambi.cli import AmbiGroup, _app_for_server, cli, load_dotenv

ROOT = Path(__file__).resolve().parent.parent


# A module defining one app; {setup} may register commands. Until App.cli exists by
# default, the module gives its app an AppGroup itself.
APP_MODULE = """\
import asyncio
import os

import click

from ambi import Ambi, current_app, g
from ambi.appgroup import AppGroup

app = Ambi({name!r}, static_folder=None)
app.cli = AppGroup({name!r})


@app.get("/")
def index():
    return "hi"


@app.cli.command("who")
@click.option("--shout", is_flag=True)
def who(shout):
    g.seen = True
    text = f"{{current_app.name}} debug={{current_app.debug}} g={{g.seen}}"
    click.echo(text.upper() if shout else text)


@app.cli.command("env")
@click.argument("names", nargs=-1)
def env(names):
    for name in names:
        click.echo(f"{{name}}={{os.environ.get(name)}}")


@app.cli.command("seed")
async def seed():
    await asyncio.sleep(0)
    click.echo(f"seeded {{current_app.name}}")


@app.cli.group()
def db():
    "Database commands."


@db.command()
@click.argument("revision", default="head")
def upgrade(revision):
    click.echo(f"upgrade {{current_app.name}} to {{revision}}")


@app.cli.command("bare", with_appcontext=False)
def bare():
    click.echo(f"context={{bool(current_app)}}")
{setup}
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts without AMBI_* variables and leaves no environment variable,
    ``sys.path`` entry or imported module of its temporary directory behind."""
    for name in list(os.environ):
        if name.startswith("AMBI_") or name == "PYTHONSTARTUP":
            monkeypatch.delenv(name)
    saved_environ = dict(os.environ)
    saved_path = list(sys.path)
    yield
    os.environ.clear()
    os.environ.update(saved_environ)
    sys.path[:] = saved_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def app_module(path: Path, name: str, setup: str = "") -> Path:
    return write(path, APP_MODULE.format(name=name, setup=textwrap.dedent(setup)))


def invoke(args: list[str], **kwargs: Any) -> Result:
    return CliRunner().invoke(cli, args, **kwargs)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory, the current directory, holding the module ``hello``."""
    monkeypatch.chdir(tmp_path)
    app_module(tmp_path / "hello.py", "hello")
    return tmp_path


# -- discovery -------------------------------------------------------------------------------

FACTORY_MODULE = """\
from ambi import Ambi


def create_app(name="factory", debug=False):
    app = Ambi(name, static_folder=None)
    app.config["GREETING"] = debug
    return app
"""


@pytest.mark.parametrize(
    ("files", "import_path", "expected"),
    [
        ({"m.py": "from ambi import Ambi\napp = Ambi('by-app')\n"}, "m", "by-app"),
        (
            {"m.py": "from ambi import Ambi\napplication = Ambi('by-application')\n"},
            "m",
            "by-application",
        ),
        ({"m.py": "from ambi import Ambi\nsite = Ambi('only-one')\n"}, "m", "only-one"),
        (
            {"m.py": "from ambi import Ambi\nsite = Ambi('x')\nother = Ambi('named')\n"},
            "m:other",
            "named",
        ),
        ({"m.py": FACTORY_MODULE}, "m", "factory"),
        ({"m.py": FACTORY_MODULE.replace("create_app", "make_app")}, "m", "factory"),
        ({"m.py": FACTORY_MODULE}, "m:create_app", "factory"),
        ({"m.py": FACTORY_MODULE}, "m:create_app()", "factory"),
        ({"m.py": FACTORY_MODULE}, "m:create_app('with-args', debug=True)", "with-args"),
        ({"m.py": FACTORY_MODULE}, 'm:create_app(name="kw")', "kw"),
        ({"m.py": FACTORY_MODULE}, "m: create_app('spaced') ", "spaced"),
        ({"sub/dir/file.py": FACTORY_MODULE}, "sub/dir/file.py", "factory"),
        ({"sub/dir/file.py": FACTORY_MODULE}, "sub/dir/file.py:create_app('p')", "p"),
        (
            {"pkg/__init__.py": "", "pkg/web.py": "from ambi import Ambi\napp = Ambi('in-pkg')\n"},
            "pkg.web",
            "in-pkg",
        ),
        (
            {"pkg/__init__.py": "", "pkg/web.py": "from ambi import Ambi\napp = Ambi('in-pkg')\n"},
            "pkg/web.py",
            "in-pkg",
        ),
        (
            {"pkg/__init__.py": "from ambi import Ambi\napp = Ambi('pkg-init')\n"},
            "pkg/__init__.py",
            "pkg-init",
        ),
        (
            {"m.py": "from ambi import Ambi\napp = 'not an app'\nreal = Ambi('skips-non-app')\n"},
            "m",
            "skips-non-app",
        ),
    ],
)
def test_discovery_matrix(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    import_path: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, source in files.items():
        write(tmp_path / name, source)
    app = ScriptInfo(import_path).load_app()
    assert app.name == expected
    # The same through the command line, and through AMBI_APP.
    result = invoke(["--app", import_path, "routes", "--all-methods"])
    assert result.exit_code == 0, result.output
    result = invoke(["routes"], env={"AMBI_APP": import_path})
    assert result.exit_code == 0, result.output


def test_factory_arguments_reach_the_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "m.py", FACTORY_MODULE)
    app = ScriptInfo("m:create_app('a', debug=[1, 2])").load_app()
    assert (app.name, app.config["GREETING"]) == ("a", [1, 2])


@pytest.mark.parametrize(
    ("present", "expected"),
    [({"app.py"}, "from-app"), ({"wsgi.py"}, "from-wsgi"), ({"app.py", "wsgi.py"}, "from-wsgi")],
)
def test_wsgi_py_and_app_py_are_found_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, present: set[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for filename in present:
        app_module(tmp_path / filename, f"from-{filename[:-3]}")
    result = invoke(["who"])
    assert result.exit_code == 0, result.output
    assert result.output == f"{expected} debug=False g=True\n"


def test_an_app_package_in_the_current_directory_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app_module(tmp_path / "app" / "__init__.py", "package-app")
    assert ScriptInfo().load_app().name == "package-app"


def test_app_option_and_envvar_precedence(project: Path) -> None:
    app_module(project / "other.py", "other")
    app_module(project / "app.py", "autodetected")
    assert invoke(["who"]).output == "autodetected debug=False g=True\n"
    assert invoke(["who"], env={"AMBI_APP": "hello"}).output == "hello debug=False g=True\n"
    result = invoke(["--app", "other", "who"], env={"AMBI_APP": "hello"})
    assert result.output == "other debug=False g=True\n"
    assert invoke(["-A", "other", "who"]).output == "other debug=False g=True\n"
    # The subcommands' own APP argument and --app option (kept from earlier versions).
    result = invoke(["--app", "other", "routes", "hello"])
    assert result.exit_code == 0, result.output
    assert invoke(["routes", "--app", "other"]).exit_code == 0


def test_no_app_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["routes"])
    assert result.exit_code == 2
    assert NOT_FOUND_MESSAGE in " ".join(result.output.split())
    assert NOT_FOUND_MESSAGE == (
        "Could not locate an Ambi application. Use the 'ambi --app' option, 'AMBI_APP'"
        " environment variable, or a 'wsgi.py' or 'app.py' file in the current directory."
    )
    # A custom command of an app that cannot be found: the reason, then "no such command".
    result = invoke(["init-db"])
    assert result.exit_code == 2
    assert "Could not locate an Ambi application" in result.stderr
    assert "No such command 'init-db'" in result.stderr
    # The built-in commands are still listed.
    result = invoke(["--help"])
    assert result.exit_code == 0
    assert "routes" in result.stdout
    assert "Could not locate an Ambi application" in result.stderr


def test_locate_app_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    write(tmp_path / "broken.py", "import os\nimport not_a_module_xyz\n")
    write(tmp_path / "noapp.py", "x = 1\n")
    write(tmp_path / "two.py", "from ambi import Ambi\na = Ambi('a')\nb = Ambi('b')\n")
    write(
        tmp_path / "needs_args.py",
        "from ambi import Ambi\n\ndef create_app(name):\n    return Ambi(name)\n",
    )
    write(
        tmp_path / "inner_error.py",
        "def create_app():\n    return len(1)\n\ndef make_nothing():\n    return None\n",
    )
    write(
        tmp_path / "no_result.py",
        "class Maker:\n    pass\n\ndef create_app():\n    return None\n",
    )
    write(tmp_path / "pkgless" / "placeholder.txt", "")
    with pytest.raises(NoAppException, match="no such module"):
        locate_app("missing_module_xyz", "app")
    with pytest.raises(NoAppException, match="no such module"):
        locate_app("missing_pkg_xyz.sub")
    assert locate_app("missing_module_xyz", None, raise_if_not_found=False) is None
    with pytest.raises(NoAppException, match="an ImportError was raised") as info:
        locate_app("broken", "app")
    # The traceback from inside the module is part of the message, not swallowed.
    message = info.value.format_message()
    assert 'broken.py", line 2' in message
    assert "ModuleNotFoundError: No module named 'not_a_module_xyz'" in message
    with pytest.raises(NoAppException, match="an ImportError was raised"):
        locate_app("broken", None, raise_if_not_found=False)
    with pytest.raises(NoAppException, match="has no attribute 'application'"):
        locate_app("noapp", "application")
    with pytest.raises(NoAppException, match="Could not find an Ambi application"):
        locate_app("noapp")
    with pytest.raises(NoAppException, match="Detected multiple Ambi applications"):
        locate_app("two")
    assert locate_app("two", "b").name == "b"
    with pytest.raises(NoAppException, match=r"'create_app' .* could not be called"):
        locate_app("needs_args")
    with pytest.raises(NoAppException, match="could not be called"):
        locate_app("needs_args", "create_app('a', 'b')")
    assert locate_app("needs_args", "create_app('given')").name == "given"
    # A TypeError raised inside the factory is the factory's bug: it propagates as is.
    with pytest.raises(TypeError, match="has no len"):
        locate_app("inner_error")
    with pytest.raises(NoAppException, match="A valid Ambi application was not obtained"):
        locate_app("inner_error", "make_nothing")
    with pytest.raises(NoAppException, match="A valid Ambi application was not obtained"):
        locate_app("noapp", "x")
    # Factories that return no app are passed over; a class called with wrong arguments
    # shows its own TypeError.
    with pytest.raises(NoAppException, match="Could not find an Ambi application or factory"):
        locate_app("no_result")
    with pytest.raises(TypeError, match="Maker"):
        locate_app("no_result", "Maker(1)")
    with pytest.raises(NoAppException, match="Failed to parse 'create_app\\(' as"):
        locate_app("needs_args", "create_app(")
    with pytest.raises(NoAppException, match="Failed to parse 'a\\[0\\]' as"):
        locate_app("needs_args", "a[0]")
    with pytest.raises(NoAppException, match="Failed to parse arguments as literal values"):
        locate_app("needs_args", "create_app(name)")
    with pytest.raises(NoAppException, match="Function reference must be a simple name"):
        locate_app("needs_args", "os.getcwd()")
    result = invoke(["routes", "noapp"])
    assert result.exit_code == 2
    assert "Could not find an Ambi application" in result.output


def test_an_error_inside_the_app_module_shows_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "boom.py", "from ambi import Ambi\napp = Ambi('boom')\nsetting = 1 / 0\n")
    result = invoke(["--app", "boom", "routes"])
    assert isinstance(result.exception, ZeroDivisionError)
    result = invoke(["--app", "boom", "--help"])
    assert result.exit_code == 0
    assert "ZeroDivisionError: division by zero" in result.stderr
    assert "routes" in result.stdout
    process = subprocess.run(
        [sys.executable, "-m", "ambi.cli", "--app", "boom", "routes"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 1
    assert "Traceback (most recent call last)" in process.stderr
    assert 'boom.py", line 3, in <module>' in process.stderr
    assert "ZeroDivisionError: division by zero" in process.stderr
    # ``--help`` still lists the built-in commands, after the traceback.
    process = subprocess.run(
        [sys.executable, "-m", "ambi.cli", "--app", "boom", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0
    assert "ZeroDivisionError" in process.stderr
    assert "routes" in process.stdout


def test_split_import_path_keeps_windows_drives() -> None:
    assert _split_import_path("mod") == ("mod", None)
    assert _split_import_path("mod:") == ("mod", None)
    assert _split_import_path("mod:create_app('a:b')") == ("mod", "create_app('a:b')")
    assert _split_import_path("C:\\site\\app.py") == ("C:\\site\\app.py", None)
    assert _split_import_path("C:/site/app.py:make()") == ("C:/site/app.py", "make()")


def test_script_info_loads_once_and_forgets_on_a_new_path(project: Path) -> None:
    app_module(project / "other.py", "other")
    info = ScriptInfo("hello")
    first = info.load_app()
    assert info.load_app() is first
    info.app_import_path = "hello"
    assert info.load_app() is first
    info.app_import_path = "other"
    assert info.load_app().name == "other"
    created = Ambi("created")
    assert ScriptInfo(create_app=lambda: created).load_app() is created
    # set_debug_flag=False leaves the app's own DEBUG alone.
    created.debug = True
    assert ScriptInfo(create_app=lambda: created, set_debug_flag=False).load_app().debug


# -- custom commands ---------------------------------------------------------------------------


def test_app_cli_commands_are_listed_and_run_in_the_app_context(project: Path) -> None:
    result = invoke(["--app", "hello", "--help"])
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands:")[1].split()
    for name in ("who", "env", "seed", "db", "bare", "routes", "run", "shell"):
        assert name in commands
    assert invoke(["--app", "hello", "who", "--shout"]).output == "HELLO DEBUG=FALSE G=TRUE\n"
    # AMBI_APP is read for the help too (it is printed before options are processed).
    result = invoke(["--help"], env={"AMBI_APP": "hello"})
    assert "who" in result.output
    result = invoke([], env={"AMBI_APP": "hello"})
    assert "who" in result.output
    # Nested groups of app.cli are AppGroups: their commands get the context too.
    result = invoke(["--app", "hello", "db", "upgrade", "42"])
    assert result.output == "upgrade hello to 42\n"
    # As in Flask, the ambi command pushes the app's context for every app.cli command,
    # even one made with with_appcontext=False (which matters for other click groups).
    assert invoke(["--app", "hello", "bare"]).output == "context=True\n"


def test_async_def_commands_run_to_completion_in_the_context(project: Path) -> None:
    result = invoke(["--app", "hello", "seed"])
    assert result.exit_code == 0, result.output
    assert result.output == "seeded hello\n"


def test_async_command_without_a_runner_is_a_clear_error() -> None:
    app = Ambi("runnerless", static_folder=None)
    group = AppGroup("tools")

    @group.command()
    async def job() -> None:
        raise AssertionError("never run")

    result = CliRunner().invoke(group, ["job"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 2
    assert "'job' is an async def command" in result.output


def test_app_group_decorators_without_parentheses() -> None:
    app = Ambi("bare-decorators", static_folder=None)
    group = AppGroup("tools")

    @group.command
    def ping() -> None:
        from ambi import current_app

        click.echo(f"pong from {current_app.name}")

    @group.group
    def nested() -> None:
        pass

    @nested.command("deep")
    def deep() -> None:
        from ambi import current_app

        click.echo(current_app.name)

    @group.command(with_appcontext=False)
    def outside() -> None:
        from ambi import current_app

        click.echo(f"context={bool(current_app)}")

    assert isinstance(nested, AppGroup)
    info = ScriptInfo(create_app=lambda: app)
    assert CliRunner().invoke(group, ["outside"], obj=info).output == "context=False\n"
    assert CliRunner().invoke(group, ["ping"], obj=info).output == "pong from bare-decorators\n"
    assert CliRunner().invoke(group, ["nested", "deep"], obj=info).output == "bare-decorators\n"


def test_with_appcontext_on_a_plain_click_command() -> None:
    from ambi import current_app

    app = Ambi("plain", static_folder=None)

    @click.command()
    @with_appcontext
    def show() -> None:
        click.echo(current_app.name)

    result = CliRunner().invoke(show, [], obj=ScriptInfo(create_app=lambda: app))
    assert result.output == "plain\n"
    # An active app context is used as is.
    other = Ambi("active", static_folder=None)
    with other.app_context():
        assert CliRunner().invoke(show, [], obj=ScriptInfo(create_app=lambda: app)).output == (
            "active\n"
        )


def test_a_custom_script_with_create_app() -> None:
    app = Ambi("scripted", static_folder=None)
    app.cli = AppGroup("scripted")  # type: ignore[attr-defined,unused-ignore]

    @app.cli.command("hello")  # type: ignore[attr-defined,unused-ignore]
    def hello_command() -> None:
        from ambi import current_app

        click.echo(f"hello from {current_app.name}")

    script = AmbiGroup(create_app=lambda: app, add_version_option=False, name="manage")
    result = CliRunner().invoke(script, ["hello"])
    assert result.output == "hello from scripted\n"
    result = CliRunner().invoke(script, ["--help"])
    assert "--version" not in result.output
    assert "hello" in result.output


def test_plugin_commands_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command()
    def plugged() -> None:
        click.echo("plugged in")

    class EntryPoint:
        name = "plug"

        def load(self) -> click.Command:
            return plugged

    seen: list[str] = []

    def entry_points(group: str) -> list[EntryPoint]:
        seen.append(group)
        return [EntryPoint()]

    monkeypatch.setattr(ambi.cli.importlib.metadata, "entry_points", entry_points)
    group = AmbiGroup(name="ambi")
    assert CliRunner().invoke(group, ["plug"]).output == "plugged in\n"
    assert "plug" in CliRunner().invoke(group, ["--help"]).output
    assert seen == ["ambi.commands"]  # loaded once


def test_an_app_without_cli_has_only_the_builtin_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "m.py",
        "from ambi import Ambi\napp = Ambi('m')\nif hasattr(app, 'cli'):\n    app.cli = None\n",
    )
    assert invoke(["--app", "m", "nothing"]).exit_code == 2
    assert invoke(["--app", "m", "--help"]).exit_code == 0


def test_merge_blueprint_cli() -> None:
    def commands() -> AppGroup:
        group = AppGroup()

        @group.command("add-item")
        def add_item() -> None:
            pass

        return group

    app_cli = AppGroup("app")
    merge_blueprint_cli(app_cli, commands(), "shop")
    merge_blueprint_cli(app_cli, commands(), None)
    merge_blueprint_cli(app_cli, AppGroup(), "empty")
    assert sorted(app_cli.commands) == ["add-item", "shop"]
    assert app_cli.commands["shop"].name == "shop"


BLUEPRINT_SETUP = """
from ambi import Blueprint

shop = Blueprint("shop", __name__)
store = Blueprint("store", __name__, cli_group="warehouse")
flat = Blueprint("flat", __name__, cli_group=None)
quiet = Blueprint("quiet", __name__)
outer = Blueprint("outer", __name__)
inner = Blueprint("inner", __name__)

for bp in (shop, store, flat, inner):
    @bp.cli.command(f"{{bp.name}}-item")
    def item(bp=bp):
        click.echo(f"{{bp.name}} item in {{current_app.name}}")

outer.register_blueprint(inner)
app.register_blueprint(shop)
app.register_blueprint(store)
app.register_blueprint(flat)
app.register_blueprint(quiet)
app.register_blueprint(outer)
app.register_blueprint(shop, name="shop2", url_prefix="/2", cli_group="second")
"""


def test_blueprint_cli_commands(project: Path) -> None:
    app_module(project / "shop_app.py", "shop_app", BLUEPRINT_SETUP.format())
    commands = invoke(["--app", "shop_app", "--help"]).output.split("Commands:")[1]
    assert "quiet" not in commands  # a blueprint without commands adds no group
    cases = {
        ("shop", "shop-item"): "shop item in shop_app",
        ("warehouse", "store-item"): "store item in shop_app",
        ("flat-item",): "flat item in shop_app",
        ("outer.inner", "inner-item"): "inner item in shop_app",
        ("second", "shop-item"): "shop item in shop_app",
    }
    for args, expected in cases.items():
        result = invoke(["--app", "shop_app", *args])
        assert result.exit_code == 0, (args, result.output)
        assert result.output == f"{expected}\n"


def test_app_cli_exists_by_default() -> None:
    app = Ambi("default-cli", static_folder=None)
    group: Any = app.cli  # type: ignore[attr-defined,unused-ignore]
    assert isinstance(group, AppGroup)
    assert group.name == "default-cli"
    assert app.cli is group  # type: ignore[attr-defined,unused-ignore]
    assert isinstance(Blueprint("bp", __name__).cli, AppGroup)  # type: ignore[attr-defined,unused-ignore]

    @app.shell_context_processor  # type: ignore[attr-defined,unused-ignore]
    def extra() -> dict[str, int]:
        return {"extra": 1}

    assert app.shell_context_processors == [extra]  # type: ignore[attr-defined,unused-ignore]


# -- shell -------------------------------------------------------------------------------------


def test_shell_runs_in_the_app_context(project: Path) -> None:
    setup = """
    async def fetch():
        await asyncio.sleep(0)
        return {"fetched": "async value"}

    app.shell_context_processors = [lambda: {"answer": 42}, fetch]
    """
    app_module(project / "shelly.py", "shelly", setup)
    startup = write(project / "startup.py", "from_startup = 'started'\n")
    lines = [
        "print(app.name, answer, fetched, from_startup)",
        "g.value = 'set'",
        "from ambi import current_app",
        "print(current_app.name, g.value)",
        "def add(a, b):",
        "    return a + b",
        "",
        "print(add(2, 3))",
    ]
    result = invoke(
        ["--app", "shelly", "shell"],
        input="\n".join(lines) + "\n",
        env={"PYTHONSTARTUP": str(startup)},
    )
    assert result.exit_code == 0, result.output
    assert "shelly 42 async value started\n" in result.stdout
    assert "shelly set\n" in result.stdout
    assert "5\n" in result.stdout
    assert f"Python {sys.version} on {sys.platform}\nApp: shelly\n" in result.stderr


def test_shell_shows_errors_and_keeps_going(project: Path) -> None:
    result = invoke(["--app", "hello", "shell"], input="1 / 0\nprint('after')\n")
    assert result.exit_code == 0
    assert "ZeroDivisionError" in result.stderr
    assert "after\n" in result.stdout


# -- routes ------------------------------------------------------------------------------------


def test_routes_lists_rules_and_how_they_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = invoke(["routes", "examples.app:app"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Rule", "WSGI", "ASGI"]
    user_line = next(line for line in lines if line.startswith("user "))
    assert "/users/<int:user_id>" in user_line
    # The app has a sync before_request hook, so an async view hops once for it.
    assert "thread's persistent loop (one entry)" in user_line
    assert "event loop + worker-thread hops for the sync hooks" in user_line
    index_line = next(line for line in lines if line.startswith("index "))
    assert "direct (no loop)" in index_line
    assert "worker thread (one hop)" in index_line


ROUTES_SETUP = """
@app.route("/zebra", methods=["POST", "PUT"])
def alpha():
    return ""


@app.delete("/apple")
async def middle():
    return ""
"""


def _column(output: str, index: int) -> list[str]:
    return [line.split()[index] for line in output.splitlines()[2:]]


def test_routes_sorting_and_methods(project: Path) -> None:
    app_module(project / "sorted_app.py", "sorted_app", ROUTES_SETUP)
    base = ["--app", "sorted_app", "routes"]
    assert _column(invoke(base).output, 0) == ["alpha", "index", "middle"]
    assert _column(invoke([*base, "--sort", "rule"]).output, 0) == ["index", "middle", "alpha"]
    assert _column(invoke([*base, "-s", "methods"]).output, 0) == ["middle", "index", "alpha"]
    assert _column(invoke([*base, "--sort", "match"]).output, 0) == ["index", "alpha", "middle"]
    # "domain" sorts nothing without a subdomain column.
    assert _column(invoke([*base, "--sort", "domain"]).output, 0) == ["index", "alpha", "middle"]
    plain = invoke(base).output
    assert "HEAD" not in plain
    assert "OPTIONS" not in plain
    lines = invoke([*base, "--all-methods"]).output.splitlines()
    assert "GET, HEAD, OPTIONS" in next(line for line in lines if line.startswith("index"))
    assert "OPTIONS, POST, PUT" in next(line for line in lines if line.startswith("alpha"))
    middle = next(line for line in lines if line.startswith("middle"))
    assert "thread's persistent loop (one entry)" in middle
    assert middle.rstrip().endswith("event loop (no thread)")
    bad = invoke([*base, "--sort", "size"])
    assert bad.exit_code == 2


def test_routes_show_subdomains_and_empty_maps(project: Path) -> None:
    setup = """
    app.config["SERVER_NAME"] = "example.test"

    @app.get("/", subdomain="api", endpoint="api_index")
    def api_index():
        return ""
    """
    app_module(project / "sub_app.py", "sub_app", setup)
    result = invoke(["--app", "sub_app", "routes", "--sort", "domain"])
    lines = result.output.splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Subdomain", "Rule", "WSGI", "ASGI"]
    assert lines[2].split()[:3] == ["index", "GET", "/"]
    assert lines[3].split()[:4] == ["api_index", "GET", "api", "/"]
    write(project / "empty.py", "from ambi import Ambi\napp = Ambi('empty', static_folder=None)\n")
    assert invoke(["--app", "empty", "routes"]).output == "No routes were registered.\n"


def test_routes_use_an_active_app_context() -> None:
    app = Ambi("active_routes", static_folder=None)

    @app.get("/here")
    def here() -> str:
        return ""

    with app.app_context():
        result = CliRunner().invoke(cli, ["routes"], obj=ScriptInfo())
    assert "/here" in result.output


# -- .env files --------------------------------------------------------------------------------


def test_dotenv_files_and_precedence(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / ".ambienv", "AMBI_APP=hello\nA=ambienv\nB=ambienv\nC=ambienv\nD=ambienv\n")
    write(project / ".env", "B=env\nC=env\nD=env\n")
    write(project / "extra.env", "C=file\nD=file\n")
    monkeypatch.setenv("D", "environment")
    result = invoke(["env", "A", "B", "C", "D"])
    # .env over .ambienv; the real environment over both; AMBI_APP comes from .ambienv.
    assert result.output == "A=ambienv\nB=env\nC=env\nD=environment\n"
    # The loaded variables stay in the environment (then they win over the files).
    assert (os.environ["AMBI_APP"], os.environ["C"]) == ("hello", "env")
    for name in ("AMBI_APP", "A", "B", "C"):
        del os.environ[name]
    result = invoke(["--env-file", "extra.env", "env", "A", "B", "C", "D"])
    assert result.output == "A=ambienv\nB=env\nC=file\nD=environment\n"
    for name in ("AMBI_APP", "A", "B", "C"):
        del os.environ[name]
    # Given after --app, --env-file is still loaded.
    result = invoke(["--app", "hello", "-e", "extra.env", "env", "C"])
    assert result.output == "C=file\n"
    assert os.environ["C"] == "file"


def test_dotenv_is_searched_upwards_and_can_be_skipped(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / ".env", "FROM_PARENT=yes\nAMBI_APP=hello\n")
    write(project / "extra.env", "EXTRA=yes\n")
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    monkeypatch.syspath_prepend(str(project))
    result = invoke(["env", "FROM_PARENT"])
    assert result.output == "FROM_PARENT=yes\n"
    os.environ.pop("FROM_PARENT")
    monkeypatch.chdir(project)
    result = invoke(
        ["--app", "hello", "--env-file", "extra.env", "env", "FROM_PARENT", "EXTRA"],
        env={"AMBI_SKIP_DOTENV": "1"},
    )
    assert result.output == "FROM_PARENT=None\nEXTRA=yes\n"
    result = invoke(["--app", "hello", "env", "FROM_PARENT"], env={"AMBI_SKIP_DOTENV": "1"})
    assert result.output == "FROM_PARENT=None\n"
    assert get_load_dotenv() is True
    for value, expected in (("1", False), ("true", False), ("0", True), ("no", True)):
        monkeypatch.setenv("AMBI_SKIP_DOTENV", value)
        assert get_load_dotenv() is expected
    assert load_dotenv(project / "missing.env", load_defaults=False) is False


def test_without_python_dotenv(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dotenv", None)  # import dotenv now fails
    write(project / ".env", "A=1\n")
    result = invoke(["--app", "hello", "env", "A"])
    assert result.stdout == "A=None\n"
    assert "Install python-dotenv to use them" in result.stderr
    result = invoke(["--env-file", ".env", "--app", "hello", "env", "A"])
    assert result.exit_code == 2
    assert "python-dotenv must be installed to load an env file" in result.output
    (project / ".env").unlink()
    result = invoke(["--app", "hello", "env", "A"])
    assert (result.stdout, result.stderr) == ("A=None\n", "")


# -- debug ---------------------------------------------------------------------------------------


def test_debug_flag(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def who(*args: str, env: dict[str, str] | None = None) -> str:
        return invoke(["--app", "hello", *args, "who"], env=env).output

    assert who() == "hello debug=False g=True\n"
    assert who("--debug") == "hello debug=True g=True\n"
    # --debug reaches the environment, so factories and server processes see it.
    assert os.environ.pop("AMBI_DEBUG") == "1"
    assert who(env={"AMBI_DEBUG": "1"}) == "hello debug=True g=True\n"
    assert who("--no-debug", env={"AMBI_DEBUG": "1"}) == "hello debug=False g=True\n"
    assert "AMBI_DEBUG" not in os.environ
    assert who(env={"AMBI_DEBUG": "false"}) == "hello debug=False g=True\n"
    # As in Flask, the command line decides: DEBUG set in code is reset without --debug.
    app_module(project / "debug_in_code.py", "debug_in_code", "app.debug = True\n")
    assert invoke(["--app", "debug_in_code", "who"]).output.endswith("debug=False g=True\n")


def test_version(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.output == f"Python {sys.version.split()[0]}\nAmbi {ambi.__version__}\n"
    monkeypatch.setattr(sys, "argv", ["ambi", "--version"])
    with pytest.raises(SystemExit) as exit_info:
        ambi.cli.main()
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == result.output


# -- ambi run (without a server) ---------------------------------------------------------------


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Record what ``ambi run`` would start instead of starting it."""
    import uvicorn

    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(("uvicorn", (app, kw))))
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append(("execv", argv)))
    return calls


def test_run_serves_the_loaded_app_in_process(
    project: Path, servers: list[tuple[str, Any]]
) -> None:
    result = invoke(["run", "hello", "--port", "9001", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert result.output == " * Serving Ambi app 'hello' on uvicorn\n * Debug mode: off\n"
    [(kind, (app, options))] = servers
    assert kind == "uvicorn"
    assert isinstance(app, Ambi)
    assert app.name == "hello"
    assert options == {"host": "0.0.0.0", "port": 9001}


@pytest.mark.parametrize(
    ("args", "reload", "workers"),
    [
        (["--reload"], True, None),
        (["--workers", "3"], False, 3),
        (["--debug"], True, None),
        (["--debug", "--workers", "2"], True, None),
    ],
)
def test_run_with_reload_or_workers_loads_the_app_in_each_process(
    project: Path,
    servers: list[tuple[str, Any]],
    args: list[str],
    reload: bool,
    workers: int | None,
) -> None:
    result = invoke(["--app", "hello:app", "run", *args])
    assert result.exit_code == 0, result.output
    [(_, (target, options))] = servers
    assert target == "ambi.cli:_app_for_server"
    assert options == {
        "factory": True,
        "host": "127.0.0.1",
        "port": 8000,
        "reload": reload,
        "workers": workers,
    }
    assert os.environ["AMBI_APP"] == "hello:app"
    assert f"Debug mode: {'on' if '--debug' in args else 'off'}" in result.output


def test_run_debug_without_reload(project: Path, servers: list[tuple[str, Any]]) -> None:
    result = invoke(["run", "--debug", "--no-reload", "hello"])
    assert result.exit_code == 0, result.output
    [(_, (app, _options))] = servers
    assert app.debug is True
    assert "Debug mode: on" in result.output


def test_run_on_gunicorn(project: Path, servers: list[tuple[str, Any]]) -> None:
    result = invoke(["run", "--server", "gunicorn", "--workers", "2", "--reload", "hello"])
    assert result.exit_code == 0, result.output
    invoke(["--app", "hello", "run", "--server", "gunicorn", "-h", "0.0.0.0", "-p", "9"])
    [(kind, argv), (_, second)] = servers
    assert kind == "execv"
    assert argv[:3] == [sys.executable, "-m", "gunicorn"]
    assert argv[-2:] == ["--reload", "ambi.cli:_app_for_server()"]
    assert argv[argv.index("--workers") + 1] == "2"
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8000"
    assert os.environ["AMBI_APP"] == "hello"
    assert "--reload" not in second
    assert second[second.index("--bind") + 1] == "0.0.0.0:9"
    assert second[second.index("--workers") + 1] == "1"


def test_run_errors(
    project: Path, servers: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke(["run", "missing_module_xyz"])
    assert result.exit_code == 2
    assert "no such module" in result.output
    app = Ambi("scripted", static_folder=None)
    script = AmbiGroup(create_app=lambda: app, name="manage")
    result = CliRunner().invoke(script, ["run", "--reload"])
    assert result.exit_code == 2
    assert "name it with --app instead of a create_app callback" in result.output
    assert CliRunner().invoke(script, ["run"]).exit_code == 0
    real_find_spec = ambi.cli.importlib.util.find_spec
    monkeypatch.setattr(
        ambi.cli.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gunicorn" else real_find_spec(name, *a),
    )
    result = invoke(["run", "--server", "gunicorn", "hello"])
    assert result.exit_code == 2
    assert "gunicorn is not installed" in result.output
    assert [kind for kind, _ in servers] == ["uvicorn"]


def test_app_for_server_loads_like_ambi_run(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMBI_APP", "hello")
    monkeypatch.setenv("AMBI_DEBUG", "1")
    app = _app_for_server()
    assert (app.name, app.debug) == ("hello", True)
    monkeypatch.delenv("AMBI_APP")
    app_module(project / "wsgi.py", "autodetected")
    assert _app_for_server().name == "autodetected"


# -- ambi run (real servers) ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(command: list[str], cwd: Path, port: int, check: Any) -> str:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while True:
                try:
                    client.get("/")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.1)
            check(client)
    finally:
        process.terminate()
        try:
            output = process.communicate(timeout=15)[0].decode()
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0].decode()
    assert "Traceback" not in output, output
    return output


@pytest.mark.server
@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_ambi_run_serves_the_example(server: str) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "ambi.cli", "run", "examples.app:app", "--port", str(port)]
    if server == "gunicorn":
        command += ["--server", "gunicorn"]

    def check(client: httpx.Client) -> None:
        response = client.get("/", headers={"X-User": "ada"})
        assert response.text == "hello, ada! Try /users/42?q=x\n"
        assert client.get("/users/42?q=x").json() == {"id": 42, "q": "x"}
        created = client.post("/items", json={"name": "pen"})
        assert created.status_code == 201
        assert created.json()["created"] == {"name": "pen"}
        assert client.post("/items", json=[1]).status_code == 400
        assert client.get("/count/3").text == "0\n1\n2\n"

    _serve(command, ROOT, port, check)


SERVED_FACTORY = """\
from ambi import Ambi, current_app


def create_app(greeting):
    app = Ambi("served", static_folder=None)

    @app.get("/")
    async def index():
        return f"{greeting} debug={current_app.debug}"

    return app
"""


@pytest.mark.server
@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_ambi_run_a_factory_with_arguments_in_worker_processes(server: str, tmp_path: Path) -> None:
    # Each worker process loads the app again: the factory gets its arguments and the
    # app its debug flag there too.
    write(tmp_path / "served.py", SERVED_FACTORY)
    write(tmp_path / ".ambienv", "AMBI_APP=served:create_app('bonjour')\n")
    port = _free_port()
    command = [sys.executable, "-m", "ambi.cli", "--debug", "run", "--no-reload"]
    command += ["--port", str(port), "--workers", "2", "--server", server]

    def check(client: httpx.Client) -> None:
        assert client.get("/").text == "bonjour debug=True"

    output = _serve(command, tmp_path, port, check)
    assert "Serving Ambi app 'served:create_app('bonjour')'" in output
