"""Memory stays bounded: a 200 MB upload under uvicorn and under gunicorn grows the
serving process's peak RSS by less than 32 MB.

Each case starts its own server, fresh, serving ``tests.server_apps.http_app:app``; the
upload route raises ``request.max_content_length`` to 300 MB in a ``before_request``
hook, saves the file part to disk with ``FileStorage.save()``, hashes the saved copy and
answers with its size, sha256, pid and ``VmHWM``/``VmRSS`` (``/proc/self/status``). The
body is generated lazily on the client (1 MiB at a time, hashed as it goes), so the test
process never holds it either.

The peak (``VmHWM``) is read after a warm-up upload of 4 MiB through the same route
(imports, thread pools, the parser and the spool files all used once), then again after
the 200 MB upload, from the process that handled both (the gunicorn worker, not its
arbiter). Each case sends the body with a ``Content-Length`` and, separately, chunked.
The figures are printed (shown with ``-rA``) and recorded as the test's ``memory``
property, in one line that can be quoted.

Checked once by hand that the measurement catches buffering: a route doing
``request.files["file"].read()`` on the same 200 MiB grew VmHWM by ~198 MiB on both.
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

try:
    from tests._servers import RunningServer, start_server
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import RunningServer, start_server  # type: ignore[no-redef]

pytestmark = pytest.mark.server

TARGET = "tests.server_apps.http_app:app"
MIB = 1024 * 1024
UPLOAD_MIB = 200
WARM_UP_MIB = 4
GROWTH_LIMIT_KIB = 32 * 1024  # 32 MiB
UPLOAD_TIMEOUT = 120.0
BOUNDARY = "AmbiMemoryBoundary5b1e0c6f2a9d4e87"
KINDS = {"def": "", "async": "-async"}

# (server, view kind): ASGI and WSGI, each with both view kinds.
CASES = [("uvicorn", "async"), ("uvicorn", "def"), ("gunicorn", "def"), ("gunicorn", "async")]


class LazyUpload:
    """A multipart body of one field and one ``size_mib`` MiB file, produced 1 MiB at a
    time; ``sha256`` and ``size`` describe the file part once the body was sent."""

    def __init__(self, size_mib: int) -> None:
        self.size_mib = size_mib
        self._block = random.Random(20240601).randbytes(MIB)
        self._head = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="note"\r\n\r\n'
            f"{size_mib} MiB\r\n"
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self._digest = hashlib.sha256()
        self.size = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={BOUNDARY}"

    @property
    def content_length(self) -> int:
        return len(self._head) + self.size_mib * MIB + len(self._tail)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        for number in range(self.size_mib):
            # Every MiB differs (its number up front), so a reordered or repeated chunk
            # changes the hash.
            chunk = number.to_bytes(8, "big") + self._block[8:]
            self._digest.update(chunk)
            self.size += len(chunk)
            yield chunk
        yield self._tail


def _upload(
    http: httpx.Client, path: str, size_mib: int, framing: str
) -> tuple[dict[str, Any], LazyUpload]:
    body = LazyUpload(size_mib)
    headers = {"Content-Type": body.content_type}
    if framing == "content-length":
        headers["Content-Length"] = str(body.content_length)
    # Otherwise httpx sends the generator with Transfer-Encoding: chunked.
    response = http.post(path, content=iter(body), headers=headers)
    assert response.status_code == 200, response.text[:2000]
    answer: dict[str, Any] = response.json()
    assert answer["fields"] == {"note": f"{size_mib} MiB"}
    assert answer["filename"] == "big.bin"
    assert (answer["size"], answer["sha256"]) == (body.size, body.sha256)
    assert body.size == size_mib * MIB
    return answer, body


def _memory(http: httpx.Client) -> dict[str, int]:
    response = http.get("/memory")
    assert response.status_code == 200, response.text
    figures: dict[str, int] = response.json()
    return figures


@pytest.fixture
def fresh_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A server started for this test alone, so its peak RSS is this test's."""
    running = start_server(request.param, TARGET)
    try:
        yield running
        if getattr(sys, "last_value", None) is not None:
            print(f"--- {running.name} log (port {running.port}) ---")
            print(running.log()[-20_000:])
    finally:
        running.stop()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize(
    ("fresh_server", "kind"),
    CASES,
    indirect=["fresh_server"],
    ids=[f"{server}-{kind}" for server, kind in CASES],
)
def test_200_mb_upload_keeps_peak_rss_growth_under_32_mb(
    fresh_server: RunningServer, kind: str, framing: str, record_property: Any
) -> None:
    path = f"/upload{KINDS[kind]}"
    with fresh_server.client(timeout=UPLOAD_TIMEOUT) as http:
        warm_up, _ = _upload(http, path, WARM_UP_MIB, framing)
        before = _memory(http)
        started = time.monotonic()
        answer, body = _upload(http, path, UPLOAD_MIB, framing)
        elapsed = time.monotonic() - started
        after = _memory(http)

    # One process handled everything: uvicorn's own, gunicorn's single worker.
    assert warm_up["pid"] == before["pid"] == answer["pid"] == after["pid"]
    if fresh_server.name == "uvicorn":
        assert answer["pid"] == fresh_server.process.pid
    else:
        assert answer["pid"] != fresh_server.process.pid  # the worker, not the arbiter
    growth = after["VmHWM"] - before["VmHWM"]
    line = (
        f"MEMORY {fresh_server.name} {kind} view: {UPLOAD_MIB} MiB upload ({framing})"
        f" (sha256 {body.sha256[:12]}..., {UPLOAD_MIB / elapsed:.0f} MiB/s, {elapsed:.1f} s),"
        f" pid {answer['pid']}: VmHWM {before['VmHWM'] / 1024:.1f} ->"
        f" {after['VmHWM'] / 1024:.1f} MiB (+{growth / 1024:.1f} MiB, limit"
        f" {GROWTH_LIMIT_KIB // 1024} MiB); VmRSS {before['VmRSS'] / 1024:.1f} ->"
        f" {after['VmRSS'] / 1024:.1f} MiB"
    )
    print(line)
    record_property("memory", line)
    assert growth < GROWTH_LIMIT_KIB, line
