"""Flash messages: a message stored in the session now, shown on the next page.

Part of the sans-I/O core. The messages live in ``session["_flashes"]`` as a list of
``(category, message)`` pairs: Flask's key and format, so with a shared session cookie
(same ``SECRET_KEY`` and cookie settings) a message flashed by a Flask app is shown by an
Ambi app, and the reverse. Flashing needs a working session, hence a ``SECRET_KEY``.

The usual pattern, the message surviving a redirect::

    @app.post("/items")
    def create():
        ...
        flash("Item saved.", "success")
        return redirect(url_for("index"))

and in the ``index`` page's template::

    {% for category, message in get_flashed_messages(with_categories=true) %}
      <p class="{{ category }}">{{ message }}</p>
    {% endfor %}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .globals import _request_context, current_app, session
from .signals import message_flashed

__all__ = ["flash", "get_flashed_messages"]

_KEY = "_flashes"


def flash(message: str, category: str = "message") -> None:
    """Store ``message`` in the session, to be shown by a later request's
    :func:`get_flashed_messages`.

    ``category`` is free text; Flask's conventions are ``"message"`` (the default),
    ``"info"``, ``"warning"`` and ``"error"``. Sends :data:`~ambi.signals.message_flashed`.
    """
    flashes = session.get(_KEY, [])
    flashes.append((category, message))
    # Assign (not only append) so the session sees the change and is saved.
    session[_KEY] = flashes
    if message_flashed.receivers:
        message_flashed.send(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            message=message,
            category=category,
        )


def get_flashed_messages(
    with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[str] | list[tuple[str, str]]:
    """The flashed messages waiting in the session, removed from it.

    The first call in a request takes them out of the session; later calls in the same
    request return the same messages (so a layout and a page can both call it). A message
    flashed after that first call waits for the next request.

    ``with_categories=True`` returns ``(category, message)`` pairs instead of messages;
    ``category_filter`` keeps only the messages of those categories.
    """
    ctx: Any = _request_context("get_flashed_messages")
    flashes: list[tuple[str, str]] | None = getattr(ctx, "flashes", None)
    if flashes is None:
        stored = session.pop(_KEY) if _KEY in session else []
        # A pair from a JSON cookie may come back as a list; show it as the pair it was.
        flashes = [(pair[0], pair[1]) for pair in stored]
        ctx.flashes = flashes
    if category_filter:
        wanted = {category_filter} if isinstance(category_filter, str) else set(category_filter)
        flashes = [pair for pair in flashes if pair[0] in wanted]
    if with_categories:
        return flashes
    return [message for _, message in flashes]
