"""The floor: a hand-written WSGI callable and ASGI callable, no framework.

They do the same work the framework apps do (route on the path, convert the int,
decode and re-encode the echoed JSON, render the template compiled at import, parse the
query string and the cookie header) with the least code possible, so "× raw" in the
report is what a framework costs on top of the interface itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import jinja2

from .common import (
    ARGS_COOKIE,
    HELLO,
    JSON_MESSAGE,
    ROUTE_COUNT,
    TEMPLATE_CONTEXT,
    TEMPLATE_NAME,
    TEMPLATES_DIR,
    AppCase,
    args_result,
    param_text,
)

__all__ = ["asgi_app", "cases", "wsgi_app"]

_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"
_HTML = "text/html; charset=utf-8"
_STATUS = {200: "200 OK", 404: "404 Not Found"}
_NOT_FOUND = (404, _TEXT, b"Not Found")

# Compiled once, at import, as a real app would.
_TEMPLATE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True
).get_template(TEMPLATE_NAME)

#: (query string, X-Request-Id header, Cookie header) of a request; one per interface,
#: only called by the route that needs them.
ArgsReader = Callable[[Any], tuple[str, str | None, str | None]]


def _cookie(header: str | None, name: str) -> str | None:
    for pair in (header or "").split(";"):
        key, _, value = pair.strip().partition("=")
        if key == name:
            return value
    return None


def _args(query: str, request_id: str | None, cookie_header: str | None) -> bytes:
    args = parse_qs(query)
    name = args.get("name", [None])[0]
    count = args.get("count")
    return json.dumps(
        args_result(
            name,
            int(count[0]) if count else None,
            args.get("tag", []),
            request_id,
            _cookie(cookie_header, ARGS_COOKIE[0]),
        )
    ).encode()


def _dispatch(
    method: str, path: str, body: bytes, request: Any, read_args: ArgsReader
) -> tuple[int, str, bytes]:
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
        if path == "/template":
            return 200, _HTML, _TEMPLATE.render(TEMPLATE_CONTEXT).encode()
        if path == "/args":
            return 200, _JSON, _args(*read_args(request))
    elif method == "POST" and path == "/echo":
        return 200, _JSON, json.dumps(json.loads(body)).encode()
    return _NOT_FOUND


def _wsgi_args(environ: dict[str, Any]) -> tuple[str, str | None, str | None]:
    return (
        environ.get("QUERY_STRING", ""),
        environ.get("HTTP_X_REQUEST_ID"),
        environ.get("HTTP_COOKIE"),
    )


def _asgi_args(scope: dict[str, Any]) -> tuple[str, str | None, str | None]:
    request_id = cookie = None
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            request_id = value.decode("latin-1")
        elif key == b"cookie":
            cookie = value.decode("latin-1")
    return scope["query_string"].decode("latin-1"), request_id, cookie


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    method = environ["REQUEST_METHOD"]
    body = b""
    if method == "POST":
        length = environ.get("CONTENT_LENGTH")
        body = environ["wsgi.input"].read(int(length)) if length else b""
    status, ctype, out = _dispatch(method, environ["PATH_INFO"], body, environ, _wsgi_args)
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
    status, ctype, out = _dispatch(method, scope["path"], body, scope, _asgi_args)
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
