"""The ``ambi`` command: ``run``, ``routes``, ``shell`` and the app's own commands.

It works like Flask's ``flask`` command. The app is named with ``--app`` (or
``AMBI_APP``) as ``module``, ``module:name``, ``module:create_app()``,
``module:create_app("dev")`` or ``path/to/app.py``; without it, ``wsgi.py`` or ``app.py``
in the current directory is used (see :mod:`ambi.appgroup`). ``.ambienv`` and ``.env``
are loaded first if python-dotenv is installed.

``ambi run`` serves the app on uvicorn, the embedded default; ``--server gunicorn`` runs
the same object under gunicorn (its ``gunicorn`` extra must be installed). Commands
registered with ``@app.cli.command()`` or on a blueprint's ``cli`` appear next to the
built-in ones and run inside the app context.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import inspect
import os
import platform
import sys
from typing import TYPE_CHECKING, Any, cast

import click
from click.core import ParameterSource

from .appgroup import (
    AppGroup,
    NoAppException,
    ScriptInfo,
    _current_app,
    locate_app,
    pass_script_info,
    with_appcontext,
)

if TYPE_CHECKING:
    from .app import App

__all__ = [
    "AmbiGroup",
    "AppGroup",
    "NoAppException",
    "ScriptInfo",
    "cli",
    "load_dotenv",
    "locate_app",
    "main",
    "pass_script_info",
    "with_appcontext",
]

DEFAULT_ENV_FILES = (".ambienv", ".env")
_LISTING = "ambi.listing_commands"


# -- .env files --------------------------------------------------------------------------------


def load_dotenv(path: str | os.PathLike[str] | None = None, load_defaults: bool = True) -> bool:
    """Set environment variables from dotenv files, as Flask does with ``.flaskenv``.

    ``path`` takes precedence over ``.env``, which takes precedence over ``.ambienv``
    (the defaults are searched from the current directory upwards). Variables already in
    the environment are never overwritten. Without python-dotenv nothing is loaded (a tip
    is printed if such files exist). Returns whether any variable was read.
    """
    try:
        import dotenv
    except ImportError:
        if path or any(os.path.isfile(name) for name in DEFAULT_ENV_FILES):
            click.secho(
                " * Tip: There are .env or .ambienv files present. Install python-dotenv"
                " to use them.",
                fg="yellow",
                err=True,
            )
        return False
    data: dict[str, str | None] = {}
    if load_defaults:
        for name in DEFAULT_ENV_FILES:
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                data |= dotenv.dotenv_values(found, encoding="utf-8")
    if path is not None and os.path.isfile(path):
        data |= dotenv.dotenv_values(path, encoding="utf-8")
    for key, value in data.items():
        if key not in os.environ and value is not None:
            os.environ[key] = value
    return bool(data)


# -- the group's options -----------------------------------------------------------------------


def _set_app(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        ctx.ensure_object(ScriptInfo).app_import_path = value
    return value


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool | None) -> bool | None:
    # Left unset, the flag is False: keep AMBI_DEBUG then. Given, it goes to the environment
    # so that a factory (and every server process) sees it.
    source = ctx.get_parameter_source(param.name) if param.name else None
    if source is None or source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
        return None
    os.environ["AMBI_DEBUG"] = "1" if value else "0"
    return value


def _load_env_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and importlib.util.find_spec("dotenv") is None:
        raise click.BadParameter(
            "python-dotenv must be installed to load an env file.", ctx=ctx, param=param
        )
    info = ctx.ensure_object(ScriptInfo)
    if value is not None or info.load_dotenv_defaults:
        load_dotenv(value, load_defaults=info.load_dotenv_defaults)
    return value


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(
        f"Python {platform.python_version()}\nAmbi {importlib.metadata.version('ambi')}",
        color=ctx.color,
    )
    ctx.exit()


# --env-file is eager and declared first, so the files are loaded before --app reads AMBI_APP.
_env_file_option = click.Option(
    ["-e", "--env-file"],
    type=click.Path(exists=True, dir_okay=False),
    help="Load environment variables from this file, taking precedence over '.env' and"
    " '.ambienv'. Variables set in the environment take precedence over all files."
    " python-dotenv must be installed.",
    is_eager=True,
    expose_value=False,
    callback=_load_env_file,
)
_app_option = click.Option(
    ["-A", "--app"],
    metavar="IMPORT",
    help="The Ambi application or factory to load, as 'module:name'. The module may be a"
    " dotted import or a file path. The name may be left out if it is 'app',"
    " 'application', 'create_app' or 'make_app', and may be 'name(args)' to pass"
    " arguments. [env: AMBI_APP]",
    is_eager=True,
    expose_value=False,
    callback=_set_app,
)
_debug_option = click.Option(
    ["--debug/--no-debug"],
    default=None,
    help="Set debug mode (AMBI_DEBUG): app.debug, and --reload unless --no-reload.",
    expose_value=False,
    callback=_set_debug,
)
_version_option = click.Option(
    ["--version"],
    help="Show the Ambi version.",
    expose_value=False,
    callback=_show_version,
    is_flag=True,
    is_eager=True,
)


def _app_cli(app: App) -> click.Group | None:
    group = getattr(app, "cli", None)
    return group if isinstance(group, click.Group) else None


class AmbiGroup(AppGroup):
    """The ``ambi`` command group: the ``--app``, ``--env-file`` and ``--debug`` options,
    the built-in ``run``, ``routes`` and ``shell`` commands, commands installed under the
    ``ambi.commands`` entry point group, and the loaded app's ``app.cli`` commands.

    Build your own management script with it, e.g.
    ``AmbiGroup(create_app=lambda: create_app("dev"))``.
    """

    def __init__(
        self,
        add_default_commands: bool = True,
        create_app: Any = None,
        add_version_option: bool = True,
        load_dotenv: bool = True,
        set_debug_flag: bool = True,
        **extra: Any,
    ) -> None:
        params: list[click.Parameter] = list(extra.pop("params", None) or ())
        params.extend((_env_file_option, _app_option, _debug_option))
        if add_version_option:
            params.append(_version_option)
        extra.setdefault("context_settings", {}).setdefault("auto_envvar_prefix", "AMBI")
        super().__init__(params=params, **extra)
        self.create_app = create_app
        self.load_dotenv = load_dotenv
        self.set_debug_flag = set_debug_flag
        if add_default_commands:
            self.add_command(run_command)
            self.add_command(routes_command)
            self.add_command(shell_command)
        self._loaded_plugin_commands = False

    def _load_plugin_commands(self) -> None:
        if self._loaded_plugin_commands:
            return
        for entry_point in importlib.metadata.entry_points(group="ambi.commands"):
            self.add_command(entry_point.load(), entry_point.name)
        self._loaded_plugin_commands = True

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugin_commands()
        # Built-in and plugin commands work even when the app cannot be loaded.
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except NoAppException as exc:
            click.secho(f"Error: {exc.format_message()}\n", err=True, fg="red")
            return None
        group = _app_cli(app)
        if group is None:
            return None
        # The app's commands (and their parameter callbacks) run in its context. Not when
        # the help lists them: click may then never close this context.
        if not ctx.meta.get(_LISTING) and _current_app() is not app:
            ctx.with_resource(app.app_context())
        return group.get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        ctx.meta[_LISTING] = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            del ctx.meta[_LISTING]

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        names = set(super().list_commands(ctx))
        try:
            group = _app_cli(ctx.ensure_object(ScriptInfo).load_app())
        except NoAppException as exc:
            click.secho(f"Error: {exc.format_message()}\n", err=True, fg="red")
        except Exception:
            import traceback

            click.secho(f"{traceback.format_exc()}\n", err=True, fg="red")
        else:
            if group is not None:
                names.update(group.list_commands(ctx))
        return sorted(names)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = ScriptInfo(
                create_app=self.create_app,
                set_debug_flag=self.set_debug_flag,
                load_dotenv_defaults=self.load_dotenv,
                run_coroutine=asyncio.run,
            )
        return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if (not args and self.no_args_is_help) or (
            len(args) == 1 and args[0] in self.get_help_option_names(ctx)
        ):
            # The help is printed before options are processed: load the env files and
            # AMBI_APP now, so that it lists the app's commands.
            _env_file_option.handle_parse_result(ctx, {}, [])
            _app_option.handle_parse_result(ctx, {}, [])
        return super().parse_args(ctx, args)


# -- ambi run ----------------------------------------------------------------------------------


def _app_for_server() -> App:
    """The app, loaded again in a server process (uvicorn's reloader or workers, gunicorn
    workers) the way ``ambi run`` found it: from ``AMBI_APP`` or ``wsgi.py``/``app.py``,
    with ``AMBI_DEBUG``."""
    return ScriptInfo(app_import_path=os.environ.get("AMBI_APP") or None).load_app()


_SERVER_FACTORY = "ambi.cli:_app_for_server"  # not __name__: "__main__" under python -m


@click.command("run", short_help="Run a development server.")
@click.argument("app_path", metavar="[APP]", required=False)
@click.option("--app", "app_option", metavar="IMPORT", help="Same as 'ambi --app IMPORT run'.")
@click.option("--host", "-h", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", "-p", default=8000, show_default=True, type=int, help="Port to bind.")
@click.option(
    "--reload/--no-reload",
    default=None,
    help="Restart the server when code changes. On by default with --debug.",
)
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "gunicorn"]),
    default="uvicorn",
    show_default=True,
    help="uvicorn serves the ASGI face, gunicorn the WSGI face of the same app.",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@pass_script_info
def run_command(
    info: ScriptInfo,
    app_path: str | None,
    app_option: str | None,
    host: str,
    port: int,
    reload: bool | None,
    server: str,
    workers: int,
) -> None:
    """Serve the app (APP, or the one given with 'ambi --app') on uvicorn, or on gunicorn
    with --server gunicorn.

    With --reload, --workers above 1 or gunicorn, each server process loads the app again
    the same way.
    """
    target = app_path or app_option
    if target:
        info.app_import_path = target
    app = info.load_app()  # fail here, with a clear message, not in a server process
    debug = app.debug
    if reload is None:
        reload = debug
    spawns = server == "gunicorn" or reload or workers > 1
    if spawns and info.create_app is not None:
        raise click.UsageError(
            "--reload, --workers and --server gunicorn load the app again in each server"
            " process: name it with --app instead of a create_app callback."
        )
    if info.app_import_path:
        os.environ["AMBI_APP"] = info.app_import_path
    click.echo(f" * Serving Ambi app '{info.app_import_path or app.name}' on {server}")
    click.echo(f" * Debug mode: {'on' if debug else 'off'}")
    if server == "gunicorn":
        _exec_gunicorn(host, port, workers, reload)
        return
    import uvicorn

    if reload or workers > 1:
        uvicorn.run(
            _SERVER_FACTORY,
            factory=True,
            host=host,
            port=port,
            reload=reload,
            workers=None if reload else workers,
        )
    else:
        uvicorn.run(cast("Any", app), host=host, port=port)


def _exec_gunicorn(host: str, port: int, workers: int, reload: bool) -> None:
    """Replace this process with gunicorn's threaded workers, each loading the app."""
    if importlib.util.find_spec("gunicorn") is None:
        raise click.UsageError("gunicorn is not installed: pip install 'ambi[gunicorn]'.")
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}"]
    argv += ["--workers", str(workers), "--worker-class", "gthread", "--threads", "8"]
    if reload:
        argv.append("--reload")
    argv.append(f"{_SERVER_FACTORY}()")
    sys.stdout.flush()
    os.execv(sys.executable, argv)


run_command.params.insert(0, _debug_option)


# -- ambi routes -------------------------------------------------------------------------------


@click.command("routes", short_help="Show the routes for the app.")
@click.argument("app_path", metavar="[APP]", required=False)
@click.option("--app", "app_option", metavar="IMPORT", help="Same as 'ambi --app IMPORT routes'.")
@click.option(
    "--sort",
    "-s",
    type=click.Choice(("endpoint", "methods", "domain", "rule", "match")),
    default="endpoint",
    show_default=True,
    help="Sort the rows by this column; 'match' is the order rules were added in.",
)
@click.option("--all-methods", is_flag=True, help="Show HEAD and OPTIONS methods.")
@pass_script_info
def routes_command(
    info: ScriptInfo, app_path: str | None, app_option: str | None, sort: str, all_methods: bool
) -> None:
    """List the app's rules: methods, endpoint, and how each runs under WSGI (e.g.
    gunicorn) and ASGI (e.g. uvicorn)."""
    target = app_path or app_option
    if target:
        info.app_import_path = target
    current = _current_app()
    app = current if current is not None and not target else info.load_app()
    rules = list(app.url_map.iter_rules())
    if not rules:
        click.echo("No routes were registered.")
        return
    ignored = set() if all_methods else {"HEAD", "OPTIONS"}
    host_matching = app.url_map.host_matching
    has_domain = any(rule.host if host_matching else rule.subdomain for rule in rules)
    header = ["Endpoint", "Methods", "Rule", "WSGI", "ASGI"]
    if has_domain:
        header.insert(2, "Host" if host_matching else "Subdomain")
    rows: list[list[str]] = []
    for rule in rules:
        if rule.websocket:
            how = app.websocket_plan_for(rule.endpoint).describe()
            methods = "WEBSOCKET"
        elif rule.build_only:  # url_for only: another app serves it (app.fallback/mount)
            how = {"wsgi": "build only", "asgi": "build only"}
            methods = ", ".join(sorted((rule.methods or set()) - ignored))
        else:
            how = app.plan_for(rule.endpoint).describe()
            methods = ", ".join(sorted((rule.methods or set()) - ignored))
        row = [
            rule.endpoint or "",
            methods,
            rule.rule,
            how["wsgi"],
            how["asgi"],
        ]
        if has_domain:
            row.insert(2, (rule.host if host_matching else rule.subdomain) or "")
        rows.append(row)
    columns = ["endpoint", "methods", *(["domain"] if has_domain else []), "rule"]
    if sort in columns:
        index = columns.index(sort)
        rows.sort(key=lambda row: row[index])
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, ["-" * width for width in widths], *rows):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


# -- ambi shell --------------------------------------------------------------------------------


def _shell_namespace(app: App) -> dict[str, Any]:
    """``app``, ``g`` and what the app's shell context processors return (``async def``
    processors are run to completion)."""
    from .globals import g

    namespace: dict[str, Any] = {"app": app, "g": g}
    for processor in getattr(app, "shell_context_processors", ()):
        values = processor()
        if inspect.iscoroutine(values):
            values = asyncio.run(values)
        namespace.update(values)
    return namespace


@click.command("shell", short_help="Run a shell in the app context.")
@with_appcontext
def shell_command() -> None:
    """Run an interactive Python shell in the app's context, with 'app', 'g' and the
    names the app's shell context processors provide."""
    import code

    app = _current_app()
    assert app is not None  # with_appcontext pushed it
    banner = f"Python {sys.version} on {sys.platform}\nApp: {app.name}"
    namespace: dict[str, Any] = {}
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup) as file:
            exec(compile(file.read(), startup, "exec"), namespace)
    namespace.update(_shell_namespace(app))
    # The interactive hook sets up readline (completion, history) for a terminal.
    hook = getattr(sys, "__interactivehook__", None)
    if hook is not None and sys.stdin.isatty():  # pragma: no cover - needs a terminal
        try:
            import readline
            from rlcompleter import Completer
        except ImportError:
            pass
        else:
            readline.set_completer(Completer(namespace).complete)
        hook()
    code.interact(banner=banner, local=namespace)


cli = AmbiGroup(
    name="ambi",
    help="""\
Ambi: one app, served by WSGI and ASGI servers.

Name the app with the '--app' option or the 'AMBI_APP' environment variable, or put it
in a 'wsgi.py' or 'app.py' file in the current directory.
""",
)


def main() -> None:
    """Entry point of the ``ambi`` console script."""
    cli.main(prog_name="ambi")


if __name__ == "__main__":  # pragma: no cover - ``python -m ambi.cli``
    main()
