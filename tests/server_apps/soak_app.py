"""The app of the load and soak test: ``tests.server_apps.soak_app:app``.

A mix of routes, each in a ``def`` and an ``async def`` variant (the ``-async`` path),
whose answers the load generator (``tests/_loadgen.py``) checks byte for byte:

* ``GET /text``: a short text naming the view's kind;
* ``POST /json``: the JSON body parsed and serialized again (``jsonify`` is compact, with
  sorted keys and ASCII escapes, so a body sent that way comes back unchanged);
* ``POST /upload``: a multipart form (a field and a file), answered with the field, the
  file's size and its sha256;
* ``GET /stream?seed=…&n=…``: ``n`` chunks from a generator (a sync one for the ``def``
  view, an async one for the ``async def`` view), each derived from ``seed``.

Every request is counted when it starts (``before_request``) and when it is torn down
(``teardown_request``); ``GET /debug/state`` answers with both counts and the process's
threads and asyncio tasks (``state.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ambi import Ambi, Response, jsonify, request

from .state import process_state

app = Ambi(__name__)

_COUNTS = {"started": 0, "torn_down": 0}
_COUNTS_LOCK = threading.Lock()


def stream_chunk(seed: str, number: int) -> bytes:
    """Chunk ``number`` of the stream for ``seed`` (the load generator builds the same)."""
    return f"{seed}:{number}:{'x' * (number % 7) * 16}\n".encode()


@app.before_request
def count_start() -> None:
    with _COUNTS_LOCK:
        _COUNTS["started"] += 1


@app.teardown_request
def count_teardown(error: BaseException | None) -> None:
    with _COUNTS_LOCK:
        _COUNTS["torn_down"] += 1


@app.get("/debug/state")
async def debug_state() -> dict[str, Any]:
    with _COUNTS_LOCK:
        counts = dict(_COUNTS)
    return {**process_state(), **counts}


@app.get("/text")
def text() -> str:
    return "text from def"


@app.get("/text-async")
async def text_async() -> str:
    return "text from async def"


@app.post("/json")
def json_echo() -> Response:
    return jsonify(request.get_json())


@app.post("/json-async")
async def json_echo_async() -> Response:
    await asyncio.sleep(0)
    return jsonify(request.get_json())


def _describe_upload() -> dict[str, Any]:
    data = request.files["file"].read()
    return {
        "note": request.form["note"],
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@app.post("/upload")
def upload() -> dict[str, Any]:
    return _describe_upload()


@app.post("/upload-async")
async def upload_async() -> dict[str, Any]:
    return _describe_upload()


@app.get("/stream")
def stream() -> Response:
    seed, count = request.args["seed"], int(request.args["n"])

    def generate() -> Iterator[bytes]:
        for number in range(count):
            yield stream_chunk(seed, number)

    return Response(generate(), content_type="text/plain")


@app.get("/stream-async")
async def stream_async() -> Response:
    seed, count = request.args["seed"], int(request.args["n"])

    async def generate() -> AsyncIterator[bytes]:
        for number in range(count):
            yield stream_chunk(seed, number)
            if number % 4 == 3:
                await asyncio.sleep(0)

    return Response(generate(), content_type="text/plain")
