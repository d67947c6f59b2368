"""Footprint: import time, and memory per idle worker under a real server.

    python benchmarks/footprint.py [--quick] [--output FILE] [--only flask,starlette]

Two measurements, side by side for Ambi and its peers, printed as a markdown report:

1. **Import time.** A fresh ``python -c "<imports>"`` per run, for the imports a minimal
   app of each framework needs; reported as the median wall time minus the median of a
   bare ``python -c pass`` (the interpreter's own start-up), and as the ``-X importtime``
   cumulative time of those imports (what the import system itself counts). Runs are
   interleaved across frameworks, after one discarded run each (which also writes the
   bytecode caches).
2. **Memory per idle worker.** Each framework's benchmark app (``apps/*``, the very apps
   the in-process benchmark times) under its real server on 127.0.0.1 at an ephemeral
   port, started as e2e.py starts it (:func:`e2e.serve`): uvicorn with its httptools
   protocol (e2e's ``uvicorn-httptools``) for the ASGI apps, gunicorn with one sync worker
   (``gunicorn-sync``) for the WSGI apps. After 100 ``GET /`` requests (each answer
   checked) and a short pause, the worker process's ``VmRSS`` and ``RssAnon`` are read
   from ``/proc/<pid>/status`` (for gunicorn the worker child, not the arbiter; the
   arbiter's RSS is shown apart). The raw apps give the floor:
   the server, the interpreter and a hand-written app doing the same work (with Jinja2
   and the compiled template, like every app module here).

Every server runs in its own session and is stopped (SIGTERM to its process group, a
bounded wait, then SIGKILL) when its measurement is done, and on any error or interrupt.
Linux only (``/proc``). Bounded: about a minute, under two.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apps.common import HELLO
from e2e import HOST, ServerError, _stop_on_sigterm, serve, versions
from inprocess import _cpu, _table, publish

HERE = Path(__file__).resolve().parent
REQUESTS = 100
#: after the requests, before reading the worker's memory
IDLE_PAUSE = 0.5


# -- import time ---------------------------------------------------------------------------

#: framework -> the imports a minimal app with it needs (its top package alone may import
#: next to nothing: ``import starlette`` does not load the framework).
IMPORTS: dict[str, tuple[str, ...]] = {
    "ambi": ("ambi",),
    "flask": ("flask",),
    "starlette": (
        "starlette.applications",
        "starlette.requests",
        "starlette.responses",
        "starlette.routing",
    ),
    "falcon": ("falcon",),
    "quart": ("quart",),
}
FRAMEWORKS = tuple(IMPORTS)


@dataclass
class ImportResult:
    framework: str
    statement: str
    #: median wall ms of ``python -c <statement>`` minus that of ``python -c pass``
    wall_ms: float
    #: median of the -X importtime cumulative ms of the statement's imports
    importtime_ms: float
    runs: int


def _python_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(HERE)
    return env


def _wall_ms(statement: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", statement],
        env=_python_env(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return (time.perf_counter() - started) * 1000


_IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)")


def _importtime_ms(statement: str, packages: set[str]) -> float:
    """The cumulative ms ``-X importtime`` reports for the top-level imports the statement
    caused (entries of ``packages`` and their submodules, outermost only)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        env=_python_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    total_us = 0
    for line in done.stderr.splitlines():
        match = _IMPORTTIME_LINE.match(line)
        if match is None:
            continue
        _self, cumulative, indent, name = match.groups()
        # Nested imports are indented by two spaces per level; only outermost ones count.
        if len(indent) == 1 and name.split(".")[0] in packages:
            total_us += int(cumulative)
    return total_us / 1000


def measure_imports(
    frameworks: Sequence[str], runs: int, log: Callable[[str], None]
) -> tuple[float, list[ImportResult]]:
    """The bare interpreter's start-up ms, and each framework's import cost."""
    statements = {name: "import " + ", ".join(IMPORTS[name]) for name in frameworks}
    packages = {name: {module.split(".")[0] for module in IMPORTS[name]} for name in frameworks}
    bare: list[float] = []
    wall: dict[str, list[float]] = {name: [] for name in frameworks}
    cumulative: dict[str, list[float]] = {name: [] for name in frameworks}
    _wall_ms("pass")
    for name in frameworks:  # discarded: warms the OS caches, writes the .pyc files
        _wall_ms(statements[name])
    for run in range(runs):
        bare.append(_wall_ms("pass"))
        shift = run % len(frameworks)
        for name in [*frameworks[shift:], *frameworks[:shift]]:
            wall[name].append(_wall_ms(statements[name]))
            cumulative[name].append(_importtime_ms(statements[name], packages[name]))
        log(f"  import time: round {run + 1}/{runs}")
    bare_ms = statistics.median(bare)
    results = [
        ImportResult(
            name,
            statements[name],
            statistics.median(wall[name]) - bare_ms,
            statistics.median(cumulative[name]),
            runs,
        )
        for name in frameworks
    ]
    return bare_ms, results


# -- servers -------------------------------------------------------------------------------

#: e2e.py's server (see :data:`e2e.SERVERS`) -> its name in this report, and the packages
#: it needs
SERVER_LABELS: dict[str, str] = {"uvicorn-httptools": "uvicorn", "gunicorn-sync": "gunicorn sync"}
SERVER_NEEDS: dict[str, tuple[str, ...]] = {
    "uvicorn-httptools": ("uvicorn", "httptools"),
    "gunicorn-sync": ("gunicorn",),
}


@dataclass(frozen=True)
class ServedApp:
    """One framework's benchmark app under one server."""

    framework: str
    #: the server's name in e2e.py's SERVERS
    server: str
    #: ``module:attribute`` in benchmarks/apps
    target: str
    #: the distribution that must be installed for it (besides the server)
    needs: str

    @property
    def server_label(self) -> str:
        return SERVER_LABELS[self.server]

    @property
    def label(self) -> str:
        return f"{self.framework} / {self.server_label}"


SERVED: tuple[ServedApp, ...] = (
    ServedApp("raw", "uvicorn-httptools", "apps.raw:asgi_app", "uvicorn"),
    ServedApp("raw", "gunicorn-sync", "apps.raw:wsgi_app", "gunicorn"),
    ServedApp("ambi", "uvicorn-httptools", "apps.ambi_app:app_async", "ambi"),
    ServedApp("ambi", "gunicorn-sync", "apps.ambi_app:app_def", "ambi"),
    ServedApp("flask", "gunicorn-sync", "apps.flask_app:app_def", "flask"),
    ServedApp("starlette", "uvicorn-httptools", "apps.starlette_app:app_async", "starlette"),
    ServedApp("falcon", "uvicorn-httptools", "apps.falcon_app:asgi_app", "falcon"),
    ServedApp("falcon", "gunicorn-sync", "apps.falcon_app:wsgi_app", "falcon"),
    ServedApp("quart", "uvicorn-httptools", "apps.quart_app:app_async", "quart"),
)


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                # pid (comm) state ppid ...; comm may contain spaces and parentheses.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _memory_kib(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                values[key] = int(rest.split()[0])
    return values


@dataclass
class MemoryResult:
    served: ServedApp
    #: the worker's VmRSS and RssAnon, MiB
    rss_mib: float
    anon_mib: float
    #: gunicorn's arbiter VmRSS, MiB (None for a single-process server)
    arbiter_mib: float | None


def measure_memory(served: ServedApp, log_dir: Path) -> MemoryResult:
    with serve(served.server, served.target, log_dir, env=_python_env()) as server:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=10.0)
        try:
            for number in range(REQUESTS):
                status, body = _get(conn, "/")
                if status != 200 or body != HELLO.encode():
                    raise ServerError(
                        f"request {number + 1}: {status} {body[:200]!r}\n--- log ---\n"
                        f"{server.log_tail()}"
                    )
        finally:
            conn.close()
        time.sleep(IDLE_PAUSE)
        arbiter = server.pid
        workers = _children(arbiter) if served.server.startswith("gunicorn") else [arbiter]
        if len(workers) != 1:
            raise ServerError(f"expected one worker under pid {arbiter}, found {workers}")
        worker = _memory_kib(workers[0])
        arbiter_mib = None
        if workers[0] != arbiter:
            arbiter_mib = _memory_kib(arbiter)["VmRSS"] / 1024
        return MemoryResult(served, worker["VmRSS"] / 1024, worker["RssAnon"] / 1024, arbiter_mib)


# -- report --------------------------------------------------------------------------------


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}" if base else "—"


def render(
    bare_ms: float,
    imports: list[ImportResult],
    memory: list[MemoryResult],
    notes: list[str],
    quick: bool,
    elapsed_s: float,
) -> str:
    parts = [
        "# Ambi footprint: import time and memory per idle worker",
        "",
        "Generated by `python benchmarks/footprint.py" + (" --quick" if quick else "") + "`; "
        "see benchmarks/README.md. **Numbers are only comparable within one run.**",
        "",
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {elapsed_s:.0f} s in all",
        f"- machine: {_cpu()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- packages: {', '.join(versions('jinja2'))}",
        "",
    ]
    if imports:
        ambi_import = next((r for r in imports if r.framework == "ambi"), None)
        rows = [
            [
                result.framework,
                f"`{result.statement}`",
                f"{result.wall_ms:.0f}",
                f"{result.importtime_ms:.0f}",
                _ratio(ambi_import.wall_ms, result.wall_ms) if ambi_import else "—",
            ]
            for result in imports
        ]
        parts += [
            "## Import time (lower is better)",
            "",
            f"Median of {imports[0].runs} fresh interpreters each. *wall*: the time of "
            f'`python -c "<imports>"` minus that of `python -c pass` ({bare_ms:.0f} ms here); '
            "*importtime*: the cumulative time `python -X importtime` reports for those "
            "imports. `ambi / x` compares the wall times.",
            "",
            _table(
                ["framework", "imports", "wall ms", "importtime ms", "ambi / x"],
                rows,
                ["---", "---", "--:", "--:", "--:"],
            ),
            "",
        ]
    if memory:
        floors = {m.served.server: m.rss_mib for m in memory if m.served.framework == "raw"}
        rows = []
        for result in memory:
            floor = floors.get(result.served.server)
            rows.append(
                [
                    result.served.framework,
                    result.served.server_label,
                    f"`{result.served.target}`",
                    f"{result.rss_mib:.1f}",
                    f"{result.rss_mib - floor:+.1f}" if floor is not None else "—",
                    f"{result.anon_mib:.1f}",
                    f"{result.arbiter_mib:.1f}" if result.arbiter_mib is not None else "—",
                ]
            )
        parts += [
            "## Memory per idle worker (lower is better)",
            "",
            f"Each app under its server on {HOST}, one worker; after {REQUESTS} `GET /` "
            "requests and a short pause, the worker process's `VmRSS` (resident memory) "
            "and `RssAnon` (its private, anonymous part: the heap, not the shared "
            "libraries) from `/proc/<pid>/status`. For gunicorn that is the sync worker "
            "process; its arbiter is a separate process, shown apart. *over raw*: VmRSS "
            "minus that of the raw app under the same server (the server, the interpreter, "
            "Jinja2 and a hand-written app). Each app module builds both of its apps (`def` "
            "and `async def` views; Falcon's WSGI and ASGI apps) with all six benchmark "
            "scenarios (100 routes, a Jinja2 environment for the template), and the worker "
            "loads it whole.",
            "",
            _table(
                [
                    "framework",
                    "server",
                    "app",
                    "worker VmRSS MiB",
                    "over raw MiB",
                    "worker RssAnon MiB",
                    "arbiter VmRSS MiB",
                ],
                rows,
                ["---", "---", "---", "--:", "--:", "--:", "--:"],
            ),
            "",
        ]
    if notes:
        parts += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(parts)


# -- main ----------------------------------------------------------------------------------


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer import-time runs")
    parser.add_argument("--output", type=Path, help="also write the markdown report here")
    parser.add_argument(
        "--only",
        help="comma-separated frameworks (raw and ambi are always included)",
    )
    parser.add_argument(
        "--skip",
        choices=("imports", "memory"),
        action="append",
        default=[],
        help="leave out one of the two measurements",
    )
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("footprint.py reads /proc: Linux only", file=sys.stderr)
        return 2
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    wanted = set(FRAMEWORKS) | {"raw"}
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")} | {"raw", "ambi"}
    notes: list[str] = []

    frameworks = [name for name in FRAMEWORKS if name in wanted]
    for name in [name for name in frameworks if not _installed(name)]:
        notes.append(f"{name}: not installed, skipped")
        frameworks.remove(name)

    bare_ms = 0.0
    imports: list[ImportResult] = []
    if "imports" not in args.skip and frameworks:
        runs = 5 if args.quick else 9
        log(f"import time: {', '.join(frameworks)}, {runs} runs each")
        bare_ms, imports = measure_imports(frameworks, runs, log)

    memory: list[MemoryResult] = []
    if "memory" not in args.skip:
        with tempfile.TemporaryDirectory(prefix="ambi-footprint-") as log_dir:
            for served in SERVED:
                if served.framework not in wanted:
                    continue
                needs = dict.fromkeys((served.needs, *SERVER_NEEDS[served.server]))
                missing = [name for name in needs if not _installed(name)]
                if missing:
                    notes.append(f"{served.label}: skipped, {' and '.join(missing)} not installed")
                    continue
                log(f"memory: {served.label} ({served.target})")
                try:
                    memory.append(measure_memory(served, Path(log_dir)))
                except ServerError as exc:
                    print(f"\n{served.label} FAILED: {exc}", file=sys.stderr)
                    return 1

    report = render(bare_ms, imports, memory, notes, args.quick, time.perf_counter() - started)
    publish(report, args.output, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
