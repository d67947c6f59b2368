"""The thread hop: what one round trip from an event loop to a worker thread costs here,
and how much of it no framework can avoid.

    python benchmarks/hop.py [--quick] [--output FILE]

A ``def`` view under an ASGI server costs one hop per request (DESIGN.md's budget). Most of
that time is not the framework's: it is two thread wake-ups, which the machine's scheduler
decides. This script measures, side by side in one run, each as a round trip that runs a
function returning ``None`` in another thread and waits for it:

1. **threads**: two plain threads passing a token through two ``queue.SimpleQueue``: two
   wake-ups and the GIL handed over twice, the floor of any hop in CPython;
2. **threads + epoll**: the same, the answer coming back through a socket pair watched with
   ``epoll``, as ``loop.call_soon_threadsafe`` wakes an asyncio loop: the floor of a hop
   from an event loop;
3. **asyncio, least**: the least an asyncio hop can do: one thread fed through a queue,
   answering with ``loop.call_soon_threadsafe(future.set_result, ...)``;
4. **Ambi**: Ambi's hop (``ambi._drivers._run_in_worker``, what a ``def`` view under ASGI
   goes through), awaited on an asyncio loop;
5. **anyio**: ``anyio.to_thread.run_sync``, which Starlette's ``def`` endpoints use;
6. **executor**: ``loop.run_in_executor(None, ...)``, asyncio's default thread pool.

Rounds of each are interleaved (so a noisy moment hits all alike); the best and the median
round are reported in µs per round trip. Bounded: about 15 s, 5 s with ``--quick``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import queue
import select
import socket
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
from e2e import versions
from inprocess import _cpu, _table, publish

from ambi._drivers import _run_in_worker


def _nothing() -> None:
    return None


class _Threads:
    """A worker thread answering through a queue, or through a socket pair (``epoll``)."""

    def __init__(self, through_socket: bool) -> None:
        self.requests: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self.answers: queue.SimpleQueue[None] = queue.SimpleQueue()
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.poll = select.epoll()
        self.poll.register(self.reader.fileno(), select.EPOLLIN)
        self.through_socket = through_socket
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.requests.get():
            _nothing()
            if self.through_socket:
                self.writer.send(b"\0")
            else:
                self.answers.put(None)

    def round_trip(self) -> None:
        self.requests.put(True)
        if self.through_socket:
            self.poll.poll()
            self.reader.recv(64)
        else:
            self.answers.get()

    def close(self) -> None:
        self.requests.put(False)
        self.thread.join(5)
        self.poll.close()
        self.reader.close()
        self.writer.close()


class _LoopThread:
    """The least an asyncio hop can do: one worker thread fed through a queue, answering
    with ``loop.call_soon_threadsafe(future.set_result, ...)``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.jobs: queue.SimpleQueue[asyncio.Future[None] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while (future := self.jobs.get()) is not None:
            self.loop.call_soon_threadsafe(future.set_result, _nothing())

    def hop(self) -> asyncio.Future[None]:
        future = self.loop.create_future()
        self.jobs.put(future)
        return future

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(5)


def _sync_timer(threads: _Threads) -> Callable[[int], Awaitable[float]]:
    async def timed(n: int) -> float:
        round_trip = threads.round_trip
        start = time.perf_counter_ns()
        for _ in range(n):
            round_trip()
        return (time.perf_counter_ns() - start) / n / 1000

    return timed


def _async_timer(hop: Callable[[], Awaitable[object]]) -> Callable[[int], Awaitable[float]]:
    async def timed(n: int) -> float:
        start = time.perf_counter_ns()
        for _ in range(n):
            await hop()
        return (time.perf_counter_ns() - start) / n / 1000

    return timed


async def measure(rounds: int, per_round: int) -> dict[str, list[float]]:
    """µs per round trip of each mechanism, one entry per round."""
    loop = asyncio.get_running_loop()
    plain, via_socket = _Threads(through_socket=False), _Threads(through_socket=True)
    least = _LoopThread(loop)
    try:
        mechanisms: dict[str, Callable[[int], Awaitable[float]]] = {
            "threads": _sync_timer(plain),
            "threads + epoll": _sync_timer(via_socket),
            "asyncio, least": _async_timer(least.hop),
            "Ambi": _async_timer(lambda: _run_in_worker(_nothing, (), None)),
            "anyio": _async_timer(lambda: anyio.to_thread.run_sync(_nothing)),
            "executor": _async_timer(lambda: loop.run_in_executor(None, _nothing)),
        }
        for timed in mechanisms.values():  # warm-up: threads started, code specialised
            await timed(per_round // 4 or 1)
        samples: dict[str, list[float]] = {name: [] for name in mechanisms}
        for _ in range(rounds):
            for name, timed in mechanisms.items():
                samples[name].append(await timed(per_round))
        return samples
    finally:
        plain.close()
        via_socket.close()
        least.close()


def render(samples: dict[str, list[float]], rounds: int, per_round: int) -> str:
    floor = min(samples["threads + epoll"])
    rows = [
        [
            name,
            f"{min(values):.1f}",
            f"{statistics.median(values):.1f}",
            f"{min(values) - floor:+.1f}" if name not in ("threads", "threads + epoll") else "—",
        ]
        for name, values in samples.items()
    ]
    lines = [
        "# The thread hop",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/hop.py`;"
        f" {rounds} interleaved rounds of {per_round} round trips each.",
        "",
        f"- Machine: {_cpu()}, {len(os.sched_getaffinity(0))} CPUs,"
        f" {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; " + ", ".join(versions()),
        "",
        _table(
            ["mechanism", "best µs", "median µs", "best over threads + epoll"],
            rows,
            ["---", "--:", "--:", "--:"],
        ),
        "",
        "*threads*: two plain threads and two queues (two wake-ups, the GIL handed over"
        " twice): the floor of any hop in CPython. *threads + epoll*: the answer through a"
        " socket pair and epoll, as `call_soon_threadsafe` wakes an asyncio loop: the floor"
        " of a hop from an event loop. The rest are hops awaited on an asyncio loop: the least"
        " one can do (a thread, a queue, `call_soon_threadsafe(future.set_result)`), Ambi's"
        " (what a `def` view under ASGI costs), anyio's `to_thread.run_sync` (Starlette's"
        " `def` endpoints), asyncio's `run_in_executor`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--output", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)
    rounds, per_round = (3, 500) if args.quick else (7, 1500)
    samples = asyncio.run(measure(rounds, per_round))
    report = render(samples, rounds, per_round)
    publish(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
