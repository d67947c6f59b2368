"""Starlette (ASGI): ``async def`` endpoints, and ``def`` endpoints (which Starlette runs
in anyio's worker threads, one hop per call)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio.from_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .common import HELLO, JSON_MESSAGE, ROUTE_COUNT, AppCase, param_text

__all__ = ["app_async", "app_def", "cases"]


def _sync_param_view(route: int) -> Callable[[Request], Response]:
    def view(request: Request) -> Response:
        return PlainTextResponse(param_text(route, request.path_params["item_id"]))

    return view


def _async_param_view(route: int) -> Callable[[Request], Awaitable[Response]]:
    async def view(request: Request) -> Response:
        return PlainTextResponse(param_text(route, request.path_params["item_id"]))

    return view


def build_def() -> Starlette:
    def hello(request: Request) -> Response:
        return PlainTextResponse(HELLO)

    def json_(request: Request) -> Response:
        return JSONResponse(JSON_MESSAGE)

    def echo(request: Request) -> Response:
        # Starlette's body API is awaitable; a def endpoint (in a worker thread) reaches
        # it through anyio's portal back to the loop.
        data: Any = anyio.from_thread.run(request.json)
        return JSONResponse(data)

    routes = [Route("/", hello), Route("/json", json_)]
    routes += [Route(f"/route{n}/{{item_id:int}}", _sync_param_view(n)) for n in range(ROUTE_COUNT)]
    routes.append(Route("/echo", echo, methods=["POST"]))
    return Starlette(routes=routes)


def build_async() -> Starlette:
    async def hello(request: Request) -> Response:
        return PlainTextResponse(HELLO)

    async def json_(request: Request) -> Response:
        return JSONResponse(JSON_MESSAGE)

    async def echo(request: Request) -> Response:
        return JSONResponse(await request.json())

    routes = [Route("/", hello), Route("/json", json_)]
    routes += [
        Route(f"/route{n}/{{item_id:int}}", _async_param_view(n)) for n in range(ROUTE_COUNT)
    ]
    routes.append(Route("/echo", echo, methods=["POST"]))
    return Starlette(routes=routes)


app_def = build_def()
app_async = build_async()


def cases() -> list[AppCase]:
    return [
        AppCase("starlette", "asgi", "async", app_async),
        AppCase("starlette", "asgi", "def", app_def),
    ]
