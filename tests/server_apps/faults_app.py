"""The app of the client-fault and cancellation tests: ``tests.server_apps.faults_app:app``.

Every request that carries an ``id`` query argument is recorded: ``start`` (a
``before_request`` hook), what its view and body generator did, and ``teardown`` (with
the error the teardown hook was given), so a test can check that the teardown ran exactly
once per request, whatever the client did. ``GET /records?of=…`` answers with the record;
``GET /debug/state`` with the serving process's thread and asyncio task counts
(``state.py``).

Views come in ``def`` and ``async def`` pairs (the ``-async`` path), except where the
kind is the point (``/sleep-async``, ``/event-async`` and ``/sleep-def`` for cancellation).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ambi import Ambi, Blueprint, Response, request

from .state import process_state

app = Ambi(__name__)
app.config.update(MAX_CONTENT_LENGTH=64 * 1024 * 1024)

#: What happened to each request with an ``id`` argument, keyed by that id.
RECORDS: dict[str, dict[str, Any]] = {}
_RECORDS_LOCK = threading.Lock()

#: The size of the large, non-streamed response of ``/big`` (more than any socket buffers).
BIG_SIZE = 32 * 1024 * 1024
_BIG = bytes(range(256)) * (BIG_SIZE // 256)

#: Chunks of the long streams (``/stream``): about 100 s unless the client leaves.
STREAM_CHUNKS = 10_000
STREAM_PAUSE = 0.01


def record(rid: str | None, event: str, **values: Any) -> None:
    """Append ``event`` to request ``rid``'s record (no-op without an id)."""
    if not rid:
        return
    with _RECORDS_LOCK:
        entry = RECORDS.setdefault(rid, {"events": [], "values": {}})
        entry["events"].append(event)
        entry["values"].update(values)


@app.before_request
def record_start() -> None:
    record(request.args.get("id"), "start")


@app.teardown_request
def record_teardown(error: BaseException | None) -> None:
    record(
        request.args.get("id"),
        "teardown",
        teardown_error=type(error).__name__ if error is not None else None,
    )


@app.get("/text")
def text() -> str:
    return "ok"


@app.get("/records")
async def records() -> dict[str, Any]:  # async: polling it takes no worker thread
    with _RECORDS_LOCK:
        entry = RECORDS.get(request.args["of"], {"events": [], "values": {}})
        return {"events": list(entry["events"]), "values": dict(entry["values"])}


@app.get("/debug/state")
async def debug_state() -> dict[str, Any]:
    return process_state()


# -- uploads --------------------------------------------------------------------------------


def _describe_upload() -> dict[str, Any]:
    storage = request.files["file"]
    data = storage.read()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@app.post("/upload")
def upload() -> dict[str, Any]:
    try:
        answer = _describe_upload()
    except BaseException as exc:
        record(request.args.get("id"), "view-error", view_error=type(exc).__name__)
        raise
    record(request.args.get("id"), "view-done")
    return answer


@app.post("/upload-async")
async def upload_async() -> dict[str, Any]:
    try:
        answer = _describe_upload()
    except BaseException as exc:
        record(request.args.get("id"), "view-error", view_error=type(exc).__name__)
        raise
    record(request.args.get("id"), "view-done")
    return answer


@app.post("/echo")
def echo() -> Response:
    return Response(request.get_data(), content_type="application/octet-stream")


@app.post("/echo-async")
async def echo_async() -> Response:
    return Response(request.get_data(), content_type="application/octet-stream")


# -- large and streamed responses ---------------------------------------------------------


@app.get("/big")
def big() -> Response:
    record(request.args.get("id"), "view-done")
    return Response(_BIG, content_type="application/octet-stream")


@app.get("/big-async")
async def big_async() -> Response:
    record(request.args.get("id"), "view-done")
    return Response(_BIG, content_type="application/octet-stream")


def _chunk(rid: str, number: int) -> bytes:
    return f"{rid}:{number}\n".encode()


@app.get("/stream")
def stream() -> Response:
    rid = request.args["id"]

    def generate() -> Iterator[bytes]:
        record(rid, "generator-start")
        try:
            for number in range(STREAM_CHUNKS):
                yield _chunk(rid, number)
                time.sleep(STREAM_PAUSE)
            record(rid, "generator-end")
        finally:
            record(rid, "finally")

    return Response(generate(), content_type="text/plain")


@app.get("/stream-async")
async def stream_async() -> Response:
    rid = request.args["id"]

    async def generate() -> AsyncIterator[bytes]:
        record(rid, "generator-start")
        try:
            for number in range(STREAM_CHUNKS):
                yield _chunk(rid, number)
                await asyncio.sleep(STREAM_PAUSE)
            record(rid, "generator-end")
        finally:
            record(rid, "finally")

    return Response(generate(), content_type="text/plain")


# -- long views (cancellation) ------------------------------------------------------------


@app.get("/sleep-async")
async def sleep_async() -> str:
    rid = request.args.get("id")
    seconds = float(request.args.get("s", "30"))
    record(rid, "view-start")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        record(rid, "cancelled")
        raise
    finally:
        record(rid, "finally")
    record(rid, "view-done")
    return f"slept {seconds}"


@app.get("/event-async")
async def event_async() -> str:
    rid = request.args.get("id")
    record(rid, "view-start")
    try:
        await asyncio.Event().wait()
    finally:
        record(rid, "finally")
    return "unreachable"


@app.get("/sleep-def")
def sleep_def() -> str:
    rid = request.args.get("id")
    seconds = float(request.args.get("s", "2"))
    record(rid, "view-start", thread=threading.get_ident())
    time.sleep(seconds)
    record(rid, "view-done")
    return f"slept {seconds}"


@app.get("/thread")
def thread() -> dict[str, int]:
    """The worker thread a ``def`` view runs on (anyio reuses the last one that became
    idle first)."""
    return {"thread": threading.get_ident()}


# A blueprint of its own, so that its async hooks apply to /mixed alone.
mixed_views = Blueprint("mixed", __name__)


@mixed_views.before_request
async def before_mixed() -> None:
    # An async callable before the view: the request is watched for a disconnect from
    # here on, also while its def view holds a thread.
    record(request.args.get("id"), "before")


@mixed_views.get("/mixed")
def mixed() -> str:
    """A ``def`` view between ``async def`` hooks (:func:`before_mixed`,
    :func:`after_mixed`): a disconnect while the view holds its thread cancels nothing
    until the thread returned; then the after hook is cancelled."""
    rid = request.args.get("id")
    seconds = float(request.args.get("s", "2"))
    record(rid, "view-start")
    time.sleep(seconds)
    record(rid, "view-done")
    return "mixed"


@mixed_views.after_request
async def after_mixed(response: Response) -> Response:
    rid = request.args.get("id")
    record(rid, "after-start")
    try:
        await asyncio.sleep(float(request.args.get("after", "0")))
    finally:
        record(rid, "after-finally")
    return response


app.register_blueprint(mixed_views)
