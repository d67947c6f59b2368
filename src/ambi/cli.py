"""The ``ambi`` command line: ``ambi run`` serves an app, ``ambi routes`` lists its rules.

``ambi run app:app`` serves on uvicorn, the embedded default; ``--server gunicorn`` runs
the same object under gunicorn (its ``gunicorn`` extra must be installed).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
from typing import Any

import click

__all__ = ["cli", "main"]


class NoAppException(click.UsageError):
    """The application could not be found or imported."""


def locate_app(target: str) -> Any:
    """Import ``module:attribute`` (attribute defaults to ``app``) and return the app.

    A factory named by ``module:create_app()`` (or found as ``create_app``/``make_app``) is
    called with no arguments.
    """
    module_name, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name == module_name:
            raise NoAppException(
                f"Could not import {module_name!r}: no such module. Run from the directory"
                " containing it, or pass the import path as 'package.module:app'."
            ) from exc
        raise NoAppException(
            f"While importing {module_name!r}, an ImportError was raised: {exc}"
        ) from exc
    from .app import App

    call = attribute.endswith("()")
    attribute = attribute.removesuffix("()")
    if attribute:
        try:
            found = getattr(module, attribute)
        except AttributeError:
            raise NoAppException(
                f"Module {module_name!r} has no attribute {attribute!r}."
            ) from None
        app = found() if call else found
    else:
        app = getattr(module, "app", None) or getattr(module, "application", None)
        if app is None:
            for name in ("create_app", "make_app"):
                factory = getattr(module, name, None)
                if callable(factory):
                    app = factory()
                    break
    if not isinstance(app, App):
        raise NoAppException(
            f"Could not find an Ambi application in {target!r}. Name it explicitly, e.g."
            f" '{module_name}:app' or '{module_name}:create_app()'."
        )
    return app


@click.group()
@click.version_option(package_name="ambi")
def cli() -> None:
    """Ambi: one app, served by WSGI and ASGI servers."""


@cli.command("run")
@click.argument("app_path", metavar="APP", required=False)
@click.option("--app", "app_option", help="The app, as 'module:name' (or set AMBI_APP).")
@click.option("--host", "-h", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", "-p", default=8000, show_default=True, type=int, help="Port to bind.")
@click.option("--reload", is_flag=True, help="Restart the server when code changes.")
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "gunicorn"]),
    default="uvicorn",
    show_default=True,
    help="uvicorn serves the ASGI face, gunicorn the WSGI face of the same app.",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
def run_command(
    app_path: str | None,
    app_option: str | None,
    host: str,
    port: int,
    reload: bool,
    server: str,
    workers: int,
) -> None:
    """Serve APP (e.g. 'app:app') on uvicorn, or gunicorn with --server gunicorn."""
    target = app_path or app_option or os.environ.get("AMBI_APP") or "app"
    if ":" not in target:
        target = f"{target}:"
    locate_app(target)  # fail early with a clear message
    import_string = target if not target.endswith(":") else f"{target}app"
    if server == "gunicorn":
        if shutil.which("gunicorn") is None and importlib.util.find_spec("gunicorn") is None:
            raise click.UsageError("gunicorn is not installed: pip install 'ambi[gunicorn]'.")
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            "8",
        ]
        if reload:
            argv.append("--reload")
        argv.append(import_string)
        os.execv(sys.executable, argv)
    import uvicorn

    uvicorn.run(
        import_string, host=host, port=port, reload=reload, workers=None if reload else workers
    )


@cli.command("routes")
@click.argument("app_path", metavar="APP", required=False)
@click.option("--app", "app_option", help="The app, as 'module:name' (or set AMBI_APP).")
def routes_command(app_path: str | None, app_option: str | None) -> None:
    """List APP's rules: methods, endpoint, and how each runs under WSGI and ASGI."""
    target = app_path or app_option or os.environ.get("AMBI_APP") or "app"
    if ":" not in target:
        target = f"{target}:"
    app = locate_app(target)
    rows = [("Endpoint", "Methods", "Rule", "WSGI", "ASGI")]
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        plan = app.plan_for(rule.endpoint)
        how = plan.describe()
        methods = ", ".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        rows.append((rule.endpoint or "", methods, rule.rule, how["wsgi"], how["asgi"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if index == 0:
            click.echo("  ".join("-" * width for width in widths))


def main() -> None:
    """Entry point of the ``ambi`` console script."""
    cli(prog_name="ambi")


if __name__ == "__main__":  # pragma: no cover - ``python -m ambi.cli``
    main()
