"""The one request pipeline, written once for both servers and both kinds of callable.

Theory of operation
===================

No I/O, no event loop, no thread here. The pipeline is a *generator*. Every time it
needs a user callable run (a hook, the view, an error handler) it does not call it: it
yields a :data:`Call`, a ``(func, is_async, args, kwargs)`` tuple, and the *driver*
(``_drivers.py``) runs the callable the way that suits the server and sends the result
back in, or throws the exception back in. So the same generator serves::

    WSGI driver:  def  -> called directly          async def -> the thread's own loop
    ASGI driver:  async def -> awaited directly    def       -> a worker thread

and the drivers are free to batch: the ASGI driver runs every sync step up to the next
async one in a single worker-thread hop, so a route whose hooks and view are all sync
costs one hop per request, not one per callable.

The steps of :func:`request_flow`, for a request whose context the adapter has already
pushed (``RequestContext.push`` — the adapter pushes before the first step and pops after
the response body is finished or abandoned):

1. ``url_value_preprocessor`` callables, then ``before_request`` callables. A
   ``before_request`` returning something other than ``None`` ends this step; that
   value is the response.
2. If URL matching failed (404, 405, a strict-slash redirect, a 400 for a malformed
   path) the stored exception is raised now, after the hooks, as in Flask. Else the
   automatic ``OPTIONS`` answer, or the view, called with the URL values.
3. ``make_response`` turns the return value into a :class:`~ambi.wrappers.Response`.
4. Any ``Exception`` raised in 1–3 goes to :func:`_handle_user_exception`: HTTP errors go
   to their handler or become their own error page; other exceptions go to their
   handler, or on to 6.
5. ``after_this_request`` callables, then ``after_request`` callables (reverse order), each
   receiving and returning the response.
6. An exception nobody handled (or one raised in 5) is logged once and becomes a 500,
   through an ``errorhandler(500)`` if there is one; with ``PROPAGATE_EXCEPTIONS`` it is
   re-raised to the caller instead (the test client sees it).
7. ``teardown_request`` callables, in reverse order, with the unhandled exception or
   ``None``, then the ``teardown_appcontext`` ones; their errors are logged, never
   sent. For a streamed body the adapter runs :func:`teardown_flow` after the last
   chunk instead, so the context stays alive while the body is generated.

Per-endpoint data (which hooks apply, whether each is async, whether everything is
sync) is frozen into an :class:`EndpointPlan` the first time an endpoint is requested;
the request path makes no ``inspect`` calls.

An endpoint that runs nothing but its view (``EndpointPlan.direct``: no hooks of any
kind, the built-in session interface, not a MethodView) skips the generator on its
native path: the adapter asks :func:`direct_view`, calls the view itself (a ``def`` one
under WSGI, an ``async def`` one under ASGI; a ``def`` one under ASGI in the request's
one worker-thread hop, :func:`call_direct`), and :func:`direct_response` makes the
response when steps 3–7 have no callable to run. Anything else (an exception, a session
to save, ``after_this_request``, a signal receiver) is handed to :func:`respond_flow`,
the same steps 3–7 that :func:`request_flow` ends with, so the outcome is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .exceptions import HTTPException, InternalServerError, RequestRedirect
from .scaffold import is_async_callable, is_inline
from .sessions import SecureCookieSessionInterface, SessionInterface
from .signals import (
    got_request_exception,
    request_finished,
    request_started,
    request_tearing_down,
)
from .templating import template_context_flow
from .views import method_views_for
from .wrappers import text_response

if TYPE_CHECKING:
    from .app import App
    from .ctx import RequestContext
    from .wrappers import Response

__all__ = [
    "Call",
    "EndpointPlan",
    "Flow",
    "Step",
    "call_direct",
    "direct_response",
    "direct_view",
    "request_flow",
    "respond_flow",
    "teardown_flow",
    "teardown_steps",
]

#: What the pipeline yields: a callable, whether it is async, its args and kwargs.
Call: TypeAlias = tuple[Callable[..., Any], bool, tuple[Any, ...], dict[str, Any] | None]
T = TypeVar("T")
#: A pipeline generator: yields Calls, receives their results, returns ``T``.
Flow: TypeAlias = Generator[Call, Any, T]


class Step:
    """A user callable with its kind decided once, at plan time."""

    __slots__ = ("func", "is_async")

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.is_async = is_async_callable(func)

    def __repr__(self) -> str:
        kind = "async" if self.is_async else "sync"
        return f"<Step {getattr(self.func, '__qualname__', self.func)!r} {kind}>"


class EndpointPlan:
    """The frozen chain of callables for one endpoint (or for unmatched requests)."""

    __slots__ = (
        "after",
        "all_sync",
        "async_context",
        "before",
        "blueprints",
        "context_processors",
        "direct",
        "endpoint",
        "has_before",
        "run_inline",
        "session_open",
        "session_save",
        "stream_request",
        "teardown",
        "teardown_app",
        "url_value",
        "view",
        "view_by_method",
    )

    def __init__(self, app: App, endpoint: str | None) -> None:
        self.endpoint = endpoint
        #: The body is handed over unread (``stream_request=True`` on the route).
        self.stream_request = endpoint in app.streaming_endpoints
        view = app.view_functions.get(endpoint) if endpoint is not None else None
        self.view = Step(view) if view is not None else None
        # A MethodView's handlers, each a Step of its own kind (``ambi.views``): the
        # request's method picks one, so a def get and an async def post each run
        # natively. Methods missing here (none for other views) run ``self.view``.
        per_method = method_views_for(view) if view is not None else None
        self.view_by_method = (
            {method: Step(func) for method, func in per_method.items()} if per_method else None
        )
        #: The endpoint's blueprints, innermost first (``("shop.admin", "shop")``).
        self.blueprints = blueprint_chain(endpoint)
        # Flask's order: preprocessors and before hooks from the app inwards; after and
        # teardown hooks from the innermost blueprint outwards, each list reversed.
        outer_first = (None, *reversed(self.blueprints))
        inner_first = (*self.blueprints, None)
        self.url_value = _steps(app.url_value_preprocessors, outer_first)
        self.before = _steps(app.before_request_funcs, outer_first)
        self.after = _steps(app.after_request_funcs, inner_first, reverse=True)
        self.teardown = _steps(app.teardown_request_funcs, inner_first, reverse=True)
        #: ``teardown_appcontext`` functions, reversed: the request's app context ends.
        self.teardown_app = tuple(Step(func) for func in reversed(app.teardown_appcontext_funcs))
        self.context_processors = _steps(app.template_context_processors, outer_first)
        # ``def`` processors run inside the render (in the view's thread); ``async def``
        # ones are awaited by the pipeline ahead of the view (templating.py).
        async_context = tuple(step for step in self.context_processors if step.is_async)
        self.async_context = bool(async_context)
        interface = app.session_interface
        # The built-in cookie interface never blocks: it runs inline, its session opened on
        # first use. A custom one is run like a hook (it may do I/O, or be async def).
        builtin = _is_builtin_session_interface(interface)
        self.session_open = None if builtin else Step(interface.open_session)
        self.session_save = None if builtin else Step(interface.save_session)
        #: Whether :func:`before_flow` has anything to run (else it is skipped).
        self.has_before = bool(self.session_open or self.url_value or self.before)
        steps = (
            *self.url_value,
            *self.before,
            *self.after,
            *self.teardown,
            *self.teardown_app,
            *async_context,
        )
        if self.view is not None:
            steps = (*steps, self.view)
        if self.view_by_method is not None:
            steps = (*steps, *self.view_by_method.values())
        if self.session_open is not None and self.session_save is not None:
            steps = (*steps, self.session_open, self.session_save)
        #: True when no callable of this endpoint (whatever the method) is async: one
        #: thread hop under ASGI.
        self.all_sync = not any(step.is_async for step in steps)
        #: Under ASGI, run the sync callables on the loop: the route has some, and every
        #: one is marked :func:`~ambi.inline` (``ambi routes`` shows it). Its error
        #: handlers then run on the loop too.
        sync_steps = [step for step in steps if not step.is_async]
        #: The view, when it is all this endpoint runs (no hooks, no custom session
        #: interface, no async context processors, not a MethodView): the adapters then
        #: call it directly, without the flow (see :func:`direct_view`).
        self.direct = (
            self.view
            if self.view is not None
            and self.view_by_method is None
            and not (self.has_before or self.after or self.teardown or self.teardown_app)
            and not async_context
            and builtin
            else None
        )
        self.run_inline = (
            self.view is not None
            and bool(sync_steps)
            and all(is_inline(step.func) for step in sync_steps)
        )

    def describe(self) -> dict[str, str]:
        """How this endpoint runs under each server (used by ``ambi routes``); for a
        MethodView whose handlers run differently, per method (``"GET: …; POST: …"``)."""
        if not self.view_by_method:
            return self._describe(self.view)
        get = self.view_by_method.get("GET")
        by_method = {
            method: self._describe(step)
            for method, step in sorted(self.view_by_method.items())
            if not (method == "HEAD" and get is not None and step.func is get.func)
        }
        if len({(how["wsgi"], how["asgi"]) for how in by_method.values()}) == 1:
            return next(iter(by_method.values()))
        return {
            server: "; ".join(f"{method}: {how[server]}" for method, how in by_method.items())
            for server in ("wsgi", "asgi")
        }

    def _describe(self, view: Step | None) -> dict[str, str]:
        view_async = view is not None and view.is_async
        if self.run_inline and not self.all_sync:
            return {"wsgi": "thread's persistent loop (one entry)", "asgi": "event loop, inline"}
        if self.run_inline:
            return {"wsgi": "direct (no loop)", "asgi": "event loop, inline (no thread)"}
        others = (*self.url_value, *self.before, *self.after, *self.teardown, *self.teardown_app)
        if self.session_open is not None and self.session_save is not None:
            others = (*others, self.session_open, self.session_save)
        all_sync = not view_async and not any(step.is_async for step in others)
        if all_sync:
            asgi = "worker thread (one hop)"
        elif view_async and not any(
            not step.is_async for step in (*self.url_value, *self.before, *self.after)
        ):
            asgi = "event loop (no thread)"
        else:
            asgi = "event loop + worker-thread hops for the sync hooks"
        wsgi = "direct (no loop)" if all_sync else "thread's persistent loop (one entry)"
        return {"wsgi": wsgi, "asgi": asgi}


async def _await_coroutine(coroutine: CoroutineType[Any, Any, Any]) -> Any:
    """Await a coroutine a sync wrapper returned (a decorator around an async view)."""
    return await coroutine


def blueprint_chain(endpoint: str | None) -> tuple[str, ...]:
    """The blueprints an endpoint belongs to, innermost first: ``"a.b.view"`` gives
    ``("a.b", "a")``; an app-level endpoint gives ``()``."""
    if endpoint is None or "." not in endpoint:
        return ()
    parts = endpoint.split(".")[:-1]
    return tuple(".".join(parts[:index]) for index in range(len(parts), 0, -1))


def _steps(
    registry: dict[str | None, list[Callable[..., Any]]],
    scopes: tuple[str | None, ...],
    *,
    reverse: bool = False,
) -> tuple[Step, ...]:
    steps: list[Step] = []
    for scope in scopes:
        funcs = registry.get(scope, ())
        steps.extend(Step(func) for func in (reversed(funcs) if reverse else funcs))
    return tuple(steps)


def _is_builtin_session_interface(interface: SessionInterface) -> bool:
    cls = type(interface)
    return (
        cls.open_session is SecureCookieSessionInterface.open_session
        and cls.save_session is SecureCookieSessionInterface.save_session
    )


def _raise_and_handle(handler: Callable[..., Any], error: BaseException) -> Any:
    # Run the handler inside an ``except`` block, as Flask does, so ``sys.exc_info()``
    # and ``logger.exception()`` in it see the error.
    try:
        raise error
    except BaseException:
        return handler(error)


async def _raise_and_handle_async(handler: Callable[..., Any], error: BaseException) -> Any:
    try:
        raise error
    except BaseException:
        return await handler(error)


def _handler_call(handler: Step, error: BaseException) -> Call:
    if handler.is_async:
        return (_raise_and_handle_async, True, (handler.func, error), None)
    return (_raise_and_handle, False, (handler.func, error), None)


def _await_call(coroutine: CoroutineType[Any, Any, Any]) -> Call:
    """The call awaiting a coroutine that a sync callable returned."""
    return (_await_coroutine, True, (coroutine,), None)


def _call(step: Step, *args: Any, **kwargs: Any) -> Call:
    return (step.func, step.is_async, args, kwargs or None)


def before_flow(
    app: App, ctx: RequestContext, connection: Any, *, started_signal: bool
) -> Flow[Any]:
    """Steps before the view, shared by requests and websockets: open the session (a
    custom interface's), send ``request_started``, run the url value preprocessors, then
    the before hooks. Returns the first non-``None`` value a before hook returned."""
    plan = ctx.plan
    if plan.session_open is not None:
        session = yield _call(plan.session_open, app, connection)
        if type(session) is CoroutineType:
            session = yield _await_call(session)
        ctx._session = (
            session if session is not None else app.session_interface.make_null_session(app)
        )
    if started_signal and request_started.receivers:
        request_started.send(app)
    for step in plan.url_value:
        yield _call(step, connection.endpoint, connection.view_args)
    for step in plan.before:
        rv = yield _call(step)
        if type(rv) is CoroutineType:
            rv = yield _await_call(rv)
        if rv is not None:
            return rv
    return None


def request_flow(app: App, ctx: RequestContext) -> Flow[Response]:
    """The whole request: steps 1–2 (hooks, then the view), then :func:`respond_flow`."""
    plan = ctx.plan
    request = ctx.request
    rv: Any = None
    try:
        # PERF: a stage with nothing to run creates no generator (here and below;
        # benchmarks/inprocess.py: a route without hooks).
        if plan.has_before or request_started.receivers:
            rv = yield from before_flow(app, ctx, request, started_signal=True)
        if rv is None:
            if request.routing_exception is not None:
                raise request.routing_exception
            if ctx.automatic_options:
                rv = app.make_default_options_response(ctx)
            else:
                view = plan.view
                if plan.view_by_method is not None:
                    view = plan.view_by_method.get(request.method, view)
                if view is None:
                    raise LookupError(
                        f"No view function is registered for endpoint {plan.endpoint!r};"
                        " register one with @app.endpoint(...) or add_url_rule(view_func=)."
                    )
                if plan.async_context:
                    yield from template_context_flow(ctx)
                rv = yield (view.func, view.is_async, (), request.view_args)
    except Exception as exc:
        return (yield from respond_flow(app, ctx, None, exc))
    return (yield from respond_flow(app, ctx, rv, None))


def direct_view(ctx: RequestContext) -> Step | None:
    """The view to call directly, outside the flow, or ``None`` to run the flow.

    PERF: for an endpoint that runs nothing but its view (``EndpointPlan.direct``), on a
    request that was routed to it and with no ``request_started`` receiver, the adapter
    calls the view itself, makes the response with :func:`direct_response` and only
    enters :func:`respond_flow` when there is more to do (an error, a session to save,
    ``after_this_request``): the same steps, without a generator and a driver per
    request (benchmarks/inprocess.py, plaintext: -14k instructions per request).
    """
    view = ctx.plan.direct
    if (
        view is None
        or request_started.receivers
        or ctx.automatic_options
        or ctx.request.routing_exception is not None
    ):
        return None
    return view


def direct_response(app: App, ctx: RequestContext, rv: Any) -> Response | None:
    """Steps 3–7 for what a :func:`direct_view` returned, when they run no callable: the
    response (made by ``make_response``, whose errors the caller hands to
    :func:`respond_flow`), or ``None`` when :func:`respond_flow` must run them."""
    if (
        ctx.after_request_functions
        or ctx._session is not None
        or type(rv) is CoroutineType
        or request_finished.receivers
        or request_tearing_down.receivers
    ):
        return None
    # PERF: a str, dict or list needs none of make_response's other cases, and a str
    # none of Response.__init__'s (benchmarks/inprocess.py, plaintext and JSON).
    cls = rv.__class__
    if cls is str and app._plain_make_response:
        response = text_response(rv, None, app.response_class)
    elif (cls is dict or cls is list) and app._plain_make_response:
        response = app.json.response(rv)
    else:
        response = app.make_response(rv)
    if response._data is not None:  # not streamed (PERF: not the property)
        ctx.torn_down = True  # the plan has no teardown callables
    return response


def call_direct(app: App, ctx: RequestContext, view: Step) -> Response | Flow[Response]:
    """A :func:`direct_view` that is a ``def``, called: the response, or the flow when
    :func:`respond_flow` has more to do (an error, a session to save,
    ``after_this_request``), for the caller's driver to run."""
    try:
        kwargs = ctx.request.view_args
        rv = view.func(**kwargs) if kwargs else view.func()
        response = direct_response(app, ctx, rv)
        if response is not None:
            return response
        return respond_flow(app, ctx, rv, None)
    except Exception as exc:
        return respond_flow(app, ctx, None, exc)


def respond_flow(app: App, ctx: RequestContext, rv: Any, error: Exception | None) -> Flow[Response]:
    """Steps 3–7: the view's return value ``rv`` (or the ``error`` raised before it
    returned) to the response, then the teardown unless the body streams."""
    plan = ctx.plan
    try:
        try:
            if error is not None:
                raise error
            if type(rv) is CoroutineType:  # a sync wrapper around an async view
                rv = yield _await_call(rv)
            response = app.make_response(rv)
        except Exception as exc:
            response = yield from _handle_user_exception(app, ctx, exc)
        if plan.after or ctx.after_request_functions or ctx._session is not None:
            response = yield from _process_response(app, ctx, response)
        elif request_finished.receivers:
            request_finished.send(app, response=response)
    except Exception as exc:
        response = yield from _handle_exception(app, ctx, exc)
        try:
            response = yield from _process_response(app, ctx, response)
        except Exception:
            app.logger.exception("Request finalizing failed with an error while handling an error")
    if not response.is_streamed:
        if plan.teardown or plan.teardown_app or request_tearing_down.receivers:
            yield from teardown_flow(app, ctx, ctx.unhandled_error)
        else:
            # PERF: nothing to run, no generator (benchmarks/inprocess.py, plaintext).
            ctx.torn_down = True
    return response


def _handle_user_exception(app: App, ctx: RequestContext, exc: Exception) -> Flow[Response]:
    if isinstance(exc, HTTPException):
        if isinstance(exc, RequestRedirect) or exc.code is None:
            return exc.get_response()
        handler = app.find_error_handler(exc, ctx.plan.blueprints)
        if handler is None:
            return exc.get_response()
    else:
        handler = app.find_error_handler(exc, ctx.plan.blueprints)
        if handler is None:
            raise exc
    return (yield from _run_error_handler(app, ctx, handler, exc))


def _template_context_for_handler(app: App, ctx: RequestContext) -> Flow[None]:
    """Async context processors for an error handler's templates (the error may have come
    before the view); if they fail too, the handler renders without them (and a render
    that needs them raises)."""
    try:
        yield from template_context_flow(ctx)
    except Exception:
        app.logger.exception("An async context processor failed while handling an error")


def _handle_exception(app: App, ctx: RequestContext, exc: Exception) -> Flow[Response]:
    ctx.unhandled_error = exc
    if got_request_exception.receivers:
        got_request_exception.send(app, exception=exc)
    if app.propagate_exceptions:
        raise exc
    app.log_exception(exc, ctx)
    server_error = InternalServerError(original_exception=exc)
    handler = app.find_error_handler(server_error, ctx.plan.blueprints)
    if handler is None:
        return app.make_server_error_response(server_error, ctx)
    return (yield from _run_error_handler(app, ctx, handler, server_error))


def _run_error_handler(
    app: App, ctx: RequestContext, handler: Step, error: BaseException
) -> Flow[Response]:
    if ctx.plan.async_context:
        yield from _template_context_for_handler(app, ctx)
    rv = yield _handler_call(handler, error)
    if type(rv) is CoroutineType:
        rv = yield _await_call(rv)
    return app.make_response(rv)


def _process_response(app: App, ctx: RequestContext, response: Response) -> Flow[Response]:
    steps = ctx.plan.after
    if ctx.after_request_functions:
        steps = (*(Step(func) for func in ctx.after_request_functions), *steps)
    for step in steps:
        rv: Any = yield _call(step, response)
        if type(rv) is CoroutineType:
            rv = yield _await_call(rv)
        response = rv
        if response is None:
            raise TypeError(
                f"The after_request function {step.func.__qualname__!r} returned None;"
                " it must return the response it was given (or a new one)."
            )
    session = ctx._session
    if session is not None:
        interface = app.session_interface
        if not interface.is_null_session(session):
            save = ctx.plan.session_save
            if save is None:
                interface.save_session(app, session, response)
            else:
                rv = yield _call(save, app, session, response)
                if type(rv) is CoroutineType:
                    yield _await_call(rv)
    if request_finished.receivers:
        request_finished.send(app, response=response)
    return response


def release_request(
    app: App, ctx: RequestContext, response: Response | None, *, callbacks_only: bool = False
) -> None:
    """After the response: ``call_on_close`` callbacks, then free the request's resources
    (uploaded files' and spooled bodies' temporary files). Plain sync code, no user hooks
    but the callbacks, whose errors are logged."""
    if response is not None and response._on_close:  # PERF: no new list when none
        callbacks, response._on_close = response._on_close, ()
        for func in callbacks:
            try:
                func()
            except Exception:
                app.logger.exception("Error in a call_on_close callback")
    if not callbacks_only:
        ctx.request.close()
        ctx.request.connection.close()


def teardown_flow(app: App, ctx: RequestContext, error: BaseException | None) -> Flow[None]:
    """Step 7: every teardown callable, once per request, whatever happens:
    ``teardown_request`` functions, the ``request_tearing_down`` signal, then the
    ``teardown_appcontext`` functions (the request's app context ends with it)."""
    if ctx.torn_down:
        return
    ctx.torn_down = True
    plan = ctx.plan
    if plan.teardown:
        yield from teardown_steps(app, plan.teardown, error, "teardown_request")
    if request_tearing_down.receivers:
        try:
            request_tearing_down.send(app, exc=error)
        except Exception:
            app.logger.exception("Error in a request_tearing_down receiver")
    if plan.teardown_app:
        yield from teardown_steps(app, plan.teardown_app, error, "teardown_appcontext")


def teardown_steps(
    app: App, steps: tuple[Step, ...], error: BaseException | None, kind: str
) -> Flow[None]:
    """Run teardown callables of one ``kind`` with ``error``, each once: an exception one
    raises is logged and the next one still runs."""
    for step in steps:
        try:
            rv = yield _call(step, error)
            if type(rv) is CoroutineType:
                yield _await_call(rv)
        except Exception:
            app.logger.exception(
                "Error in %s function %r (logged; the others still run)",
                kind,
                getattr(step.func, "__qualname__", step.func),
            )
