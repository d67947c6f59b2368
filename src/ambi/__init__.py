"""Ambi: Flask's API on WSGI and ASGI at once.

One app object runs unchanged under a WSGI server (``gunicorn app:app``) and an ASGI
server (``uvicorn app:app``); ``def`` and ``async def`` views, hooks and error handlers
mix freely, each run on its native path.
"""

from __future__ import annotations

from .app import App
from .blueprints import Blueprint
from .config import Config
from .ctx import AppContext, RequestContext
from .exceptions import HTTPException, abort
from .flashing import flash, get_flashed_messages
from .globals import current_app, g, request, session, websocket
from .helpers import after_this_request, make_response, redirect, stream_with_context, url_for
from .json import jsonify
from .scaffold import inline
from .sendfile import send_file, send_from_directory
from .serving import Ambi
from .sse import EventStream, ServerSentEvent, sse
from .templating import (
    render_template,
    render_template_string,
    stream_template,
    stream_template_string,
)
from .websocket import SyncWebsocket, Websocket, WebSocketDisconnect
from .wrappers import Request, Response

__version__ = "0.1.0.dev0"

__all__ = [
    "Ambi",
    "App",
    "AppContext",
    "Blueprint",
    "Config",
    "EventStream",
    "HTTPException",
    "Request",
    "RequestContext",
    "Response",
    "ServerSentEvent",
    "SyncWebsocket",
    "WebSocketDisconnect",
    "Websocket",
    "abort",
    "after_this_request",
    "current_app",
    "flash",
    "g",
    "get_flashed_messages",
    "inline",
    "jsonify",
    "make_response",
    "redirect",
    "render_template",
    "render_template_string",
    "request",
    "send_file",
    "send_from_directory",
    "session",
    "sse",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "url_for",
    "websocket",
]
