"""The app the real-server tests serve: ``tests.server_apps.app:app``.

One ``Ambi`` object, served unchanged by uvicorn, hypercorn and granian (ASGI) and by
gunicorn and granian (WSGI). Every behaviour has a ``def`` and an ``async def`` variant.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ambi import Ambi, g, request

app = Ambi(__name__)

CHUNKS = 5
CHUNK_PAUSE = 0.3
G_PAUSE = 0.2
SLOW_PAUSE = 0.5


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _where() -> dict[str, Any]:
    return {
        "interface": request.connection.interface,
        "asgi_scope": request.environ.get("asgi.scope") is not None,
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "loop_running": _loop_running(),
    }


@app.get("/text")
def text_def() -> str:
    return "hello from def"


@app.get("/text-async")
async def text_async() -> str:
    await asyncio.sleep(0)
    return "hello from async def"


@app.post("/echo")
def echo_def() -> dict[str, Any]:
    return {"kind": "def", "got": request.get_json()}


@app.post("/echo-async")
async def echo_async() -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"kind": "async", "got": request.get_json()}


@app.get("/stream")
def stream_def() -> Iterator[str]:
    def generate() -> Iterator[str]:
        for number in range(CHUNKS):
            if number:
                time.sleep(CHUNK_PAUSE)
            yield f"sync-{number}\n"

    return generate()


@app.get("/stream-async")
async def stream_async() -> AsyncIterator[bytes]:
    async def generate() -> AsyncIterator[bytes]:
        for number in range(CHUNKS):
            if number:
                await asyncio.sleep(CHUNK_PAUSE)
            yield f"async-{number}\n".encode()

    return generate()


@app.get("/g")
def g_def() -> dict[str, Any]:
    g.value = request.args["value"]
    time.sleep(G_PAUSE)
    return {"value": g.value, "arg": request.args["value"]}


@app.get("/g-async")
async def g_async() -> dict[str, Any]:
    g.value = request.args["value"]
    await asyncio.sleep(G_PAUSE)
    return {"value": g.value, "arg": request.args["value"]}


@app.get("/slow")
def slow_def() -> dict[str, Any]:
    start = time.time()
    time.sleep(SLOW_PAUSE)
    return {"start": start, "end": time.time(), **_where()}


@app.get("/slow-async")
async def slow_async() -> dict[str, Any]:
    start = time.time()
    await asyncio.sleep(SLOW_PAUSE)
    return {"start": start, "end": time.time(), **_where()}


@app.get("/where")
def where_def() -> dict[str, Any]:
    return _where()


@app.get("/where-async")
async def where_async() -> dict[str, Any]:
    return _where()
