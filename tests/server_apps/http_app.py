"""The app the real-server HTTP-surface tests serve: ``tests.server_apps.http_app:app``.

Request bodies, forms and uploads, bad input against low limits, streaming teardown
and the 200 MB upload used by the memory test. Every behaviour has a ``def`` and an
``async def`` variant (the ``-async`` path).

Limits are deliberately low in the config, so the limit tests need small bodies; a
``before_request`` hook raises ``request.max_content_length`` for the routes that take
large bodies (Flask 3.1's per-request override).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ambi import Ambi, Response, g, request

app = Ambi(__name__)
app.config.update(
    MAX_CONTENT_LENGTH=64 * 1024,
    MAX_FORM_MEMORY_SIZE=4096,
    MAX_FORM_PARTS=8,
)

#: Per-path body limits set by the ``before_request`` hook.
RAISED_LIMITS = {
    "/stream-in": 8 * 1024 * 1024,
    "/stream-in-async": 8 * 1024 * 1024,
    "/upload": 300 * 1024 * 1024,
    "/upload-async": 300 * 1024 * 1024,
}

#: The endless stream: chunk count and pause (about 100 s if nobody stops it).
ENDLESS_CHUNKS = 10_000
ENDLESS_PAUSE = 0.01

#: What the streaming routes saw, keyed by the request id query arg (see ``/report``).
RECORDS: dict[str, dict[str, Any]] = {}
_RECORDS_LOCK = threading.Lock()


def _record(rid: str, event: str, **values: Any) -> None:
    with _RECORDS_LOCK:
        entry = RECORDS.setdefault(rid, {"events": [], "counts": {}, "seen": {}})
        entry["events"].append(event)
        entry["counts"][event] = entry["counts"].get(event, 0) + 1
        entry["seen"].update(values)


def _memory() -> dict[str, Any]:
    """This process's pid and its peak and current resident set size, in KiB."""
    figures: dict[str, Any] = {"pid": os.getpid()}
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                figures[key] = int(value.split()[0])
    return figures


@app.before_request
def raise_limits() -> None:
    limit = RAISED_LIMITS.get(request.path)
    if limit is not None:
        request.max_content_length = limit


@app.teardown_request
def record_teardown(error: BaseException | None) -> None:
    rid = request.args.get("id")
    if rid and request.path.startswith("/endless"):
        _record(rid, "teardown", teardown_error=repr(error) if error else None)


@app.get("/text")
def text() -> str:
    return "hello from def"


@app.get("/ok-async")
async def ok_async() -> str:
    await asyncio.sleep(0)
    return "ok"


# -- bodies ---------------------------------------------------------------------------------


def _describe_form() -> dict[str, Any]:
    files = {}
    for name, storage in request.files.items(multi=True):
        data = storage.read()
        files[name] = {
            "filename": storage.filename,
            "content_type": storage.content_type,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return {
        "form": request.form.to_dict(flat=False),
        "values": request.values.to_dict(flat=False),
        "files": files,
    }


@app.post("/form")
def form_def() -> dict[str, Any]:
    return {"kind": "def", **_describe_form()}


@app.post("/form-async")
async def form_async() -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"kind": "async", **_describe_form()}


def _describe_json() -> dict[str, Any]:
    return {"json": request.get_json(), "data": request.get_data(as_text=True)}


@app.post("/json")
def json_def() -> dict[str, Any]:
    return {"kind": "def", **_describe_json()}


@app.post("/json-async")
async def json_async() -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"kind": "async", **_describe_json()}


def _describe_data() -> dict[str, Any]:
    data = request.get_data()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@app.post("/data")
def data_def() -> dict[str, Any]:
    return {"kind": "def", **_describe_data()}


@app.post("/data-async")
async def data_async() -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"kind": "async", **_describe_data()}


@app.post("/stream-in", stream_request=True)
def stream_in_def() -> dict[str, Any]:
    chunks = list(request.stream)
    body = b"".join(chunks)
    return {
        "kind": "def",
        "chunks": len(chunks),
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "data_after": len(request.get_data()),
    }


@app.post("/stream-in-async", stream_request=True)
async def stream_in_async() -> dict[str, Any]:
    digest = hashlib.sha256()
    count = size = 0
    async for chunk in request.stream:
        digest.update(chunk)
        count += 1
        size += len(chunk)
    return {
        "kind": "async",
        "chunks": count,
        "size": size,
        "sha256": digest.hexdigest(),
        "data_after": len(request.get_data()),
    }


# -- large uploads (the memory test) --------------------------------------------------------


def _save_and_hash() -> dict[str, Any]:
    storage = request.files["file"]
    with tempfile.TemporaryDirectory(prefix="ambi-upload-") as directory:
        target = os.path.join(directory, "upload.bin")
        storage.save(target)
        digest = hashlib.sha256()
        size = 0
        with open(target, "rb") as saved:
            while block := saved.read(1024 * 1024):
                digest.update(block)
                size += len(block)
    return {
        "filename": storage.filename,
        "fields": request.form.to_dict(),
        "size": size,
        "sha256": digest.hexdigest(),
        **_memory(),
    }


@app.post("/upload")
def upload_def() -> dict[str, Any]:
    return {"kind": "def", **_save_and_hash()}


@app.post("/upload-async")
async def upload_async() -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"kind": "async", **_save_and_hash()}


@app.get("/memory")
def memory() -> dict[str, Any]:
    return _memory()


# -- streaming teardown ---------------------------------------------------------------------


@app.get("/endless")
def endless_def() -> Response:
    rid = request.args["id"]
    count = int(request.args.get("n", ENDLESS_CHUNKS))
    g.rid = rid
    _record(rid, "view")

    def generate() -> Iterator[str]:
        try:
            # No stream_with_context: the request context is still there.
            _record(rid, "generator-start", g_rid=g.rid, path=request.path)
            for number in range(count):
                if number:
                    time.sleep(ENDLESS_PAUSE)
                yield f"{g.rid}:{number}\n"
            _record(rid, "generator-end")
        finally:
            _record(rid, "finally")

    return Response(generate(), mimetype="text/plain")


@app.get("/endless-async")
async def endless_async() -> Response:
    rid = request.args["id"]
    count = int(request.args.get("n", ENDLESS_CHUNKS))
    g.rid = rid
    _record(rid, "view")

    async def generate() -> AsyncIterator[str]:
        try:
            _record(rid, "generator-start", g_rid=g.rid, path=request.path)
            for number in range(count):
                if number:
                    await asyncio.sleep(ENDLESS_PAUSE)
                yield f"{g.rid}:{number}\n"
            _record(rid, "generator-end")
        finally:
            _record(rid, "finally")

    return Response(generate(), mimetype="text/plain")


@app.get("/report")
def report() -> dict[str, Any]:
    with _RECORDS_LOCK:
        entry = RECORDS.get(request.args["id"])
        return {"recorded": entry is not None, **(entry or {})}
