"""Subdomain and host matching through the app, on both interfaces, as Flask 3.1 does it.

``Ambi(__name__, subdomain_matching=True)`` with ``SERVER_NAME`` routes by the part of
the ``Host`` before ``SERVER_NAME``; ``Ambi(__name__, host_matching=True,
static_host=...)`` routes by the whole host. ``url_for`` makes a URL absolute when its
rule is on another subdomain or host. The map itself is tested in test_routing.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ambi import Ambi, Blueprint, g, request, url_for
from ambi.testing import AmbiClient

MakeClient = Callable[..., AmbiClient]


def get(client: AmbiClient, host: str, path: str = "/", **kwargs: Any) -> Any:
    return client.get(path, headers={"Host": host}, **kwargs)


def make_app(**options: Any) -> Ambi:
    """An app with rules on the default subdomain, on ``api`` and on ``<user>``."""
    config = options.pop("config", {})
    app = Ambi(__name__, **options)
    app.testing = True
    app.config.update(config)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {
            "view": "index",
            "api": url_for("api_index"),
            "user": url_for("user_page", user="bob"),
            "self": url_for("index"),
        }

    @app.get("/", subdomain="api")
    def api_index() -> dict[str, Any]:
        return {
            "view": "api_index",
            "index": url_for("index"),
            "self": url_for("api_index"),
            "external": url_for("api_index", _external=True),
        }

    @app.get("/u", subdomain="<user>")
    def user_page(user: str) -> dict[str, Any]:
        return {"view": "user_page", "user": user, "self": url_for("user_page", user=user)}

    @app.route("/docs/", subdomain="api", methods=["GET", "POST"])
    def docs() -> str:
        return f"docs {request.method}"

    return app


# ---------------------------------------------------------------- subdomain_matching off


def test_subdomain_rules_do_not_match_without_subdomain_matching(
    make_client: MakeClient,
) -> None:
    # Flask's default: every request is on the default subdomain, whatever its host.
    client = make_client(make_app())
    for host in ("example.com", "api.example.com", "other.org"):
        response = get(client, host)
        assert response.status_code == 200
        assert response.json()["view"] == "index"
    assert get(client, "bob.example.com", "/u").status_code == 404
    assert get(client, "api.example.com", "/docs/").status_code == 404


def test_url_for_puts_other_subdomains_under_the_request_host(make_client: MakeClient) -> None:
    client = make_client(make_app())
    assert get(client, "example.com").json() == {
        "view": "index",
        "api": "http://api.example.com/",
        "user": "http://bob.example.com/u",
        "self": "/",
    }


def test_server_name_does_not_restrict_requests_without_subdomain_matching(
    make_client: MakeClient,
) -> None:
    # Flask 3.1: SERVER_NAME alone no longer turns other hosts into 404s; URLs on
    # other subdomains are built under SERVER_NAME.
    client = make_client(make_app(config={"SERVER_NAME": "example.com"}))
    response = get(client, "other.org")
    assert response.status_code == 200
    assert response.json()["api"] == "http://api.example.com/"
    assert response.json()["user"] == "http://bob.example.com/u"


def test_subdomain_matching_without_server_name_is_off(make_client: MakeClient) -> None:
    client = make_client(make_app(subdomain_matching=True))
    assert get(client, "api.example.com").json()["view"] == "index"
    assert get(client, "bob.example.com", "/u").status_code == 404


# ----------------------------------------------------------------- subdomain_matching on


@pytest.fixture
def sub_client(make_client: MakeClient) -> AmbiClient:
    return make_client(make_app(subdomain_matching=True, config={"SERVER_NAME": "example.com"}))


def test_static_and_variable_subdomains(sub_client: AmbiClient) -> None:
    assert get(sub_client, "example.com").json()["view"] == "index"
    assert get(sub_client, "api.example.com").json()["view"] == "api_index"
    assert get(sub_client, "API.Example.com").json()["view"] == "api_index"
    assert get(sub_client, "bob.example.com", "/u").json() == {
        "view": "user_page",
        "user": "bob",
        "self": "/u",
    }
    # the default converter takes dots, as Werkzeug's does
    assert get(sub_client, "a.b.example.com", "/u").json()["user"] == "a.b"
    assert get(sub_client, "example.com", "/u").status_code == 404
    assert get(sub_client, "bob.example.com").status_code == 404


@pytest.mark.parametrize(
    "host", ["other.org", "example.org", "notexample.com", "example.com:5000", "127.0.0.1"]
)
def test_hosts_outside_server_name_are_404(sub_client: AmbiClient, host: str) -> None:
    assert get(sub_client, host).status_code == 404
    assert get(sub_client, host, "/u").status_code == 404


def test_default_port_is_ignored(sub_client: AmbiClient) -> None:
    assert get(sub_client, "api.example.com:80").json()["view"] == "api_index"


def test_server_name_with_a_port(make_client: MakeClient) -> None:
    app = make_app(subdomain_matching=True, config={"SERVER_NAME": "example.com:5000"})
    client = make_client(app)
    response = get(client, "example.com:5000")
    assert response.json()["api"] == "http://api.example.com:5000/"
    assert get(client, "api.example.com:5000").json()["view"] == "api_index"
    assert get(client, "api.example.com").status_code == 404


def test_url_for_across_subdomains(sub_client: AmbiClient) -> None:
    assert get(sub_client, "example.com").json() == {
        "view": "index",
        "api": "http://api.example.com/",
        "user": "http://bob.example.com/u",
        "self": "/",
    }
    assert get(sub_client, "api.example.com").json() == {
        "view": "api_index",
        "index": "http://example.com/",
        "self": "/",
        "external": "http://api.example.com/",
    }
    assert get(sub_client, "amy.example.com", "/u").json()["self"] == "/u"


def test_url_for_outside_a_request(make_client: MakeClient) -> None:
    app = make_app(
        subdomain_matching=True,
        config={"SERVER_NAME": "example.com", "PREFERRED_URL_SCHEME": "https"},
    )
    with app.app_context():
        assert url_for("index") == "https://example.com/"
        assert url_for("index", _external=False) == "/"
        # another subdomain than the default: absolute even when asked otherwise
        assert url_for("api_index", _external=False) == "https://api.example.com/"
        assert url_for("user_page", user="amy", q="1") == "https://amy.example.com/u?q=1"


def test_strict_slash_redirect_stays_on_the_subdomain(sub_client: AmbiClient) -> None:
    response = get(sub_client, "api.example.com", "/docs?x=1")
    assert response.status_code == 308
    assert response.headers["location"] == "http://api.example.com/docs/?x=1"
    assert get(sub_client, "api.example.com", "/docs/").text == "docs GET"
    assert get(sub_client, "example.com", "/docs").status_code == 404
    assert get(sub_client, "example.com", "/docs/").status_code == 404


def test_methods_and_options_per_subdomain(make_client: MakeClient) -> None:
    app = Ambi(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.post("/form", subdomain="api")
    def api_form() -> str:
        return "api form"

    @app.get("/form")
    def form() -> str:
        return "form"

    client = make_client(app)
    response = client.get("/form", headers={"Host": "api.example.com"})
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"POST", "OPTIONS"}
    response = client.options("/form", headers={"Host": "api.example.com"})
    assert response.status_code == 200
    assert set(response.headers["allow"].split(", ")) == {"POST", "OPTIONS"}
    response = client.options("/form", headers={"Host": "example.com"})
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert client.post("/form", headers={"Host": "api.example.com"}).text == "api form"
    assert client.get("/form", headers={"Host": "example.com"}).text == "form"


def test_view_kinds_get_subdomain_values(
    make_client: MakeClient, as_view: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    app = Ambi(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    def page(shard: int, n: int) -> dict[str, Any]:
        return {"shard": shard, "n": n, "url": url_for("page", shard=shard + 1, n=n)}

    app.add_url_rule("/p/<int:n>", "page", as_view(page), subdomain="s<int:shard>")
    client = make_client(app)
    assert get(client, "s3.example.com", "/p/7").json() == {
        "shard": 3,
        "n": 7,
        "url": "http://s4.example.com/p/7",
    }
    assert get(client, "sx.example.com", "/p/7").status_code == 404


# --------------------------------------------------------------------------- blueprints


def test_blueprint_subdomains(make_client: MakeClient) -> None:
    app = Ambi(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"
    api = Blueprint("api", __name__, subdomain="api")
    v1 = Blueprint("v1", __name__, subdomain="v1", url_prefix="/v1")

    @api.get("/")
    def index() -> str:
        return f"api {url_for('.index')} {url_for('api.v1.status')} {url_for('home')}"

    @v1.get("/status")
    def status() -> str:
        return f"status {url_for('.status')} {url_for('api.index')}"

    @app.get("/")
    def home() -> str:
        return f"home {url_for('api.index')}"

    api.register_blueprint(v1)
    app.register_blueprint(api)
    client = make_client(app)
    assert get(client, "api.example.com").text == (
        "api / http://v1.api.example.com/v1/status http://example.com/"
    )
    assert get(client, "v1.api.example.com", "/v1/status").text == (
        "status /v1/status http://api.example.com/"
    )
    assert get(client, "example.com").text == "home http://api.example.com/"
    assert get(client, "api.example.com", "/v1/status").status_code == 404


def test_blueprint_variable_subdomain_with_url_processors(make_client: MakeClient) -> None:
    # The classic Flask pattern: a tenant in the subdomain, taken out of the view
    # arguments by a url_value_preprocessor and put back by url_defaults.
    app = Ambi(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"
    tenant = Blueprint("tenant", __name__, subdomain="<tenant>")

    @tenant.url_value_preprocessor
    def pull_tenant(endpoint: str | None, values: dict[str, Any] | None) -> None:
        g.tenant = (values or {}).pop("tenant", None)

    @tenant.url_defaults
    def add_tenant(endpoint: str, values: dict[str, Any]) -> None:
        if "tenant" not in values and app.url_map.is_endpoint_expecting(endpoint, "tenant"):
            values["tenant"] = g.tenant

    @tenant.get("/")
    def dashboard() -> str:
        return f"{g.tenant} {url_for('.dashboard')} {url_for('.dashboard', tenant='other')}"

    app.register_blueprint(tenant)
    client = make_client(app)
    assert get(client, "acme.example.com").text == "acme / http://other.example.com/"
    assert get(client, "example.com").status_code == 404


# ---------------------------------------------------------------------------- host matching


def make_host_app(**options: Any) -> Ambi:
    app = Ambi(__name__, host_matching=True, **options)
    app.testing = True

    @app.get("/", host="example.com")
    def home() -> dict[str, Any]:
        return {"view": "home", "user": url_for("user_home", user="amy"), "self": url_for("home")}

    @app.get("/", host="<user>.example.com")
    def user_home(user: str) -> dict[str, Any]:
        return {
            "view": "user_home",
            "user": user,
            "self": url_for("user_home", user=user),
            "home": url_for("home"),
        }

    @app.get("/docs/", host="docs.example.com")
    def docs() -> str:
        return "docs"

    return app


def test_host_matching(make_client: MakeClient) -> None:
    client = make_client(make_host_app())
    assert get(client, "example.com").json() == {
        "view": "home",
        "user": "http://amy.example.com/",
        "self": "/",
    }
    assert get(client, "bob.example.com").json() == {
        "view": "user_home",
        "user": "bob",
        "self": "/",
        "home": "http://example.com/",
    }
    assert get(client, "Bob.Example.com:80").json()["user"] == "bob"
    assert get(client, "other.org").status_code == 404
    assert get(client, "example.com:8000").status_code == 404
    response = get(client, "docs.example.com", "/docs?a=1")
    assert response.status_code == 308
    assert response.headers["location"] == "http://docs.example.com/docs/?a=1"
    assert get(client, "example.com", "/docs/").status_code == 404


def test_host_matching_ignores_server_name(make_client: MakeClient) -> None:
    app = make_host_app()
    app.config["SERVER_NAME"] = "example.com"
    client = make_client(app)
    assert get(client, "bob.example.com").json()["user"] == "bob"
    with app.app_context():
        assert url_for("home") == "http://example.com/"
        assert url_for("user_home", user="amy", _external=False) == "http://amy.example.com/"


def test_static_host(make_client: MakeClient, tmp_path: Any) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "site.css").write_text("body {}")
    app = make_host_app(static_host="static.example.com", root_path=str(tmp_path))

    @app.get("/page", host="example.com")
    def page() -> str:
        return url_for("static", filename="site.css")

    client = make_client(app)
    assert get(client, "static.example.com", "/static/site.css").text == "body {}"
    assert get(client, "example.com", "/static/site.css").status_code == 404
    assert get(client, "example.com", "/page").text == "http://static.example.com/static/site.css"


def test_rules_without_host_match_every_host(make_client: MakeClient, tmp_path: Any) -> None:
    # An Ambi difference: Flask needs static_host with host_matching; here the static
    # rule, like any rule without a host, is on every host (after the rules with one).
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.txt").write_text("a")
    app = make_host_app(root_path=str(tmp_path))

    @app.get("/page", host="example.com")
    def page() -> str:
        return url_for("static", filename="a.txt")

    client = make_client(app)
    assert get(client, "anything.org", "/static/a.txt").text == "a"
    assert get(client, "example.com", "/page").text == "/static/a.txt"


def test_static_host_needs_host_matching() -> None:
    with pytest.raises(ValueError, match="host_matching"):
        Ambi(__name__, static_host="static.example.com")
