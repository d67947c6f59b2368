"""The ``text/event-stream`` wire format: :class:`ServerSentEvent` and its encoding.

Part of the sans-I/O core: it turns values into the bytes of the HTML Standard's
server-sent events format and does nothing else. The timing (keep-alive pings) and the
iteration of the user's generator live in the adapter module ``sse.py``.

An event is a block of ``field: value`` lines closed by a blank line::

    : a comment
    event: price
    id: 42
    retry: 3000
    data: first line
    data: second line

The client joins ``data`` lines with ``\\n``. Only CR, LF and CRLF end a line in this
format, so those (and only those) split ``data`` and ``comment`` text; in ``event`` and
``id`` they would end the field early and change what the client sees, so they are
refused, and so is NUL (the client ignores an ``id`` containing it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .json import dumps

__all__ = ["PING", "ServerSentEvent", "encode_event"]

#: The keep-alive comment sent while the generator is quiet.
PING = b": ping\n\n"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FORBIDDEN_IN_FIELD = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One server-sent event; every field is optional.

    * ``data``: a ``str`` is sent as text (a multi-line string becomes several ``data:``
      lines, which the browser joins with ``\\n``); any other value (``dict``, ``list``,
      number, …) is JSON-encoded with the app's JSON provider. ``None`` sends no data
      line: the browser then dispatches no event, but still applies ``id`` and ``retry``.
    * ``event``: the event type (the browser's ``addEventListener(type, …)``); the
      default type is ``"message"``.
    * ``id``: the event id; the browser sends the last one back in the
      ``Last-Event-ID`` header when it reconnects. An ``int`` is sent as its decimal text.
    * ``retry``: how long the browser waits before reconnecting, in milliseconds.
    * ``comment``: a comment line (``: text``), ignored by the browser.

    ``event`` and ``id`` containing CR, LF or NUL are refused with ``ValueError``: they
    would break the framing. For example::

        ServerSentEvent({"price": 10}, event="price", id=7)
        ServerSentEvent(retry=5000)            # only changes the reconnection delay
    """

    data: Any = None
    event: str | None = None
    id: str | int | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        if self.event is not None:
            _check_field("event", self.event)
        if self.id is not None:
            if isinstance(self.id, bool) or not isinstance(self.id, (str, int)):
                raise TypeError(f"The event id must be a str or an int, not {self.id!r}.")
            if isinstance(self.id, int):
                object.__setattr__(self, "id", str(self.id))
            else:
                _check_field("id", self.id)
        if self.retry is not None and (
            isinstance(self.retry, bool) or not isinstance(self.retry, int) or self.retry < 0
        ):
            raise ValueError(
                f"retry must be a non-negative int of milliseconds, not {self.retry!r}."
            )
        if self.comment is not None and not isinstance(self.comment, str):
            raise TypeError(f"The comment must be a str, not {type(self.comment).__name__}.")

    def encode(self) -> bytes:
        """The event's bytes on the wire, closing blank line included."""
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(f": {line}" for line in _LINE_BREAK.split(self.comment))
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        if self.data is not None:
            lines.extend(_data_lines(self.data))
        lines.append("\n")
        return "\n".join(lines).encode()


def _check_field(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"The event {name} must be a str, not {type(value).__name__}.")
    if _FORBIDDEN_IN_FIELD.search(value):
        raise ValueError(
            f"ServerSentEvent {name}={value!r} contains a CR, LF or NUL character, which"
            " would break the event-stream framing."
        )


def _data_lines(data: Any) -> list[str]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            "An event's data must be a str or a JSON-serialisable value, not bytes:"
            " decode it first."
        )
    text = data if isinstance(data, str) else dumps(data)
    return [f"data: {line}" for line in _LINE_BREAK.split(text)]


def encode_event(item: Any) -> bytes:
    """The bytes for one value a generator yielded: a :class:`ServerSentEvent` as is,
    ``None`` as nothing at all (``b""``), anything else as the ``data`` of an unnamed
    event (see :class:`ServerSentEvent`)."""
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if item is None:
        return b""
    return ("\n".join(_data_lines(item)) + "\n\n").encode()
