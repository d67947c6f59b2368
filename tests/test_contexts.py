"""Contexts and proxies: app_context, test_request_context, and the errors outside them."""

from __future__ import annotations

from typing import Any

import pytest

from ambi import Ambi, current_app, g, request, session, url_for
from ambi.ctx import AppContext


def test_proxies_outside_a_context_say_what_to_do(app: Ambi) -> None:
    with pytest.raises(RuntimeError, match=r"app\.test_request_context"):
        request.path  # noqa: B018
    with pytest.raises(RuntimeError, match=r"with app\.app_context\(\)"):
        current_app.name  # noqa: B018
    with pytest.raises(RuntimeError, match="outside of application context"):
        g.x = 1
    with pytest.raises(RuntimeError, match="outside of request context"):
        session.get("x")
    assert not request
    assert repr(request) == "<unbound proxy>"


def test_app_context_gives_current_app_and_g_but_no_request(app: Ambi) -> None:
    with app.app_context() as ctx:
        assert isinstance(ctx, AppContext)
        assert current_app.name == app.name
        assert current_app._get_current_object() is app  # type: ignore[attr-defined]
        g.db = "conn"
        assert g.get("db") == "conn"
        assert "db" in g
        assert list(g) == ["db"]
        assert g.setdefault("other", 2) == 2
        assert g.pop("other") == 2
        assert g.pop("missing", None) is None
        with pytest.raises(AttributeError, match="'g' has no attribute 'nothing'"):
            g.nothing  # noqa: B018
        with pytest.raises(RuntimeError, match="outside of request context"):
            request.args  # noqa: B018
    with pytest.raises(RuntimeError):
        current_app.name  # noqa: B018


def test_nested_contexts_restore_the_outer_one(app: Ambi) -> None:
    other = Ambi("other")
    with app.app_context():
        g.level = "outer"
        with other.app_context():
            assert current_app.name == "other"
            assert "level" not in g
        assert current_app.name == app.name
        assert g.level == "outer"


def test_test_request_context(app: Ambi) -> None:
    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> str:
        return ""

    with app.test_request_context(
        "/users/3?q=x", headers={"X-A": "1"}, json={"k": [1]}, method="POST"
    ):
        assert request.path == "/users/3"
        assert request.args["q"] == "x"
        assert request.headers["x-a"] == "1"
        assert request.get_json() == {"k": [1]}
        assert request.method == "POST"
        assert request.url == "http://localhost/users/3?q=x"
        assert request.environ["PATH_INFO"] == "/users/3"
        assert url_for("user", user_id=4) == "/users/4"
        assert url_for("user", user_id=4, _external=True) == "http://localhost/users/4"
        assert dict(session) == {}
        with pytest.raises(RuntimeError, match="session is unavailable"):
            session["user"] = "x"
    with app.test_request_context("/x", data="raw", base_url="https://example.com/root"):
        assert request.get_data() == b"raw"
        assert request.url_root == "https://example.com/root/"
        assert request.is_secure


def test_url_for_outside_a_request(app: Ambi) -> None:
    @app.get("/page/<name>")
    def page(name: str) -> str:
        return name

    with pytest.raises(RuntimeError, match="without the application context"):
        url_for("page", name="a")
    with app.app_context():
        with pytest.raises(RuntimeError, match="SERVER_NAME"):
            url_for("page", name="a")
        app.config.update(
            SERVER_NAME="example.com", APPLICATION_ROOT="/app", PREFERRED_URL_SCHEME="https"
        )
        assert url_for("page", name="a b") == "https://example.com/app/page/a%20b"
        assert url_for("page", name="a", _external=False) == "/app/page/a"
        assert url_for("page", name="a", _scheme="http") == "http://example.com/app/page/a"


def test_url_defaults_and_scheme_rules(app: Ambi) -> None:
    @app.url_defaults
    def add_lang(endpoint: str, values: dict[str, Any]) -> None:
        values.setdefault("lang", "en")

    @app.get("/<lang>/about")
    def about(lang: str) -> str:
        return lang

    with app.test_request_context("/"):
        assert url_for("about") == "/en/about"
        assert url_for("about", lang="fr", _method="GET") == "/fr/about"
        with pytest.raises(ValueError, match="_external' must be True"):
            url_for("about", _scheme="https", _external=False)
        assert url_for("about", _scheme="https") == "https://localhost/en/about"
