"""Ambi: one app with ``def`` views and one with ``async def`` views.

Each app object is benchmarked through both of its faces, WSGI and ASGI, so the report
shows the two native paths (WSGI + def, ASGI + async) and the two mismatched ones
(ASGI + def: one worker-thread hop; WSGI + async: one entry into the thread's loop).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ambi import Ambi, render_template, request

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

    @app.get("/template")
    def template() -> str:
        return render_template(TEMPLATE_NAME, **TEMPLATE_CONTEXT)

    @app.get("/args")
    def args() -> dict[str, Any]:
        return _args_result()

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

    @app.get("/template")
    async def template() -> str:
        return render_template(TEMPLATE_NAME, **TEMPLATE_CONTEXT)

    @app.get("/args")
    async def args() -> dict[str, Any]:
        return _args_result()

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
