"""Falcon: a WSGI app (``def`` responders) and an ASGI app (``async def`` responders)."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from .common import HELLO, JSON_MESSAGE, ROUTE_COUNT, AppCase, param_text

__all__ = ["asgi_app", "cases", "wsgi_app"]


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


def build(app: Any, hello: Any, json_: Any, param: Any, echo: Any) -> Any:
    app.add_route("/", hello())
    app.add_route("/json", json_())
    for n in range(ROUTE_COUNT):
        app.add_route(f"/route{n}/{{item_id:int}}", param(n))
    app.add_route("/echo", echo())
    return app


wsgi_app = build(falcon.App(), Hello, Json, Param, Echo)
asgi_app = build(falcon.asgi.App(), AsyncHello, AsyncJson, AsyncParam, AsyncEcho)


def cases() -> list[AppCase]:
    return [
        AppCase("falcon", "wsgi", "def", wsgi_app),
        AppCase("falcon", "asgi", "async", asgi_app),
    ]
