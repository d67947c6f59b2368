"""Background tasks: ``app.add_background_task(func, *args, **kwargs)`` on both servers.

Where a task runs
=================

A task runs in a *copy of the context it was added from*: added in a view or hook, it
sees that request's ``request``, ``g`` and ``current_app`` after the response is sent;
added outside any context, it gets an app context of its own. It runs in the task group
of a :class:`BackgroundRunner`, which owns the tasks of one app on one event loop:

* under ASGI, the lifespan owns a runner on the server's loop (``_lifespan.py``): tasks
  outlive their request and are waited for at the lifespan's shutdown;
* everywhere else (WSGI, an ASGI server without lifespan, a script) the app starts,
  on first use, one *background loop thread* per process with a runner of its own,
  stopped (tasks waited for) at exit. The loop an ``async def`` view uses under WSGI
  only runs while a request runs on it, so a task left there would stall; Flask's async
  views lose such tasks when the view returns.

An ``async def`` task is awaited on the runner's loop; a ``def`` task runs in the app's
own pool of ``BACKGROUND_TASK_THREADS`` daemon threads, a budget apart from the worker
threads of sync views. An exception a task raises is logged with ``app.logger``, never
raised anywhere. At shutdown a runner waits ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT`` seconds
(``None``: as long as it takes), then cancels the async tasks still running and abandons
the def ones (a thread cannot be stopped; being a daemon it ends with the process), and
logs each.

Which runner takes a task is decided when it is added, in this order: the runner of the
running event loop, if any (an async view or hook under ASGI, a task adding a task); the
runner of the def task calling (its pool thread); the runner of the event loop an anyio
worker thread belongs to (a def view or hook under ASGI); else the background loop
thread.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import functools
import inspect
import os
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
import anyio.from_thread

from .globals import _cv_context
from .scaffold import is_async_callable

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from .app import App

__all__ = ["BackgroundRunner", "BackgroundTasks", "run_at_process_exit"]

#: A task to run: the callable, whether it is async, its args and kwargs.
Task: TypeAlias = tuple[Callable[..., Any], bool, tuple[Any, ...], dict[str, Any]]

_pool_thread = threading.local()


def _describe(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", None) or repr(func))


class _DaemonThreadPool(Executor):
    """At most ``size`` daemon threads, started as work comes and then kept.

    Not a ``ThreadPoolExecutor``: the interpreter joins those at exit, however long
    their work takes, which would defeat ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT``.
    """

    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError(f"BACKGROUND_TASK_THREADS must be 1 or more, not {size!r}.")
        self._size = size
        self._name = name
        self._jobs: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._threads = 0
        self._idle = 0  # threads waiting for work that no submission has claimed yet

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._ready:
            self._jobs.append((future, functools.partial(fn, *args, **kwargs)))
            if self._idle:
                self._idle -= 1
                self._ready.notify()
            elif self._threads < self._size:
                self._threads += 1
                threading.Thread(
                    target=self._work, name=f"{self._name}-{self._threads}", daemon=True
                ).start()
        return future

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._jobs:
                    self._idle += 1
                    self._ready.wait()
                future, job = self._jobs.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = job()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
            del future, job


class BackgroundRunner:
    """Runs one app's background tasks on one event loop, in a task group it owns.

    :meth:`open` is entered on that loop by the owner (the ASGI lifespan, or the
    background loop thread); leaving it waits for the tasks, then cancels what is left
    after ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT``.
    """

    def __init__(self, tasks: BackgroundTasks) -> None:
        self.tasks = tasks
        self.app = tasks.app
        self.loop: asyncio.AbstractEventLoop | None = None
        self._group: TaskGroup | None = None
        self._cancel_now = False

    @asynccontextmanager
    async def open(self) -> AsyncIterator[BackgroundRunner]:
        """Accept tasks while the block runs; on leaving it, wait for them."""
        loop = self.loop = asyncio.get_running_loop()
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                self.tasks.runners[loop] = self
                try:
                    yield self
                finally:
                    timeout = self.app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"]
                    if self._cancel_now:
                        group.cancel_scope.cancel()
                    elif timeout is not None:
                        group.cancel_scope.deadline = anyio.current_time() + float(timeout)
        finally:
            self._group = None
            if self.tasks.runners.get(loop) is self:
                del self.tasks.runners[loop]

    def cancel_on_close(self) -> None:
        """Cancel the running tasks when :meth:`open` is left, instead of waiting."""
        self._cancel_now = True

    def start(self, task: Task, context: contextvars.Context) -> None:
        """Start ``task`` in a copy of ``context``; call on the runner's loop."""
        group = self._group
        if group is None:
            raise RuntimeError(
                f"The background task {_describe(task[0])} was added after the app shut"
                " down its background tasks; it was not started."
            )
        # The new task copies the context current when it is created: make that ``context``.
        context.run(functools.partial(group.start_soon, self._run, task, name=_describe(task[0])))

    def start_threadsafe(self, task: Task, context: contextvars.Context) -> None:
        """Start ``task`` from another thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            raise RuntimeError(
                f"The background task {_describe(task[0])} was added after the app shut"
                " down its background tasks; it was not started."
            )
        loop.call_soon_threadsafe(self._start_or_log, task, context)

    def _start_or_log(self, task: Task, context: contextvars.Context) -> None:
        try:
            self.start(task, context)
        except RuntimeError as exc:
            self.app.logger.error("%s", exc)

    async def _run(self, task: Task) -> None:
        func, is_async, args, kwargs = task
        try:
            if is_async:
                await func(*args, **kwargs)
            else:
                result = await asyncio.wrap_future(
                    self.tasks.pool().submit(
                        self._run_in_thread, contextvars.copy_context(), func, args, kwargs
                    )
                )
                if inspect.isawaitable(result):  # a def wrapper around an async def
                    await result
        except anyio.get_cancelled_exc_class():
            self.app.logger.warning(
                "The background task %s was %s at shutdown: %s.",
                _describe(func),
                "cancelled" if is_async else "abandoned (its thread ends with the process)",
                "the application failed to start"
                if self._cancel_now
                else "it was still running BACKGROUND_TASK_SHUTDOWN_TIMEOUT"
                f" ({self.app.config['BACKGROUND_TASK_SHUTDOWN_TIMEOUT']} s) after the"
                " server began to stop",
            )
            raise
        except Exception:
            self.app.logger.exception("Error in background task %s", _describe(func))

    def _run_in_thread(
        self,
        context: contextvars.Context,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        _pool_thread.runner = self
        try:
            return context.run(func, *args, **kwargs)
        finally:
            _pool_thread.runner = None


#: Seconds the main thread waits at a time for a thread it stops (see _LoopThread.stop).
_JOIN_SLICE = 0.05


class _LoopThread:
    """A daemon thread whose event loop hosts a runner until :meth:`stop`."""

    def __init__(self, tasks: BackgroundTasks) -> None:
        self.runner = BackgroundRunner(tasks)
        self.pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._main, name=f"ambi-background-loop ({tasks.app.name})", daemon=True
        )
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        loop = self._loop
        try:
            loop.run_until_complete(self._serve())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            self._ready.set()  # never leave the starting thread waiting

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        async with self.runner.open():
            self._ready.set()
            await self._stopping.wait()

    def stop(self) -> None:
        """Wait for the running tasks (up to the timeout) and end the thread."""
        stopping = self._stopping
        if stopping is None or self._loop.is_closed():
            return
        try:
            self._loop.call_soon_threadsafe(stopping.set)
        except RuntimeError:  # the loop closed meanwhile
            return
        # Wait in short slices, never in one blocking join: this runs in the main thread
        # at exit, and a signal that reaches another thread meanwhile (a second SIGTERM:
        # gunicorn's arbiter sends one, a supervisor signalling the process group another)
        # is only handled when the main thread runs Python code again. Until then the
        # other threads keep stopping to check for it: with coverage's tracer on, the loop
        # thread made no progress for 10 s in about 1 gunicorn stop in 40
        # (test_real_server_cancels_tasks_past_the_timeout); with slices, 0 in 150.
        while self._thread.is_alive():
            self._thread.join(_JOIN_SLICE)


class BackgroundTasks:
    """One app's background tasks in this process: its runners and its thread pool."""

    def __init__(self, app: App) -> None:
        self.app = app
        #: The open runners by their loop.
        self.runners: dict[asyncio.AbstractEventLoop, BackgroundRunner] = {}
        self._lock = threading.Lock()
        self._pool: _DaemonThreadPool | None = None
        self._pool_pid = 0
        self._loop_thread: _LoopThread | None = None

    def new_runner(self) -> BackgroundRunner:
        """A runner for an owner's loop (the ASGI lifespan opens it)."""
        return BackgroundRunner(self)

    def pool(self) -> _DaemonThreadPool:
        """The daemon threads that run ``def`` tasks (made on first use, per process)."""
        pool = self._pool
        if pool is None or self._pool_pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pool_pid != os.getpid():
                    self._pool = _DaemonThreadPool(
                        self.app.config["BACKGROUND_TASK_THREADS"], "ambi-background"
                    )
                    self._pool_pid = os.getpid()
                pool = self._pool
        return pool

    def add(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Start ``func(*args, **kwargs)`` in the background (see the module docstring)."""
        if not callable(func):
            raise TypeError(f"add_background_task needs a callable, not {func!r}.")
        task: Task = (func, is_async_callable(func), args, kwargs)
        context = contextvars.copy_context()
        if context.get(_cv_context, None) is None:
            context.run(self.app.app_context().push)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            runner = self.runners.get(loop)
            if runner is not None:
                runner.start(task, context)
                return
        else:
            runner = getattr(_pool_thread, "runner", None)
            if runner is not None and runner.tasks is self and runner._group is not None:
                runner.start_threadsafe(task, context)
                return
            try:
                started = anyio.from_thread.run_sync(self._start_on_running_loop, task, context)
            except RuntimeError:  # not an anyio worker thread, or its loop has ended
                started = False
            if started:
                return
        self._loop_thread_runner().start_threadsafe(task, context)

    def _start_on_running_loop(self, task: Task, context: contextvars.Context) -> bool:
        runner = self.runners.get(asyncio.get_running_loop())
        if runner is None:
            return False
        runner.start(task, context)
        return True

    def _loop_thread_runner(self) -> BackgroundRunner:
        with self._lock:
            loop_thread = self._loop_thread
            if loop_thread is None or loop_thread.pid != os.getpid():
                loop_thread = self._loop_thread = _LoopThread(self)
                _with_loop_threads.add(self)
                run_at_process_exit(_stop_loop_threads)
            return loop_thread.runner

    def stop_loop_thread(self) -> None:
        """Wait for the tasks of the background loop thread (up to the timeout), then
        stop it; a later task starts a new one."""
        with self._lock:
            loop_thread, self._loop_thread = self._loop_thread, None
        if loop_thread is not None and loop_thread.pid == os.getpid():
            loop_thread.stop()


_with_loop_threads: weakref.WeakSet[BackgroundTasks] = weakref.WeakSet()


@atexit.register
def _stop_loop_threads() -> None:
    while _with_loop_threads:
        _with_loop_threads.pop().stop_loop_thread()


_at_process_exit: set[Callable[[], None]] = set()


def run_at_process_exit(func: Callable[[], None]) -> None:
    """Also run ``func`` (an ``atexit`` function) when a ``multiprocessing`` child exits.

    Such a child (a granian worker) ends with ``os._exit``, which skips ``atexit`` but
    runs ``multiprocessing``'s finalizers. ``func`` must be safe to run twice (in a plain
    process both run it).
    """
    if func in _at_process_exit:
        return
    import multiprocessing.util

    _at_process_exit.add(func)
    multiprocessing.util.Finalize(None, func, exitpriority=100)
