"""The only place where sync meets async: the two drivers of the pipeline.

A driver takes a pipeline generator (``_pipeline.py``), runs each callable it yields, and
sends back the result (or throws back the exception).

* :func:`drive_sync` is the WSGI side. A ``def`` callable is called directly: no event
  loop is touched. At the first ``async def`` callable it enters the calling thread's
  *persistent* event loop once (:func:`thread_event_loop`) and finishes the whole request
  there, so an async client or pool created by one request is still usable by the next
  request on that thread, and a request costs at most one loop entry.
* :func:`drive_async` is the ASGI side. An ``async def`` callable is awaited directly: no
  thread is touched. A ``def`` callable is run in an anyio worker thread together with
  every following sync step up to the next async one ("a sync stretch"), so a route whose
  hooks and view are all sync costs exactly one thread hop.

Every adaptation is counted in :data:`adaptations` so tests can assert "exactly one hop"
or "no loop" instead of timing anything.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

from ._pipeline import Call, Flow

__all__ = [
    "AdaptationCounter",
    "adaptations",
    "drive_async",
    "drive_sync",
    "keep_thread_event_loop",
    "run_coroutine_sync",
    "thread_event_loop",
]

T = TypeVar("T")


class AdaptationCounter:
    """Counts the adaptations the drivers made: worker-thread hops and loop entries.

    The counts are process-wide and exact when requests do not run concurrently, which is
    how the tests use them.
    """

    __slots__ = ("loop_entries", "loops_created", "thread_hops")

    def __init__(self) -> None:
        self.thread_hops = 0
        self.loop_entries = 0
        self.loops_created = 0

    def snapshot(self) -> tuple[int, int, int]:
        """``(thread_hops, loop_entries, loops_created)`` now."""
        return (self.thread_hops, self.loop_entries, self.loops_created)


adaptations = AdaptationCounter()


class _ThreadLoop:
    """Owns one thread's loop; closes it when the thread ends (or at exit)."""

    __slots__ = ("__weakref__", "loop")

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        _live_loops.add(self)

    def close(self) -> None:
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def __del__(self) -> None:
        self.close()


_thread_state = threading.local()
_live_loops: weakref.WeakSet[_ThreadLoop] = weakref.WeakSet()


@atexit.register
def _close_thread_loops() -> None:
    for holder in list(_live_loops):
        holder.close()


def thread_event_loop() -> asyncio.AbstractEventLoop:
    """The calling thread's persistent event loop, created on first use.

    One per WSGI worker thread, reused by every request on that thread; never a new
    loop per request (``asyncio.run`` would close clients and pools between requests).
    It is closed when its thread ends.
    """
    holder: _ThreadLoop | None = getattr(_thread_state, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _ThreadLoop()
        _thread_state.holder = holder
        adaptations.loops_created += 1
    return holder.loop


def keep_thread_event_loop() -> asyncio.AbstractEventLoop:
    """The calling thread's persistent loop, kept open after the thread ends (until
    exit), so that what was opened on it (lifespan startup under WSGI) can be closed on
    it later, from another thread (:func:`drive_sync` with ``loop``)."""
    loop = thread_event_loop()
    _kept_loops.add(_thread_state.holder)
    return loop


_kept_loops: set[_ThreadLoop] = set()


def _no_running_loop(
    what: str, advice: str, closing: Generator[Any, Any, Any] | Coroutine[Any, Any, Any]
) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    closing.close()
    raise RuntimeError(f"{what} from inside a running event loop. {advice}")


def _run_on_thread_loop(
    flow: Flow[T], call: Call, loop: asyncio.AbstractEventLoop | None = None
) -> T:
    _no_running_loop(
        "An async def callable was reached while Ambi was called as a WSGI app",
        "Serve the app through its ASGI interface there (await app(scope, receive, send)),"
        " or call the WSGI app from a worker thread.",
        flow,
    )
    adaptations.loop_entries += 1
    return (loop or thread_event_loop()).run_until_complete(
        _drive_on_loop(flow, call, None, run_sync_inline=True)
    )


def run_coroutine_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on the calling thread's persistent loop (the one
    ``async def`` views use under WSGI on this thread). Not from inside a running loop."""
    _no_running_loop(
        "An async def function was called through a sync wrapper (ensure_sync, or an"
        " async def teardown_appcontext at the end of an app context)",
        "Await it instead.",
        coroutine,
    )
    adaptations.loop_entries += 1
    return thread_event_loop().run_until_complete(coroutine)


def _call_sync(call: Call) -> tuple[Any, Exception | None]:
    """Run a sync callable: ``(result, None)`` or ``(None, the exception)``."""
    func, _, args, kwargs = call
    try:
        return (func(*args, **kwargs) if kwargs else func(*args)), None
    except Exception as exc:
        return None, exc


def _advance(flow: Flow[T], value: Any, error: Exception | None) -> tuple[bool, Any]:
    """Send a call's outcome into the flow: ``(True, result)`` when the flow finished,
    else ``(False, the next call)``."""
    try:
        return False, (flow.throw(error) if error is not None else flow.send(value))
    except StopIteration as stop:
        return True, stop.value


def drive_sync(flow: Flow[T], loop: asyncio.AbstractEventLoop | None = None) -> T:
    """Run ``flow`` on the calling thread (WSGI): sync callables directly, and at the
    first async callable, the rest of the flow on this thread's persistent loop (or on
    ``loop``, another thread's idle loop: lifespan shutdown at exit finishes there what
    startup began)."""
    finished, outcome = _advance(flow, None, None)
    while not finished:
        if outcome[1]:  # async: finish the whole flow on the thread's loop
            return _run_on_thread_loop(flow, outcome, loop)
        finished, outcome = _advance(flow, *_call_sync(outcome))
    result: T = outcome
    return result


def _run_sync_stretch(flow: Flow[T], call: Call) -> tuple[bool, Any]:
    """In a worker thread: run ``call`` and every following sync call.

    Returns ``(True, result)`` when the flow finished, or ``(False, next_async_call)``.
    """
    while not call[1]:
        finished, outcome = _advance(flow, *_call_sync(call))
        if finished:
            return True, outcome
        call = outcome
    return False, call


#: ``watch(seconds, func)``: told how long one step of a callable held the event loop.
LoopWatch = Callable[[float, Callable[..., Any]], None]


class _Watched:
    """Awaits a coroutine and times each of its steps on the loop (from one ``await``
    that suspends to the next): a step longer than the threshold held the loop that long.

    Only used when the blocked-loop warning is on (a debug option); it is not free.
    """

    __slots__ = ("coroutine", "func", "watch")

    def __init__(
        self, coroutine: Coroutine[Any, Any, Any], func: Callable[..., Any], watch: LoopWatch
    ) -> None:
        self.coroutine = coroutine
        self.func = func
        self.watch = watch

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, longest = self.coroutine, 0.0
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                start = time.perf_counter()
                try:
                    if error is not None:
                        yielded = coroutine.throw(error)
                    else:
                        yielded = coroutine.send(value)
                except StopIteration as stop:
                    return stop.value
                finally:
                    longest = max(longest, time.perf_counter() - start)
                try:
                    value, error = (yield yielded), None
                except BaseException as exc:  # cancellation and friends go to the coroutine
                    value, error = None, exc
        finally:
            self.watch(longest, self.func)


def _call_watched(call: Call, watch: LoopWatch) -> tuple[Any, Exception | None]:
    start = time.perf_counter()
    try:
        return _call_sync(call)
    finally:
        watch(time.perf_counter() - start, call[0])


async def _drive_on_loop(
    flow: Flow[T],
    call: Call | None,
    before_async: Callable[[], Awaitable[None]] | None,
    *,
    run_sync_inline: bool,
    limiter: CapacityLimiter | None = None,
    watch: LoopWatch | None = None,
) -> T:
    if call is None:
        finished, outcome = _advance(flow, None, None)
    else:
        finished, outcome = False, call
    while not finished:
        func, is_async, args, kwargs = outcome
        if is_async:
            try:
                if before_async is not None:
                    await before_async()
                    before_async = None
                coroutine = func(*args, **kwargs) if kwargs else func(*args)
                if watch is not None:
                    coroutine = _Watched(coroutine, func, watch)
                value = await coroutine
            except Exception as exc:
                finished, outcome = _advance(flow, None, exc)
            else:
                finished, outcome = _advance(flow, value, None)
        elif run_sync_inline:
            if watch is not None:
                finished, outcome = _advance(flow, *_call_watched(outcome, watch))
            else:
                finished, outcome = _advance(flow, *_call_sync(outcome))
        else:
            adaptations.thread_hops += 1
            finished, outcome = await anyio.to_thread.run_sync(
                _run_sync_stretch, flow, outcome, limiter=limiter
            )
    result: T = outcome
    return result


async def drive_async(
    flow: Flow[T],
    before_async: Callable[[], Awaitable[None]] | None = None,
    limiter: CapacityLimiter | None = None,
    *,
    run_sync_inline: bool = False,
    watch: LoopWatch | None = None,
) -> T:
    """Run ``flow`` on the event loop (ASGI).

    ``before_async`` is awaited once before the first async callable (the ASGI adapter
    reads the request body in there, so the blocking body API works in async views).
    ``limiter`` bounds the worker threads used for sync stretches; ``run_sync_inline``
    runs sync callables on the loop instead (for views marked as never blocking).
    ``watch``, if given, is told how long each callable held the loop at most.
    """
    return await _drive_on_loop(
        flow, None, before_async, run_sync_inline=run_sync_inline, limiter=limiter, watch=watch
    )
