"""Apps for the lifespan and background-task tests under real servers.

``app`` records its lifecycle as marker files in ``$AMBI_LIFESPAN_MARKERS`` (a folder the
test creates): the lifespan context manager, the ``before_serving`` and ``after_serving``
functions and the background tasks each write one, so the test can check, after the
server exited, what ran and in which order. ``failing_app``'s startup raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ambi import Ambi, current_app, g, request

STARTUP_ERROR = "database unreachable (lifespan test)"


def mark(name: str, text: str = "") -> None:
    """Write the marker file ``name`` (nothing when no marker folder is set)."""
    folder = os.environ.get("AMBI_LIFESPAN_MARKERS")
    if folder:
        Path(folder, name).write_text(text)


def markers() -> list[str]:
    folder = os.environ.get("AMBI_LIFESPAN_MARKERS")
    return sorted(os.listdir(folder)) if folder else []


@contextlib.asynccontextmanager
async def lifespan(app: Ambi) -> AsyncIterator[None]:
    mark("1-lifespan-enter")
    yield
    mark("9-lifespan-exit", ",".join(markers()))


app = Ambi(__name__, lifespan=lifespan)
app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = float(
    os.environ.get("AMBI_LIFESPAN_TIMEOUT", "20")
)

# name -> (release event, state)
_tasks: dict[str, tuple[threading.Event, dict[str, Any]]] = {}


@app.before_serving
def open_resources() -> None:
    g.opened_by = "open_resources"
    app.extensions["started"] = {"pid": os.getpid(), "thread": threading.get_ident()}
    mark("2-before-serving-def")


@app.before_serving
async def open_async_resources() -> None:
    assert g.opened_by == "open_resources"  # one app context for the whole startup
    app.extensions["startup_loop_id"] = id(asyncio.get_running_loop())
    mark("3-before-serving-async", current_app.name)


@app.after_serving
async def close_resources() -> None:
    mark("8-after-serving", ",".join(markers()))


@app.get("/text")
def text() -> str:
    return "hello"


@app.get("/state")
async def state() -> dict[str, Any]:
    started = app.extensions.get("started")
    return {
        "started": started is not None,
        "pid": os.getpid(),
        "startup_pid": started and started["pid"],
    }


async def _async_task(name: str, sleep: float) -> None:
    event, state = _tasks[name]
    state["path"] = request.path  # the request's context, copied
    try:
        if sleep:
            await asyncio.sleep(sleep)
        else:  # released by another request, maybe on another thread
            deadline = time.monotonic() + 30.0
            while not event.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # a threading.Event: it may be set from a thread
    except asyncio.CancelledError:
        mark(f"task-{name}-cancelled")
        raise
    state["done"] = True
    mark(f"task-{name}-done", state["path"])


def _def_task(name: str, sleep: float) -> None:
    event, state = _tasks[name]
    state["path"] = request.path
    if sleep:
        time.sleep(sleep)
    else:
        event.wait(30)
    state["done"] = True
    mark(f"task-{name}-done", state["path"])


@app.post("/tasks/<name>")
def start_task(name: str) -> dict[str, Any]:
    """Start a task that waits to be released (or ``?sleep=seconds``)."""
    _tasks[name] = (threading.Event(), {"done": False})
    sleep = float(request.args.get("sleep", "0"))
    kind = request.args.get("kind", "async")
    app.add_background_task(_async_task if kind == "async" else _def_task, name, sleep)
    return {"accepted": name}


@app.post("/tasks/<name>/release")
async def release_task(name: str) -> dict[str, Any]:
    _tasks[name][0].set()
    return {"released": name}


@app.get("/tasks/<name>")
async def task_state(name: str) -> dict[str, Any]:
    entry = _tasks.get(name)
    return {"known": entry is not None, **(entry[1] if entry else {})}


failing_app = Ambi(__name__)


@failing_app.before_serving
def connect_database() -> None:
    raise RuntimeError(STARTUP_ERROR)


@failing_app.get("/text")
def failing_text() -> str:
    return "never served"
