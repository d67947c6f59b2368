"""The status page: is the notes API up, and the services in ``STATUS_CHECKS``?

An ``async def`` view, because it waits on the network: it sends all the checks at once
with ``httpx.AsyncClient`` and ``asyncio.gather``, so the page takes as long as the slowest
check (at most the 2 s timeout), not the sum of them. Under uvicorn the view is awaited on
the server's event loop; under gunicorn it runs on the worker thread's own loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from ambi import Blueprint, current_app, render_template, url_for

from .auth import login_required

bp = Blueprint("status", __name__)

CHECK_TIMEOUT = 2.0  # seconds, for each check


@dataclass(frozen=True)
class CheckResult:
    name: str
    url: str
    up: bool
    detail: str  # "HTTP 200", or the error: "ConnectError", "ReadTimeout"...
    milliseconds: float

    @property
    def state(self) -> str:
        return "up" if self.up else "down"


async def check(client: httpx.AsyncClient, name: str, url: str) -> CheckResult:
    """GET ``url``: the service is up if it answers with a 2xx status."""
    started = time.perf_counter()
    try:
        response = await client.get(url)
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        up, detail = False, type(error).__name__
    else:
        up, detail = response.is_success, f"HTTP {response.status_code}"
    milliseconds = (time.perf_counter() - started) * 1000
    return CheckResult(name, url, up, detail, milliseconds)


@bp.get("/status")
@login_required
async def index() -> str:
    services = {
        "Notes API": url_for("api.health", _external=True),
        **current_app.config["STATUS_CHECKS"],
    }
    # A client per request: it belongs to the event loop that runs this request, which
    # under gunicorn is one loop per worker thread.
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:
        results = await asyncio.gather(
            *(check(client, name, url) for name, url in services.items())
        )
    return render_template("status.html", results=results)
