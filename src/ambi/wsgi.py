"""The WSGI adapter: environ → Connection, the sync driver, Response → start_response.

Thin by design. Each request runs inside its own :class:`contextvars.Context`, so the
request context stays current while the server iterates a streamed body after the app
returned, and never leaks into the server thread's own context.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._drivers import drive_sync, thread_event_loop
from ._pipeline import (
    call_direct,
    direct_view,
    release_request,
    request_flow,
    teardown_flow,
)
from .bridges import route_wsgi
from .datastructures import BadRequestKeyError, Headers, _converted, _token_re
from .exceptions import ClientDisconnected
from .wrappers import Connection, Response

if TYPE_CHECKING:
    from .app import App
    from .ctx import RequestContext
    from .types import StartResponse, WSGIEnvironment

__all__ = ["WSGIConnection", "wsgi_app"]

_READ_CHUNK = 64 * 1024
_SPECIAL_HEADERS = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


# The environ keys seen so far: ``HTTP_X_REQUEST_ID`` -> ``X-Request-Id``, and ``""`` for a
# key that is not a header (``REQUEST_METHOD``, ``wsgi.input``…). Bounded: clients choose
# the ``HTTP_*`` keys. ``CONTENT_TYPE`` and ``CONTENT_LENGTH`` are never stored.
_header_names: dict[str, str] = {}
_HEADER_NAMES_MAX = 1024


def _header_items(environ: WSGIEnvironment) -> list[tuple[str, str]]:
    # PERF: one dict lookup per environ key once the keys are known, instead of a slice,
    # a comparison and a name conversion (benchmarks/inprocess.py args, echo: callgrind
    # -8k instr per request that reads headers). (C-level passes, a map of lookups and
    # a comprehension, measured slower than this loop.)
    items: list[tuple[str, str]] = []
    names = _header_names
    for key, value in environ.items():
        name = names.get(key)
        if name:
            items.append((name, value))
        elif name is None:
            if key[:5] == "HTTP_":
                name = key[5:].replace("_", "-").title()
                items.append((name, value))
                if not name:  # a bare "HTTP_": not stored, so it fails alike every time
                    continue
            elif key in _SPECIAL_HEADERS:
                if value:
                    items.append((_SPECIAL_HEADERS[key], value))
                continue
            else:
                name = ""
            if len(names) < _HEADER_NAMES_MAX:
                names[key] = name
    return items


#: Header names as asked (``"X-Request-Id"``) -> their environ key
#: (``"HTTP_X_REQUEST_ID"``), or ``""`` for names read from the header list instead.
#: Bounded: names come from the app's code, but may be computed.
_environ_keys: dict[str, str] = {}


def _environ_key(name: str) -> str:
    key = _environ_keys.get(name)
    if key is None:
        key = ""
        # Only plain token names: "_" is ambiguous in an environ key ("X_A" and "X-A" are
        # both HTTP_X_A, but only a "X-A" header exists), Content-Type and -Length have
        # keys of their own (CONTENT_TYPE), and an invalid name must fail as it does on
        # the list.
        if "_" not in name and _token_re.fullmatch(name) is not None:
            upper = name.upper().replace("-", "_")
            key = upper if upper in _SPECIAL_HEADERS else "HTTP_" + upper
        if len(_environ_keys) < _HEADER_NAMES_MAX:
            _environ_keys[name] = key
    return key


_ABSENT: Any = object()


class _EnvironHeaders(Headers):
    """``request.headers`` under WSGI. A read of one header (``get``, ``[]``, ``in``)
    looks its environ key up, as Werkzeug's ``EnvironHeaders`` does; anything else
    (iterating, ``getlist``, a change) builds the header list from the environ, checked
    as every request's headers are, and uses it from then on.

    PERF: most requests that read headers read one or two; building the list scans the
    whole environ (benchmarks/inprocess.py, args: a header and a cookie). A value the
    list would refuse (CR, LF, NUL, not a str) is not returned: the read falls back to
    the list, which raises as before.
    """

    __slots__ = ("_connection", "_pairs")

    def __init__(self, connection: WSGIConnection) -> None:  # no super(): the list is lazy
        self._connection = connection
        self._pairs: list[tuple[str, str]] | None = None

    @property
    def _list(self) -> list[tuple[str, str]]:
        pairs = self._pairs
        if pairs is None:
            pairs = self._pairs = Headers._from_pairs(self._connection.header_items)._list
        return pairs

    @_list.setter
    def _list(self, value: list[tuple[str, str]]) -> None:
        self._pairs = value

    def _environ_value(self, name: object) -> Any:
        """The header's value from the environ, ``None`` when it is absent, or
        ``_ABSENT`` when the list must answer."""
        if (
            self._pairs is not None
            or name.__class__ is not str
            # header_items assigned (or already built): the list is what the request has.
            or self._connection._header_list is not None
        ):
            return _ABSENT
        key = _environ_key(name)
        if not key:
            return _ABSENT
        environ = self._connection._environ
        value = environ.get(key)
        if key in _SPECIAL_HEADERS:
            if "HTTP_" + key in environ:  # two sources for one header: the list decides
                return _ABSENT
            if not value:  # an empty CONTENT_TYPE is no header (as on the list)
                return None
        if value is None:
            return None
        if value.__class__ is not str or "\n" in value or "\r" in value or "\0" in value:
            return _ABSENT
        return value

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        value = self._environ_value(key)
        if value is _ABSENT:
            return super().get(key, default, type)
        if value is None:
            return default
        return value if type is None else _converted(value, type, default)

    def __getitem__(self, key: Any) -> Any:
        value = self._environ_value(key)
        if value is _ABSENT:
            return super().__getitem__(key)
        if value is None:
            raise BadRequestKeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        value = self._environ_value(key)
        if value is _ABSENT:
            return super().__contains__(key)
        return value is not None

    def copy(self) -> Headers:
        rv = Headers()
        rv._list = self._list[:]
        return rv


def add_environ_headers(environ: WSGIEnvironment, items: Iterable[tuple[str, str]]) -> None:
    """Write HTTP headers into a WSGI environ (``HTTP_*``, ``CONTENT_TYPE``,
    ``CONTENT_LENGTH``); repeated headers are joined with commas, as servers do."""
    for name, value in items:
        key = name.upper().replace("-", "_")
        if key not in _SPECIAL_HEADERS:
            key = f"HTTP_{key}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value


def _native_to_bytes(value: str) -> bytes:
    # PEP 3333 says latin-1 "native strings"; some callers (httpx's WSGI transport) pass
    # already-decoded text instead, which latin-1 cannot always encode.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


class WSGIConnection(Connection):
    """A request as a WSGI server describes it."""

    __slots__ = ("_client", "_environ", "_header_list", "_input", "_remaining", "_server")
    interface = "wsgi"
    _header_list: list[tuple[str, str]] | None
    # Unset until first read (see server, client).
    _server: tuple[str, int | None]
    _client: tuple[str, int] | None

    # PERF: ``server`` and ``client`` are read from the environ on first use, as the
    # header list is: most requests never ask (benchmarks/inprocess.py, every scenario).

    @property
    def server(self) -> tuple[str, int | None]:
        """``(SERVER_NAME, SERVER_PORT)``; the port ``None`` if it is not a number."""
        try:
            return self._server
        except AttributeError:
            pass
        get = self._environ.get
        server_port = get("SERVER_PORT")  # a str; hypercorn passes an int
        if server_port.__class__ is not int:
            server_port = int(server_port) if server_port and server_port.isdigit() else None
        server = self._server = (get("SERVER_NAME", ""), server_port)
        return server

    @server.setter
    def server(self, value: tuple[str, int | None]) -> None:
        self._server = value

    @property
    def client(self) -> tuple[str, int] | None:
        """``(REMOTE_ADDR, REMOTE_PORT)`` (port 0 if unknown), ``None`` without an address."""
        try:
            return self._client
        except AttributeError:
            pass
        get = self._environ.get
        remote = get("REMOTE_ADDR")
        client: tuple[str, int] | None
        if remote:
            remote_port = get("REMOTE_PORT")
            client = (
                remote,
                int(remote_port) if remote_port and str(remote_port).isdigit() else 0,
            )
        else:
            client = None
        self._client = client
        return client

    @client.setter
    def client(self, value: tuple[str, int] | None) -> None:
        self._client = value

    @property
    def header_items(self) -> list[tuple[str, str]]:
        """The request headers, from the environ's ``HTTP_*`` keys on first use.

        PERF: built lazily, since most requests never read ``request.headers`` (a scan of
        the whole environ per request otherwise; benchmarks/inprocess.py, plaintext).
        """
        items = self._header_list
        if items is None:
            items = self._header_list = _header_items(self._environ)
        return items

    @header_items.setter
    def header_items(self, value: list[tuple[str, str]] | None) -> None:
        self._header_list = value

    def __init__(self, environ: WSGIEnvironment) -> None:
        # PERF: the attributes are set here, not through Connection.__init__'s keywords,
        # and empty values skip their conversions (benchmarks/inprocess.py, plaintext).
        get = environ.get
        script_name = get("SCRIPT_NAME")
        raw_uri: str | None = get("RAW_URI") or get("REQUEST_URI")
        if raw_uri and not script_name and raw_uri[:1] == "/":
            # The wire form lets the core reject malformed percent-encoding.
            raw_path = raw_uri.partition("?")[0]
            try:  # PERF: _native_to_bytes inlined for the common case (every request)
                self.path_bytes = raw_path.encode("latin-1") or b"/"
            except UnicodeEncodeError:
                self.path_bytes = _native_to_bytes(raw_path) or b"/"
            self.path_is_encoded = True
        else:
            self.path_bytes = _native_to_bytes(get("PATH_INFO") or "/")
            self.path_is_encoded = False
        method: str = get("REQUEST_METHOD", "GET")
        self.method = method if method.isupper() else method.upper()
        self.scheme = get("wsgi.url_scheme", "http")
        self.root_path = (
            _native_to_bytes(script_name).decode("utf-8", "replace").rstrip("/")
            if script_name
            else ""
        )
        query = get("QUERY_STRING")
        if query:
            try:  # PERF: _native_to_bytes inlined for the common case
                self.query_string = query.encode("latin-1")
            except UnicodeEncodeError:
                self.query_string = _native_to_bytes(query)
        else:
            self.query_string = b""
        self._header_list = None  # read lazily: see header_items
        self._environ = environ
        # PERF: the body's length is read at the first read (benchmarks/inprocess.py,
        # plaintext: most requests have none to read).
        self._remaining: int | None = -1

    @property
    def environ(self) -> dict[str, Any]:
        return self._environ

    def make_headers(self) -> Headers:
        return _EnvironHeaders(self)

    def _body_length(self) -> int | None:
        """The bytes left to read: ``CONTENT_LENGTH``, ``None`` for a chunked body that
        the server ends with EOF, else 0; and the stream to read them from."""
        environ = self._environ
        self._input = environ.get("wsgi.input")
        length = environ.get("CONTENT_LENGTH")
        if length and str(length).isdigit():
            return int(length)
        if environ.get("wsgi.input_terminated"):
            return None
        return 0

    def read_body_chunk(self) -> bytes:
        remaining = self._remaining
        if remaining == -1:
            remaining = self._remaining = self._body_length()
        if remaining == 0 or self._input is None:
            return b""
        if remaining is None:
            data: bytes = self._input.read(_READ_CHUNK)
            return data
        try:
            data = self._input.read(min(_READ_CHUNK, remaining))
        except OSError as exc:
            raise ClientDisconnected() from exc
        if not data:
            raise ClientDisconnected(
                f"The client disconnected with {remaining} bytes of the declared body unsent."
            )
        self._remaining = remaining - len(data)
        return data


def wsgi_app(app: App, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Serve one WSGI request with ``app``."""
    if not app._wsgi_checked:
        _first_request(app)
    request_context = contextvars.copy_context()
    return request_context.run(_handle, app, environ, start_response, request_context)


def _first_request(app: App) -> None:
    """Once per app: warn that its websocket routes cannot be served through WSGI."""
    app._wsgi_checked = True
    if app.websocket_endpoints:
        app.logger.warning(
            "This app has websocket routes (%s), but it is being served through WSGI:"
            " websocket routes need an ASGI server, e.g. uvicorn. Through WSGI they"
            " answer 400.",
            ", ".join(sorted(app.websocket_endpoints)),
        )


def _handle(
    app: App,
    environ: WSGIEnvironment,
    start_response: StartResponse,
    request_context: contextvars.Context,
) -> Iterable[bytes]:
    mount_table = app.mount_table
    # PERF: an app with no mount() or fallback() pays this one check (bridges.py).
    if mount_table is None:
        ctx = app.create_request_context(WSGIConnection(environ))
    else:
        routed, answer = route_wsgi(app, mount_table, environ, start_response, WSGIConnection)
        if routed is None:
            return answer  # a mounted app or the fallback answered
        ctx = routed
    ctx.push()
    try:
        view = direct_view(ctx)
        if view is not None and not view.is_async:
            # The view called, the response made; the flow only for what remains (an
            # error, a session, after_this_request).
            outcome = call_direct(app, ctx, view)
            response = outcome if isinstance(outcome, Response) else drive_sync(outcome)
        else:
            response = drive_sync(request_flow(app, ctx))
    except BaseException as exc:
        _finish(app, ctx, None, exc)
        raise
    is_head = ctx.request.method == "HEAD"
    if response._data is not None:  # PERF: not the is_streamed and data properties
        # Teardown before the body is written, as Flask does; call_on_close after it.
        _finish(app, ctx, None, None)
        start_response(response.status, response.prepare_headers().to_wsgi_list())
        body = [] if is_head else [response._data]  # after prepare_headers: 204, 304
        if response._on_close:
            return _ClosingBody(app, ctx, response, body)
        return body
    start_response(response.status, response.prepare_headers().to_wsgi_list())
    return _StreamedBody(app, ctx, response, request_context, skip=is_head)


class _ClosingBody:
    """A bytes body whose ``close()`` runs the response's ``call_on_close`` callbacks."""

    def __init__(self, app: App, ctx: RequestContext, response: Response, body: list[bytes]):
        self._app = app
        self._ctx = ctx
        self._response: Response | None = response
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        if self._response is not None:
            release_request(self._app, self._ctx, self._response, callbacks_only=True)
            self._response = None


def _finish(
    app: App, ctx: RequestContext, response: Response | None, error: BaseException | None
) -> None:
    """Teardown (if not done yet), ``call_on_close`` callbacks, then pop the context."""
    try:
        if not ctx.torn_down:
            drive_sync(teardown_flow(app, ctx, error or ctx.unhandled_error))
        release_request(app, ctx, response, callbacks_only=False)
    finally:
        ctx.pop(error)


class _StreamedBody:
    """The iterable handed to the WSGI server for a streamed body.

    Each chunk is produced inside the request's own ``contextvars.Context``; an async
    generator is advanced on the thread's persistent loop. ``close()`` (which every WSGI
    server calls, even after a client disconnect) closes the generator, runs teardown
    and pops the context.
    """

    def __init__(
        self,
        app: App,
        ctx: RequestContext,
        response: Response,
        request_context: contextvars.Context,
        *,
        skip: bool,
    ) -> None:
        self._app = app
        self._ctx = ctx
        self._response = response
        self._context = request_context
        self._closed = False
        self._error: BaseException | None = None
        body: Any = response.response
        self._sync: Iterator[str | bytes] | None = None
        self._async: AsyncIterator[str | bytes] | None = None
        if skip:
            self._sync = iter(())
        elif hasattr(body, "__aiter__") and not hasattr(body, "__iter__"):
            # A body iterable both ways (sse.py's) is iterated the WSGI way: no loop.
            self._async = body.__aiter__()
        else:
            self._sync = iter(body)

    def __iter__(self) -> _StreamedBody:
        return self

    def __next__(self) -> bytes:
        return self._context.run(self._next_chunk)

    def _next_chunk(self) -> bytes:
        try:
            if self._sync is not None:
                chunk = next(self._sync)
            else:
                assert self._async is not None
                try:
                    chunk = thread_event_loop().run_until_complete(_anext(self._async))
                except StopAsyncIteration:
                    raise StopIteration from None
        except StopIteration:
            raise
        except BaseException as exc:
            self._error = exc
            self._app.logger.error(
                "Error while streaming the response to %s", self._ctx.request.path, exc_info=exc
            )
            raise
        return chunk.encode() if isinstance(chunk, str) else chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._context.run(self._close)

    def _close(self) -> None:
        try:
            body: Any = self._response.response
            if self._async is not None and hasattr(body, "aclose"):
                thread_event_loop().run_until_complete(body.aclose())
            elif hasattr(body, "close"):
                body.close()
        finally:
            _finish(self._app, self._ctx, self._response, self._error)


async def _anext(iterator: AsyncIterator[str | bytes]) -> str | bytes:
    return await iterator.__anext__()
