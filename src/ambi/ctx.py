"""Application and request contexts, pushed onto Ambi's one ContextVar.

Part of the sans-I/O core. ``push()`` sets the ContextVar and keeps the token;
``pop()`` resets it with that token, so push and pop are symmetric on every path.
The adapters push a request context before the pipeline's first step and pop it after
the response body has been sent (or abandoned); see ``_pipeline.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from .globals import _cv_context
from .sessions import SessionMixin
from .signals import appcontext_popped, appcontext_pushed, appcontext_tearing_down

if TYPE_CHECKING:
    from ._pipeline import EndpointPlan
    from .app import App
    from .wrappers import Request

__all__ = ["AppContext", "RequestContext"]

_MISSING: Any = object()


class _AppCtxGlobals:
    """``g``: a namespace for data that lives as long as one app context (one request)."""

    def get(self, name: str, default: Any = None) -> Any:
        """Return attribute ``name``, or ``default``."""
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: Any = _MISSING) -> Any:
        """Remove and return attribute ``name`` (``default`` if given and absent)."""
        if default is _MISSING:
            return self.__dict__.pop(name)
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        """Return attribute ``name``, setting it to ``default`` first if absent."""
        return self.__dict__.setdefault(name, default)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"'g' has no attribute {name!r}: nothing set it in this context.")

    if TYPE_CHECKING:  # any attribute may be set and deleted (``g.user = ...``)

        def __setattr__(self, name: str, value: Any) -> None: ...

        def __delattr__(self, name: str) -> None: ...

    def __contains__(self, item: str) -> bool:
        return item in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __repr__(self) -> str:
        return f"<ambi.g of {object.__repr__(self)}>"


class _LazyGlobals:
    """``ctx.g``, made on first use (the instance's attribute from then on).

    PERF: most requests never touch ``g``; a non-data descriptor costs nothing until
    they do (benchmarks/inprocess.py, plaintext). Assigning ``ctx.g`` replaces it.
    """

    @overload
    def __get__(self, ctx: None, owner: type[AppContext]) -> _LazyGlobals: ...

    @overload
    def __get__(self, ctx: AppContext, owner: type[AppContext]) -> _AppCtxGlobals: ...

    def __get__(
        self, ctx: AppContext | None, owner: type[AppContext]
    ) -> _AppCtxGlobals | _LazyGlobals:
        if ctx is None:
            return self
        g: _AppCtxGlobals = ctx.app.app_ctx_globals_class()
        ctx.__dict__["g"] = g
        return g


class AppContext:
    """Makes ``current_app`` and ``g`` available (``with app.app_context(): ...``)."""

    request_context: RequestContext | None = None
    app: App
    #: ``g``: made by the app's ``app_ctx_globals_class`` when first used.
    g: _LazyGlobals = _LazyGlobals()
    #: Whether the last :meth:`pop` runs the ``teardown_appcontext`` functions itself
    #: (contexts whose functions a driver runs, like a request's, say no).
    teardown_on_pop = True

    def __init__(self, app: App) -> None:
        self.app = app
        self._tokens: list[Token[AppContext]] = []

    def push(self) -> None:
        """Make this context current."""
        self._tokens.append(_cv_context.set(self))
        if appcontext_pushed.receivers:
            appcontext_pushed.send(self.app)

    def pop(self, exc: BaseException | None = None) -> None:
        """Restore the context that was current before :meth:`push`. The last pop of a
        plain app context runs the app's ``teardown_appcontext`` functions (a request's
        pipeline runs them itself, at its teardown step)."""
        try:
            if len(self._tokens) == 1 and self.teardown_on_pop and self.request_context is None:
                self.app.do_teardown_appcontext(exc)
            if appcontext_tearing_down.receivers:
                appcontext_tearing_down.send(self.app, exc=exc)
        finally:
            _cv_context.reset(self._tokens.pop())
        if appcontext_popped.receivers:
            appcontext_popped.send(self.app)

    def __enter__(self) -> AppContext:
        self.push()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.pop(exc_value)


class RequestContext(AppContext):
    """Everything about one request: ``request``, ``session``, ``g`` and ``current_app``.

    It is also an application context, so one ContextVar holds both.
    """

    request: Request
    # A request's pipeline runs the teardown_appcontext functions (and pop() need not
    # call the request_context property to know it).
    teardown_on_pop = False

    # PERF: what most requests never change is a class attribute, set on the instance
    # only when it changes (benchmarks/inprocess.py, plaintext: a context is made per
    # request).
    #: The session once opened (by the pipeline, or on first use of ``session``).
    _session: SessionMixin | None = None
    #: Set once the teardown callables ran, so they run exactly once.
    torn_down = False
    #: Callables registered with ``after_this_request`` (a list once there is one).
    after_request_functions: list[Any] | tuple[()] = ()
    #: True when this is an OPTIONS request the app answers automatically.
    automatic_options = False
    #: The exception that became a 500, passed to teardown callables.
    unhandled_error: BaseException | None = None
    #: The results of the async context processors (see templating.py), once run.
    template_context: dict[Any, Any] | None = None
    #: The flashed messages, once taken from the session by get_flashed_messages().
    flashes: list[tuple[str, str]] | None = None
    #: The request's host as the URL map matched it (``host_matching``), or its
    #: subdomain (``subdomain_matching`` with ``SERVER_NAME``); else ``None``.
    url_host: str | None = None
    url_subdomain: str | None = None
    #: The frozen hook chain of the matched endpoint (set by the app).
    plan: EndpointPlan

    def __init__(self, app: App, request: Request) -> None:
        # PERF: AppContext.__init__ inlined.
        self.app = app
        self._tokens = []
        self.request = request

    @property
    def request_context(self) -> RequestContext:  # type: ignore[override]
        """This context itself (an app context's is ``None``)."""
        # PERF: a property, not ``self.request_context = self``: that self-reference made
        # every request context (and its request, connection, response) cyclic garbage
        # that only the cyclic GC freed; the GC runs it caused were the p99 latency of
        # benchmarks/e2e.py (ASGI plaintext under uvicorn). Now a request dies by refcount.
        return self

    @property
    def session(self) -> SessionMixin:
        """The request's session, opened on first use with the app's session interface.

        Using it marks it accessed (so the response varies on ``Cookie``), as in Flask.
        """
        session = self._session
        if session is None:
            session = self._session = self.app.open_session_now(self.request)
        session.accessed = True
        return session

    @session.setter
    def session(self, value: SessionMixin) -> None:
        self._session = value
