"""Falcon: a WSGI app (``def`` responders) and an ASGI app (``async def`` responders)."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi
import jinja2

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

__all__ = ["asgi_app", "cases", "wsgi_app"]

# Falcon has no template API: the usual recipe is a module-level Jinja2 environment,
# the template loaded once at import.
_TEMPLATE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True
).get_template(TEMPLATE_NAME)


def _args(req: falcon.Request | falcon.asgi.Request) -> dict[str, Any]:
    return args_result(
        req.get_param("name"),
        req.get_param_as_int("count"),
        req.get_param_as_list("tag") or [],
        req.get_header(ARGS_HEADER[0]),
        req.cookies.get(ARGS_COOKIE[0]),
    )


class Hello:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = HELLO


class Json:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = JSON_MESSAGE


class Param:
    def __init__(self, route: int) -> None:
        self.route = route

    def on_get(self, req: falcon.Request, resp: falcon.Response, item_id: int) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = param_text(self.route, item_id)


class Echo:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = req.get_media()


class Template:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = _TEMPLATE.render(TEMPLATE_CONTEXT)


class Args:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = _args(req)


class AsyncHello:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = HELLO


class AsyncJson:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = JSON_MESSAGE


class AsyncParam:
    def __init__(self, route: int) -> None:
        self.route = route

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, item_id: int
    ) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = param_text(self.route, item_id)


class AsyncEcho:
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = await req.get_media()


class AsyncTemplate:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = _TEMPLATE.render(TEMPLATE_CONTEXT)


class AsyncArgs:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = _args(req)


def build(app: Any, hello: Any, json_: Any, param: Any, echo: Any, template: Any, args: Any) -> Any:
    app.add_route("/", hello())
    app.add_route("/json", json_())
    for n in range(ROUTE_COUNT):
        app.add_route(f"/route{n}/{{item_id:int}}", param(n))
    app.add_route("/echo", echo())
    app.add_route("/template", template())
    app.add_route("/args", args())
    return app


wsgi_app = build(falcon.App(), Hello, Json, Param, Echo, Template, Args)
asgi_app = build(
    falcon.asgi.App(), AsyncHello, AsyncJson, AsyncParam, AsyncEcho, AsyncTemplate, AsyncArgs
)


def cases() -> list[AppCase]:
    return [
        AppCase("falcon", "wsgi", "def", wsgi_app),
        AppCase("falcon", "asgi", "async", asgi_app),
    ]
