"""Flash messages over the session, on both interfaces and both view kinds, and with Flask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
import pytest

from ambi import Ambi, redirect
from ambi.flashing import flash, get_flashed_messages
from ambi.signals import message_flashed
from ambi.templating import render_template
from ambi.testing import AmbiClient

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]
SECRET = "a very secret key"


@pytest.fixture
def flash_app(app: Ambi, as_view: MakeView) -> Ambi:
    app.secret_key = SECRET

    def add() -> Any:
        flash("Saved <b>", "success")
        flash("Careful", "warning")
        flash("Plain")
        return redirect("/show")

    def show() -> str:
        return render_template("flashes.html")

    def messages() -> dict[str, Any]:
        first = get_flashed_messages()
        return {
            "all": first,
            "again": get_flashed_messages(),  # the same messages, in the same request
            "pairs": get_flashed_messages(with_categories=True),
            "warnings": get_flashed_messages(category_filter=["warning"]),
            "by_string": get_flashed_messages(with_categories=True, category_filter="success"),
        }

    def late() -> dict[str, Any]:
        seen = get_flashed_messages()
        flash("for the next request")
        return {"seen": seen, "now": get_flashed_messages()}

    app.add_url_rule("/add", "add", as_view(add))
    app.add_url_rule("/show", "show", as_view(show))
    app.add_url_rule("/messages", "messages", as_view(messages))
    app.add_url_rule("/late", "late", as_view(late))
    return app


def test_flash_survives_a_redirect_and_is_shown_once(
    flash_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    client = make_client(flash_app)
    response = client.get("/add", follow_redirects=True)
    assert response.url.path == "/show"
    assert response.text == "[success] Saved &lt;b&gt;\n[warning] Careful\n[message] Plain\n"
    assert client.get("/show").text == ""  # consumed


def test_categories_and_filters(flash_app: Ambi, make_client: Callable[..., AmbiClient]) -> None:
    client = make_client(flash_app)
    client.get("/add")
    assert client.get("/messages").json() == {
        "all": ["Saved <b>", "Careful", "Plain"],
        "again": ["Saved <b>", "Careful", "Plain"],
        "pairs": [["success", "Saved <b>"], ["warning", "Careful"], ["message", "Plain"]],
        "warnings": ["Careful"],
        "by_string": [["success", "Saved <b>"]],
    }
    assert client.get("/messages").json()["all"] == []


def test_a_message_flashed_after_reading_waits_for_the_next_request(
    flash_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    client = make_client(flash_app)
    assert client.get("/late").json() == {"seen": [], "now": []}
    # "now" is this request's messages again; the one flashed now waits for the next.
    waiting = {"seen": ["for the next request"], "now": ["for the next request"]}
    assert client.get("/late").json() == waiting
    assert client.get("/late").json() == waiting


def test_reading_no_messages_leaves_the_session_alone(
    flash_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    client = make_client(flash_app)
    response = client.get("/show")
    assert response.text == ""
    assert "set-cookie" not in response.headers
    client.get("/add")
    emptied = client.get("/show")
    assert "Max-Age=0" in emptied.headers["set-cookie"]  # the last messages went


def _flask_app() -> flask.Flask:
    legacy = flask.Flask("legacy")
    legacy.secret_key = SECRET

    @legacy.get("/flask/flash")
    def flask_flash() -> str:
        flask.flash("From Flask", "info")
        return "flashed"

    @legacy.get("/flask/show")
    def flask_show() -> Any:
        return {"pairs": flask.get_flashed_messages(with_categories=True)}

    return legacy


def test_flashes_cross_between_flask_and_ambi(
    flash_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    legacy = _flask_app().test_client()
    flask_cookie = legacy.get("/flask/flash").headers["Set-Cookie"].split(";")[0]
    client = make_client(flash_app)
    # Flashed by the Flask app, shown by Ambi...
    response = client.get("/show", headers={"Cookie": flask_cookie})
    assert response.text == "[info] From Flask\n"
    # ...and flashed by Ambi, shown by the Flask app.
    ambi_cookie = client.get("/add").headers["set-cookie"].split(";")[0]
    name, _, value = ambi_cookie.partition("=")
    legacy.set_cookie(name, value)
    assert legacy.get("/flask/show").json == {
        "pairs": [["success", "Saved <b>"], ["warning", "Careful"], ["message", "Plain"]]
    }


def test_message_flashed_signal(flash_app: Ambi, make_client: Callable[..., AmbiClient]) -> None:
    received: list[tuple[Any, str, str]] = []

    def record(sender: Any, message: str, category: str, **extra: Any) -> None:
        received.append((sender, message, category))

    with message_flashed.connected_to(record, flash_app):
        make_client(flash_app).get("/add")
    assert received == [
        (flash_app, "Saved <b>", "success"),
        (flash_app, "Careful", "warning"),
        (flash_app, "Plain", "message"),
    ]


def test_flash_needs_a_secret_key(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.add_url_rule("/", "index", as_view(lambda: flash("x") or "ok"))
    with pytest.raises(RuntimeError, match="secret key"):
        client.get("/")


def test_outside_a_request_is_a_clear_error(app: Ambi) -> None:
    with pytest.raises(RuntimeError, match="request context"):
        get_flashed_messages()
    with app.app_context(), pytest.raises(RuntimeError, match="request context"):
        flash("x")
