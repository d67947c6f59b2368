"""Errors: the HTTPException family, abort, handler lookup by code and class hierarchy."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest

from ambi import Ambi, abort, redirect
from ambi import exceptions as exc
from ambi.testing import AmbiClient

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]


@pytest.mark.parametrize(("code", "cls"), sorted(exc.default_exceptions.items()))
def test_every_code_aborts_with_its_status_and_name(
    app: Ambi, client: AmbiClient, code: int, cls: type[exc.HTTPException]
) -> None:
    app.testing = False

    @app.get("/")
    def index() -> str:
        abort(code)

    response = client.get("/")
    assert response.status_code == code
    assert f"<title>{code} {html.escape(cls().name)}</title>" in response.text
    assert issubclass(cls, exc.HTTPException)


def test_flask_names_exist() -> None:
    for name in (
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "MethodNotAllowed",
        "NotAcceptable",
        "RequestTimeout",
        "Conflict",
        "Gone",
        "LengthRequired",
        "PreconditionFailed",
        "RequestEntityTooLarge",
        "RequestURITooLarge",
        "UnsupportedMediaType",
        "RequestedRangeNotSatisfiable",
        "ExpectationFailed",
        "ImATeapot",
        "UnprocessableEntity",
        "Locked",
        "FailedDependency",
        "PreconditionRequired",
        "TooManyRequests",
        "RequestHeaderFieldsTooLarge",
        "UnavailableForLegalReasons",
        "InternalServerError",
        "NotImplemented",
        "BadGateway",
        "ServiceUnavailable",
        "GatewayTimeout",
        "HTTPVersionNotSupported",
    ):
        assert issubclass(getattr(exc, name), exc.HTTPException)
    with pytest.raises(LookupError, match="no HTTP exception is registered"):
        abort(299)


def test_special_headers(app: Ambi, client: AmbiClient) -> None:
    app.testing = False

    @app.get("/auth")
    def auth() -> str:
        raise exc.Unauthorized(www_authenticate='Basic realm="x"')

    @app.get("/slow")
    def slow() -> str:
        raise exc.TooManyRequests(retry_after=30)

    @app.get("/range")
    def bad_range() -> str:
        raise exc.RequestedRangeNotSatisfiable(length=100)

    assert client.get("/auth").headers["www-authenticate"] == 'Basic realm="x"'
    assert client.get("/slow").headers["retry-after"] == "30"
    assert client.get("/range").headers["content-range"] == "bytes */100"
    assert repr(exc.NotFound()) == "<NotFound '404: Not Found'>"
    assert str(exc.NotFound("gone")) == "404 Not Found: gone"


def test_handler_lookup_order(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.testing = False
    app.register_error_handler(exc.HTTPException, as_view(lambda e: (f"http {e.code}", e.code)))
    app.register_error_handler(403, as_view(lambda e: ("forbidden handler", 403)))

    class TeapotError(exc.ImATeapot):
        pass

    def raise_teapot() -> str:
        raise TeapotError()

    app.add_url_rule("/403", "f", as_view(lambda: abort(403)))
    app.add_url_rule("/teapot", "t", as_view(raise_teapot))
    assert client.get("/403").text == "forbidden handler"
    assert client.get("/missing").text == "http 404"
    assert client.get("/teapot").text == "http 418"
    # A routing redirect is not an error for handlers.
    app.add_url_rule("/dir/", "dir", as_view(lambda: "dir"))
    assert client.get("/dir").status_code == 308


def test_handler_for_exception_catches_everything(app: Ambi, client: AmbiClient) -> None:
    app.testing = False

    @app.errorhandler(Exception)
    async def anything(error: Exception) -> tuple[str, int]:
        return f"caught {type(error).__name__}", 500

    @app.get("/boom")
    def boom() -> str:
        raise ZeroDivisionError

    assert client.get("/boom").text == "caught ZeroDivisionError"
    # As in Flask, a handler for Exception also catches HTTP errors.
    assert client.get("/nope").text == "caught NotFound"


def test_error_in_error_handler_becomes_500(
    app: Ambi, client: AmbiClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.errorhandler(404)
    def broken_handler(error: Exception) -> str:
        raise RuntimeError("handler failed")

    response = client.get("/nope")
    assert response.status_code == 500
    assert "handler failed" not in response.text
    assert "Exception on /nope [GET]" in caplog.text


def test_error_in_after_request_is_500(app: Ambi, client: AmbiClient) -> None:
    app.testing = False

    @app.after_request
    def broken(response: Any) -> Any:
        if response.status_code == 200:
            raise ValueError("after failed")
        return response

    @app.get("/")
    def index() -> str:
        return "ok"

    assert client.get("/").status_code == 500


def test_after_request_returning_none_is_a_clear_error(app: Ambi, client: AmbiClient) -> None:
    @app.after_request
    def forgot(response: Any) -> None:
        return None

    @app.get("/")
    def index() -> str:
        return "ok"

    with pytest.raises(TypeError, match="returned None"):
        client.get("/")


def test_redirect_rejects_header_injection(app: Ambi, client: AmbiClient) -> None:
    app.testing = False

    @app.get("/")
    def index() -> Any:
        return redirect("/next\r\nSet-Cookie: evil=1")

    response = client.get("/")
    assert response.status_code == 500
    assert "set-cookie" not in response.headers
    with pytest.raises(ValueError, match="newline"):
        redirect("/a\nb")
    assert redirect("/ok", 301).status_code == 301


def test_make_response_rejects_bad_values(app: Ambi, client: AmbiClient) -> None:
    @app.get("/tuple")
    def bad_tuple() -> Any:
        return ("a", 200, {}, "extra")

    @app.get("/object")
    def bad_object() -> Any:
        return object()

    with pytest.raises(TypeError, match="valid response tuple"):
        client.get("/tuple")
    with pytest.raises(TypeError, match="but it was a object"):
        client.get("/object")


def test_http_exception_returned_from_a_view(app: Ambi, client: AmbiClient) -> None:
    @app.get("/")
    def index() -> Any:
        return exc.Gone("moved on")

    response = client.get("/")
    assert response.status_code == 410
    assert "moved on" in response.text
