"""The only place where sync meets async: the two drivers of the pipeline.

A driver takes a pipeline generator (``_pipeline.py``), runs each callable it yields, and
sends back the result (or throws back the exception).

* :func:`drive_sync` is the WSGI side. A ``def`` callable is called directly: no event
  loop is touched. At the first ``async def`` callable it enters the calling thread's
  *persistent* event loop once (:func:`thread_event_loop`) and finishes the whole request
  there, so an async client or pool created by one request is still usable by the next
  request on that thread, and a request costs at most one loop entry.
* :func:`drive_async` is the ASGI side. An ``async def`` callable is awaited directly: no
  thread is touched. A ``def`` callable is run in a worker thread (:func:`_run_in_worker`:
  anyio-compatible, cheaper than ``anyio.to_thread``) together with
  every following sync step up to the next async one ("a sync stretch"), so a route whose
  hooks and view are all sync costs exactly one thread hop.

Every adaptation is counted in :data:`adaptations` so tests can assert "exactly one hop"
or "no loop" instead of timing anything.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import queue
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from contextlib import AbstractContextManager
from typing import Any, Generic, Protocol, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter, WouldBlock

from ._pipeline import Call, Flow

__all__ = [
    "AdaptationCounter",
    "adaptations",
    "drive_async",
    "drive_sync",
    "keep_thread_event_loop",
    "run_coroutine_sync",
    "run_sync_start",
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
    return (loop or thread_event_loop()).run_until_complete(drive_on_loop(flow, call, None, True))


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


def run_sync_start(flow: Flow[T]) -> tuple[bool, Any]:
    """Start ``flow`` and run its sync calls up to its first async one (in a worker
    thread, or on the loop for a view that never blocks): ``(True, result)`` when it
    finished, else ``(False, the async call)`` for :func:`drive_on_loop` to go on with."""
    finished, outcome = _advance(flow, None, None)
    if finished or outcome[1]:
        return finished, outcome
    return _run_sync_stretch(flow, outcome)


# -- the worker-thread hop (ASGI + def) ----------------------------------------------------
#
# PERF (callgrind, benchmarks/inprocess.py, plaintext on the def app through ASGI): a hop
# through anyio.to_thread.run_sync costs about 245,000 instructions (two loop
# checkpoints, a cancel scope, a threading.Queue and its conditions, the worker's
# bookkeeping); this one about 70,000: the request's limiter token taken without a
# checkpoint, a persistent worker thread per event loop fed through a SimpleQueue, and
# the result handed back with loop.call_soon_threadsafe. The semantics kept: the
# SYNC_VIEW_THREADS limiter (the request's task is its borrower, which _disconnect.py
# inspects), the task's contextvars copied into the thread, anyio.from_thread usable in
# the thread, and the task never leaves while its thread still runs the pipeline: a
# cancellation (asyncio's or an anyio cancel scope's) waits for the thread, then raises.

_current_task: Callable[[asyncio.AbstractEventLoop], Any]
if sys.version_info < (3, 12):
    # PERF: 3.11's asyncio.current_task is Python code around this dict's get: 900 more
    # instructions per call (callgrind); 3.12 made it C. (_disconnect.py uses it too.)
    from asyncio.tasks import _current_tasks  # type: ignore[attr-defined]

    _current_task = _current_tasks.get
else:  # pragma: no cover - 3.12+ (CI measures coverage on 3.11)
    _current_task = asyncio.current_task

#: Seconds a worker thread waits idle before it ends (anyio's worker threads: 10).
_IDLE_SECONDS = 10.0
#: How often an idle worker checks whether its loop was closed.
_IDLE_POLL = 1.0


def _anyio_worker_claim() -> Callable[[asyncio.AbstractEventLoop], AbstractContextManager[Any]]:
    """What makes a thread one of anyio's worker threads for ``loop`` (so that
    ``anyio.from_thread.run`` finds its loop), or raises ImportError/AttributeError."""
    from anyio._backends._asyncio import AsyncIOBackend
    from anyio._core._eventloop import claim_worker_thread, threadlocals

    def claim(loop: asyncio.AbstractEventLoop) -> AbstractContextManager[Any]:
        # from_thread.check_cancelled() reads it; the host task's scope is not known.
        threadlocals.current_cancel_scope = None
        return claim_worker_thread(AsyncIOBackend, loop)

    return claim


try:
    _claim_worker_thread: (
        Callable[[asyncio.AbstractEventLoop], AbstractContextManager[Any]] | None
    ) = _anyio_worker_claim()
except (ImportError, AttributeError):  # pragma: no cover - another anyio: its own hop
    _claim_worker_thread = None


class _Job:
    """One hop: the thread runs ``func(*args)`` in ``context`` and reports to the loop."""

    __slots__ = ("args", "context", "done", "func", "future", "worker")

    def __init__(
        self,
        worker: _Worker,
        future: asyncio.Future[Any],
        func: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        self.worker = worker
        self.future = future
        self.func = func
        self.args = args
        self.context = contextvars.copy_context()
        self.done = False


def _report(job: _Job, result: Any, error: BaseException | None) -> None:
    """On the loop: the job's thread is done; it is idle again."""
    job.done = True
    worker = job.worker
    worker.idle_since = worker.pool.loop.time()
    worker.pool.idle.append(worker)
    future = job.future
    if not future.done():
        if error is None:
            future.set_result(result)
        else:
            if isinstance(error, StopIteration):  # a future refuses it (as anyio does)
                error = RuntimeError("a worker-thread callable raised StopIteration")
            future.set_exception(error)


class _Worker:
    """A daemon thread running the jobs of one event loop's requests, one at a time."""

    __slots__ = ("idle_since", "jobs", "pool")

    def __init__(self, pool: _WorkerPool) -> None:
        self.pool = pool
        self.idle_since = 0.0
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="ambi worker thread", daemon=True).start()

    def _run(self) -> None:
        loop = self.pool.loop
        assert _claim_worker_thread is not None
        with _claim_worker_thread(loop):
            self._serve(loop)

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs, report = self.jobs, loop.call_soon_threadsafe
        while True:
            try:
                job = jobs.get(timeout=_IDLE_POLL)
            except queue.Empty:
                if loop.is_closed():
                    return
                if loop.time() - self.idle_since >= _IDLE_SECONDS:
                    try:
                        report(self.pool.retire, self)
                    except RuntimeError:  # closed meanwhile
                        return
                continue
            if job is None:
                return
            try:
                result, error = job.context.run(job.func, *job.args), None
            except BaseException as exc:
                result, error = None, exc
            try:
                report(_report, job, result, error)
            except RuntimeError:  # the loop was closed: nobody waits any more
                return
            del job, result, error


class _WorkerPool:
    """The worker threads of one event loop (made as needed; bounded by the limiters of
    the requests that use them)."""

    __slots__ = ("idle", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        #: Idle workers, the most recently used last.
        self.idle: list[_Worker] = []

    def retire(self, worker: _Worker) -> None:
        """On the loop: end ``worker`` if it is still idle (for ``_IDLE_SECONDS``)."""
        if worker in self.idle and self.loop.time() - worker.idle_since >= _IDLE_SECONDS:
            self.idle.remove(worker)
            worker.jobs.put(None)


class _OfLoop(Protocol):
    loop: asyncio.AbstractEventLoop


L = TypeVar("L", bound=_OfLoop)


class LoopRegistry(Generic[L]):
    """One object per event loop, made by ``factory`` on first use; the objects refer to
    their loop (``.loop``), so a weak-keyed dict would never let go of either: the
    entries of closed loops are dropped whenever one is added instead.

    PERF: callers read :attr:`last` and compare its ``loop`` first (one process, one
    loop is the common case), and call :meth:`of` only when it is another loop.
    """

    __slots__ = ("_by_loop", "_factory", "_lock", "last")

    def __init__(self, factory: Callable[[asyncio.AbstractEventLoop], L]) -> None:
        self._factory = factory
        self._by_loop: dict[asyncio.AbstractEventLoop, L] = {}
        self._lock = threading.Lock()  # loops in several threads may start at once
        #: The object last asked for.
        self.last: L | None = None

    def of(self, loop: asyncio.AbstractEventLoop) -> L:
        """The object of ``loop`` (made now if it has none); it becomes :attr:`last`."""
        value = self._by_loop.get(loop)
        if value is None:
            with self._lock:
                for old in [old for old in self._by_loop if old.is_closed()]:
                    del self._by_loop[old]
                value = self._by_loop[loop] = self._factory(loop)
        self.last = value
        return value

    def values(self) -> list[L]:
        """The objects of the loops not closed yet."""
        return [value for loop, value in list(self._by_loop.items()) if not loop.is_closed()]


_pools: LoopRegistry[_WorkerPool] = LoopRegistry(_WorkerPool)


async def _run_in_worker(
    func: Callable[..., T], args: tuple[Any, ...], limiter: CapacityLimiter | None
) -> T:
    """``func(*args)`` in a worker thread, holding a token of ``limiter`` (anyio's
    default limiter if ``None``): ``anyio.to_thread.run_sync``, cheaper (see above)."""
    if _claim_worker_thread is None:  # pragma: no cover - another anyio
        return await anyio.to_thread.run_sync(func, *args, limiter=limiter)
    loop = asyncio.get_running_loop()
    pool = _pools.last
    if pool is None or pool.loop is not loop:
        pool = _pools.of(loop)
    if limiter is None:
        limiter = anyio.to_thread.current_default_thread_limiter()
    # The request's task is the borrower, as with ``async with limiter`` (_disconnect.py
    # looks for it there). PERF: its task without 3.11's Python asyncio.current_task.
    task = _current_task(loop)
    try:
        limiter.acquire_on_behalf_of_nowait(task)
    except WouldBlock:
        await limiter.acquire_on_behalf_of(task)
    try:
        idle = pool.idle
        worker = idle.pop() if idle else _Worker(pool)
        job = _Job(worker, loop.create_future(), func, args)
        worker.jobs.put(job)
        try:
            result: T = await job.future
        except asyncio.CancelledError:
            # The thread runs the request's pipeline: it can neither be stopped nor
            # abandoned. Wait for it, then let the cancellation through.
            while not job.done:
                job.future = loop.create_future()
                try:
                    await job.future
                except asyncio.CancelledError:
                    continue
                except Exception:  # its outcome no longer matters: cancelled
                    break
            raise
        return result
    finally:
        limiter.release_on_behalf_of(task)


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


#: Called once before the first async callable, with ``before_args``: ``None`` when it
#: is done, or an awaitable to await first (the ASGI adapter reads the body in there).
BeforeAsync = Callable[..., Awaitable[None] | None]
#: A worker-thread limiter, or where to get it at the first thread hop (``None``:
#: anyio's default limiter).
LimiterSource = CapacityLimiter | Callable[[], CapacityLimiter | None] | None


async def drive_on_loop(
    flow: Flow[T],
    call: Call | None,
    before_async: BeforeAsync | None,
    run_sync_inline: bool,
    limiter: LimiterSource = None,
    watch: LoopWatch | None = None,
    before_args: tuple[Any, ...] = (),
) -> T:
    """The coroutine of :func:`drive_async` (``call``: the flow's first call if it was
    already advanced to it), for the ASGI adapter to call with positional arguments."""
    if call is None:
        finished, outcome = _advance(flow, None, None)
    else:
        finished, outcome = False, call
    while not finished:
        func, is_async, args, kwargs = outcome
        if is_async:
            try:
                if before_async is not None:
                    pending = before_async(*before_args)
                    before_async = None
                    if pending is not None:
                        await pending
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
            if callable(limiter):
                limiter = limiter()  # PERF: looked up at the first hop only
            adaptations.thread_hops += 1
            finished, outcome = await _run_in_worker(_run_sync_stretch, (flow, outcome), limiter)
    result: T = outcome
    return result


def drive_async(
    flow: Flow[T],
    before_async: BeforeAsync | None = None,
    limiter: LimiterSource = None,
    *,
    run_sync_inline: bool = False,
    watch: LoopWatch | None = None,
    before_args: tuple[Any, ...] = (),
) -> Coroutine[Any, Any, T]:
    """Run ``flow`` on the event loop (ASGI): ``await drive_async(flow)``.

    ``before_async(*before_args)`` is called once before the first async callable, and
    what it returns awaited unless ``None`` (the ASGI adapter reads the request body in
    there, so the blocking body API works in async views). ``limiter`` bounds the worker
    threads used for sync stretches (or returns the limiter, called at the first hop);
    ``run_sync_inline`` runs sync callables on the loop instead (for views marked as never
    blocking). ``watch``, if given, is told how long each callable held the loop at most.
    """
    # PERF: returns the driver's coroutine rather than awaiting it in one more
    # (benchmarks/inprocess.py, plaintext ASGI async).
    return drive_on_loop(flow, None, before_async, run_sync_inline, limiter, watch, before_args)
