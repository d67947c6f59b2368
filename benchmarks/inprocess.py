"""In-process benchmark: each app's WSGI or ASGI callable driven directly, no server.

    python benchmarks/inprocess.py [--quick] [--output benchmarks/results.md]

What it does, in order:

1. Loads every app case of :mod:`apps` (framework × interface × view kind); a framework
   that is not installed is skipped with a note.
2. Checks every response (status, body; content type for JSON and HTML) of every scenario on
   every app, and stops with exit status 1 when any is wrong: a fast wrong answer is
   not a result.
3. Calibrates an iteration count per (app, scenario), then times batches of requests
   with ``time.perf_counter_ns``. Repeats are interleaved across apps (app A, B, C …,
   then again), so a slow spell of the machine hits every app alike; the best batch
   (``--stat best``, the default: interference only ever adds time) or the median batch
   (``--stat median``) is reported.
4. Prints a markdown report (and writes it to ``--output``).

WSGI requests use a prebuilt environ (copied per call, with a fresh ``BytesIO`` body) and
iterate and close the response like a server. ASGI requests use a prebuilt scope (copied
per call), a ``receive`` that returns the body and then blocks until the response is
complete (then answers ``http.disconnect``, as uvicorn does), and a ``send`` that
collects. Each ASGI app gets one event loop for the whole run, with lifespan started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apps import FRAMEWORKS, load_cases
from apps.common import SCENARIOS, AppCase, Scenario

Headers = dict[str, str]
Response = tuple[int, Headers, bytes]

#: the (interface, view kind) rows of the report, native paths first
ROWS: tuple[tuple[str, str], ...] = (
    ("wsgi", "def"),
    ("wsgi", "async"),
    ("asgi", "async"),
    ("asgi", "def"),
)
MISMATCHED = {("wsgi", "async"), ("asgi", "def")}
PEERS_OF_INTEREST = ("flask", "starlette", "falcon", "quart")

#: (hops per request, loop entries per request, loops created) of one Ambi case
Adaptations = tuple[float, float, int]

#: The "Cost of the adaptation" section: (title, interface, mismatched view, native view,
#: frameworks that have both views on that interface), and DESIGN.md's budget for it.
ADAPTATION_COSTS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("ASGI + def − ASGI + async", "asgi", "def", "async", ("ambi", "starlette", "quart")),
    ("WSGI + async − WSGI + def", "wsgi", "async", "def", ("ambi", "flask")),
)

#: Quoted from DESIGN.md ("Mismatched cases and what they may cost"), as of issue 6.
DESIGN_BUDGETS = """\
> | server | view | how it runs | budget |
> |---|---|---|---|
> | ASGI | `def` | in anyio's worker threads (limit configurable), context copied; **one \
thread hop per request** for a route whose hooks and view are all sync, not one per \
callable | one hop |
> | WSGI | `async def` | on a **persistent event loop per worker thread** (created once, \
reused: async clients and pools survive between requests); never a new loop per request \
| one loop entry |
>
> Measured here, one process, as a guide: `asyncio.run` ≈ 190 µs, `asyncio.Runner.run` \
≈ 70 µs, `loop.run_until_complete` ≈ 15 µs, one anyio thread hop ≈ 120 µs, one generator \
step ≈ 0.2 µs. Flask runs async views with a fresh loop per call; Starlette and Quart hop \
threads per sync call."""


@dataclass(frozen=True)
class Settings:
    """How long to measure."""

    repeats: int
    #: seconds one timed batch should take
    batch_s: float
    #: seconds of warm-up (and calibration) per (app, scenario)
    warmup_s: float
    #: at least this many requests per batch
    min_batch: int

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        if quick:
            return cls(repeats=5, batch_s=0.04, warmup_s=0.02, min_batch=20)
        return cls(repeats=7, batch_s=0.2, warmup_s=0.1, min_batch=50)


# -- requests ------------------------------------------------------------------------------


def wsgi_environ(scenario: Scenario) -> dict[str, Any]:
    """The environ a server such as gunicorn would build (``wsgi.input`` is added per call)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scenario.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": scenario.path_info,
        "QUERY_STRING": scenario.query_string,
        "RAW_URI": scenario.path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "ambi-bench/1",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if scenario.body:
        environ["CONTENT_TYPE"] = scenario.content_type or "application/octet-stream"
        environ["CONTENT_LENGTH"] = str(len(scenario.body))
    for name, value in scenario.headers:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
        environ[key] = value
    return environ


def asgi_scope(scenario: Scenario) -> dict[str, Any]:
    """The HTTP scope a server such as uvicorn would build."""
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"ambi-bench/1"),
        (b"accept", b"*/*"),
    ]
    if scenario.body:
        headers.append((b"content-type", (scenario.content_type or "").encode()))
        headers.append((b"content-length", str(len(scenario.body)).encode()))
    headers += [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in scenario.headers
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": scenario.method,
        "scheme": "http",
        "path": scenario.path_info,
        "raw_path": scenario.path_info.encode(),
        "query_string": scenario.query_string.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


class Driver:
    """Calls one app callable: one checked request, or a timed batch of them."""

    def __init__(self, case: AppCase) -> None:
        self.case = case
        self.app = case.app

    def start(self) -> None:
        """Before the first request."""

    def close(self) -> None:
        """After the last request."""

    def request(self, scenario: Scenario) -> Response:
        raise NotImplementedError

    def timed(self, scenario: Scenario, count: int) -> int:
        """Nanoseconds for ``count`` requests; raises if any was not a 200."""
        raise NotImplementedError


def _no_write(data: bytes) -> None:
    raise AssertionError("the benchmark apps do not use the WSGI write() callable")


class WSGIDriver(Driver):
    def __init__(self, case: AppCase) -> None:
        super().__init__(case)
        self.environs = {s.name: wsgi_environ(s) for s in SCENARIOS}

    def request(self, scenario: Scenario) -> Response:
        seen: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            seen[:] = [status, headers]
            return _no_write

        environ = self.environs[scenario.name].copy()
        environ["wsgi.input"] = io.BytesIO(scenario.body)
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not seen:
            raise AssertionError("start_response was never called")
        status, headers = seen
        return int(status.split()[0]), {k.lower(): v for k, v in headers}, body

    def timed(self, scenario: Scenario, count: int) -> int:
        app = self.app
        base = self.environs[scenario.name]
        payload = scenario.body
        bytes_io = io.BytesIO
        bad: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            if status[:3] != "200":
                bad.append(status)
            return _no_write

        started = time.perf_counter_ns()
        for _ in range(count):
            environ = base.copy()
            environ["wsgi.input"] = bytes_io(payload)
            result = app(environ, start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        elapsed = time.perf_counter_ns() - started
        if bad:
            raise AssertionError(f"{len(bad)} of {count} timed requests failed: {bad[0]}")
        return elapsed


class _Exchange:
    """One ASGI request's receive and send, as a server would provide them."""

    __slots__ = ("chunks", "disconnect", "finished", "headers", "pending", "status")

    def __init__(self, body: bytes) -> None:
        self.pending: dict[str, Any] | None = {
            "type": "http.request",
            "body": body,
            "more_body": False,
        }
        self.disconnect: asyncio.Event | None = None
        self.finished = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def receive(self) -> dict[str, Any]:
        message = self.pending
        if message is not None:
            self.pending = None
            return message
        # Like uvicorn: after the body, wait until the response is complete (or the client
        # leaves); then report the disconnect.
        if not self.finished:
            if self.disconnect is None:
                self.disconnect = asyncio.Event()
            await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self.headers = message.get("headers", [])
        elif kind == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.finished = True
                if self.disconnect is not None:
                    self.disconnect.set()


class ASGIDriver(Driver):
    """Runs everything for one app on one event loop, kept for the whole run."""

    def __init__(self, case: AppCase) -> None:
        super().__init__(case)
        self.scopes = {s.name: asgi_scope(s) for s in SCENARIOS}
        self.loop = asyncio.new_event_loop()
        self._lifespan: asyncio.Future[Any] | None = None
        self._to_app: asyncio.Queue[dict[str, Any]] | None = None
        self._from_app: asyncio.Queue[dict[str, Any]] | None = None

    def start(self) -> None:
        self.loop.run_until_complete(self._start_lifespan())

    def close(self) -> None:
        loop = self.loop
        try:
            loop.run_until_complete(self._stop_lifespan())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    async def _lifespan_reply(self) -> dict[str, Any] | None:
        assert self._lifespan is not None
        assert self._from_app is not None
        getter = asyncio.ensure_future(self._from_app.get())
        done, _ = await asyncio.wait({getter, self._lifespan}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        return None

    async def _start_lifespan(self) -> None:
        self._to_app, self._from_app = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        self._lifespan = asyncio.ensure_future(
            self.app(scope, self._to_app.get, self._from_app.put)
        )
        await self._to_app.put({"type": "lifespan.startup"})
        reply = await self._lifespan_reply()
        if reply is None:  # the app does not do lifespan; servers carry on (uvicorn "auto")
            self._lifespan = None
        elif reply["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"{self.case.label}: lifespan startup failed: {reply}")

    async def _stop_lifespan(self) -> None:
        if self._lifespan is None or self._to_app is None:
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._lifespan_reply()
        self._lifespan = None

    async def _one(self, scenario: Scenario) -> Response:
        exchange = _Exchange(scenario.body)
        scope = self.scopes[scenario.name].copy()
        scope["headers"] = list(scope["headers"])
        await self.app(scope, exchange.receive, exchange.send)
        if not exchange.finished:
            raise AssertionError("the app returned before completing its response")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in exchange.headers}
        return exchange.status, headers, b"".join(exchange.chunks)

    async def _timed(self, scenario: Scenario, count: int) -> int:
        app = self.app
        base = self.scopes[scenario.name]
        base_headers = base["headers"]
        payload = scenario.body
        exchange_class = _Exchange
        bad = 0
        started = time.perf_counter_ns()
        for _ in range(count):
            exchange = exchange_class(payload)
            scope = base.copy()
            scope["headers"] = list(base_headers)
            await app(scope, exchange.receive, exchange.send)
            if exchange.status != 200 or not exchange.finished:
                bad += 1
        elapsed = time.perf_counter_ns() - started
        if bad:
            raise AssertionError(f"{bad} of {count} timed requests failed")
        return elapsed

    def request(self, scenario: Scenario) -> Response:
        return self.loop.run_until_complete(self._one(scenario))

    def timed(self, scenario: Scenario, count: int) -> int:
        return self.loop.run_until_complete(self._timed(scenario, count))


def make_driver(case: AppCase) -> Driver:
    return WSGIDriver(case) if case.interface == "wsgi" else ASGIDriver(case)


# -- the harness floor ---------------------------------------------------------------------


def _null_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]


async def _null_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


# -- checking ------------------------------------------------------------------------------


def _adaptation_counter() -> Any:
    try:
        from ambi import _drivers
    except ImportError:  # pragma: no cover - only if Ambi's internals move
        return None
    return getattr(_drivers, "adaptations", None)


def check_all(
    drivers: list[Driver],
) -> tuple[list[str], dict[tuple[str, str, str], Adaptations]]:
    """Every scenario on every app, three times each: the failures, and for Ambi the
    adaptations (thread hops, loop entries, loops created) each request cost."""
    failures: list[str] = []
    adaptations: dict[tuple[str, str, str], Adaptations] = {}
    counter = _adaptation_counter()
    for driver in drivers:
        case = driver.case
        for scenario in SCENARIOS:
            if scenario.name in case.unsupported:
                continue
            before = counter.snapshot() if counter is not None else None
            for attempt in range(3):
                try:
                    status, headers, body = driver.request(scenario)
                except Exception as exc:
                    failures.append(f"{case.label} / {scenario.name}: raised {exc!r}")
                    break
                problem = scenario.check(status, headers, body)
                if problem:
                    failures.append(f"{case.label} / {scenario.name} (#{attempt + 1}): {problem}")
                    break
            else:
                if case.framework == "ambi" and before is not None:
                    after = counter.snapshot()
                    hops, entries, created = (a - b for a, b in zip(after, before, strict=True))
                    adaptations[(case.interface, case.view, scenario.name)] = (
                        hops / 3,
                        entries / 3,
                        created,
                    )
    return failures, adaptations


# -- timing --------------------------------------------------------------------------------


def calibrate(driver: Driver, scenario: Scenario, settings: Settings) -> int:
    """Warm the app up on ``scenario``; the batch size that takes about ``batch_s``."""
    count, spent_ns, total = 5, 0, 0
    deadline = settings.warmup_s * 1e9
    while spent_ns < deadline:
        spent_ns += driver.timed(scenario, count)
        total += count
        count *= 2
    per_request = spent_ns / total
    return max(settings.min_batch, round(settings.batch_s * 1e9 / per_request))


def measure(
    drivers: list[Driver], settings: Settings, log: Callable[[str], None]
) -> dict[tuple[int, str], list[float]]:
    """µs per request, one entry per repeat, keyed by (driver index, scenario name)."""
    samples: dict[tuple[int, str], list[float]] = {}
    for scenario in SCENARIOS:
        todo = [
            (index, driver)
            for index, driver in enumerate(drivers)
            if scenario.name not in driver.case.unsupported
        ]
        sizes = {}
        for index, driver in todo:
            sizes[index] = calibrate(driver, scenario, settings)
        log(f"  {scenario.name}: calibrated {len(todo)} apps, timing {settings.repeats} rounds")
        for repeat in range(settings.repeats):
            # Rotate the starting app so no app is always first after the collection.
            shift = repeat % len(todo)
            for index, driver in todo[shift:] + todo[:shift]:
                count = sizes[index]
                driver.timed(scenario, max(5, count // 20))  # re-warm after the others ran
                gc.collect()
                elapsed = driver.timed(scenario, count)
                samples.setdefault((index, scenario.name), []).append(elapsed / count / 1000)
    return samples


def harness_floor(settings: Settings) -> dict[str, float]:
    """µs per request of the harness itself, around an app that does nothing."""
    scenario = SCENARIOS[0]
    floors: dict[str, float] = {}
    for interface, app in (("wsgi", _null_wsgi), ("asgi", _null_asgi)):
        driver = make_driver(AppCase("null", interface, "-", app))
        driver.start()
        try:
            count = calibrate(driver, scenario, settings)
            floors[interface] = min(
                driver.timed(scenario, count) / count / 1000 for _ in range(settings.repeats)
            )
        finally:
            driver.close()
    return floors


# -- report --------------------------------------------------------------------------------


def _versions() -> list[str]:
    names = ["ambi", "flask", "werkzeug", "asgiref", "starlette", "falcon", "quart", "anyio"]
    found = []
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return found


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def publish(report: str, output: Path | None, log: Callable[[str], None] | None = None) -> None:
    """Print a harness's markdown report, and write it to ``output`` when given."""
    print(report)
    if output:
        output.write_text(report, encoding="utf-8")
        if log is not None:
            log(f"wrote {output}")


def _table(header: list[str], rows: Iterable[list[str]], align: list[str] | None = None) -> str:
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render(
    cases: list[AppCase],
    samples: dict[tuple[int, str], list[float]],
    adaptations: dict[tuple[str, str, str], Adaptations],
    floors: dict[str, float],
    notes: list[str],
    settings: Settings,
    quick: bool,
    stat: str,
    elapsed_s: float,
) -> str:
    summary = min if stat == "best" else statistics.median
    median: dict[tuple[str, str, str, str], float] = {}
    for (index, scenario_name), values in samples.items():
        case = cases[index]
        key = (case.framework, case.interface, case.view, scenario_name)
        median[key] = summary(values)
    present = {case.framework for case in cases}
    peers = [name for name, _ in FRAMEWORKS if name in present and name not in ("raw", "ambi")]
    by_key = {(c.framework, c.interface, c.view): c for c in cases}

    def raw_floor(interface: str, scenario: str) -> float | None:
        for case in cases:
            if case.framework == "raw" and case.interface == interface:
                return median.get(("raw", interface, case.view, scenario))
        return None

    def cell(framework: str, interface: str, view: str, scenario: str) -> str:
        case = by_key.get((framework, interface, view))
        if case is None:
            return "—"
        if scenario in case.unsupported:
            return "n/a"
        value = median.get((framework, interface, view, scenario))
        if value is None:
            return "—"
        floor = raw_floor(interface, scenario)
        return f"{value:.1f} ({value / floor:.1f}×)" if floor else f"{value:.1f}"

    header = ["scenario", "interface", "view", "raw floor µs"]
    header += [f"{name} µs (× raw)" for name in ["ambi", *peers]]
    header += [f"ambi / {name}" for name in peers]
    rows = []
    for scenario in SCENARIOS:
        for interface, view in ROWS:
            ambi_value = median.get(("ambi", interface, view, scenario.name))
            peer_cells = [cell(name, interface, view, scenario.name) for name in peers]
            if ambi_value is None and all(c == "—" for c in peer_cells):
                continue
            floor = raw_floor(interface, scenario.name)
            label = view + (" (mismatched)" if (interface, view) in MISMATCHED else "")
            row = [scenario.title, interface.upper(), label, f"{floor:.1f}" if floor else "—"]
            row += [cell("ambi", interface, view, scenario.name), *peer_cells]
            for name in peers:
                peer_value = median.get((name, interface, view, scenario.name))
                if ambi_value is None or peer_value is None:
                    row.append("—")
                else:
                    ratio = ambi_value / peer_value
                    row.append(f"**{ratio:.2f}**" if ratio > 1 else f"{ratio:.2f}")
            rows.append(row)
    align = ["---", "---", "---"] + ["--:"] * (len(header) - 3)

    detail_rows = []
    for (index, scenario_name), values in sorted(samples.items()):
        case = cases[index]
        detail_rows.append(
            [
                case.label,
                scenario_name,
                f"{statistics.median(values):.1f}",
                f"{min(values):.1f}",
                f"{max(values):.1f}",
                f"{(max(values) - min(values)) / statistics.median(values) * 100:.0f}%",
            ]
        )

    adaptation_rows = [
        [interface.upper(), view, scenario, f"{hops:g} / {entries:g} / {created}"]
        for (interface, view, scenario), (hops, entries, created) in sorted(adaptations.items())
    ]
    cost_section = _adaptation_costs(cases, median, adaptations, stat)

    unsupported = sorted(
        {
            f"{case.label} / {name}: {why}"
            for case in cases
            for name, why in case.unsupported.items()
        }
    )
    mode = "quick" if quick else "full"
    parts = [
        "# Ambi in-process benchmark",
        "",
        "Generated by `python benchmarks/inprocess.py"
        + (" --quick" if quick else "")
        + (" --stat median" if stat == "median" else "")
        + "`; see benchmarks/README.md for what is measured and how to read it. "
        "**Numbers are only comparable within one run.**",
        "",
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {mode} mode "
        f"({settings.repeats} rounds of ~{settings.batch_s * 1000:.0f} ms per app and "
        f"scenario, the {'best' if stat == 'best' else 'median'} round shown), "
        f"{elapsed_s:.0f} s in all",
        f"- machine: {_cpu()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- packages: {', '.join(_versions())}",
        f"- harness floor (an app that does nothing): WSGI {floors.get('wsgi', 0):.2f} µs, "
        f"ASGI {floors.get('asgi', 0):.2f} µs per request; included in every number",
        "",
        "## µs per request (lower is better)",
        "",
        f"Cells: {'best' if stat == 'best' else 'median'} µs per request, and in brackets "
        "the multiple of the raw floor on the "
        "same interface. `ambi / peer` < 1 means Ambi is faster; **bold** means slower. "
        "`—`: no such combination; `n/a`: the framework cannot serve that scenario that way.",
        "",
        _table(header, rows, align),
        "",
    ]
    if adaptation_rows:
        parts += [
            "## Ambi's adaptations per request",
            "",
            "From the correctness pass (3 requests each): worker-thread hops per request / "
            "event-loop entries per request / event loops created in all. DESIGN.md's budget: "
            "0/0 on the native paths, one hop for ASGI + def, one loop entry for "
            "WSGI + async, and loops created only once per thread.",
            "",
            _table(
                ["interface", "view", "scenario", "hops / loop entries / loops created"],
                adaptation_rows,
            ),
            "",
        ]
    parts += cost_section
    if notes or unsupported:
        parts += ["## Notes", ""]
        parts += [f"- {note}" for note in notes]
        parts += [f"- n/a: {line}" for line in unsupported]
        parts.append("")
    parts += [
        "## Spread over the rounds",
        "",
        _table(
            ["app", "scenario", "median µs", "min µs", "max µs", "spread"],
            detail_rows,
            ["---", "---", "--:", "--:", "--:", "--:"],
        ),
        "",
    ]
    return "\n".join(parts)


def _adaptation_costs(
    cases: list[AppCase],
    values: dict[tuple[str, str, str, str], float],
    adaptations: dict[tuple[str, str, str], Adaptations],
    stat: str,
) -> list[str]:
    """The "Cost of the adaptation" section: per scenario, the µs a mismatched case adds
    over the native path of the same framework, from this run's numbers."""
    present = {(case.framework, case.interface, case.view) for case in cases}
    unsupported = {(case.framework, case.interface, case.view): case.unsupported for case in cases}
    header = ["scenario"]
    columns: list[tuple[str, str, str, str, str]] = []
    for title, interface, mismatched, native, frameworks in ADAPTATION_COSTS:
        for framework in frameworks:
            if {(framework, interface, mismatched), (framework, interface, native)} <= present:
                columns.append((title, framework, interface, mismatched, native))
                header.append(f"{framework} {title} µs")
        if "ambi" in {column[1] for column in columns if column[0] == title}:
            counted = "hops" if mismatched == "def" else "loop entries"
            header.append(f"ambi {counted} per request")
            columns.append((title, "", interface, mismatched, counted))
    if not any(column[1] == "ambi" for column in columns):
        return []

    rows = []
    for scenario in SCENARIOS:
        row = [scenario.title]
        for _title, framework, interface, mismatched, native in columns:
            if not framework:  # the counted adaptations of Ambi's mismatched case
                counts = adaptations.get((interface, mismatched, scenario.name))
                if counts is None:
                    row.append("—")
                else:
                    row.append(f"{counts[0] if native == 'hops' else counts[1]:g}")
                continue
            skipped = (
                unsupported[(framework, interface, mismatched)].keys()
                | unsupported[(framework, interface, native)].keys()
            )
            slow = values.get((framework, interface, mismatched, scenario.name))
            fast = values.get((framework, interface, native, scenario.name))
            if scenario.name in skipped:
                row.append("n/a")
            elif slow is None or fast is None:
                row.append("—")
            else:
                row.append(f"{slow - fast:+.1f}")
        rows.append(row)
    return [
        "## Cost of the adaptation",
        "",
        "What each mismatched case adds per request over the native path of the same "
        "framework, in this run: the "
        f"{'best' if stat == 'best' else 'median'} µs of the mismatched row minus that of "
        "the native row, per scenario. For Ambi both rows are the *same app object* (its "
        "`def` app served through ASGI minus its `async def` app through ASGI; its "
        "`async def` app through WSGI minus its `def` app through WSGI), so the difference "
        "is the adaptation: the thread hop, or the entry into the thread's persistent loop. "
        "The counted columns come from Ambi's own counters during the correctness pass. "
        "Differences of a few µs are within the noise.",
        "",
        "DESIGN.md's budgets (quoted):",
        "",
        DESIGN_BUDGETS,
        "",
        _table(header, rows, ["---"] + ["--:"] * (len(header) - 1)),
        "",
    ]


# -- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (< 60 s)")
    parser.add_argument("--output", type=Path, help="also write the markdown report here")
    parser.add_argument(
        "--stat",
        choices=("best", "median"),
        default="best",
        help="which round to report per app and scenario (default: best)",
    )
    parser.add_argument(
        "--only",
        help="comma-separated frameworks to run (raw and ambi are always included)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = Settings.for_mode(args.quick)

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    only = None
    if args.only:
        only = {name.strip() for name in args.only.split(",")} | {"raw", "ambi"}
    cases, notes = load_cases(only)
    for note in notes:
        log(f"note: {note}")
    log(f"{len(cases)} apps: {', '.join(case.label for case in cases)}")

    drivers: list[Driver] = []
    try:
        for case in cases:
            driver = make_driver(case)
            drivers.append(driver)
            driver.start()
        failures, adaptations = check_all(drivers)
        if failures:
            print("\nCORRECTNESS FAILURES: no timing was done.", file=sys.stderr)
            for failure in failures:
                print(f"  FAIL {failure}", file=sys.stderr)
            return 1
        log("every response is correct; timing")
        samples = measure(drivers, settings, log)
    finally:
        for driver in drivers:
            try:
                driver.close()
            except Exception as exc:
                log(f"closing {driver.case.label} failed: {exc!r}")
    floors = harness_floor(settings)
    report = render(
        cases,
        samples,
        adaptations,
        floors,
        notes,
        settings,
        args.quick,
        args.stat,
        time.perf_counter() - started,
    )
    publish(report, args.output, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
