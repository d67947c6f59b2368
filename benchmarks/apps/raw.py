"""The floor: a hand-written WSGI callable and ASGI callable, no framework.

They do the same work the framework apps do (route on the path, convert the int,
decode and re-encode the echoed JSON) with the least code possible, so "× raw" in the
report is what a framework costs on top of the interface itself.
"""

from __future__ import annotations

import json
from typing import Any

from .common import HELLO, JSON_MESSAGE, ROUTE_COUNT, AppCase, param_text

__all__ = ["asgi_app", "cases", "wsgi_app"]

_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"
_STATUS = {200: "200 OK", 404: "404 Not Found"}
_NOT_FOUND = (404, _TEXT, b"Not Found")


def _dispatch(method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
    """(status, content type, body) for a request."""
    if method == "GET":
        if path == "/":
            return 200, _TEXT, HELLO.encode()
        if path == "/json":
            return 200, _JSON, json.dumps(JSON_MESSAGE).encode()
        if path.startswith("/route"):
            route, _, item = path[6:].partition("/")
            if route.isdigit() and item.isdigit() and int(route) < ROUTE_COUNT:
                return 200, _TEXT, param_text(int(route), int(item)).encode()
    elif method == "POST" and path == "/echo":
        return 200, _JSON, json.dumps(json.loads(body)).encode()
    return _NOT_FOUND


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    method = environ["REQUEST_METHOD"]
    body = b""
    if method == "POST":
        length = environ.get("CONTENT_LENGTH")
        body = environ["wsgi.input"].read(int(length)) if length else b""
    status, ctype, out = _dispatch(method, environ["PATH_INFO"], body)
    start_response(_STATUS[status], [("Content-Type", ctype), ("Content-Length", str(len(out)))])
    return [out]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    method = scope["method"]
    body = b""
    if method == "POST":
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
    status, ctype, out = _dispatch(method, scope["path"], body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype.encode()),
                (b"content-length", str(len(out)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": out})


def cases() -> list[AppCase]:
    return [
        AppCase("raw", "wsgi", "def", wsgi_app),
        AppCase("raw", "asgi", "async", asgi_app),
    ]
