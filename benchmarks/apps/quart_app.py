"""Quart (ASGI): ``async def`` views, and ``def`` views (which Quart runs in the loop's
thread-pool executor, one hop per call)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, render_template, request

from .common import (
    ARGS_COOKIE,
    ARGS_HEADER,
    HELLO,
    JSON_MESSAGE,
    ROUTE_COUNT,
    TEMPLATE_CONTEXT,
    TEMPLATE_NAME,
    AppCase,
    args_result,
    param_text,
)

__all__ = ["app_async", "app_def", "cases"]


def _sync_param_view(route: int) -> Callable[[int], str]:
    def view(item_id: int) -> str:
        return param_text(route, item_id)

    return view


def _async_param_view(route: int) -> Callable[[int], Awaitable[str]]:
    async def view(item_id: int) -> str:
        return param_text(route, item_id)

    return view


def _args_result() -> dict[str, Any]:
    # The same reads in def and async views: the query, a header, a cookie.
    return args_result(
        request.args.get("name"),
        request.args.get("count", type=int),
        request.args.getlist("tag"),
        request.headers.get(ARGS_HEADER[0]),
        request.cookies.get(ARGS_COOKIE[0]),
    )


def build_def() -> Quart:
    app = Quart(__name__)

    @app.get("/")
    def hello() -> str:
        return HELLO

    @app.get("/json")
    def json_() -> dict[str, Any]:
        return JSON_MESSAGE

    for n in range(ROUTE_COUNT):
        app.add_url_rule(f"/route{n}/<int:item_id>", f"route{n}", _sync_param_view(n))

    @app.get("/args")
    def args() -> dict[str, Any]:
        return _args_result()

    return app


def build_async() -> Quart:
    app = Quart(__name__)

    @app.get("/")
    async def hello() -> str:
        return HELLO

    @app.get("/json")
    async def json_() -> dict[str, Any]:
        return JSON_MESSAGE

    for n in range(ROUTE_COUNT):
        app.add_url_rule(f"/route{n}/<int:item_id>", f"route{n}", _async_param_view(n))

    @app.post("/echo")
    async def echo() -> Any:
        return await request.get_json()

    @app.get("/template")
    async def template() -> str:
        return await render_template(TEMPLATE_NAME, **TEMPLATE_CONTEXT)

    @app.get("/args")
    async def args() -> dict[str, Any]:
        return _args_result()

    return app


app_def = build_def()
app_async = build_async()

_NO_SYNC_BODY = "Quart's body API is awaitable: a def view cannot read the body"
_NO_SYNC_TEMPLATE = "Quart's render_template is awaitable: a def view cannot call it"


def cases() -> list[AppCase]:
    return [
        AppCase("quart", "asgi", "async", app_async),
        AppCase(
            "quart",
            "asgi",
            "def",
            app_def,
            unsupported={"echo": _NO_SYNC_BODY, "template": _NO_SYNC_TEMPLATE},
        ),
    ]
