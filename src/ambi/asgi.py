"""The ASGI adapter: scope/receive → Connection, the async driver, Response → send.

Thin by design. It also owns the ASGI-only protocols: lifespan (``_lifespan.py``) and
websockets (``asgi_websocket.py``).

Request bodies under ASGI: a ``def`` callable runs in a worker thread and reads the body
lazily, pulling ``receive()`` through the event loop with ``anyio.from_thread``; before
the first ``async def`` callable runs, the body is read in (bounded by the request's
``max_content_length``) so the blocking body API has its data without touching a thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import tempfile
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import unquote_to_bytes

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio import CapacityLimiter

from ._disconnect import DisconnectMonitor, note_limiter, register
from ._drivers import (
    LoopWatch,
    _run_in_worker,
    adaptations,
    drive_async,
    drive_on_loop,
    run_sync_start,
)
from ._lifespan import serve_lifespan
from ._pipeline import (
    call_direct,
    direct_response,
    direct_view,
    release_request,
    request_flow,
    respond_flow,
    teardown_flow,
)
from .bridges import route_asgi, route_asgi_websocket
from .exceptions import ClientDisconnected, RequestEntityTooLarge
from .globals import _cv_context
from .wrappers import Connection, Response
from .wsgi import add_environ_headers

if TYPE_CHECKING:
    from ._pipeline import Call, Flow, Step
    from .app import App
    from .config import Config
    from .ctx import RequestContext
    from .types import Message, Receive, Scope, Send

__all__ = ["ASGIConnection", "asgi_app"]


class ASGIConnection(Connection):
    """A request as an ASGI server describes it."""

    __slots__ = (
        "_body_ended",
        "_buffer",
        "_declared_length",
        "_header_list",
        "_monitor",
        "_overflow",
        "_receiver",
        "_scope",
        "_spool",
        "receive",
    )
    interface = "asgi"

    _header_list: list[tuple[str, str]] | None

    @property
    def header_items(self) -> list[tuple[str, str]]:
        """The request headers, decoded from the scope's on first use.

        PERF: built lazily, as on the WSGI side: most requests never read
        ``request.headers`` (benchmarks/inprocess.py, plaintext ASGI async).
        """
        items = self._header_list
        if items is None:
            items = self._header_list = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in self._scope.get("headers", ())
            ]
        return items

    @header_items.setter
    def header_items(self, value: list[tuple[str, str]] | None) -> None:
        self._header_list = value

    def __init__(self, scope: Scope, receive: Receive) -> None:
        # PERF: the attributes are set here, not through Connection.__init__'s keywords,
        # and the headers are only scanned for the two that say whether a body follows
        # (benchmarks/inprocess.py, plaintext ASGI async).
        get = scope.get
        root_path: str = get("root_path", "") or ""
        path: str = get("path", "/") or "/"
        raw_path: bytes | None = get("raw_path")
        encoded = raw_path is not None
        if root_path:
            if path.startswith(root_path):
                # Servers disagree on whether "path" includes "root_path"; strip it when
                # it does.
                path = path[len(root_path) :] or "/"
                encoded_root = root_path.encode("utf-8")
                if raw_path is not None and raw_path.startswith(encoded_root):
                    raw_path = raw_path[len(encoded_root) :] or b"/"
                else:
                    encoded = False
            self.root_path = root_path.rstrip("/")
        else:
            self.root_path = ""
        self.path_bytes = raw_path if encoded and raw_path is not None else path.encode("utf-8")
        self.path_is_encoded = encoded
        declared_length: int | None = None
        has_body = False
        for name, value in get("headers", ()):
            # Header names should be lower-case in ASGI, but need not be.
            if len(name) == 14:
                if name == b"content-length" or name.lower() == b"content-length":
                    stripped = value.strip()
                    declared_length = int(stripped) if stripped.isdigit() else None
                    has_body = has_body or stripped not in (b"", b"0")
            elif len(name) == 17 and (
                name == b"transfer-encoding" or name.lower() == b"transfer-encoding"
            ):
                has_body = True
        self._header_list = None  # decoded on first use: see header_items
        self.method = get("method", "GET")
        self.scheme = get("scheme", "http")
        server = get("server")
        self.server = (
            (server if server.__class__ is tuple else (server[0], server[1])) if server else None
        )
        client = get("client")
        self.client = (
            (client if client.__class__ is tuple else (client[0], client[1])) if client else None
        )
        self.query_string = get("query_string", b"")
        self._scope = scope
        self.receive = receive
        self._buffer: deque[bytes] | None = None  # made by read_all
        self._overflow = False
        self._spool: IO[bytes] | None = None
        self._declared_length = declared_length
        self._body_ended = not has_body
        #: The disconnect monitor watching this request (``_disconnect.py``), if any.
        self._monitor: DisconnectMonitor | None = None
        self._receiver: asyncio.Task[bool] | None = None

    @property
    def environ(self) -> dict[str, Any]:
        scope = self._scope
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "SCRIPT_NAME": self.root_path,
            # WSGI's PATH_INFO is the decoded path's bytes as latin-1 text.
            "PATH_INFO": (
                unquote_to_bytes(self.path_bytes) if self.path_is_encoded else self.path_bytes
            ).decode("latin-1"),
            "QUERY_STRING": self.query_string.decode("latin-1"),
            "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
            "wsgi.url_scheme": self.scheme,
            "asgi.scope": scope,
        }
        if self.server:
            environ["SERVER_NAME"] = self.server[0]
            environ["SERVER_PORT"] = str(self.server[1] or "")
        if self.client:
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = self.client[0], str(self.client[1])
        add_environ_headers(environ, self.header_items)
        return environ

    def _take(self, message: Message) -> bytes:
        if message["type"] == "http.disconnect":
            self._body_ended = True
            raise ClientDisconnected()
        if not message.get("more_body", False):
            self._body_ended = True
        body: bytes = message.get("body", b"")
        return body

    def _read_ahead_chunk(self) -> bytes:
        """The next chunk of what :meth:`read_all` read ahead (memory, then the spool)."""
        buffer = self._buffer
        if buffer:
            return buffer.popleft()
        if self._spool is not None:
            chunk = self._spool.read(_SPOOL_READ)
            if chunk:
                return chunk
            self._spool.close()
            self._spool = None
        if self._overflow:
            raise RequestEntityTooLarge(
                "The request body is larger than the limit of the request"
                " (MAX_CONTENT_LENGTH); it was not read past it."
            )
        return b""

    def read_body_chunk(self) -> bytes:
        chunk = self._read_ahead_chunk()
        if chunk:
            return chunk
        while not self._body_ended:
            try:
                message: Message = anyio.from_thread.run(_receive, self.receive)
            except RuntimeError as exc:
                raise RuntimeError(
                    "The request body was read with the blocking API on the event loop"
                    " before it was received. In a route registered with"
                    " stream_request=True nothing is read ahead: in an async def view read"
                    " it with 'async for chunk in request.stream' or"
                    " 'await request.stream.aread()'."
                ) from exc
            chunk = self._take(message)
            if chunk:
                return chunk
        return b""

    async def read_body_chunk_async(self) -> bytes:
        chunk = self._read_ahead_chunk()
        if chunk:
            return chunk
        while not self._body_ended:
            chunk = self._take(await self.receive())
            if chunk:
                return chunk
        return b""

    async def read_all(self, limit: int | None, memory_threshold: int) -> None:
        """Receive the rest of the body before an async callable runs, so the blocking
        body API has its data.

        Up to ``memory_threshold`` bytes stay in memory; past it everything goes to a
        temporary file, written from a worker thread so the loop never waits on the disk.
        Receiving stops just past ``limit`` bytes (the reader then raises 413).
        """
        declared = self._declared_length
        if limit is not None and declared is not None and declared > limit:
            self._overflow = True  # refuse without receiving any of it
            return
        buffer = self._buffer
        if buffer is None:
            buffer = self._buffer = deque()
        size = sum(len(chunk) for chunk in buffer)
        pending: list[bytes] = []
        pending_size = 0
        while not self._body_ended:
            chunk = self._take(await self.receive())
            if not chunk:
                continue
            size += len(chunk)
            if self._spool is None:
                buffer.append(chunk)
                if size > memory_threshold:
                    self._spool = await anyio.to_thread.run_sync(tempfile.TemporaryFile)
                    pending, pending_size = list(buffer), size
                    buffer.clear()
            else:
                pending.append(chunk)
                pending_size += len(chunk)
            if pending_size >= _SPOOL_WRITE:
                await anyio.to_thread.run_sync(_write_all, self._spool, pending)
                pending, pending_size = [], 0
            if limit is not None and size > limit and not self._body_ended:
                self._overflow = True
                break
        if self._spool is not None:
            await anyio.to_thread.run_sync(_write_all, self._spool, pending, True)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._receiver is not None:
            self._receiver.cancel()

    async def wait_for_disconnect(self) -> None:
        """Return when the client disconnects (only once the body has been read)."""
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return

    def disconnect_receiver(self) -> asyncio.Task[bool]:
        """The one task that calls ``receive()`` once the body has been read: it ends
        with True when the client disconnects, False if ``receive()`` failed. Started on
        first use, shared by whoever watches the request (a slow view's disconnect watch,
        a streamed response), cancelled by :meth:`close`: one task, never cancelled
        midway, so no ``http.disconnect`` is received and lost (servers send it once)."""
        if self._receiver is None:
            # An empty context: the task must not keep the request's context alive.
            self._receiver = asyncio.get_running_loop().create_task(
                self._receive_until_disconnect(), context=contextvars.Context()
            )
        return self._receiver

    async def _receive_until_disconnect(self) -> bool:
        try:
            await self.wait_for_disconnect()
        except Exception:
            return False  # a server whose receive() failed: nothing to watch
        return True


_SPOOL_READ = 64 * 1024
_SPOOL_WRITE = 1024 * 1024


def _write_all(file: IO[bytes] | None, chunks: list[bytes], rewind: bool = False) -> None:
    assert file is not None
    file.writelines(chunks)
    if rewind:
        file.seek(0)


async def _receive(receive: Receive) -> Message:
    return await receive()


def asgi_app(app: App, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    """Serve one ASGI connection with ``app``: ``await asgi_app(app, scope, receive, send)``."""
    if scope["type"] == "http":
        # PERF: the request's coroutine itself, not one more awaiting it
        # (benchmarks/inprocess.py, plaintext ASGI async).
        return _handle_http(app, scope, receive, send)
    return _serve_other(app, scope, receive, send)


async def _serve_other(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "lifespan":
        await _handle_lifespan(app, receive, send)
    elif kind == "websocket":
        mount_table = app.mount_table
        if mount_table is not None and await route_asgi_websocket(
            app, mount_table, scope, receive, send
        ):
            return  # an ASGI app mounted at its path took it
        from .asgi_websocket import handle_websocket  # it builds on this module

        await handle_websocket(app, scope, receive, send)
    else:
        raise ValueError(f"Ambi does not handle ASGI scope type {kind!r}.")


async def _handle_lifespan(app: App, receive: Receive, send: Send) -> None:
    # Startup, the background tasks' group, shutdown: see _lifespan.py.
    await serve_lifespan(app, receive, send)


def _encode_headers(response: Response) -> list[tuple[bytes, bytes]]:
    # ASGI wants lower-case header names. PERF: the header list itself, not the items()
    # generator, and the usual headers encoded once (benchmarks/inprocess.py, plaintext
    # ASGI async).
    pairs = _ENCODED_PAIRS
    encoded = []
    for pair in response.prepare_headers()._list:
        found = pairs.get(pair)
        encoded.append(found if found is not None else _encode_pair(pair))
    return encoded


#: Response headers as ASGI wants them (lower-case bytes), the first few hundred seen:
#: content types, short lengths, the app's fixed headers.
_ENCODED_PAIRS: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _encode_pair(pair: tuple[str, str]) -> tuple[bytes, bytes]:
    name, value = pair
    encoded = (name.lower().encode("latin-1"), value.encode("latin-1"))
    # Bounded, and only short values: headers may come from anywhere (cookies, ids).
    if len(_ENCODED_PAIRS) < 512 and len(value) <= 64:
        _ENCODED_PAIRS[pair] = encoded
    return encoded


def _sync_limiter(app: App, setting: str = "SYNC_VIEW_THREADS") -> CapacityLimiter | None:
    """The limiter of the worker threads that run sync views: ``SYNC_VIEW_THREADS`` per
    event loop (``None``: anyio's default limiter, shared with other ``to_thread`` users).
    ``def`` websocket handlers have their own, ``WEBSOCKET_SYNC_THREADS``."""
    total = app.config[setting]
    if total is None:
        return None
    loop = asyncio.get_running_loop()
    key = "_ambi_limiter_" + setting
    cached: tuple[asyncio.AbstractEventLoop, CapacityLimiter, int] | None = app.__dict__.get(key)
    if cached is not None and cached[0] is loop:
        # PERF: the total it was last given is kept with it, so that the usual case reads
        # no anyio property (benchmarks/inprocess.py, plaintext ASGI def).
        limiter = cached[1]
        if cached[2] != total:
            limiter.total_tokens = total
            app.__dict__[key] = (loop, limiter, total)
        return limiter
    limiter = CapacityLimiter(total)
    app.__dict__[key] = (loop, limiter, total)
    note_limiter(limiter)  # the disconnect monitor waits while a request holds one of its threads
    return limiter


def _loop_watch(app: App, ctx: RequestContext) -> LoopWatch | None:
    """With ``LOOP_BLOCK_WARNING`` (seconds; in debug mode 0.1 when unset), a watch that
    logs a warning naming the route when one callable holds the event loop longer."""
    threshold = app.config["LOOP_BLOCK_WARNING"]
    if threshold is None:
        if not app.debug:
            return None
        threshold = 0.1
    if threshold is False or threshold <= 0:
        return None

    def watch(seconds: float, func: Callable[..., Any]) -> None:
        if seconds >= threshold:
            request = ctx.request
            app.logger.warning(
                "The event loop was blocked for %.3f s by %s on %s %s (endpoint %r):"
                " every other request on this loop waited. Await the slow work, move it"
                " to a thread (anyio.to_thread.run_sync), or make the function a plain"
                " def without @inline so that it runs in a worker thread.",
                seconds,
                getattr(func, "__qualname__", repr(func)),
                request.method,
                request.path,
                request.endpoint,
            )

    return watch


def _limiter_source(app: App) -> Callable[[], CapacityLimiter | None]:
    """``_sync_limiter(app)``, as a callable made once per app: the driver calls it at
    its first thread hop only."""
    source: Callable[[], CapacityLimiter | None] = partial(_sync_limiter, app)
    app.__dict__["_ambi_limiter_source"] = source
    return source


def _read_body(
    config: Config, ctx: RequestContext, connection: ASGIConnection
) -> Awaitable[None] | None:
    """Before the first async callable: read the body in (an awaitable), then register
    the request for disconnect detection. ``None`` when there was nothing to read."""
    if not connection._body_ended:
        return _read_all(config, ctx, connection)
    # PERF: no body (a GET): no coroutine at all (benchmarks/inprocess.py, plaintext).
    if config["CANCEL_ON_DISCONNECT"]:
        register(connection)
    return None


async def _read_all(config: Config, ctx: RequestContext, connection: ASGIConnection) -> None:
    await connection.read_all(ctx.request.max_content_length, config["BODY_SPOOL_THRESHOLD"])
    # The body is in: from now on receive() only reports a disconnect, which cancels the
    # request's async callables (_disconnect.py).
    if connection._body_ended and config["CANCEL_ON_DISCONNECT"]:
        register(connection)


async def _handle_http(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    mount_table = app.mount_table
    # PERF: an app with no mount() or fallback() pays this one check (bridges.py).
    if mount_table is None:
        connection = ASGIConnection(scope, receive)
        ctx = app.create_request_context(connection)
    else:
        routed = await route_asgi(app, mount_table, scope, receive, send, ASGIConnection)
        if routed is None:
            return  # a mounted app or the fallback answered
        ctx = routed
        connection = cast(ASGIConnection, ctx.request.connection)
    ctx.push()
    response: Response | None = None
    error: BaseException | None = None
    try:
        plan = ctx.plan
        config = app.config
        if plan.stream_request:
            before_async: Callable[..., Awaitable[None] | None] | None = None
        elif plan.run_inline:
            reading = _read_body(config, ctx, connection)
            if reading is not None:
                await reading  # sync callables on the loop cannot wait for the body
            before_async = None
        else:
            before_async = _read_body
        # PERF: the limiter is looked up at the first thread hop, the blocked-loop watch
        # only when configured (benchmarks/inprocess.py, plaintext ASGI async).
        loop_watch = (
            None
            if config["LOOP_BLOCK_WARNING"] is None and not config["DEBUG"]
            else _loop_watch(app, ctx)
        )
        try:
            view = direct_view(ctx) if loop_watch is None else None
            if view is not None:
                if view.is_async:
                    response = sent = await _direct(app, ctx, view, before_async, connection)
                else:
                    response = sent = await _direct_def(
                        app, ctx, view, before_async, connection, plan.run_inline
                    )
            else:
                response = sent = await drive_on_loop(
                    request_flow(app, ctx),
                    None,
                    before_async,
                    plan.run_inline,
                    app.__dict__.get("_ambi_limiter_source") or _limiter_source(app),
                    loop_watch,
                    (config, ctx, connection),
                )
        except BaseException as exc:
            if connection._monitor is None or not _cancelled_by_disconnect(connection, exc):
                raise
            error = ClientDisconnected(_CANCELLED)
            _log_disconnect(app, ctx, "its view was cancelled")
            return
        monitor = connection._monitor
        if monitor is not None:
            del monitor.requests[connection]  # PERF: release() inline (_disconnect.py)
            if monitor.watches:
                watch = monitor.stop_watch(connection)
                if watch is not None and watch.disconnected:
                    _log_disconnect(app, ctx, "the response was not sent")
                    return
        await send(
            {
                "type": "http.response.start",
                "status": sent.status_code,
                "headers": _encode_headers(sent),
            }
        )
        # PERF: not the is_streamed and data properties.
        body = b"" if ctx.request.method == "HEAD" else sent._data
        if body is not None:
            # The last message goes out with the request context unset: what the server
            # schedules in send() copies the current context (uvicorn's keep-alive timer
            # does, for seconds, and a cancelled timer keeps it), which must not keep the
            # request, its context and its response alive. PERF: benchmarks/e2e.py,
            # plaintext under uvicorn: they lived on, so the GC ran every ~50 requests
            # (full collections included) and p99 was several times the median.
            tokens = ctx._tokens
            _cv_context.reset(tokens[-1])
            try:
                await send({"type": "http.response.body", "body": body})
            finally:
                tokens[-1] = _cv_context.set(ctx)
        else:
            try:
                await _send_stream(connection, sent, send)
            except Exception as exc:
                # The disconnect watcher's task group wraps what the body raised.
                while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
                    exc = exc.exceptions[0]
                app.logger.error(
                    "Error while streaming the response to %s", ctx.request.path, exc_info=exc
                )
                raise exc from None
    except BaseException as exc:
        error = exc
        raise
    finally:
        if ctx.torn_down:
            # PERF: the common case (the flow ran the teardown) awaits nothing more
            # (benchmarks/inprocess.py, plaintext ASGI async).
            try:
                release_request(app, ctx, response)
            finally:
                ctx.pop(error)
        else:
            await _finish(app, ctx, response, error)


async def _direct(
    app: App,
    ctx: RequestContext,
    view: Step,
    before_async: Callable[..., Awaitable[None] | None] | None,
    connection: ASGIConnection,
) -> Response:
    """An endpoint that runs nothing but its ``async def`` view (``_pipeline.direct_view``):
    the body read in, the view awaited, the response made, all on the loop; the flow
    only for what remains (an error, a session, ``after_this_request``)."""
    try:
        if before_async is not None:
            reading = before_async(app.config, ctx, connection)
            if reading is not None:
                await reading
        kwargs = ctx.request.view_args
        rv = await (view.func(**kwargs) if kwargs else view.func())
        response = direct_response(app, ctx, rv)
        if response is not None:
            return response
        flow = respond_flow(app, ctx, rv, None)
    except Exception as exc:
        flow = respond_flow(app, ctx, None, exc)
    return await drive_on_loop(
        flow,
        None,
        None,
        False,
        app.__dict__.get("_ambi_limiter_source") or _limiter_source(app),
    )


async def _direct_def(
    app: App,
    ctx: RequestContext,
    view: Step,
    before_async: Callable[..., Awaitable[None] | None] | None,
    connection: ASGIConnection,
    inline: bool,
) -> Response:
    """An endpoint that runs nothing but its ``def`` view (``_pipeline.direct_view``):
    the view called and the response made in the request's one worker-thread hop (on
    the loop for a view that never blocks, ``plan.run_inline``); the flow only for what
    remains, its sync part in that same hop."""
    source = app.__dict__.get("_ambi_limiter_source") or _limiter_source(app)
    if inline:
        outcome = _direct_stretch(app, ctx, view)
    else:
        adaptations.thread_hops += 1
        outcome = await _run_in_worker(_direct_stretch, (app, ctx, view), source())
    if isinstance(outcome, Response):
        return outcome
    flow, call = outcome  # stopped at an async callable: the rest on the loop
    return await drive_on_loop(
        flow, call, before_async, inline, source, None, (app.config, ctx, connection)
    )


def _direct_stretch(
    app: App, ctx: RequestContext, view: Step
) -> Response | tuple[Flow[Response], Call]:
    """:func:`_direct_def`'s sync part: the response, or the flow and its first async
    call."""
    outcome = call_direct(app, ctx, view)
    if isinstance(outcome, Response):
        return outcome
    finished, result = run_sync_start(outcome)
    if finished:
        response: Response = result
        return response
    return outcome, result


_CANCELLED = (
    "The client disconnected while the request was handled; its async def callables were"
    " cancelled (CANCEL_ON_DISCONNECT)."
)


def _cancelled_by_disconnect(connection: ASGIConnection, error: BaseException) -> bool:
    """Release the request; whether ``error`` is its watch's cancellation of the
    request's task alone (a cancellation by the server as well is the server's)."""
    assert connection._monitor is not None
    watch = connection._monitor.release(connection)
    return (
        watch is not None
        and watch.cancelled
        and isinstance(error, asyncio.CancelledError)
        and watch.task.cancelling() == 0
    )


def _log_disconnect(app: App, ctx: RequestContext, outcome: str) -> None:
    # Not an error of the app's: a client may leave at any time.
    request = ctx.request
    app.logger.info(
        "Client disconnected during %s %s (endpoint %r): %s.",
        request.method,
        request.path,
        request.endpoint,
        outcome,
    )


async def _send_stream(connection: ASGIConnection, response: Response, send: Send) -> None:
    body: Any = response.response
    chunks: AsyncGenerator[bytes, None] = (
        _iterate_async(body) if hasattr(body, "__aiter__") else _iterate_in_threads(body)
    )
    try:
        if connection._body_ended:
            # Stop generating as soon as the client goes away.
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    receiver = connection.disconnect_receiver()
                    await asyncio.wait((receiver,))  # leaves it running when cancelled
                    if receiver.result():
                        group.cancel_scope.cancel()

                group.start_soon(watch)
                await _pump(chunks, send)
                group.cancel_scope.cancel()
        else:
            await _pump(chunks, send)
    finally:
        await chunks.aclose()


async def _pump(chunks: AsyncIterator[bytes], send: Send) -> None:
    async for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _iterate_async(body: Any) -> AsyncGenerator[bytes, None]:
    try:
        async for chunk in body:
            yield chunk.encode() if isinstance(chunk, str) else chunk
    finally:
        if hasattr(body, "aclose"):
            with anyio.CancelScope(shield=True):
                await body.aclose()


_DONE = object()


def _next_or_done(iterator: Iterator[str | bytes]) -> Any:
    return next(iterator, _DONE)


async def _iterate_in_threads(body: Any) -> AsyncGenerator[bytes, None]:
    # Each step in one of the worker threads def views use (anyio's default limiter), so
    # a streamed response leaves no other kind of idle thread behind.
    iterator = iter(body)
    try:
        while True:
            chunk = await _run_in_worker(_next_or_done, (iterator,), None)
            if chunk is _DONE:
                return
            yield chunk.encode() if isinstance(chunk, str) else chunk
    finally:
        if hasattr(iterator, "close"):
            with anyio.CancelScope(shield=True):
                await _run_in_worker(iterator.close, (), None)


async def _finish(
    app: App, ctx: RequestContext, response: Response | None, error: BaseException | None
) -> None:
    try:
        if not ctx.torn_down:
            with anyio.CancelScope(shield=True):
                await drive_async(teardown_flow(app, ctx, error or ctx.unhandled_error))
        release_request(app, ctx, response)
    finally:
        ctx.pop(error)
