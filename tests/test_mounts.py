"""Mounting other apps: ``app.mount(prefix, other)`` and ``app.fallback(other)``, in-process on
both interfaces.

A small WSGI callable and a small ASGI callable echo what they were given (``SCRIPT_NAME``
and ``PATH_INFO``, or ``root_path`` and ``path``; the query string, a header, the body's
size and hash) so each test can check what crossed the bridge: a WSGI app is called
directly under WSGI and through a2wsgi's threads under ASGI; an ASGI app is awaited
directly under ASGI and runs through a2wsgi's loop thread under WSGI. Streaming (request
and response bodies) is checked with direct WSGI/ASGI calls, because the test clients
read whole bodies; a handshake between the mounted app and the consumer proves that a
chunk crossed before the producer went on.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import flask
import pytest

from ambi import Ambi, request, url_for
from ambi.mounts import MountTable, detect_interface, normalize_prefix
from ambi.routing import Map, Rule
from ambi.testing import ASGITransport, WSGITransport

Environ = dict[str, Any]
HANDSHAKE_TIMEOUT = 5.0
MEGABYTE = 1024 * 1024
#: What each mounted app saw in the streaming tests.
SEEN: dict[str, Any] = {}


# -- the mounted apps ------------------------------------------------------------------


def echo_wsgi(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    digest = hashlib.sha256()
    size = reads = 0
    while size < length:
        chunk = environ["wsgi.input"].read(min(64 * 1024, length - size))
        if not chunk:
            break
        if reads == 0:
            SEEN["wsgi_first_read"] = dict(SEEN.get("progress", {}))
        digest.update(chunk)
        size += len(chunk)
        reads += 1
    payload = {
        "kind": "wsgi",
        "method": environ["REQUEST_METHOD"],
        "script_name": environ.get("SCRIPT_NAME", ""),
        "path_info": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "x_test": environ.get("HTTP_X_TEST"),
        "size": size,
        "sha256": digest.hexdigest(),
    }
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("X-Mounted", "wsgi"),
            ("Set-Cookie", "first=1; Path=/"),
            ("Set-Cookie", "second=2; Path=/"),
        ],
    )
    return [json.dumps(payload).encode()]


async def echo_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    digest = hashlib.sha256()
    size = messages = 0
    while True:
        message = await receive()
        if messages == 0:
            SEEN["asgi_first_receive"] = dict(SEEN.get("progress", {}))
        messages += 1
        body = message.get("body", b"")
        digest.update(body)
        size += len(body)
        if not message.get("more_body", False):
            break
    headers = dict(scope["headers"])
    payload = {
        "kind": "asgi",
        "method": scope["method"],
        "root_path": scope.get("root_path", ""),
        "path": scope["path"],
        "query": scope["query_string"].decode(),
        "x_test": headers.get(b"x-test", b"").decode() or None,
        "size": size,
        "sha256": digest.hexdigest(),
    }
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"x-mounted", b"asgi"),
                (b"set-cookie", b"first=1; Path=/"),
                (b"set-cookie", b"second=2; Path=/"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


def named_wsgi(name: str) -> Callable[..., Iterable[bytes]]:
    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{name} {environ['SCRIPT_NAME']} {environ['PATH_INFO']}".encode()]

    return app


def failing_wsgi(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise RuntimeError("the mounted WSGI app broke")


async def failing_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    raise RuntimeError("the mounted ASGI app broke")


def streaming_wsgi(environ: Environ, start_response: Callable[..., Any]) -> Iterator[bytes]:
    """Yields one chunk, then waits until the consumer says it has it."""
    consumer_has_first: threading.Event = SEEN["consumer_has_first"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first;"
    SEEN["producer_saw_consumer"] = consumer_has_first.wait(HANDSHAKE_TIMEOUT)
    yield b"second;"
    yield b"last"


async def streaming_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    consumer_has_first: threading.Event = SEEN["consumer_has_first"]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first;", "more_body": True})
    for _ in range(int(HANDSHAKE_TIMEOUT / 0.01)):
        if consumer_has_first.is_set():
            break
        await asyncio.sleep(0.01)
    SEEN["producer_saw_consumer"] = consumer_has_first.is_set()
    await send({"type": "http.response.body", "body": b"second;", "more_body": True})
    await send({"type": "http.response.body", "body": b"last"})


# -- the app that mounts them ---------------------------------------------------------


@pytest.fixture
def app() -> Ambi:
    app = Ambi(__name__, static_folder=None)
    app.testing = True
    app.mount("/wsgi", echo_wsgi)
    app.mount("/asgi", echo_asgi)
    app.mount("/api", named_wsgi("api"))
    app.mount("/api/v2", named_wsgi("api-v2"))
    app.mount("/café", named_wsgi("cafe"))
    app.mount("/boom-wsgi", failing_wsgi)
    app.mount("/boom-asgi", failing_asgi)
    app.mount("/stream-wsgi", streaming_wsgi)
    app.mount("/stream-asgi", streaming_asgi)
    app.config["HOOKS"] = []

    @app.before_request
    def before() -> None:
        app.config["HOOKS"].append(("before", request.path))

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        app.config["HOOKS"].append(("teardown", request.path))

    @app.get("/wsgix")
    def not_under_the_mount() -> str:
        return "ambi wsgix"

    return app


@pytest.fixture(autouse=True)
def _clear_seen() -> Iterator[None]:
    SEEN.clear()
    yield
    SEEN.clear()


# -- paths: SCRIPT_NAME/PATH_INFO, root_path/path, prefix boundaries ------------------------


@pytest.mark.parametrize(
    ("url", "script_name", "path_info"),
    [
        ("/wsgi", "/wsgi", ""),
        ("/wsgi/", "/wsgi", "/"),
        ("/wsgi/a/b", "/wsgi", "/a/b"),
        ("/wsgi/a%20b/c%2Fd", "/wsgi", "/a b/c/d"),
    ],
)
def test_a_wsgi_mount_gets_the_prefix_in_script_name(
    app: Ambi, make_client: Callable[..., Any], url: str, script_name: str, path_info: str
) -> None:
    response = make_client(app).get(url)
    assert response.status_code == 200
    seen = response.json()
    assert (seen["kind"], seen["script_name"], seen["path_info"]) == (
        "wsgi",
        script_name,
        path_info,
    )


@pytest.mark.parametrize(
    ("url", "path"),
    [("/asgi", "/asgi"), ("/asgi/", "/asgi/"), ("/asgi/a/b", "/asgi/a/b")],
)
def test_an_asgi_mount_gets_the_prefix_in_root_path_and_the_whole_path(
    app: Ambi, make_client: Callable[..., Any], url: str, path: str
) -> None:
    # The ASGI spec (and uvicorn): "path" is the whole path, root_path included.
    seen = make_client(app).get(url).json()
    assert (seen["kind"], seen["root_path"], seen["path"]) == ("asgi", "/asgi", path)


def test_a_prefix_matches_whole_segments_only(app: Ambi, make_client: Callable[..., Any]) -> None:
    client = make_client(app)
    assert client.get("/wsgix").text == "ambi wsgix"
    response = client.get("/asgix")
    assert response.status_code == 404
    assert "x-mounted" not in response.headers


def test_the_longest_prefix_wins(app: Ambi, make_client: Callable[..., Any]) -> None:
    client = make_client(app)
    assert client.get("/api/v2/users").text == "api-v2 /api/v2 /users"
    assert client.get("/api/v1/users").text == "api /api /v1/users"
    assert client.get("/api/v2x").text == "api /api /v2x"


def test_a_non_ascii_prefix(app: Ambi, make_client: Callable[..., Any]) -> None:
    # WSGI strings are UTF-8 bytes as latin-1, on both sides of the bridge.
    text = make_client(app).get("/caf%C3%A9/menu").text
    assert text == "cafe /caf\u00c3\u00a9 /menu"


def test_the_prefix_extends_the_apps_own_root(interface: str) -> None:
    """An Ambi app served under /outer: the mounted app is at /outer/wsgi, /outer/asgi."""
    app = Ambi(__name__, static_folder=None)
    app.mount("/wsgi", echo_wsgi)
    app.mount("/asgi", echo_asgi)
    import httpx

    transport: Any = (
        WSGITransport(app.wsgi_app, script_name="/outer")
        if interface == "wsgi"
        else ASGITransport(app.asgi_app, root_path="/outer")
    )
    with httpx.Client(transport=transport, base_url="http://localhost") as client:
        wsgi_seen = client.get("/outer/wsgi/x").json()
        asgi_seen = client.get("/outer/asgi/x").json()
    assert (wsgi_seen["script_name"], wsgi_seen["path_info"]) == ("/outer/wsgi", "/x")
    assert (asgi_seen["root_path"], asgi_seen["path"]) == ("/outer/asgi", "/outer/asgi/x")


# -- what crosses the bridge: method, query, headers, bodies --------------------------------


@pytest.mark.parametrize("prefix", ["/wsgi", "/asgi"])
def test_query_string_headers_and_a_1mb_body_cross_the_mount(
    app: Ambi, make_client: Callable[..., Any], prefix: str
) -> None:
    body = bytes(range(256)) * (4 * 1024)  # 1 MiB
    response = make_client(app).post(
        f"{prefix}/upload?q=%C3%A9t%C3%A9&a=1&a=2", content=body, headers={"X-Test": "yes"}
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["query"] == "q=%C3%A9t%C3%A9&a=1&a=2"
    assert seen["x_test"] == "yes"
    assert (seen["size"], seen["sha256"]) == (MEGABYTE, hashlib.sha256(body).hexdigest())
    # Response headers come back as the mounted app set them, repeated ones included.
    assert response.headers["X-Mounted"] == prefix[1:]
    assert response.headers.get_list("Set-Cookie") == ["first=1; Path=/", "second=2; Path=/"]


def _environ(path: str, *, method: str = "GET", body: Any = None, query: str = "") -> Environ:
    length = str(MEGABYTE) if body is not None else ""
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": length,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": body if body is not None else io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _scope(path: str, *, method: str = "GET", query: bytes = b"", length: int = 0) -> Any:
    headers = [(b"host", b"localhost")]
    if length:
        headers.append((b"content-length", str(length).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }


def call_wsgi(app: Ambi, environ: Environ) -> tuple[str, list[bytes]]:
    """Call the app as a WSGI server does; the chunks as they came, and the status."""
    started: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        started.append(status)
        return lambda data: None

    result = app.wsgi_app(environ, start_response)
    chunks: list[bytes] = []
    try:
        for chunk in result:
            if chunk:
                chunks.append(chunk)
                if len(chunks) == 1 and "consumer_has_first" in SEEN:
                    SEEN["consumer_has_first"].set()
    finally:
        getattr(result, "close", lambda: None)()
    return started[-1], chunks


def call_asgi(
    app: Ambi, scope: Any, body_chunks: tuple[bytes, ...] = ()
) -> tuple[int, list[bytes]]:
    """Await the app as an ASGI server does, feeding ``body_chunks`` one receive() each."""
    messages: list[dict[str, Any]] = []

    async def main() -> None:
        delivered = 0
        pending = list(body_chunks) or [b""]

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if pending:
                chunk = pending.pop(0)
                delivered += 1
                SEEN["progress"] = {"delivered": delivered}
                return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
            await asyncio.sleep(3600)  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)
            has_body = message["type"] == "http.response.body" and message.get("body")
            if has_body and "consumer_has_first" in SEEN:
                SEEN["consumer_has_first"].set()

        await asyncio.wait_for(app.asgi_app(scope, receive, send), HANDSHAKE_TIMEOUT * 2)

    asyncio.run(main())
    status = messages[0]["status"]
    return status, [m["body"] for m in messages[1:] if m.get("body")]


class CountingInput(io.BytesIO):
    """A ``wsgi.input`` that records how much of the body has been read."""

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        SEEN["progress"] = {"consumed": self.tell()}
        return data


@pytest.mark.parametrize("prefix", ["/wsgi", "/asgi"])
def test_a_request_body_is_streamed_into_the_mount(interface: str, prefix: str) -> None:
    """The mounted app starts reading before the whole body has been received."""
    app = Ambi(__name__, static_folder=None)
    app.mount("/wsgi", echo_wsgi)
    app.mount("/asgi", echo_asgi)
    body = bytes(range(256)) * (4 * 1024)
    chunks = tuple(body[index : index + 64 * 1024] for index in range(0, len(body), 64 * 1024))
    if interface == "wsgi":
        status, out = call_wsgi(
            app, _environ(f"{prefix}/up", method="POST", body=CountingInput(body))
        )
        assert status.startswith("200")
        first = SEEN["wsgi_first_read" if prefix == "/wsgi" else "asgi_first_receive"]
        assert 0 < first["consumed"] < MEGABYTE
    else:
        status_code, out = call_asgi(
            app, _scope(f"{prefix}/up", method="POST", length=MEGABYTE), chunks
        )
        assert status_code == 200
        first = SEEN["wsgi_first_read" if prefix == "/wsgi" else "asgi_first_receive"]
        assert 0 < first["delivered"] < len(chunks)
    seen = json.loads(b"".join(out))
    assert (seen["size"], seen["sha256"]) == (MEGABYTE, hashlib.sha256(body).hexdigest())


@pytest.mark.parametrize("prefix", ["/stream-wsgi", "/stream-asgi"])
def test_a_mounted_apps_response_streams(app: Ambi, interface: str, prefix: str) -> None:
    """The consumer gets the first chunk while the mounted app is still producing."""
    SEEN["consumer_has_first"] = threading.Event()
    if interface == "wsgi":
        status, chunks = call_wsgi(app, _environ(prefix))
        assert status.startswith("200")
    else:
        status_code, chunks = call_asgi(app, _scope(prefix))
        assert status_code == 200
    assert SEEN["producer_saw_consumer"] is True
    assert b"".join(chunks) == b"first;second;last"
    assert chunks[0] == b"first;"


def test_a_non_ascii_query_string_is_percent_encoded_for_the_bridge(interface: str) -> None:
    # a2wsgi decodes the query string as ASCII; raw bytes from the client must not
    # become a 500.
    app = Ambi(__name__, static_folder=None)
    app.mount("/wsgi", echo_wsgi)
    app.mount("/asgi", echo_asgi)
    if interface == "wsgi":  # the ASGI app runs through a2wsgi
        _status, out = call_wsgi(app, _environ("/asgi/q", query="q=\xe9t\xe9"))
    else:  # the WSGI app runs through a2wsgi
        _code, out = call_asgi(app, _scope("/wsgi/q", query=b"q=\xe9t\xe9"))
    assert json.loads(b"".join(out))["query"] == "q=%E9t%E9"


def test_a_path_that_is_not_utf8_is_a_400_for_an_asgi_mount_under_wsgi() -> None:
    app = Ambi(__name__, static_folder=None)
    app.mount("/asgi", echo_asgi)
    with app.test_client("wsgi") as client:
        response = client.get("/asgi/%FF")
    assert response.status_code == 400
    assert "not valid UTF-8" in response.text


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/boom-wsgi", "/boom-asgi"])
def test_a_mounted_app_raising_is_a_500_and_the_app_goes_on(
    app: Ambi,
    make_client: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    prefix: str,
) -> None:
    client = make_client(app)
    with caplog.at_level(logging.ERROR):
        response = client.get(f"{prefix}/x")
    assert response.status_code == 500
    assert "Internal Server Error" in response.text
    assert "broke" not in response.text  # no traceback to the client
    logged = [r for r in caplog.records if r.exc_info and "broke" in str(r.exc_info[1])]
    assert len(logged) == 1
    assert f"the app mounted at {prefix}" in logged[0].getMessage()
    assert client.get("/wsgi/after").json()["path_info"] == "/after"
    assert client.get(f"{prefix}/again").status_code == 500


# -- Ambi's pipeline does not run for mounted requests -----------------------------------------


def test_mounted_requests_run_none_of_the_apps_hooks(
    app: Ambi, make_client: Callable[..., Any]
) -> None:
    client = make_client(app)
    client.get("/wsgi/x")
    client.get("/asgi/x")
    assert app.config["HOOKS"] == []
    client.get("/wsgix")
    assert app.config["HOOKS"] == [("before", "/wsgix"), ("teardown", "/wsgix")]


def test_an_ambi_app_mounted_in_another_runs_its_own_pipeline(
    make_client: Callable[..., Any],
) -> None:
    outer = Ambi(__name__, static_folder=None)
    inner = Ambi("inner", static_folder=None)
    calls: list[str] = []

    @outer.before_request
    def outer_hook() -> None:
        calls.append("outer")

    @inner.before_request
    async def inner_hook() -> None:
        calls.append("inner")

    @inner.get("/hello")
    async def hello() -> dict[str, str]:
        return {"root": request.root_path, "path": request.path, "url": url_for("hello")}

    assert detect_interface(inner) == "both"
    outer.mount("/sub", inner)
    assert make_client(outer).get("/sub/hello").json() == {
        "root": "/sub",
        "path": "/hello",
        "url": "/sub/hello",
    }
    assert calls == ["inner"]


# -- the fallback ----------------------------------------------------------------------------


@pytest.fixture
def fallback_app() -> Ambi:
    app = Ambi(__name__, static_folder=None)
    app.testing = True
    app.fallback(echo_wsgi)
    app.mount("/asgi", echo_asgi)
    app.config["HOOKS"] = []

    @app.before_request
    def before() -> None:
        app.config["HOOKS"].append(request.path)

    @app.get("/thing")
    async def thing() -> str:
        return "ambi thing"

    @app.get("/docs/")
    def docs() -> str:
        return "ambi docs"

    return app


def test_an_unrouted_path_goes_to_the_fallback_unchanged(
    fallback_app: Ambi, make_client: Callable[..., Any]
) -> None:
    client = make_client(fallback_app)
    seen = client.get("/old/page?x=1", headers={"X-Test": "t"}).json()
    assert seen["kind"] == "wsgi"
    assert (seen["script_name"], seen["path_info"], seen["query"]) == ("", "/old/page", "x=1")
    assert seen["x_test"] == "t"
    assert client.get("/thing").text == "ambi thing"
    assert client.get("/asgi/x").json()["kind"] == "asgi"  # a mount comes first
    assert fallback_app.config["HOOKS"] == ["/thing"]


def test_a_method_ambi_does_not_serve_goes_to_the_fallback(
    fallback_app: Ambi, make_client: Callable[..., Any]
) -> None:
    """A 405 for Ambi: the legacy app may still serve that method at that path."""
    body = b"x" * 1000
    seen = make_client(fallback_app).post("/thing", content=body).json()
    assert (seen["kind"], seen["method"], seen["path_info"], seen["size"]) == (
        "wsgi",
        "POST",
        "/thing",
        1000,
    )
    assert fallback_app.config["HOOKS"] == []


def test_redirects_options_and_bad_paths_stay_ambis(
    fallback_app: Ambi, make_client: Callable[..., Any]
) -> None:
    client = make_client(fallback_app)
    redirect = client.get("/docs")
    assert redirect.status_code == 308
    assert redirect.headers["Location"].endswith("/docs/")
    options = client.options("/thing")
    assert options.status_code == 200
    assert "GET" in options.headers["Allow"]
    assert client.get("/%zz").status_code == 400  # malformed: Ambi's 400, not the fallback's
    assert "x-mounted" not in client.get("/%zz").headers


def test_urls_are_matched_once(fallback_app: Ambi, make_client: Callable[..., Any]) -> None:
    url_map = fallback_app.url_map
    calls: list[str] = []
    depth = 0
    match = url_map.match

    def counting_match(path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal depth
        if depth == 0:  # the map may call itself (to compile first): count the app's calls
            calls.append(path)
        depth += 1
        try:
            return match(path, method, *args, **kwargs)
        finally:
            depth -= 1

    object.__setattr__(url_map, "match", counting_match)
    client = make_client(fallback_app)
    assert client.get("/thing").text == "ambi thing"
    assert calls == ["/thing"]
    assert client.get("/legacy").json()["kind"] == "wsgi"
    assert calls == ["/thing", "/legacy"]
    client.get("/asgi/x")  # a mount: the URL map is not consulted
    assert calls == ["/thing", "/legacy"]


def test_an_asgi_app_as_the_fallback(make_client: Callable[..., Any]) -> None:
    app = Ambi(__name__, static_folder=None)
    app.fallback(echo_asgi)
    seen = make_client(app).get("/any/where?k=v").json()
    assert (seen["kind"], seen["root_path"], seen["path"], seen["query"]) == (
        "asgi",
        "",
        "/any/where",
        "k=v",
    )


def test_a_failing_fallback_is_a_500(
    make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = Ambi(__name__, static_folder=None)
    app.fallback(failing_wsgi)
    with caplog.at_level(logging.ERROR):
        assert make_client(app).get("/x").status_code == 500
    assert any("the fallback app" in record.getMessage() for record in caplog.records)


# -- registration ------------------------------------------------------------------------------


def test_an_app_without_mounts_has_no_mount_table() -> None:
    app = Ambi(__name__)
    assert app.mount_table is None  # the adapters' one check (PERF)
    app.mount("/x/", echo_wsgi)
    assert isinstance(app.mount_table, MountTable)
    assert [mounted.prefix for mounted in app.mount_table.mounts] == ["/x"]


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("/", "use app.fallback"),
        ("//", "use app.fallback"),
        ("", "must be a path starting with '/'"),
        ("legacy", "must be a path starting with '/'"),
        ("/users/<id>", "plain path"),
        ("/a?b", "plain path"),
    ],
)
def test_bad_prefixes_are_refused(prefix: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        Ambi(__name__).mount(prefix, echo_wsgi)


def test_a_prefix_or_a_fallback_is_set_once() -> None:
    app = Ambi(__name__)
    app.mount("/x", echo_wsgi)
    with pytest.raises(ValueError, match="already mounted"):
        app.mount("/x/", echo_asgi)
    app.fallback(echo_wsgi)
    with pytest.raises(ValueError, match="already has a fallback"):
        app.fallback(echo_asgi)


def test_what_cannot_be_mounted() -> None:
    app = Ambi(__name__)
    with pytest.raises(TypeError, match="not a WSGI or ASGI application"):
        app.mount("/x", "not an app")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interface must be"):
        app.mount("/x", echo_wsgi, interface="http")  # type: ignore[arg-type]
    assert normalize_prefix("/a/b/") == "/a/b"


def test_the_kind_of_app_is_detected() -> None:
    class ASGIClass:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...

    assert detect_interface(flask.Flask("x")) == "wsgi"
    assert detect_interface(echo_wsgi) == "wsgi"
    assert detect_interface(echo_asgi) == "asgi"
    assert detect_interface(ASGIClass()) == "asgi"
    assert detect_interface(Ambi("x")) == "both"
    assert detect_interface(echo_wsgi, "asgi") == "asgi"


def test_interface_overrides_detection(make_client: Callable[..., Any]) -> None:
    """A plain def returning the ASGI coroutine looks like WSGI until told otherwise."""

    def wrapped_asgi(scope: Any, receive: Any, send: Any) -> Any:
        return echo_asgi(scope, receive, send)

    app = Ambi(__name__, static_folder=None)
    app.mount("/wrapped", wrapped_asgi, interface="asgi")
    assert make_client(app).get("/wrapped/x").json()["root_path"] == "/wrapped"


# -- build-only rules and url_for to the other app ----------------------------------------------


def test_a_build_only_rule_is_built_never_matched() -> None:
    url_map = Map([Rule("/profile/<int:id>", endpoint="legacy.profile", build_only=True)])
    url_map.add(Rule("/profile/me", endpoint="me"))
    assert url_map.build("legacy.profile", {"id": 3}) == "/profile/3"
    from ambi.exceptions import NotFound

    with pytest.raises(NotFound):
        url_map.match("/profile/3", "GET")
    assert url_map.match("/profile/me", "GET")[0].endpoint == "me"
    assert url_map.allowed_methods("/profile/3") == set()


def test_url_for_builds_a_legacy_url_from_an_async_view(
    make_client: Callable[..., Any],
) -> None:
    app = Ambi(__name__, static_folder=None)
    app.add_url_rule("/profile", endpoint="legacy.profile", build_only=True)

    @app.get("/links")
    async def links() -> dict[str, str]:
        return {"profile": url_for("legacy.profile", tab="posts")}

    client = make_client(app)
    assert client.get("/links").json() == {"profile": "/profile?tab=posts"}
    assert client.get("/profile").status_code == 404  # never matched


def _flask_app() -> flask.Flask:
    legacy = flask.Flask("legacy")

    @legacy.get("/")
    def index() -> str:
        return "flask index"

    @legacy.route("/users/<int:user_id>", methods=["GET", "POST"])
    def user(user_id: int) -> str:
        return f"flask user {user_id}"

    return legacy


def test_a_flask_apps_rules_are_imported_as_build_only(
    make_client: Callable[..., Any],
) -> None:
    app = Ambi(__name__, static_folder=None)
    app.fallback(_flask_app(), endpoint_prefix="legacy")
    app.mount("/old", _flask_app(), endpoint_prefix="old")

    @app.get("/links")
    async def links() -> dict[str, str]:
        return {
            "index": url_for("legacy.index"),
            "user": url_for("legacy.user", user_id=3),
            "old_user": url_for("old.user", user_id=4, _external=True),
            "static": url_for("legacy.static", filename="site.css"),
        }

    client = make_client(app)
    assert client.get("/links").json() == {
        "index": "/",
        "user": "/users/3",
        "old_user": "http://localhost/old/users/4",
        "static": "/static/site.css",
    }
    assert client.get("/users/3").text == "flask user 3"  # served by the fallback
    assert client.get("/old/users/4").text == "flask user 4"  # by the mount


def test_importing_rules_says_what_is_wrong() -> None:
    import werkzeug.routing

    class ListConverter(werkzeug.routing.BaseConverter):
        pass

    legacy = flask.Flask("legacy")
    legacy.url_map.converters["list"] = ListConverter
    legacy.add_url_rule("/tags/<list:tags>", "tags", lambda tags: "")
    app = Ambi(__name__)
    with pytest.raises(ValueError, match=r"'/tags/<list:tags>'.*url_map\.converters"):
        app.fallback(legacy, endpoint_prefix="legacy")
    with pytest.raises(TypeError, match="no URL rules"):
        app.add_build_only_rules(echo_wsgi, endpoint_prefix="x")


# -- websockets (ASGI servers) ------------------------------------------------------------------


async def websocket_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": f"{scope['root_path']} {scope['path']}"})
    await send({"type": "websocket.close", "code": 1000})


def _websocket(app: Ambi, path: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def main() -> None:
        incoming = [{"type": "websocket.connect"}]

        async def receive() -> dict[str, Any]:
            if incoming:
                return incoming.pop(0)
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {**_scope(path), "type": "websocket", "scheme": "ws", "subprotocols": []}
        del scope["method"]
        await asyncio.wait_for(app.asgi_app(scope, receive, send), HANDSHAKE_TIMEOUT)

    asyncio.run(main())
    return sent


def test_a_websocket_under_an_asgi_mount_goes_to_it() -> None:
    app = Ambi(__name__, static_folder=None)
    app.mount("/ws-app", websocket_asgi)
    app.mount("/wsgi", echo_wsgi)
    sent = _websocket(app, "/ws-app/chat")
    assert [message["type"] for message in sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert sent[1]["text"] == "/ws-app /ws-app/chat"
    # A WSGI app cannot take a websocket: Ambi refuses it (no route), the WSGI app is
    # never called.
    refused = _websocket(app, "/wsgi/chat")
    assert refused[0]["type"] == "websocket.close"


def test_ambi_routes_shows_build_only_rules() -> None:
    app = Ambi(__name__, static_folder=None)
    app.fallback(_flask_app(), endpoint_prefix="legacy")

    @app.get("/")
    def index() -> str:
        return ""

    from ambi.cli import routes_command

    result = app.test_cli_runner().invoke(routes_command)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[2:]}
    assert "build only" in lines["legacy.user"]
    assert "/users/<int:user_id>" in lines["legacy.user"]
    assert "build only" not in lines["index"]
