"""Load and soak: 64 keep-alive connections for a minute or more on a real server, zero
errors, no memory growth, and threads and tasks back to normal afterwards.

Each server is started fresh for its test, serving ``tests.server_apps.soak_app:app``
(a mix of ``def`` and ``async def`` views: plain text, a ~1 KB JSON echo, a multipart
upload answered with its sha256, sync and async streamed responses):

* uvicorn, with its access log off (it would cost the server a third of its time);
* gunicorn gthread, one worker with ``--threads 64``, so every connection gets a thread.

Both run with glibc's per-thread malloc cache off (:data:`MALLOC_ENVIRONMENT` says why),
and, under ``pytest --cov``, without coverage (:data:`COVERAGE_VARIABLES`).

The load comes from ``tests/_loadgen.py`` in its own process (raw keep-alive sockets,
random content per request, every answer checked byte for byte), for at least
:data:`MIN_SECONDS` and until :data:`TARGET_REQUESTS` answers, but at most
:data:`MAX_SECONDS`. While it runs, this test samples the serving process (the gunicorn
worker, not its arbiter) from ``/proc/<pid>``: resident memory (``VmRSS``) and threads.

Required: no error; ``VmRSS`` at the end within :data:`RSS_GROWTH_LIMIT` of its value at
the warm-up mark (:data:`WARM_UP_SECONDS` and :data:`WARM_UP_REQUESTS`); every request
torn down exactly once (the app counts both); afterwards, the asyncio tasks and the
threads back to their baseline:

* uvicorn: the counts from before the load. The worker threads of ``def`` views and sync
  streams stay in their pool until idle for 10 s (``ambi._drivers._IDLE_SECONDS``), so the
  test waits that long, then polls (``GET /text``, a ``def`` view) until they are gone.
* gunicorn gthread: its thread pool is fixed by design (threads are started up to
  ``--threads`` and kept), so the baseline is the warm-up's count; besides, the pool never
  exceeds ``--threads`` and no other thread appears. Tasks: none left on the worker
  threads' persistent loops (where ``async def`` views run under WSGI).

The figures go to the end of the pytest output and to ``.pytest-reports/soak-<server>.json``
(``tests/_reports.py``). Run this suite alone with ``python -m pytest -m slow``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

try:
    from tests._reports import report
    from tests._servers import REPO_ROOT, RunningServer, start_server
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _reports import report  # type: ignore[no-redef]
    from _servers import REPO_ROOT, RunningServer, start_server  # type: ignore[no-redef]

pytestmark = [pytest.mark.server, pytest.mark.slow]

TARGET = "tests.server_apps.soak_app:app"
CONNECTIONS = 64
MIN_SECONDS = 60.0
MAX_SECONDS = 100.0
TARGET_REQUESTS = 100_000
#: Below this many answers the run says nothing about a soak: the machine is too busy.
FLOOR_REQUESTS = 30_000
WARM_UP_SECONDS = 10.0
WARM_UP_REQUESTS = 10_000
RSS_GROWTH_LIMIT = 0.05
#: How long the threads and tasks may take to return to their baseline after the load.
SETTLE_DEADLINE = 40.0
#: How long Ambi's idle worker threads live (ambi._drivers._IDLE_SECONDS), plus a margin.
WORKER_IDLE_REAP = 10.5
GUNICORN_THREADS = 64
SERVER_ARGS = {
    "uvicorn": ["--no-access-log"],
    "gunicorn": ["--threads", str(GUNICORN_THREADS)],
}
#: The servers run with glibc's per-thread allocation cache (tcache) off. With it on, a
#: worker process whose many threads allocate buffers of varying sizes (request bodies)
#: keeps growing its RSS by tens of MB per minute with no Python object leaked — a plain
#: WSGI callable with no framework does the same under gunicorn --threads 64 (measured:
#: 75 -> 193 MiB in 80 s of 1-9 KB uploads, against a flat 25 MiB with the cache off).
#: That growth would hide any leak of Ambi's; docs/operations.md tells deployers.
MALLOC_ENVIRONMENT = {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}
#: Under ``pytest --cov`` (CI) coverage starts itself in subprocesses whose environment has
#: these. The soak's server and load generator run without: tracing every line would
#: slow the server threefold and grow its memory with coverage's own data, and the same
#: code is measured by the other server tests.
COVERAGE_VARIABLES = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")
POOL_THREAD_PREFIX = {"uvicorn": "ambi worker thread", "gunicorn": "ThreadPoolExecutor"}
LOG_ALARMS = ("Traceback", "Exception in ASGI application", "Error", "ERROR", "CRITICAL")


@pytest.fixture
def soak_server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningServer]:
    """A server started for this test alone, so its memory and threads are this test's,
    with glibc's per-thread cache off (:data:`MALLOC_ENVIRONMENT`) and not measured by
    coverage (:data:`COVERAGE_VARIABLES`)."""
    # The server (and then the load generator) inherit the test's environment.
    for name, value in MALLOC_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in COVERAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    running = start_server(request.param, TARGET, extra_args=SERVER_ARGS[request.param])
    try:
        yield running
        if getattr(sys, "last_value", None) is not None:
            print(f"--- {running.name} log (port {running.port}) ---")
            print(running.log()[-20_000:])
    finally:
        running.stop()


def _status(pid: int) -> dict[str, int]:
    """``VmRSS`` (KiB) and the thread count of process ``pid``."""
    figures: dict[str, int] = {"threads": len(list(_proc(pid, "task").iterdir()))}
    for line in _proc(pid, "status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "VmRSS":
            figures["rss_kib"] = int(value.split()[0])
    return figures


def _proc(pid: int, name: str) -> Path:
    return Path(f"/proc/{pid}/{name}")


def _state(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/debug/state")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


def _pool_split(state: dict[str, Any], server: str) -> tuple[int, list[str]]:
    """The number of pool threads and the names of the others."""
    prefix = POOL_THREAD_PREFIX[server]
    names: list[str] = state["thread_names"]
    pool = sum(1 for name in names if name.startswith(prefix))
    return pool, sorted(name for name in names if not name.startswith(prefix))


def _run_load(server: RunningServer, pid: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the load generator; sample ``pid`` at the warm-up mark and every 10 s. The
    generator's final figures and the samples."""
    command = [
        sys.executable,
        str(REPO_ROOT / "tests" / "_loadgen.py"),
        "--port",
        str(server.port),
        "--connections",
        str(CONNECTIONS),
        "--duration",
        str(MIN_SECONDS),
        "--requests",
        str(TARGET_REQUESTS),
        "--max-duration",
        str(MAX_SECONDS),
    ]
    samples: dict[str, Any] = {"series": []}
    final: dict[str, Any] | None = None
    with subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as loadgen:
        assert loadgen.stdout is not None
        next_sample = 10.0
        for line in loadgen.stdout:
            progress = json.loads(line)
            if "final" in progress:
                final = progress["final"]
                break
            if "warm_up" not in samples and (
                progress["t"] >= WARM_UP_SECONDS and progress["requests"] >= WARM_UP_REQUESTS
            ):
                samples["warm_up"] = {**progress, **_status(pid)}
            if progress["t"] >= next_sample:
                samples["series"].append({**progress, **_status(pid)})
                next_sample += 10.0
        samples["end"] = _status(pid)
        _, errors = loadgen.communicate(timeout=30)
    assert loadgen.returncode == 0, errors
    assert final is not None, errors
    assert "warm_up" in samples, f"the warm-up mark was never reached: {final}"
    return final, samples


def _settle(
    http: httpx.Client, server: str, pid: int, before: dict[str, Any], warm_up: dict[str, Any]
) -> dict[str, Any]:
    """Poll until threads and tasks are back to their baseline; the last state seen."""
    if server == "uvicorn":
        time.sleep(WORKER_IDLE_REAP)  # the pool keeps idle threads this long
    deadline = time.monotonic() + SETTLE_DEADLINE
    while True:
        if server == "uvicorn":
            assert http.get("/text").status_code == 200  # a def view: idle threads are reaped
        state = _state(http)
        state["proc_threads"] = _status(pid)["threads"]
        if server == "uvicorn":
            settled = (
                state["threads"] == before["threads"]
                and state["proc_threads"] == before["proc_threads"]
                and state["tasks"] == before["tasks"]
            )
        else:
            settled = state["proc_threads"] == warm_up["threads"] and state["tasks"] == 0
        if settled or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


@pytest.mark.parametrize("soak_server", ["uvicorn", "gunicorn"], indirect=True)
def test_soak_64_connections_without_errors_leaks_or_growth(soak_server: RunningServer) -> None:
    name = soak_server.name
    with soak_server.client() as http:
        before = _state(http)
        pid = before["pid"]
        if name == "gunicorn":
            # The worker, not the arbiter: a child of the process started.
            assert before["ppid"] == soak_server.process.pid, before
        else:
            assert pid == soak_server.process.pid, before
        before["proc_threads"] = _status(pid)["threads"]
        log_start = soak_server.log_size()

        final, samples = _run_load(soak_server, pid)
        after = _settle(http, name, pid, before, samples["warm_up"])

    warm_up, end = samples["warm_up"], samples["end"]
    growth = (end["rss_kib"] - warm_up["rss_kib"]) / warm_up["rss_kib"]
    pool_after, others_after = _pool_split(after, name)
    _, others_before = _pool_split(before, name)
    summary = (
        f"soak {name}: {final['requests']} requests in {final['duration']:.0f} s"
        f" ({final['requests_per_second']:.0f} req/s, {CONNECTIONS} connections),"
        f" {final['errors']} errors; VmRSS {warm_up['rss_kib'] / 1024:.1f} MiB after warm-up"
        f" -> {end['rss_kib'] / 1024:.1f} MiB at the end ({growth:+.2%});"
        f" threads {before['proc_threads']} before, {warm_up['threads']} at warm-up,"
        f" {end['threads']} at the end, {after['proc_threads']} settled;"
        f" asyncio tasks {before['tasks']} before, {after['tasks']} settled;"
        f" teardowns {after['torn_down']} of {after['started']} requests"
    )
    report(
        f"soak-{name}",
        summary,
        {
            "server": name,
            "server_args": SERVER_ARGS[name],
            "server_environment": MALLOC_ENVIRONMENT,
            "load": final,
            "samples": samples,
            "state_before": before,
            "state_after": after,
            "rss_growth": growth,
        },
    )
    print(summary)

    assert final["errors"] == 0, final["error_samples"]
    assert final["requests"] >= FLOOR_REQUESTS, summary
    assert growth < RSS_GROWTH_LIMIT, summary
    # Every request was torn down exactly once (the one asking is still running).
    assert after["torn_down"] == after["started"] - 1, summary
    assert others_after == others_before, after["thread_names"]
    if name == "uvicorn":
        assert after["threads"] == before["threads"], summary
        assert after["proc_threads"] == before["proc_threads"], summary
        assert after["tasks"] == before["tasks"], summary
    else:
        assert pool_after <= GUNICORN_THREADS, after["thread_names"]
        assert after["proc_threads"] == warm_up["threads"], summary
        assert after["tasks"] == 0, summary
    log = soak_server.log(log_start)
    alarms = [line for line in log.splitlines() if any(word in line for word in LOG_ALARMS)]
    assert not alarms, log[-5000:]
