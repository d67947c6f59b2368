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
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import unquote_to_bytes

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio import CapacityLimiter

from ._disconnect import DisconnectMonitor, note_limiter, register
from ._drivers import LoopWatch, drive_async
from ._lifespan import serve_lifespan
from ._pipeline import release_request, request_flow, teardown_flow
from .bridges import route_asgi, route_asgi_websocket
from .exceptions import ClientDisconnected, RequestEntityTooLarge
from .wrappers import Connection
from .wsgi import add_environ_headers

if TYPE_CHECKING:
    from .app import App
    from .ctx import RequestContext
    from .types import Message, Receive, Scope, Send
    from .wrappers import Response

__all__ = ["ASGIConnection", "asgi_app"]


class ASGIConnection(Connection):
    """A request as an ASGI server describes it."""

    __slots__ = (
        "_body_ended",
        "_buffer",
        "_declared_length",
        "_monitor",
        "_overflow",
        "_receiver",
        "_scope",
        "_spool",
        "receive",
    )
    interface = "asgi"

    def __init__(self, scope: Scope, receive: Receive) -> None:
        root_path: str = scope.get("root_path", "") or ""
        path: str = scope.get("path", "/") or "/"
        raw_path: bytes | None = scope.get("raw_path")
        encoded = raw_path is not None
        if root_path and path.startswith(root_path):
            # Servers disagree on whether "path" includes "root_path"; strip it when it does.
            path = path[len(root_path) :] or "/"
            encoded_root = root_path.encode("utf-8")
            if raw_path is not None and raw_path.startswith(encoded_root):
                raw_path = raw_path[len(encoded_root) :] or b"/"
            else:
                encoded = False
        # One pass over the headers: decoded for the core, and what the body will be.
        header_items: list[tuple[str, str]] = []
        declared_length: int | None = None
        has_body = False
        for name, value in scope.get("headers", ()):
            text_name = name.decode("latin-1")
            header_items.append((text_name, value.decode("latin-1")))
            lowered = text_name.lower()
            if lowered == "content-length":
                stripped = value.strip()
                declared_length = int(stripped) if stripped.isdigit() else None
                has_body = has_body or stripped not in (b"", b"0")
            elif lowered == "transfer-encoding":
                has_body = True
        server = scope.get("server")
        client = scope.get("client")
        super().__init__(
            method=scope.get("method", "GET"),
            scheme=scope.get("scheme", "http"),
            server=(server[0], server[1]) if server else None,
            root_path=root_path.rstrip("/"),
            path_bytes=raw_path if encoded and raw_path is not None else path.encode("utf-8"),
            path_is_encoded=encoded,
            query_string=scope.get("query_string", b""),
            header_items=header_items,
            client=(client[0], client[1]) if client else None,
        )
        self._scope = scope
        self.receive = receive
        self._buffer: deque[bytes] = deque()
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
        if self._buffer:
            return self._buffer.popleft()
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
        size = sum(len(chunk) for chunk in self._buffer)
        pending: list[bytes] = []
        pending_size = 0
        while not self._body_ended:
            chunk = self._take(await self.receive())
            if not chunk:
                continue
            size += len(chunk)
            if self._spool is None:
                self._buffer.append(chunk)
                if size > memory_threshold:
                    self._spool = await anyio.to_thread.run_sync(tempfile.TemporaryFile)
                    pending, pending_size = list(self._buffer), size
                    self._buffer.clear()
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


async def asgi_app(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ASGI connection with ``app``."""
    kind = scope["type"]
    if kind == "http":
        await _handle_http(app, scope, receive, send)
    elif kind == "lifespan":
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
    headers = response.prepare_headers()
    # ASGI wants lower-case header names.
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


def _sync_limiter(app: App, setting: str = "SYNC_VIEW_THREADS") -> CapacityLimiter | None:
    """The limiter of the worker threads that run sync views: ``SYNC_VIEW_THREADS`` per
    event loop (``None``: anyio's default limiter, shared with other ``to_thread`` users).
    ``def`` websocket handlers have their own, ``WEBSOCKET_SYNC_THREADS``."""
    total = app.config[setting]
    if total is None:
        return None
    loop = asyncio.get_running_loop()
    key = f"_ambi_limiter_{setting}"
    cached: tuple[asyncio.AbstractEventLoop, CapacityLimiter] | None = app.__dict__.get(key)
    if cached is not None and cached[0] is loop:
        limiter = cached[1]
        if limiter.total_tokens != total:
            limiter.total_tokens = total
        return limiter
    limiter = CapacityLimiter(total)
    app.__dict__[key] = (loop, limiter)
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

        async def read_body() -> None:
            config = app.config
            await connection.read_all(
                ctx.request.max_content_length, config["BODY_SPOOL_THRESHOLD"]
            )
            # The body is in: from now on receive() only reports a disconnect, which
            # cancels the request's async callables (_disconnect.py).
            if connection._body_ended and config["CANCEL_ON_DISCONNECT"]:
                register(connection)

        plan = ctx.plan
        before_async: Callable[[], Awaitable[None]] | None = (
            None if plan.stream_request else read_body
        )
        if plan.run_inline and before_async is not None:
            await read_body()  # sync callables on the loop cannot wait for the body
            before_async = None
        try:
            response = sent = await drive_async(
                request_flow(app, ctx),
                before_async=before_async,
                limiter=_sync_limiter(app),
                run_sync_inline=plan.run_inline,
                watch=_loop_watch(app, ctx),
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
        if ctx.request.method == "HEAD":
            await send({"type": "http.response.body", "body": b""})
        elif not sent.is_streamed:
            await send({"type": "http.response.body", "body": sent.data})
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
        await _finish(app, ctx, response, error)


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
    iterator = iter(body)
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(_next_or_done, iterator)
            if chunk is _DONE:
                return
            yield chunk.encode() if isinstance(chunk, str) else chunk
    finally:
        if hasattr(iterator, "close"):
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(iterator.close)


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
