"""Running the applications mounted in an Ambi app (``app.mount``, ``app.fallback``)
under either kind of server.

The adapter side of ``mounts.py``. ``wsgi.py`` and ``asgi.py`` call :func:`route_wsgi` or
:func:`route_asgi` at their entry, and only for an app that has a mount table. Each
mounted application is called the way that suits the server:

=====================  ==========================  ==========================================
mounted app            under a WSGI server         under an ASGI server
=====================  ==========================  ==========================================
WSGI (a Flask app)     called directly             a2wsgi's ``WSGIMiddleware``: in worker
                                                   threads, body streamed both ways
ASGI                   a2wsgi's ``ASGIMiddleware``  awaited directly
                       (its own event loop thread)
both (an Ambi app)     its WSGI face               its ASGI face
=====================  ==========================  ==========================================

The bridges are made on first use and kept on the :class:`~ambi.mounts.MountedApp`, so a
WSGI server never starts a2wsgi's threads for a WSGI app, and each worker process makes
its own after the fork.

An exception the mounted application raises before its response starts is logged on the
Ambi app's logger and answered with a plain 500 here, so the server goes on serving; one
raised after the response started is logged and re-raised, and the server ends that
response. Ambi's error handlers and ``PROPAGATE_EXCEPTIONS`` do not apply: the mounted
application is outside Ambi's pipeline.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .exceptions import BadRequest, HTTPException, InternalServerError
from .http import host_is_trusted
from .mounts import MountedApp, MountTable, goes_to_fallback

if TYPE_CHECKING:
    from .app import App
    from .ctx import RequestContext
    from .types import ASGIApp, Message, Receive, Scope, Send, StartResponse, WSGIApp
    from .types import WSGIEnvironment as Environ
    from .wrappers import Connection

__all__ = ["route_asgi", "route_asgi_websocket", "route_wsgi"]

_make_faces = threading.Lock()


# -- under a WSGI server ---------------------------------------------------------------


def route_wsgi(
    app: App,
    table: MountTable,
    environ: Environ,
    start_response: StartResponse,
    make_connection: Callable[[Environ], Connection],
) -> tuple[RequestContext | None, Iterable[bytes]]:
    """Route one WSGI request of an app with mounts: ``(None, body)`` when a mounted app
    or the fallback answered it, else ``(ctx, ())`` with the URL already matched, for
    Ambi's own pipeline."""
    if table.mounts:
        path_info: str = environ.get("PATH_INFO", "")
        mounted = table.find_native(path_info)
        if mounted is not None and not _host_refused(
            app, environ.get("HTTP_HOST") or environ.get("SERVER_NAME")
        ):
            child = dict(environ)  # the server's environ stays as it was
            child["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + (
                mounted.native_prefix
            )
            child["PATH_INFO"] = path_info[len(mounted.native_prefix) :]
            return None, _call_wsgi(app, mounted, child, start_response)
    ctx = app.create_request_context(make_connection(environ))
    fallback = table.fallback
    if fallback is not None and goes_to_fallback(ctx.request.routing_exception):
        return None, _call_wsgi(app, fallback, environ, start_response)
    return ctx, ()


def _call_wsgi(
    app: App, mounted: MountedApp, environ: Environ, start_response: StartResponse
) -> Iterable[bytes]:
    face = mounted.wsgi_face or _wsgi_face(app, mounted)
    try:
        return face(environ, start_response)
    except Exception as exc:
        _log(app, mounted, environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""), exc)
        return _error_wsgi(InternalServerError(), start_response, sys.exc_info())


def _wsgi_face(app: App, mounted: MountedApp) -> WSGIApp:
    """The mounted app as a WSGI callable (made once)."""
    with _make_faces:
        if mounted.wsgi_face is None:
            if mounted.interface == "asgi":
                mounted.wsgi_face = _asgi_under_wsgi(app, mounted)
            else:  # a WSGI app, or an Ambi app, whose two-argument call is its WSGI face
                mounted.wsgi_face = mounted.app
        return mounted.wsgi_face


def _asgi_under_wsgi(app: App, mounted: MountedApp) -> WSGIApp:
    from a2wsgi import ASGIMiddleware

    # The guard (inside the bridge) answers the app's errors, so a2wsgi passes a
    # response through; a2wsgi runs the app on one event loop thread of its own.
    guarded: Any = _guard_asgi(app, mounted)
    bridge: Any = ASGIMiddleware(guarded)

    def asgi_app_under_wsgi(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:  # a2wsgi decodes these strictly: bad input is the client's error
            for key in ("SCRIPT_NAME", "PATH_INFO"):
                environ.get(key, "").encode("latin-1").decode("utf-8")
        except UnicodeError:
            return _error_wsgi(
                BadRequest("The request path is not valid UTF-8."), start_response, None
            )
        query: str = environ.get("QUERY_STRING", "")
        if not query.isascii():
            environ = {**environ, "QUERY_STRING": _ascii_query(query.encode("latin-1")).decode()}
        result: Iterable[bytes] = bridge(environ, start_response)
        return result

    return asgi_app_under_wsgi


def _error_wsgi(
    error: HTTPException, start_response: StartResponse, exc_info: Any
) -> Iterable[bytes]:
    response = error.get_response()
    start_response(response.status, response.prepare_headers().to_wsgi_list(), exc_info)
    return [response.data]


# -- under an ASGI server --------------------------------------------------------------


async def route_asgi(
    app: App,
    table: MountTable,
    scope: Scope,
    receive: Receive,
    send: Send,
    make_connection: Callable[[Scope, Receive], Connection],
) -> RequestContext | None:
    """Route one ASGI HTTP request of an app with mounts: ``None`` when a mounted app or
    the fallback answered it, else its context with the URL already matched, for Ambi's
    own pipeline."""
    if table.mounts:
        mounted, child = _mounted_scope(table, scope)
        if mounted is not None and not _host_refused(app, _scope_host(scope)):
            await _call_asgi(app, mounted, child, receive, send)
            return None
    ctx = app.create_request_context(make_connection(scope, receive))
    fallback = table.fallback
    if fallback is not None and goes_to_fallback(ctx.request.routing_exception):
        await _call_asgi(app, fallback, scope, receive, send)
        return None
    return ctx


async def route_asgi_websocket(
    app: App, table: MountTable, scope: Scope, receive: Receive, send: Send
) -> bool:
    """Hand a websocket connection under a mounted prefix to the ASGI (or Ambi) app
    mounted there; ``False`` (Ambi handles it) for any other, and for WSGI mounts, which
    cannot take websockets. The fallback takes HTTP requests only."""
    mounted, child = _mounted_scope(table, scope)
    if mounted is None or mounted.interface == "wsgi" or _host_refused(app, _scope_host(scope)):
        return False
    await _call_asgi(app, mounted, child, receive, send)
    return True


def _mounted_scope(table: MountTable, scope: Scope) -> tuple[MountedApp | None, Scope]:
    """The app mounted at the scope's path, and the scope it gets: ``root_path`` extended
    by the prefix, ``path`` whole (the ASGI spec and uvicorn include ``root_path`` in it,
    whether or not the server did)."""
    root_path: str = scope.get("root_path", "") or ""
    path: str = scope.get("path", "") or "/"
    if root_path and (path == root_path or path.startswith(root_path + "/")):
        path = path[len(root_path) :] or "/"
    mounted = table.find(path)
    if mounted is None:
        return None, scope
    child = dict(scope)
    child["root_path"] = root_path + mounted.prefix
    child["path"] = root_path + path
    return mounted, child


async def _call_asgi(
    app: App, mounted: MountedApp, scope: Scope, receive: Receive, send: Send
) -> None:
    face = mounted.asgi_face or _asgi_face(app, mounted)
    await face(scope, receive, send)


def _asgi_face(app: App, mounted: MountedApp) -> ASGIApp:
    """The mounted app as an ASGI callable, guarded (made once)."""
    with _make_faces:
        if mounted.asgi_face is None:
            if mounted.interface == "wsgi":
                mounted.asgi_face = _guard_asgi(app, mounted, _wsgi_under_asgi(app, mounted))
            else:
                mounted.asgi_face = _guard_asgi(app, mounted)
        return mounted.asgi_face


def _wsgi_under_asgi(app: App, mounted: MountedApp) -> ASGIApp:
    from a2wsgi import WSGIMiddleware

    # Its own pool, as many threads as def views get (SYNC_VIEW_THREADS, else 40).
    bridge: Any = WSGIMiddleware(mounted.app, workers=app.config["SYNC_VIEW_THREADS"] or 40)

    async def wsgi_app_under_asgi(scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"")
        if not query.isascii():  # a2wsgi decodes it as ASCII
            scope = {**scope, "query_string": _ascii_query(query)}
        await bridge(scope, receive, send)

    return wsgi_app_under_asgi


def _guard_asgi(app: App, mounted: MountedApp, inner: ASGIApp | None = None) -> ASGIApp:
    """``inner`` (the mounted app by default), answering a 500 for an exception raised
    before the response started."""
    call: ASGIApp = inner if inner is not None else mounted.app

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_and_track(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await call(scope, receive, send_and_track)
        except Exception as exc:
            _log(app, mounted, scope.get("method", ""), scope.get("path", ""), exc)
            if started or scope.get("type") != "http":
                raise
            response = InternalServerError().get_response()
            headers = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in response.prepare_headers().items()
            ]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": response.data})

    return guarded


# -- shared ----------------------------------------------------------------------------


def _host_refused(app: App, host: str | None) -> bool:
    """With ``TRUSTED_HOSTS`` set, whether the request names another host: it then goes
    to Ambi's own pipeline, which answers 400, instead of to a mounted app."""
    trusted = app.config["TRUSTED_HOSTS"]
    return trusted is not None and not host_is_trusted(host, trusted)


def _scope_host(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host: str = value.decode("latin-1")
            return host
    server = scope.get("server")
    return str(server[0]) if server else None


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _ascii_query(query: bytes) -> bytes:
    """``query`` with its non-ASCII bytes percent-encoded (what a browser sends)."""
    return _NON_ASCII.sub(lambda found: b"%%%02X" % found.group()[0], query)


def _log(app: App, mounted: MountedApp, method: str, path: str, exc: BaseException) -> None:
    app.logger.error(
        "Exception in %s on %s %s (answered with a 500 unless the response had started)",
        mounted.description,
        method,
        path,
        exc_info=exc,
    )
