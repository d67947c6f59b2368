"""Serving lifecycle: ``lifespan``, ``before_serving`` and ``after_serving`` on both servers.

Theory of operation
===================

What runs is written once, as two pipeline-style flows (generators yielding each user
callable to a driver, see ``_pipeline.py``), so each runs on its native path:

* startup (:func:`startup_flow`): enter the ``lifespan`` context manager, then the
  ``before_serving`` functions in registration order. If one raises, the context
  manager is exited with that exception and the startup fails; the functions that ran
  are not undone and the ``after_serving`` functions do not run.
* shutdown (:func:`shutdown_flow`): first the background tasks are waited for (up to
  ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT``, see ``_background.py``), then the
  ``after_serving`` functions in registration order (Quart's order: open in
  ``before_serving``, close in ``after_serving``, or use ``lifespan`` for nesting), then
  the context manager is exited. An error in one is logged and the rest still run; the
  shutdown then reports a failure.

Each runs inside an app context of its own (``current_app`` and ``g``), whose
``teardown_appcontext`` functions run at its end like the hooks (:class:`ServingContext`).

Where they run:

* ASGI: on the lifespan protocol (:func:`serve_lifespan`), on the server's loop;
  ``def`` callables in a worker thread (consecutive ones in one hop, as in a request).
  A failure answers ``lifespan.startup.failed`` with a message naming the function, and
  the server exits (uvicorn with status 3). The lifespan also owns the background-task
  runner of the server's loop.
* WSGI: there is no lifespan, so :class:`Lifecycle` runs the startup once per process,
  on the first request, on that request's thread (its persistent loop, pinned so it
  outlives the thread), while concurrent first requests wait on a lock. A failure is
  logged once; from then on every request gets 503 and the startup is not retried;
  under gunicorn the worker then exits with gunicorn's "worker failed to boot" status
  (3), which stops gunicorn. The shutdown runs at interpreter exit, on that same loop.
* Test clients run none of this implicitly; ``app.test_serving()`` runs it around them.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._background import BackgroundTasks, run_at_process_exit
from ._drivers import drive_async, drive_sync, keep_thread_event_loop
from ._pipeline import Call, Flow, Step, teardown_steps
from .ctx import AppContext
from .scaffold import is_async_callable

if TYPE_CHECKING:
    import asyncio

    from .app import App
    from .types import Receive, Send, StartResponse, WSGIEnvironment

__all__ = ["Lifecycle", "lifecycle_of", "serve_lifespan"]

#: gunicorn's exit status for "worker failed to boot": its arbiter then stops.
GUNICORN_WORKER_BOOT_ERROR = 3
#: The WSGI environ key test clients set to ``False``: no lazy startup for them.
LAZY_STARTUP_KEY = "ambi.lazy_startup"


class StartupFailed(RuntimeError):
    """The app's startup (``lifespan`` or a ``before_serving`` function) raised."""


def _name(func: Any) -> str:
    return str(getattr(func, "__qualname__", None) or repr(func))


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _call(func: Callable[..., Any], *args: Any) -> Call:
    return (func, is_async_callable(func), args, None)


def _run_hook(func: Callable[..., Any]) -> Flow[None]:
    rv = yield _call(func)
    if inspect.isawaitable(rv):  # a def wrapper around an async def
        yield (_await, True, (rv,), None)


class ServingPeriod:
    """One run of the app, from startup to shutdown: what must be closed at the end."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        #: The ``__aexit__`` (or ``__exit__``) of the entered ``lifespan`` context manager.
        self.manager_exit: Call | None = None
        #: What the startup was doing, for the failure message.
        self.step = "the startup"
        #: Under WSGI, the loop startup ran on (shutdown finishes there).
        self.loop = loop

    def describe(self, exc: BaseException) -> str:
        return f"{self.step} raised {type(exc).__name__}: {exc}"


def startup_flow(app: App, period: ServingPeriod) -> Flow[None]:
    """Enter the lifespan context manager, then run the ``before_serving`` functions."""
    factory = app.lifespan
    if factory is not None:
        period.step = f"the lifespan function {_name(factory)!r}"
        manager = factory(app)
        if hasattr(manager, "__aenter__") and hasattr(manager, "__aexit__"):
            yield (manager.__aenter__, True, (), None)
            period.manager_exit = (manager.__aexit__, True, (), None)
        elif hasattr(manager, "__enter__") and hasattr(manager, "__exit__"):
            yield (manager.__enter__, False, (), None)
            period.manager_exit = (manager.__exit__, False, (), None)
        else:
            raise TypeError(
                f"The lifespan function {_name(factory)!r} returned {manager!r}; it must"
                " return an async context manager (write it as an @asynccontextmanager"
                " generator taking the app)."
            )
    try:
        for func in app.before_serving_funcs:
            period.step = f"the before_serving function {_name(func)!r}"
            yield from _run_hook(func)
    except Exception as exc:
        if period.manager_exit is not None:
            exit_func, is_async, _, _ = period.manager_exit
            period.manager_exit = None
            yield (exit_func, is_async, (type(exc), exc, exc.__traceback__), None)
        raise


def shutdown_flow(app: App, period: ServingPeriod | None) -> Flow[list[str]]:
    """Run the ``after_serving`` functions, then exit the lifespan context manager.
    Every error is logged and the rest still runs; returns the errors' descriptions."""
    failures: list[str] = []
    steps: list[tuple[str, Call]] = [
        (f"the after_serving function {_name(func)!r}", _call(func))
        for func in app.after_serving_funcs
    ]
    if period is not None and period.manager_exit is not None:
        exit_func, is_async, _, _ = period.manager_exit
        steps.append(
            (
                f"the lifespan function {_name(app.lifespan)!r}",
                (exit_func, is_async, (None,) * 3, None),
            )
        )
        period.manager_exit = None
    for what, call in steps:
        try:
            rv = yield call
            if inspect.isawaitable(rv):
                yield (_await, True, (rv,), None)
        except Exception as exc:
            app.logger.error("Error at shutdown in %s", what, exc_info=exc)
            failures.append(f"{what} raised {type(exc).__name__}: {exc}")
    return failures


def context_teardown_flow(app: App, error: BaseException | None) -> Flow[None]:
    """The ``teardown_appcontext`` functions of a :class:`ServingContext` (reversed),
    run and logged as at the end of a request."""
    steps = tuple(Step(func) for func in reversed(app.teardown_appcontext_funcs))
    yield from teardown_steps(app, steps, error, "teardown_appcontext")


class ServingContext(AppContext):
    """The app context the serving functions run in.

    Its ``teardown_appcontext`` functions are run by a driver, like the hooks (a
    ``def`` one in a worker thread under ASGI, an ``async def`` one awaited), so
    :meth:`pop` leaves them out.
    """

    teardown_on_pop = False


def run_in_context_sync(
    app: App, flow: Flow[Any], loop: asyncio.AbstractEventLoop | None = None
) -> Any:
    """Drive ``flow`` the WSGI way (``def`` directly, ``async def`` on ``loop`` or this
    thread's persistent loop) in a :class:`ServingContext`."""
    ctx = ServingContext(app)
    ctx.push()
    error: BaseException | None = None
    try:
        return drive_sync(flow, loop)
    except BaseException as exc:
        error = exc
        raise
    finally:
        try:
            drive_sync(context_teardown_flow(app, error), loop)
        finally:
            ctx.pop(error)


async def run_in_context_async(app: App, flow: Flow[Any]) -> Any:
    """Drive ``flow`` the ASGI way (``async def`` awaited, ``def`` in a worker thread)
    in a :class:`ServingContext`."""
    ctx = ServingContext(app)
    ctx.push()
    error: BaseException | None = None
    try:
        return await drive_async(flow)
    except BaseException as exc:
        error = exc
        raise
    finally:
        try:
            await drive_async(context_teardown_flow(app, error))
        finally:
            ctx.pop(error)


async def serve_lifespan(app: App, receive: Receive, send: Send) -> None:
    """Answer the ASGI lifespan protocol: startup, serve, shutdown."""
    lifecycle = lifecycle_of(app)
    message = await receive()
    if message["type"] != "lifespan.startup":
        raise RuntimeError(f"The lifespan began with {message['type']!r}, not lifespan.startup.")
    period = ServingPeriod()
    runner = lifecycle.background.new_runner()
    async with runner.open():
        try:
            await run_in_context_async(app, startup_flow(app, period))
        except Exception as exc:
            text = lifecycle.record_failure(period, exc)
            runner.cancel_on_close()
            await send({"type": "lifespan.startup.failed", "message": text})
            return
        lifecycle.last_failure = None
        await send({"type": "lifespan.startup.complete"})
        message = await receive()  # lifespan.shutdown: the only message left
    failures = await run_in_context_async(app, shutdown_flow(app, period))
    if failures:
        await send({"type": "lifespan.shutdown.failed", "message": "; ".join(failures)})
    else:
        await send({"type": "lifespan.shutdown.complete"})


class _Refusal:
    """The answer to every WSGI request once the startup failed: 503, and under
    gunicorn, after that answer is sent, the worker's exit with status 3."""

    BODY = b"Service Unavailable: the application failed to start (see the server log).\n"

    def __init__(self, lifecycle: Lifecycle, environ: WSGIEnvironment) -> None:
        self._lifecycle = lifecycle
        self._stop_gunicorn = _is_gunicorn(environ)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> _Refusal:
        start_response(
            "503 Service Unavailable",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(self.BODY))),
            ],
        )
        return self

    def __iter__(self) -> Iterator[bytes]:
        yield self.BODY

    def close(self) -> None:
        if self._stop_gunicorn:
            self._lifecycle.app.logger.critical(
                "Exiting this gunicorn worker with status %d (worker failed to boot) so"
                " that gunicorn stops: the application failed to start.",
                GUNICORN_WORKER_BOOT_ERROR,
            )
            _flush_logs(self._lifecycle.app.logger)
            os._exit(GUNICORN_WORKER_BOOT_ERROR)


def _is_gunicorn(environ: WSGIEnvironment) -> bool:
    return str(environ.get("SERVER_SOFTWARE", "")).startswith("gunicorn/")


def _flush_logs(logger: logging.Logger) -> None:
    # os._exit skips the interpreter's cleanup: flush what the log handlers hold first.
    for each in (logger, logging.getLogger()):
        for handler in each.handlers:
            with contextlib.suppress(Exception):
                handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


class Lifecycle:
    """The serving state of one app in this process (``app._lifecycle``)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.background = BackgroundTasks(app)
        #: True until the WSGI startup ran (or was found to have nothing to do). The
        #: WSGI entry point checks it on every request: one attribute read.
        self.wsgi_pending = True
        #: The exception of the last failed startup (``None`` after a success).
        self.last_failure: BaseException | None = None
        self._lock = threading.RLock()
        self._starting = False
        self._period: ServingPeriod | None = None
        self._failed_text: str | None = None

    def has_work(self) -> bool:
        app = self.app
        return bool(app.lifespan or app.before_serving_funcs or app.after_serving_funcs)

    def record_failure(self, period: ServingPeriod, exc: BaseException) -> str:
        """Log a failed startup; return its one-line description."""
        self.last_failure = exc
        text = f"The application failed to start: {period.describe(exc)}"
        self.app.logger.error("%s", text, exc_info=exc)
        return text

    # -- WSGI -------------------------------------------------------------------------------

    def start_under_wsgi(
        self, environ: WSGIEnvironment
    ) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]] | None:
        """Before a WSGI request: run the startup if it has not run in this process.

        Returns ``None`` to serve the request, or a WSGI app answering 503 when the
        startup failed.
        """
        if environ.get(LAZY_STARTUP_KEY) is False:
            return None
        with self._lock:  # concurrent first requests wait here for the one starting up
            if self.wsgi_pending and self._failed_text is None and not self._starting:
                if not self.has_work():
                    self.wsgi_pending = False
                    return None
                self._starting = True
                try:
                    self.startup_sync()
                except StartupFailed as exc:
                    self._failed_text = str(exc)
                    self.app.logger.error(
                        "Every request to this process now gets 503 Service Unavailable;"
                        " the startup is not retried.%s",
                        " Under gunicorn the worker then exits so that gunicorn stops."
                        if _is_gunicorn(environ)
                        else " Fix the error and restart the server.",
                    )
                else:
                    self.wsgi_pending = False
                    _started_under_wsgi.add(self)
                    run_at_process_exit(_shutdown_wsgi_apps)
                finally:
                    self._starting = False
        if self._failed_text is None:
            return None
        return _Refusal(self, environ)

    def startup_sync(self) -> None:
        """Run the startup on the calling thread (its persistent loop for ``async def``
        callables, kept open for the shutdown). Raises :class:`StartupFailed`."""
        period = ServingPeriod(keep_thread_event_loop())
        try:
            run_in_context_sync(self.app, startup_flow(self.app, period), period.loop)
        except Exception as exc:
            raise StartupFailed(self.record_failure(period, exc)) from exc
        self.last_failure = None
        self._period = period

    def shutdown_sync(self) -> list[str]:
        """Wait for the background tasks, then run the shutdown on the loop the startup
        used. Returns the errors' descriptions (each also logged)."""
        with self._lock:
            period, self._period = self._period, None
            self.wsgi_pending = True
        self.background.stop_loop_thread()
        if period is None:
            return []
        failures: list[str] = run_in_context_sync(
            self.app, shutdown_flow(self.app, period), period.loop
        )
        return failures


def lifecycle_of(app: App) -> Lifecycle:
    """The app's :class:`Lifecycle` (``ambi.Ambi`` makes it at construction)."""
    lifecycle: Lifecycle | None = app.__dict__.get("_lifecycle")
    if lifecycle is None:
        lifecycle = app.__dict__.setdefault("_lifecycle", Lifecycle(app))
    return lifecycle


_started_under_wsgi: weakref.WeakSet[Lifecycle] = weakref.WeakSet()


@atexit.register
def _shutdown_wsgi_apps() -> None:
    # Registered after _drivers' and _background's own exit functions, so it runs before
    # them: the tasks are waited for and after_serving runs while the loops are open.
    while _started_under_wsgi:
        lifecycle = _started_under_wsgi.pop()
        try:
            lifecycle.shutdown_sync()
        except Exception:
            lifecycle.app.logger.exception("Error while shutting the application down")
