"""``request``, ``g``, ``session``, ``current_app`` and ``websocket``: proxies over one
ContextVar.

Part of the sans-I/O core. Ambi keeps the current context (an application context,
or a request context which is also one) in a single :class:`contextvars.ContextVar`.
Because it is a ContextVar, the value follows the code wherever the request goes:
into a worker thread that runs a ``def`` view under ASGI (the context is copied), into
tasks a view starts, and into a streamed response body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from .app import App
    from .ctx import AppContext, RequestContext, _AppCtxGlobals
    from .sessions import SessionMixin
    from .websocket import Websocket
    from .wrappers import Request

__all__ = ["current_app", "g", "request", "session", "websocket"]

#: The one ContextVar: the innermost pushed context, or unset.
_cv_context: ContextVar[AppContext] = ContextVar("ambi.context")

_APP_CONTEXT_MESSAGE = (
    "Working outside of application context: {name} is only available while Ambi handles a"
    " request or inside 'with app.app_context():'. In a script, a shell or a test, push one"
    " with 'with app.app_context(): ...'."
)
_REQUEST_CONTEXT_MESSAGE = (
    "Working outside of request context: {name} is only available while Ambi handles a"
    " request. In a test, use 'with app.test_request_context(\"/path\"): ...' or send a request"
    " with 'app.test_client()'."
)


_WEBSOCKET_CONTEXT_MESSAGE = (
    "Working outside of websocket context: {name} is only available in a websocket handler"
    " (@app.websocket(...)) and its before_websocket/after_websocket hooks. In a test,"
    " connect with: with app.test_client('asgi').websocket_connect('/path') as ws: ..."
)


def _app_context(name: str) -> AppContext:
    try:
        return _cv_context.get()
    except LookupError:
        raise RuntimeError(_APP_CONTEXT_MESSAGE.format(name=name)) from None


def _request_context(name: str) -> RequestContext:
    ctx = _cv_context.get(None)
    request_ctx = getattr(ctx, "request_context", None)
    if request_ctx is None:
        raise RuntimeError(_REQUEST_CONTEXT_MESSAGE.format(name=name))
    return cast("RequestContext", request_ctx)


class _ContextProxy:
    """Forwards every operation to the object ``lookup()`` returns right now.

    ``_get_current_object()`` returns the object itself, e.g. to pass it to another thread
    that will outlive the context.
    """

    __slots__ = ("_lookup",)

    def __init__(self, lookup: Callable[[], Any]) -> None:
        object.__setattr__(self, "_lookup", lookup)

    def _get_current_object(self) -> Any:
        return self._lookup()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lookup(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._lookup(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._lookup(), name)

    def __getitem__(self, key: Any) -> Any:
        return self._lookup()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._lookup()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._lookup()[key]

    def __contains__(self, item: Any) -> bool:
        return item in self._lookup()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def __bool__(self) -> bool:
        try:
            return bool(self._lookup())
        except RuntimeError:
            return False

    def __eq__(self, other: object) -> bool:
        return bool(self._lookup() == other)

    def __ne__(self, other: object) -> bool:
        return bool(self._lookup() != other)

    __hash__ = None  # type: ignore[assignment]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._lookup()(*args, **kwargs)

    def __repr__(self) -> str:
        try:
            return repr(self._lookup())
        except RuntimeError:
            return "<unbound proxy>"

    def __str__(self) -> str:
        return str(self._lookup())


class _RequestProxy(_ContextProxy):
    """``request``: public attribute reads go straight to the current request."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        # PERF: a view reads ``request.<attr>`` several times per request. Through
        # ``__getattr__`` each read first fails a lookup on the proxy (an AttributeError
        # raised and caught), then takes three Python calls; here it is one ContextVar
        # read and two attribute reads, ~3.5x faster (benchmarks/inprocess.py args: five
        # reads, callgrind -20k instr/request). Only a request context has a ``request``
        # attribute. Names starting with ``_`` (the proxy's own, dunders) and reads
        # outside a request context take the usual path, which forwards them or raises the
        # usual error.
        if name[:1] != "_":
            try:
                current = _cv_context.get().request  # type: ignore[attr-defined]
            except (LookupError, AttributeError):
                pass
            else:
                return getattr(current, name)
        return object.__getattribute__(self, name)


current_app: App = cast("App", _ContextProxy(lambda: _app_context("current_app").app))
g: _AppCtxGlobals = cast("_AppCtxGlobals", _ContextProxy(lambda: _app_context("g").g))
request: Request = cast("Request", _RequestProxy(lambda: _request_context("request").request))
session: SessionMixin = cast(
    "SessionMixin", _ContextProxy(lambda: _request_context("session").session)
)


def _websocket(name: str) -> Any:
    ctx = _cv_context.get(None)
    current = getattr(getattr(ctx, "request_context", None), "current_websocket", None)
    if current is None:
        raise RuntimeError(_WEBSOCKET_CONTEXT_MESSAGE.format(name=name))
    return current()


class _WebsocketProxy(_ContextProxy):
    """``websocket``: also iterable with ``async for`` (special methods are looked up on
    the type, so the proxy must have them itself)."""

    __slots__ = ()

    def __aiter__(self) -> Any:
        return self._lookup().__aiter__()


websocket: Websocket = cast("Websocket", _WebsocketProxy(lambda: _websocket("websocket")))
