"""Proxy headers and trusted hosts under real servers (``tests/server_apps/proxy_app.py``).

The app wraps both faces with ``ProxyFix`` (one trusted proxy for every header) and sets
``TRUSTED_HOSTS``. The requests come from 127.0.0.1, which the servers' own proxy
handling trusts by default, so the servers are started here with it turned off:
``uvicorn --no-proxy-headers``, and gunicorn trusting only an address nothing comes from.
What the app reports is then what ``ProxyFix`` made of the headers. hypercorn and
granian (which apply no proxy headers) show that a server picking the ASGI face by
``app.__call__`` uses the wrapped ``app.asgi_app`` too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest

try:
    from tests._servers import RunningServer, start_server
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import RunningServer, start_server  # type: ignore[no-redef]

pytestmark = pytest.mark.server

TARGET = "tests.server_apps.proxy_app:app"
# The servers' own proxy-header handling is off, so only ProxyFix applies the headers.
EXTRA_ARGS: dict[str, list[str]] = {
    "uvicorn": ["--no-proxy-headers"],
    # TEST-NET-1: nothing comes from there, so gunicorn trusts no forwarded header.
    "gunicorn": ["--forwarded-allow-ips", "192.0.2.1"],
    "hypercorn": [],
    "granian-asgi": [],
}
KINDS = {"def": "/info", "async": "/info-async"}


@pytest.fixture(scope="module", params=list(EXTRA_ARGS))
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """One server at a time, for all the tests of this module."""
    name: str = request.param
    running = start_server(name, TARGET, extra_args=EXTRA_ARGS[name])
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    log_start = server.log_size()
    with server.client() as http:
        yield http
    if getattr(sys, "last_value", None) is not None:
        print(f"--- {server.name} log during the test ---\n{server.log(log_start)[-20_000:]}")


@pytest.fixture(params=list(KINDS))
def info_path(request: pytest.FixtureRequest) -> str:
    return KINDS[request.param]


def test_without_forwarded_headers_the_server_values_stay(
    server: RunningServer, client: httpx.Client, info_path: str
) -> None:
    info = client.get(info_path).json()
    assert info["remote_addr"] == "127.0.0.1"
    assert info["scheme"] == "http"
    assert info["host"] == f"127.0.0.1:{server.port}"
    assert info["root_path"] == ""
    assert info["external"] == f"http://127.0.0.1:{server.port}/info"


def test_x_forwarded_headers_of_one_trusted_proxy(client: httpx.Client, info_path: str) -> None:
    response = client.get(
        info_path,
        headers={
            "X-Forwarded-For": "203.0.113.9, 198.51.100.7",  # spoofed, then the proxy's
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "example.com",
            "X-Forwarded-Prefix": "/shop",
        },
    )
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["remote_addr"] == "198.51.100.7"
    assert info["scheme"] == "https"
    assert info["host"] == "example.com"
    assert info["root_path"] == "/shop"
    assert info["path"] == info_path
    assert info["url"] == f"https://example.com/shop{info_path}"
    assert info["external"] == "https://example.com/shop/info"


def test_x_forwarded_port_changes_the_host_port(client: httpx.Client, info_path: str) -> None:
    info = client.get(
        info_path,
        headers={"X-Forwarded-Host": "example.com", "X-Forwarded-Port": "8443"},
    ).json()
    assert info["host"] == "example.com:8443"
    assert info["external"] == "http://example.com:8443/info"


def test_standard_forwarded_header(client: httpx.Client, info_path: str) -> None:
    response = client.get(
        info_path,
        headers={
            "Forwarded": (
                'for=203.0.113.1;host=evil.com, for="[2001:db8:cafe::17]:4711";'
                "proto=https;host=api.example.org"
            ),
            "X-Forwarded-For": "198.51.100.7",  # Forwarded names "for": it wins
        },
    )
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["remote_addr"] == "2001:db8:cafe::17"
    assert info["scheme"] == "https"
    assert info["host"] == "api.example.org"


def test_invalid_forwarded_values_are_ignored(
    server: RunningServer, client: httpx.Client, info_path: str
) -> None:
    info = client.get(
        info_path,
        headers={
            "X-Forwarded-For": "unknown",
            "X-Forwarded-Proto": "javascript",
            "X-Forwarded-Host": "example.com/evil",
            "X-Forwarded-Prefix": "//evil.example",
        },
    ).json()
    assert info["remote_addr"] == "127.0.0.1"
    assert info["scheme"] == "http"
    assert info["host"] == f"127.0.0.1:{server.port}"
    # Leading slashes collapse: the prefix cannot make a scheme-relative URL.
    assert info["root_path"] == "/evil.example"
    assert info["external"] == f"http://127.0.0.1:{server.port}/evil.example/info"


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.com"},
        {"Host": "example.com.evil.com"},
        {"X-Forwarded-Host": "evil.com"},
        {"Forwarded": "host=attacker.example"},
    ],
    ids=["host", "suffix", "x-forwarded-host", "forwarded"],
)
def test_untrusted_host_gets_400(
    client: httpx.Client, info_path: str, headers: dict[str, str]
) -> None:
    response = client.get(info_path, headers=headers)
    assert response.status_code == 400
    assert "Host not trusted" in response.text
    assert "Traceback" not in response.text
    assert "evil" not in response.text
    assert "attacker" not in response.text


def test_trusted_hosts_admit_listed_names_and_subdomains(
    client: httpx.Client, info_path: str
) -> None:
    for host in ("example.com", "EXAMPLE.com:8080", "shop.example.org", "example.org"):
        response = client.get(info_path, headers={"Host": host})
        assert response.status_code == 200, (host, response.text)
        assert response.json()["host"] == host
