"""Blueprints: prefixes, names, nesting, scoped hooks and handlers, app-wide variants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ambi._drivers as drivers
from ambi import Ambi, Blueprint, Response, abort, g, request, url_for
from ambi.testing import AmbiClient

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]


def test_routes_prefix_and_endpoint_names(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    shop = Blueprint("shop", __name__, url_prefix="/shop")
    shop.add_url_rule("/", "index", as_view(lambda: f"shop {request.endpoint} {request.blueprint}"))
    shop.add_url_rule(
        "/item/<int:n>",
        "item",
        as_view(
            lambda n: {
                "self": url_for(".item", n=n),
                "index": url_for("shop.index"),
                "root": url_for("root"),
            }
        ),
    )
    app.add_url_rule("/", "root", as_view(lambda: "root"))
    app.register_blueprint(shop)
    assert client.get("/shop/").text == "shop shop.index shop"
    assert client.get("/shop/item/3").json() == {
        "self": "/shop/item/3",
        "index": "/shop/",
        "root": "/",
    }
    assert client.get("/shop").status_code == 308


def test_register_options_and_twice_with_names(app: Ambi, client: AmbiClient) -> None:
    api = Blueprint("api", __name__)

    @api.get("/version")
    def version(v: int) -> str:
        return f"{request.blueprint} {request.view_args} {v}"

    app.register_blueprint(api, url_prefix="/v1", url_defaults={"v": 1})
    app.register_blueprint(api, url_prefix="/v2", name="api2", url_defaults={"v": 2})
    assert client.get("/v1/version").text == "api {'v': 1} 1"
    assert client.get("/v2/version").text == "api2 {'v': 2} 2"
    with pytest.raises(ValueError, match="already registered for this blueprint"):
        app.register_blueprint(api, url_prefix="/v3")
    with pytest.raises(AssertionError, match="after it was registered"):
        api.before_request(lambda: None)


def test_scoped_hooks_order_and_app_variants(app: Ambi, client: AmbiClient, view_kind: str) -> None:
    calls: list[str] = []

    def hook(label: str) -> Callable[..., Any]:
        if view_kind == "def":

            def sync_hook(*args: Any) -> Any:
                calls.append(label)
                return args[0] if args and isinstance(args[0], Response) else None

            return sync_hook

        async def async_hook(*args: Any) -> Any:
            calls.append(label)
            return args[0] if args and isinstance(args[0], Response) else None

        return async_hook

    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__, url_prefix="/c")
    app.before_request(hook("app before"))
    app.after_request(hook("app after"))
    app.teardown_request(hook("app teardown"))
    parent.before_request(hook("parent before"))
    parent.after_request(hook("parent after"))
    parent.teardown_request(hook("parent teardown"))
    child.before_request(hook("child before"))
    child.after_request(hook("child after"))
    child.teardown_request(hook("child teardown"))
    parent.before_app_request(hook("parent app-wide before"))

    @child.get("/x")
    def x() -> str:
        calls.append("view")
        return request.endpoint or ""

    @app.get("/plain")
    def plain() -> str:
        calls.append("plain view")
        return "plain"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert client.get("/p/c/x").text == "parent.child.x"
    assert calls == [
        "app before",
        "parent app-wide before",
        "parent before",
        "child before",
        "view",
        "child after",
        "parent after",
        "app after",
        "child teardown",
        "parent teardown",
        "app teardown",
    ]
    calls.clear()
    assert client.get("/plain").text == "plain"
    assert calls == [
        "app before",
        "parent app-wide before",
        "plain view",
        "app after",
        "app teardown",
    ]


def test_error_handlers_blueprint_first_then_app(app: Ambi, client: AmbiClient) -> None:
    app.testing = False
    admin = Blueprint("admin", __name__, url_prefix="/admin")

    @admin.errorhandler(403)
    def admin_forbidden(error: Any) -> tuple[str, int]:
        return "admin says no", 403

    @admin.app_errorhandler(410)
    def gone_everywhere(error: Any) -> tuple[str, int]:
        return "gone (registered by admin for the app)", 410

    @app.errorhandler(403)
    def app_forbidden(error: Any) -> tuple[str, int]:
        return "app says no", 403

    @admin.get("/secret")
    async def secret() -> str:
        abort(403)

    @app.get("/secret")
    def app_secret() -> str:
        abort(403)

    @app.get("/old")
    def old() -> str:
        abort(410)

    app.register_blueprint(admin)
    assert client.get("/admin/secret").text == "admin says no"
    assert client.get("/secret").text == "app says no"
    assert client.get("/old").text == "gone (registered by admin for the app)"


def test_url_value_preprocessor_and_defaults_in_blueprint(app: Ambi, client: AmbiClient) -> None:
    lang = Blueprint("lang", __name__, url_prefix="/<lang_code>")

    @lang.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        assert values is not None
        g.lang_code = values.pop("lang_code")

    @lang.url_defaults
    def add_lang(endpoint: str, values: dict[str, Any]) -> None:
        values.setdefault("lang_code", g.lang_code)

    @lang.get("/about")
    def about() -> str:
        return f"{g.lang_code} {url_for('.about')}"

    app.register_blueprint(lang)
    assert client.get("/fr/about").text == "fr /fr/about"


def test_blueprint_static_folder(app: Ambi, client: AmbiClient, tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "bp.css").write_text("body{}")
    bp = Blueprint(
        "theme", __name__, static_folder="assets", url_prefix="/theme", root_path=str(tmp_path)
    )
    app.register_blueprint(bp)
    assert client.get("/theme/assets/bp.css").text == "body{}"
    assert client.get("/theme/assets/%2e%2e/secret").status_code == 404
    with app.test_request_context("/"):
        assert url_for("theme.static", filename="bp.css") == "/theme/assets/bp.css"


def test_blueprint_all_sync_route_is_still_one_hop(app: Ambi) -> None:
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    bp.before_request(lambda: None)

    @bp.get("/")
    def index() -> str:
        return "sync"

    app.register_blueprint(bp)
    with app.test_client("asgi") as client:
        client.get("/bp/")
        before = drivers.adaptations.snapshot()
        assert client.get("/bp/").text == "sync"
        assert drivers.adaptations.snapshot()[0] - before[0] == 1


def test_invalid_names() -> None:
    with pytest.raises(ValueError, match="may not contain a dot"):
        Blueprint("a.b", __name__)
    with pytest.raises(ValueError, match="may not be empty"):
        Blueprint("", __name__)
    bp = Blueprint("ok", __name__)
    with pytest.raises(ValueError, match="'endpoint' may not contain a dot"):
        bp.add_url_rule("/x", "a.b", lambda: "")
    with pytest.raises(ValueError, match="Cannot register a blueprint on itself"):
        bp.register_blueprint(bp)
