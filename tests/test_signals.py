"""Signals: Flask's names through blinker, sent by renders, flashes and the request cycle;
a stand-in when blinker is missing."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from typing import Any

import flask.signals
import pytest

import ambi.signals as signals
from ambi import Ambi
from ambi.templating import (
    render_template,
    render_template_string,
    stream_template_string,
)
from ambi.testing import AmbiClient

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]
NAMES = [
    "template_rendered",
    "before_render_template",
    "request_started",
    "request_finished",
    "request_tearing_down",
    "got_request_exception",
    "appcontext_tearing_down",
    "appcontext_pushed",
    "appcontext_popped",
    "message_flashed",
]


@pytest.fixture
def app(app: Ambi) -> Ambi:
    return app


def test_flask_names_in_their_own_namespace() -> None:
    assert signals.signals_available
    for name in NAMES:
        ours = getattr(signals, name)
        flasks = getattr(flask.signals, name)
        assert ours.name == flasks.name
        assert ours is not flasks  # a Flask receiver does not hear Ambi's app, nor back


def test_template_signals(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    events: list[tuple[str, Any, str | None, dict[str, Any]]] = []

    def before(sender: Any, template: Any, context: dict[str, Any], **extra: Any) -> None:
        events.append(("before", sender, template.name, dict(context)))
        context["added"] = "by a receiver"

    def after(sender: Any, template: Any, context: dict[str, Any], **extra: Any) -> None:
        events.append(("after", sender, template.name, dict(context)))

    app.add_url_rule("/", "index", as_view(lambda: render_template("escape.txt", value="v") + "|"))
    app.add_url_rule(
        "/string", "string", as_view(lambda: render_template_string("{{ added }}", x=1))
    )
    with (
        signals.before_render_template.connected_to(before, app),
        signals.template_rendered.connected_to(after, app),
    ):
        assert client.get("/").text == "v|"
        assert client.get("/string").text == "by a receiver"
    assert [(kind, sender, name) for kind, sender, name, _ in events] == [
        ("before", app, "escape.txt"),
        ("after", app, "escape.txt"),
        ("before", app, None),
        ("after", app, None),
    ]
    context = events[0][3]
    assert context["value"] == "v"
    assert {"request", "session", "g"} <= set(context)
    assert events[3][3]["added"] == "by a receiver"


def test_streamed_template_is_rendered_after_its_last_chunk(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    events: list[str] = []

    def chunks() -> Iterator[str]:
        for index in range(2):
            events.append(f"chunk {index}")
            yield str(index)

    def rendered(sender: Any, **extra: Any) -> None:
        events.append("rendered")

    app.add_url_rule(
        "/",
        "index",
        as_view(
            lambda: stream_template_string(
                "{% for c in chunks %}{{ c }}{% endfor %}", chunks=chunks()
            )
        ),
    )
    with signals.template_rendered.connected_to(rendered, app):
        assert client.get("/").text == "01"
    assert events == ["chunk 0", "chunk 1", "rendered"]


def test_a_receiver_for_another_app_hears_nothing(app: Ambi) -> None:
    other = Ambi("other")
    heard: list[Any] = []
    with (
        signals.template_rendered.connected_to(lambda s, **extra: heard.append(s), other),
        app.app_context(),
    ):
        render_template_string("x")
    assert heard == []


# -- sent by the request cycle (wired into the pipeline and the contexts) --------------------


def test_request_cycle_signals_in_order(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    events: list[str] = []

    def recorder(kind: str) -> Callable[..., None]:
        def receive(sender: Any, **extra: Any) -> None:
            assert sender is app
            detail = ""
            if "response" in extra:
                detail = f" {extra['response'].status_code}"
            if "exc" in extra:
                detail = f" exc={extra['exc']!r}"
            events.append(kind + detail)

        return receive

    receivers = {name: recorder(name) for name in NAMES if name.startswith(("request", "app"))}
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver, app)
    try:
        app.add_url_rule("/", "index", as_view(lambda: events.append("view") or "ok"))
        assert client.get("/").text == "ok"
    finally:
        for name, receiver in receivers.items():
            getattr(signals, name).disconnect(receiver, app)
    assert events == [
        "appcontext_pushed",
        "request_started",
        "view",
        "request_finished 200",
        "request_tearing_down exc=None",
        "appcontext_tearing_down exc=None",
        "appcontext_popped",
    ]


def test_app_context_signals(app: Ambi) -> None:
    events: list[str] = []
    with (
        signals.appcontext_pushed.connected_to(lambda s, **e: events.append("pushed"), app),
        signals.appcontext_tearing_down.connected_to(lambda s, **e: events.append("down"), app),
        signals.appcontext_popped.connected_to(lambda s, **e: events.append("popped"), app),
    ):
        context = app.app_context()
        context.push()
        events.append("inside")
        context.pop()
    assert events == ["pushed", "inside", "down", "popped"]


def test_got_request_exception(
    app: Ambi, client: AmbiClient, as_view: MakeView, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.testing = False
    # The logger is shared by every app named like this one: restore it after the test.
    monkeypatch.setattr(app.logger, "disabled", True)
    error = ValueError("boom")

    def fail() -> str:
        raise error

    app.add_url_rule("/", "index", as_view(fail))
    got: list[BaseException] = []
    with signals.got_request_exception.connected_to(
        lambda sender, exception, **extra: got.append(exception), app
    ):
        assert client.get("/").status_code == 500
    assert got == [error]


# -- without blinker -------------------------------------------------------------------------


def test_stand_in_signals_without_blinker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "blinker", None)  # "import blinker" now fails
    spec = importlib.util.spec_from_file_location("ambi_signals_no_blinker", signals.__file__)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.signals_available is False
    for name in NAMES:
        signal = getattr(module, name)
        assert signal.name == getattr(flask.signals, name).name
        assert signal.send(object(), anything=1) == []
        assert not signal.receivers
        assert "blinker is not installed" in repr(signal)
        assert not signal.has_receivers_for(object())
        signal.disconnect(print)
        with pytest.raises(RuntimeError, match="blinker"):
            signal.connect(print)
        with pytest.raises(RuntimeError, match="pip install blinker"):
            signal.connected_to(print)
    assert module.Namespace().signal("x") is not module.template_rendered
