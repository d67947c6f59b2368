"""Quart (ASGI): ``async def`` views, and ``def`` views (which Quart runs in the loop's
thread-pool executor, one hop per call)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, request

from .common import HELLO, JSON_MESSAGE, ROUTE_COUNT, AppCase, param_text

__all__ = ["app_async", "app_def", "cases"]


def _sync_param_view(route: int) -> Callable[[int], str]:
    def view(item_id: int) -> str:
        return param_text(route, item_id)

    return view


def _async_param_view(route: int) -> Callable[[int], Awaitable[str]]:
    async def view(item_id: int) -> str:
        return param_text(route, item_id)

    return view


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

    return app


app_def = build_def()
app_async = build_async()

_NO_SYNC_BODY = "Quart's body API is awaitable: a def view cannot read the body"


def cases() -> list[AppCase]:
    return [
        AppCase("quart", "asgi", "async", app_async),
        AppCase("quart", "asgi", "def", app_def, unsupported={"echo": _NO_SYNC_BODY}),
    ]
