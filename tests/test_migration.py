"""The incremental migration, proven with a real Flask app.

``tests.server_apps.migration_app:app`` is an Ambi app whose fallback is the legacy Flask
app of ``tests/server_apps/legacy_flask.py`` (same ``SECRET_KEY``), with ``GET /api/user``
moved to Ambi as ``async def``. Every scenario runs in-process on both of Ambi's interfaces
and over real sockets under uvicorn (Flask then runs through a2wsgi's worker threads) and
gunicorn's gthread worker (Flask called directly):

* one session across both apps: logging in on Flask is seen by Ambi and the other way
  round, and logging out on either ends it on both;
* ``url_for`` in Ambi builds the URLs of routes Flask still serves;
* whatever Ambi does not route reaches Flask: unknown paths (Flask's own 404 page), a
  method Ambi's route does not take (Flask serves it), Flask's own 405; none of Ambi's
  hooks run for them;
* a 1 MB upload reaches Flask whole, and Flask's streaming response streams: the first
  chunk arrives before the generator's last pause ends (real servers only: the test
  clients read whole bodies).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

try:
    from tests._servers import RunningServer, ServerPool, serve_for_test
    from tests.server_apps import migration_app
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import RunningServer, ServerPool, serve_for_test  # type: ignore[no-redef]
    from server_apps import migration_app  # type: ignore[no-redef]

TARGET = "tests.server_apps.migration_app:app"
SERVERS = ("uvicorn", "gunicorn")
REQUEST_TIMEOUT = 10.0
STREAM_CHUNKS = 4
STREAM_PAUSE = 0.3


@pytest.fixture(scope="module")
def server_pool() -> Iterator[ServerPool]:
    pool = ServerPool(TARGET)
    yield pool
    pool.close()


@pytest.fixture(
    params=[
        "wsgi",
        "asgi",
        *(pytest.param(name, marks=pytest.mark.server) for name in SERVERS),
    ]
)
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """A client of the migration app: in-process (wsgi, asgi) or over a real server."""
    if request.param in ("wsgi", "asgi"):
        with migration_app.app.test_client(request.param) as http:
            yield http
        return
    pool: ServerPool = request.getfixturevalue("server_pool")
    for server in serve_for_test(request.param, pool):
        with server.client(timeout=REQUEST_TIMEOUT) as http:
            yield http


@pytest.fixture
def server(request: pytest.FixtureRequest, server_pool: ServerPool) -> Iterator[RunningServer]:
    yield from serve_for_test(request.param, server_pool)


def absolute(client: httpx.Client, path: str) -> str:
    return str(client.base_url).rstrip("/") + path


def served_by(response: httpx.Response) -> str:
    return response.headers.get("X-Served-By", "")


def user_from_ambi(client: httpx.Client) -> Any:
    response = client.get("/api/user")
    assert (response.status_code, served_by(response)) == (200, "ambi")
    assert response.json()["served_by"] == "ambi"
    return response.json()["user"]


def page_from_flask(client: httpx.Client) -> str:
    response = client.get("/profile")
    assert (response.status_code, served_by(response)) == (200, "flask")
    return response.text


# -- one session, two apps -------------------------------------------------------------------


def test_logging_in_on_flask_is_seen_by_ambi(client: httpx.Client) -> None:
    form = client.get("/login")
    assert served_by(form) == "flask"
    assert 'action="/login"' in form.text
    login = client.post("/login", data={"user": "ada"})
    assert (login.status_code, served_by(login)) == (302, "flask")
    assert login.headers["Location"] == "/profile"
    assert user_from_ambi(client) == "ada"
    assert page_from_flask(client) == "<p>flask profile: hello ada</p>"


def test_logging_in_on_ambi_is_seen_by_flask(client: httpx.Client) -> None:
    login = client.post("/switch-user", data={"user": "grace"})
    assert (login.status_code, served_by(login)) == (200, "ambi")
    assert page_from_flask(client) == "<p>flask profile: hello grace</p>"
    assert user_from_ambi(client) == "grace"


def test_logging_out_on_one_app_logs_out_of_both(client: httpx.Client) -> None:
    client.post("/login", data={"user": "ada"})
    assert served_by(client.post("/ambi-logout")) == "ambi"
    assert page_from_flask(client) == "<p>flask profile: nobody is logged in</p>"
    assert user_from_ambi(client) is None

    client.post("/switch-user", data={"user": "grace"})
    assert served_by(client.post("/logout")) == "flask"
    assert user_from_ambi(client) is None
    assert "nobody" in page_from_flask(client)


# -- url_for to the routes Flask still serves ------------------------------------------------


def test_url_for_in_ambi_builds_legacy_urls(client: httpx.Client) -> None:
    response = client.get("/links")
    assert served_by(response) == "ambi"
    assert response.json() == {
        "profile": "/profile",
        "login": "/login",
        "user": "/users/7?tab=posts",
        "stream": absolute(client, "/stream"),
        "api": "/api/user",
    }
    # and the built URLs lead to Flask
    assert client.get(response.json()["user"]).text == "flask user 7"


# -- what Ambi does not route reaches Flask -----------------------------------------------------


def test_unknown_paths_get_flasks_own_404(client: httpx.Client) -> None:
    response = client.get("/no/such/page")
    assert (response.status_code, served_by(response)) == (404, "flask")
    assert response.text == "legacy flask 404: no such page"


def test_flasks_own_405(client: httpx.Client) -> None:
    response = client.post("/only-get")
    assert (response.status_code, served_by(response)) == (405, "flask")
    assert response.text == "legacy flask 405: wrong method"


def test_a_method_ambi_does_not_serve_on_a_moved_url_reaches_flask(client: httpx.Client) -> None:
    # Ambi serves GET /api/user; POST /api/user is still Flask's.
    response = client.post("/api/user", json={"nickname": "countess"})
    assert (response.status_code, served_by(response)) == (200, "flask")
    assert response.json() == {"nickname": "countess", "served_by": "flask"}


def test_flask_sees_the_request_as_it_came(client: httpx.Client) -> None:
    response = client.get("/where?x=1")
    assert served_by(response) == "flask"
    seen = response.json()
    assert (seen["script_root"], seen["path"]) == ("", "/where")
    assert seen["url"] == absolute(client, "/where?x=1")


def test_no_ambi_hook_runs_for_what_flask_serves(client: httpx.Client) -> None:
    path = f"/users/{random.randrange(10**9)}"
    assert served_by(client.get(path)) == "flask"
    hooks = client.get("/hooks").json()
    assert path not in hooks
    assert hooks[-1] == "/hooks"


def test_a_1mb_upload_reaches_flask(client: httpx.Client) -> None:
    body = random.randbytes(1024 * 1024)
    response = client.post("/upload", content=body)
    assert served_by(response) == "flask"
    assert response.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


# -- streaming, over real sockets --------------------------------------------------------------


@pytest.mark.server
@pytest.mark.parametrize("server", SERVERS, indirect=True)
def test_flasks_streaming_response_streams(server: RunningServer) -> None:
    """The first chunk arrives before the generator's last pause has ended (the last
    line carries the server's wall-clock time at that moment: same machine, same clock)."""
    with server.client(timeout=REQUEST_TIMEOUT) as http:
        started = time.time()
        lines: list[tuple[float, str]] = []
        with http.stream(
            "GET", "/stream", params={"chunks": STREAM_CHUNKS, "pause": STREAM_PAUSE}
        ) as response:
            assert (response.status_code, served_by(response)) == (200, "flask")
            for line in response.iter_lines():
                lines.append((time.time(), line))
    assert [text.split(" ")[0] for _at, text in lines] == ["chunk"] * 3 + ["last"]
    first_received = lines[0][0]
    last_pause_ended = float(lines[-1][1].split(" at ")[1])
    assert first_received < last_pause_ended
    # Streamed, not held back: the first chunk came about one pause before the rest.
    assert last_pause_ended - first_received > STREAM_PAUSE
    assert time.time() - started < REQUEST_TIMEOUT
