"""``app.config``: a dict of settings with Flask's loading helpers.

Only UPPER-CASE keys are settings, as in Flask: lower-case names in a Python config file,
an object or a mapping are helpers and are skipped. Relative file names are relative to
``root_path`` (the application's root folder); absolute names are used as they are.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import types
from collections.abc import Callable, Mapping, MutableMapping
from typing import IO, Any

__all__ = ["Config"]

# The errors ``silent=True`` ignores: the file (or a folder on its path) is not there.
_MISSING_FILE_ERRNOS = frozenset({errno.ENOENT, errno.EISDIR, errno.ENOTDIR})


class Config(dict[str, Any]):
    """The application's settings (Flask's ``Config`` API).

    :param root_path: the folder relative file names are resolved against.
    :param defaults: the initial settings, copied.
    """

    def __init__(
        self, root_path: str | os.PathLike[str], defaults: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(defaults or {})
        self.root_path = root_path

    # -- loaders ----------------------------------------------------------------------------

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """Load the Python config file named by the environment variable ``variable_name``.

        An unset (or empty) variable raises :class:`RuntimeError`, or returns ``False`` when
        ``silent``; ``silent`` also applies to the file, as in :meth:`from_pyfile`.
        """
        filename = os.environ.get(variable_name)
        if not filename:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set and as such"
                " configuration could not be loaded. Set this variable and make it"
                " point to a configuration file"
            )
        return self.from_pyfile(filename, silent=silent)

    def from_prefixed_env(
        self, prefix: str = "AMBI", *, loads: Callable[[str], Any] = json.loads
    ) -> bool:
        """Load the environment variables that start with ``prefix + "_"``, prefix dropped.

        Each value goes through ``loads`` (JSON by default, so ``AMBI_DEBUG=true`` is
        ``True`` and ``AMBI_PORT=8000`` is ``8000``) and stays the raw string when that
        fails. A double underscore sets a key of a nested dict: ``AMBI_DB__HOST=x`` sets
        ``config["DB"]["HOST"]``, creating the intermediate dicts that are missing.
        Variables are loaded in sorted order.
        """
        prefix = f"{prefix}_"
        for env_key in sorted(os.environ):
            if not env_key.startswith(prefix):
                continue
            raw = os.environ[env_key]
            try:
                value = loads(raw)
            except Exception:
                value = raw
            key = env_key[len(prefix) :]
            if "__" not in key:
                self[key] = value
                continue
            *parents, leaf = key.split("__")
            current: MutableMapping[str, Any] = self
            for depth, part in enumerate(parents):
                if part not in current:
                    current[part] = {}
                child = current[part]
                if not isinstance(child, MutableMapping):
                    path = "__".join(parents[: depth + 1])
                    raise TypeError(
                        f"Cannot set the configuration from the environment variable"
                        f" {env_key!r}: {path!r} is a {type(child).__name__}, not a dict,"
                        " so it cannot hold nested keys"
                    )
                current = child
            current[leaf] = value
        return True

    def from_pyfile(self, filename: str | os.PathLike[str], silent: bool = False) -> bool:
        """Execute a Python file as a module and load its UPPER-CASE names.

        ``filename`` is relative to :attr:`root_path` unless absolute. A missing file raises
        :class:`OSError` ("Unable to load configuration file (No such file or directory)"),
        or returns ``False`` when ``silent``.
        """
        path = os.path.join(self.root_path, filename)
        try:
            with open(path, "rb") as file:
                source = file.read()
        except OSError as exc:
            _check_open_error(exc, silent)
            return False
        module = types.ModuleType("config")
        module.__file__ = path
        try:
            exec(compile(source, path, "exec"), module.__dict__)
        except Exception as exc:
            exc.add_note(f"While loading the configuration file {path!r}")
            raise
        self.from_object(module)
        return True

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: Callable[[IO[Any]], Mapping[str, Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load the UPPER-CASE keys of the mapping ``load`` reads from a file.

        ``filename`` is relative to :attr:`root_path` unless absolute::

            import json, tomllib
            app.config.from_file("config.json", load=json.load)
            app.config.from_file("config.toml", load=tomllib.load, text=False)

        The file is opened as UTF-8 text, or in binary mode when ``text`` is false. A missing
        file raises :class:`OSError` or returns ``False`` when ``silent``; an error of
        ``load`` (a syntax error, say) propagates with a note naming the file, and a file
        that is not a mapping at the top level raises :class:`TypeError`.
        """
        path = os.path.join(self.root_path, filename)
        encoding = "utf-8" if text else None
        try:
            file = open(path, "r" if text else "rb", encoding=encoding)  # noqa: SIM115
        except OSError as exc:
            _check_open_error(exc, silent)
            return False
        with file:
            try:
                obj = load(file)
            except Exception as exc:
                exc.add_note(f"While loading the configuration file {path!r}")
                raise
        if not isinstance(obj, Mapping):
            raise TypeError(
                f"The configuration file {path!r} must hold a mapping of settings at the top"
                f" level, not a {type(obj).__name__}"
            )
        return self.from_mapping(obj)

    def from_mapping(self, mapping: Mapping[str, Any] | None = None, **kwargs: Any) -> bool:
        """Copy the UPPER-CASE keys of ``mapping`` and ``kwargs`` (which win)."""
        items: dict[str, Any] = {}
        if mapping is not None:
            items.update(mapping)
        items.update(kwargs)
        for key, value in items.items():
            if isinstance(key, str) and key.isupper():
                self[key] = value
        return True

    def from_object(self, obj: object | str) -> None:
        """Copy the UPPER-CASE attributes of an object (a module, a class, an instance).

        A string is an import string: ``"package.module:Object"``,
        ``"package.module.Object"`` or ``"package.module"``. Failing to import it raises
        :class:`ImportError` naming the string.
        """
        if isinstance(obj, str):
            obj = _import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    # -- reading ----------------------------------------------------------------------------

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, Any]:
        """The settings whose key starts with ``namespace`` (e.g. ``"IMAGE_STORE_"``),
        with the namespace trimmed and the keys lower-cased unless told otherwise."""
        result: dict[str, Any] = {}
        for key, value in self.items():
            if not key.startswith(namespace):
                continue
            name = key[len(namespace) :] if trim_namespace else key
            result[name.lower() if lowercase else name] = value
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


def _check_open_error(exc: OSError, silent: bool) -> None:
    """Let a config file that is not there pass when ``silent``; otherwise re-raise ``exc``
    with Flask's "Unable to load configuration file (...)" message."""
    if silent and exc.errno in _MISSING_FILE_ERRNOS:
        return
    exc.strerror = f"Unable to load configuration file ({exc.strerror})"
    raise exc


def _import_string(import_name: str) -> object:
    """Import ``"module:attr.attr"``, ``"module.attr"`` or ``"module"`` (Werkzeug's rules,
    plus a dotted attribute path after a colon)."""
    module_name, colon, attrs = import_name.partition(":")
    try:
        if not module_name or module_name.startswith("."):
            raise ImportError("an absolute module name is required")
        if colon:
            obj: object = importlib.import_module(module_name)
            for attr in attrs.split("."):
                obj = getattr(obj, attr)
            return obj
        try:
            return importlib.import_module(import_name)
        except ModuleNotFoundError as exc:
            # Only fall back to "module.attr" when the name itself is not a module; a module
            # that exists but imports something missing keeps its error.
            missing = exc.name or ""
            if "." not in import_name or not (
                import_name == missing or import_name.startswith(f"{missing}.")
            ):
                raise
        module_name, _, attr = import_name.rpartition(".")
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"Could not import {import_name!r} for the configuration: {exc}") from exc
