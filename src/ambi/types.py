"""Protocol types shared by the adapters and the core: ASGI, WSGI and view return values.

Nothing here runs; it only names shapes so that ``mypy --strict`` can check them.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, MutableMapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from .datastructures import Headers
    from .wrappers import Response

__all__ = [
    "ASGIApp",
    "HeadersValue",
    "Message",
    "Receive",
    "ResponseReturnValue",
    "Scope",
    "Send",
    "StartResponse",
    "WSGIApp",
    "WSGIEnvironment",
]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

WSGIEnvironment: TypeAlias = dict[str, Any]
ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]


class StartResponse(Protocol):
    """The ``start_response`` callable a WSGI server passes to the application."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = ...,
        /,
    ) -> Callable[[bytes], object]: ...


WSGIApp: TypeAlias = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]

HeadersValue: TypeAlias = (
    "Headers | Mapping[str, str | list[str] | tuple[str, ...]] | Iterable[tuple[str, str]]"
)
BodyValue: TypeAlias = (
    "Response | str | bytes | bytearray | dict[str, Any] | list[Any]"
    " | Iterable[str | bytes] | AsyncIterable[str | bytes]"
)
StatusValue: TypeAlias = "int | str"
ResponseReturnValue: TypeAlias = (
    "BodyValue | tuple[BodyValue, HeadersValue] | tuple[BodyValue, StatusValue]"
    " | tuple[BodyValue, StatusValue, HeadersValue]"
)
