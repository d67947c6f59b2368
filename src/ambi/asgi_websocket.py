"""The ASGI side of websockets: a scope and its messages in, the core's websocket out.

Thin by design: :class:`ASGIWebsocketChannel` turns the core's calls (accept, receive,
send, close, reject) into ASGI ``websocket.*`` messages, and :func:`handle_websocket`
serves one connection with the core's :func:`~ambi.websocket.websocket_flow` on the same
async driver as HTTP requests. So an ``async def`` handler is awaited on the loop with no
thread, and a ``def`` handler (with its ``def`` hooks) runs in one worker thread for the
whole connection, its blocking ``websocket`` calls going to the loop and back
(``asyncio.run_coroutine_threadsafe``). Those threads are bounded per loop by
``WEBSOCKET_SYNC_THREADS``, apart from the ``SYNC_VIEW_THREADS`` of HTTP views, so
long-lived sockets cannot starve them.

A handshake is rejected with an HTTP response when the server offers the
``websocket.http.response`` extension (uvicorn, hypercorn and granian do), else by
closing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ._drivers import drive_async
from ._pipeline import teardown_flow
from .asgi import (
    ASGIConnection,
    _encode_headers,
    _iterate_async,
    _iterate_in_threads,
    _loop_watch,
    _sync_limiter,
)
from .exceptions import InternalServerError
from .websocket import (
    ABNORMAL_CLOSURE,
    INTERNAL_ERROR,
    Websocket,
    WebSocketDisconnect,
    websocket_flow,
)

if TYPE_CHECKING:
    from .app import App
    from .types import Message, Receive, Scope, Send
    from .wrappers import Response

__all__ = ["ASGIWebsocketChannel", "handle_websocket"]

T = TypeVar("T")
#: Messages received ahead of the handler, at most.
_READ_AHEAD = 16


class ASGIWebsocketChannel:
    """One websocket connection's messages, as an ASGI server passes them.

    Once the handshake is accepted a reader task receives ahead (a few messages at most,
    so the server's own flow control still works) and notes the disconnect as soon as it
    comes: a handler that only sends learns of it at its next ``send()``, whatever the
    server does with a send on a closed connection (uvicorn raises, hypercorn drops it).
    """

    __slots__ = (
        "_disconnect",
        "_loop",
        "_messages",
        "_reader",
        "_receive",
        "_send",
        "http_response",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._loop = asyncio.get_running_loop()
        #: The server can answer a rejected handshake with an HTTP response.
        self.http_response = "websocket.http.response" in (scope.get("extensions") or {})
        self._messages: asyncio.Queue[str | bytes | None] = asyncio.Queue(_READ_AHEAD)
        self._reader: asyncio.Task[None] | None = None
        #: ``(code, reason)`` once the client disconnected.
        self._disconnect: tuple[int, str] | None = None

    async def accept(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        message: Message = {"type": "websocket.accept", "subprotocol": subprotocol}
        if headers:
            message["headers"] = [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
            ]
        await self._send(message)
        self._reader = self._loop.create_task(self._read())

    async def _read(self) -> None:
        """The reader task: messages into the queue, then ``None`` at the disconnect."""
        try:
            while True:
                message = await self._receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    text: str | None = message.get("text")
                    data: bytes | None = message.get("bytes")
                    await self._messages.put(text if text is not None else (data or b""))
                elif kind == "websocket.disconnect":
                    self._disconnect = (message.get("code", 1005), message.get("reason") or "")
                    break
        except Exception:
            pass  # receive() itself failed: to the handler, the connection is lost (below)
        finally:
            if self._disconnect is None:  # the server failed us: the connection is lost
                self._disconnect = (ABNORMAL_CLOSURE, "")
            with contextlib.suppress(asyncio.QueueFull):
                self._messages.put_nowait(None)

    async def receive(self) -> str | bytes:
        if self._reader is None:
            raise RuntimeError("receive() before the websocket handshake was accepted.")
        if self._disconnect is not None and self._messages.empty():
            raise WebSocketDisconnect(*self._disconnect)
        message = await self._messages.get()
        if message is None:
            assert self._disconnect is not None
            self._messages.put_nowait(None)  # for the next receive(), if any
            raise WebSocketDisconnect(*self._disconnect)
        return message

    async def stop(self) -> None:
        """End the reader task: the connection is over, or closing."""
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def send(self, data: str | bytes) -> None:
        if self._disconnect is not None:
            raise WebSocketDisconnect(*self._disconnect)
        message: Message = (
            {"type": "websocket.send", "text": data}
            if type(data) is str
            else {"type": "websocket.send", "bytes": data}
        )
        try:
            await self._send(message)
        except OSError as exc:  # uvicorn's ClientDisconnected is one
            raise WebSocketDisconnect(ABNORMAL_CLOSURE) from exc

    async def close(self, code: int, reason: str) -> None:
        if self._disconnect is None:
            self._disconnect = (code, reason)  # what a receive() still waiting gets
        # No receive() may be pending when the close goes out: granian would not send
        # the close frame until the client gave up.
        await self.stop()
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except OSError:
            return  # the client is gone already: nothing to close

    async def reject(self, response: Response, code: int, reason: str) -> None:
        if not self.http_response:
            await self.close(code, reason)
            return
        await self._send(
            {
                "type": "websocket.http.response.start",
                "status": response.status_code,
                "headers": _encode_headers(response),
            }
        )
        if response.is_streamed:
            body: Any = response.response
            chunks = (
                _iterate_async(body) if hasattr(body, "__aiter__") else _iterate_in_threads(body)
            )
            try:
                async for chunk in chunks:
                    await self._send(
                        {"type": "websocket.http.response.body", "body": chunk, "more_body": True}
                    )
            finally:
                await chunks.aclose()
            await self._send({"type": "websocket.http.response.body", "body": b""})
        else:
            await self._send({"type": "websocket.http.response.body", "body": response.data})

    def call_blocking(self, func: Callable[..., Coroutine[Any, Any, T]], /, *args: Any) -> T:
        # From any thread but the loop's: the handler's worker thread, or threads it
        # started itself and handed the SyncWebsocket to.
        if self.on_event_loop():
            raise RuntimeError(
                "The blocking websocket API was called on the event loop, which it would"
                " block. In async def code, await it: 'await websocket.receive()'."
            )
        return asyncio.run_coroutine_threadsafe(func(*args), self._loop).result()

    def on_event_loop(self) -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True


async def handle_websocket(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ASGI websocket connection with ``app``."""
    if (await receive())["type"] != "websocket.connect":
        return  # the client left before the handshake began
    ctx = app.create_websocket_context(ASGIConnection(scope, receive))
    channel = ASGIWebsocketChannel(scope, receive, send)
    ctx.bind(channel)
    websocket = ctx.websocket
    ctx.push()
    error: BaseException | None = None
    try:
        response = await drive_async(
            websocket_flow(app, ctx),
            limiter=_sync_limiter(app, "WEBSOCKET_SYNC_THREADS"),
            watch=_loop_watch(app, ctx),
        )
        await websocket.finish(response, ctx.close_code, ctx.close_reason)
    except BaseException as exc:
        # PROPAGATE_EXCEPTIONS (testing), or the server cancelled us: still close.
        error = exc
        with anyio.CancelScope(shield=True):
            await _close_after_error(websocket)
        raise
    finally:
        try:
            with anyio.CancelScope(shield=True):
                await channel.stop()
                await drive_async(teardown_flow(app, ctx, error or ctx.unhandled_error))
        finally:
            ctx.pop(error)


async def _close_after_error(websocket: Websocket) -> None:
    # If the connection is broken too, there is nothing more to tell the client.
    with contextlib.suppress(Exception):
        await websocket.finish(
            InternalServerError().get_response(), INTERNAL_ERROR, "500 Internal Server Error"
        )
