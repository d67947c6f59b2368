"""The application core: configuration, the URL map, contexts and response making.

Part of the sans-I/O core: no server, loop or thread is imported here. The object
servers call, :class:`ambi.Ambi`, adds the WSGI and ASGI entry points on top of
:class:`App` in ``serving.py``.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import jinja2

from . import json as ambi_json
from . import templating
from ._pipeline import EndpointPlan, Step
from .config import Config
from .ctx import AppContext, RequestContext, _AppCtxGlobals
from .datastructures import Headers
from .exceptions import (
    HTTPException,
    InternalServerError,
    NotFound,
    RequestRedirect,
    SecurityError,
)
from .mounts import Interface, MountedApp, MountTable, detect_interface, normalize_prefix
from .routing import Map, Rule, WebsocketMismatch
from .scaffold import (
    F,
    Scaffold,
    find_instance_path,
    find_package_path,
    is_async_callable,
    normalize_methods,
    setupmethod,
)
from .sessions import (
    SESSION_CONFIG_DEFAULTS,
    SecureCookieSessionInterface,
    SessionInterface,
    SessionMixin,
)
from .templating import Environment
from .websocket import Websocket, WebsocketContext, WebsocketPlan
from .wrappers import DEFAULT_MAX_CONTENT_LENGTH, Connection, Request, Response

if TYPE_CHECKING:
    from .appgroup import AppGroup
    from .blueprints import Blueprint
    from .types import ResponseReturnValue

__all__ = ["App"]

T = TypeVar("T")
ErrorHandlerCacheKey = tuple[type[BaseException], tuple[str, ...]]


class App(Scaffold):
    """The server-neutral part of an Ambi application. Use :class:`ambi.Ambi`."""

    request_class: ClassVar[type[Request]] = Request
    response_class: ClassVar[type[Response]] = Response
    url_rule_class: ClassVar[type[Rule]] = Rule
    url_map_class: ClassVar[type[Map]] = Map
    #: The class of ``ambi.websocket`` in websocket handlers (Quart's name).
    websocket_class: ClassVar[type[Websocket]] = Websocket
    app_ctx_globals_class: ClassVar[type[_AppCtxGlobals]] = _AppCtxGlobals
    #: Whether this class's ``make_response`` is App's own: the pipeline then makes a
    #: ``str`` view's response itself (PERF, ``_pipeline.direct_response``).
    _plain_make_response: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_make_response = cls.make_response is App.make_response

    json_provider_class: ClassVar[type[ambi_json.JSONProvider]] = ambi_json.DefaultJSONProvider
    #: The class of :attr:`jinja_env`.
    jinja_environment: ClassVar[type[Environment]] = Environment
    #: Extra Jinja2 options (``{"trim_blocks": True}`` …), read when :attr:`jinja_env` is made.
    jinja_options: ClassVar[dict[str, Any]] = {}

    default_config: ClassVar[dict[str, Any]] = {
        "DEBUG": False,
        "TESTING": False,
        "PROPAGATE_EXCEPTIONS": None,
        "SECRET_KEY": None,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
        "SERVER_NAME": None,
        "APPLICATION_ROOT": "/",
        "PREFERRED_URL_SCHEME": "http",
        "TRUSTED_HOSTS": None,
        "MAX_CONTENT_LENGTH": DEFAULT_MAX_CONTENT_LENGTH,
        "MAX_FORM_MEMORY_SIZE": 500_000,
        "MAX_FORM_PARTS": 1000,
        "MAX_FORM_PART_HEADER_SIZE": 8192,
        "BODY_SPOOL_THRESHOLD": 1024 * 1024,
        "PROVIDE_AUTOMATIC_OPTIONS": True,
        "SEND_FILE_MAX_AGE_DEFAULT": None,
        "TEMPLATES_AUTO_RELOAD": None,
        "SYNC_VIEW_THREADS": 40,
        "LOOP_BLOCK_WARNING": None,
        "CANCEL_ON_DISCONNECT": True,
        "WEBSOCKET_MAX_MESSAGE_SIZE": 1024 * 1024,
        "WEBSOCKET_SYNC_THREADS": 100,
        "BACKGROUND_TASK_THREADS": 10,
        "BACKGROUND_TASK_SHUTDOWN_TIMEOUT": 20.0,
        **SESSION_CONFIG_DEFAULTS,
        # Safer than Flask's None; the cookie's value stays byte-compatible with Flask's.
        "SESSION_COOKIE_SAMESITE": "Lax",
    }

    def __init__(
        self,
        import_name: str,
        *,
        static_url_path: str | None = None,
        static_folder: str | os.PathLike[str] | None = "static",
        static_host: str | None = None,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        root_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = "templates",
        instance_path: str | os.PathLike[str] | None = None,
        instance_relative_config: bool = False,
        lifespan: Callable[[Any], AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        super().__init__(import_name)
        #: ``lifespan(app)`` returns an async context manager entered before the app
        #: serves and exited after (Starlette's ``lifespan``); see :meth:`before_serving`.
        self.lifespan = lifespan
        #: Functions run before the app serves / after it stopped, in registration order.
        self.before_serving_funcs: list[Callable[[], Any]] = []
        self.after_serving_funcs: list[Callable[[], Any]] = []
        self.root_path = root_path or find_package_path(import_name)
        if instance_path is None:
            instance_path = find_instance_path(import_name, self.name)
        elif not os.path.isabs(instance_path):
            raise ValueError(
                "If an instance path is provided it must be absolute."
                " A relative path was given instead."
            )
        #: The instance folder: deployment-specific files (config, databases) kept out
        #: of the package. Not created by Ambi. Defaults to ``instance/`` beside the
        #: package, or ``<prefix>/var/<name>-instance`` for an installed package.
        self.instance_path = os.fspath(instance_path)
        #: Where templates are found, relative to :attr:`root_path` (``None``: nowhere).
        self.template_folder = os.fspath(template_folder) if template_folder is not None else None
        self.config = Config(
            self.instance_path if instance_relative_config else self.root_path,
            self.default_config,
        )
        #: Functions run when an app context ends (see :meth:`teardown_appcontext`).
        self.teardown_appcontext_funcs: list[Callable[[BaseException | None], Any]] = []
        self.url_map = self.url_map_class(host_matching=host_matching)
        #: Route by subdomain: with ``SERVER_NAME`` set, the part of the ``Host`` before
        #: it selects the rules with that ``subdomain`` (Flask's ``subdomain_matching``).
        self.subdomain_matching = subdomain_matching
        self.json: ambi_json.JSONProvider = self.json_provider_class(self)
        self.extensions: dict[str, Any] = {}
        self._plans: dict[str | None, EndpointPlan] = {}
        #: Endpoints registered with ``stream_request=True``: their body is not read ahead.
        self.streaming_endpoints: set[str] = set()
        #: Other apps mounted with :meth:`mount` and :meth:`fallback`; ``None`` until then.
        self.mount_table: MountTable | None = None
        #: Endpoints registered with ``@app.websocket`` (served by ASGI servers only).
        self.websocket_endpoints: set[str] = set()
        self._websocket_plans: dict[str | None, WebsocketPlan] = {}
        #: Set once the first WSGI request was served (see ``wsgi.py``).
        self._wsgi_checked = False
        self._error_handler_cache: dict[
            tuple[type[BaseException], tuple[str, ...]], Step | None
        ] = {}
        self._logger: logging.Logger | None = None
        self._session_interface: SessionInterface = SecureCookieSessionInterface()
        #: Registered blueprints by their (dotted) name, in registration order.
        self.blueprints: dict[str, Blueprint] = {}
        #: Callables returning a dict of names for ``ambi shell`` (``def`` or ``async def``).
        self.shell_context_processors: list[Callable[[], Any]] = []
        self._cli: AppGroup | None = None
        #: Absolute path of the static folder, served at ``static_url_path`` (``/static``).
        self.static_folder: str | None = (
            os.path.join(self.root_path, os.fspath(static_folder))
            if static_folder is not None
            else None
        )
        if static_url_path is None and static_folder is not None:
            static_url_path = "/" + os.path.basename(os.fspath(static_folder).rstrip("/\\"))
        self.static_url_path = (static_url_path or "").rstrip("/")
        if static_host is not None and not host_matching:
            raise ValueError("'static_host' is only used with host_matching=True.")
        if self.static_folder is not None:
            self.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                "static",
                self.send_static_file,
                host=static_host,
            )

    def _registration_changed(self) -> None:
        self._plans.clear()
        self._websocket_plans.clear()
        self._error_handler_cache.clear()

    @property
    def cli(self) -> AppGroup:
        """The app's click group: ``@app.cli.command("init-db")`` adds ``ambi init-db``,
        run inside the app context. Created on first use."""
        if self._cli is None:
            from .appgroup import AppGroup

            self._cli = AppGroup(self.name)
        return self._cli

    @cli.setter
    def cli(self, value: AppGroup) -> None:
        self._cli = value

    def shell_context_processor(self, func: F) -> F:
        """Register a function returning a dict of names to add to ``ambi shell``'s
        namespace (besides ``app`` and ``g``). It may be ``def`` or ``async def``."""
        self.shell_context_processors.append(func)
        return func

    # -- configuration shortcuts -----------------------------------------------------------

    @property
    def name(self) -> str:  # type: ignore[override]
        """The application's name: the import name, or the script's name for ``__main__``."""
        if self.import_name == "__main__":
            file: str | None = getattr(sys.modules["__main__"], "__file__", None)
            if file:
                return os.path.splitext(os.path.basename(file))[0]
        return self.import_name

    @property
    def debug(self) -> bool:
        """``config["DEBUG"]``."""
        return bool(self.config["DEBUG"])

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = value
        if self.config["TEMPLATES_AUTO_RELOAD"] is None and "jinja_env" in self.__dict__:
            self.jinja_env.auto_reload = bool(value)

    # -- templates ---------------------------------------------------------------------------

    @property
    def templates_auto_reload(self) -> bool:
        """Whether changed template files are reloaded: ``TEMPLATES_AUTO_RELOAD``, or
        ``DEBUG`` when that is ``None``."""
        value = self.config["TEMPLATES_AUTO_RELOAD"]
        return self.debug if value is None else bool(value)

    @templates_auto_reload.setter
    def templates_auto_reload(self, value: bool | None) -> None:
        self.config["TEMPLATES_AUTO_RELOAD"] = value
        if "jinja_env" in self.__dict__:
            self.jinja_env.auto_reload = self.templates_auto_reload

    @cached_property
    def jinja_loader(self) -> jinja2.FileSystemLoader | None:
        """The loader of :attr:`template_folder`."""
        return templating.folder_loader(self.root_path, self.template_folder)

    @cached_property
    def jinja_env(self) -> Environment:
        """The Jinja2 environment, made on first use by :meth:`create_jinja_environment`."""
        return self.create_jinja_environment()

    def create_jinja_environment(self) -> Environment:
        """Make :attr:`jinja_env` (override to customise it)."""
        return templating.create_jinja_environment(self)

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        """Whether the template ``filename`` is autoescaped (``.html``, ``.htm``, ``.xml``,
        ``.xhtml``, ``.svg`` and string templates are)."""
        return templating.select_jinja_autoescape(filename)

    def update_template_context(self, context: dict[str, Any]) -> None:
        """Add ``g``, ``request``, ``session`` and the context processors' names to
        ``context``; names already there are kept."""
        templating.update_template_context(self, context)

    @setupmethod
    def template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Register the decorated function as a Jinja2 filter (named ``name`` or after it)."""

        def decorator(func: F) -> F:
            self.add_template_filter(func, name=name)
            return func

        return decorator

    @setupmethod
    def add_template_filter(self, func: Callable[..., Any], name: str | None = None) -> None:
        """The non-decorator form of :meth:`template_filter`."""
        templating.add_template_filter(self.jinja_env, func, name)

    @setupmethod
    def template_test(self, name: str | None = None) -> Callable[[F], F]:
        """Register the decorated function as a Jinja2 test (``{% if x is name %}``)."""

        def decorator(func: F) -> F:
            self.add_template_test(func, name=name)
            return func

        return decorator

    @setupmethod
    def add_template_test(self, func: Callable[..., bool], name: str | None = None) -> None:
        """The non-decorator form of :meth:`template_test`."""
        templating.add_template_test(self.jinja_env, func, name)

    @setupmethod
    def template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Register the decorated function as a global of every template."""

        def decorator(func: F) -> F:
            self.add_template_global(func, name=name)
            return func

        return decorator

    @setupmethod
    def add_template_global(self, func: Callable[..., Any], name: str | None = None) -> None:
        """The non-decorator form of :meth:`template_global`."""
        templating.add_template_global(self.jinja_env, func, name)

    @property
    def testing(self) -> bool:
        """``config["TESTING"]``: exceptions reach the test client instead of a 500."""
        return bool(self.config["TESTING"])

    @testing.setter
    def testing(self, value: bool) -> None:
        self.config["TESTING"] = value

    @property
    def secret_key(self) -> str | bytes | None:
        """``config["SECRET_KEY"]``."""
        return cast("str | bytes | None", self.config["SECRET_KEY"])

    @secret_key.setter
    def secret_key(self, value: str | bytes | None) -> None:
        self.config["SECRET_KEY"] = value

    @property
    def propagate_exceptions(self) -> bool:
        """Whether unhandled exceptions are re-raised (``PROPAGATE_EXCEPTIONS``, else
        ``TESTING``) instead of becoming a 500."""
        value = self.config["PROPAGATE_EXCEPTIONS"]
        if value is not None:
            return bool(value)
        return self.testing

    @property
    def logger(self) -> logging.Logger:
        """The ``logging`` logger named after the app; unhandled errors are logged here once.

        If neither it nor its ancestors have a handler, a stderr handler is added.
        """
        if self._logger is None:
            logger = logging.getLogger(self.name)
            if self.debug and not logger.level:
                logger.setLevel(logging.DEBUG)
            if not logger.hasHandlers():
                handler = logging.StreamHandler(sys.stderr)
                handler.setFormatter(
                    logging.Formatter("[%(asctime)s] %(levelname)s in %(module)s: %(message)s")
                )
                logger.addHandler(handler)
            self._logger = logger
        return self._logger

    @property
    def session_interface(self) -> SessionInterface:
        """How sessions are opened and saved; the default is Flask's signed cookie.

        ``open_session``/``save_session`` of a custom interface may be ``def`` or
        ``async def``; the pipeline runs them like hooks.
        """
        return self._session_interface

    @session_interface.setter
    def session_interface(self, value: SessionInterface) -> None:
        self._session_interface = value
        self._registration_changed()

    def send_static_file(self, filename: str) -> Response:
        """The view of the ``static`` endpoint: a file from :attr:`static_folder`, with
        conditional and range requests, never from outside the folder."""
        from .sendfile import send_static_file

        return send_static_file(self, filename)

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """Cache lifetime for files sent with ``send_file``: ``SEND_FILE_MAX_AGE_DEFAULT``
        (``None``, the default, makes browsers revalidate with conditional requests)."""
        value = self.config["SEND_FILE_MAX_AGE_DEFAULT"]
        if value is None:
            return None
        if isinstance(value, timedelta):
            return int(value.total_seconds())
        return int(value)

    def open_session_now(self, request: Request) -> SessionMixin:
        """Open the session synchronously (first use of ``session`` when the pipeline did
        not open it ahead: the built-in cookie interface, or a test request context)."""
        interface = self._session_interface
        open_session = interface.open_session
        # PERF: the built-in interface's method is known to be sync; skipping the
        # inspection saves ~1 us per render_template (benchmarks/inprocess.py template).
        if getattr(
            open_session, "__func__", None
        ) is not SecureCookieSessionInterface.open_session and is_async_callable(open_session):
            raise RuntimeError(
                "This app's session interface opens sessions with an async def method, so"
                " the session can only be used while Ambi handles a request."
            )
        session = open_session(self, request)
        return session if session is not None else interface.make_null_session(self)

    # -- registration ------------------------------------------------------------------------

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Register a URL rule; ``route`` and ``get``/``post``… use this.

        ``endpoint`` defaults to the view's ``__name__``. Registering a different view
        for an endpoint that already has one is an error (as in Flask).
        ``stream_request=True`` (an Ambi option) hands the body to the view unread, as
        ``request.stream``: under ASGI nothing is read ahead of an ``async def`` view.
        """
        if endpoint is None:
            if view_func is None:
                raise TypeError("add_url_rule() needs an endpoint or a view_func.")
            endpoint = view_func.__name__
        options["endpoint"] = endpoint
        stream_request = bool(options.pop("stream_request", False))
        if options.get("websocket"):
            # The handshake is a GET; OPTIONS means nothing to a websocket client.
            provide_automatic_options = False
            self.websocket_endpoints.add(endpoint)
        methods = options.pop("methods", None)
        if methods is None:
            methods = getattr(view_func, "methods", None) or ("GET",)
        method_set = normalize_methods(methods)
        required = set(getattr(view_func, "required_methods", ()))
        if provide_automatic_options is None:
            provide_automatic_options = getattr(view_func, "provide_automatic_options", None)
        if provide_automatic_options is None:
            provide_automatic_options = "OPTIONS" not in method_set and bool(
                self.config["PROVIDE_AUTOMATIC_OPTIONS"]
            )
        if provide_automatic_options:
            required.add("OPTIONS")
        rule_obj = self.url_rule_class(rule, methods=method_set | required, **options)
        rule_obj.provide_automatic_options = provide_automatic_options
        self.url_map.add(rule_obj)
        if stream_request:
            self.streaming_endpoints.add(endpoint)
        if view_func is not None:
            existing = self.view_functions.get(endpoint)
            if existing is not None and existing is not view_func:
                raise AssertionError(
                    "View function mapping is overwriting an existing endpoint function:"
                    f" {endpoint!r}. Give the view another endpoint name with"
                    " endpoint='...'."
                )
            self.view_functions[endpoint] = view_func

    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Register a blueprint: its routes (with ``url_prefix``), hooks, error handlers,
        templates and static files join the app. Options override the blueprint's:
        ``url_prefix``, ``subdomain``, ``url_defaults``, ``name`` (to register one
        blueprint twice under different names)."""
        blueprint.register(self, options)

    def iter_blueprints(self) -> list[Blueprint]:
        """The registered blueprints, in registration order."""
        return list(self.blueprints.values())

    # -- other applications (mounts.py; run by the adapters through bridges.py) -------------

    def mount(
        self,
        prefix: str,
        app: Callable[..., Any],
        *,
        interface: Interface | None = None,
        endpoint_prefix: str | None = None,
    ) -> None:
        """Serve every request under ``prefix`` with another WSGI or ASGI application::

            app.mount("/legacy", legacy_flask_app)   # /legacy and /legacy/..., not /legacyx

        The other app sees the prefix in ``SCRIPT_NAME`` (WSGI) or ``root_path`` (ASGI)
        and the rest of the path in ``PATH_INFO`` (or ``path``, which per the ASGI spec
        still includes ``root_path``). Its kind is detected (an ``async def`` callable is
        ASGI, another Ambi app serves both ways, anything else is WSGI); ``interface``
        (``"wsgi"``, ``"asgi"`` or ``"both"``) overrides that. Under a WSGI server a WSGI
        app is called directly; under an ASGI server it runs in worker threads through
        a2wsgi, its body streamed. An ASGI app is awaited directly under an ASGI server
        and runs through a2wsgi on an event loop thread of its own under a WSGI server.

        Mounted requests bypass Ambi entirely: no routing, hooks, error handlers,
        sessions or limits of this app apply. With ``endpoint_prefix``, the mounted app's
        URL rules (a Flask app's ``url_map``) are added as build-only rules under that
        prefix, so ``url_for("legacy.index")`` builds ``/legacy/``. The root ``/`` is
        refused: that is :meth:`fallback`.
        """
        normalized = normalize_prefix(prefix)
        table = self.mount_table or MountTable()
        table.add(MountedApp(app, detect_interface(app, interface), normalized))
        self.mount_table = table
        if endpoint_prefix is not None:
            self.add_build_only_rules(app, endpoint_prefix=endpoint_prefix, url_prefix=normalized)

    def fallback(
        self,
        app: Callable[..., Any],
        *,
        interface: Interface | None = None,
        endpoint_prefix: str | None = None,
    ) -> None:
        """Send every request this app does not route to another WSGI or ASGI
        application, unchanged (same ``SCRIPT_NAME``/``root_path``): the way to migrate
        an existing app one route at a time::

            app = Ambi(__name__, static_folder=None)
            app.fallback(legacy_flask_app, endpoint_prefix="legacy")

        A request goes to the fallback when no rule matches its path (what would be a
        404) or when rules match its path but not its method (a 405: the legacy app may
        still serve that method). The decision is made once, when the URL is matched,
        before any hook runs: a fallback request runs none of this app's hooks, error
        handlers or session handling. A strict-slash redirect to one of this app's
        routes, automatic ``OPTIONS`` and a 400 for a malformed path stay this app's.
        ``interface`` and ``endpoint_prefix`` are as for :meth:`mount`; one fallback per
        app.
        """
        table = self.mount_table or MountTable()
        if table.fallback is not None:
            raise ValueError(
                f"This app already has a fallback ({table.fallback.app!r}); mount other"
                " apps under a prefix with app.mount(prefix, other_app)."
            )
        table.fallback = MountedApp(app, detect_interface(app, interface))
        self.mount_table = table
        if endpoint_prefix is not None:
            self.add_build_only_rules(app, endpoint_prefix=endpoint_prefix)

    def add_build_only_rules(
        self, source: Any, *, endpoint_prefix: str, url_prefix: str = ""
    ) -> None:
        """Add the URL rules of another app (a Flask app, or a Werkzeug ``Map``) as
        build-only rules: never matched, only built by ``url_for``, each endpoint
        renamed ``"<endpoint_prefix>.<endpoint>"`` and each path put under
        ``url_prefix``::

            app.add_build_only_rules(legacy, endpoint_prefix="legacy")
            url_for("legacy.profile", user_id=1)   # "/profile/1", served by the legacy app

        The rules are copied now: rules added to the other app later are not seen. A
        rule using a converter this app does not know raises ``ValueError``; register
        the converter in ``app.url_map.converters`` first, or add that rule by hand with
        ``app.add_url_rule(rule, endpoint=..., build_only=True)``.
        """
        url_map = getattr(source, "url_map", source)
        iter_rules = getattr(url_map, "iter_rules", None)
        if iter_rules is None:
            raise TypeError(
                f"{source!r} has no URL rules to import (a Flask app or a Werkzeug Map);"
                " add build-only rules one by one with"
                " app.add_url_rule(rule, endpoint=..., build_only=True)."
            )
        if url_prefix:
            url_prefix = normalize_prefix(url_prefix)
        for rule in list(iter_rules()):
            endpoint = f"{endpoint_prefix}.{rule.endpoint}"
            options: dict[str, Any] = {"strict_slashes": getattr(rule, "strict_slashes", None)}
            if getattr(rule, "defaults", None):
                options["defaults"] = dict(rule.defaults)
            if getattr(rule, "subdomain", None):
                options["subdomain"] = rule.subdomain
            if getattr(rule, "host", None):
                options["host"] = rule.host
            methods = getattr(rule, "methods", None) or ("GET", "POST", "PUT", "PATCH", "DELETE")
            try:
                self.add_url_rule(
                    url_prefix + rule.rule,
                    endpoint=endpoint,
                    methods=sorted(methods),
                    provide_automatic_options=False,
                    build_only=True,
                    **options,
                )
            except (LookupError, ValueError) as exc:
                raise ValueError(
                    f"The rule {rule.rule!r} (endpoint {rule.endpoint!r}) of {source!r}"
                    f" cannot be added as a build-only rule: {exc}. Register its converter"
                    " in app.url_map.converters first, or add the rule by hand with"
                    " app.add_url_rule(rule, endpoint=..., build_only=True)."
                ) from exc

    # -- per-request objects ------------------------------------------------------------------

    def plan_for(self, endpoint: str | None) -> EndpointPlan:
        """The frozen hook chain for ``endpoint`` (``None``: requests that matched nothing)."""
        plan = self._plans.get(endpoint)
        if plan is None:
            plan = self._plans[endpoint] = EndpointPlan(self, endpoint)
        return plan

    def create_request_context(self, connection: Connection) -> RequestContext:
        """Build the request and its context, and match the URL. No user code runs here."""
        config = self.config
        request = self.request_class(connection, config["MAX_CONTENT_LENGTH"], self.json.loads)
        # The form limits are read from the config when a form is parsed (wrappers.py).
        request._limits_config = config
        # PERF: while TRUSTED_HOSTS is unset (the default) this one dict lookup is its whole
        # cost per request (benchmarks/inprocess.py).
        trusted_hosts = config["TRUSTED_HOSTS"]
        if trusted_hosts is not None:
            _check_host(request, trusted_hosts)
        ctx = RequestContext(self, request)
        endpoint = self._match_url(ctx, False) if request.routing_exception is None else None
        # PERF: plan_for's common case inline (benchmarks/inprocess.py).
        ctx.plan = self._plans.get(endpoint) or self.plan_for(endpoint)
        return ctx

    def websocket_plan_for(self, endpoint: str | None) -> WebsocketPlan:
        """The frozen hook chain of the websocket endpoint ``endpoint``."""
        plan = self._websocket_plans.get(endpoint)
        if plan is None:
            plan = self._websocket_plans[endpoint] = WebsocketPlan(self, endpoint)
        return plan

    def create_websocket_context(self, connection: Connection) -> WebsocketContext:
        """Build the websocket (the handshake request) and its context, and match the URL
        against the websocket rules. No user code runs here."""
        websocket = self.websocket_class(
            connection,
            self.json.loads,
            self.json.dumps,
            self.config["WEBSOCKET_MAX_MESSAGE_SIZE"],
        )
        trusted_hosts = self.config["TRUSTED_HOSTS"]
        if trusted_hosts is not None:
            _check_host(websocket, trusted_hosts)
        ctx = WebsocketContext(self, websocket)
        ctx.plan = self.websocket_plan_for(
            self._match_url(ctx, True) if websocket.routing_exception is None else None
        )
        return ctx

    def _match_url(self, ctx: RequestContext, websocket: bool) -> str | None:
        """Match the request's URL: set its ``url_rule`` and ``view_args`` and return the
        endpoint, or store the routing error on the request and return ``None``."""
        request = ctx.request
        try:
            if self.subdomain_matching or self.url_map.host_matching:
                rule, values = self._match_on_domain(ctx, websocket)
            else:
                rule, values = self.url_map.match(request.path, request.method, websocket=websocket)
        except RequestRedirect as redirect:
            from .http import url_quote  # a rare path: keep the import off the hot one

            query = request.connection.query_string
            # new_url is a decoded path: quote it back ("%3F" must not become a "?", nor a
            # decoded CR/LF or "€" reach the Location header).
            path = url_quote(request.root_path.rstrip("/") + redirect.new_url)
            try:
                host = request.host
            except HTTPException as exc:  # an invalid Host, or one not in TRUSTED_HOSTS
                request.routing_exception = exc
                return None
            # Without any host (HTTP/1.0, no Host): a relative location, not "http:///...".
            location = f"{request.scheme}://{host}{path}" if host else "/" + path.lstrip("/")
            if query:
                location = f"{location}?{query.decode('latin-1')}"
            request.routing_exception = RequestRedirect(location)
        except WebsocketMismatch:
            request.routing_exception = _websocket_mismatch(request, websocket)
        except HTTPException as exc:
            request.routing_exception = exc
        else:
            request.url_rule = rule
            request.view_args = values
            ctx.automatic_options = request.method == "OPTIONS" and bool(
                getattr(rule, "provide_automatic_options", False)
            )
            return rule.endpoint
        return None

    def _match_on_domain(
        self, ctx: RequestContext, websocket: bool = False
    ) -> tuple[Rule, dict[str, Any]]:
        """Match the URL with the request's host (``host_matching``) or subdomain."""
        request = ctx.request
        url_map = self.url_map
        if url_map.host_matching:
            host = ctx.url_host = url_map.normalize_host(request.host, request.scheme)
            return url_map.match(request.path, request.method, host=host, websocket=websocket)
        server_name = self.config["SERVER_NAME"]
        if not server_name:  # as Flask: every request is on the default subdomain
            return url_map.match(request.path, request.method, websocket=websocket)
        subdomain = url_map.subdomain_of(request.host, server_name, request.scheme)
        if subdomain is None:  # a host outside SERVER_NAME: no rule is for it
            raise NotFound()
        ctx.url_subdomain = subdomain
        return url_map.match(request.path, request.method, subdomain=subdomain, websocket=websocket)

    @setupmethod
    def before_serving(self, func: F) -> F:
        """Run ``func()`` once before the app serves its first request (Quart's
        ``before_serving``): open pools and clients there, close them in
        :meth:`after_serving`::

            @app.before_serving
            async def open_pool():
                app.extensions["pool"] = await create_pool()

        ``def`` or ``async def``; several run in registration order, inside an app
        context (``current_app`` and ``g``), after entering the ``lifespan`` context
        manager if the app has one. Under ASGI they run on the lifespan protocol (a
        failure stops the server); under WSGI once per worker process, at its first
        request, on that request's thread. Test clients do not run them: use
        :meth:`~ambi.Ambi.test_serving`. See the Lifespan guide.
        """
        self.before_serving_funcs.append(func)
        return func

    @setupmethod
    def after_serving(self, func: F) -> F:
        """Run ``func()`` once when the server stops, after the background tasks were
        waited for (Quart's ``after_serving``)::

            @app.after_serving
            async def close_pool():
                await app.extensions["pool"].close()

        ``def`` or ``async def``; several run in registration order, as in Quart (not
        reversed), before the ``lifespan`` context manager is exited. An error in one is
        logged and the others still run. Under WSGI they run at the worker process's
        exit, on the loop :meth:`before_serving` used.
        """
        self.after_serving_funcs.append(func)
        return func

    @setupmethod
    def teardown_appcontext(self, func: F) -> F:
        """Run ``func(error)`` when an application context ends: after each request's
        ``teardown_request`` functions, and when a ``with app.app_context():`` block
        exits. ``error`` is the unhandled exception or ``None``. The place to release
        what a request or command took (a database connection kept on ``g``)::

            @app.teardown_appcontext
            def close_db(error):
                db = g.pop("db", None)
                if db is not None:
                    db.close()

        ``def`` or ``async def``; in reverse registration order. In a request an exception
        it raises is logged (the response is already made); at the end of a plain app
        context it propagates, as in Flask.
        """
        self.teardown_appcontext_funcs.append(func)
        return func

    def do_teardown_appcontext(self, exc: BaseException | None = None) -> None:
        """Run the :meth:`teardown_appcontext` functions of a plain app context (the
        pipeline runs them itself at the end of a request); ``async def`` ones through
        :meth:`run_coroutine`."""
        for func in reversed(self.teardown_appcontext_funcs):
            self.ensure_sync(func)(exc)

    def run_coroutine(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` to completion from sync code outside a request (an
        ``async def`` teardown of a plain app context, :meth:`ensure_sync`).

        The core has no event loop: :class:`ambi.Ambi` runs it on the calling thread's
        persistent loop, the one ``async def`` views use under WSGI.
        """
        coroutine.close()
        raise RuntimeError(f"{type(self).__name__} cannot run coroutines; use ambi.Ambi.")

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` itself if it is a ``def``; for an ``async def``, a ``def`` wrapper that
        runs it to completion with :meth:`run_coroutine` (Flask's ``ensure_sync``)."""
        if is_async_callable(func):
            return self.async_to_sync(func)
        return func

    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
        """A ``def`` wrapper running the ``async def`` ``func`` with :meth:`run_coroutine`.

        It cannot be called from inside a running event loop (an ``async def`` view):
        await ``func`` there instead.
        """

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            return self.run_coroutine(func(*args, **kwargs))

        return wrapper

    def open_instance_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = "utf-8"
    ) -> IO[Any]:
        """Open ``resource``, a path relative to :attr:`instance_path` (any ``mode``;
        ``encoding`` applies to text modes)."""
        path = os.path.join(self.instance_path, resource)
        if "b" in mode:
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    def app_context(self) -> AppContext:
        """A context that makes ``current_app`` and ``g`` available::

        with app.app_context():
            init_db()
        """
        return AppContext(self)

    def test_request_context(
        self,
        path: str = "/",
        method: str = "GET",
        *,
        query_string: str | bytes = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        data: bytes | str | None = None,
        json: Any = None,
        base_url: str = "http://localhost",
    ) -> RequestContext:
        """A request context for a request that was never sent, for tests and scripts::

        with app.test_request_context("/users/1?q=x"):
            assert request.args["q"] == "x"
        """
        from ._testing_connection import build_test_connection

        body = data.encode() if isinstance(data, str) else data
        header_list = list(Headers(headers).items()) if headers is not None else []
        if json is not None:
            body = self.json.dumps(json).encode()
            header_list.append(("Content-Type", "application/json"))
        connection = build_test_connection(path, method, query_string, header_list, body, base_url)
        return self.create_request_context(connection)

    # -- errors --------------------------------------------------------------------------------

    def find_error_handler(
        self, exc: BaseException, blueprints: tuple[str, ...] = ()
    ) -> Step | None:
        """The handler registered for ``exc``: the innermost blueprint first, then the app;
        in each, by status code first, then by class along the MRO (as Flask)."""
        exc_class = type(exc)
        key = (exc_class, blueprints)
        cache = self._error_handler_cache
        if key in cache:
            return cache[key]
        code = exc.code if isinstance(exc, HTTPException) else None
        found: Step | None = None
        for scope in (*blueprints, None):
            spec = self.error_handler_spec.get(scope)
            if not spec:
                continue
            for status in (code, None) if code is not None else (None,):
                handler_map = spec.get(status)
                if not handler_map:
                    continue
                for cls in exc_class.__mro__:
                    handler = handler_map.get(cls)
                    if handler is not None:
                        found = Step(handler)
                        break
                if found is not None:
                    break
            if found is not None:
                break
        cache[key] = found
        return found

    def log_exception(self, exc: BaseException, ctx: RequestContext) -> None:
        """Log an unhandled exception once, with the request line."""
        request = ctx.request
        self.logger.error("Exception on %s [%s]", request.path, request.method, exc_info=exc)

    def make_server_error_response(
        self, error: InternalServerError, ctx: RequestContext
    ) -> Response:
        """The 500 page when no handler exists. Never a traceback unless ``DEBUG`` is on."""
        if self.debug and error.original_exception is not None:
            import html
            import traceback

            text = "".join(traceback.format_exception(error.original_exception))
            body = (
                "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
                "<h1>Internal Server Error (debug mode)</h1>\n"
                f"<pre>{html.escape(text)}</pre>\n"
            )
            return self.response_class(body, 500)
        return error.get_response()

    # -- responses -------------------------------------------------------------------------------

    def make_default_options_response(self, ctx: RequestContext) -> Response:
        """The automatic ``OPTIONS`` answer: 200 with ``Allow``."""
        methods = self.url_map.allowed_methods(
            ctx.request.path, host=ctx.url_host, subdomain=ctx.url_subdomain
        )
        response = self.response_class()
        response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    def make_response(self, rv: ResponseReturnValue | HTTPException | None) -> Response:
        """Turn a view's return value into a :class:`Response`, as Flask does.

        Accepted: ``Response``; ``str``/``bytes``; ``dict``/``list`` (JSON); a sync or async
        iterator/generator (streamed); a tuple ``(body, status, headers)``,
        ``(body, status)`` or ``(body, headers)``; an ``HTTPException``.
        """
        status: Any = None
        headers: Any = None
        if isinstance(rv, tuple):
            size = len(rv)
            if size == 3:
                rv, status, headers = rv
            elif size == 2:
                if isinstance(rv[1], (Headers, dict, tuple, list)):
                    rv, headers = rv
                else:
                    rv, status = rv
            else:
                raise TypeError(
                    "The view function did not return a valid response tuple. The tuple must"
                    " have the form (body, status, headers), (body, status), or (body,"
                    " headers)."
                )
        if rv is None:
            raise TypeError(
                "The view function did not return a valid response. The function either"
                " returned None or ended without a return statement."
            )
        response: Response
        if isinstance(rv, Response):
            response = rv
        elif isinstance(rv, (str, bytes, bytearray)):
            response = self.response_class(rv)
        elif isinstance(rv, (dict, list)):
            response = self.json.response(rv)
        elif isinstance(rv, HTTPException):
            response = rv.get_response()
        elif isinstance(rv, (Iterator, AsyncIterable)) or hasattr(rv, "__anext__"):
            response = self.response_class(cast("Iterable[str | bytes]", rv))
        else:
            raise TypeError(
                "The view function did not return a valid response. The return type must be"
                " a string, dict, list, tuple with headers or status, Response instance,"
                f" or a (async) generator, but it was a {type(rv).__name__}."
            )
        if status is not None:
            response.status = status
        if headers:
            response.headers.update(headers)
        return response


def _check_host(request: Request, trusted_hosts: list[str]) -> None:
    """``TRUSTED_HOSTS``, checked before the URL is matched, as in Flask: a request for
    another host gets a :class:`SecurityError` (400) as its routing error, so no view runs,
    and ``request.host`` (so ``request.url`` and ``url_for(..., _external=True)``) raises
    the same error in the hooks that still run before it."""
    request.trusted_hosts = trusted_hosts
    if request.routing_exception is None:
        try:
            request.host  # noqa: B018 - checks the host, and caches it when trusted
        except SecurityError as exc:
            request.routing_exception = exc


def _websocket_mismatch(request: Request, websocket: bool) -> WebsocketMismatch:
    """The 400 for a URL that exists for the other kind of request, saying which."""
    if websocket:
        return WebsocketMismatch(
            "This URL is not a WebSocket endpoint: it answers plain HTTP requests."
        )
    if request.connection.interface == "wsgi":
        return WebsocketMismatch(
            "This URL is a WebSocket endpoint, and WebSockets need an ASGI server (such as"
            " uvicorn): this app is being served through WSGI."
        )
    return WebsocketMismatch(
        "This URL is a WebSocket endpoint: connect to it with a WebSocket client (ws:// or"
        " wss://), not with a plain HTTP request."
    )
