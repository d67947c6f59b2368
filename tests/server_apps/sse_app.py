"""The app the real-server server-sent events tests serve: ``tests.server_apps.sse_app:app``.

``/events/sync`` (a ``def`` view returning a sync generator) and ``/events/async`` (an
``async def`` view returning an async generator) stream the same events:

1. ``{"n": 0, ...}`` at once, with what the generator sees of the request context;
2. then nothing until the test calls ``/release?id=...`` (bounded by ``HOLD``): the
   generator is quiet, only ``: ping`` comments (every ``PING`` seconds) go out;
3. then ``{"n": 1}``, ``{"n": 2}``, … every ``PAUSE`` seconds, up to ``MORE`` of them.

What the view, the generator and the teardown did is recorded per ``?id=`` and read back
with ``/report?id=...`` (the servers run one worker process).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ambi import Ambi, ServerSentEvent, g, request, sse

app = Ambi(__name__)

PING = 0.1
PAUSE = 0.05
HOLD = 10.0
MORE = 600  # about 30 s of events at most if nobody disconnects

RECORDS: dict[str, dict[str, Any]] = {}
RELEASED: set[str] = set()
_LOCK = threading.Lock()


def _record(rid: str, event: str, **seen: Any) -> None:
    with _LOCK:
        entry = RECORDS.setdefault(rid, {"events": [], "seen": {}})
        entry["events"].append(event)
        entry["seen"].update(seen)


def _released(rid: str) -> bool:
    with _LOCK:
        return rid in RELEASED


def _first_event(rid: str) -> ServerSentEvent:
    seen = {"g": g.rid, "path": request.path, "last_event_id": request.headers.get("Last-Event-ID")}
    _record(rid, "generator-start", **seen)
    return ServerSentEvent({"n": 0, **seen}, id="0")


@app.get("/text")
def text() -> str:
    return "sse app"


@app.get("/events/sync")
def events_sync() -> Any:
    rid = g.rid = request.args["id"]
    _record(rid, "view")

    def events() -> Iterator[Any]:
        try:
            yield _first_event(rid)
            deadline = time.monotonic() + HOLD
            while not _released(rid) and time.monotonic() < deadline:
                time.sleep(0.01)
            for number in range(1, MORE + 1):
                yield ServerSentEvent({"n": number}, id=str(number))
                time.sleep(PAUSE)
            _record(rid, "generator-end")
        finally:
            _record(rid, "finally")

    return sse(events(), ping_interval=PING)


@app.get("/events/async")
async def events_async() -> Any:
    rid = g.rid = request.args["id"]
    _record(rid, "view")

    async def events() -> AsyncIterator[Any]:
        try:
            yield _first_event(rid)
            deadline = time.monotonic() + HOLD
            # Released by a def view in another thread: polled, not an asyncio.Event.
            while not _released(rid) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            for number in range(1, MORE + 1):
                yield ServerSentEvent({"n": number}, id=str(number))
                await asyncio.sleep(PAUSE)
            _record(rid, "generator-end")
        finally:
            _record(rid, "finally")

    return sse(events(), ping_interval=PING)


@app.teardown_request
def record_teardown(error: BaseException | None) -> None:
    rid = request.args.get("id")
    if rid and request.path.startswith("/events/"):
        _record(rid, "teardown", teardown_error=repr(error) if error else None)


@app.post("/release")
def release() -> str:
    with _LOCK:
        RELEASED.add(request.args["id"])
    return "released"


@app.get("/report")
def report() -> dict[str, Any]:
    with _LOCK:
        entry = RECORDS.get(request.args["id"])
        return {"recorded": entry is not None, **(entry or {"events": [], "seen": {}})}
