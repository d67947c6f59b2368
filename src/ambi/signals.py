"""Flask's signals, when blinker is installed.

Part of the sans-I/O core. The names and the keyword arguments each signal is sent with
are Flask's, so a receiver written for Flask works unchanged::

    from ambi.signals import template_rendered

    def record(sender, template, context, **extra):
        ...

    template_rendered.connect(record, app)

The sender is always the application object. Receivers are called synchronously, where
the signal is sent (inside a render, a request, a context push); they must be ``def``
functions, since a render or a context push cannot await anything.

blinker is optional. Without it every signal here is a stand-in: sending does nothing,
so Ambi and extensions can send unconditionally, and connecting a receiver raises a
:class:`RuntimeError` that says blinker is needed. :data:`signals_available` tells which.

Sending costs little when nothing is connected; on a hot path, guard with
``if signal.receivers:`` (true for neither the stand-in nor an unconnected signal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

__all__ = [
    "Namespace",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "got_request_exception",
    "message_flashed",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "signals_available",
    "template_rendered",
]


class _UnavailableSignal:
    """What a signal is when blinker is not installed: sends reach no one."""

    #: No receivers, ever: ``if signal.receivers:`` guards skip the send.
    receivers: dict[Any, Any]

    def __init__(self, name: str, doc: str | None = None) -> None:
        self.name = name
        self.__doc__ = doc
        self.receivers = {}

    def send(self, sender: Any = None, /, **kwargs: Any) -> list[tuple[Callable[..., Any], Any]]:
        """Do nothing: nobody can be connected without blinker."""
        return []

    def has_receivers_for(self, sender: Any) -> bool:
        """Always ``False``."""
        return False

    def _unavailable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError(
            f"Cannot connect to the {self.name!r} signal: signals need the blinker library,"
            " which is not installed. Install it with 'pip install blinker'."
        )

    connect = connect_via = connected_to = _unavailable
    del _unavailable

    def disconnect(self, receiver: Any, sender: Any = None) -> None:
        """Nothing to disconnect."""

    def __repr__(self) -> str:
        return f"<unavailable signal {self.name!r} (blinker is not installed)>"


class _UnavailableNamespace(dict[str, _UnavailableSignal]):
    """blinker's ``Namespace`` shape, handing out stand-in signals."""

    def signal(self, name: str, doc: str | None = None) -> _UnavailableSignal:
        try:
            return self[name]
        except KeyError:
            return self.setdefault(name, _UnavailableSignal(name, doc))


Namespace: Any
try:
    from blinker import Namespace
except ImportError:  # pragma: no cover - blinker is installed where the tests run
    signals_available = False
    Namespace = _UnavailableNamespace
else:
    signals_available = True

#: Ambi's own namespace (extensions make their own: ``Namespace()``).
_signals = Namespace()

#: ``sender=app, template=, context=`` after a template was rendered (for a streamed
#: template, after its last chunk).
template_rendered = _signals.signal("template-rendered")
#: ``sender=app, template=, context=`` before a template is rendered; receivers may add
#: names to ``context``.
before_render_template = _signals.signal("before-render-template")
#: ``sender=app`` when a request starts, before its first hook.
request_started = _signals.signal("request-started")
#: ``sender=app, response=`` once the response is made (after the ``after_request``
#: callables and the session save), before it is sent.
request_finished = _signals.signal("request-finished")
#: ``sender=app, exc=`` after the ``teardown_request`` callables ran.
request_tearing_down = _signals.signal("request-tearing-down")
#: ``sender=app, exception=`` when an exception no error handler handled ends a request
#: (before it becomes a 500, or is propagated when testing).
got_request_exception = _signals.signal("got-request-exception")
#: ``sender=app, exc=`` when an application context is torn down.
appcontext_tearing_down = _signals.signal("appcontext-tearing-down")
#: ``sender=app`` when an application (or request) context is pushed.
appcontext_pushed = _signals.signal("appcontext-pushed")
#: ``sender=app`` when an application (or request) context is popped.
appcontext_popped = _signals.signal("appcontext-popped")
#: ``sender=app, message=, category=`` when :func:`ambi.flash` is called.
message_flashed = _signals.signal("message-flashed")
