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

try:
    from tests._asgi import http_scope
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _asgi import http_scope  # type: ignore[no-redef]

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


# -- endpoints that run nothing but their view: called without the flow --------------------


def _count_flows(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each request that goes through the flow (``request_flow``)."""
    import ambi.asgi
    import ambi.wsgi

    seen: list[str] = []
    for module in (ambi.asgi, ambi.wsgi):
        original = module.request_flow

        def counted(app: Any, ctx: Any, original: Any = original) -> Any:
            seen.append(ctx.request.path)
            return original(app, ctx)

        monkeypatch.setattr(module, "request_flow", counted)
    return seen


def _native(interface: str, view_kind: str) -> bool:
    return (interface, view_kind) in (("wsgi", "def"), ("asgi", "async"))


def _called_directly(interface: str, view_kind: str) -> bool:
    """A view-only endpoint skips the flow but for an async view under WSGI (it needs
    the driver's loop entry); a def view under ASGI is called in its one thread hop."""
    return (interface, view_kind) != ("wsgi", "async")


def test_only_endpoints_with_more_than_a_view_go_through_the_flow(
    make_client: MakeClient,
    as_view: MakeView,
    monkeypatch: pytest.MonkeyPatch,
    interface: str,
    view_kind: str,
) -> None:
    app = Ambi(__name__)
    app.add_url_rule("/plain/<int:n>", "/plain/<int:n>", as_view(lambda n: f"plain {n}"))
    app.add_url_rule("/hooked", "/hooked", as_view(lambda: "hooked"))
    bp_hooks: list[str] = []

    @app.before_request
    def before() -> None:
        if request.path == "/hooked":
            bp_hooks.append("before")

    flows = _count_flows(monkeypatch)
    client = make_client(app)
    # A before_request hook belongs to every endpoint: both go through the flow.
    assert client.get("/plain/1").text == "plain 1"
    assert client.get("/hooked").text == "hooked"
    assert flows == ["/plain/1", "/hooked"]
    assert bp_hooks == ["before"]

    bare = Ambi(__name__)
    bare.add_url_rule("/plain/<int:n>", "/plain/<int:n>", as_view(lambda n: f"plain {n}"))
    flows.clear()
    client = make_client(bare)
    assert client.get("/plain/2").text == "plain 2"
    assert client.head("/plain/2").content == b""
    # Called directly on the native paths and in the thread hop of a def view under ASGI
    # (an async view under WSGI needs the driver).
    assert flows == ([] if _called_directly(interface, view_kind) else ["/plain/2"] * 2)
    flows.clear()
    # Routing errors, the automatic OPTIONS answer: through the flow.
    assert client.get("/nothing").status_code == 404
    assert client.post("/plain/2").status_code == 405
    assert client.options("/plain/2").headers["Allow"] == "GET, HEAD, OPTIONS"
    assert flows == ["/nothing", "/plain/2", "/plain/2"]


def test_a_direct_view_runs_on_its_native_path(
    make_client: MakeClient, interface: str, view_kind: str
) -> None:
    from ambi._drivers import adaptations

    app = Ambi(__name__)
    if view_kind == "def":
        app.add_url_rule("/", "/", lambda: "ok")
    else:

        async def view() -> str:
            return "ok"

        app.get("/")(view)
    client = make_client(app)
    client.get("/")
    hops, entries = adaptations.thread_hops, adaptations.loop_entries
    assert client.get("/").text == "ok"
    native = _native(interface, view_kind)
    assert adaptations.thread_hops - hops == (0 if native or interface == "wsgi" else 1)
    assert adaptations.loop_entries - entries == (0 if native or interface == "asgi" else 1)


def test_what_a_direct_view_does_is_handled_as_by_the_flow(
    make_client: MakeClient,
    as_view: MakeView,
    monkeypatch: pytest.MonkeyPatch,
    interface: str,
    view_kind: str,
) -> None:
    from ambi import abort, after_this_request, g, session
    from ambi.wrappers import Response

    app = Ambi(__name__)
    app.secret_key = "direct"
    app.testing = False
    monkeypatch.setattr(app.logger, "disabled", True)

    def after(response: Response) -> Response:
        response.headers["X-After"] = "yes"
        return response

    app.add_url_rule("/after", "/after", as_view(lambda: after_this_request(after) and "after"))
    app.add_url_rule("/session", "/session", as_view(lambda: session.update(n=1) or "session"))
    app.add_url_rule("/g", "/g", as_view(lambda: setattr(g, "x", 5) or str(g.x + g.get("y", 1))))
    app.add_url_rule("/value-error", "/value-error", as_view(lambda: int("x")))
    app.add_url_rule("/abort", "/abort", as_view(lambda: abort(418)))
    app.add_url_rule("/none", "/none", as_view(lambda: None))
    app.add_url_rule("/crash", "/crash", as_view(lambda: 1 / 0))
    app.add_url_rule("/stream", "/stream", as_view(lambda: (chunk for chunk in ("a", "b"))))
    app.add_url_rule("/tuple", "/tuple", as_view(lambda: ("made", 201, {"X-T": "1"})))
    app.errorhandler(ValueError)(lambda error: ("handled", 400))

    flows = _count_flows(monkeypatch)
    client = make_client(app)
    response = client.get("/after")
    assert response.text == "after"
    assert response.headers["X-After"] == "yes"
    response = client.get("/session")
    assert response.text == "session"
    assert "session=" in response.headers["set-cookie"]
    assert client.get("/g").text == "6"
    response = client.get("/value-error")
    assert (response.status_code, response.text) == (400, "handled")
    assert client.get("/abort").status_code == 418
    assert client.get("/none").status_code == 500  # TypeError: returned None
    assert client.get("/crash").status_code == 500
    assert client.get("/stream").text == "ab"
    response = client.get("/tuple")
    assert (response.status_code, response.text, response.headers["X-T"]) == (201, "made", "1")
    if _called_directly(interface, view_kind):
        assert flows == []  # all of it without request_flow


def test_a_direct_view_returning_a_coroutine_is_awaited(make_client: MakeClient) -> None:
    app = Ambi(__name__)

    async def answer() -> str:
        return "awaited"

    app.get("/")(lambda: answer())  # a sync wrapper around an async function
    assert make_client(app).get("/").text == "awaited"


def test_a_def_view_under_asgi_is_called_directly_in_its_one_hop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    import threading

    from ambi import after_this_request, inline
    from ambi._drivers import adaptations
    from ambi.wrappers import Response

    app = Ambi(__name__)
    app.testing = False
    monkeypatch.setattr(app.logger, "disabled", True)
    threads: dict[str, int] = {}

    def where(name: str) -> None:
        threads[name] = threading.get_ident()

    @app.get("/thread")
    def in_thread() -> str:
        where("view")
        return "thread"

    @app.post("/inline")
    @inline
    def on_loop() -> dict[str, Any]:
        asyncio.get_running_loop()  # raises off the loop
        return request.get_json()  # type: ignore[no-any-return]

    @app.get("/async-after")
    def async_after() -> str:
        async def after(response: Response) -> Response:
            where("after")
            response.headers["X-After"] = "async"
            return response

        after_this_request(after)
        return "after"

    class Teapot(Exception):
        pass

    @app.errorhandler(Teapot)
    async def teapot(error: Teapot) -> tuple[str, int]:
        where("handler")
        return "short and stout", 418

    @app.get("/teapot")
    def raises() -> str:
        raise Teapot

    flows = _count_flows(monkeypatch)
    with app.test_client("asgi") as client:
        for path, hops, status, text in [
            ("/thread", 1, 200, "thread"),
            ("/async-after", 1, 200, "after"),
            ("/teapot", 1, 418, "short and stout"),
        ]:
            before = adaptations.thread_hops
            response = client.get(path)
            assert (response.status_code, response.text) == (status, text)
            assert adaptations.thread_hops - before == hops
        assert response.headers.get("X-After") is None
        assert client.get("/async-after").headers["X-After"] == "async"
        before = adaptations.thread_hops
        response = client.post("/inline", json={"a": [1, 2]})
        assert response.json() == {"a": [1, 2]}
        assert adaptations.thread_hops == before  # @inline: on the loop, body read ahead
        response = client.post(
            "/inline", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
    assert flows == []
    # The view ran in a worker thread; what it left to async code ran on the loop's.
    assert threads["view"] != threads["after"] == threads["handler"]


def test_request_signals_still_fire_for_direct_views(
    make_client: MakeClient, as_view: MakeView
) -> None:
    from ambi import signals

    app = Ambi(__name__)
    app.add_url_rule("/", "/", as_view(lambda: "ok"))
    client = make_client(app)
    events: list[str] = []
    for name in ("request_started", "request_finished", "request_tearing_down"):
        with getattr(signals, name).connected_to(lambda sender, n=name, **e: events.append(n), app):
            assert client.get("/").text == "ok"
    assert events == ["request_started", "request_finished", "request_tearing_down"]


def test_g_is_made_on_first_use_with_the_apps_class() -> None:
    from ambi import g
    from ambi.ctx import AppContext, _AppCtxGlobals

    class Globals(_AppCtxGlobals):
        pass

    app = Ambi(__name__)
    app.app_ctx_globals_class = Globals  # type: ignore[misc]
    with app.test_request_context("/") as ctx:
        assert "g" not in ctx.__dict__
        g.user = "ada"
        assert type(ctx.g) is Globals
        assert ctx.g.user == "ada"
        assert g.user == "ada"
    replaced = _AppCtxGlobals()
    with app.app_context() as context:
        context.g = replaced
        assert g._get_current_object() is replaced  # type: ignore[attr-defined]
    assert isinstance(AppContext.g, object)


def test_calling_the_app_uses_middleware_and_subclass_overrides() -> None:
    import asyncio

    seen: list[str] = []

    def collect(app: Any) -> tuple[int, bytes]:
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        scope = http_scope()
        asyncio.run(app(scope, receive, send))
        return messages[0]["status"], messages[1]["body"]

    app = Ambi(__name__)
    app.add_url_rule("/", "/", lambda: "plain")
    assert collect(app) == (200, b"plain")

    inner = app.asgi_app

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        seen.append("middleware")
        await inner(scope, receive, send)

    app.asgi_app = middleware  # type: ignore[method-assign]
    assert collect(app) == (200, b"plain")
    assert seen == ["middleware"]

    class Custom(Ambi):
        async def asgi_app(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append("subclass")
            await super().asgi_app(scope, receive, send)

    custom = Custom(__name__)
    custom.add_url_rule("/", "/", lambda: "custom")
    assert collect(custom) == (200, b"custom")
    assert seen == ["middleware", "subclass"]


# -- request.headers under WSGI: single reads from the environ -----------------------------


_NAMES = (
    "X-Request-Id",
    "x-request-id",
    "HOST",
    "Cookie",
    "Empty",
    "Missing",
    "X_Request_Id",  # "_": never a header name in an environ
    "X Bad",  # not a token
    "Content-Type",
    "content-length",
    "Accept-Encoding",
)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"CONTENT_TYPE": "", "CONTENT_LENGTH": ""},
        {"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "3"},
        {"HTTP_CONTENT_TYPE": "text/html", "CONTENT_TYPE": "text/plain"},
    ],
)
def test_environ_header_reads_match_the_header_list(extra: dict[str, str]) -> None:
    environ = _environ(
        HTTP_HOST="example.org",
        HTTP_X_REQUEST_ID="abc",
        HTTP_COOKIE="a=1; b=2",
        HTTP_EMPTY="",
        HTTP_ACCEPT_ENCODING="gzip, br",
        **extra,
    )
    connection = WSGIConnection(environ)
    expected = Headers._from_pairs(connection.header_items)
    for name in _NAMES:
        headers = WSGIConnection(environ).make_headers()
        assert headers.get(name) == expected.get(name), name
        assert headers.get(name, "d") == expected.get(name, "d"), name
        assert (name in headers) == (name in expected), name
        try:
            value = expected[name]
        except KeyError:
            with pytest.raises(KeyError):
                headers[name]
        else:
            assert headers[name] == value
    headers = WSGIConnection(dict(environ, HTTP_X_NUMBER="12")).make_headers()
    assert headers.get("x-number", type=int) == 12
    assert headers.get("x-request-id", 7, type=int) == 7  # "abc" is no int: the default
    assert headers.get("x-missing", 7, type=int) == 7
    assert headers._pairs is None  # all of them read from the environ
    assert headers.get("content-length", type=int) == expected.get("content-length", type=int)
    headers = WSGIConnection(environ).make_headers()
    assert list(headers) == list(expected)
    assert headers == expected
    assert type(headers.copy()) is Headers
    assert headers.copy() == expected


def test_environ_headers_build_the_list_on_anything_but_a_read() -> None:
    headers = WSGIConnection(_environ(HTTP_X_A="1", HTTP_ACCEPT="*/*")).make_headers()
    assert headers.getlist("x-a") == ["1"]
    headers["X-A"] = "2"  # changes go to the list, and reads see them from then on
    headers.add("X-New", "3")
    assert headers.get("X-A") == "2"
    assert headers["x-new"] == "3"
    assert "X-New" in headers
    assert len(headers) == 3


def test_assigned_header_items_are_what_the_headers_read() -> None:
    connection = WSGIConnection(_environ(HTTP_X_A="environ"))
    connection.header_items = [("X-A", "assigned")]
    headers = connection.make_headers()
    assert headers.get("X-A") == "assigned"
    assert headers["x-a"] == "assigned"
    assert "X-B" not in headers


def test_an_invalid_header_fails_when_read_but_not_its_neighbours() -> None:
    app = _headers_app()
    app.logger.disabled = True

    @app.get("/one")
    def one() -> Any:
        return {"ok": request.headers.get("X-Ok"), "bad": "X-Bad" in request.headers}

    environ = _environ(HTTP_X_OK="fine", HTTP_X_BAD="a\nb", PATH_INFO="/one")
    # Reading X-Bad falls back to the checked list, which refuses the value: a 500,
    # never the value with its newline.
    status, _ = _call(app, environ)
    assert status == "500 INTERNAL SERVER ERROR"

    @app.get("/ok")
    def ok() -> Any:
        return {"ok": request.headers.get("X-Ok"), "host": request.headers.get("Host")}

    status, body = _call(app, _environ(HTTP_X_OK="fine", HTTP_X_BAD="a\nb", PATH_INFO="/ok"))
    assert status == "200 OK"
    assert json.loads(body) == {"ok": "fine", "host": None}


def test_a_subclass_make_response_is_used_for_direct_views(
    make_client: MakeClient, as_view: MakeView
) -> None:
    from ambi.wrappers import Response

    class Custom(Ambi):
        def make_response(self, rv: Any) -> Response:
            response = super().make_response(rv)
            response.headers["X-Made-By"] = "subclass"
            return response

    app = Custom(__name__)
    app.add_url_rule("/", "index", as_view(lambda: "text"))
    response = make_client(app).get("/")
    assert response.text == "text"
    assert response.headers["X-Made-By"] == "subclass"
    assert Ambi._plain_make_response
    assert not Custom._plain_make_response


@pytest.mark.parametrize("mimetype", [None, "text/plain", "application/json", "image/png"])
@pytest.mark.parametrize("text", ["", "Hello, World!", "héllo ☃ \U0001f600"])
def test_text_response_is_what_the_constructor_makes(text: str, mimetype: str | None) -> None:
    from ambi.wrappers import Response, text_response

    made, built = text_response(text, mimetype), Response(text, mimetype=mimetype)
    assert type(made) is Response
    assert made.headers.to_wsgi_list() == built.headers.to_wsgi_list()
    assert (made.status_code, made.status, made.get_data(), made.response) == (
        built.status_code,
        built.status,
        built.get_data(),
        built.response,
    )
    assert not made.is_streamed
    assert made.prepare_headers().to_wsgi_list() == built.prepare_headers().to_wsgi_list()


def test_text_response_follows_the_class_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from ambi.wrappers import Response, text_response

    monkeypatch.setattr(Response, "default_mimetype", None)
    monkeypatch.setattr(Response, "default_status", 202)
    made, built = text_response("x"), Response("x")
    assert made.headers.to_wsgi_list() == built.headers.to_wsgi_list() == [("Content-Length", "1")]
    assert made.status == built.status == "202 ACCEPTED"


def test_the_apps_response_class_makes_direct_str_and_json_responses(
    make_client: MakeClient, as_view: MakeView
) -> None:
    from ambi.wrappers import Response

    made: list[str] = []

    class Mine(Response):
        default_mimetype = "text/plain"

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self.mimetype)

    app = Ambi(__name__)
    app.response_class = Mine
    app.add_url_rule("/text", "text", as_view(lambda: "text"))
    app.add_url_rule("/json", "json", as_view(lambda: {"a": [1, "é"]}))
    app.add_url_rule("/list", "list", as_view(lambda: [1, 2]))
    client = make_client(app)
    response = client.get("/text")
    assert (response.text, response.headers["Content-Type"]) == (
        "text",
        "text/plain; charset=utf-8",
    )
    response = client.get("/json")
    assert response.json() == {"a": [1, "é"]}
    assert response.headers["Content-Type"] == "application/json"
    assert client.get("/list").json() == [1, 2]
    assert made == ["text/plain", "application/json", "application/json"]
