"""End-to-end benchmark: each app under its real server on 127.0.0.1, loaded by wrk.

    python benchmarks/e2e.py [--quick] [--duration S] [--only NAMES] [--output FILE]

What it does, for each server in :data:`SERVERS` (uvicorn with its h11 and its httptools
protocol for the ASGI apps; gunicorn's ``sync`` and ``gthread`` workers for the WSGI apps):

1. Starts every app of :mod:`apps` that speaks the server's interface (the very objects
   the app modules build at import time, e.g. ``apps.ambi_app:app_def``; Ambi's one app
   object is served under both kinds of server), each in its own server process: one
   worker, access log off, ``--log-level warning``, on 127.0.0.1 at an ephemeral port,
   pinned to the first CPU with ``taskset``. The idle ones sleep while another is loaded.
2. Checks every scenario on every app once with httpx (status, body, JSON content type):
   a wrong answer fails that cell, and nothing is timed for it.
3. Per scenario, loads each app in turn (the apps interleaved, so a noisy moment of the
   machine hits neighbours alike) with wrk pinned to the second CPU: a warm-up run, then
   a measured run with ``--latency``. Any socket error (connect, read, write, timeout) or
   non-2xx/3xx response that wrk reports fails the cell.
4. Stops every server it started (the whole process group), always.

The markdown report has one table per server (requests/s and p99 latency per app and
scenario), the ratios of Ambi to the raw app and to the peers, and issue 6's targets,
each met or not with its figures. The exit status is 1 when any cell failed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from apps import FRAMEWORKS, load_cases
from apps.common import SCENARIOS, AppCase, Scenario
from inprocess import _cpu, _table, _versions, publish

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
READY_DEADLINE_S = 60.0
STOP_DEADLINE_S = 10.0
BIND_ATTEMPTS = 3
#: gunicorn ``gthread``: worker threads of the one worker process
GTHREAD_THREADS = 4
#: what a server's log says when another process took its port before it could bind
_BIND_ERRORS = ("address already in use", "connection in use")

Log = Callable[[str], None]


# -- servers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """A server and how to start it on one app."""

    name: str
    title: str
    #: which face of the apps it calls: "asgi" or "wsgi"
    interface: str
    #: (port, "module:attribute") -> argv, without the CPU pinning
    command: Callable[[int, str], list[str]]


def _uvicorn(protocol: str) -> Callable[[int, str], list[str]]:
    def command(port: int, target: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--host",
            HOST,
            "--port",
            str(port),
            "--http",
            protocol,
            # The stdlib loop whether or not uvloop happens to be installed: the numbers
            # must not depend on an optional extra.
            "--loop",
            "asyncio",
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    return command


def _gunicorn_extra_flags() -> list[str]:
    """Flags only some gunicorn versions know: each server gets no control socket (newer
    gunicorns open one at a fixed path, which servers started side by side would share)."""
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return []
    names = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


def _gunicorn(worker: str, *extra: str) -> Callable[[int, str], list[str]]:
    def command(port: int, target: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            worker,
            *extra,
            "--workers",
            "1",
            "--bind",
            f"{HOST}:{port}",
            # gunicorn writes no access log unless --access-logfile is given
            "--log-level",
            "warning",
            *_gunicorn_extra_flags(),
            target,
        ]

    return command


SERVERS: tuple[Server, ...] = (
    Server("uvicorn-httptools", "uvicorn, httptools protocol", "asgi", _uvicorn("httptools")),
    Server("uvicorn-h11", "uvicorn, h11 protocol", "asgi", _uvicorn("h11")),
    Server("gunicorn-sync", "gunicorn, sync worker", "wsgi", _gunicorn("sync")),
    Server(
        "gunicorn-gthread",
        f"gunicorn, gthread worker ({GTHREAD_THREADS} threads)",
        "wsgi",
        _gunicorn("gthread", "--threads", str(GTHREAD_THREADS)),
    ),
)
SERVER_PACKAGES = ("uvicorn", "h11", "httptools", "gunicorn", "httpx")


def server_named(name: str) -> Server:
    """The server of :data:`SERVERS` called ``name`` (e.g. ``"gunicorn-sync"``)."""
    for server in SERVERS:
        if server.name == name:
            return server
    raise LookupError(f"no server {name!r}; known: {', '.join(s.name for s in SERVERS)}")


@dataclass(frozen=True)
class Settings:
    """How hard and how long to load each cell."""

    duration_s: int
    warmup_s: int
    connections: int
    threads: int
    timeout_s: int
    rounds: int

    @property
    def per_cell_s(self) -> float:
        return self.rounds * (self.duration_s + self.warmup_s + 0.1)


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: int | None, argv: list[str]) -> list[str]:
    return argv if cpu is None else ["taskset", "-c", str(cpu), *argv]


def target_of(case: AppCase) -> str:
    """``module:attribute`` of the object the app module built for ``case``."""
    module_name = f"apps.{dict(FRAMEWORKS)[case.framework]}"
    module = importlib.import_module(module_name)
    names = [*getattr(module, "__all__", ()), *vars(module)]
    for name in names:
        if not name.startswith("_") and getattr(module, name, None) is case.app:
            return f"{module_name}:{name}"
    raise LookupError(f"{case.label}: {module_name} has no public name for its app object")


class ServerError(RuntimeError):
    """A server did not start or did not answer correctly; the message carries its log."""


class ServerProcess:
    """One server process serving one ``module:attribute`` target, in its own process group."""

    def __init__(
        self,
        server: Server,
        target: str,
        log_path: Path,
        env: dict[str, str],
        cpu: int | None = None,
    ) -> None:
        self.server = server
        self.cpu = cpu
        self.target = target
        self.log_path = log_path
        self.env = env
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.attempts = 0
        #: why it is not serving (did not start, died); None while it is fine
        self.failure: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (its process group id too); the server must be running."""
        assert self.process is not None
        return self.process.pid

    def launch(self) -> None:
        """Start the process (readiness is :meth:`wait_ready`'s job)."""
        self.attempts += 1
        self.port = free_port()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            pinned(self.cpu, self.server.command(self.port, self.target)),
            cwd=BENCH_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def wait_ready(self, client: httpx.Client) -> None:
        """Poll until the server answers HTTP; relaunch on a port taken in between."""
        deadline = time.monotonic() + READY_DEADLINE_S
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log_tail()
                lost_port = any(marker in tail.lower() for marker in _BIND_ERRORS)
                if lost_port and self.attempts < BIND_ATTEMPTS:
                    self.stop()
                    self.launch()
                    continue
                self.failure = f"the server exited ({self.process.returncode}): {tail}"
                return
            try:
                client.get(f"{self.base_url}/", timeout=1.0)
            except httpx.TransportError:
                pass
            else:
                return
            if time.monotonic() > deadline:
                self.failure = f"not ready after {READY_DEADLINE_S:.0f} s: {self.log_tail()}"
                return
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM to the process group, a bounded wait, then SIGKILL to the group."""
        process, self.process = self.process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_DEADLINE_S)
            # The group may outlive its leader (a gunicorn worker): kill what is left.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_DEADLINE_S)
        if self._log is not None:
            self._log.close()
            self._log = None


class RunningServer(ServerProcess):
    """One server process serving one app case of :mod:`apps`."""

    def __init__(
        self, server: Server, case: AppCase, cpu: int | None, log_dir: Path, env: dict[str, str]
    ) -> None:
        slug = f"{server.name}-{case.framework}-{case.interface}-{case.view}"
        super().__init__(server, target_of(case), log_dir / f"{slug}.log", env, cpu)
        self.case = case


def server_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(BENCH_DIR), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    # uvicorn and gunicorn read these; one worker each, whatever the environment says.
    for name in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    return env


@contextlib.contextmanager
def serve(
    name: str,
    target: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
    cpu: int | None = None,
) -> Iterator[ServerProcess]:
    """Serve ``target`` (``module:attribute`` in benchmarks/) under the server ``name`` of
    :data:`SERVERS` on a free port; yield it once it answers HTTP, and stop it afterwards.

    ``env`` defaults to :func:`server_environment`; :class:`ServerError` (with the log's
    tail) if it does not start."""
    server = server_named(name)
    slug = target.replace(":", "-").replace(".", "-")
    process = ServerProcess(
        server, target, log_dir / f"{name}-{slug}.log", env or server_environment(), cpu
    )
    try:
        process.launch()
        with httpx.Client(trust_env=False) as client:
            process.wait_ready(client)
        if process.failure:
            raise ServerError(f"{name} {target}: {process.failure}")
        yield process
    finally:
        process.stop()


# -- requests ------------------------------------------------------------------------------


def request_headers(scenario: Scenario) -> list[tuple[str, str]]:
    """The request headers of ``scenario``, besides Host and Content-Length."""
    headers = []
    if scenario.content_type:
        headers.append(("Content-Type", scenario.content_type))
    headers += scenario.headers
    return headers


def _lua_string(data: bytes) -> str:
    """A Lua string literal of ``data``: printable ASCII as is, anything else escaped."""
    escaped = {34: '\\"', 92: "\\\\"}
    return (
        '"'
        + "".join(escaped.get(b) or (chr(b) if 32 <= b < 127 else f"\\{b:03d}") for b in data)
        + '"'
    )


def wrk_script(scenario: Scenario) -> str:
    """A wrk Lua script making every request ``scenario``'s (the path is in the URL)."""
    lines = [
        f"-- generated by benchmarks/e2e.py: scenario {scenario.name}",
        f"wrk.method = {_lua_string(scenario.method.encode())}",
    ]
    if scenario.body:
        lines.append(f"wrk.body = {_lua_string(scenario.body)}")
    for name, value in request_headers(scenario):
        lines.append(f"wrk.headers[{_lua_string(name.encode())}] = {_lua_string(value.encode())}")
    return "\n".join(lines) + "\n"


def check_cell(client: httpx.Client, running: RunningServer, scenario: Scenario) -> str | None:
    """``None`` when ``scenario`` gets the right answer from the server, else what is wrong."""
    try:
        response = client.request(
            scenario.method,
            running.base_url + scenario.path,
            content=scenario.body or None,
            headers=request_headers(scenario),
        )
    except httpx.HTTPError as exc:
        return f"the check request failed: {exc!r}"
    headers = {name.lower(): value for name, value in response.headers.items()}
    return scenario.check(response.status_code, headers, response.content)


# -- wrk -----------------------------------------------------------------------------------


@dataclass
class Measurement:
    """What wrk reported for one run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    #: socket errors by kind (connect, read, write, timeout)
    errors: dict[str, int] = field(default_factory=dict)
    non_2xx_3xx: int = 0

    @property
    def problem(self) -> str | None:
        faults = {kind: count for kind, count in self.errors.items() if count}
        parts = [f"{count} {kind} errors" for kind, count in faults.items()]
        if self.non_2xx_3xx:
            parts.append(f"{self.non_2xx_3xx} non-2xx/3xx responses")
        if not self.requests:
            parts.append("no request completed")
        return ", ".join(parts) or None


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.M)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.M
)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)", re.M)


def parse_wrk(output: str) -> Measurement:
    """The figures of wrk's ``--latency`` report; ValueError if they are not there."""
    rps = _RPS.search(output)
    requests = _REQUESTS.search(output)
    percentiles = {
        match[1]: float(match[2]) * _UNITS_MS[match[3]] for match in _PERCENTILE.finditer(output)
    }
    if rps is None or requests is None or set(percentiles) != {"50", "99"}:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    socket_errors = _SOCKET_ERRORS.search(output)
    if socket_errors:
        errors = dict(zip(errors, map(int, socket_errors.groups()), strict=True))
    non_2xx = _NON_2XX.search(output)
    return Measurement(
        rps=float(rps[1]),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(requests[1]),
        errors=errors,
        non_2xx_3xx=int(non_2xx[1]) if non_2xx else 0,
    )


def run_wrk(url: str, script: Path, seconds: int, settings: Settings, cpu: int | None) -> str:
    argv = [
        "wrk",
        f"--threads={settings.threads}",
        f"--connections={settings.connections}",
        f"--duration={seconds}s",
        f"--timeout={settings.timeout_s}s",
        "--latency",
        f"--script={script}",
        url,
    ]
    done = subprocess.run(
        pinned(cpu, argv),
        capture_output=True,
        text=True,
        timeout=seconds + settings.timeout_s + 30,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}: {done.stderr or done.stdout}")
    return done.stdout


def wrk_version() -> str:
    try:
        done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    except OSError:
        return "wrk (unknown version)"
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk (unknown version)"


# -- the run -------------------------------------------------------------------------------


@dataclass
class Cell:
    """One (server, app, scenario): the best measured run, or why there is none."""

    measurement: Measurement | None = None
    failure: str | None = None
    unsupported: str | None = None


CellKey = tuple[str, str, str, str]  # server name, framework, view kind, scenario name


def key(server: Server, case: AppCase, scenario: Scenario) -> CellKey:
    return (server.name, case.framework, case.view, scenario.name)


@contextlib.contextmanager
def running_servers(
    server: Server, cases: Sequence[AppCase], cpu: int | None, log_dir: Path, log: Log
) -> Iterator[list[RunningServer]]:
    """Every app of ``cases`` under ``server``, started side by side; all stopped after."""
    env = server_environment()
    started: list[RunningServer] = []
    try:
        for case in cases:
            running = RunningServer(server, case, cpu, log_dir, env)
            started.append(running)
            running.launch()
        with httpx.Client(trust_env=False) as client:
            for running in started:
                running.wait_ready(client)
                if running.failure:
                    log(f"  {running.case.label}: {running.failure}")
        yield started
    finally:
        for running in started:
            running.stop()


def bench_server(
    server: Server,
    cases: Sequence[AppCase],
    scenarios: Sequence[Scenario],
    scripts: dict[str, Path],
    settings: Settings,
    cpus: tuple[int | None, int | None],
    log_dir: Path,
    cells: dict[CellKey, Cell],
    log: Log,
) -> None:
    """Start, check and load every (app, scenario) under ``server``; fill ``cells``."""
    server_cpu, wrk_cpu = cpus
    log(f"{server.name}: starting {len(cases)} servers ({', '.join(c.label for c in cases)})")
    with running_servers(server, cases, server_cpu, log_dir, log) as started:
        with httpx.Client(trust_env=False, timeout=10.0) as client:
            for running in started:
                for scenario in scenarios:
                    cell = cells.setdefault(key(server, running.case, scenario), Cell())
                    if scenario.name in running.case.unsupported:
                        cell.unsupported = running.case.unsupported[scenario.name]
                    elif running.failure:
                        cell.failure = f"server: {running.failure}"
                    else:
                        problem = check_cell(client, running, scenario)
                        if problem:
                            cell.failure = f"wrong answer: {problem}"
        failed = sum(1 for r in started for s in scenarios if cells[key(server, r.case, s)].failure)
        log(f"{server.name}: checked, {failed} failed cells; loading")
        for round_ in range(settings.rounds):
            for index, scenario in enumerate(scenarios):
                todo = [
                    running
                    for running in started
                    if not cells[key(server, running.case, scenario)].failure
                    and not cells[key(server, running.case, scenario)].unsupported
                ]
                if not todo:
                    continue
                # Rotate the first app so that none always runs right after the checks.
                shift = (round_ + index) % len(todo)
                for running in todo[shift:] + todo[:shift]:
                    cell = cells[key(server, running.case, scenario)]
                    if cell.failure:
                        continue
                    url = running.base_url + scenario.path
                    script = scripts[scenario.name]
                    try:
                        if settings.warmup_s:
                            run_wrk(url, script, settings.warmup_s, settings, wrk_cpu)
                        measured = parse_wrk(
                            run_wrk(url, script, settings.duration_s, settings, wrk_cpu)
                        )
                    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                        cell.failure = f"wrk: {exc}"
                        continue
                    if not running.alive():
                        cell.failure = f"the server died: {running.log_tail()}"
                    elif measured.problem:
                        cell.failure = measured.problem
                        cell.measurement = measured
                    elif cell.measurement is None or measured.rps > cell.measurement.rps:
                        cell.measurement = measured
                    app = f"{running.case.framework} {running.case.view}"
                    shown = f"{measured.rps:9.0f} req/s, p99 {measured.p99_ms:7.2f} ms"
                    log(
                        f"  {scenario.name:10} {app:16} {shown}"
                        + (f"  FAILED: {cell.failure}" if cell.failure else "")
                    )


# -- report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Ambi's req/s over a peer's, on every scenario, at least ``threshold``."""

    servers: tuple[str, ...]
    view: str
    peer: tuple[str, str]
    threshold: float
    text: str


UVICORNS = tuple(s.name for s in SERVERS if s.name.startswith("uvicorn"))
GUNICORNS = tuple(s.name for s in SERVERS if s.name.startswith("gunicorn"))

#: issue 6's end-to-end targets
TARGETS: tuple[Target, ...] = (
    Target(GUNICORNS, "def", ("raw", "def"), 0.9, "Ambi `def` ≥ 0.9× the raw WSGI app's req/s"),
    Target(
        UVICORNS,
        "async",
        ("starlette", "async"),
        1.0,
        "Ambi `async def` ≥ Starlette `async def` req/s",
    ),
    Target(UVICORNS, "async", ("falcon", "async"), 1.0, "Ambi `async def` ≥ Falcon ASGI req/s"),
)
#: comparisons reported next to the targets, with no target of their own
ALSO: tuple[Target, ...] = (
    Target(
        UVICORNS, "def", ("starlette", "def"), 1.0, "Ambi `def` vs Starlette `def` (thread hop)"
    ),
    Target(
        GUNICORNS,
        "async",
        ("flask", "async"),
        1.0,
        "Ambi `async def` vs Flask `async def` (loop entry)",
    ),
)


def _native(interface: str) -> str:
    return "async" if interface == "asgi" else "def"


def ordered(cases: Sequence[AppCase], interface: str) -> list[AppCase]:
    """The cases of ``interface`` in report order: raw, ambi, peers; native view first."""
    rank = {name: index for index, (name, _) in enumerate(FRAMEWORKS)}
    chosen = [case for case in cases if case.interface == interface]
    return sorted(chosen, key=lambda c: (rank[c.framework], c.view != _native(interface)))


def _rps(cells: dict[CellKey, Cell], k: CellKey) -> float | None:
    cell = cells.get(k)
    if cell is None or cell.failure or cell.measurement is None:
        return None
    return cell.measurement.rps


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _cell_text(cell: Cell | None) -> str:
    if cell is None:
        return "—"
    if cell.unsupported:
        return "n/a"
    if cell.failure:
        return "**FAILED**"
    if cell.measurement is None:
        return "—"
    return f"{cell.measurement.rps:,.0f} ({_ms(cell.measurement.p99_ms)})"


def _ratio_columns(
    server: Server, server_cases: list[AppCase]
) -> list[tuple[str, tuple[str, str], tuple[str, str], float | None]]:
    """(header, ambi (framework, view), other (framework, view), target threshold or None)."""
    columns = []
    ambi_views = [c.view for c in server_cases if c.framework == "ambi"]
    goals = {(t.view, t.peer): t.threshold for t in TARGETS if server.name in t.servers}
    for view in ambi_views:
        for raw in (c for c in server_cases if c.framework == "raw"):
            goal = goals.get((view, (raw.framework, raw.view)))
            columns.append((f"ambi {view} ÷ raw", ("ambi", view), ("raw", raw.view), goal))
    for view in ambi_views:
        for case in server_cases:
            if case.framework in ("raw", "ambi") or case.view != view:
                continue
            peer = (case.framework, case.view)
            header = f"ambi {view} ÷ {case.framework} {case.view}"
            columns.append((header, ("ambi", view), peer, goals.get((view, peer))))
    return columns


def server_section(
    server: Server,
    cases: Sequence[AppCase],
    scenarios: Sequence[Scenario],
    cells: dict[CellKey, Cell],
) -> list[str]:
    server_cases = ordered(cases, server.interface)
    header = ["scenario", *(f"{c.framework} {c.view}" for c in server_cases)]
    rows = [
        [s.title, *(_cell_text(cells.get(key(server, c, s))) for c in server_cases)]
        for s in scenarios
    ]
    parts = [
        f"## {server.title} (`{server.name}`)",
        "",
        "Requests per second (higher is better), and in brackets the p99 latency in ms.",
        "",
        _table(header, rows, ["---"] + ["--:"] * len(server_cases)),
        "",
    ]
    columns = _ratio_columns(server, server_cases)
    if columns:
        ratio_rows = []
        for scenario in scenarios:
            row = [scenario.title]
            for _, (a_fw, a_view), (b_fw, b_view), goal in columns:
                mine = _rps(cells, (server.name, a_fw, a_view, scenario.name))
                theirs = _rps(cells, (server.name, b_fw, b_view, scenario.name))
                if mine is None or not theirs:
                    row.append("—")
                    continue
                ratio = mine / theirs
                text = f"{ratio:.2f}"
                row.append(f"**{text}**" if goal is not None and ratio < goal else text)
            ratio_rows.append(row)
        headers = [
            name + (f" (target ≥ {goal:g})" if goal is not None else "")
            for name, _, _, goal in columns
        ]
        parts += [
            "Ambi's req/s over the other app's on this server (> 1: Ambi serves more; "
            "**bold**: below the target).",
            "",
            _table(["scenario", *headers], ratio_rows, ["---"] + ["--:"] * len(columns)),
            "",
        ]
    return parts


def assess(
    goal: Target,
    servers: Sequence[Server],
    scenarios: Sequence[Scenario],
    cells: dict[CellKey, Cell],
    is_target: bool = True,
) -> list[str]:
    """One line per server of ``goal``: met or not, with each scenario's ratio."""
    lines = []
    for server in servers:
        if server.name not in goal.servers:
            continue
        figures, verdicts = [], []
        for scenario in scenarios:
            ambi_cell = cells.get((server.name, "ambi", goal.view, scenario.name))
            peer_cell = cells.get((server.name, *goal.peer, scenario.name))
            if ambi_cell is None or peer_cell is None or peer_cell.unsupported:
                continue
            mine = _rps(cells, (server.name, "ambi", goal.view, scenario.name))
            theirs = _rps(cells, (server.name, *goal.peer, scenario.name))
            if mine is None or not theirs:
                figures.append(f"{scenario.name} failed")
                verdicts.append(False)
                continue
            ratio = mine / theirs
            ok = ratio >= goal.threshold
            verdicts.append(ok)
            shown = f"{scenario.name} {ratio:.2f}× ({mine:,.0f} vs {theirs:,.0f})"
            figures.append(shown if ok else f"**{shown}**")
        if not verdicts:
            continue
        if is_target:
            verdict = "met" if all(verdicts) else "**not met**"
        else:
            behind = verdicts.count(False)
            verdict = f"behind on {behind} of {len(verdicts)}" if behind else "ahead on all"
        lines.append(f"- {goal.text}, `{server.name}`: {verdict}: {'; '.join(figures)}")
    return lines


def render(
    servers: Sequence[Server],
    cases: Sequence[AppCase],
    scenarios: Sequence[Scenario],
    cells: dict[CellKey, Cell],
    settings: Settings,
    cpus: tuple[int | None, int | None],
    notes: list[str],
    command: str,
    elapsed_s: float,
) -> str:
    packages = versions()
    server_cpu, wrk_cpu = cpus
    pinning = (
        f"servers pinned to CPU {server_cpu}, wrk to CPU {wrk_cpu} (`taskset`)"
        if server_cpu is not None
        else "**not pinned** (fewer than two CPUs available)"
    )
    failures = sorted(
        (k, cell.failure) for k, cell in cells.items() if cell.failure and not cell.unsupported
    )
    parts = [
        "# Ambi end-to-end benchmark",
        "",
        f"Generated by `{command}`; see benchmarks/README.md for what is measured and how "
        "to read it. **Numbers are only comparable within one run.**",
        "",
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {elapsed_s / 60:.1f} min in all",
        f"- load: wrk, {settings.threads} thread, {settings.connections} connections, "
        f"{settings.warmup_s} s warm-up then {settings.duration_s} s measured per cell"
        + (f", best of {settings.rounds} rounds" if settings.rounds > 1 else "")
        + f"; request timeout {settings.timeout_s} s",
        f"- servers: one worker process each, access log off, `--log-level warning`; "
        f"uvicorn on the asyncio loop; {pinning}",
        f"- machine: {_cpu()}, {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}",
        f"- Python {sys.version.split()[0]} ({sys.implementation.name})",
        f"- packages: {', '.join(packages)}, {wrk_version()}",
        f"- result: {'**' + str(len(failures)) + ' failed cells**' if failures else 'no errors'}",
        "",
        "## Targets (issue 6)",
        "",
        "Ratio of Ambi's req/s to the other app's, per scenario; **bold**: below the target.",
        "",
        f"- zero errors throughout: {'met' if not failures else '**not met**'}"
        + (f" ({len(failures)} failed cells, listed below)" if failures else ""),
    ]
    for goal in TARGETS:
        parts += assess(goal, servers, scenarios, cells) or [f"- {goal.text}: not measured"]
    also = [line for goal in ALSO for line in assess(goal, servers, scenarios, cells, False)]
    if also:
        parts += ["", "Also compared (no target; **bold**: Ambi serves fewer req/s):", "", *also]
    parts.append("")
    for server in servers:
        parts += server_section(server, cases, scenarios, cells)
    if failures:
        parts += ["## Failed cells", ""]
        for (server_name, framework, view, scenario_name), why in failures:
            reason = " ".join(str(why).split())
            parts.append(f"- `{server_name}` {framework} {view} / {scenario_name}: {reason}")
        parts.append("")
    unsupported = sorted(
        {
            f"{case.label} / {name}: {why}"
            for case in cases
            for name, why in case.unsupported.items()
            if name in {scenario.name for scenario in scenarios}
        }
    )
    if notes or unsupported:
        parts += ["## Notes", ""]
        parts += [f"- {note}" for note in notes]
        parts += [f"- n/a: {line}" for line in unsupported]
        parts.append("")
    detail = []
    for server in servers:
        for case in ordered(cases, server.interface):
            for scenario in scenarios:
                cell = cells.get(key(server, case, scenario))
                if cell is None or cell.measurement is None:
                    continue
                m = cell.measurement
                detail.append(
                    [
                        server.name,
                        f"{case.framework} {case.view}",
                        scenario.name,
                        f"{m.rps:,.0f}",
                        _ms(m.p50_ms),
                        _ms(m.p99_ms),
                        f"{m.requests:,}",
                        str(sum(m.errors.values()) + m.non_2xx_3xx),
                    ]
                )
    if detail:
        parts += [
            "## All measurements",
            "",
            _table(
                ["server", "app", "scenario", "req/s", "p50 ms", "p99 ms", "requests", "errors"],
                detail,
                ["---", "---", "---", "--:", "--:", "--:", "--:", "--:"],
            ),
            "",
        ]
    return "\n".join(parts)


def versions(*extra: str) -> list[str]:
    """``name version`` of the frameworks (as inprocess.py lists them), then of the servers'
    packages and of ``extra``, each that is installed."""
    found = list(_versions())
    for name in (*SERVER_PACKAGES, *extra):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return found


# -- main ----------------------------------------------------------------------------------


def _pick_cpus() -> tuple[int | None, int | None]:
    """(server CPU, wrk CPU): the first two this process may run on, else no pinning."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None, None
    if len(allowed) < 2 or shutil.which("taskset") is None:
        return None, None
    return allowed[0], allowed[1]


@dataclass
class Selection:
    frameworks: set[str] | None = None
    servers: set[str] | None = None
    scenarios: set[str] | None = None
    views: set[str] | None = None


def parse_only(text: str | None) -> Selection:
    """``--only``: comma-separated names of frameworks, servers (or ``uvicorn`` /
    ``gunicorn``), scenarios and view kinds (``def`` / ``async``); each kind of name
    narrows its own dimension. Raw and Ambi stay in when frameworks are named."""
    selection = Selection()
    if not text:
        return selection
    frameworks = {name for name, _ in FRAMEWORKS}
    servers = {server.name for server in SERVERS}
    families = {name.split("-")[0] for name in servers}
    scenarios = {scenario.name for scenario in SCENARIOS}
    for token in filter(None, (part.strip() for part in text.split(","))):
        if token in frameworks:
            selection.frameworks = (selection.frameworks or {"raw", "ambi"}) | {token}
        elif token in servers or token in families:
            chosen = {name for name in servers if token in (name, name.split("-")[0])}
            selection.servers = (selection.servers or set()) | chosen
        elif token in scenarios:
            selection.scenarios = (selection.scenarios or set()) | {token}
        elif token in ("def", "async"):
            selection.views = (selection.views or set()) | {token}
        else:
            known = sorted(frameworks | servers | families | scenarios | {"def", "async"})
            raise SystemExit(f"--only: unknown name {token!r}; known: {', '.join(known)}")
    return selection


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 s per cell instead of 4 (rough numbers)"
    )
    parser.add_argument("--duration", type=int, help="seconds measured per cell (default 4)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="seconds of warm-up per cell (default 1; 0: none)"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure each cell this many times, keep the best"
    )
    parser.add_argument(
        "--only",
        help="comma-separated frameworks, servers (or uvicorn/gunicorn), scenarios and view "
        "kinds (def/async) to run; raw and ambi are always included",
    )
    parser.add_argument("--output", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    if shutil.which("wrk") is None:
        print(
            "e2e.py needs wrk (https://github.com/wg/wrk); on Debian: apt-get install wrk",
            file=sys.stderr,
        )
        return 2
    duration = args.duration or (2 if args.quick else 4)
    settings = Settings(
        duration_s=duration,
        warmup_s=max(0, args.warmup),
        connections=args.connections,
        threads=1,
        timeout_s=2,
        rounds=max(1, args.rounds),
    )
    selection = parse_only(args.only)
    cases, notes = load_cases(selection.frameworks)
    if selection.views is not None:
        cases = [case for case in cases if case.view in selection.views]
    servers = [s for s in SERVERS if selection.servers is None or s.name in selection.servers]
    scenarios = [
        s for s in SCENARIOS if selection.scenarios is None or s.name in selection.scenarios
    ]
    for note in notes:
        log(f"note: {note}")
    plan = [(server, [c for c in cases if c.interface == server.interface]) for server in servers]
    plan = [(server, server_cases) for server, server_cases in plan if server_cases]
    cell_count = sum(
        1
        for _, server_cases in plan
        for case in server_cases
        for scenario in scenarios
        if scenario.name not in case.unsupported
    )
    log(
        f"{cell_count} cells ({len(plan)} servers × apps × {len(scenarios)} scenarios), "
        f"about {cell_count * settings.per_cell_s / 60:.1f} min of load"
    )
    cpus = _pick_cpus()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    cells: dict[CellKey, Cell] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="ambi-e2e-") as tmp:
            scripts = {}
            for scenario in scenarios:
                path = Path(tmp) / f"{scenario.name}.lua"
                path.write_text(wrk_script(scenario), encoding="utf-8")
                scripts[scenario.name] = path
            for server, server_cases in plan:
                bench_server(
                    server, server_cases, scenarios, scripts, settings, cpus, Path(tmp), cells, log
                )
    finally:
        signal.signal(signal.SIGTERM, previous)
    command = " ".join(["python benchmarks/e2e.py", *(sys.argv[1:] if argv is None else argv)])
    report = render(
        [server for server, _ in plan],
        cases,
        scenarios,
        cells,
        settings,
        cpus,
        notes,
        command,
        time.perf_counter() - started,
    )
    publish(report, args.output, log)
    failed = [k for k, cell in cells.items() if cell.failure]
    if failed:
        log(f"{len(failed)} cells FAILED (see the report)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
