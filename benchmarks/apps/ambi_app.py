"""Ambi: one app with ``def`` views and one with ``async def`` views.

Each app object is benchmarked through both of its faces, WSGI and ASGI, so the report
shows the two native paths (WSGI + def, ASGI + async) and the two mismatched ones
(ASGI + def: one worker-thread hop; WSGI + async: one entry into the thread's loop).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ambi import Ambi, request

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


def build_def() -> Ambi:
    app = Ambi(__name__)

    @app.get("/")
    def hello() -> str:
        return HELLO

    @app.get("/json")
    def json_() -> dict[str, Any]:
        return JSON_MESSAGE

    for n in range(ROUTE_COUNT):
        app.add_url_rule(f"/route{n}/<int:item_id>", f"route{n}", _sync_param_view(n))

    @app.post("/echo")
    def echo() -> Any:
        return request.get_json()

    return app


def build_async() -> Ambi:
    app = Ambi(__name__)

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
        # The blocking body API works unchanged in an async view (DESIGN.md).
        return request.get_json()

    return app


app_def = build_def()
app_async = build_async()


def cases() -> list[AppCase]:
    return [
        AppCase("ambi", "wsgi", "def", app_def),
        AppCase("ambi", "wsgi", "async", app_async),
        AppCase("ambi", "asgi", "async", app_async),
        AppCase("ambi", "asgi", "def", app_def),
    ]
