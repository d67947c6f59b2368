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
from starlette.templating import Jinja2Templates

from .common import (
    ARGS_COOKIE,
    ARGS_HEADER,
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

__all__ = ["app_async", "app_def", "cases"]


def _sync_param_view(route: int) -> Callable[[Request], Response]:
    def view(request: Request) -> Response:
        return PlainTextResponse(param_text(route, request.path_params["item_id"]))

    return view


def _async_param_view(route: int) -> Callable[[Request], Awaitable[Response]]:
    async def view(request: Request) -> Response:
        return PlainTextResponse(param_text(route, request.path_params["item_id"]))

    return view


# Starlette's documented setup, defaults kept (its Jinja2 environment has auto_reload on,
# so each render checks the template file's mtime, as a Starlette app does).
templates = Jinja2Templates(directory=TEMPLATES_DIR)


def _template(request: Request) -> Response:
    # TemplateResponse adds "request" to the context it is given: a fresh dict per call.
    return templates.TemplateResponse(request, TEMPLATE_NAME, {**TEMPLATE_CONTEXT})


def _args(request: Request) -> Response:
    query = request.query_params
    count = query.get("count")
    return JSONResponse(
        args_result(
            query.get("name"),
            int(count) if count is not None else None,
            query.getlist("tag"),
            request.headers.get(ARGS_HEADER[0]),
            request.cookies.get(ARGS_COOKIE[0]),
        )
    )


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

    def template(request: Request) -> Response:
        return _template(request)

    def args(request: Request) -> Response:
        return _args(request)

    routes = [Route("/", hello), Route("/json", json_)]
    routes += [Route(f"/route{n}/{{item_id:int}}", _sync_param_view(n)) for n in range(ROUTE_COUNT)]
    routes.append(Route("/echo", echo, methods=["POST"]))
    routes += [Route("/template", template), Route("/args", args)]
    return Starlette(routes=routes)


def build_async() -> Starlette:
    async def hello(request: Request) -> Response:
        return PlainTextResponse(HELLO)

    async def json_(request: Request) -> Response:
        return JSONResponse(JSON_MESSAGE)

    async def echo(request: Request) -> Response:
        return JSONResponse(await request.json())

    async def template(request: Request) -> Response:
        return _template(request)

    async def args(request: Request) -> Response:
        return _args(request)

    routes = [Route("/", hello), Route("/json", json_)]
    routes += [
        Route(f"/route{n}/{{item_id:int}}", _async_param_view(n)) for n in range(ROUTE_COUNT)
    ]
    routes.append(Route("/echo", echo, methods=["POST"]))
    routes += [Route("/template", template), Route("/args", args)]
    return Starlette(routes=routes)


app_def = build_def()
app_async = build_async()


def cases() -> list[AppCase]:
    return [
        AppCase("starlette", "asgi", "async", app_async),
        AppCase("starlette", "asgi", "def", app_def),
    ]
