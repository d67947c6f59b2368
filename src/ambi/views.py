"""Class-based views: :class:`View` and :class:`MethodView`, with Flask's API.

Part of the sans-I/O core; nothing here runs per request but the small callables
:meth:`View.as_view` builds.

``def`` and ``async def`` mixed, each run natively
==================================================

One view function has one kind: the pipeline decides once per endpoint whether to call
it or await it. A :class:`MethodView` whose ``get`` is ``def`` and whose ``post`` is
``async def`` needs both, so :meth:`View.as_view` builds two things:

* **The view function** (what ``add_url_rule`` registers, as in Flask). Its kind is the
  kind of ``dispatch_request``; for a :class:`MethodView` that keeps Flask's
  ``dispatch_request`` it is ``async def`` when every handler is, else ``def``. Called
  plainly it always works: for a mixed view it returns the async handler's coroutine,
  which the pipeline then awaits (correct, at the cost of one adaptation: under ASGI a
  thread hop before the coroutine reaches the loop).
* **``view.ambi_method_views``**, for a :class:`MethodView` that keeps Flask's
  ``dispatch_request``: a :class:`MethodViews` map from each HTTP method (``"GET"``,
  ``"POST"``…, ``"HEAD"`` falling back to ``get``) to a callable *of the handler's own
  kind* that makes the instance and calls the handler. The pipeline picks the request
  method's callable, so an ``async def post`` is awaited on the loop with no thread hop
  and a ``def get`` runs in one worker-thread hop under ASGI, or directly under WSGI.
  :func:`method_views_for` returns the map only when it belongs to the very function
  registered (a decorator applied *around* the result of ``as_view`` with
  :func:`functools.wraps` copies the attribute; the map would skip that decorator, so it
  is ignored there and the view function runs instead).

``decorators`` are applied to the view function and to each per-method callable (so a
decorator runs once per request whichever is used, but is *applied* once per handler
plus once, at ``as_view`` time). A decorator should preserve the kind of what it wraps
(an ``async def`` wrapper around an ``async def`` handler). A plain ``def`` wrapper
around an ``async def`` handler still works — it returns a coroutine, which the pipeline
awaits — but that handler then pays the mismatched-kind cost.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, ClassVar, Protocol, cast

from .globals import request
from .scaffold import is_async_callable

__all__ = [
    "MethodView",
    "MethodViews",
    "View",
    "ViewFunction",
    "http_method_funcs",
    "method_views_for",
]

#: The handler names :class:`MethodView` looks for (Flask's list).
http_method_funcs = frozenset(["get", "post", "head", "options", "delete", "put", "trace", "patch"])


class MethodViews(dict[str, Callable[..., Any]]):
    """HTTP method (upper case) -> a callable of the handler's own kind running it.

    ``view`` is the view function the map was built for (see :func:`method_views_for`).
    """

    __slots__ = ("view",)

    def __init__(self) -> None:
        super().__init__()
        self.view: Callable[..., Any] | None = None


class ViewFunction(Protocol):
    """What :meth:`View.as_view` returns: a view function with Flask's attributes."""

    __name__: str
    view_class: type[View]
    methods: Collection[str] | None
    provide_automatic_options: bool | None
    #: Per-method callables for the pipeline, or ``None`` (see the module docstring).
    ambi_method_views: MethodViews | None

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


def method_views_for(view_func: Callable[..., Any]) -> Mapping[str, Callable[..., Any]] | None:
    """The per-method callables to run instead of ``view_func``, or ``None``.

    ``None`` unless ``view_func`` is itself what :meth:`View.as_view` returned (decorators
    from ``View.decorators`` included); a function that merely copied the attribute (a
    :func:`functools.wraps` decorator around the view) runs as one view function.
    """
    views = getattr(view_func, "ambi_method_views", None)
    if isinstance(views, MethodViews) and views.view is view_func:
        return views
    return None


class View:
    """A view as a class, as Flask's ``View``: subclass it, implement
    :meth:`dispatch_request` (``def`` or ``async def``), register
    ``MyView.as_view("name")``.

    Class attributes, as in Flask:

    * ``methods`` — the HTTP methods the view accepts (default: ``GET``);
    * ``provide_automatic_options`` — answer ``OPTIONS`` automatically (default: the
      app's ``PROVIDE_AUTOMATIC_OPTIONS`` unless ``methods`` has ``OPTIONS``);
    * ``decorators`` — applied in order (the first is innermost) to the view function
      and, for a :class:`MethodView`, to each per-method callable: keep the kind of
      what you wrap (see the module docstring);
    * ``init_every_request`` — ``True`` (default): a new instance per request, built
      with the ``as_view`` arguments; ``False``: one instance made by ``as_view``,
      shared by all requests (and threads), so it must keep no per-request state.
    """

    methods: ClassVar[Collection[str] | None] = None
    provide_automatic_options: ClassVar[bool | None] = None
    decorators: ClassVar[list[Callable[..., Any]]] = []
    init_every_request: ClassVar[bool] = True

    def dispatch_request(self) -> Any:
        """Handle the request: override it (``def`` or ``async def``). URL values
        arrive as keyword arguments."""
        raise NotImplementedError(
            f"{type(self).__qualname__} must implement dispatch_request() (def or async def)."
        )

    @classmethod
    def as_view(cls, name: str, *class_args: Any, **class_kwargs: Any) -> ViewFunction:
        """A view function for ``add_url_rule``: each request calls
        ``cls(*class_args, **class_kwargs).dispatch_request(**url_values)`` (with
        ``init_every_request = False`` the instance is made once, here).

        ``name`` is the function's ``__name__``, hence the default endpoint.
        """
        shared = None if cls.init_every_request else cls(*class_args, **class_kwargs)
        handlers = _method_handlers(cls)

        def build(attr: str, is_async: bool, qualname: str | None) -> Callable[..., Any]:
            func = _runner(cls, attr, is_async, shared, class_args, class_kwargs)
            func.__name__ = name
            func.__module__ = cls.__module__
            if qualname is not None:
                func.__qualname__ = qualname
            for decorator in cls.decorators:
                func = decorator(func)
            func.__name__ = name
            func.__module__ = cls.__module__
            func.__doc__ = cls.__doc__
            view = cast(ViewFunction, func)
            view.view_class = cls
            view.methods = cls.methods
            view.provide_automatic_options = cls.provide_automatic_options
            return func

        if handlers is None:
            dispatch_async = is_async_callable(cls.dispatch_request)
        else:  # Flask's MethodView.dispatch_request: async only if every handler is
            dispatch_async = bool(handlers) and all(kind for _, kind in handlers.values())
        view = cast(ViewFunction, build("dispatch_request", dispatch_async, None))
        view.ambi_method_views = None
        if handlers is not None:
            views = MethodViews()
            built: dict[str, Callable[..., Any]] = {}
            for method, (attr, is_async) in handlers.items():
                func = built.get(attr)
                if func is None:
                    func = built[attr] = build(attr, is_async, f"{cls.__qualname__}.{attr}")
                views[method] = func
            views.view = view
            view.ambi_method_views = views
        return view


class MethodView(View):
    """Dispatches each request to the method named after its HTTP method, as Flask's
    ``MethodView``: ``get``, ``post``, ``put``… each ``def`` or ``async def``, mixed
    freely, and each run on its native path. ``HEAD`` falls back to ``get``.

    ``methods`` defaults to the handlers the class (or its bases) defines.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" in cls.__dict__:
            return
        methods: set[str] = set()
        for base in cls.__bases__:
            methods.update(getattr(base, "methods", None) or ())
        methods.update(attr.upper() for attr in http_method_funcs if hasattr(cls, attr))
        if methods:
            cls.methods = methods

    def dispatch_request(self, **kwargs: Any) -> Any:
        """Call the handler for the request's method (``HEAD`` falls back to ``get``)
        and return what it returns (a coroutine for an ``async def`` handler)."""
        method = request.method
        handler = getattr(self, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(self, "get", None)
        if handler is None:
            raise NotImplementedError(
                f"{type(self).__qualname__} accepts {method} but defines no"
                f" {method.lower()}() handler; define one or leave {method} out of 'methods'."
            )
        return handler(**kwargs)


def _method_handlers(cls: type[View]) -> dict[str, tuple[str, bool]] | None:
    """For a MethodView keeping Flask's dispatch: HTTP method -> (handler name, is async).

    ``None`` when the class is not such a MethodView (its ``dispatch_request`` decides).
    Methods from ``cls.methods`` are included too, so a handler for an extension method
    (``propfind``) is found as Flask's ``dispatch_request`` would find it.
    """
    if not issubclass(cls, MethodView) or cls.dispatch_request is not MethodView.dispatch_request:
        return None
    names = set(http_method_funcs)
    names.update(method.lower() for method in cls.methods or ())
    handlers: dict[str, tuple[str, bool]] = {}
    for attr in sorted(names):
        func = getattr(cls, attr, None)
        if func is not None and callable(func):
            handlers[attr.upper()] = (attr, is_async_callable(func))
    if "HEAD" not in handlers and "GET" in handlers:
        handlers["HEAD"] = handlers["GET"]
    return handlers


def _runner(
    cls: type[View],
    attr: str,
    is_async: bool,
    shared: View | None,
    class_args: tuple[Any, ...],
    class_kwargs: dict[str, Any],
) -> Callable[..., Any]:
    """A fresh ``def`` or ``async def`` function (never shared, so attributes and
    decorators can be set on it) running ``attr`` of the shared or a new instance."""
    if shared is not None:
        bound = getattr(shared, attr)
        if is_async:

            async def run_shared_async(**kwargs: Any) -> Any:
                return await bound(**kwargs)

            return run_shared_async

        def run_shared(**kwargs: Any) -> Any:
            return bound(**kwargs)

        return run_shared
    if is_async:

        async def run_new_async(**kwargs: Any) -> Any:
            return await getattr(cls(*class_args, **class_kwargs), attr)(**kwargs)

        return run_new_async

    def run_new(**kwargs: Any) -> Any:
        return getattr(cls(*class_args, **class_kwargs), attr)(**kwargs)

    return run_new
