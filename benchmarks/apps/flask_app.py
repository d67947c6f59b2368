"""Flask (WSGI): ``def`` views, and ``async def`` views (run by Flask through asgiref,
a new event loop per call)."""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from typing import Any

from flask import Flask, render_template, request

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


def build_def() -> Flask:
    app = Flask(__name__)

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


def build_async() -> Flask:
    app = Flask(__name__)

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
    skip = None
    if importlib.util.find_spec("asgiref") is None:
        skip = "Flask async views need asgiref: pip install 'flask[async]'"
    return [
        AppCase("flask", "wsgi", "def", app_def),
        AppCase("flask", "wsgi", "async", app_async, skip=skip),
    ]
