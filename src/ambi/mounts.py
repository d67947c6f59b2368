"""Other applications inside an Ambi app: the mount table behind ``app.mount`` and
``app.fallback``.

Part of the sans-I/O core: this module only records which application answers which
requests, and finds it for a path. Running a mounted application under each kind of
server (directly, or through a2wsgi's bridges) is the adapters' job: ``bridges.py``.

How a request is routed when the app has a mount table (``app.mount_table``; ``None``
until :meth:`~ambi.App.mount` or :meth:`~ambi.App.fallback` is first called, so an app
without either pays one ``is None`` check per request):

1. A path under a mounted prefix (``/legacy`` or ``/legacy/...``, never ``/legacyx``; the
   longest prefix wins) goes to that application, with ``SCRIPT_NAME`` (WSGI) or
   ``root_path`` (ASGI) extended by the prefix. Ambi's URL map is not consulted.
2. Otherwise Ambi matches the URL once. If no rule matches the path (404) or a rule
   matches it but not the method (405), the request goes to the fallback application
   unchanged, if there is one.
3. Everything else (a match, a strict-slash redirect to an Ambi route, automatic
   ``OPTIONS``, a 400 for a malformed path) runs Ambi's pipeline as usual.

A request that goes to another application runs none of Ambi's hooks, error handlers,
session handling or limits: the other application answers it on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from .exceptions import MethodNotAllowed, NotFound
from .scaffold import is_async_callable

if TYPE_CHECKING:
    from .types import ASGIApp, WSGIApp

__all__ = [
    "Interface",
    "MountTable",
    "MountedApp",
    "detect_interface",
    "goes_to_fallback",
    "normalize_prefix",
]

#: How a mounted application is called: ``"wsgi"`` (``app(environ, start_response)``),
#: ``"asgi"`` (ASGI 3, ``await app(scope, receive, send)``) or ``"both"`` (an object
#: that serves both, such as another :class:`ambi.Ambi` app: each server calls its
#: native face).
Interface: TypeAlias = Literal["wsgi", "asgi", "both"]
_INTERFACES = ("wsgi", "asgi", "both")


class MountedApp:
    """An application mounted at ``prefix`` (``""`` for the fallback)."""

    __slots__ = ("app", "asgi_face", "interface", "native_prefix", "prefix", "wsgi_face")

    def __init__(self, app: Callable[..., Any], interface: Interface, prefix: str = "") -> None:
        #: The application as it was given.
        self.app = app
        self.interface: Interface = interface
        #: The prefix, without a trailing slash: ``"/legacy"``.
        self.prefix = prefix
        #: The same as a WSGI "native string" (UTF-8 bytes as latin-1), to compare with
        #: ``PATH_INFO``.
        self.native_prefix = prefix.encode("utf-8").decode("latin-1")
        #: The application as a WSGI and as an ASGI callable: made by the adapter on
        #: first use (a bridge where the interfaces differ) and kept.
        self.wsgi_face: WSGIApp | None = None
        self.asgi_face: ASGIApp | None = None

    @property
    def description(self) -> str:
        """Where it is mounted, for messages: ``"the app mounted at /legacy"``."""
        return f"the app mounted at {self.prefix}" if self.prefix else "the fallback app"

    def __repr__(self) -> str:
        return f"<MountedApp {self.prefix or '(fallback)'} {self.interface} {self.app!r}>"


class MountTable:
    """The applications mounted in one Ambi app: prefixes and the fallback."""

    __slots__ = ("fallback", "mounts")

    def __init__(self) -> None:
        #: Prefix mounts, longest prefix first (replaced, never mutated, when one is added).
        self.mounts: tuple[MountedApp, ...] = ()
        #: The application for the requests Ambi does not route, or ``None``.
        self.fallback: MountedApp | None = None

    def add(self, mounted: MountedApp) -> None:
        """Add a prefix mount; a prefix can be mounted once."""
        for existing in self.mounts:
            if existing.prefix == mounted.prefix:
                raise ValueError(
                    f"{mounted.prefix!r} is already mounted ({existing.app!r}); mount"
                    " another app at another prefix."
                )
        self.mounts = tuple(
            sorted((*self.mounts, mounted), key=lambda item: len(item.prefix), reverse=True)
        )

    def find(self, path: str) -> MountedApp | None:
        """The application mounted at ``path``'s prefix (a decoded path), or ``None``."""
        for mounted in self.mounts:
            prefix = mounted.prefix
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return mounted
        return None

    def find_native(self, path_info: str) -> MountedApp | None:
        """:meth:`find` for a WSGI ``PATH_INFO`` (UTF-8 bytes as a latin-1 string)."""
        for mounted in self.mounts:
            prefix = mounted.native_prefix
            if path_info.startswith(prefix) and (
                len(path_info) == len(prefix) or path_info[len(prefix)] == "/"
            ):
                return mounted
        return None


def goes_to_fallback(routing_exception: Exception | None) -> bool:
    """Whether a request whose URL matching ended with ``routing_exception`` is one Ambi
    does not route: no rule matches its path (404), or none accepts its method (405) —
    the legacy application may still serve that method there. A strict-slash redirect
    (to an Ambi route) and a 400 for a malformed path stay Ambi's."""
    return isinstance(routing_exception, (NotFound, MethodNotAllowed))


def normalize_prefix(prefix: str) -> str:
    """``prefix`` without its trailing slash, checked: it starts with ``/``, it is not the
    root (that is :meth:`~ambi.App.fallback`), and it has no variables or query."""
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ValueError(f"The mount prefix {prefix!r} must be a path starting with '/'.")
    if any(char in prefix for char in "<>?#"):
        raise ValueError(
            f"The mount prefix {prefix!r} must be a plain path: no '<variables>', '?' or '#'."
        )
    normalized = prefix.rstrip("/")
    if not normalized:
        raise ValueError(
            "Mounting an app at '/' would send it every request. To send it the requests"
            " Ambi does not route, use app.fallback(other_app)."
        )
    return normalized


def detect_interface(app: Any, interface: str | None = None) -> Interface:
    """How ``app`` is called: ``interface`` if given, else ``"both"`` for an object with
    ``wsgi_app`` and ``asgi_app`` methods (an Ambi app), ``"asgi"`` for an ``async def``
    callable (or an object whose ``__call__`` is one), else ``"wsgi"``."""
    if not callable(app):
        raise TypeError(f"Cannot mount {app!r}: it is not a WSGI or ASGI application.")
    if interface is not None:
        if interface not in _INTERFACES:
            raise ValueError(f"interface must be 'wsgi', 'asgi' or 'both', not {interface!r}.")
        return interface  # type: ignore[return-value]
    if callable(getattr(app, "wsgi_app", None)) and callable(getattr(app, "asgi_app", None)):
        return "both"
    if is_async_callable(app):
        return "asgi"
    return "wsgi"
