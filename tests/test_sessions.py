"""Sessions through the whole app, on both interfaces and both view kinds, and with Flask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
import pytest

from ambi import Ambi, Response, session
from ambi.sessions import SecureCookieSession, SessionInterface, SessionMixin
from ambi.testing import AmbiClient

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]
SECRET = "a very secret key"


@pytest.fixture
def session_app(app: Ambi, as_view: MakeView) -> Ambi:
    app.secret_key = SECRET

    def login(name: str) -> str:
        session["user"] = name
        session["visits"] = (1, 2)
        return "ok"

    def whoami() -> dict[str, Any]:
        return {"user": session.get("user"), "visits": session.get("visits")}

    def logout() -> str:
        session.clear()
        return "bye"

    app.add_url_rule("/login/<name>", "login", as_view(login))
    app.add_url_rule("/whoami", "whoami", as_view(whoami))
    app.add_url_rule("/logout", "logout", as_view(logout))
    app.add_url_rule("/plain", "plain", as_view(lambda: "no session here"))
    return app


def test_session_round_trip(session_app: Ambi, make_client: Callable[..., AmbiClient]) -> None:
    client = make_client(session_app)
    response = client.get("/login/ada")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert "Expires" not in cookie  # not permanent
    assert response.headers["vary"] == "Cookie"
    assert client.get("/whoami").json() == {"user": "ada", "visits": [1, 2]}
    logout = client.get("/logout")
    assert "Max-Age=0" in logout.headers["set-cookie"]
    assert client.get("/whoami").json() == {"user": None, "visits": None}


def test_untouched_session_sets_nothing(
    session_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    client = make_client(session_app)
    response = client.get("/plain")
    assert "set-cookie" not in response.headers
    assert "vary" not in response.headers


@pytest.mark.parametrize("cookie", ["garbage", "eyJ1c2VyIjoiZXZlIn0.AAAAAA.forged", ""])
def test_tampered_cookie_gives_an_empty_session(
    session_app: Ambi, make_client: Callable[..., AmbiClient], cookie: str
) -> None:
    client = make_client(session_app)
    response = client.get("/whoami", headers={"Cookie": f"session={cookie}"})
    assert response.status_code == 200
    assert response.json() == {"user": None, "visits": None}


def test_permanent_session_and_fallback_keys(
    session_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    @session_app.get("/remember")
    def remember() -> str:
        session.permanent = True
        session["user"] = "bob"
        return "ok"

    client = make_client(session_app)
    old_cookie = client.get("/remember").headers["set-cookie"]
    assert "Expires=" in old_cookie
    old_cookie = old_cookie.split(";")[0]
    # Rotate the key: the old cookie is still read through SECRET_KEY_FALLBACKS, and the
    # permanent session is re-signed with the new key on the way out.
    session_app.config.update(SECRET_KEY="new key", SECRET_KEY_FALLBACKS=[SECRET])
    assert client.get("/whoami").json()["user"] == "bob"
    session_app.config["SECRET_KEY_FALLBACKS"] = None
    assert client.get("/whoami").json()["user"] == "bob"
    fresh = make_client(session_app)
    assert fresh.get("/whoami", headers={"Cookie": old_cookie}).json()["user"] is None


def test_no_secret_key_reads_empty_and_refuses_writes(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    app.add_url_rule("/read", "read", as_view(lambda: str(dict(session))))

    def write() -> str:
        session["x"] = 1
        return "never"

    app.add_url_rule("/write", "write", as_view(write))
    assert client.get("/read").text == "{}"
    with pytest.raises(RuntimeError, match="no secret key was set"):
        client.get("/write")


def _flask_app() -> flask.Flask:
    legacy = flask.Flask("legacy")
    legacy.secret_key = SECRET

    @legacy.get("/flask/login/<name>")
    def flask_login(name: str) -> str:
        flask.session["user"] = name
        flask.session["visits"] = (1, 2)
        return "flask ok"

    @legacy.get("/flask/whoami")
    def flask_whoami() -> Any:
        return {"user": flask.session.get("user"), "visits": flask.session.get("visits")}

    return legacy


def test_flask_cookie_works_in_ambi_and_back(
    session_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    legacy = _flask_app().test_client()
    flask_cookie = legacy.get("/flask/login/grace").headers["Set-Cookie"].split(";")[0]
    client = make_client(session_app)
    # A user logged in on the Flask app is logged in on Ambi's routes...
    assert client.get("/whoami", headers={"Cookie": flask_cookie}).json() == {
        "user": "grace",
        "visits": [1, 2],
    }
    # ...and a user logged in on Ambi is logged in on the Flask app's.
    ambi_cookie = client.get("/login/linus").headers["set-cookie"].split(";")[0]
    name, _, value = ambi_cookie.partition("=")
    legacy.set_cookie(name, value)
    assert legacy.get("/flask/whoami").json == {"user": "linus", "visits": [1, 2]}


class AsyncMemorySessions(SessionInterface):
    """A server-side store with async methods, as a custom backend would have."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    async def open_session(self, app: Any, request: Any) -> SessionMixin:
        self.calls.append("open")
        sid = request.cookies.get("sid")
        data = self.store.get(sid or "", {})
        result = SecureCookieSession(data)
        result.sid = sid or f"s{len(self.store) + 1}"  # type: ignore[attr-defined]
        return result

    async def save_session(self, app: Any, session: SessionMixin, response: Response) -> None:
        self.calls.append("save")
        sid = session.sid  # type: ignore[attr-defined]
        self.store[sid] = dict(session)
        response.set_cookie("sid", sid, httponly=True)


def test_custom_async_session_interface(
    session_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    backend = AsyncMemorySessions()
    session_app.session_interface = backend
    client = make_client(session_app)
    client.get("/login/ada")
    assert client.cookies["sid"] == "s1"
    assert backend.store["s1"]["user"] == "ada"
    assert client.get("/whoami").json()["user"] == "ada"
    assert backend.calls[:2] == ["open", "save"]


def test_test_request_context_opens_the_session(session_app: Ambi) -> None:
    with session_app.test_request_context("/"):
        session["k"] = "v"
        assert session["k"] == "v"
    session_app.session_interface = AsyncMemorySessions()
    with session_app.test_request_context("/"), pytest.raises(RuntimeError, match="async def"):
        session.get("k")
