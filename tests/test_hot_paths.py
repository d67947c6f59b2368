"""Behaviour kept by the per-request shortcuts of the sans-I/O core (issue 6).

Each test pins down what a shortcut must not change: the ``request`` proxy's attribute
reads, the request header list built from a WSGI environ, the compact JSON encoder, the
form limits read from the config when a form is parsed, template globals and the
lazily read WSGI client/server addresses.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ambi import Ambi, jsonify, render_template, render_template_string, request
from ambi.datastructures import Headers
from ambi.testing import AmbiClient
from ambi.wrappers import Request
from ambi.wsgi import WSGIConnection

MakeClient = Callable[..., AmbiClient]
MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]


# -- the request proxy ----------------------------------------------------------------------


def test_request_proxy_reads_outside_a_request_raise_the_usual_error() -> None:
    with pytest.raises(RuntimeError, match="Working outside of request context"):
        _ = request.method
    with pytest.raises(RuntimeError, match="Working outside of request context"):
        _ = request._args
    app = Ambi(__name__)
    with app.app_context(), pytest.raises(RuntimeError, match="outside of request context"):
        _ = request.path


def test_request_proxy_forwards_public_and_private_names() -> None:
    app = Ambi(__name__)
    with app.test_request_context("/x?a=1"):
        real = request._get_current_object()
        assert isinstance(real, Request)
        assert not isinstance(request, Request)  # the proxy stays a proxy, as before
        assert request.args["a"] == "1"
        assert request._args is real._args  # private names are forwarded too
        assert not hasattr(request, "missing")
        with pytest.raises(AttributeError, match="missing"):
            _ = request.missing
        request.note = "set"  # type: ignore[attr-defined]
        assert real.note == "set"  # type: ignore[attr-defined]


def test_request_proxy_in_views(make_client: MakeClient, as_view: MakeView) -> None:
    app = Ambi(__name__)
    app.get("/r")(
        as_view(lambda: {"m": request.method, "q": request.args.getlist("t"), "p": request.path})
    )
    response = make_client(app).get("/r?t=1&t=2")
    assert response.json() == {"m": "GET", "q": ["1", "2"], "p": "/r"}


# -- request headers from a WSGI environ -----------------------------------------------------


def _environ(**extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SERVER_NAME": "example.org",
        "SERVER_PORT": "8080",
        "REMOTE_ADDR": "10.0.0.1",
        "REMOTE_PORT": "5555",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
    }
    environ.update(extra)
    return environ


def _headers_app() -> Ambi:
    app = Ambi(__name__)

    @app.route("/", methods=["GET", "POST"])
    def headers() -> Any:
        return {"headers": [list(pair) for pair in request.headers]}

    return app


def _call(app: Ambi, environ: dict[str, Any]) -> tuple[str, bytes]:
    seen: list[str] = []
    body = app(environ, lambda status, headers, exc_info=None: seen.append(status))
    return seen[0], b"".join(body)  # type: ignore[arg-type]


@pytest.mark.parametrize("repeat", [1, 2, 3])
def test_wsgi_header_list_is_the_same_on_every_request(repeat: int) -> None:
    # The first request learns the environ keys; later ones take the shortcut.
    app = _headers_app()
    environ = _environ(
        HTTP_X_REQUEST_ID="abc",
        HTTP_EMPTY="",
        CONTENT_TYPE="",  # an empty CONTENT_TYPE is no header, an empty HTTP_* one is
        CONTENT_LENGTH="0",
        HTTP_ACCEPT_ENCODING="gzip",
    )
    for _ in range(repeat):
        status, body = _call(app, dict(environ))
        assert status == "200 OK"
        assert json.loads(body)["headers"] == [
            ["X-Request-Id", "abc"],
            ["Empty", ""],
            ["Content-Length", "0"],
            ["Accept-Encoding", "gzip"],
        ]


@pytest.mark.parametrize(
    "extra",
    [{"HTTP_X_BAD": "a\nb"}, {"HTTP_X_BAD": "a\x00b"}, {"HTTP_X BAD": "a"}, {"HTTP_": "v"}],
)
def test_wsgi_invalid_header_fails_alike_every_time(extra: dict[str, str]) -> None:
    # What a server would never pass: the header check still runs, on every request.
    app = _headers_app()
    app.logger.disabled = True
    statuses = [_call(app, _environ(**extra))[0] for _ in range(3)]
    assert statuses == ["500 INTERNAL SERVER ERROR"] * 3


def test_headers_from_pairs_matches_the_constructor() -> None:
    pairs = [("Host", "a"), ("X-Thing", "1"), ("Cookie", "k=v")]
    made = Headers._from_pairs(pairs)
    assert made == Headers(pairs)
    assert list(made) == pairs
    made.add("X-More", "2")  # a copy: the connection's list is not changed
    assert len(pairs) == 3
    assert list(Headers._from_pairs([("X-N", 5)])) == [("X-N", "5")]  # type: ignore[list-item]
    with pytest.raises(ValueError, match="newline"):
        Headers._from_pairs([("X-A", "a\r\nInjected: 1")])
    with pytest.raises(ValueError, match="Invalid header name"):
        Headers._from_pairs([("Bad Name", "v")])


def test_wsgi_server_and_client_are_read_on_first_use() -> None:
    environ = _environ()
    connection = WSGIConnection(environ)
    assert connection.server == ("example.org", 8080)
    assert connection.client == ("10.0.0.1", 5555)
    connection.client = ("10.0.0.2", 1)
    assert connection.client == ("10.0.0.2", 1)
    bare = WSGIConnection(_environ(REMOTE_ADDR="", SERVER_PORT="x"))
    assert bare.client is None
    assert bare.server == ("example.org", None)
    assert WSGIConnection(_environ(SERVER_PORT=443)).server == ("example.org", 443)


def test_remote_addr_and_host_under_wsgi() -> None:
    app = Ambi(__name__)
    app.get("/")(lambda: {"addr": request.remote_addr, "host": request.host})
    status, body = _call(app, _environ())
    assert status == "200 OK"
    assert json.loads(body) == {"addr": "10.0.0.1", "host": "example.org:8080"}


# -- JSON responses -----------------------------------------------------------------------


def test_json_responses_are_what_json_dumps_writes() -> None:
    app = Ambi(__name__)
    payload = {"b": [1.5, float("inf"), None, True], "a": "é\u2028<>", "c": {"z": 1, "y": ()}}
    with app.app_context():
        body = jsonify(payload).get_data(as_text=True)
        assert body == json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n"
        app.json.ensure_ascii = False  # type: ignore[attr-defined]
        body = jsonify(payload).get_data(as_text=True)
        assert body == (
            json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        )


def test_json_circular_and_deep_values_raise_as_before() -> None:
    app = Ambi(__name__)
    loop: list[Any] = []
    loop.append(loop)
    deep: list[Any] = []
    inner = deep
    for _ in range(sys.getrecursionlimit() + 10):
        inner.append([])
        inner = inner[0]
    with app.app_context():
        with pytest.raises(ValueError, match="Circular reference"):
            jsonify({"x": loop})
        with pytest.raises(RecursionError):
            jsonify(deep)
        with pytest.raises(TypeError, match="not JSON serializable"):
            jsonify({"x": object()})
        assert jsonify({"ok": 1}).get_json() == {"ok": 1}  # still fine afterwards


def test_json_view_and_echo(make_client: MakeClient, as_view: MakeView) -> None:
    app = Ambi(__name__)
    app.post("/echo")(as_view(lambda: request.get_json()))
    payload = {"id": 1, "items": [{"q": 2, "p": 9.5}], "tags": ["a"]}
    response = make_client(app).post("/echo", json=payload)
    assert response.status_code == 200
    assert (
        response.content
        == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    )


# -- form limits ----------------------------------------------------------------------------


def test_form_limits_come_from_the_config_when_the_form_is_parsed(
    make_client: MakeClient, as_view: MakeView
) -> None:
    app = Ambi(__name__)
    app.post("/f")(as_view(lambda: {"n": len(request.form)}))
    client = make_client(app)
    fields = {f"f{i}": "v" for i in range(5)}
    assert client.post("/f", data=fields).json() == {"n": 5}
    app.config["MAX_FORM_PARTS"] = 3  # changed after the first request: seen at once
    response = client.post("/f", data=fields)
    assert response.status_code == 413
    assert "MAX_FORM_PARTS" in response.text


def test_form_limits_set_on_one_request(make_client: MakeClient, as_view: MakeView) -> None:
    app = Ambi(__name__)
    app.config["MAX_FORM_MEMORY_SIZE"] = 10

    @app.before_request
    def raise_limit() -> None:
        if request.path == "/big":
            request.max_form_memory_size = 1000

    def view() -> Any:
        return {
            "size": len(request.form["v"]),
            "limits": [
                request.max_form_memory_size,
                request.max_form_parts,
                request.max_form_part_header_size,
            ],
        }

    app.post("/big")(as_view(view))
    app.post("/small", endpoint="small")(as_view(view))
    client = make_client(app)
    assert client.post("/big", data={"v": "x" * 100}).json() == {
        "size": 100,
        "limits": [1000, 1000, 8192],
    }
    assert client.post("/small", data={"v": "x" * 100}).status_code == 413


def test_form_limit_defaults_without_an_app() -> None:
    request_ = Request(WSGIConnection(_environ()))
    assert (
        request_.max_form_memory_size,
        request_.max_form_parts,
        request_.max_form_part_header_size,
    ) == (500_000, 1000, 8192)
    request_.max_form_parts = None
    assert request_.max_form_parts is None


# -- templates ------------------------------------------------------------------------------


def test_template_globals_stay_live_and_in_order(tmp_path: Path) -> None:
    (tmp_path / "g.html").write_text("{{ greeting }} {{ shared }} {{ range(2)|list }}")
    app = Ambi(__name__, root_path=str(tmp_path), template_folder=".")
    app.jinja_env.globals["greeting"] = "hello"
    app.jinja_env.globals["shared"] = "env"
    with app.test_request_context("/"):
        assert render_template("g.html") == "hello env [0, 1]"
        # Added after the template was loaded and cached: seen by the next render.
        app.jinja_env.globals["greeting"] = "bonjour"
        assert render_template("g.html") == "bonjour env [0, 1]"
        # A template's own globals win over the environment's.
        template = app.jinja_env.get_template("g.html", globals={"shared": "mine"})
        assert template.render() == "bonjour mine [0, 1]"
        # The caller's names win over all globals.
        assert render_template_string("{{ greeting }}", greeting="hi") == "hi"


def test_template_session_with_a_custom_sync_interface(
    make_client: MakeClient, as_view: MakeView
) -> None:
    from ambi.sessions import SecureCookieSessionInterface

    class Interface(SecureCookieSessionInterface):
        opened = 0

        def open_session(self, app: Any, request: Any) -> Any:
            Interface.opened += 1
            return super().open_session(app, request)

    app = Ambi(__name__)
    app.secret_key = "k"
    app.session_interface = Interface()
    app.get("/")(as_view(lambda: render_template_string("{{ session.get('x', 'none') }}")))
    response = make_client(app).get("/")
    assert response.text == "none"
    assert Interface.opened == 1
