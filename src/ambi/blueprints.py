"""Blueprints: groups of views, hooks, error handlers, templates and static files.

Part of the sans-I/O core. A blueprint records what is registered on it; when it is
registered on an app (``app.register_blueprint(bp, url_prefix="/shop")``) it copies its
hooks and handlers into the app's registries under its dotted name and replays its
routes with the prefix, as Flask does. The request path then only sees the app: the
hook chain of each endpoint (app → outer blueprint → inner blueprint) is frozen once per
endpoint in its plan, never looked up per request.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import jinja2

from .scaffold import Scaffold, ScopeKey, find_package_path, setupmethod

if TYPE_CHECKING:
    from .app import App
    from .appgroup import AppGroup
    from .wrappers import Response

__all__ = ["Blueprint", "BlueprintSetupState"]

F = TypeVar("F", bound=Callable[..., Any])
DeferredSetup = Callable[["BlueprintSetupState"], None]

#: ``cli_group`` default: a command group named after the blueprint.
_DEFAULT_CLI_GROUP: Any = type("DefaultCliGroup", (), {})()


class BlueprintSetupState:
    """What one registration of a blueprint on an app knows: the app, the final name,
    URL prefix, subdomain and default URL values."""

    def __init__(
        self, blueprint: Blueprint, app: App, options: dict[str, Any], first_registration: bool
    ) -> None:
        self.app = app
        self.blueprint = blueprint
        self.options = options
        self.first_registration = first_registration
        self.subdomain: str | None = options.get("subdomain", blueprint.subdomain)
        url_prefix = options.get("url_prefix")
        self.url_prefix: str | None = url_prefix if url_prefix is not None else blueprint.url_prefix
        self.name_prefix: str = options.get("name_prefix", "")
        self.name: str = options.get("name", blueprint.name)
        self.url_defaults: dict[str, Any] = dict(blueprint.url_values_defaults)
        self.url_defaults.update(options.get("url_defaults") or {})

    @property
    def full_name(self) -> str:
        """The dotted name endpoints and hooks are registered under (``parent.child``)."""
        return f"{self.name_prefix}.{self.name}".lstrip(".")

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        **options: Any,
    ) -> None:
        """Register a rule on the app with the blueprint's prefix, name and defaults."""
        if self.url_prefix is not None:
            rule = (
                "/".join((self.url_prefix.rstrip("/"), rule.lstrip("/")))
                if rule
                else (self.url_prefix)
            )
        options.setdefault("subdomain", self.subdomain)
        if endpoint is None:
            if view_func is None:
                raise TypeError("add_url_rule() needs an endpoint or a view_func.")
            endpoint = view_func.__name__
        defaults = self.url_defaults
        if "defaults" in options:
            defaults = {**defaults, **(options.pop("defaults") or {})}
        self.app.add_url_rule(
            rule,
            f"{self.full_name}.{endpoint}",
            view_func,
            defaults=defaults or None,
            **options,
        )


class Blueprint(Scaffold):
    """A reusable group of routes and hooks, registered on an app under a name::

        shop = Blueprint("shop", __name__, url_prefix="/shop", template_folder="templates")

        @shop.get("/")
        async def index():
            return render_template("shop/index.html")

        app.register_blueprint(shop)        # endpoint "shop.index", URL /shop/

    Hooks registered on a blueprint (``before_request`` …) apply to its own routes;
    the ``app_*`` variants (``before_app_request`` …) apply to every route of the app.
    """

    def __init__(
        self,
        name: str,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        url_prefix: str | None = None,
        subdomain: str | None = None,
        url_defaults: dict[str, Any] | None = None,
        root_path: str | None = None,
        cli_group: str | None = _DEFAULT_CLI_GROUP,
    ) -> None:
        super().__init__(import_name)
        if not name:
            raise ValueError("'name' may not be empty.")
        if "." in name:
            raise ValueError("'name' may not contain a dot '.' character.")
        self.name = name
        self.root_path = root_path or find_package_path(import_name)
        self.url_prefix = url_prefix
        self.subdomain = subdomain
        self.url_values_defaults: dict[str, Any] = dict(url_defaults or {})
        self.template_folder = os.fspath(template_folder) if template_folder is not None else None
        self.static_folder = (
            os.path.join(self.root_path, os.fspath(static_folder))
            if static_folder is not None
            else None
        )
        if static_url_path is None and static_folder is not None:
            static_url_path = "/" + os.path.basename(os.fspath(static_folder).rstrip("/\\"))
        self.static_url_path = static_url_path.rstrip("/") if static_url_path else None
        self.deferred_functions: list[DeferredSetup] = []
        self._blueprints: list[tuple[Blueprint, dict[str, Any]]] = []
        self._got_registered_once = False
        #: Where ``bp.cli`` commands go: a group named after the blueprint (default), a
        #: group of this name, or ``None`` for the top level of ``ambi``.
        self.cli_group = cli_group
        self._cli: AppGroup | None = None

    def __repr__(self) -> str:
        return f"<Blueprint {self.name!r}>"

    @property
    def cli(self) -> AppGroup:
        """The blueprint's click group: its commands join ``app.cli`` when the blueprint
        is registered, under ``cli_group``. Created on first use."""
        if self._cli is None:
            from .appgroup import AppGroup

            self._cli = AppGroup(self.name)
        return self._cli

    def _registration_changed(self) -> None:
        if self._got_registered_once:
            raise AssertionError(
                f"The setup method was called on blueprint {self.name!r} after it was"
                " registered on an app. Make every registration on the blueprint before"
                " app.register_blueprint(...)."
            )

    # -- recording -------------------------------------------------------------------------

    def record(self, func: DeferredSetup) -> None:
        """Call ``func(state)`` each time the blueprint is registered on an app."""
        self.deferred_functions.append(func)

    def record_once(self, func: DeferredSetup) -> None:
        """Like :meth:`record`, but only on the blueprint's first registration."""

        def wrapper(state: BlueprintSetupState) -> None:
            if state.first_registration:
                func(state)

        self.record(wrapper)

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Record a rule; it is added to the app, prefixed, when the blueprint is
        registered. Endpoint names may not contain dots."""
        if endpoint and "." in endpoint:
            raise ValueError("'endpoint' may not contain a dot '.' character.")
        if view_func is not None and "." in getattr(view_func, "__name__", ""):
            raise ValueError("'view_func' name may not contain a dot '.' character.")
        self.record(
            lambda state: state.add_url_rule(
                rule,
                endpoint,
                view_func,
                provide_automatic_options=provide_automatic_options,
                **options,
            )
        )

    @setupmethod
    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Nest ``blueprint`` in this one: its name becomes ``this.child`` and its URL
        prefix is added after this one's."""
        if blueprint is self:
            raise ValueError("Cannot register a blueprint on itself.")
        self._blueprints.append((blueprint, options))

    # -- registration on an app ------------------------------------------------------------

    def register(self, app: App, options: dict[str, Any]) -> None:
        """Called by ``app.register_blueprint``: copy everything into the app."""
        state = BlueprintSetupState(self, app, options, first_registration=False)
        name = state.full_name
        if name in app.blueprints:
            existing = app.blueprints[name]
            what = "this" if existing is self else "a different"
            raise ValueError(
                f"The name {name!r} is already registered for {what} blueprint. Use"
                " 'name=' to give each registration a unique name."
            )
        state.first_registration = not any(bp is self for bp in app.blueprints.values())
        app.blueprints[name] = self
        self._got_registered_once = True

        if self.static_folder is not None:
            state.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                "static",
                self.send_static_file,
            )

        def scoped(key: ScopeKey) -> str:
            return name if key is None else f"{name}.{key}"

        for registry_name in (
            "before_request_funcs",
            "after_request_funcs",
            "teardown_request_funcs",
            "url_value_preprocessors",
            "url_default_functions",
            "template_context_processors",
            "before_websocket_funcs",
            "after_websocket_funcs",
        ):
            mine: dict[ScopeKey, list[Callable[..., Any]]] = getattr(self, registry_name)
            target: dict[ScopeKey, list[Callable[..., Any]]] = getattr(app, registry_name)
            for key, funcs in mine.items():
                target.setdefault(scoped(key), []).extend(funcs)
        for key, by_code in self.error_handler_spec.items():
            target_spec = app.error_handler_spec.setdefault(scoped(key), {})
            for code, handlers in by_code.items():
                target_spec.setdefault(code, {}).update(handlers)

        for deferred in self.deferred_functions:
            deferred(state)

        if self._cli is not None:
            from .appgroup import merge_blueprint_cli

            cli_group = options.get("cli_group", self.cli_group)
            group = name if cli_group is _DEFAULT_CLI_GROUP else cli_group
            merge_blueprint_cli(app.cli, self._cli, group)

        for child, child_options in self._blueprints:
            child_options = dict(child_options)
            child_prefix = child_options.get("url_prefix", child.url_prefix)
            if state.url_prefix is not None and child_prefix is not None:
                child_options["url_prefix"] = (
                    state.url_prefix.rstrip("/") + "/" + child_prefix.lstrip("/")
                )
            elif state.url_prefix is not None:
                child_options["url_prefix"] = state.url_prefix
            child_subdomain = child_options.get("subdomain", child.subdomain)
            if state.subdomain is not None and child_subdomain is not None:
                child_options["subdomain"] = f"{child_subdomain}.{state.subdomain}"
            elif state.subdomain is not None:
                child_options["subdomain"] = state.subdomain
            child_options["name_prefix"] = name
            child.register(app, child_options)
        app._registration_changed()

    def send_static_file(self, filename: str) -> Response:
        """The view of this blueprint's ``static`` endpoint."""
        from .sendfile import send_from_directory

        if self.static_folder is None:
            raise RuntimeError(f"Blueprint {self.name!r} has no static folder.")
        return send_from_directory(self.static_folder, filename)

    @cached_property
    def jinja_loader(self) -> jinja2.FileSystemLoader | None:
        """The loader of this blueprint's ``template_folder`` (searched after the app's)."""
        from .templating import folder_loader

        return folder_loader(self.root_path, self.template_folder)

    # -- app-wide variants -----------------------------------------------------------------

    def app_template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Like :meth:`ambi.Ambi.template_filter`, registered on the app with the blueprint."""

        def decorator(func: F) -> F:
            self.add_app_template_filter(func, name=name)
            return func

        return decorator

    def add_app_template_filter(self, func: Callable[..., Any], name: str | None = None) -> None:
        """The non-decorator form of :meth:`app_template_filter`."""
        self.record_once(lambda state: state.app.add_template_filter(func, name=name))

    def app_template_test(self, name: str | None = None) -> Callable[[F], F]:
        """Like :meth:`ambi.Ambi.template_test`, registered on the app with the blueprint."""

        def decorator(func: F) -> F:
            self.add_app_template_test(func, name=name)
            return func

        return decorator

    def add_app_template_test(self, func: Callable[..., bool], name: str | None = None) -> None:
        """The non-decorator form of :meth:`app_template_test`."""
        self.record_once(lambda state: state.app.add_template_test(func, name=name))

    def app_template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Like :meth:`ambi.Ambi.template_global`, registered on the app with the blueprint."""

        def decorator(func: F) -> F:
            self.add_app_template_global(func, name=name)
            return func

        return decorator

    def add_app_template_global(self, func: Callable[..., Any], name: str | None = None) -> None:
        """The non-decorator form of :meth:`app_template_global`."""
        self.record_once(lambda state: state.app.add_template_global(func, name=name))

    def _app_registry(self, registry_name: str, func: F) -> F:
        self.record_once(
            lambda state: getattr(state.app, registry_name).setdefault(None, []).append(func)
        )
        return func

    def before_app_request(self, func: F) -> F:
        """Like :meth:`before_request`, for every request of the app."""
        return self._app_registry("before_request_funcs", func)

    def after_app_request(self, func: F) -> F:
        """Like :meth:`after_request`, for every request of the app."""
        return self._app_registry("after_request_funcs", func)

    def teardown_app_request(self, func: F) -> F:
        """Like :meth:`teardown_request`, for every request of the app."""
        return self._app_registry("teardown_request_funcs", func)

    def app_url_value_preprocessor(self, func: F) -> F:
        """Like :meth:`url_value_preprocessor`, for every endpoint of the app."""
        return self._app_registry("url_value_preprocessors", func)

    def app_url_defaults(self, func: F) -> F:
        """Like :meth:`url_defaults`, for every endpoint of the app."""
        return self._app_registry("url_default_functions", func)

    def before_app_websocket(self, func: F) -> F:
        """Like :meth:`before_websocket`, for every websocket of the app."""
        return self._app_registry("before_websocket_funcs", func)

    def after_app_websocket(self, func: F) -> F:
        """Like :meth:`after_websocket`, for every websocket of the app."""
        return self._app_registry("after_websocket_funcs", func)

    def app_context_processor(self, func: F) -> F:
        """Like :meth:`context_processor`, for every template of the app."""
        return self._app_registry("template_context_processors", func)

    def app_errorhandler(self, code_or_exception: int | type[BaseException]) -> Callable[[F], F]:
        """Like :meth:`errorhandler`, for errors anywhere in the app."""

        def decorator(func: F) -> F:
            self.record_once(
                lambda state: state.app.register_error_handler(code_or_exception, func)
            )
            return func

        return decorator
