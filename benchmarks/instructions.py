"""Instructions per request, counted by callgrind: a measure the machine's noise cannot move.

    python benchmarks/instructions.py [--scenario plaintext] [--only ambi,falcon]
                                      [--skip in-process|server] [--output FILE]

Timings on a shared machine scatter by ±10 % from run to run; the number of instructions a
request executes does not. For each measurement the process runs under
``valgrind --tool=callgrind`` twice, serving ``N`` and ``3N`` requests after the same
warm-up, and the difference of the two totals divided by ``2N`` is the cost of one request
(start-up, imports and warm-up cancel out).

1. **In process**: an app's callable driven by ``inprocess.py``'s driver (the harness's own
   instructions included, as in its timings), ``N`` = 1000.
2. **Under a real server**: the app under uvicorn or gunicorn (``e2e.py``'s command lines,
   one worker), loaded by a client in this process over 16 keep-alive connections on
   127.0.0.1 (reconnecting when the server closes, as gunicorn's sync worker does), ``N`` =
   1600. The server's worker process is counted (the busiest process of the run): its HTTP
   parsing, its event loop or accept loop, and the app.

Needs valgrind (``apt-get install valgrind``); not part of ``nox -s bench`` (about 15
minutes for the default set on 2 CPUs; ``--skip server`` about 3). In process, two
measurements run at a time (``--jobs``); the servers one at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apps import load_cases
from apps.common import SCENARIOS, Scenario
from e2e import HOST, free_port, request_headers, server_environment, server_named, versions
from inprocess import _cpu, _table, make_driver, publish

HERE = Path(__file__).resolve().parent
IN_PROCESS_N = 1000
SERVER_N = 1600
SERVER_CONNECTIONS = 16
WARMUP = 200
#: seconds a server under valgrind may take to start, and to serve and stop
START_DEADLINE_S = 120.0
RUN_DEADLINE_S = 600.0


@dataclass(frozen=True)
class InProcess:
    framework: str
    interface: str
    view: str

    @property
    def label(self) -> str:
        return f"{self.framework} {self.interface.upper()} {self.view}"


@dataclass(frozen=True)
class Served:
    framework: str
    server: str
    target: str

    @property
    def label(self) -> str:
        return f"{self.framework} under {self.server}"


IN_PROCESS: tuple[InProcess, ...] = (
    InProcess("raw", "asgi", "async"),
    InProcess("ambi", "asgi", "async"),
    InProcess("starlette", "asgi", "async"),
    InProcess("falcon", "asgi", "async"),
    InProcess("raw", "wsgi", "def"),
    InProcess("ambi", "wsgi", "def"),
    InProcess("falcon", "wsgi", "def"),
    InProcess("flask", "wsgi", "def"),
    InProcess("ambi", "asgi", "def"),
    InProcess("starlette", "asgi", "def"),
)

SERVED: tuple[Served, ...] = (
    Served("raw", "gunicorn-sync", "apps.raw:wsgi_app"),
    Served("ambi", "gunicorn-sync", "apps.ambi_app:app_def"),
    Served("falcon", "gunicorn-sync", "apps.falcon_app:wsgi_app"),
    Served("raw", "uvicorn-httptools", "apps.raw:asgi_app"),
    Served("ambi", "uvicorn-httptools", "apps.ambi_app:app_async"),
    Served("starlette", "uvicorn-httptools", "apps.starlette_app:app_async"),
    Served("falcon", "uvicorn-httptools", "apps.falcon_app:asgi_app"),
    Served("ambi", "uvicorn-h11", "apps.ambi_app:app_async"),
    Served("starlette", "uvicorn-h11", "apps.starlette_app:app_async"),
)

_COLLECTED = re.compile(rb"==(\d+)== Collected : (\d+)")


def _scenario(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise SystemExit(f"no scenario {name!r}; known: {', '.join(s.name for s in SCENARIOS)}")


def _callgrind(argv: list[str], children: bool, **popen: object) -> subprocess.Popen[bytes]:
    """``argv`` started under callgrind (its output files thrown away: only the totals
    valgrind prints on stderr are read)."""
    out = os.path.join(tempfile.gettempdir(), f"ambi-callgrind.{os.getpid()}.%p")
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    if children:
        command.append("--trace-children=yes")
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [*command, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen
    )


def _busiest(stderr: bytes) -> int:
    """The largest per-process total valgrind reported (the worker that served)."""
    totals = [int(total) for _, total in _COLLECTED.findall(stderr)]
    if not totals:
        raise RuntimeError(
            "valgrind reported no totals:\n" + stderr.decode(errors="replace")[-2000:]
        )
    return max(totals)


def _clean_outputs() -> None:
    prefix = f"ambi-callgrind.{os.getpid()}."
    for name in os.listdir(tempfile.gettempdir()):
        if name.startswith(prefix):
            os.unlink(os.path.join(tempfile.gettempdir(), name))


# -- in process ----------------------------------------------------------------------------


def _child(framework: str, interface: str, view: str, scenario_name: str, n: int) -> None:
    """In the process callgrind counts: warm up, then ``n`` requests."""
    cases, _ = load_cases({framework})
    case = next(c for c in cases if c.interface == interface and c.view == view)
    scenario = _scenario(scenario_name)
    driver = make_driver(case)
    driver.start()
    try:
        problem = scenario.check(*driver.request(scenario))
        if problem:
            raise SystemExit(f"{case.label} {scenario_name}: {problem}")
        driver.timed(scenario, WARMUP)
        driver.timed(scenario, n)
    finally:
        driver.close()


def in_process_total(spec: InProcess, scenario: str, n: int) -> int:
    argv = [sys.executable, str(Path(__file__)), "--child", spec.framework, spec.interface]
    argv += [spec.view, scenario, str(n)]
    process = _callgrind(argv, children=False, cwd=HERE)
    _, stderr = process.communicate(timeout=RUN_DEADLINE_S)
    if process.returncode:
        raise RuntimeError(f"{spec.label}: exit {process.returncode}\n{stderr.decode()[-2000:]}")
    return _busiest(stderr)


# -- under a server ------------------------------------------------------------------------


def _request_bytes(scenario: Scenario) -> bytes:
    lines = [f"{scenario.method} {scenario.path} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{name}: {value}" for name, value in request_headers(scenario)]
    if scenario.body:
        lines.append(f"Content-Length: {len(scenario.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + scenario.body


async def _load(port: int, request: bytes, n: int) -> None:
    """``n`` requests over :data:`SERVER_CONNECTIONS` connections, each answer checked."""

    async def connection(count: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for _ in range(count):
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"unexpected answer: {head[:200]!r}")
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                if length is None:
                    raise RuntimeError(f"no Content-Length: {head[:200]!r}")
                await reader.readexactly(int(length.group(1)))
                if re.search(rb"(?i)\r\nconnection: *close", head):
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    share = n // SERVER_CONNECTIONS
    await asyncio.gather(*(connection(share) for _ in range(SERVER_CONNECTIONS)))


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start under valgrind") from None
            time.sleep(0.5)


def server_total(spec: Served, scenario: Scenario, n: int) -> int:
    port = free_port()
    argv = server_named(spec.server).command(port, spec.target)
    process = _callgrind(
        argv, children=True, cwd=HERE, env=server_environment(), start_new_session=True
    )
    try:
        _wait_listening(port, process)
        asyncio.run(_load(port, _request_bytes(scenario), WARMUP))
        asyncio.run(_load(port, _request_bytes(scenario), n))
        os.killpg(
            process.pid, signal.SIGINT if spec.server.startswith("uvicorn") else signal.SIGTERM
        )
        _, stderr = process.communicate(timeout=RUN_DEADLINE_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return _busiest(stderr)


# -- main ----------------------------------------------------------------------------------


def per_request(total: Callable[[int], int], n: int) -> int:
    """Instructions per request: the totals at ``n`` and ``3n`` requests, differenced."""
    return (total(3 * n) - total(n)) // (2 * n)


def render(scenario: str, rows: list[tuple[str, str, int]], elapsed: float) -> str:
    lines = [
        "# Instructions per request (callgrind)",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/instructions.py`"
        f" in {elapsed / 60:.1f} min; scenario **{scenario}**.",
        "",
        f"- Machine: {_cpu()}, Python {sys.version.split()[0]}; " + ", ".join(versions()),
        f"- In process: ({IN_PROCESS_N * 3} − {IN_PROCESS_N} requests) ÷ {IN_PROCESS_N * 2},"
        " the harness included. Under a server: the worker process,"
        f" ({SERVER_N * 3} − {SERVER_N} requests) ÷ {SERVER_N * 2}, {SERVER_CONNECTIONS}"
        " keep-alive connections.",
        "",
        _table(
            ["where", "app", "instructions per request"],
            [[w, a, f"{i:,}"] for w, a, i in rows],
            ["---", "---", "--:"],
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        framework, interface, view, scenario, n = argv[1:6]
        _child(framework, interface, view, scenario, int(n))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="plaintext", help="one scenario (default: plaintext)")
    parser.add_argument("--only", help="comma-separated frameworks (raw and ambi always included)")
    parser.add_argument("--skip", choices=("in-process", "server"), action="append", default=[])
    parser.add_argument("--jobs", type=int, default=2, help="in-process measurements run at a time")
    parser.add_argument("--output", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("instructions.py needs valgrind: apt-get install valgrind", file=sys.stderr)
        return 2
    scenario = _scenario(args.scenario)
    wanted = None if not args.only else {n.strip() for n in args.only.split(",")} | {"raw", "ambi"}
    jobs: list[tuple[str, str, Callable[[int], int], int]] = []
    if "in-process" not in args.skip:
        for spec in IN_PROCESS:
            if wanted is None or spec.framework in wanted:
                jobs.append(
                    (
                        "in process",
                        spec.label,
                        lambda n, s=spec: in_process_total(s, scenario.name, n),
                        IN_PROCESS_N,
                    )
                )
    if "server" not in args.skip:
        for served in SERVED:
            if wanted is None or served.framework in wanted:
                jobs.append(
                    (
                        served.server,
                        served.framework,
                        lambda n, s=served: server_total(s, scenario, n),
                        SERVER_N,
                    )
                )
    started = time.perf_counter()

    def measure(job: tuple[str, str, Callable[[int], int], int]) -> int:
        count = per_request(job[2], job[3])
        elapsed = time.perf_counter() - started
        print(f"[{elapsed:6.1f}s] {job[0]}, {job[1]}: {count:,}", file=sys.stderr, flush=True)
        return count

    print(f"{len(jobs)} measurements", file=sys.stderr, flush=True)
    try:
        # In process, --jobs at a time; the servers one at a time: a server's worker
        # waiting on a client slowed by another valgrind was seen to count ~4 % more.
        local = [job for job in jobs if job[0] == "in process"]
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            counts = list(pool.map(measure, local))
        counts += [measure(job) for job in jobs[len(local) :]]
    finally:
        _clean_outputs()
    rows = [(where, label, count) for (where, label, _, _), count in zip(jobs, counts, strict=True)]
    report = render(scenario.name, rows, time.perf_counter() - started)
    publish(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
