"""The load generator of the soak test (``tests/test_soak.py``), run as its own process::

    python tests/_loadgen.py --port 8000 --duration 60 --requests 100000 --max-duration 100

so that it never competes with the server for the test process's GIL. It opens
``--connections`` (64) keep-alive HTTP/1.1 connections (raw asyncio streams: an HTTP
client library would spend more CPU per request than the server under test, on a 2-core
machine) and sends requests over them back to back, picking routes of
``tests/server_apps/soak_app.py`` at random, for ``--duration`` seconds and on until
``--requests`` answers, but never longer than ``--max-duration`` seconds. Every answer
is checked: status 200 and the exact body expected (the JSON echo byte for byte, the
upload's size and sha256, every byte of a stream); anything else is an error.

Progress goes to stdout as one JSON line per second (``{"t": …, "requests": …,
"errors": …}``), then one final line ``{"final": {…}}`` with the totals, per-route
counts, latency percentiles and the first error samples.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
#: Chunks per streamed response.
STREAM_CHUNKS = 8
#: Seconds one request may take before it counts as an error.
REQUEST_TIMEOUT = 30.0
MAX_ERROR_SAMPLES = 20


def stream_chunk(seed: str, number: int) -> bytes:
    """The same as ``tests/server_apps/soak_app.py``'s (kept apart: no app import here)."""
    return f"{seed}:{number}:{'x' * (number % 7) * 16}\n".encode()


@dataclass
class Exchange:
    """One request: its bytes and how to check the answer's body."""

    route: str
    data: bytes
    check: Callable[[bytes], bool]


def _request(method: str, path: str, body: bytes = b"", content_type: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n"
    if body or method == "POST":
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def text_exchange(rng: random.Random, suffix: str) -> Exchange:
    expected = b"text from async def" if suffix else b"text from def"
    return Exchange(f"text{suffix}", _request("GET", f"/text{suffix}"), expected.__eq__)


def _random_document(rng: random.Random) -> dict[str, Any]:
    """About 1 KB of JSON, different every time (ASCII and non-ASCII text, numbers,
    nesting)."""
    return {
        "id": rng.getrandbits(48),
        "blob": os.urandom(rng.randint(150, 250)).hex(),
        "words": [os.urandom(rng.randint(2, 12)).hex() for _ in range(rng.randint(5, 15))],
        "numbers": [rng.randint(-(10**12), 10**12) for _ in range(rng.randint(5, 15))],
        "text": "".join(chr(rng.choice((0xE9, 0x3B1, 0x4E2D, 0x1F600, 0x41))) for _ in range(20)),
        "nested": {"flag": rng.random() < 0.5, "none": None, "depth": {"k": rng.randint(0, 9)}},
    }


def json_exchange(rng: random.Random, suffix: str) -> Exchange:
    # jsonify's own form: compact, sorted keys, ASCII escapes, a trailing newline.
    body = (
        json.dumps(_random_document(rng), separators=(",", ":"), sort_keys=True) + "\n"
    ).encode()
    data = _request("POST", f"/json{suffix}", body, "application/json")
    return Exchange(f"json{suffix}", data, body.__eq__)


def upload_exchange(rng: random.Random, suffix: str) -> Exchange:
    boundary = os.urandom(12).hex()
    payload = os.urandom(rng.randint(1024, 8192))
    note = os.urandom(8).hex()
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="note"\r\n\r\n'
            f"{note}\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="random.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    data = _request("POST", f"/upload{suffix}", body, f"multipart/form-data; boundary={boundary}")
    expected = {"note": note, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}

    def check(answer: bytes) -> bool:
        return bool(json.loads(answer) == expected)

    return Exchange(f"upload{suffix}", data, check)


def stream_exchange(rng: random.Random, suffix: str) -> Exchange:
    seed = os.urandom(6).hex()
    path = f"/stream{suffix}?seed={seed}&n={STREAM_CHUNKS}"
    expected = b"".join(stream_chunk(seed, number) for number in range(STREAM_CHUNKS))
    return Exchange(f"stream{suffix}", _request("GET", path), expected.__eq__)


#: (builder, weight): plain text and JSON most, then uploads and streams.
MIX: list[tuple[Callable[[random.Random, str], Exchange], int]] = [
    (text_exchange, 3),
    (json_exchange, 3),
    (upload_exchange, 1),
    (stream_exchange, 1),
]


def _kind(builder: Callable[[random.Random, str], Exchange]) -> str:
    return builder.__name__.removesuffix("_exchange")


class BadAnswer(Exception):
    """The server's answer was not the one expected."""


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body (de-chunked) and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = -1
    chunked = False
    keep_alive = True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif name == "connection":
            keep_alive = "close" not in value.lower()
    if chunked:
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers are expected
                break
            parts.append(await reader.readexactly(size + 2))
        body = b"".join(part[:-2] for part in parts)
    elif length >= 0:
        body = await reader.readexactly(length)
    else:
        body = await reader.read()
        keep_alive = False
    return status, body, keep_alive


@dataclass
class Totals:
    requests: int = 0
    errors: int = 0
    reconnects: int = 0
    per_route: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)

    def error(self, route: str, message: str) -> None:
        self.errors += 1
        if len(self.samples) < MAX_ERROR_SAMPLES:
            self.samples.append(f"{route}: {message}")


@dataclass
class Stop:
    """When to stop: after ``duration`` s and ``requests`` answers, or ``max_duration`` s."""

    started: float
    duration: float
    max_duration: float
    requests: int

    def due(self, totals: Totals) -> bool:
        elapsed = time.monotonic() - self.started
        if elapsed >= self.max_duration:
            return True
        return elapsed >= self.duration and totals.requests >= self.requests


async def connection_loop(
    port: int,
    stop: Stop,
    rng: random.Random,
    totals: Totals,
    mix: list[tuple[Callable[[random.Random, str], Exchange], int]],
    suffixes: tuple[str, ...],
) -> None:
    builders = [builder for builder, weight in mix for _ in range(weight)]
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while not stop.due(totals):
            exchange = rng.choice(builders)(rng, rng.choice(suffixes))
            started = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    writer.write(exchange.data)
                    status, body, keep_alive = await read_answer(reader)
                if status != 200:
                    raise BadAnswer(f"status {status}: {body[:200]!r}")
                if not _checked(exchange, body):
                    raise BadAnswer(f"wrong body ({len(body)} bytes): {body[:200]!r}")
            except BadAnswer as exc:  # a whole answer was read: the connection is usable
                totals.error(exchange.route, str(exc))
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                totals.error(exchange.route, f"{type(exc).__name__}: {exc}")
                keep_alive = False
            else:
                totals.requests += 1
                totals.per_route[exchange.route] += 1
                totals.latencies.append(time.perf_counter() - started)
            if not keep_alive:
                writer.close()
                totals.reconnects += 1
                reader, writer = await _reconnect(port, stop, totals)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _checked(exchange: Exchange, body: bytes) -> bool:
    try:
        return exchange.check(body)
    except ValueError:  # not even JSON
        return False


async def _reconnect(
    port: int, stop: Stop, totals: Totals
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    while True:
        try:
            return await asyncio.open_connection(HOST, port)
        except OSError as exc:
            totals.error("connect", f"{type(exc).__name__}: {exc}")
            if stop.due(totals):
                raise
            await asyncio.sleep(0.1)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(
    port: int,
    connections: int,
    stop: Stop,
    seed: int,
    only: set[str] | None = None,
    suffixes: tuple[str, ...] = ("", "-async"),
) -> dict[str, Any]:
    totals = Totals()
    started = stop.started = time.monotonic()
    mix = [(builder, weight) for builder, weight in MIX if only is None or _kind(builder) in only]
    tasks = [
        asyncio.create_task(
            connection_loop(port, stop, random.Random(seed + number), totals, mix, suffixes)
        )
        for number in range(connections)
    ]
    waiting = asyncio.gather(*tasks, return_exceptions=True)
    while not waiting.done():
        await asyncio.wait([waiting], timeout=1.0)
        line = {
            "t": round(time.monotonic() - started, 2),
            "requests": totals.requests,
            "errors": totals.errors,
        }
        print(json.dumps(line), flush=True)
    crashed = [repr(outcome) for outcome in waiting.result() if outcome is not None]
    elapsed = time.monotonic() - started
    return {
        "connections": connections,
        "duration": round(elapsed, 2),
        "requests": totals.requests,
        "requests_per_second": round(totals.requests / elapsed, 1),
        "errors": totals.errors + len(crashed),
        "reconnects": totals.reconnects,
        "per_route": dict(sorted(totals.per_route.items())),
        "latency_ms": {
            "p50": round(_percentile(totals.latencies, 0.50) * 1000, 2),
            "p99": round(_percentile(totals.latencies, 0.99) * 1000, 2),
            "max": round(max(totals.latencies, default=0.0) * 1000, 2),
        },
        "error_samples": totals.samples + crashed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--requests", type=int, default=0)
    parser.add_argument("--max-duration", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--only", help="comma-separated kinds of request: text,json,upload,stream (default: all)"
    )
    parser.add_argument(
        "--views", choices=["both", "def", "async"], default="both", help="which view kinds"
    )
    options = parser.parse_args()
    stop = Stop(
        time.monotonic(),
        options.duration,
        max(options.max_duration, options.duration),
        options.requests,
    )
    only = set(options.only.split(",")) if options.only else None
    suffixes = {"both": ("", "-async"), "def": ("",), "async": ("-async",)}[options.views]
    final = asyncio.run(run(options.port, options.connections, stop, options.seed, only, suffixes))
    print(json.dumps({"final": final}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
