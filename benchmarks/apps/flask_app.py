"""Flask (WSGI): ``def`` views, and ``async def`` views (run by Flask through asgiref,
a new event loop per call)."""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from typing import Any

from flask import Flask, request

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
