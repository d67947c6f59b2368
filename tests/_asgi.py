"""ASGI test helpers shared by test modules that play the server themselves."""

from __future__ import annotations

from typing import Any


def http_scope(path: str = "/") -> dict[str, Any]:
    """The scope of a plain ``GET path`` as a server would describe it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
