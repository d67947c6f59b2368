"""Routing through the app, on both interfaces: redirects, root paths, converters, 404/405."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ambi import Ambi, request, url_for
from ambi.routing import BaseConverter, ValidationError
from ambi.testing import AmbiClient


def test_strict_slash_redirect_is_308_and_keeps_query(app: Ambi, client: AmbiClient) -> None:
    @app.route("/docs/", methods=["GET", "POST"])
    def docs() -> str:
        return f"docs {request.method}"

    response = client.get("/docs?page=2")
    assert response.status_code == 308
    assert response.headers["location"] == "http://localhost/docs/?page=2"
    assert client.post("/docs", follow_redirects=True).text == "docs POST"
    assert client.get("/docs/").text == "docs GET"


def test_rule_without_slash_gives_404_for_slash(app: Ambi, client: AmbiClient) -> None:
    @app.get("/about")
    def about() -> str:
        return "about"

    assert client.get("/about/").status_code == 404


def test_converters_through_the_app(app: Ambi, client: AmbiClient) -> None:
    @app.get("/f/<float:x>/<uuid:u>/<path:rest>")
    def view(x: float, u: uuid.UUID, rest: str) -> dict[str, Any]:
        return {"x": x, "u": str(u), "rest": rest, "types": [type(x).__name__, type(u).__name__]}

    @app.get("/pick/<any(red, green):colour>")
    def pick(colour: str) -> str:
        return colour

    value = uuid.uuid4()
    response = client.get(f"/f/1.5/{value}/a/b/c.txt")
    assert response.json() == {
        "x": 1.5,
        "u": str(value),
        "rest": "a/b/c.txt",
        "types": ["float", "UUID"],
    }
    assert client.get("/pick/green").text == "green"
    assert client.get("/pick/blue").status_code == 404


def test_custom_converter(app: Ambi, client: AmbiClient) -> None:
    class ListConverter(BaseConverter):
        def to_python(self, value: str) -> list[str]:
            if not value:
                raise ValidationError()
            return value.split(",")

        def to_url(self, value: Any) -> str:
            return ",".join(value)

    app.url_map.converters["list"] = ListConverter

    @app.get("/tags/<list:tags>")
    def tags(tags: list[str]) -> dict[str, Any]:
        return {"tags": tags, "url": url_for("tags", tags=["x", "y"])}

    assert client.get("/tags/a,b").json() == {"tags": ["a", "b"], "url": "/tags/x,y"}


def test_same_rule_different_methods(app: Ambi, client: AmbiClient) -> None:
    @app.get("/thing")
    def read() -> str:
        return "read"

    @app.post("/thing")
    async def write() -> str:
        return "write"

    assert client.get("/thing").text == "read"
    assert client.post("/thing").text == "write"
    response = client.delete("/thing")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_registration_errors(app: Ambi) -> None:
    @app.get("/a")
    def a() -> str:
        return "a"

    def other() -> str:
        return "other"

    with pytest.raises(AssertionError, match="overwriting an existing endpoint function: 'a'"):
        app.add_url_rule("/b", "a", other)
    with pytest.raises(TypeError, match="methods=\\['POST'\\]"):
        app.route("/c", methods="POST")(other)
    with pytest.raises(TypeError, match="Use the 'route' decorator"):
        app.get("/d", methods=["GET"])
    with pytest.raises(TypeError, match="needs an endpoint or a view_func"):
        app.add_url_rule("/e")
    with pytest.raises(ValueError, match="not a recognized HTTP error code"):
        app.errorhandler(299)(other)
    with pytest.raises(TypeError, match="is an instance, not a class"):
        app.register_error_handler(ValueError("x"), other)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a subclass of Exception"):
        app.register_error_handler(int, other)  # type: ignore[arg-type]


def test_endpoint_decorator_and_missing_view(app: Ambi, client: AmbiClient) -> None:
    app.add_url_rule("/late", "late")
    app.add_url_rule("/never", "never")

    @app.endpoint("late")
    def late() -> str:
        return "late"

    assert client.get("/late").text == "late"
    with pytest.raises(LookupError, match="No view function is registered for endpoint 'never'"):
        client.get("/never")


def test_root_path_from_script_name_and_asgi_root_path(app: Ambi) -> None:
    from ambi.testing import ASGITransport, WSGITransport

    @app.get("/where")
    def where() -> dict[str, str]:
        return {
            "root": request.root_path,
            "path": request.path,
            "url": url_for("where", _external=True),
        }

    import httpx

    expected = {"root": "/mount", "path": "/where", "url": "http://localhost/mount/where"}
    with httpx.Client(
        transport=WSGITransport(app.wsgi_app, script_name="/mount"), base_url="http://localhost"
    ) as client:
        assert client.get("/mount/where").json() == expected
    with httpx.Client(
        transport=ASGITransport(app.asgi_app, root_path="/mount"), base_url="http://localhost"
    ) as client:
        assert client.get("/mount/where").json() == expected


def test_automatic_options_can_be_disabled(
    app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    def view() -> str:
        return "custom options" if request.method == "OPTIONS" else "get"

    app.add_url_rule("/x", "x", view, methods=["GET", "OPTIONS"])
    app.add_url_rule("/y", "y", lambda: "y", provide_automatic_options=False)
    client = make_client(app)
    assert client.options("/x").text == "custom options"
    assert client.options("/y").status_code == 405
