"""Fuzzing file responses (``ambi.sendfile``): ``Range`` and the conditional headers.

* The range parser never raises: any header gives "ignore it" (200), "unsatisfiable"
  (416) or satisfiable ranges inside the file that do not overlap.
* Valid range sets, checked against a model of RFC 9110's rules, end to end on both
  interfaces: one range is a 206 with the right ``Content-Range`` and slice, several a
  ``multipart/byteranges`` 206 whose parts are the file's bytes, none satisfiable a 416
  with ``Content-Range: bytes */size``.
* Arbitrary ``Range``, ``If-Range``, ``If-Match``, ``If-None-Match``,
  ``If-Modified-Since`` and ``If-Unmodified-Since`` values give 200, 206, 304, 412 or 416
  with a body consistent with the status, never a 500.

See tests/_fuzz.py for profiles, budgets and the example count.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ambi import Ambi, send_file
from ambi.http import parse_options_header
from ambi.sendfile import MAX_RANGES, _parse_ranges
from ambi.testing import AmbiClient

try:
    from tests._fuzz import budget, counted, header_text, unicode_text
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _fuzz import budget, counted, header_text, unicode_text  # type: ignore[no-redef]

pytestmark = pytest.mark.fuzz

# ------------------------------------------------------------------------------- strategies

#: One range-spec: ("first-last", a, b), ("first-", a, None) or ("-suffix", n, None).
Spec = tuple[str, int, int | None]


@st.composite
def specs(draw: st.DrawFn, size: int) -> Spec:
    kind = draw(st.sampled_from(["first-last", "first-", "-suffix"]))
    number = st.integers(0, size + 20)
    if kind == "first-last":
        first = draw(number)
        return kind, first, draw(st.integers(first, first + size + 20))
    return kind, draw(number), None


def render(spec: Spec) -> str:
    kind, a, b = spec
    if kind == "first-last":
        return f"{a}-{b}"
    if kind == "first-":
        return f"{a}-"
    return f"-{a}"


@st.composite
def range_headers(draw: st.DrawFn, size: int) -> tuple[str, list[Spec]]:
    """A valid Range header (unit in any case, optional spaces around commas)."""
    chosen = draw(st.lists(specs(size), min_size=1, max_size=MAX_RANGES + 2))
    unit = draw(st.sampled_from(["bytes", "Bytes", "BYTES"]))
    separator = draw(st.sampled_from([",", ", ", " ,", " , "]))
    return f"{unit}={separator.join(render(spec) for spec in chosen)}", chosen


def model(chosen: list[Spec], size: int) -> list[tuple[int, int]] | str | None:
    """RFC 9110's reading of a valid range set: ``None`` (ignored: too many ranges),
    ``"416"``, or the ``(start, stop)`` ranges to send, in the requested order."""
    if len(chosen) > MAX_RANGES:
        return None
    ranges = []
    for kind, a, b in chosen:
        if kind == "first-last":
            assert b is not None
            if a < size:
                ranges.append((a, min(b + 1, size)))
        elif kind == "first-":
            if a < size:
                ranges.append((a, size))
        elif a > 0:
            ranges.append((max(size - a, 0), size))
    ordered = sorted(ranges)
    if not ranges or any(b[0] < a[1] for a, b in itertools.pairwise(ordered)):
        return "416"
    return ranges


# ---------------------------------------------------------------------------- the parser


#: Headers close to valid ones, and anything.
near_ranges = st.one_of(
    header_text,
    unicode_text,
    st.lists(
        st.sampled_from(["bytes", "=", "-", ",", " ", "0", "5", "10", "99999999999999999999"]),
        max_size=10,
    ).map("".join),
)


@example(value="bytes=" + "9" * 5000 + "-", size=10).via("huge numbers")
@example(value="bytes=٣-5", size=10).via("non-ASCII digits")
@settings(max_examples=budget(500))
@given(value=near_ranges, size=st.integers(0, 100))
@counted
def test_range_parser_never_raises(value: str, size: int) -> None:
    ranges = _parse_ranges(value, size)
    if ranges is None or ranges == []:
        return
    assert len(ranges) <= MAX_RANGES
    ordered = sorted(ranges)
    for start, stop in ordered:
        assert 0 <= start < stop <= size
    for (_, stop), (start, _) in itertools.pairwise(ordered):
        assert start >= stop


@settings(max_examples=budget(500))
@given(data=st.data(), size=st.integers(1, 100))
@counted
def test_range_parser_agrees_with_the_model(data: st.DataObject, size: int) -> None:
    header, chosen = data.draw(range_headers(size))
    expected = model(chosen, size)
    assert _parse_ranges(header, size) == ([] if expected == "416" else expected)


# ------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def file_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-files") / "data.bin"


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def file_client(request: pytest.FixtureRequest, file_path: Path) -> Iterator[AmbiClient]:
    app = Ambi(__name__)
    app.testing = False

    @app.get("/file")
    def serve() -> Any:
        return send_file(file_path, mimetype="application/octet-stream")

    client = app.test_client(request.param)
    yield client
    client.close()


def split_byteranges(response: httpx.Response) -> list[tuple[str, bytes]]:
    """The ``(Content-Range, data)`` of each part of a multipart/byteranges body."""
    mimetype, options = parse_options_header(response.headers["content-type"])
    assert mimetype == "multipart/byteranges"
    delimiter = b"--" + options["boundary"].encode("ascii")
    body = response.content
    closing = delimiter + b"--\r\n"
    assert body.endswith(closing)
    chunks = body[: -len(closing)].split(delimiter)
    assert chunks[0] == b""
    parts = []
    for chunk in chunks[1:]:
        assert chunk.startswith(b"\r\n")
        assert chunk.endswith(b"\r\n")
        head, _, data = chunk[2:-2].partition(b"\r\n\r\n")
        headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        assert headers[b"Content-Type"] == b"application/octet-stream"
        parts.append((headers[b"Content-Range"].decode("ascii"), data))
    return parts


def check_ranged_response(response: httpx.Response, data: bytes) -> None:
    """Whatever the status, the body is what it claims to be."""
    size = len(data)
    status = response.status_code
    assert status in (200, 206, 416), response.text
    if status == 200:
        assert response.content == data
    elif status == 416:
        assert response.headers["content-range"] == f"bytes */{size}"
    elif response.headers["content-type"].startswith("multipart/byteranges"):
        for content_range, part in split_byteranges(response):
            first, last = map(int, content_range.removeprefix("bytes ").split("/")[0].split("-"))
            assert content_range.endswith(f"/{size}")
            assert part == data[first : last + 1]
            assert part
    else:
        content_range = response.headers["content-range"]
        first, last = map(int, content_range.removeprefix("bytes ").split("/")[0].split("-"))
        assert content_range.endswith(f"/{size}")
        assert response.content == data[first : last + 1]
        assert response.content


@settings(max_examples=budget(100))
@given(data=st.binary(max_size=300), choices=st.data())
@counted
def test_valid_ranges_end_to_end(
    file_client: AmbiClient, file_path: Path, data: bytes, choices: st.DataObject
) -> None:
    file_path.write_bytes(data)
    header, chosen = choices.draw(range_headers(max(len(data), 1)))
    response = file_client.get("/file", headers={"Range": header})
    check_ranged_response(response, data)
    expected = model(chosen, len(data)) if data else None  # empty files ignore ranges
    if expected is None:
        assert response.status_code == 200
    elif expected == "416":
        assert response.status_code == 416
    elif len(expected) == 1:
        [(start, stop)] = expected
        assert response.status_code == 206
        assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/{len(data)}"
        assert response.content == data[start:stop]
    else:
        assert response.status_code == 206
        assert split_byteranges(response) == [
            (f"bytes {start}-{stop - 1}/{len(data)}", data[start:stop]) for start, stop in expected
        ]


conditional_values = st.one_of(
    header_text,
    st.sampled_from(['"x"', "*", 'W/"x"', "Thu, 01 Jan 1970 00:00:00 GMT", "Sun, 06 Nov 2094"]),
)


@settings(max_examples=budget(100))
@given(
    data=st.binary(min_size=1, max_size=64),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "Range",
                "If-Range",
                "If-Match",
                "If-None-Match",
                "If-Modified-Since",
                "If-Unmodified-Since",
            ]
        ),
        st.one_of(conditional_values, near_ranges.filter(str.isascii)),
    ),
)
@counted
def test_any_conditional_headers_end_to_end(
    file_client: AmbiClient, file_path: Path, data: bytes, headers: dict[str, str]
) -> None:
    file_path.write_bytes(data)
    response = file_client.get(
        "/file", headers={name: value.strip().encode("latin-1") for name, value in headers.items()}
    )
    if response.status_code == 304:
        assert response.content == b""
        return
    if response.status_code == 412:
        return
    check_ranged_response(response, data)
