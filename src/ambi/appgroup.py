"""Custom CLI commands: ``app.cli``/``bp.cli`` groups, app discovery, ``with_appcontext``.

Part of the sans-I/O core: this module imports click and the standard library only,
so an app or blueprint can own a command group without pulling in a server. The
``ambi`` command itself (``run``, ``routes``, ``shell``, ``.env`` loading) lives in
``cli.py``.

How an app is found, as Flask's CLI does it (``--app`` / ``AMBI_APP``):

- ``module`` or ``path/to/file.py``: the module's ``app`` or ``application``, else its
  only :class:`~ambi.App` instance, else the factory ``create_app()`` or ``make_app()``;
- ``module:name``: that attribute; a function is called to get the app;
- ``module:factory(args)``: the factory, called with literal arguments;
- nothing: ``wsgi.py``, then ``app.py``, in the current directory.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Coroutine
from functools import update_wrapper
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar, cast, overload

import click

from .globals import _cv_context

if TYPE_CHECKING:
    from .app import App

__all__ = [
    "AppGroup",
    "NoAppException",
    "ScriptInfo",
    "find_best_app",
    "get_debug_flag",
    "get_load_dotenv",
    "locate_app",
    "merge_blueprint_cli",
    "pass_script_info",
    "prepare_import",
    "with_appcontext",
]

F = TypeVar("F", bound=Callable[..., Any])

NOT_FOUND_MESSAGE = (
    "Could not locate an Ambi application. Use the 'ambi --app' option, 'AMBI_APP'"
    " environment variable, or a 'wsgi.py' or 'app.py' file in the current directory."
)


class NoAppException(click.UsageError):
    """The application could not be found or imported (exit status 2)."""


def get_debug_flag() -> bool:
    """Whether ``AMBI_DEBUG`` asks for debug mode (set and not ``0``/``false``/``no``)."""
    value = os.environ.get("AMBI_DEBUG")
    if not value:
        return False
    return value.lower() not in {"0", "false", "no"}


def get_load_dotenv(default: bool = True) -> bool:
    """Whether to load the default ``.ambienv`` and ``.env`` files: ``default`` unless
    ``AMBI_SKIP_DOTENV`` is set to something other than ``0``/``false``/``no``."""
    value = os.environ.get("AMBI_SKIP_DOTENV")
    if not value:
        return default
    return value.lower() in {"0", "false", "no"}


def _is_app(obj: object) -> TypeGuard[App]:
    from .app import App

    return isinstance(obj, App)


def _failed_at_call(func: Callable[..., Any], tb: Any) -> bool:
    """True if the ``TypeError`` whose traceback is ``tb`` came from calling ``func``
    with the wrong arguments, not from inside ``func``."""
    code = getattr(func, "__code__", None)
    if code is None:  # not a Python function: cannot tell, show the real error
        return False
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return False
        tb = tb.tb_next
    return True


def _call_factory(factory: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    try:
        return factory(*args, **kwargs)
    except TypeError as exc:
        if not _failed_at_call(factory, exc.__traceback__):
            raise
        raise NoAppException(
            f"The factory {factory.__name__!r} in module {factory.__module__!r} could not be"
            f" called with the given arguments: {exc}. Name it with its arguments, e.g."
            f" 'module:{factory.__name__}(\"value\")'."
        ) from exc


def find_best_app(module: ModuleType) -> App:
    """The app of ``module``: ``app``, ``application``, the only :class:`App` instance,
    or what ``create_app()``/``make_app()`` return."""
    name = module.__name__
    for attribute in ("app", "application"):
        candidate = getattr(module, attribute, None)
        if _is_app(candidate):
            return candidate
    matches = [value for value in list(vars(module).values()) if _is_app(value)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise NoAppException(
            f"Detected multiple Ambi applications in module {name!r}. Use '{name}:name' to"
            " specify the correct one."
        )
    for attribute in ("create_app", "make_app"):
        factory = getattr(module, attribute, None)
        if inspect.isfunction(factory):
            app = _call_factory(factory, [], {})
            if _is_app(app):
                return app
    raise NoAppException(
        f"Could not find an Ambi application or factory in module {name!r}. Use"
        f" '{name}:name' to specify one (e.g. '{name}:app' or '{name}:create_app()')."
    )


def _parse_app_name(app_name: str) -> tuple[str, list[Any], dict[str, Any], bool]:
    """``name`` or ``name(literal, key=literal)`` → (name, args, kwargs, is_call)."""
    try:
        expr = ast.parse(app_name.strip(), mode="eval").body
    except SyntaxError:
        raise NoAppException(
            f"Failed to parse {app_name!r} as an attribute name or function call."
        ) from None
    if isinstance(expr, ast.Name):
        return expr.id, [], {}, False
    if isinstance(expr, ast.Call):
        if not isinstance(expr.func, ast.Name):
            raise NoAppException(f"Function reference must be a simple name: {app_name!r}.")
        try:
            args = [ast.literal_eval(arg) for arg in expr.args]
            kwargs = {
                keyword.arg: ast.literal_eval(keyword.value)
                for keyword in expr.keywords
                if keyword.arg is not None
            }
        except ValueError:
            raise NoAppException(
                f"Failed to parse arguments as literal values: {app_name!r}."
            ) from None
        return expr.func.id, args, kwargs, True
    raise NoAppException(f"Failed to parse {app_name!r} as an attribute name or function call.")


def find_app_by_string(module: ModuleType, app_name: str) -> App:
    """The app named by ``app_name`` in ``module``: an attribute, or a factory called
    (with literal arguments if ``app_name`` is a call)."""
    name, args, kwargs, is_call = _parse_app_name(app_name)
    try:
        found = getattr(module, name)
    except AttributeError:
        raise NoAppException(f"Module {module.__name__!r} has no attribute {name!r}.") from None
    if inspect.isfunction(found) or (is_call and callable(found)):
        found = _call_factory(found, args, kwargs)
    if _is_app(found):
        return found
    raise NoAppException(
        f"A valid Ambi application was not obtained from '{module.__name__}:{app_name}'"
        f" (got {type(found).__name__})."
    )


def prepare_import(path: str) -> str:
    """Turn a module name or a file path into a module name to import, putting the
    directory it is imported from first on ``sys.path``.

    ``path/to/app.py`` imports ``app`` from ``path/to``; inside a package (a folder with
    ``__init__.py``) the dotted name from the package root is used, as Flask does.
    """
    path = os.path.realpath(path)
    stem, ext = os.path.splitext(path)
    if ext == ".py":
        path = stem
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)
    parts: list[str] = []
    while True:
        path, name = os.path.split(path)
        parts.append(name)
        if not os.path.exists(os.path.join(path, "__init__.py")):
            break
    if sys.path[0] != path:
        sys.path.insert(0, path)
    return ".".join(reversed(parts))


@overload
def locate_app(module_name: str, app_name: str | None = None) -> App: ...


@overload
def locate_app(module_name: str, app_name: str | None, raise_if_not_found: bool) -> App | None: ...


def locate_app(
    module_name: str, app_name: str | None = None, raise_if_not_found: bool = True
) -> App | None:
    """Import ``module_name`` and return its app (see :func:`find_best_app`), or the one
    ``app_name`` names (see :func:`find_app_by_string`).

    An ``ImportError`` raised inside the module is reported with its traceback; a module
    that does not exist gives ``None`` if ``raise_if_not_found`` is false. Other errors
    raised while importing the module propagate unchanged.
    """
    try:
        __import__(module_name)
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and (
            exc.name == module_name or module_name.startswith(f"{exc.name}.")
        )
        if not missing:
            raise NoAppException(
                f"While importing {module_name!r}, an ImportError was raised:\n\n"
                f"{traceback.format_exc()}"
            ) from None
        if not raise_if_not_found:
            return None
        raise NoAppException(
            f"Could not import {module_name!r}: no such module. Run from the directory"
            " containing it, or pass the import path as 'package.module:app'."
        ) from None
    module = sys.modules[module_name]
    if app_name is None:
        return find_best_app(module)
    return find_app_by_string(module, app_name)


def _split_import_path(import_path: str) -> tuple[str, str | None]:
    """``module:name`` → (``module``, ``name``); a colon followed by a slash belongs to a
    Windows drive (``C:\\app.py``), not to the name."""
    parts = re.split(r":(?![\\/])", import_path, maxsplit=1)
    name = parts[1].strip() if len(parts) == 2 else ""
    return parts[0], name or None


class ScriptInfo:
    """How the CLI gets the app: from an import path (``--app``/``AMBI_APP``), a
    ``create_app`` callback, or ``wsgi.py``/``app.py`` in the current directory.

    Commands receive it as click's context object (``ctx.ensure_object(ScriptInfo)``,
    or ``@pass_script_info``) and call :meth:`load_app`, which imports the app once.
    """

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: Callable[..., App] | None = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
        run_coroutine: Callable[[Coroutine[Any, Any, Any]], Any] | None = None,
    ) -> None:
        self._app_import_path = app_import_path
        #: A callback returning the app, used instead of an import path.
        self.create_app = create_app
        #: Whether :meth:`load_app` sets ``app.debug`` from ``AMBI_DEBUG``.
        self.set_debug_flag = set_debug_flag
        #: Whether the default ``.ambienv``/``.env`` files are to be loaded.
        self.load_dotenv_defaults = get_load_dotenv(load_dotenv_defaults)
        #: Runs the coroutine an ``async def`` command returns (the ``ambi`` command
        #: sets it to ``asyncio.run``).
        self.run_coroutine = run_coroutine
        #: Free-form data commands may share.
        self.data: dict[Any, Any] = {}
        self._loaded_app: App | None = None

    @property
    def app_import_path(self) -> str | None:
        """The app to load, as given to ``--app``; setting it forgets a loaded app."""
        return self._app_import_path

    @app_import_path.setter
    def app_import_path(self, value: str | None) -> None:
        if value != self._app_import_path:
            self._loaded_app = None
        self._app_import_path = value

    def load_app(self) -> App:
        """Find and import the app (once), set its debug flag from ``AMBI_DEBUG``, and
        return it. Raises :class:`NoAppException` with a message saying what to do."""
        if self._loaded_app is not None:
            return self._loaded_app
        app: App | None = None
        if self.create_app is not None:
            app = self.create_app()
        elif self._app_import_path:
            path, name = _split_import_path(self._app_import_path)
            app = locate_app(prepare_import(path), name)
        else:
            for filename in ("wsgi.py", "app.py"):
                package = os.path.join(filename[:-3], "__init__.py")
                if not (os.path.isfile(filename) or os.path.isfile(package)):
                    continue
                app = locate_app(prepare_import(filename), None, raise_if_not_found=False)
                if app is not None:
                    break
        if app is None:
            raise NoAppException(NOT_FOUND_MESSAGE)
        if self.set_debug_flag:
            app.debug = get_debug_flag()
        self._loaded_app = app
        return app


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def _current_app() -> App | None:
    context = _cv_context.get(None)
    return context.app if context is not None else None


def with_appcontext(f: F) -> F:
    """Run a click command's callback inside the app's context, loading the app with
    the :class:`ScriptInfo` if no app context is active. Commands of ``app.cli`` and
    ``bp.cli`` get this automatically.

    An ``async def`` callback is run to completion (inside the context) by the ``ambi``
    command's event loop runner.
    """

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        if _current_app() is None:
            app = ctx.ensure_object(ScriptInfo).load_app()
            ctx.with_resource(app.app_context())
        result = ctx.invoke(f, *args, **kwargs)
        if inspect.iscoroutine(result):
            info = ctx.find_object(ScriptInfo)
            runner = info.run_coroutine if info is not None else None
            if runner is None:
                result.close()
                raise click.UsageError(
                    f"{ctx.info_name!r} is an async def command: run it with the 'ambi'"
                    " command, or give ScriptInfo a run_coroutine (e.g. asyncio.run).",
                    ctx,
                )
            result = runner(result)
        return result

    return update_wrapper(decorator, f)  # type: ignore[return-value]


class AppGroup(click.Group):
    """A click group whose commands run inside the app context: ``command()`` wraps
    callbacks with :func:`with_appcontext` (unless ``with_appcontext=False``) and
    ``group()`` makes nested groups of this class. ``app.cli`` and ``bp.cli`` are
    ``AppGroup`` instances::

        @app.cli.command("init-db")
        @click.option("--drop", is_flag=True)
        def init_db(drop):
            db.create_all(drop=drop)     # current_app and g are available

    ``ambi init-db --drop`` then runs it. Callbacks may be ``def`` or ``async def``.
    """

    @overload
    def command(self, __func: Callable[..., Any]) -> click.Command: ...

    @overload
    def command(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Command]: ...

    def command(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Command] | click.Command:
        """Like :meth:`click.Group.command`, wrapping the callback in
        :func:`with_appcontext` unless ``with_appcontext=False`` is passed."""
        wrap = kwargs.pop("with_appcontext", True)
        super_command = super().command
        if len(args) == 1 and not kwargs and callable(args[0]):
            func = args[0]
            return super().command()(with_appcontext(func) if wrap else func)

        def decorator(f: Callable[..., Any]) -> click.Command:
            make = cast(
                "Callable[[Callable[..., Any]], click.Command]", super_command(*args, **kwargs)
            )
            return make(with_appcontext(f) if wrap else f)

        return decorator

    @overload
    def group(self, __func: Callable[..., Any]) -> click.Group: ...

    @overload
    def group(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Group]: ...

    def group(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Group] | click.Group:
        """Like :meth:`click.Group.group`, with :class:`AppGroup` as the default class."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return super().group(cls=AppGroup)(args[0])
        kwargs.setdefault("cls", AppGroup)
        return cast("Callable[[Callable[..., Any]], click.Group]", super().group(*args, **kwargs))


def merge_blueprint_cli(
    app_cli: click.Group, blueprint_cli: click.Group, group: str | None
) -> None:
    """Add a blueprint's commands to ``app.cli`` when the blueprint is registered: as a
    group named ``group`` (by default the blueprint's registered name: ``ambi shop
    add-item``), or with ``group=None`` into ``app.cli`` itself (``ambi add-item``).
    A blueprint without commands adds nothing."""
    if not blueprint_cli.commands:
        return
    if group is None:
        app_cli.commands.update(blueprint_cli.commands)
        return
    blueprint_cli.name = group
    app_cli.add_command(blueprint_cli)
