"""Safe defaults, on both interfaces: what an Ambi app protects against before its author
configures anything (docs/security.md lists them).

- the session cookie is ``HttpOnly`` and ``SameSite=Lax``; ``Secure`` with
  ``SESSION_COOKIE_SECURE``;
- templates autoescape (``.html``, ``.htm``, ``.xml``, ``.xhtml``, ``.svg``, strings);
- a 500 shows no traceback, path or message unless ``DEBUG`` is on;
- no response header can carry CR, LF or NUL, whichever way it is set;
- ``url_for`` never builds a scheme-relative URL, so ``redirect(url_for(...))`` stays on
  the site;
- bodies and forms are limited by default.

Proxy headers and ``TRUSTED_HOSTS`` are in ``test_proxy.py``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ambi import (
    Ambi,
    Response,
    abort,
    make_response,
    redirect,
    render_template,
    render_template_string,
    request,
    send_file,
    session,
    url_for,
)
from ambi.testing import AmbiClient

Client = Callable[..., AmbiClient]


def plain_app(**kwargs: Any) -> Ambi:
    app = Ambi(__name__, static_folder=None, **kwargs)
    app.secret_key = "test secret"
    return app


# -- the session cookie ---------------------------------------------------------------------


def _session_app() -> Ambi:
    app = plain_app()

    @app.post("/login")
    def login() -> str:
        session["user"] = "alice"
        return "ok"

    @app.post("/login-async")
    async def login_async() -> str:
        session["user"] = "alice"
        return "ok"

    return app


@pytest.mark.parametrize("path", ["/login", "/login-async"])
def test_session_cookie_is_httponly_and_samesite_lax(make_client: Client, path: str) -> None:
    cookie = make_client(_session_app()).post(path).headers["set-cookie"]
    parts = [part.strip() for part in cookie.split(";")]
    assert parts[0].startswith("session=")
    assert "HttpOnly" in parts
    assert "SameSite=Lax" in parts
    assert "Secure" not in parts  # plain HTTP in development; SESSION_COOKIE_SECURE below


def test_session_cookie_secure_and_stricter_on_request(make_client: Client) -> None:
    app = _session_app()
    app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="Strict")
    parts = [
        part.strip() for part in make_client(app).post("/login").headers["set-cookie"].split(";")
    ]
    assert "Secure" in parts
    assert "SameSite=Strict" in parts
    assert "HttpOnly" in parts


# -- templates ------------------------------------------------------------------------------

AUTOESCAPED = ("page.html", "page.htm", "page.xml", "page.xhtml", "page.svg")
PAYLOAD = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


@pytest.fixture
def template_app(tmp_path: Path) -> Ambi:
    templates = tmp_path / "templates"
    templates.mkdir()
    for name in (*AUTOESCAPED, "page.txt"):
        (templates / name).write_text("<p>{{ value }}</p>", encoding="utf-8")
    app = plain_app(root_path=str(tmp_path))

    @app.get("/file/<name>")
    def file(name: str) -> str:
        return render_template(name, value=request.args["value"])

    @app.get("/string")
    async def string() -> str:
        return render_template_string("<p>{{ value }}</p>", value=request.args["value"])

    return app


@pytest.mark.parametrize("name", AUTOESCAPED)
def test_templates_autoescape(template_app: Ambi, make_client: Client, name: str) -> None:
    response = make_client(template_app).get(f"/file/{name}", params={"value": PAYLOAD})
    assert response.text == f"<p>{ESCAPED}</p>"


def test_string_templates_autoescape(template_app: Ambi, make_client: Client) -> None:
    response = make_client(template_app).get("/string", params={"value": PAYLOAD})
    assert response.text == f"<p>{ESCAPED}</p>"


def test_text_templates_do_not_escape(template_app: Ambi, make_client: Client) -> None:
    response = make_client(template_app).get("/file/page.txt", params={"value": PAYLOAD})
    assert response.text == f"<p>{PAYLOAD}</p>"


# -- errors -----------------------------------------------------------------------------------

SECRET = "database password is hunter2"


def _failing_app() -> Ambi:
    app = plain_app()

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError(SECRET)

    @app.get("/boom-async")
    async def boom_async() -> str:
        raise RuntimeError(SECRET)

    @app.get("/handler-fails")
    def handler_fails() -> str:
        abort(418)

    @app.errorhandler(418)
    def broken_handler(error: Exception) -> str:
        raise KeyError(SECRET)

    return app


@pytest.mark.parametrize("path", ["/boom", "/boom-async", "/handler-fails"])
def test_500_shows_no_traceback(
    make_client: Client, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = make_client(_failing_app()).get(path)
    assert response.status_code == 500
    assert "Internal Server Error" in response.text
    for leak in ("Traceback", SECRET, "RuntimeError", "KeyError", __file__, ".py", "line "):
        assert leak not in response.text, leak
    assert SECRET in caplog.text  # the operator sees it in the log


def test_debug_mode_shows_the_traceback_escaped(make_client: Client) -> None:
    app = _failing_app()
    app.debug = True
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as under a server with DEBUG on

    @app.get("/html")
    def html() -> str:
        raise ValueError("<b>not bold</b>")

    response = make_client(app).get("/html")
    assert response.status_code == 500
    assert "Traceback" in response.text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in response.text
    assert "<b>not bold" not in response.text


def test_error_descriptions_are_escaped(make_client: Client) -> None:
    app = plain_app()

    @app.get("/bad")
    def bad() -> str:
        abort(400, f"Bad value {request.args['v']}")

    response = make_client(app).get("/bad", params={"v": PAYLOAD})
    assert response.status_code == 400
    assert PAYLOAD not in response.text
    assert "&lt;script&gt;" in response.text
    missing = make_client(app).get("/<script>alert(1)</script>")
    assert missing.status_code == 404
    assert "<script>" not in missing.text


# -- response headers: no CR, LF or NUL, whichever way they are set --------------------------

EVIL = "x\r\nSet-Cookie: injected=1"


def _response() -> Response:
    return Response("body")


def _assign(response: Response, name: str, value: Any) -> Response:
    setattr(response, name, value)
    return response


def _assigned_headers() -> Response:
    response = _response()
    response.headers = {"X-Evil": EVIL}  # type: ignore[assignment]
    return response


#: Every way a view can put a header value on its response, and what happens: "refused"
#: (ValueError, so a 500 and the header never sent) or "escaped" (sent, encoded).
INJECTIONS: dict[str, tuple[Callable[[], Any], str]] = {
    "headers[]": (lambda: _response().headers.__setitem__("X-Evil", EVIL), "refused"),
    "headers.set": (lambda: _response().headers.set("X-Evil", EVIL), "refused"),
    "headers.add": (lambda: _response().headers.add("X-Evil", EVIL), "refused"),
    "headers.setdefault": (lambda: _response().headers.setdefault("X-Evil", EVIL), "refused"),
    "headers.setlist": (lambda: _response().headers.setlist("X-Evil", ["ok", EVIL]), "refused"),
    "headers.extend": (lambda: _response().headers.extend({"X-Evil": EVIL}), "refused"),
    "headers.update": (lambda: _response().headers.update({"X-Evil": EVIL}), "refused"),
    "header name": (lambda: _response().headers.add("X-Evil\r\nSet-Cookie", "1"), "refused"),
    "LF only": (lambda: _response().headers.add("X-Evil", "x\nSet-Cookie: a=1"), "refused"),
    "CR only": (lambda: _response().headers.add("X-Evil", "x\rSet-Cookie: a=1"), "refused"),
    "NUL": (lambda: _response().headers.add("X-Evil", "x\0y"), "refused"),
    "Response(headers=)": (lambda: Response("body", headers={"X-Evil": EVIL}), "refused"),
    "tuple (body, status, headers)": (lambda: ("body", 200, {"X-Evil": EVIL}), "refused"),
    "tuple (body, headers)": (lambda: ("body", [("X-Evil", EVIL)]), "refused"),
    "make_response": (lambda: make_response("body", 200, {"X-Evil": EVIL}), "refused"),
    "redirect": (lambda: redirect("/next" + EVIL), "refused"),
    "location": (lambda: _assign(_response(), "location", EVIL), "refused"),
    "content_type": (lambda: _assign(_response(), "content_type", EVIL), "refused"),
    "mimetype": (lambda: _assign(_response(), "mimetype", EVIL), "refused"),
    "set_cookie key": (lambda: _response().set_cookie("a\r\nb", "1"), "refused"),
    "set_cookie path": (lambda: _response().set_cookie("a", "1", path="/" + EVIL), "refused"),
    "set_cookie domain": (lambda: _response().set_cookie("a", "1", domain=EVIL), "refused"),
    "set_cookie expires": (lambda: _response().set_cookie("a", "1", expires=EVIL), "refused"),
    "set_cookie value": (lambda: _set_cookie_value(), "refused"),
    "status text": (lambda: _assign(_response(), "status", "200 OK" + EVIL), "escaped"),
    "send_file name": (
        lambda: send_file(io.BytesIO(b"data"), download_name="a" + EVIL + ".txt"),
        "escaped",
    ),
}


def _set_cookie_value() -> Response:
    response = _response()
    response.set_cookie("a", EVIL)
    return response


@pytest.fixture
def injection_app() -> Ambi:
    app = plain_app()

    @app.get("/inject/<case>")
    def inject(case: str) -> Any:
        rv = INJECTIONS[case][0]()
        return rv if rv is not None else "unreachable"

    @app.get("/inject-async/<case>")
    async def inject_async(case: str) -> Any:
        rv = INJECTIONS[case][0]()
        return rv if rv is not None else "unreachable"

    return app


@pytest.mark.parametrize("case", list(INJECTIONS))
@pytest.mark.parametrize("prefix", ["/inject", "/inject-async"])
def test_no_header_injection(
    injection_app: Ambi,
    make_client: Client,
    case: str,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        response = make_client(injection_app).get(f"{prefix}/{case}")
    expected = INJECTIONS[case][1]
    for name, value in response.headers.multi_items():
        assert not any(char in name + value for char in "\r\n\0"), (name, value)
    assert "injected=1" not in response.headers.get_list("set-cookie")
    if expected == "refused":
        assert response.status_code == 500
        assert "x-evil" not in response.headers
        assert "ValueError" in caplog.text  # the app's own mistake, logged
    else:
        assert response.status_code == 200
        assert "unreachable" not in response.text


def test_assigned_headers_are_checked_on_the_way_out(interface: str) -> None:
    # ``response.headers = {...}`` is checked where every adapter sends (as Werkzeug does):
    # the error is the server's 500, and nothing is sent.
    app = plain_app()

    @app.get("/assigned")
    def assigned() -> Response:
        return _assigned_headers()

    @app.get("/assigned-ok")
    def assigned_ok() -> Response:
        response = _response()
        response.headers = {"X-Fine": "yes"}  # type: ignore[assignment]
        return response

    client = app.test_client(interface)  # type: ignore[arg-type]
    assert client.get("/assigned-ok").headers["x-fine"] == "yes"
    with pytest.raises(ValueError, match="newline or NUL"):
        client.get("/assigned")


def test_redirect_encodes_non_ascii(make_client: Client) -> None:
    app = plain_app()

    @app.get("/go")
    def go() -> Response:
        return redirect("https://bücher.example/straße?q=ä b#top")

    response = make_client(app).get("/go")
    assert response.status_code == 302
    location = "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%A4%20b#top"
    assert response.headers["location"] == location


# -- no open redirect from the helpers ---------------------------------------------------

NASTY_PATHS = [
    "/evil.example",
    "//evil.example",
    "///evil.example",
    "\\evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "%2F%2Fevil.example",
    "\t//evil.example",
]


def _links_app() -> Ambi:
    app = plain_app()

    @app.get("/page/<path:path>")
    @app.get("/<path:path>")
    def page(path: str) -> str:
        return path

    @app.get("/links")
    def links() -> dict[str, Any]:
        return {value: url_for("page", path=value) for value in NASTY_PATHS}

    @app.get("/external")
    async def external() -> dict[str, Any]:
        return {value: url_for("page", path=value, _external=True) for value in NASTY_PATHS}

    @app.get("/go")
    def go() -> Response:
        return redirect(url_for("page", path=request.args["to"]))

    return app


def test_url_for_never_builds_a_scheme_relative_url(make_client: Client) -> None:
    built = make_client(_links_app()).get("/links").json()
    assert built["/evil.example"] == "/evil.example"  # as Flask builds it
    assert built["//evil.example"] == "/evil.example"
    assert built["\\evil.example"] == "/%5Cevil.example"
    for value, url in built.items():
        assert url.startswith("/"), value
        assert url[1:2] not in ("/", "\\"), (value, url)
        assert "://" not in url.split("/")[1], (value, url)  # no scheme in the first segment


def test_external_urls_stay_on_the_site(make_client: Client) -> None:
    built = make_client(_links_app()).get("/external").json()
    for value, url in built.items():
        assert url.startswith("http://localhost/"), (value, url)


@pytest.mark.parametrize("target", ["/evil.example", "//evil.example", "\\evil.example"])
def test_redirect_of_url_for_stays_local(make_client: Client, target: str) -> None:
    response = make_client(_links_app()).get("/go", params={"to": target})
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("/")
    assert location[1:2] not in ("/", "\\")


def test_url_for_outside_a_request_stays_on_server_name() -> None:
    app = _links_app()
    app.config["SERVER_NAME"] = "example.com"
    with app.app_context():
        assert url_for("page", path="//evil.example") == "http://example.com/evil.example"


# -- limits on by default ----------------------------------------------------------------------


def _limits_app() -> Ambi:
    app = plain_app()

    @app.post("/data")
    def data() -> str:
        return str(len(request.get_data()))

    @app.post("/data-async")
    async def data_async() -> str:
        return str(len(request.get_data()))

    @app.post("/form")
    def form() -> str:
        return str(len(request.form))

    return app


def test_default_limits_are_finite() -> None:
    config = plain_app().config
    assert config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    assert config["MAX_FORM_MEMORY_SIZE"] == 500_000
    assert config["MAX_FORM_PARTS"] == 1000
    assert config["MAX_FORM_PART_HEADER_SIZE"] == 8192


@pytest.mark.parametrize("path", ["/data", "/data-async"])
def test_body_over_16_mib_is_refused(make_client: Client, path: str) -> None:
    client = make_client(_limits_app())
    limit = 16 * 1024 * 1024
    assert client.post(path, content=b"x" * limit).text == str(limit)
    response = client.post(path, content=b"x" * (limit + 1))
    assert response.status_code == 413
    assert "Traceback" not in response.text


def test_form_limits_are_on(make_client: Client) -> None:
    client = make_client(_limits_app())
    big_field = client.post("/form", data={"field": "x" * 500_001})
    assert big_field.status_code == 413
    many_fields = client.post(
        "/form",
        content="&".join(f"f{n}=1" for n in range(1001)),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert many_fields.status_code == 413
    assert client.post("/form", data={"field": "x" * 1000}).text == "1"
