"""Cancel a request's ``async def`` work when its client disconnects (the ASGI side).

ASGI tells an app that its client went away only through ``receive()``: once the request
body has been read, the next ``receive()`` returns ``http.disconnect`` when (and only when)
the client disconnects. Nothing calls it while a view runs, so without a watcher an
``async def`` view awaiting something long (a slow query, ``asyncio.sleep``, an event)
keeps running for nobody. This module watches such requests and cancels their task, as
Quart and Django do: the view's ``finally`` blocks run, the adapter swallows the
cancellation, runs the teardown hooks (with :class:`~ambi.exceptions.ClientDisconnected`)
and sends nothing. ``CANCEL_ON_DISCONNECT = False`` turns it off.

PERF (callgrind, the plaintext and JSON requests of benchmarks/inprocess.py on the
``async def`` app through ASGI): watching every request from its start would cost a task
per request (~10 µs, more than half of a whole plaintext request), and even an anyio
cancel scope costs ~5 µs in a fresh task. Instead a request is only *registered* when its
first ``async def`` callable is about to run (a dict entry, added and removed, and the
current task: about 3,000 instructions in all, 2.3 % of a plaintext request and 2.0 % of
a JSON one; nothing at all for routes whose hooks and view are all ``def``). One timer
per event loop, armed while requests are registered, ticks every :data:`TICK` seconds: a
request registered at two ticks in a row gets a watch. A request that finishes quickly
pays for the registration only; a slow one is watched from ``TICK``–``2 × TICK`` after it
started, and cancelled at once if its client already left, or as soon as it leaves.

The cancellation is asyncio's (``task.cancel()`` on the request's task), never delivered
while the task waits for a worker thread of one of the thread limiters the requests use
(a ``def`` hook or view of the request, or the view's own ``anyio.to_thread.run_sync``):
that thread can neither be stopped nor abandoned while it runs the request's pipeline.
The cancellation is then retried every tick and lands at the first ``await`` after the
thread returned; the thread goes back to its pool as usual.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import TYPE_CHECKING

import anyio.to_thread
from anyio import CapacityLimiter

from ._drivers import LoopRegistry, _current_task

if TYPE_CHECKING:
    from .asgi import ASGIConnection

__all__ = [
    "TICK",
    "DisconnectMonitor",
    "DisconnectWatch",
    "disconnect_monitors",
    "note_limiter",
    "register",
]

#: Seconds between the monitor's ticks: a request running for longer than one to two
#: ticks is watched for a disconnect.
TICK = 0.2


class DisconnectWatch:
    """A slow request's watch: when its connection's receiver (the one task per request
    that calls ``receive()`` once the body is in, shared with a streamed response's
    watcher: ``ASGIConnection.disconnect_receiver``) sees the disconnect, cancel the
    request's task."""

    __slots__ = ("cancelled", "disconnected", "monitor", "receiver", "retry", "stopped", "task")

    def __init__(
        self, monitor: DisconnectMonitor, connection: ASGIConnection, task: asyncio.Task[object]
    ) -> None:
        self.monitor = monitor
        self.task = task
        #: The client disconnected (the receiver got ``http.disconnect``).
        self.disconnected = False
        #: This watch cancelled the request's task.
        self.cancelled = False
        #: The request's callables are done: hands off its task.
        self.stopped = False
        self.retry: asyncio.TimerHandle | None = None
        self.receiver = connection.disconnect_receiver()
        self.receiver.add_done_callback(self._received)

    def _received(self, receiver: asyncio.Task[bool]) -> None:
        if self.stopped or receiver.cancelled() or not receiver.result():
            return  # too late, or a server whose receive() failed: nothing to act on
        self.disconnected = True
        self._cancel_when_possible()

    def _cancel_when_possible(self) -> None:
        """Cancel the request's task, unless it waits for a worker thread: then try
        again a tick later (a thread limiter signals no release anyone could wait for)."""
        self.retry = None
        if self.stopped or self.cancelled:
            return
        task = self.task
        for limiter in self.monitor.limiters:
            if task in limiter.statistics().borrowers:
                self.retry = self.monitor.loop.call_later(
                    TICK, self._cancel_when_possible, context=contextvars.Context()
                )
                return
        self.cancelled = True
        task.cancel()

    def _stop(self) -> None:
        """In the request's task: no cancellation from now on; take back this one's."""
        self.stopped = True
        self.receiver.remove_done_callback(self._received)
        if self.retry is not None:
            self.retry.cancel()
        receiver = self.receiver
        if receiver.done() and not receiver.cancelled() and receiver.result():
            self.disconnected = True  # received, its callback not run yet
        if self.cancelled:
            self.task.uncancel()


class DisconnectMonitor:
    """The requests of one event loop whose body was read and whose async callables
    run: :func:`register` one in its task, :meth:`release` it in the same task."""

    __slots__ = ("limiters", "loop", "requests", "seen", "timer", "watches")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        #: Registered requests: connection → the task running it.
        self.requests: dict[ASGIConnection, asyncio.Task[object]] = {}
        #: The watched ones among them.
        self.watches: dict[ASGIConnection, DisconnectWatch] = {}
        #: Registered at the last tick.
        self.seen: set[ASGIConnection] = set()
        #: The thread limiters of the requests' ``def`` callables (anyio's default one
        #: and those :func:`note_limiter` was told about).
        self.limiters: set[CapacityLimiter] = set()
        self.timer: asyncio.TimerHandle | None = None

    def release(self, connection: ASGIConnection) -> DisconnectWatch | None:
        """Stop watching the request (its callables are done, or were cancelled); take
        back the watch's cancellation of the task. The watch, if it was watched.

        PERF: the ASGI adapter inlines the common case: ``del monitor.requests[connection]``,
        then, only if ``monitor.watches``, :meth:`stop_watch`.
        """
        del self.requests[connection]
        return self.stop_watch(connection) if self.watches else None

    def stop_watch(self, connection: ASGIConnection) -> DisconnectWatch | None:
        """The second half of :meth:`release`: stop the request's watch, if any."""
        watch = self.watches.pop(connection, None)
        if watch is not None:
            watch._stop()
        return watch

    def _arm(self) -> None:
        # The timer runs in a fresh, empty context too.
        self.timer = self.loop.call_later(TICK, self._tick, context=contextvars.Context())

    def _tick(self) -> None:
        self.timer = None
        requests, watches = self.requests, self.watches
        for connection in self.seen:
            task = requests.get(connection)
            if task is not None and connection not in watches:
                watches[connection] = DisconnectWatch(self, connection, task)
        self.seen = set(requests)
        if requests:
            self._arm()


def _new_monitor(loop: asyncio.AbstractEventLoop) -> DisconnectMonitor:
    monitor = DisconnectMonitor(loop)
    monitor.limiters.add(anyio.to_thread.current_default_thread_limiter())
    return monitor


#: The monitors by loop.
_monitors: LoopRegistry[DisconnectMonitor] = LoopRegistry(_new_monitor)


def register(connection: ASGIConnection) -> None:
    """Watch the current task's request from the next tick but one, with the running
    loop's monitor, which becomes ``connection._monitor``: release the request there
    (:meth:`DisconnectMonitor.release`), in the same task."""
    loop = asyncio.get_running_loop()
    monitor = _monitors.last
    if monitor is None or monitor.loop is not loop:
        monitor = _monitors.of(loop)
    monitor.requests[connection] = _current_task(loop)
    connection._monitor = monitor
    if monitor.timer is None:
        monitor._arm()


def note_limiter(limiter: CapacityLimiter) -> None:
    """Tell the running loop's monitor about a thread limiter its requests use for their
    ``def`` callables (anyio's default one it knows)."""
    _monitors.of(asyncio.get_running_loop()).limiters.add(limiter)


def disconnect_monitors() -> list[DisconnectMonitor]:
    """The monitors of the event loops not closed yet (for tests and debugging)."""
    return _monitors.values()
