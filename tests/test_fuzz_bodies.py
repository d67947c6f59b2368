"""Fuzzing request bodies: multipart and url-encoded forms (``ambi.formparser``) and JSON.

* A multipart body encoded here (random boundary, part names and file names with quotes,
  backslashes and non-ASCII, RFC 2231 names, content types, data full of boundary-like
  bytes), fed to the parser in random chunks, parses back to exactly the fields and files
  encoded; with random limits, the only failure is a 413.
* Truncated, garbled or arbitrary bodies, and arbitrary ``Content-Type`` parameters, end
  in the parsed form, a 400 or a 413, never another exception.
* End to end on both interfaces, with ``def`` and ``async def`` views (the body is read
  lazily, or spooled ahead): the same round trip, and never a 500.
* Arbitrary bytes sent as ``application/json`` give 400, or 200 with what ``json.loads``
  reads.

See tests/_fuzz.py for profiles, budgets and the example count.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ambi import Ambi, request
from ambi.exceptions import BadRequest, RequestEntityTooLarge
from ambi.formparser import FormDataParser, FormLimits
from ambi.http import dump_options_header
from ambi.testing import AmbiClient

try:
    from tests._fuzz import budget, counted, text_without, unicode_text
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _fuzz import budget, counted, text_without, unicode_text  # type: ignore[no-redef]

pytestmark = pytest.mark.fuzz

# ------------------------------------------------------------------------ multipart encoder

#: RFC 2046 boundary characters (a space is allowed, but not last).
BOUNDARY_CHARS = string.ascii_letters + string.digits + "'()+_,-./:=? "
boundaries = st.text(st.sampled_from(BOUNDARY_CHARS), min_size=1, max_size=70).filter(
    lambda text: not text.endswith(" ")
)


@dataclass
class Part:
    name: str
    filename: str | None  # None: a plain field
    content_type: str | None
    data: bytes
    rfc2231: bool  # name and filename as name*=UTF-8''... rather than quoted strings


def _disposition(part: Part) -> bytes:
    params = [("name", part.name)]
    if part.filename is not None:
        params.append(("filename", part.filename))
    pieces = ["form-data"]
    for key, value in params:
        if part.rfc2231:
            pieces.append(f"{key}*=UTF-8''{quote(value, safe='')}")
        else:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            pieces.append(f'{key}="{escaped}"')
    return "; ".join(pieces).encode("utf-8")


def encode_multipart(parts: list[Part], boundary: str) -> bytes:
    out = bytearray()
    for part in parts:
        out += b"--" + boundary.encode("ascii") + b"\r\n"
        out += b"Content-Disposition: " + _disposition(part) + b"\r\n"
        if part.content_type is not None:
            out += b"Content-Type: " + part.content_type.encode("ascii") + b"\r\n"
        out += b"\r\n" + part.data + b"\r\n"
    out += b"--" + boundary.encode("ascii") + b"--\r\n"
    return bytes(out)


def content_type_for(boundary: str) -> str:
    return dump_options_header("multipart/form-data", {"boundary": boundary})


#: Names and file names: anything but CR and LF (which would end the header line) and NUL
#: (a malformed header: a 400, see the garbled bodies).
part_names = text_without("\r\n\x00", max_size=10)
content_types = st.one_of(
    st.none(),
    st.sampled_from(["text/plain", "application/octet-stream", "image/png; x=1"]),
    st.from_regex(r"[a-z]{1,8}/[a-z0-9.+-]{1,8}", fullmatch=True),
)


@st.composite
def part_data(draw: st.DrawFn, boundary: str, text: bool) -> bytes:
    """Bytes (or UTF-8 text) full of pieces of the delimiter: CR, LF, dashes, the
    boundary's prefixes; never the whole delimiter (an encoder picks a boundary the data
    does not contain)."""
    near = [b"\r\n", b"\r", b"\n", b"--", b"-"]
    near += [boundary.encode("ascii")[:cut] for cut in range(1, len(boundary) + 1)]
    if text:
        free = unicode_text.map(lambda value: value.encode("utf-8"))
    else:
        free = st.binary(max_size=20)
    pieces = draw(st.lists(st.one_of(free, st.sampled_from(near)), max_size=8))
    data = b"".join(pieces)
    delimiter = b"\r\n--" + boundary.encode("ascii")
    assume(delimiter not in b"\r\n" + data)
    return data


@st.composite
def multipart_forms(draw: st.DrawFn) -> tuple[list[Part], str]:
    boundary = draw(boundaries)
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        is_file = draw(st.booleans())
        parts.append(
            Part(
                name=draw(part_names),
                filename=draw(part_names) if is_file else None,
                content_type=draw(content_types),
                data=draw(part_data(boundary, text=not is_file)),
                rfc2231=draw(st.booleans()),
            )
        )
    return parts, boundary


def expected_form(parts: list[Part]) -> list[tuple[str, list[str]]]:
    lists: dict[str, list[str]] = {}
    for part in parts:
        if part.filename is None:
            lists.setdefault(part.name, []).append(part.data.decode("utf-8"))
    return list(lists.items())


def expected_files(parts: list[Part]) -> list[tuple[str, str, str | None, bytes]]:
    by_name: dict[str, list[tuple[str, str, str | None, bytes]]] = {}
    for part in parts:
        if part.filename is not None:
            by_name.setdefault(part.name, []).append(
                (part.name, part.filename, part.content_type, part.data)
            )
    return [item for items in by_name.values() for item in items]


def chunked(body: bytes, cuts: list[int]) -> Any:
    """A ``read_chunk`` callable giving ``body`` in pieces cut at ``cuts``, then ``b""``."""
    points = sorted({cut % (len(body) + 1) for cut in cuts} | {0, len(body)})
    pieces = [body[a:b] for a, b in itertools.pairwise(points) if b > a]
    pieces.reverse()
    return lambda: pieces.pop() if pieces else b""


FilesSeen = list[tuple[str, str | None, str | None, bytes]]


def parse_form(
    body: bytes, content_type: str, cuts: list[int], limits: FormLimits
) -> tuple[list[tuple[str, list[str]]], FilesSeen]:
    """The parsed fields (``lists()``) and files (read, then closed)."""
    fields, files = FormDataParser(limits).parse(chunked(body, cuts), content_type)
    seen = []
    for name, storage in files.items(multi=True):
        seen.append((name, storage.filename, storage.content_type, storage.read()))
        storage.close()
    return list(fields.lists()), seen


NO_LIMITS = FormLimits(None, None, None)
cut_points = st.lists(st.integers(0, 10_000), max_size=8)


# ---------------------------------------------------------------------- multipart properties


@example(form=([Part('a"b\\c', "é \\x.txt", None, b"\r\n--", rfc2231=False)], "b"), cuts=[]).via(
    "quotes, backslashes and a boundary prefix"
)
@settings(max_examples=budget(400))
@given(form=multipart_forms(), cuts=cut_points)
@counted
def test_multipart_round_trips(form: tuple[list[Part], str], cuts: list[int]) -> None:
    parts, boundary = form
    body = encode_multipart(parts, boundary)
    fields, files = parse_form(body, content_type_for(boundary), cuts, NO_LIMITS)
    assert fields == expected_form(parts)
    assert files == expected_files(parts)


@settings(max_examples=budget(200))
@given(
    form=multipart_forms(),
    cuts=cut_points,
    memory=st.integers(0, 40),
    parts_limit=st.integers(0, 5),
    header_limit=st.integers(0, 200),
)
@counted
def test_multipart_limits_give_413_only(
    form: tuple[list[Part], str], cuts: list[int], memory: int, parts_limit: int, header_limit: int
) -> None:
    parts, boundary = form
    body = encode_multipart(parts, boundary)
    limits = FormLimits(memory, parts_limit, header_limit)
    try:
        fields, files = parse_form(body, content_type_for(boundary), cuts, limits)
    except RequestEntityTooLarge:
        return
    assert len(parts) <= parts_limit
    assert all(len(part.data) <= memory for part in parts if part.filename is None)
    assert fields == expected_form(parts)
    assert files == expected_files(parts)


@st.composite
def garbled_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    parts, boundary = draw(multipart_forms())
    body = bytearray(encode_multipart(parts, boundary))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "delete", "insert", "replace"]))
        at = draw(st.integers(0, len(body)))
        if kind == "truncate":
            del body[at:]
        elif kind == "delete":
            del body[at : at + draw(st.integers(1, 8))]
        elif kind == "insert":
            body[at:at] = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=8),
                    st.sampled_from([b"\r\n", b"--", b"\x00", b":", b"\r\n\r\n", b"\xff"]),
                )
            )
        elif body:
            body[min(at, len(body) - 1)] = draw(st.integers(0, 255))
    return bytes(body), content_type_for(boundary)


DOCUMENTED_FORM_ERRORS = (BadRequest, RequestEntityTooLarge)


# A part header value holding NUL reached Headers(), whose ValueError was a 500 (a name
# that is not a token is refused by python-multipart itself).
@example(
    garbled=(b'--b\r\nContent Disposition: form-data; name="a"\r\n\r\nx\r\n--b--\r\n', "b"),
    cuts=[],
).via("a part header name with a space")
@example(
    garbled=(b'--b\r\nContent-Disposition: form-data; name="a\x00"\r\n\r\nx\r\n--b--\r\n', "b"),
    cuts=[],
).via("regression: NUL in a part header value")
@settings(max_examples=budget(400))
@given(garbled=garbled_bodies(), cuts=cut_points)
@counted
def test_garbled_multipart_fails_only_with_400_or_413(
    garbled: tuple[bytes, str], cuts: list[int]
) -> None:
    body, content_type = garbled
    with contextlib.suppress(DOCUMENTED_FORM_ERRORS):
        parse_form(body, content_type, cuts, FormLimits())


#: Content-Type values announcing a form: any parameters, boundaries that are empty, too
#: long, not Latin-1 (RFC 2231), with CR/LF or quotes.
form_content_types = st.one_of(
    st.tuples(
        st.sampled_from(["multipart/form-data", "Multipart/Form-Data", "multipart/form-data "]),
        unicode_text,
    ).map(lambda pair: f"{pair[0]};{pair[1]}"),
    st.one_of(
        unicode_text,
        st.text(st.sampled_from(BOUNDARY_CHARS), min_size=200, max_size=400),
        st.just(""),
    ).map(lambda boundary: dump_options_header("multipart/form-data", {"boundary": boundary})),
    unicode_text.map(lambda text: f"multipart/form-data; boundary*=UTF-8''{quote(text)}"),
    st.just("application/x-www-form-urlencoded; charset=utf-8"),
)


# A boundary RFC 2231 makes non-Latin-1 was a UnicodeEncodeError, one longer than
# python-multipart's 256 bytes a FormParserError: both 500s.
@example(content_type="multipart/form-data; boundary*=UTF-8''%E2%82%AC", body=b"", cuts=[]).via(
    "regression: non-Latin-1 boundary"
)
@example(content_type=f"multipart/form-data; boundary={'b' * 300}", body=b"", cuts=[]).via(
    "regression: boundary longer than 256 bytes"
)
@settings(max_examples=budget(400))
@given(content_type=form_content_types, body=st.binary(max_size=64), cuts=cut_points)
@counted
def test_any_form_content_type_fails_only_with_400_or_413(
    content_type: str, body: bytes, cuts: list[int]
) -> None:
    with contextlib.suppress(DOCUMENTED_FORM_ERRORS):
        parse_form(body, content_type, cuts, FormLimits())


@settings(max_examples=budget(300))
@given(
    items=st.lists(st.tuples(unicode_text, unicode_text), max_size=6),
    cuts=cut_points,
    memory=st.one_of(st.none(), st.integers(0, 60)),
    fields_limit=st.one_of(st.none(), st.integers(0, 6)),
)
@counted
def test_urlencoded_form_round_trips_or_413(
    items: list[tuple[str, str]], cuts: list[int], memory: int | None, fields_limit: int | None
) -> None:
    body = urlencode(items).encode("ascii")
    limits = FormLimits(memory, fields_limit, None)
    try:
        fields, files = parse_form(body, "application/x-www-form-urlencoded", cuts, limits)
    except RequestEntityTooLarge:
        too_big = memory is not None and len(body) > memory
        too_many = fields_limit is not None and len(items) > fields_limit
        assert too_big or too_many
        return
    lists: dict[str, list[str]] = {}
    for key, value in items:
        lists.setdefault(key, []).append(value)
    assert fields == list(lists.items())
    assert not files


# ------------------------------------------------------------------------------ end to end


def _bodies_app() -> Ambi:
    app = Ambi(__name__)
    app.testing = False  # what production sees: errors become responses

    def form_view() -> dict[str, Any]:
        return {
            "form": list(request.form.lists()),
            "files": [
                [name, storage.filename, storage.content_type, storage.read().hex()]
                for name, storage in request.files.items(multi=True)
            ],
        }

    async def async_form_view() -> dict[str, Any]:
        return form_view()

    def json_view() -> dict[str, Any]:
        return {"value": request.get_json()}

    async def async_json_view() -> dict[str, Any]:
        return json_view()

    app.add_url_rule("/form/def", "form_def", form_view, methods=["POST"])
    app.add_url_rule("/form/async", "form_async", async_form_view, methods=["POST"])
    app.add_url_rule("/json/def", "json_def", json_view, methods=["POST"])
    app.add_url_rule("/json/async", "json_async", async_json_view, methods=["POST"])
    return app


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def body_client(request: pytest.FixtureRequest) -> Iterator[AmbiClient]:
    client = _bodies_app().test_client(request.param)
    yield client
    client.close()


view_kinds = st.sampled_from(["def", "async"])


@settings(max_examples=budget(75))
@given(form=multipart_forms(), kind=view_kinds)
@counted
def test_multipart_round_trips_end_to_end(
    body_client: AmbiClient, form: tuple[list[Part], str], kind: str
) -> None:
    parts, boundary = form
    response = body_client.post(
        f"/form/{kind}",
        content=encode_multipart(parts, boundary),
        headers={"Content-Type": content_type_for(boundary)},
    )
    assert response.status_code == 200, response.text
    got = response.json()
    assert [(name, values) for name, values in got["form"]] == expected_form(parts)
    assert [
        (name, filename, content_type, bytes.fromhex(data))
        for name, filename, content_type, data in got["files"]
    ] == expected_files(parts)


@settings(max_examples=budget(75))
@given(
    garbled=garbled_bodies(),
    kind=view_kinds,
    content_type=st.one_of(st.none(), form_content_types),
)
@counted
def test_garbled_forms_are_400_or_413_end_to_end(
    body_client: AmbiClient, garbled: tuple[bytes, str], kind: str, content_type: str | None
) -> None:
    body, own_type = garbled
    header = (content_type or own_type).encode("utf-8")
    response = body_client.post(f"/form/{kind}", content=body, headers={"Content-Type": header})
    assert response.status_code in (200, 400, 413), response.text


def _json_bodies() -> Any:
    values = st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), unicode_text),
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(unicode_text, children, max_size=3)
        ),
        max_leaves=8,
    )
    documents = values.map(lambda value: json.dumps(value).encode("utf-8"))
    return st.one_of(
        st.binary(max_size=40),
        documents,
        # A valid document cut short or with a byte changed.
        st.tuples(documents, st.integers(0, 50)).map(lambda pair: pair[0][: pair[1]]),
        st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b"1" * 5000, b"\xef\xbb\xbf{}"]),
        unicode_text.map(lambda text: text.encode("utf-16")),
    )


def _same_json(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same_json, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same_json(left[k], right[k]) for k in left)
    return bool(left == right)


# Nesting deeper than the interpreter's recursion limit raised RecursionError: a 500.
@example(body=b"[" * 100_000, kind="def").via("regression: deep nesting")
@settings(max_examples=budget(150))
@given(body=_json_bodies(), kind=view_kinds)
@counted
def test_any_json_body_is_400_or_parsed_end_to_end(
    body_client: AmbiClient, body: bytes, kind: str
) -> None:
    response = body_client.post(
        f"/json/{kind}", content=body, headers={"Content-Type": "application/json"}
    )
    try:
        expected = json.loads(body)
    except (ValueError, RecursionError):
        assert response.status_code == 400, response.text
        assert "Failed to decode JSON object" in response.text
        return
    assert response.status_code == 200, response.text
    assert _same_json(json.loads(response.content)["value"], expected)
