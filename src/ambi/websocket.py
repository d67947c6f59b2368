"""WebSockets in the core: the ``websocket`` object, its context, and its pipeline.

Part of the sans-I/O core: no I/O, no event loop, no thread here. The adapter (only ASGI
servers speak WebSocket; see ``asgi_websocket.py``) gives each connection a
:class:`WebsocketChannel` that moves messages, and this module does the rest.

Theory of operation
===================

A websocket connection is a request whose "response" is a conversation. The adapter
builds a :class:`Websocket` (a :class:`~ambi.wrappers.Request` for the handshake: path,
args, headers, cookies, URL values) and a :class:`WebsocketContext` (a request context,
so ``g``, ``session``, ``current_app`` and ``url_for`` work), binds the channel, pushes
the context and drives :func:`websocket_flow` with the same async driver as HTTP
requests (``_drivers.py``). The flow yields each user callable; an ``async def`` one is
awaited on the loop, and a ``def`` one runs in a worker thread together with every
following ``def`` step, so a route whose hooks and handler are all ``def`` costs one
thread hop for the whole connection.

1. ``url_value_preprocessor`` callables, then ``before_websocket`` callables; one
   returning something other than ``None`` ends this step, its value is the response.
2. A failed URL match raises its stored error (404, or 400 for a plain-HTTP URL); else
   the handler runs with the URL values. What it returns is kept only while the
   handshake is not accepted: it then becomes the HTTP response that rejects it.
3. Any exception goes to the error handlers as in HTTP views; a
   :class:`WebSocketDisconnect` (the client left) is no error and ends the flow quietly.
4. ``after_websocket`` callables (reverse order) receive the response (``None`` unless
   the handshake is being rejected) and return it.
5. An exception nobody handled is logged once (and re-raised with
   ``PROPAGATE_EXCEPTIONS``). :attr:`WebsocketContext.close_code` says how to end.
6. The adapter then ends the connection with :meth:`Websocket.finish`: a handshake not
   accepted is rejected (with the response as an HTTP answer where the server supports
   the ``websocket.http.response`` extension, else by closing), an open socket is
   closed with the close code, a closed one is left alone; then teardown
   (``teardown_request`` and ``teardown_appcontext`` functions) runs as for a request.

Inside the handler ``websocket`` is this connection's :class:`Websocket` (``await``
its methods) in ``async def`` code, and a :class:`SyncWebsocket` over it (the same API,
blocking) in ``def`` code running in a worker thread; the channel tells them apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from functools import partial
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._pipeline import (
    EndpointPlan,
    Flow,
    Step,
    _await_call,
    _call,
    _handle_exception,
    _handle_user_exception,
    _steps,
    before_flow,
)
from .ctx import RequestContext
from .datastructures import Headers
from .exceptions import BadRequest, HTTPException
from .http import HTTP_STATUS_CODES
from .wrappers import Connection, Request

if TYPE_CHECKING:
    from .app import App
    from .wrappers import Response

__all__ = [
    "SyncWebsocket",
    "WebSocketDisconnect",
    "Websocket",
    "WebsocketChannel",
    "WebsocketContext",
    "WebsocketPlan",
    "websocket_flow",
]

T = TypeVar("T")

#: Close codes (RFC 6455, section 7.4.1).
NORMAL_CLOSURE = 1000
UNSUPPORTED_DATA = 1003
ABNORMAL_CLOSURE = 1006
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
#: A close frame's reason may hold at most 123 bytes of UTF-8.
_MAX_REASON = 123

_CONNECTING, _OPEN, _CLOSED = "connecting", "open", "closed"


class WebSocketDisconnect(Exception):
    """The connection is closed: the client disconnected (``code`` is the close code it
    sent, 1006 if it just went away), or the server closed it (a message over
    ``WEBSOCKET_MAX_MESSAGE_SIZE``: 1009).

    Raised by ``receive()`` and ``send()``; ``async for message in websocket`` ends
    instead. A handler may let it propagate: it is not logged as an error.
    """

    def __init__(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"WebSocket closed with code {self.code}" + (
            f": {self.reason}" if self.reason else ""
        )


class _UnacceptableMessage(BadRequest):
    """A message the handler cannot take (binary for ``receive_text``, bad JSON …); if
    the handler does not catch it the socket is closed with :attr:`websocket_close_code`."""

    def __init__(self, description: str, close_code: int) -> None:
        super().__init__(description)
        self.websocket_close_code = close_code


class WebsocketChannel(Protocol):
    """What the adapter provides for one connection: message I/O on the event loop, and
    the bridge a ``def`` handler's blocking calls go through."""

    async def accept(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        """Accept the handshake."""

    async def receive(self) -> str | bytes:
        """The next message; raises :class:`WebSocketDisconnect` when the client left."""

    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message; raises
        :class:`WebSocketDisconnect` if the connection is gone."""

    async def close(self, code: int, reason: str) -> None:
        """Close the socket (before the handshake is accepted: reject it)."""

    async def reject(self, response: Response, code: int, reason: str) -> None:
        """Reject the handshake with ``response`` as an HTTP answer if the server can
        send one, else by closing with ``code`` and ``reason``."""

    def call_blocking(self, func: Callable[..., Coroutine[Any, Any, T]], /, *args: Any) -> T:
        """From a worker thread: run ``await func(*args)`` on the loop and wait."""
        raise NotImplementedError

    def on_event_loop(self) -> bool:
        """True when the caller runs on the event loop (so it must ``await``)."""
        raise NotImplementedError


def _truncate_reason(reason: str) -> str:
    encoded = reason.encode("utf-8")
    if len(encoded) <= _MAX_REASON:
        return reason
    return encoded[:_MAX_REASON].decode("utf-8", "ignore")


def _header_list(
    headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> list[tuple[str, str]]:
    if headers is None:
        return []
    return list(Headers(headers).items())


class Websocket(Request):
    """One websocket connection, as ``ambi.websocket`` shows it to a handler.

    The handshake is a request: ``path``, ``args``, ``headers``, ``cookies``,
    ``view_args``, ``url_rule``, ``scheme`` (``ws``/``wss``), ``host``, ``root_path``
    and the rest of :class:`~ambi.wrappers.Request` work as in a view (it has no body).
    The conversation is ``async``::

        @app.websocket("/ws/<room>")
        async def chat(room):
            await websocket.accept()            # optional: the first send/receive accepts
            async for message in websocket:     # ends when the client disconnects
                await websocket.send(f"{room}: {message}")

    In a ``def`` handler the same calls block instead (see :class:`SyncWebsocket`).
    """

    #: The largest incoming message, in bytes (``WEBSOCKET_MAX_MESSAGE_SIZE``); a larger
    #: one closes the connection with 1009. A ``before_websocket`` hook may change it.
    max_message_size: int | None

    def __init__(
        self,
        connection: Connection,
        json_loads: Callable[[str | bytes], Any],
        json_dumps: Callable[[Any], str],
        max_message_size: int | None,
    ) -> None:
        super().__init__(connection, 0, json_loads)
        self.json_loads_message = json_loads
        self.json_dumps = json_dumps
        self.max_message_size = max_message_size
        self._channel: WebsocketChannel | None = None
        self._state = _CONNECTING
        self._accepted = False
        #: The subprotocol chosen by :meth:`accept`, if any.
        self.accepted_subprotocol: str | None = None
        #: The close code once the connection is closed (by either side), else ``None``.
        self.close_code: int | None = None
        self.close_reason = ""

    def __repr__(self) -> str:
        return f"<Websocket {self.url!r} [{self._state}]>"

    def bind(self, channel: WebsocketChannel) -> None:
        """Attach the adapter's channel (done once, before the handler runs)."""
        self._channel = channel

    @property
    def channel(self) -> WebsocketChannel:
        """The adapter's channel for this connection."""
        if self._channel is None:
            raise RuntimeError(
                "This websocket has no connection: it was not opened by a server. Test"
                " websocket handlers with app.test_client('asgi').websocket_connect(...)."
            )
        return self._channel

    # -- state -------------------------------------------------------------------------

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered (``Sec-WebSocket-Protocol``), in order."""
        offered: list[str] = []
        for value in self.headers.getlist("sec-websocket-protocol"):
            offered.extend(item.strip() for item in value.split(",") if item.strip())
        return offered

    @property
    def accepted(self) -> bool:
        """True once the handshake was accepted (also if the socket has closed since)."""
        return self._accepted

    @property
    def closed(self) -> bool:
        """True once either side closed the connection (or the handshake was rejected)."""
        return self._state == _CLOSED

    def _gone(self) -> WebSocketDisconnect:
        return WebSocketDisconnect(self.close_code or ABNORMAL_CLOSURE, self.close_reason)

    def _mark_closed(self, code: int, reason: str) -> None:
        self._state = _CLOSED
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    # -- the conversation ----------------------------------------------------------------

    async def accept(
        self,
        *,
        subprotocol: str | None = None,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Accept the handshake, choosing ``subprotocol`` (one of :attr:`subprotocols`)
        and adding ``headers`` to the answer. The first send or receive accepts without
        them; accepting twice does nothing."""
        if self._state == _OPEN:
            return
        if self._state == _CLOSED:
            raise self._gone()
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(
                f"The client did not offer the subprotocol {subprotocol!r}; it offered"
                f" {self.subprotocols!r}."
            )
        await self.channel.accept(subprotocol, _header_list(headers))
        self._state = _OPEN
        self._accepted = True
        self.accepted_subprotocol = subprotocol

    async def receive(self) -> str | bytes:
        """The next message: ``str`` for a text message, ``bytes`` for a binary one.

        Raises :class:`WebSocketDisconnect` once the connection is closed; a message over
        :attr:`max_message_size` closes it with 1009 and raises that.
        """
        if self._state != _OPEN:
            await self.accept()
        try:
            data = await self.channel.receive()
        except WebSocketDisconnect as exc:
            self._mark_closed(exc.code, exc.reason)
            raise
        limit = self.max_message_size
        if limit is not None:
            size = len(data)
            if size > limit or (
                type(data) is str and size * 4 > limit and len(data.encode("utf-8")) > limit
            ):
                reason = f"The message is larger than the limit of {limit} bytes."
                await self.close(MESSAGE_TOO_BIG, reason)
                raise WebSocketDisconnect(MESSAGE_TOO_BIG, reason)
        return data

    async def receive_text(self) -> str:
        """The next message, which must be text (a binary one raises a 400-class error
        that, if not caught, closes the socket with 1003)."""
        data = await self.receive()
        if type(data) is not str:
            raise _UnacceptableMessage(
                "Expected a text message, got a binary one.", UNSUPPORTED_DATA
            )
        return data

    async def receive_bytes(self) -> bytes:
        """The next message, which must be binary (else 1003 as :meth:`receive_text`)."""
        data = await self.receive()
        if isinstance(data, str):
            raise _UnacceptableMessage(
                "Expected a binary message, got a text one.", UNSUPPORTED_DATA
            )
        return data

    async def receive_json(self) -> Any:
        """The next message (text or binary) parsed as JSON with the app's JSON provider.
        Invalid JSON raises a 400-class error that, if not caught, closes with 1007."""
        data = await self.receive()
        return self._parse_json(data)

    def _parse_json(self, data: str | bytes) -> Any:
        try:
            return self.json_loads_message(data)
        except ValueError as exc:
            raise _UnacceptableMessage(
                f"The message is not valid JSON: {exc}", INVALID_PAYLOAD
            ) from None

    async def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send ``data``: a ``str`` as a text message, ``bytes`` as a binary one."""
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        elif not isinstance(data, (str, bytes)):
            raise TypeError(
                f"websocket.send() takes str or bytes, not {type(data).__name__}; use"
                " websocket.send_json() to send it as JSON."
            )
        if self._state != _OPEN:
            await self.accept()
        try:
            await self.channel.send(data)
        except WebSocketDisconnect as exc:
            self._mark_closed(exc.code, exc.reason)
            raise

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        payload: object = data  # a runtime check for untyped callers
        if not isinstance(payload, str):
            raise TypeError(f"send_text() takes a str, not {type(payload).__name__}.")
        await self.send(data)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        payload: object = data  # a runtime check for untyped callers
        if isinstance(payload, str):
            raise TypeError("send_bytes() takes bytes, not str; use send_text() for text.")
        await self.send(data)

    async def send_json(self, data: Any) -> None:
        """Send ``data`` as JSON text, with the app's JSON provider."""
        await self.send(self.json_dumps(data))

    # Quart's API: close() ends the conversation. (Request.close() frees a body's files; a
    # websocket has no body, and its adapter never calls that.)
    async def close(  # type: ignore[override]
        self, code: int = NORMAL_CLOSURE, reason: str = ""
    ) -> None:
        """Close the connection with ``code`` and ``reason`` (at most 123 bytes are
        sent). Before the handshake is accepted this rejects it (servers answer 403).
        Closing a closed connection does nothing."""
        if self._state == _CLOSED:
            return
        reason = _truncate_reason(reason)
        self._mark_closed(code, reason)
        await self.channel.close(code, reason)

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str | bytes]:
        while True:
            try:
                message = await self.receive()
            except WebSocketDisconnect:
                return
            yield message

    async def finish(self, response: Response | None, code: int, reason: str) -> None:
        """How the adapter ends the connection after the handler: reject a handshake
        that was never accepted (with ``response`` when there is one), close an open
        socket with ``code``, leave a closed one alone."""
        if self._state == _CLOSED:
            return
        reason = _truncate_reason(reason)
        if self._state == _CONNECTING and response is not None:
            self._mark_closed(code, reason)
            await self.channel.reject(response, code, reason)
        else:
            await self.close(code, reason)


class SyncWebsocket:
    """``websocket`` in a ``def`` handler (or hook), which runs in a worker thread: the
    :class:`Websocket` API with blocking methods, each a trip to the event loop::

        @app.websocket("/echo")
        def echo():
            for message in websocket:      # ends when the client disconnects
                websocket.send(message)

    Every other attribute (``path``, ``args``, ``headers`` …) is the websocket's own.
    For type checkers, ``typing.cast(SyncWebsocket, websocket)`` in a ``def`` handler.
    """

    __slots__ = ("_call", "_websocket")

    def __init__(self, websocket: Websocket, call_blocking: Callable[..., Any]) -> None:
        self._websocket = websocket
        self._call = call_blocking

    def __getattr__(self, name: str) -> Any:
        return getattr(self._websocket, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SyncWebsocket.__slots__:
            object.__setattr__(self, name, value)
        else:  # websocket.max_message_size = ... in a def hook
            setattr(self._websocket, name, value)

    def __repr__(self) -> str:
        return f"<SyncWebsocket over {self._websocket!r}>"

    def _get_current_object(self) -> SyncWebsocket:
        return self

    def accept(
        self,
        *,
        subprotocol: str | None = None,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """See :meth:`Websocket.accept`."""
        self._call(partial(self._websocket.accept, subprotocol=subprotocol, headers=headers))

    def receive(self) -> str | bytes:
        """See :meth:`Websocket.receive`."""
        data: str | bytes = self._call(self._websocket.receive)
        return data

    def receive_text(self) -> str:
        """See :meth:`Websocket.receive_text`."""
        data: str = self._call(self._websocket.receive_text)
        return data

    def receive_bytes(self) -> bytes:
        """See :meth:`Websocket.receive_bytes`."""
        data: bytes = self._call(self._websocket.receive_bytes)
        return data

    def receive_json(self) -> Any:
        """See :meth:`Websocket.receive_json`."""
        return self._websocket._parse_json(self.receive())

    def send(self, data: str | bytes) -> None:
        """See :meth:`Websocket.send`."""
        self._call(self._websocket.send, data)

    def send_text(self, data: str) -> None:
        """See :meth:`Websocket.send_text`."""
        self._call(self._websocket.send_text, data)

    def send_bytes(self, data: bytes) -> None:
        """See :meth:`Websocket.send_bytes`."""
        self._call(self._websocket.send_bytes, data)

    def send_json(self, data: Any) -> None:
        """See :meth:`Websocket.send_json` (the JSON is made in this thread)."""
        self.send(self._websocket.json_dumps(data))

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """See :meth:`Websocket.close`."""
        self._call(self._websocket.close, code, reason)

    def __iter__(self) -> Iterator[str | bytes]:
        while True:
            try:
                message = self.receive()
            except WebSocketDisconnect:
                return
            yield message


class WebsocketContext(RequestContext):
    """The context of one websocket connection: a request context whose ``request`` is
    the handshake (the same object as ``websocket``), so ``g``, ``session``,
    ``current_app``, ``url_for`` and templates work in handlers and hooks."""

    request: Websocket
    plan: WebsocketPlan

    def __init__(self, app: App, websocket: Websocket) -> None:
        super().__init__(app, websocket)
        self.websocket = websocket
        self._sync: SyncWebsocket | None = None
        self._on_event_loop: Callable[[], bool] | None = None
        #: How to close the socket after the handler: set by :func:`websocket_flow`.
        self.close_code = NORMAL_CLOSURE
        self.close_reason = ""

    def bind(self, channel: WebsocketChannel) -> None:
        """Attach the adapter's channel to the websocket and make the blocking facade."""
        self.websocket.bind(channel)
        self._sync = SyncWebsocket(self.websocket, channel.call_blocking)
        self._on_event_loop = channel.on_event_loop

    def current_websocket(self) -> Websocket | SyncWebsocket:
        """What ``ambi.websocket`` is for the caller: the :class:`Websocket` on the event
        loop, the :class:`SyncWebsocket` in a worker thread."""
        on_loop = self._on_event_loop
        if self._sync is None or on_loop is None or on_loop():
            return self.websocket
        return self._sync


class WebsocketPlan(EndpointPlan):
    """The frozen hook chain of a websocket endpoint: ``before_websocket`` and
    ``after_websocket`` callables in place of the request ones; the rest (URL value
    preprocessors, teardown, error handlers, session interface) as for a request."""

    __slots__ = ("warned_session",)

    def __init__(self, app: App, endpoint: str | None) -> None:
        super().__init__(app, endpoint)
        outer_first = (None, *reversed(self.blueprints))
        inner_first = (*self.blueprints, None)
        self.before = _steps(app.before_websocket_funcs, outer_first)
        self.after = _steps(app.after_websocket_funcs, inner_first, reverse=True)
        self.view_by_method = None
        self.stream_request = False
        # ``@inline`` does not apply: a def handler blocks on its messages, in a thread.
        self.run_inline = False
        steps: tuple[Step, ...] = (
            *self.url_value,
            *self.before,
            *self.after,
            *self.teardown,
            *self.teardown_app,
        )
        if self.view is not None:
            steps = (*steps, self.view)
        self.all_sync = not any(step.is_async for step in steps)
        self.warned_session = False

    def describe(self) -> dict[str, str]:
        """How this websocket endpoint runs (used by ``ambi routes``)."""
        view_async = self.view is not None and self.view.is_async
        if view_async:
            asgi = "event loop (no thread)"
            if not all(step.is_async for step in (*self.url_value, *self.before, *self.after)):
                asgi = "event loop + worker-thread hops for the sync hooks"
        else:
            asgi = "worker thread for the connection (one hop)"
        return {"wsgi": "not served (needs an ASGI server)", "asgi": asgi}


def _close_code_for_status(status: int) -> int:
    if status < 400:
        return NORMAL_CLOSURE
    return POLICY_VIOLATION if status < 500 else INTERNAL_ERROR


def _status_reason(status: int) -> str:
    return f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}"


def _record_error(ctx: WebsocketContext, exc: Exception, response: Response) -> None:
    """Decide the close code of an open socket whose handler failed with ``exc``, which
    became ``response`` (an error handler's, or the HTTP error's own page)."""
    status = response.status_code
    code, reason = _close_code_for_status(status), _status_reason(status)
    if isinstance(exc, HTTPException) and exc.code == status:
        code = getattr(exc, "websocket_close_code", None) or code
        # A client error's own sentence helps the client; a server error says no more.
        description = exc.description
        if status < 500 and description and len(description.encode()) <= _MAX_REASON:
            reason = description
    ctx.close_code, ctx.close_reason = code, reason


def websocket_flow(app: App, ctx: WebsocketContext) -> Flow[Response | None]:
    """Steps 1–5 of the theory of operation. Returns the response that rejects the
    handshake if it is still unaccepted, else ``None``; sets ``ctx.close_code``."""
    plan = ctx.plan
    websocket = ctx.websocket
    response: Response | None = None
    try:
        try:
            rv = yield from before_flow(app, ctx, websocket, started_signal=False)
            if rv is None:
                if websocket.routing_exception is not None:
                    raise websocket.routing_exception
                view = plan.view
                if view is None:
                    raise LookupError(
                        f"No websocket handler is registered for endpoint {plan.endpoint!r};"
                        " register one with @app.websocket(...)."
                    )
                rv = yield (view.func, view.is_async, (), websocket.view_args)
                if type(rv) is CoroutineType:
                    rv = yield _await_call(rv)
            # A value returned once the handshake was accepted has nobody to go to.
            if rv is not None and not websocket.accepted:
                response = app.make_response(rv)
        except WebSocketDisconnect:
            response = None  # the client left: the conversation is over, no error
        except Exception as exc:
            response = yield from _handle_user_exception(app, ctx, exc)
            _record_error(ctx, exc, response)
        response = yield from _after_websocket(ctx, response)
    except WebSocketDisconnect:
        response = None
    except Exception as exc:
        response = yield from _handle_exception(app, ctx, exc)
        # 1011, unless an errorhandler(500) chose a status that says otherwise.
        ctx.close_code = _close_code_for_status(response.status_code)
        ctx.close_reason = _status_reason(response.status_code)
        try:
            response = yield from _after_websocket(ctx, response)
        except Exception:
            app.logger.exception("after_websocket failed while handling an error")
    _warn_unsaved_session(app, ctx)
    return response


def _after_websocket(ctx: WebsocketContext, response: Response | None) -> Flow[Response | None]:
    for step in ctx.plan.after:
        rv: Any = yield _call(step, response)
        if type(rv) is CoroutineType:
            rv = yield _await_call(rv)
        response = rv
    return response


def _warn_unsaved_session(app: App, ctx: WebsocketContext) -> None:
    session = ctx._session
    plan = ctx.plan
    if session is None or plan.warned_session or not getattr(session, "modified", False):
        return
    plan.warned_session = True
    app.logger.warning(
        "The session was modified in the websocket handler %r; the change is lost: a"
        " websocket has no response to set the session cookie on. Change the session"
        " in an HTTP view instead. (Logged once per endpoint.)",
        plan.endpoint,
    )
