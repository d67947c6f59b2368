"""The Flask-style registration surface shared by the app (and, later, blueprints).

Part of the sans-I/O core: decorators that record views, hooks and error handlers.
Nothing here runs per request. Whether each callable is ``async def`` is decided here,
once, when it is registered (see :func:`is_async_callable`), never on the request path.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from typing import IO, Any, TypeVar

from .exceptions import HTTPException, default_exceptions

__all__ = [
    "Scaffold",
    "ScopeKey",
    "find_instance_path",
    "find_package_path",
    "inline",
    "is_async_callable",
    "is_inline",
    "setupmethod",
]

F = TypeVar("F", bound=Callable[..., Any])
ErrorHandlerKey = int | type[BaseException]
#: ``None`` for the app (or blueprint) itself, else a registered blueprint's dotted name.
ScopeKey = str | None


def find_package_path(import_name: str) -> str:
    """The folder of the module ``import_name`` (the current directory if unknown)."""
    module = sys.modules.get(import_name)
    file: str | None = getattr(module, "__file__", None)
    if file:
        return os.path.dirname(os.path.abspath(file))
    return os.getcwd()


def find_instance_path(import_name: str, name: str) -> str:
    """Flask's default instance folder for the app ``import_name``.

    ``instance/`` beside the top-level package (or module) when the code is not
    installed; ``<prefix>/var/<name>-instance`` when it is installed into a Python
    prefix (a virtualenv or system ``site-packages``).
    """
    root = import_name.partition(".")[0]
    module = sys.modules.get(root)
    spec = None
    if module is None or getattr(module, "__file__", None) is None:
        try:
            spec = importlib.util.find_spec(root)
        except (ImportError, ValueError):
            spec = None
    if module is not None and getattr(module, "__path__", None):
        # A package (also a namespace package): the folder holding its folder.
        folder = os.path.dirname(os.path.abspath(next(iter(module.__path__))))
    elif module is not None and getattr(module, "__file__", None):
        folder = os.path.dirname(os.path.abspath(module.__file__ or ""))
    elif spec is not None and spec.submodule_search_locations:
        folder = os.path.dirname(os.path.abspath(next(iter(spec.submodule_search_locations))))
    elif spec is not None and spec.origin and os.path.isabs(spec.origin):
        folder = os.path.dirname(spec.origin)
    else:
        folder = os.getcwd()
    prefix = os.path.abspath(sys.prefix)
    parts = folder.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return os.path.join(prefix, "var", f"{name}-instance")
    return os.path.join(folder, "instance")


def is_async_callable(func: Callable[..., Any]) -> bool:
    """True when calling ``func`` returns a coroutine to await.

    Sees through ``functools.partial`` and objects with an ``async def __call__``.
    A plain ``def`` wrapper around an ``async def`` view (a decorator without
    :func:`inspect.markcoroutinefunction`) is sync by this test; the pipeline awaits the
    coroutine it returns, at the cost of one extra step.
    """
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - we want the method itself
    return call is not None and not inspect.isfunction(func) and inspect.iscoroutinefunction(call)


def inline(func: F) -> F:
    """Mark a ``def`` view or hook as never blocking, so that under ASGI it runs on the
    event loop instead of in a worker thread (no thread hop)::

        @app.get("/ping")
        @inline
        def ping():
            return "pong"

    It takes effect for a route when every ``def`` callable of the route (hooks, view,
    ``teardown_appcontext``) is marked or is ``async def``; otherwise the route keeps its
    one thread hop. The request body of an inline route is read before the view runs. A
    marked function that does block (I/O, ``time.sleep``, a long computation) stalls every
    request on that event loop: mark only what is cheap. Under WSGI it changes nothing.
    """
    func.__ambi_inline__ = True  # type: ignore[attr-defined]
    return func


def is_inline(func: Callable[..., Any]) -> bool:
    """Whether ``func`` was marked with :func:`inline`."""
    while isinstance(func, functools.partial):
        func = func.func
    return bool(getattr(func, "__ambi_inline__", False))


def setupmethod(method: F) -> F:
    """Mark a registration method: it invalidates the frozen per-endpoint plans."""

    @functools.wraps(method)
    def wrapper(self: Scaffold, *args: Any, **kwargs: Any) -> Any:
        self._registration_changed()
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Scaffold:
    """Holds views, hooks and error handlers; :class:`ambi.Ambi` builds on it."""

    name: str

    #: The folder of the module or package that defines it (set by the subclass).
    root_path: str

    def __init__(self, import_name: str) -> None:
        self.import_name = import_name
        #: endpoint -> view callable
        self.view_functions: dict[str, Callable[..., Any]] = {}
        # Each registry is keyed by scope, as in Flask: ``None`` for this object itself, a
        # blueprint's (dotted) name for what a registered blueprint brought in.
        self.before_request_funcs: dict[ScopeKey, list[Callable[..., Any]]] = {}
        self.after_request_funcs: dict[ScopeKey, list[Callable[..., Any]]] = {}
        self.teardown_request_funcs: dict[ScopeKey, list[Callable[..., Any]]] = {}
        self.url_value_preprocessors: dict[ScopeKey, list[Callable[..., Any]]] = {}
        self.url_default_functions: dict[ScopeKey, list[Callable[..., Any]]] = {}
        self.template_context_processors: dict[ScopeKey, list[Callable[..., Any]]] = {}
        self.before_websocket_funcs: dict[ScopeKey, list[Callable[..., Any]]] = {}
        self.after_websocket_funcs: dict[ScopeKey, list[Callable[..., Any]]] = {}
        #: scope -> status code (or None) -> exception class -> handler, like Flask's spec
        self.error_handler_spec: dict[
            ScopeKey, dict[int | None, dict[type[BaseException], Callable[..., Any]]]
        ] = {}

    def _registration_changed(self) -> None:
        """Hook for subclasses: forget anything computed from the registrations."""

    # -- routes ---------------------------------------------------------------------------

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Register ``view_func`` for URL ``rule`` (see :meth:`route`)."""
        raise NotImplementedError

    def route(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Register the decorated function (``def`` or ``async def``) as the view for ``rule``.

        ``methods`` lists the HTTP methods (default ``["GET"]``; ``HEAD`` and ``OPTIONS``
        are answered automatically). ``endpoint`` names it for ``url_for`` (default: the
        function's name)::

            @app.route("/users/<int:user_id>", methods=["GET", "POST"])
            async def user(user_id): ...
        """

        def decorator(func: F) -> F:
            endpoint = options.pop("endpoint", None)
            self.add_url_rule(rule, endpoint, func, **options)
            return func

        return decorator

    def _method_route(self, method: str, rule: str, options: dict[str, Any]) -> Callable[[F], F]:
        if "methods" in options:
            raise TypeError(
                f"Use the 'route' decorator to pass 'methods'; '{method.lower()}' sets it to"
                f" ['{method}']."
            )
        return self.route(rule, methods=[method], **options)

    def get(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for ``route(rule, methods=["GET"])``."""
        return self._method_route("GET", rule, options)

    def post(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for ``route(rule, methods=["POST"])``."""
        return self._method_route("POST", rule, options)

    def put(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for ``route(rule, methods=["PUT"])``."""
        return self._method_route("PUT", rule, options)

    def delete(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for ``route(rule, methods=["DELETE"])``."""
        return self._method_route("DELETE", rule, options)

    def patch(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Shortcut for ``route(rule, methods=["PATCH"])``."""
        return self._method_route("PATCH", rule, options)

    def websocket(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Register the decorated function (``def`` or ``async def``) as the websocket
        handler for ``rule``; it talks through ``ambi.websocket``. URL converters work as
        for routes; a websocket rule only matches websocket connections (an HTTP request
        to its URL gets 400). Served by ASGI servers only::

            @app.websocket("/ws/<room>")
            async def chat(room):
                async for message in websocket:
                    await websocket.send(f"{room}: {message}")
        """

        def decorator(func: F) -> F:
            endpoint = options.pop("endpoint", None)
            self.add_websocket(rule, endpoint, func, **options)
            return func

        return decorator

    def add_websocket(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        **options: Any,
    ) -> None:
        """The non-decorator form of :meth:`websocket`."""
        if "methods" in options:
            raise TypeError("A websocket rule takes no 'methods': the handshake is a GET.")
        self.add_url_rule(rule, endpoint, view_func, websocket=True, **options)

    @setupmethod
    def endpoint(self, endpoint: str) -> Callable[[F], F]:
        """Register the decorated function as the view for an endpoint added with
        ``add_url_rule(rule, endpoint)`` and no view."""

        def decorator(func: F) -> F:
            self.view_functions[endpoint] = func
            return func

        return decorator

    # -- hooks ----------------------------------------------------------------------------

    def open_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = None
    ) -> IO[Any]:
        """Open ``resource``, a path relative to :attr:`root_path`, for reading
        (``"rb"``, ``"r"`` or ``"rt"``)::

            with app.open_resource("schema.sql", "r") as file:
                db.executescript(file.read())
        """
        if mode not in {"r", "rt", "rb"}:
            raise ValueError("Resources can only be opened for reading.")
        path = os.path.join(self.root_path, resource)
        if mode == "rb":
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    @setupmethod
    def before_request(self, func: F) -> F:
        """Run ``func()`` before each request's view; a non-``None`` return value is sent
        as the response and the view is skipped."""
        self.before_request_funcs.setdefault(None, []).append(func)
        return func

    @setupmethod
    def after_request(self, func: F) -> F:
        """Run ``func(response)`` after the view; it must return a response. Runs in
        reverse registration order, like Flask."""
        self.after_request_funcs.setdefault(None, []).append(func)
        return func

    @setupmethod
    def teardown_request(self, func: F) -> F:
        """Run ``func(error)`` when the request ends, even after an error; ``error`` is the
        unhandled exception or ``None``. Its return value is ignored and an exception it
        raises is logged, never sent to the client."""
        self.teardown_request_funcs.setdefault(None, []).append(func)
        return func

    @setupmethod
    def url_value_preprocessor(self, func: F) -> F:
        """Run ``func(endpoint, values)`` before ``before_request`` hooks; it may edit the
        view arguments in place."""
        self.url_value_preprocessors.setdefault(None, []).append(func)
        return func

    @setupmethod
    def url_defaults(self, func: F) -> F:
        """Run ``func(endpoint, values)`` when ``url_for`` builds a URL; it may add values."""
        self.url_default_functions.setdefault(None, []).append(func)
        return func

    @setupmethod
    def before_websocket(self, func: F) -> F:
        """Run ``func()`` before each websocket handler of this scope (``def`` or ``async
        def``); a non-``None`` return value rejects the handshake with that response,
        and so does an ``abort(403)``. ``ambi.websocket`` is available in it."""
        self.before_websocket_funcs.setdefault(None, []).append(func)
        return func

    @setupmethod
    def after_websocket(self, func: F) -> F:
        """Run ``func(response)`` when a websocket handler of this scope has ended, in
        reverse registration order; ``response`` is ``None`` unless the handshake is
        being rejected with one, and ``func`` returns it (or another one), as Quart."""
        self.after_websocket_funcs.setdefault(None, []).append(func)
        return func

    @setupmethod
    def context_processor(self, func: F) -> F:
        """Register a function returning a dict of names for every template this scope
        renders. It may be ``def`` or ``async def``."""
        self.template_context_processors.setdefault(None, []).append(func)
        return func

    # -- errors ---------------------------------------------------------------------------

    @setupmethod
    def errorhandler(self, code_or_exception: ErrorHandlerKey) -> Callable[[F], F]:
        """Handle an HTTP status code or an exception class with the decorated function.

        The handler receives the exception and returns a response value like a view::

            @app.errorhandler(404)
            def not_found(error):
                return {"error": "not found"}, 404
        """

        def decorator(func: F) -> F:
            self.register_error_handler(code_or_exception, func)
            return func

        return decorator

    @setupmethod
    def register_error_handler(
        self, code_or_exception: ErrorHandlerKey, func: Callable[..., Any]
    ) -> None:
        """The non-decorator form of :meth:`errorhandler`."""
        exc_class, code = self._get_exc_class_and_code(code_or_exception)
        self.error_handler_spec.setdefault(None, {}).setdefault(code, {})[exc_class] = func

    @staticmethod
    def _get_exc_class_and_code(
        exc_class_or_code: ErrorHandlerKey,
    ) -> tuple[type[BaseException], int | None]:
        if isinstance(exc_class_or_code, int):
            try:
                exc_class: type[BaseException] = default_exceptions[exc_class_or_code]
            except KeyError:
                raise ValueError(
                    f"'{exc_class_or_code}' is not a recognized HTTP error code. Use a subclass"
                    " of HTTPException with that code instead."
                ) from None
        else:
            exc_class = exc_class_or_code
        if isinstance(exc_class, BaseException):
            raise TypeError(
                f"{exc_class!r} is an instance, not a class. Handlers can only be"
                " registered for exception classes or HTTP error codes."
            )
        if not isinstance(exc_class, type) or not issubclass(exc_class, Exception):
            raise ValueError(
                f"'{getattr(exc_class, '__name__', exc_class)}' is not a subclass of Exception."
                " Handlers can only be registered for Exception classes or HTTP error codes."
            )
        if issubclass(exc_class, HTTPException):
            return exc_class, exc_class.code
        return exc_class, None


def normalize_methods(methods: Iterable[str] | str | None) -> set[str]:
    """Upper-case a ``methods`` argument; a bare string is a mistake Flask also rejects."""
    if methods is None:
        return {"GET"}
    if isinstance(methods, str):
        raise TypeError(
            "Allowed methods must be a list of strings, for example: @app.route(..., "
            "methods=['POST'])"
        )
    return {method.upper() for method in methods}
