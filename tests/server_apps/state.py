"""What the reliability tests ask a serving process about itself (``/debug/state``).

Threads: ``threading.active_count()``, the thread names, the OS's count
(``/proc/self/task``), and the *busy* ones: threads other than the one answering that are
running Ambi's or the app's code (a request), found on their stacks. asyncio tasks: under
ASGI, those of the server's event loop; under WSGI, those of every worker thread's
persistent loop (Ambi's ``async def`` views run there) — in both cases not counting the
task answering.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import Any

from ambi import _drivers

# Code whose frames on a thread's stack mean that the thread serves a request.
_REQUEST_CODE = (str(Path(_drivers.__file__).parent), str(Path(__file__).parent))
# The loop of Ambi's worker threads (ASGI + def): a thread with nothing above it (waiting
# for its next job, or handing a result back to the event loop) is idle.
_WORKER_LOOP = {_drivers._Worker._run.__code__, _drivers._Worker._serve.__code__}


def busy_threads() -> list[str]:
    """The names of the threads (except this one) with a frame of Ambi or the app on their
    stack."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    me = threading.get_ident()
    busy = []
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        current: Any = frame
        while current is not None:
            code = current.f_code
            if code not in _WORKER_LOOP and code.co_filename.startswith(_REQUEST_CODE):
                busy.append(names.get(ident, str(ident)))
                break
            current = current.f_back
    return sorted(busy)


def _thread_loop_tasks() -> int:
    """Unfinished tasks on the WSGI worker threads' persistent loops, except this one."""
    current = asyncio.current_task()
    total = 0
    # A private registry of Ambi's; a test app may look (the threads are idle but this one).
    for holder in list(_drivers._live_loops):
        loop = holder.loop
        if loop.is_closed():
            continue
        total += sum(1 for task in asyncio.all_tasks(loop) if task is not current)
    return total


def process_state() -> dict[str, Any]:
    """This process's pid, threads and asyncio tasks (see the module docstring)."""
    names = sorted(thread.name for thread in threading.enumerate())
    state: dict[str, Any] = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "threads": threading.active_count(),
        "thread_names": names,
        "os_threads": len(os.listdir("/proc/self/task")),
        "busy_threads": busy_threads(),
    }
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and loop is _thread_loop_of_this_thread():
        state["tasks"] = _thread_loop_tasks()
        state["loop"] = "per-thread loops (WSGI)"
    elif loop is not None:
        state["tasks"] = len(asyncio.all_tasks()) - 1
        state["loop"] = "server loop (ASGI)"
    else:
        state["tasks"] = _thread_loop_tasks()
        state["loop"] = "per-thread loops (WSGI)"
    return state


def _thread_loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    holder = getattr(_drivers._thread_state, "holder", None)
    return holder.loop if holder is not None else None
