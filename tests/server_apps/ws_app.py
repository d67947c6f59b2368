"""The app the real-server websocket tests serve: ``tests.server_apps.ws_app:app``.

Echo handlers of both kinds (``/echo`` async, ``/echo-sync`` def), JSON, a guarded
route (``before_websocket`` rejects without ``?token``), a handler that fails after
accepting, a small message limit (64 KiB), tickers that only send (and report, over
HTTP, the close code they saw when their client left), and a chat room whose async
handlers broadcast to each other through per-member asyncio queues.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import cast

from ambi import Ambi, SyncWebsocket, WebSocketDisconnect, abort, websocket

app = Ambi(__name__)
app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 64 * 1024

#: room -> the inboxes of its members (only touched on the event loop).
ROOMS: dict[str, set[asyncio.Queue[str]]] = {}
#: ticker id -> the close code its handler saw when the client left.
TICKERS: dict[str, int] = {}


@app.get("/text")
def text() -> str:
    return "ok"


@app.before_websocket
def guard() -> None:
    if websocket.path.startswith("/guarded") and "token" not in websocket.args:
        abort(403, "A token is needed.")


@app.websocket("/echo/<room>")
async def echo(room: str) -> None:
    async for message in websocket:
        if message == "thread?":
            await websocket.send(threading.current_thread().name)
        elif isinstance(message, str):
            await websocket.send(f"{room}: {message}")
        else:
            await websocket.send(message)


@app.websocket("/echo-sync/<int:number>")
def echo_sync(number: int) -> None:
    ws = cast(SyncWebsocket, websocket)
    for message in ws:
        if message == "thread?":
            ws.send(threading.current_thread().name)
        elif isinstance(message, str):
            ws.send(f"{number}: {message}")
        else:
            ws.send(message)


@app.websocket("/json")
async def json_echo() -> None:
    while True:
        data = await websocket.receive_json()
        await websocket.send_json({"got": data})


@app.websocket("/guarded")
async def guarded() -> None:
    await websocket.send("welcome")


@app.websocket("/boom")
async def boom() -> None:
    await websocket.send("about to fail")
    raise RuntimeError("the handler failed on purpose")


@app.websocket("/ticker")
async def ticker() -> None:
    """Only sends: it learns of the disconnect from ``send()``."""
    try:
        while True:
            await websocket.send("tick")
            await asyncio.sleep(0.01)
    except WebSocketDisconnect as exc:
        TICKERS[websocket.args["id"]] = exc.code


@app.websocket("/ticker-sync")
def ticker_sync() -> None:
    try:
        while True:
            websocket.send("tick")
            time.sleep(0.01)
    except WebSocketDisconnect as exc:
        TICKERS[websocket.args["id"]] = exc.code


@app.get("/ticker-report/<ticker_id>")
def ticker_report(ticker_id: str) -> dict[str, int | None]:
    return {"code": TICKERS.get(ticker_id)}


@app.websocket("/chat/<room>")
async def chat(room: str) -> None:
    inbox: asyncio.Queue[str] = asyncio.Queue()
    members = ROOMS.setdefault(room, set())
    await websocket.accept()
    members.add(inbox)
    await websocket.send(f"joined {len(members)}")

    async def deliver() -> None:
        while True:
            await websocket.send(await inbox.get())

    delivery = asyncio.create_task(deliver())
    try:
        async for message in websocket:
            for member in members:
                member.put_nowait(f"{websocket.args.get('name', '?')}: {message}")
    finally:
        members.discard(inbox)
        delivery.cancel()
