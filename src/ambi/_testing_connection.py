"""A :class:`~ambi.wrappers.Connection` for requests that were never sent.

Used by ``app.test_request_context()``; part of the sans-I/O core (the body is bytes
in memory).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .wrappers import Connection

__all__ = ["TestConnection", "build_test_connection"]


class TestConnection(Connection):
    """A connection whose body is already in memory."""

    __slots__ = ("_body",)
    interface = "wsgi"

    def __init__(self, body: bytes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._body = body

    def read_body_chunk(self) -> bytes:
        body, self._body = self._body, b""
        return body

    @property
    def environ(self) -> dict[str, Any]:
        return {
            "REQUEST_METHOD": self.method,
            "SCRIPT_NAME": self.root_path,
            "PATH_INFO": self.path_bytes.decode("latin-1"),
            "QUERY_STRING": self.query_string.decode("latin-1"),
            "wsgi.url_scheme": self.scheme,
        }


def build_test_connection(
    path: str,
    method: str,
    query_string: str | bytes,
    headers: list[tuple[str, str]],
    body: bytes | None,
    base_url: str,
) -> TestConnection:
    """A connection for ``method path`` against ``base_url`` (``http://localhost``)."""
    base = urlsplit(base_url)
    target = urlsplit(path)
    query = query_string.encode() if isinstance(query_string, str) else query_string
    if target.query and not query:
        query = target.query.encode()
    if not any(name.lower() == "host" for name, _ in headers):
        headers = [("Host", base.netloc or "localhost"), *headers]
    if body:
        headers = [*headers, ("Content-Length", str(len(body)))]
    return TestConnection(
        body or b"",
        method=method.upper(),
        scheme=base.scheme or "http",
        server=(base.hostname or "localhost", base.port),
        root_path=base.path.rstrip("/"),
        path_bytes=(target.path or "/").encode("utf-8"),
        path_is_encoded=True,
        query_string=query,
        header_items=headers,
        client=("127.0.0.1", 0),
    )
