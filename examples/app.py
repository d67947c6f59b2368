"""The example app the README serves: def and async def views side by side.

uvicorn examples.app:app        # ASGI
gunicorn examples.app:app       # WSGI, the same object
"""

from __future__ import annotations

import asyncio

from ambi import Ambi, abort, g, jsonify, request, url_for

app = Ambi(__name__)

ITEMS: dict[int, dict[str, object]] = {}


@app.before_request
def start_timer() -> None:
    g.user = request.headers.get("X-User", "anonymous")


@app.get("/")
def index() -> str:
    return f"hello, {g.user}! Try {url_for('user', user_id=42, q='x')}\n"


@app.get("/users/<int:user_id>")
async def user(user_id: int) -> dict[str, object]:
    await asyncio.sleep(0)  # an async view: awaited directly under uvicorn
    return {"id": user_id, "q": request.args.get("q")}


@app.post("/items")
def create() -> tuple[object, int]:
    payload = request.get_json()
    if not isinstance(payload, dict) or "name" not in payload:
        abort(400, "Send a JSON object with a 'name'.")
    item_id = len(ITEMS) + 1
    ITEMS[item_id] = payload
    return jsonify(id=item_id, created=payload), 201


@app.get("/count/<int:upto>")
async def count(upto: int) -> object:
    async def numbers():  # type: ignore[no-untyped-def]
        for number in range(min(upto, 100)):
            yield f"{number}\n"
            await asyncio.sleep(0.01)

    return numbers()
