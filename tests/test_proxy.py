"""``ProxyFix`` (X-Forwarded-* and Forwarded, on both interfaces) and ``TRUSTED_HOSTS``.

The in-process tests run through the test clients of both interfaces (the ``interface``
fixture); ``tests/test_servers_proxy.py`` runs the same under real servers.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ambi import Ambi, abort, request, url_for, websocket
from ambi.exceptions import SecurityError
from ambi.http import host_is_trusted, iri_to_uri, split_host
from ambi.middleware import ProxyFix
from ambi.mounts import detect_interface
from ambi.scaffold import is_async_callable
from ambi.testing import AmbiClient, WebSocketRejected, WSGITransport

Client = Callable[..., AmbiClient]


def _describe() -> dict[str, Any]:
    return {
        "remote_addr": request.remote_addr,
        "scheme": request.scheme,
        "is_secure": request.is_secure,
        "host": request.host,
        "root_path": request.root_path,
        "path": request.path,
        "url": request.url,
        "external": url_for("info", _external=True),
        "relative": url_for("info"),
    }


def make_app(**options: int) -> Ambi:
    app = Ambi(__name__, static_folder=None)

    @app.get("/info")
    def info() -> dict[str, Any]:
        return _describe()

    @app.get("/info-async")
    async def info_async() -> dict[str, Any]:
        return _describe()

    if options:
        ProxyFix.install(app, **options)
    return app


ALL = {"x_for": 1, "x_proto": 1, "x_host": 1, "x_port": 1, "x_prefix": 1, "forwarded": 1}


@pytest.fixture(params=["/info", "/info-async"], ids=["def", "async"])
def info_path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def get_info(client: AmbiClient, path: str, headers: Any = None) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- ProxyFix: X-Forwarded-* -------------------------------------------------------------


def test_werkzeug_defaults() -> None:
    fix = ProxyFix(make_app().wsgi_app)
    assert (fix.x_for, fix.x_proto, fix.x_host, fix.x_port, fix.x_prefix, fix.forwarded) == (
        1,
        1,
        0,
        0,
        0,
        0,
    )


def test_without_headers_nothing_changes(make_client: Client, info_path: str) -> None:
    info = get_info(make_client(make_app(**ALL)), info_path)
    assert info["remote_addr"] == "127.0.0.1"
    assert info["scheme"] == "http"
    assert info["host"] == "localhost"
    assert info["root_path"] == ""
    assert info["external"] == "http://localhost/info"


def test_defaults_apply_for_and_proto_only(make_client: Client, info_path: str) -> None:
    app = make_app()
    app.wsgi_app = ProxyFix(app.wsgi_app)  # type: ignore[method-assign]
    app.asgi_app = ProxyFix(app.asgi_app)  # type: ignore[method-assign]
    info = get_info(
        make_client(app),
        info_path,
        {
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Port": "8443",
            "X-Forwarded-Prefix": "/evil",
        },
    )
    assert info["remote_addr"] == "203.0.113.9"
    assert info["scheme"] == "https"
    assert info["is_secure"] is True
    assert info["host"] == "localhost"  # x_host, x_port and x_prefix are 0 by default
    assert info["root_path"] == ""
    assert info["external"] == "https://localhost/info"


@pytest.mark.parametrize(
    ("x_for", "header", "expected"),
    [
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the client's own value first
        (2, "198.51.100.1, 203.0.113.9, 192.0.2.7", "203.0.113.9"),
        (2, "192.0.2.7", "127.0.0.1"),  # fewer values than trusted proxies: ignored
        (3, "198.51.100.1,203.0.113.9 ,  192.0.2.7", "198.51.100.1"),
        (1, "2001:db8::1", "2001:db8::1"),
        (1, "[2001:db8::1]:4711", "2001:db8::1"),
        (1, "203.0.113.9:4711", "203.0.113.9"),
        (1, "unknown", "127.0.0.1"),
        (1, "_hidden", "127.0.0.1"),
        (1, "evil.example", "127.0.0.1"),
        (1, "203.0.113.9:99999", "127.0.0.1"),
    ],
)
def test_x_forwarded_for_hops(
    make_client: Client, info_path: str, x_for: int, header: str, expected: str
) -> None:
    client = make_client(make_app(x_for=x_for))
    assert get_info(client, info_path, {"X-Forwarded-For": header})["remote_addr"] == expected


def test_x_forwarded_for_sent_on_several_lines(make_client: Client) -> None:
    client = make_client(make_app(x_for=2))
    headers = [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "203.0.113.9")]
    response = client.get("/info", headers=headers)
    assert response.json()["remote_addr"] == "198.51.100.1"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("https", "https"),
        ("HTTPS", "https"),
        ("http", "http"),
        ("javascript", "http"),
        ("", "http"),
    ],
)
def test_x_forwarded_proto(make_client: Client, info_path: str, header: str, expected: str) -> None:
    client = make_client(make_app(x_proto=1))
    assert get_info(client, info_path, {"X-Forwarded-Proto": header})["scheme"] == expected


def test_x_forwarded_host_and_port(make_client: Client, info_path: str) -> None:
    client = make_client(make_app(x_host=1, x_port=1, x_proto=1))
    info = get_info(client, info_path, {"X-Forwarded-Host": "Shop.Example.com"})
    assert info["host"] == "shop.example.com"
    assert info["external"] == "http://shop.example.com/info"
    info = get_info(client, info_path, {"X-Forwarded-Host": "shop.example.com:8080"})
    assert info["host"] == "shop.example.com:8080"
    # The port replaces the host's; the scheme's default port is left out.
    info = get_info(
        client, info_path, {"X-Forwarded-Host": "shop.example.com:8080", "X-Forwarded-Port": "9000"}
    )
    assert info["host"] == "shop.example.com:9000"
    info = get_info(
        client,
        info_path,
        {
            "X-Forwarded-Host": "shop.example.com",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        },
    )
    assert info["external"] == "https://shop.example.com/info"
    # The port alone applies to the Host the client sent.
    assert get_info(client, info_path, {"X-Forwarded-Port": "8000"})["host"] == "localhost:8000"
    info = get_info(client, info_path, {"X-Forwarded-Host": "[2001:db8::1]:8080"})
    assert info["external"] == "http://[2001:db8::1]:8080/info"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Host": "evil.example/path"},
        {"X-Forwarded-Host": "user@evil.example"},
        {"X-Forwarded-Host": "evil.example:0"},
        {"X-Forwarded-Host": "evil example"},
        {"X-Forwarded-Host": "évil.example".encode("latin-1")},
        {"X-Forwarded-Port": "http"},
        {"X-Forwarded-Port": "70000"},
    ],
)
def test_invalid_forwarded_host_or_port_is_ignored(
    make_client: Client, info_path: str, headers: dict[str, Any]
) -> None:
    client = make_client(make_app(x_host=1, x_port=1))
    assert get_info(client, info_path, headers)["host"] == "localhost"


@pytest.mark.parametrize(
    ("header", "root_path"),
    [
        ("/shop", "/shop"),
        ("/shop/", "/shop"),
        ("/", ""),
        ("//evil.example", "/evil.example"),  # never a scheme-relative URL
        ("evil", ""),
        ("/a b", ""),
        ("/%2e%2e", ""),
        ("https://evil.example/", ""),
    ],
)
def test_x_forwarded_prefix(
    make_client: Client, info_path: str, header: str, root_path: str
) -> None:
    client = make_client(make_app(x_prefix=1))
    info = get_info(client, info_path, {"X-Forwarded-Prefix": header})
    assert info["root_path"] == root_path
    assert info["path"] == info_path
    assert info["relative"] == f"{root_path}/info"
    assert info["url"] == f"http://localhost{root_path}{info_path}"


def test_prefix_under_an_existing_root_path() -> None:
    # The ASGI path includes root_path: the fixed scope keeps the part below the old root.
    app = make_app(x_prefix=1)

    async def fetch() -> Any:
        transport = httpx.ASGITransport(app=app.asgi_app, root_path="/old")
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            response = await client.get("/info", headers={"X-Forwarded-Prefix": "/new"})
            return response.json()

    info = asyncio.run(fetch())
    assert (info["root_path"], info["path"]) == ("/new", "/info")
    assert info["relative"] == "/new/info"


# -- ProxyFix: Forwarded ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "remote_addr", "scheme", "host"),
    [
        ("for=203.0.113.9", "203.0.113.9", "http", "localhost"),
        ("For=203.0.113.9;Proto=HTTPS;Host=example.com", "203.0.113.9", "https", "example.com"),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17", "http", "localhost"),
        ('for="203.0.113.9:80";host="example.com:8080"', "203.0.113.9", "http", "example.com:8080"),
        # Several proxies: the last element is the trusted one.
        ("for=198.51.100.1;host=evil.example, for=203.0.113.9", "203.0.113.9", "http", "localhost"),
        ("for=198.51.100.1 ,for=203.0.113.9;proto=https", "203.0.113.9", "https", "localhost"),
        # Unusable values: the server's stay.
        ("for=unknown;proto=gopher;host=evil.example/x", "127.0.0.1", "http", "localhost"),
        ("for=_hidden", "127.0.0.1", "http", "localhost"),
        # Does not parse: ignored as a whole.
        ("for=203.0.113.9;for=198.51.100.1", "127.0.0.1", "http", "localhost"),
        ('for="203.0.113.9', "127.0.0.1", "http", "localhost"),
        ("for 203.0.113.9", "127.0.0.1", "http", "localhost"),
        ("", "127.0.0.1", "http", "localhost"),
    ],
)
def test_forwarded_header(
    make_client: Client, info_path: str, header: str, remote_addr: str, scheme: str, host: str
) -> None:
    client = make_client(make_app(forwarded=1, x_for=0, x_proto=0))
    info = get_info(client, info_path, {"Forwarded": header})
    assert (info["remote_addr"], info["scheme"], info["host"]) == (remote_addr, scheme, host)


def test_forwarded_hops_and_lines(make_client: Client) -> None:
    client = make_client(make_app(forwarded=2, x_for=0, x_proto=0))
    headers = [("Forwarded", "for=198.51.100.1"), ("Forwarded", "for=203.0.113.9, for=192.0.2.7")]
    assert client.get("/info", headers=headers).json()["remote_addr"] == "203.0.113.9"
    one = {"Forwarded": "for=192.0.2.7"}  # fewer elements than trusted proxies
    assert client.get("/info", headers=one).json()["remote_addr"] == "127.0.0.1"


def test_forwarded_wins_where_it_names_a_value(make_client: Client, info_path: str) -> None:
    client = make_client(make_app(**ALL))
    info = get_info(
        client,
        info_path,
        {
            "Forwarded": "for=203.0.113.9;host=example.com",
            "X-Forwarded-For": "198.51.100.1",
            "X-Forwarded-Host": "other.example",
            "X-Forwarded-Proto": "https",  # Forwarded names no proto: this applies
        },
    )
    assert (info["remote_addr"], info["host"], info["scheme"]) == (
        "203.0.113.9",
        "example.com",
        "https",
    )
    # A value the trusted proxy named but could not give is not taken from elsewhere.
    info = get_info(
        client, info_path, {"Forwarded": "for=unknown", "X-Forwarded-For": "198.51.100.1"}
    )
    assert info["remote_addr"] == "127.0.0.1"
    # A Forwarded header that does not parse leaves the X-Forwarded-* headers in charge.
    info = get_info(client, info_path, {"Forwarded": "for=1;;=", "X-Forwarded-For": "198.51.100.1"})
    assert info["remote_addr"] == "198.51.100.1"


def test_forwarded_ignored_unless_trusted(make_client: Client, info_path: str) -> None:
    client = make_client(make_app(x_for=1))
    info = get_info(client, info_path, {"Forwarded": "for=203.0.113.9;proto=https"})
    assert (info["remote_addr"], info["scheme"]) == ("127.0.0.1", "http")


# -- ProxyFix: the wrapper itself --------------------------------------------------------


def test_the_values_before_the_fix_are_kept(make_client: Client, interface: str) -> None:
    app = make_app(x_for=1, x_proto=1)

    @app.get("/orig")
    def orig() -> dict[str, Any]:
        environ = request.environ
        if interface == "asgi":
            kept = environ["asgi.scope"]["ambi.proxy_fix.orig"]
            return {"addr": kept["client"][0], "scheme": kept["scheme"]}
        kept = environ["ambi.proxy_fix.orig"]
        return {"addr": kept["REMOTE_ADDR"], "scheme": kept["wsgi.url_scheme"]}

    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    assert make_client(app).get("/orig", headers=headers).json() == {
        "addr": "127.0.0.1",
        "scheme": "http",
    }


def test_asgi_scope_is_copied_not_changed() -> None:
    seen: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "http",
        "path": "/x",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"x-forwarded-for", b"203.0.113.9")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    original = {**scope, "headers": list(scope["headers"])}
    fix = ProxyFix(inner, x_host=1)
    assert fix.interface == "asgi"

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        pass

    asyncio.run(fix(scope, receive, send))
    assert scope == original
    assert seen[0]["client"] == ("203.0.113.9", 0)
    lifespan = {"type": "lifespan"}
    asyncio.run(fix(lifespan, receive, send))
    assert seen[1] is lifespan  # not an HTTP request: passed on as it is


def test_detects_the_kind_of_application() -> None:
    app = make_app()
    wsgi, asgi, both = ProxyFix(app.wsgi_app), ProxyFix(app.asgi_app), ProxyFix(app)
    assert (wsgi.interface, asgi.interface, both.interface) == ("wsgi", "asgi", "both")
    # Servers and mount() see the same kinds.
    assert not is_async_callable(wsgi)
    assert is_async_callable(asgi)
    assert inspect.iscoroutinefunction(asgi.__call__)
    assert detect_interface(both) == "both"
    assert repr(wsgi).startswith("<ProxyFix wsgi x_for=1, x_proto=1, x_host=0,")
    with pytest.raises(TypeError, match="wraps an ASGI application"):
        asgi({}, lambda *args: None)
    with pytest.raises(TypeError, match="wraps a WSGI application"):
        wsgi({}, None, print)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1"])
def test_counts_are_checked(bad: Any) -> None:
    with pytest.raises(ValueError, match="number of proxies"):
        ProxyFix(make_app().wsgi_app, x_for=bad)


def test_wrapping_the_whole_app_serves_both_ways() -> None:
    app = make_app()
    wrapped = ProxyFix(app, x_for=1)
    headers = {"X-Forwarded-For": "203.0.113.9"}
    with httpx.Client(transport=WSGITransport(wrapped), base_url="http://localhost") as client:
        assert client.get("/info", headers=headers).json()["remote_addr"] == "203.0.113.9"

    async def over_asgi() -> Any:
        transport = httpx.ASGITransport(app=wrapped)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return (await client.get("/info", headers=headers)).json()

    assert asyncio.run(over_asgi())["remote_addr"] == "203.0.113.9"


def test_app_call_uses_the_asgi_app_assigned_later() -> None:
    """hypercorn and uvicorn pick the ASGI face from ``app.__call__``; a ``ProxyFix``
    assigned to ``app.asgi_app`` afterwards must be the one that runs."""
    app = make_app()
    assert inspect.iscoroutinefunction(app.__call__)
    app.asgi_app = ProxyFix(app.asgi_app, x_for=1)  # type: ignore[method-assign]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/info",
        "raw_path": b"/info",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"x-forwarded-for", b"203.0.113.9")],
        "client": ("127.0.0.1", 5000),
        "server": ("localhost", 80),
    }
    asyncio.run(app.__call__(scope, receive, send))
    body = b"".join(message.get("body", b"") for message in sent[1:])
    assert b'"remote_addr":"203.0.113.9"' in body.replace(b" ", b"")


def test_websocket_scheme_follows_the_proxy() -> None:
    app = make_app(x_proto=1, x_host=1)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(f"{websocket.scheme} {url_for('ws', _external=True)}")

    client = app.test_client("asgi")
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.com"}
    with client.websocket_connect("/ws", headers=headers) as connection:
        assert connection.receive_text() == "wss wss://example.com/ws"


def test_mounted_apps_see_the_fixed_request(make_client: Client) -> None:
    app = make_app(x_for=1, x_prefix=1)
    app.mount("/inner", make_app())
    info = (
        make_client(app)
        .get("/inner/info", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Prefix": "/p"})
        .json()
    )
    assert info["remote_addr"] == "203.0.113.9"
    assert info["relative"] == "/p/inner/info"


# -- TRUSTED_HOSTS -------------------------------------------------------------------------


def trusted_app(trusted: Any) -> Ambi:
    app = make_app()
    app.config["TRUSTED_HOSTS"] = trusted
    return app


def test_trusted_hosts_unset_by_default(make_client: Client, info_path: str) -> None:
    app = make_app()
    assert app.config["TRUSTED_HOSTS"] is None
    info = get_info(make_client(app), info_path, {"Host": "anything.example"})
    assert info["host"] == "anything.example"


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("example.com", 200),
        ("EXAMPLE.COM", 200),
        ("example.com:8080", 200),  # the port is not checked
        ("example.org", 200),  # ".example.org" matches the name itself
        ("api.example.org", 200),
        ("a.b.example.org", 200),
        ("[::1]:8000", 200),
        ("127.0.0.1:5000", 200),
        ("api.example.com", 400),  # no leading dot: no subdomains
        ("evilexample.org", 400),
        ("example.org.evil.com", 400),
        ("evil.com", 400),
        ("example.com/evil", 400),
        ("", 400),
    ],
)
def test_trusted_hosts(make_client: Client, info_path: str, host: str, status: int) -> None:
    app = trusted_app(["example.com", ".example.org", "127.0.0.1", "::1"])
    response = make_client(app).get(info_path, headers={"Host": host})
    assert response.status_code == status, response.text
    if status == 400:
        assert "Host not trusted" in response.text
        assert "Traceback" not in response.text
        assert "evil" not in response.text


def test_untrusted_host_runs_no_view_and_reflects_nothing(make_client: Client) -> None:
    app = trusted_app(["example.com"])
    calls: list[str] = []

    @app.get("/view")
    def view() -> str:
        calls.append("view")
        return "ok"

    @app.before_request
    def hook() -> None:
        # As in Flask the hooks run, but the untrusted host cannot be read.
        try:
            url_for("view", _external=True)
        except SecurityError:
            calls.append("refused")
            raise

    @app.errorhandler(400)
    def bad_request(error: Exception) -> tuple[str, int]:
        return f"custom 400: {type(error).__name__}", 400

    response = make_client(app).get("/view", headers={"Host": "evil.com"})
    assert response.status_code == 400
    assert response.text == "custom 400: SecurityError"
    assert calls == ["refused"]
    assert make_client(app).get("/view", headers={"Host": "example.com"}).text == "ok"


def test_trusted_hosts_checked_before_routing(make_client: Client) -> None:
    app = trusted_app(["example.com"])
    for path in ("/info", "/missing", "/info?x=1"):
        assert make_client(app).get(path, headers={"Host": "evil.com"}).status_code == 400


def test_trusted_hosts_edge_values(make_client: Client) -> None:
    assert make_client(trusted_app([])).get("/info").status_code == 400  # nothing trusted
    app = trusted_app("localhost")  # a single name, as Flask allows
    assert make_client(app).get("/info").status_code == 200
    app = trusted_app(("bücher.example",))  # IDNA
    headers = {"Host": "xn--bcher-kva.example"}
    assert make_client(app).get("/info", headers=headers).status_code == 200


def test_trusted_hosts_read_per_request(make_client: Client) -> None:
    app = make_app()
    client = make_client(app)
    assert client.get("/info", headers={"Host": "evil.com"}).status_code == 200
    app.config["TRUSTED_HOSTS"] = ["example.com"]
    assert client.get("/info", headers={"Host": "evil.com"}).status_code == 400


def test_forwarded_host_is_subject_to_trusted_hosts(make_client: Client, info_path: str) -> None:
    app = make_app(x_host=1, forwarded=1)
    app.config["TRUSTED_HOSTS"] = ["localhost", "example.com"]
    client = make_client(app)
    assert client.get(info_path, headers={"X-Forwarded-Host": "example.com"}).status_code == 200
    for headers in ({"X-Forwarded-Host": "evil.com"}, {"Forwarded": "host=evil.com"}):
        response = client.get(info_path, headers=headers)
        assert response.status_code == 400
        assert "Host not trusted" in response.text


def test_trusted_hosts_guard_mounted_apps(make_client: Client) -> None:
    app = trusted_app(["localhost"])
    app.mount("/inner", make_app())
    client = make_client(app)
    assert client.get("/inner/info").status_code == 200
    response = client.get("/inner/info", headers={"Host": "evil.com"})
    assert response.status_code == 400
    assert "Host not trusted" in response.text


def test_trusted_hosts_guard_websockets() -> None:
    app = trusted_app(["localhost"])

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("hello")

    client = app.test_client("asgi")
    with client.websocket_connect("/ws") as connection:
        assert connection.receive_text() == "hello"
    with pytest.raises(WebSocketRejected) as refused:
        client.websocket_connect("/ws", headers={"Host": "evil.com"})
    assert refused.value.status_code == 400
    assert "Host not trusted" in refused.value.text


# -- url_for(_external=True) and the Host header ------------------------------------------


def test_external_urls_without_server_name_or_trusted_hosts_reflect_the_host(
    make_client: Client,
) -> None:
    # Documented: production sets SERVER_NAME or TRUSTED_HOSTS (docs/security.md).
    info = get_info(make_client(make_app()), "/info", {"Host": "attacker.example"})
    assert info["external"] == "http://attacker.example/info"


def test_external_urls_use_server_name(make_client: Client, info_path: str) -> None:
    app = make_app()
    app.config["SERVER_NAME"] = "example.com"
    info = get_info(make_client(app), info_path, {"Host": "attacker.example"})
    assert info["external"] == "http://example.com/info"
    assert info["host"] == "attacker.example"  # served (Flask 3.1), never in a URL


def test_external_urls_with_trusted_hosts(make_client: Client, info_path: str) -> None:
    app = trusted_app(["example.com"])
    client = make_client(app)
    info = get_info(client, info_path, {"Host": "example.com"})
    assert info["external"] == "http://example.com/info"
    assert client.get(info_path, headers={"Host": "attacker.example"}).status_code == 400


def test_invalid_host_header_never_reaches_a_url(make_client: Client) -> None:
    app = make_app()

    @app.get("/page")
    def page() -> str:
        return "served"  # a view that does not read the host is served

    @app.get("/docs/")
    def docs() -> str:
        return "docs"

    client = make_client(app)
    for host in ("evil.example/phish?", "a b", "evil.example:0", "@evil.example"):
        assert client.get("/page", headers={"Host": host}).text == "served"
        response = client.get("/info", headers={"Host": host})  # url_for(_external=True)
        assert response.status_code == 400, host
        assert "The Host header is not a valid host name." in response.text
        assert "evil" not in response.text
        # The strict-slash redirect, whose Location is absolute, is refused too.
        response = client.get("/docs", headers={"Host": host})
        assert response.status_code == 400
        assert "location" not in response.headers
    response = client.get("/docs", headers={"Host": "example.com"})
    assert response.headers["location"] == "http://example.com/docs/"


def test_redirect_without_any_host_is_relative() -> None:
    # HTTP/1.0 without Host on a Unix socket: no host to name, so no "http:///docs/".
    app = make_app()
    app.add_url_rule("/docs/", "docs", lambda: "docs")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/docs", "SERVER_NAME": "/run/app.sock"}
    statuses: list[tuple[str, list[tuple[str, str]]]] = []
    app.wsgi_app(environ, lambda status, headers, exc_info=None: statuses.append((status, headers)))
    status, headers = statuses[0]
    assert status.startswith("308")
    assert ("Location", "/docs/") in headers


def test_request_host_normalisation() -> None:
    app = make_app()
    with app.test_request_context("/", headers={"Host": "example.com:80"}):
        assert request.host == "example.com"
    with app.test_request_context("/", base_url="https://example.com:443"):
        assert request.host == "example.com"
    with app.test_request_context("/", base_url="https://example.com:8443"):
        assert request.host == "example.com:8443"


# -- the helpers -----------------------------------------------------------------------------


def test_host_helpers() -> None:
    assert split_host("Example.COM:8080") == ("example.com", 8080)
    assert split_host("[2001:db8::1]:443") == ("[2001:db8::1]", 443)
    for bad in ("", None, "a b", "a/b", "a:0", "a:65536", "a:", "[::1", "x" * 301):
        assert split_host(bad) is None, bad
    assert host_is_trusted("[::1]:8000", ["[::1]"])
    assert host_is_trusted("example.com.", ["example.com"]) is False
    assert not host_is_trusted(None, ["example.com"])
    assert iri_to_uri("/plain?q=1") == "/plain?q=1"


def test_abort_in_a_view_with_trusted_hosts(make_client: Client) -> None:
    # The host check does not get in the way of a trusted request's own errors.
    app = trusted_app(["localhost"])

    @app.get("/gone")
    def gone() -> None:
        abort(410)

    assert make_client(app).get("/gone").status_code == 410
