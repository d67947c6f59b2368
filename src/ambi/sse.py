"""Server-sent events: :class:`EventStream` and :func:`sse` turn a generator into a
``text/event-stream`` response, with keep-alive pings, under WSGI and ASGI alike.

The wire format (:class:`~ambi.ServerSentEvent`, the encoding) is pure and lives in the
core (``_sse_format.py``). This module is an adapter: pings need a clock, and a quiet
generator cannot be asked whether it is about to yield, so it is pulled from somewhere
else while the server side waits for it with a timeout, sending ``: ping`` each time the
wait runs out:

* a sync generator under WSGI runs in a helper thread (no event loop: it is ``def``
  code), handing each chunk to the server thread through a one-slot channel;
* an async generator, under either server, runs in a task of its own (on the ASGI
  server's loop, or under WSGI on the worker thread's persistent loop, entered by the
  WSGI adapter as for any async body);
* a sync generator under ASGI is stepped in worker threads exactly as the ASGI adapter
  steps any sync body, from a task of its own.

The generator gets at most two chunks ahead of the server (one waiting to be taken, one
waiting to be handed over), then waits. Closing the body (the server does so when the
client goes away) stops the generator and waits for it: a sync generator finishes its
current step, then is closed (``GeneratorExit`` at its ``yield``); an async generator is
cancelled where it waits, or closed at its ``yield``. Its ``finally`` runs before the
request's teardown. The request context (``request``, ``g``, ``session``) is visible
inside the generator on every path.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import anyio

from ._sse_format import PING, ServerSentEvent, encode_event
from .asgi import _iterate_in_threads
from .wrappers import Response

if TYPE_CHECKING:
    from .types import HeadersValue, StatusValue

__all__ = ["EventStream", "ServerSentEvent", "sse"]

#: What ``EventStream`` accepts: a sync or async iterable of events.
Events = Iterable[Any] | AsyncIterable[Any]
_CONTENT_TYPE = "text/event-stream; charset=utf-8"
_DEFAULT: Any = object()


class EventStream(Response):
    """A ``text/event-stream`` response fed by a sync or async generator.

    Each value the generator yields is one event: a ``str`` is sent as ``data:`` lines, a
    :class:`~ambi.ServerSentEvent` with its fields, and any other value (``dict``,
    ``list``, …) JSON-encoded with the app's JSON provider as the event's data. ``None``
    sends nothing: a sync generator waiting with a timeout yields it when the wait runs
    out, so that it can be stopped there if the client has gone::

        @app.get("/prices")
        async def prices():
            async def events():
                while True:
                    yield ServerSentEvent(await next_price(), event="price")
            return EventStream(events())

    ``ping_interval`` (seconds, default :attr:`default_ping_interval`) sends a ``: ping``
    comment whenever the generator has been quiet that long, so proxies and browsers
    keep the connection open; ``None`` sends none. The headers say
    ``Cache-Control: no-cache`` and ``X-Accel-Buffering: no`` (nginx then passes each
    event on at once), and there is no ``Content-Length``.

    The request context stays available inside the generator, and when the client goes
    away the generator is closed (its ``finally`` runs) before the request's teardown.
    """

    default_mimetype: ClassVar[str | None] = "text/event-stream"
    #: The ping interval used when none is given, in seconds (``None``: no pings).
    default_ping_interval: ClassVar[float | None] = 15.0

    def __init__(
        self,
        events: Events,
        status: StatusValue | None = None,
        headers: HeadersValue | None = None,
        *,
        ping_interval: float | None = _DEFAULT,
    ) -> None:
        if ping_interval is _DEFAULT:
            ping_interval = self.default_ping_interval
        if ping_interval is not None and (
            isinstance(ping_interval, bool)
            or not isinstance(ping_interval, (int, float))
            or not 0 < ping_interval < float("inf")
        ):
            raise ValueError(
                f"ping_interval must be a positive number of seconds or None,"
                f" not {ping_interval!r}."
            )
        #: Seconds of silence after which a ``: ping`` comment is sent (``None``: never).
        self.ping_interval = ping_interval
        body: Any
        if hasattr(events, "__aiter__"):
            chunks = _EncodedAsyncEvents(events)  # type: ignore[arg-type]
            body = chunks if ping_interval is None else _AsyncPinger(chunks, ping_interval)
        elif isinstance(events, Iterable) and not isinstance(events, (str, bytes, bytearray, dict)):
            sync_chunks = _EncodedEvents(events)
            body = (
                sync_chunks if ping_interval is None else _SyncEventBody(sync_chunks, ping_interval)
            )
        else:
            raise TypeError(
                "EventStream needs a generator or async generator of events (or another"
                f" iterable of them), not {type(events).__name__}."
            )
        super().__init__(body, status, headers, content_type=_CONTENT_TYPE)
        self.headers.remove("Content-Length")
        self.headers.setdefault("Cache-Control", "no-cache")
        self.headers.setdefault("X-Accel-Buffering", "no")


def sse(
    events: Events,
    status: StatusValue | None = None,
    headers: HeadersValue | None = None,
    *,
    ping_interval: float | None = _DEFAULT,
) -> EventStream:
    """Return ``events`` (a generator or async generator) as a server-sent events
    response: the same as :class:`EventStream`, as a function to return from a view::

        @app.get("/ticks")
        def ticks():
            def events():
                for number in range(10):
                    yield {"tick": number}
                    time.sleep(1)
            return sse(events(), ping_interval=5)
    """
    return EventStream(events, status, headers, ping_interval=ping_interval)


# -- the user's events as bytes -----------------------------------------------------------


class _EncodedEvents:
    """The user's sync events as bytes. Closing it closes the user's iterator, whether it
    was started or not (a server closes a body it never iterated, for ``HEAD``)."""

    __slots__ = ("_events",)

    def __init__(self, events: Iterable[Any]) -> None:
        self._events = iter(events)

    def __iter__(self) -> _EncodedEvents:
        return self

    def __next__(self) -> bytes:
        return encode_event(next(self._events))

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()


class _EncodedAsyncEvents:
    """The user's async events as bytes; ``aclose()`` closes the user's iterator."""

    __slots__ = ("_events",)

    def __init__(self, events: AsyncIterable[Any]) -> None:
        self._events = events.__aiter__()

    def __aiter__(self) -> _EncodedAsyncEvents:
        return self

    async def __anext__(self) -> bytes:
        return encode_event(await self._events.__anext__())

    async def aclose(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()


# -- the end-of-stream and error markers passed from producer to consumer -------------------


class _Failure:
    """The producer finished: the generator raised ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


#: The producer finished: the generator is exhausted.
_END: Any = object()
#: Nothing came within the ping interval.
_NOTHING: Any = object()


def _chunk_or_end(body: Any, item: Any, end: type[Exception]) -> bytes:
    """What a producer handed over: a chunk to send, or the end (an error it raised, or
    ``end``), after which ``body`` is finished."""
    if isinstance(item, bytes):
        return item
    body._finished = True
    if isinstance(item, _Failure):
        raise item.error
    raise end


# -- a sync generator: a helper thread under WSGI, worker threads under ASGI ---------------


class _OneSlotChannel:
    """Hands chunks from a producer thread to the server thread, one at a time.

    ``put`` blocks while the slot is full and returns ``False`` once the consumer has
    closed the channel; ``get`` waits at most ``timeout`` seconds.
    """

    __slots__ = ("_changed", "_closed", "_slot")

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._slot: list[Any] = []
        self._closed = False

    def put(self, item: Any) -> bool:
        with self._changed:
            while self._slot and not self._closed:
                self._changed.wait()
            if self._closed:
                return False
            self._slot.append(item)
            self._changed.notify_all()
            return True

    def get(self, timeout: float) -> Any:
        with self._changed:
            if not self._changed.wait_for(lambda: self._slot, timeout):
                return _NOTHING
            item = self._slot.pop()
            self._changed.notify_all()
            return item

    def is_open(self) -> bool:
        with self._changed:
            return not self._closed

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()


class _SyncEventBody:
    """The body for a sync generator with pings: iterated natively by either adapter.

    WSGI iterates it (``__iter__``): the generator runs in a helper thread, in a copy of
    the request's context, and the server thread waits for each chunk with a timeout.
    ASGI iterates it asynchronously (``__aiter__``): the ASGI adapter's own worker-thread
    stepping runs in an :class:`_AsyncPinger` task.
    """

    def __init__(self, chunks: _EncodedEvents, interval: float) -> None:
        self._chunks = chunks
        self._interval = interval
        self._channel: _OneSlotChannel | None = None
        self._producer: threading.Thread | None = None
        self._finished = False
        self._async: _AsyncPinger | None = None

    # The WSGI face.

    def __iter__(self) -> _SyncEventBody:
        return self

    def __next__(self) -> bytes:
        if self._finished:
            raise StopIteration
        channel = self._channel
        if channel is None:
            channel = self._channel = _OneSlotChannel()
            # A copy: the server thread stays in the request's context while it waits.
            context = contextvars.copy_context()
            self._producer = threading.Thread(
                target=context.run,
                args=(self._produce, channel),
                name="ambi-sse-generator",
                daemon=True,
            )
            self._producer.start()
        item = channel.get(self._interval)
        if item is _NOTHING:
            return PING
        return _chunk_or_end(self, item, StopIteration)

    def _produce(self, channel: _OneSlotChannel) -> None:
        outcome: Any = _END
        try:
            for chunk in self._chunks:
                if chunk:
                    delivered = channel.put(chunk)
                else:  # ``yield None``: nothing to send, but a point where it can stop
                    delivered = channel.is_open()
                if not delivered:
                    return  # the server closed the body: ``finally`` closes the generator
        except BaseException as exc:
            outcome = _Failure(exc)
        finally:
            self._chunks.close()
        channel.put(outcome)

    def close(self) -> None:
        """Stop the generator (after its current step) and wait until it is closed."""
        if self._channel is None:
            self._chunks.close()
            return
        self._channel.close()
        assert self._producer is not None
        self._producer.join()

    # The ASGI face.

    def __aiter__(self) -> _AsyncPinger:
        self._async = _AsyncPinger(_iterate_in_threads(self._chunks), self._interval, threaded=True)
        return self._async

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
        else:
            self._chunks.close()


# -- an async generator (or the ASGI adapter's threaded stepping of a sync one) ------------


class _AsyncPinger:
    """Pulls an async chunk source from a task of its own and pings when it is quiet.

    The task lives as long as the source, so the source runs in one task from its first
    step to its last (a cancel scope or timeout held across its ``yield`` stays valid),
    even under WSGI, where the adapter enters the loop once per chunk.

    Stopping it: a user's async generator is cancelled once, natively, where it waits, so
    its ``finally`` may still await (``await pubsub.unsubscribe()``); the ASGI adapter's
    worker-thread stepping of a sync generator (``threaded``) is stopped with an anyio
    cancel scope instead, which lets the step running in the thread finish rather than
    abandon it there while the generator is closed from another thread.
    """

    def __init__(
        self,
        chunks: _EncodedAsyncEvents | AsyncGenerator[bytes, None],
        interval: float,
        *,
        threaded: bool = False,
    ) -> None:
        self._chunks = chunks
        self._interval = interval
        self._threaded = threaded
        self._queue: asyncio.Queue[Any] | None = None
        self._scope: anyio.CancelScope | None = None
        self._producer: asyncio.Task[None] | None = None
        self._finished = False

    def __aiter__(self) -> _AsyncPinger:
        return self

    async def __anext__(self) -> bytes:
        if self._finished:
            raise StopAsyncIteration
        queue = self._queue
        if queue is None:
            queue = self._queue = asyncio.Queue(1)
            self._scope = anyio.CancelScope()  # made here: anyio needs a running loop
            # Not a task group: the iteration may hop between tasks (WSGI runs each
            # chunk's step in a new one), and the producer must outlive each step.
            self._producer = asyncio.get_running_loop().create_task(self._produce(queue))
        item: Any = _NOTHING
        with anyio.move_on_after(self._interval):
            item = await queue.get()
        if item is _NOTHING:
            assert self._producer is not None
            if self._producer.done() and queue.empty():
                # Cancelled from outside (the loop shutting down): nothing more will come.
                self._finished = True
                raise RuntimeError("The server-sent events generator's task was cancelled.")
            return PING
        return _chunk_or_end(self, item, StopAsyncIteration)

    async def _produce(self, queue: asyncio.Queue[Any]) -> None:
        assert self._scope is not None
        with self._scope:
            outcome: Any = _END
            try:
                async for chunk in self._chunks:
                    if chunk:  # ``yield None`` sends nothing
                        await queue.put(chunk)
            except Exception as exc:
                outcome = _Failure(exc)
            finally:
                with anyio.CancelScope(shield=True):
                    await self._chunks.aclose()
            await queue.put(outcome)

    async def aclose(self) -> None:
        """Stop the source (cancelled where it waits, or closed at its ``yield``) and
        wait until it is closed."""
        producer = self._producer
        if producer is None:
            await self._chunks.aclose()
            return
        if self._threaded:
            assert self._scope is not None
            self._scope.cancel()
        else:
            producer.cancel()
        await asyncio.wait([producer])
