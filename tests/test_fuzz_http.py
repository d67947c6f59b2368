"""Fuzzing ``ambi.http`` and ``Headers``: query strings, cookies, header values and
parameters.

* Query strings and url-encoded forms parse back exactly what ``urllib.parse.urlencode``
  (or Ambi's ``url_encode``) wrote, order and repeated keys included, and agree with
  ``urllib.parse.parse_qsl`` wherever Ambi accepts the input; malformed input is a 400
  (or a 413 past ``max_fields``), never another exception; end to end on both interfaces.
* ``parse_cookie`` never raises; ``dump_cookie`` output parses back to the same value,
  and CR, LF and NUL are refused while ``;`` never leaks out of the quoted value.
* ``Headers`` behaves like a simple list model under random operations, and refuses CR,
  LF and NUL in values (and non-token names) on every way in, response setters included.
* ``parse_options_header``, ``parse_list_header`` and ``parse_date`` never raise, and
  ``dump_options_header`` round-trips through ``parse_options_header``.

See tests/_fuzz.py for profiles, budgets and the example count.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ambi import Ambi, Response, request
from ambi.datastructures import Headers
from ambi.exceptions import BadRequest, RequestEntityTooLarge
from ambi.http import (
    dump_cookie,
    dump_options_header,
    parse_cookie,
    parse_date,
    parse_list_header,
    parse_options_header,
    parse_query_string,
    url_encode,
)
from ambi.testing import AmbiClient

try:
    from tests._fuzz import budget, counted, header_text, text_without, unicode_text
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _fuzz import (  # type: ignore[no-redef]
        budget,
        counted,
        header_text,
        text_without,
        unicode_text,
    )

pytestmark = pytest.mark.fuzz

TOKEN_CHARS = "!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits
tokens = st.text(st.sampled_from(TOKEN_CHARS), min_size=1, max_size=12)
pairs = st.lists(st.tuples(unicode_text, unicode_text), max_size=6)


def grouped(items: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """``(key, [values...])`` in first-seen key order: what a MultiDict's ``lists()`` gives."""
    lists: dict[str, list[str]] = {}
    for key, value in items:
        lists.setdefault(key, []).append(value)
    return list(lists.items())


def with_one_of(text_strategy: Any, forbidden: str) -> Any:
    """Text with at least one character of ``forbidden`` inserted at a random place."""
    return st.tuples(text_strategy, st.sampled_from(list(forbidden)), text_strategy).map("".join)


# ------------------------------------------------------------------------------ query strings


@settings(max_examples=budget(400))
@given(items=pairs, quote_via=st.sampled_from([quote_plus, quote]))
@counted
def test_query_string_round_trips_urlencode(items: list[tuple[str, str]], quote_via: Any) -> None:
    raw = urlencode(items, quote_via=quote_via)
    assert list(parse_query_string(raw.encode("ascii")).lists()) == grouped(items)
    assert list(parse_query_string(raw).lists()) == grouped(items)  # str input: the same


@settings(max_examples=budget(300))
@given(items=pairs)
@counted
def test_query_string_round_trips_url_encode(items: list[tuple[str, str]]) -> None:
    raw = url_encode(items)
    assert raw.isascii()
    assert " " not in raw
    assert list(parse_query_string(raw).lists()) == grouped(items)


#: Raw query strings: any bytes, and strings built from the characters that matter.
raw_queries = st.one_of(
    st.binary(max_size=40),
    st.text(st.sampled_from("ab=&+%;éC3A9fz0 \x00"), max_size=30).map(
        lambda text: text.encode("utf-8")
    ),
    st.lists(
        st.sampled_from([b"a", b"=", b"&", b"+", b"%", b"%2", b"%41", b"%C3%A9", b"%C3", b"\xff"]),
        max_size=12,
    ).map(b"".join),
)


@example(raw=b"%C3&x", max_fields=None).via("invalid UTF-8 in a key")
@settings(max_examples=budget(500))
@given(raw=raw_queries, max_fields=st.one_of(st.none(), st.integers(0, 4)))
@counted
def test_query_string_parsing_fails_only_with_400_or_413(
    raw: bytes, max_fields: int | None
) -> None:
    try:
        parsed = parse_query_string(raw, max_fields=max_fields)
    except RequestEntityTooLarge:
        assert max_fields is not None
        assert len([piece for piece in raw.split(b"&") if piece]) > max_fields
        return
    except BadRequest:
        return
    fields = [piece for piece in raw.split(b"&") if piece]
    assert max_fields is None or len(fields) <= max_fields
    # Where Ambi accepts the input, it agrees with the standard library.
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    expected = parse_qsl(text, keep_blank_values=True, errors="strict")
    assert list(parsed.lists()) == grouped(expected)


def _query_app() -> Ambi:
    app = Ambi(__name__)
    app.testing = False

    @app.route("/echo", methods=["GET", "POST"])
    def echo() -> dict[str, Any]:
        return {"args": list(request.args.lists()), "form": list(request.form.lists())}

    @app.get("/cookie")
    def cookie() -> Response:
        response = Response("ok")
        for name, value in request.args.items(multi=True):
            response.set_cookie(name, value)
        return response

    @app.get("/cookies")
    def cookies() -> dict[str, Any]:
        return {"cookies": list(request.cookies.lists())}

    return app


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def http_client(request: pytest.FixtureRequest) -> Iterator[AmbiClient]:
    client = _query_app().test_client(request.param)
    yield client
    client.close()


def _as_lists(value: Any) -> list[tuple[str, list[str]]]:
    return [(key, values) for key, values in value]


@settings(max_examples=budget(100))
@given(query=pairs, form=pairs)
@counted
def test_args_and_form_end_to_end(
    http_client: AmbiClient, query: list[tuple[str, str]], form: list[tuple[str, str]]
) -> None:
    response = http_client.post(
        "/echo?" + urlencode(query),
        content=urlencode(form).encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert _as_lists(response.json()["args"]) == grouped(query)
    assert _as_lists(response.json()["form"]) == grouped(form)


@settings(max_examples=budget(100))
@given(raw=raw_queries)
@counted
def test_bad_query_and_form_are_400_end_to_end(http_client: AmbiClient, raw: bytes) -> None:
    # The target must be ASCII on the wire: send the query string's bytes percent-encoded
    # where they are not visible ASCII, as a client would, and the raw bytes as the body.
    target = quote(raw, safe="".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "#"))
    response = http_client.post(
        httpx.URL("http://localhost", raw_path=f"/echo?{target}".encode("ascii")),
        content=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in (200, 400, 413), response.text


# ------------------------------------------------------------------------------------ cookies


@settings(max_examples=budget(400))
@given(header=st.one_of(unicode_text, header_text))
@counted
def test_parse_cookie_never_raises(header: str) -> None:
    cookies = parse_cookie(header)
    for name, values in cookies.lists():
        assert name
        assert name == name.strip()
        assert ";" not in name
        assert values


cookie_values = text_without("\r\n\x00")


@example(name="a", value='x"; Path=/evil; y="').via("a quote and ';' in the value")
@settings(max_examples=budget(400))
@given(name=tokens, value=cookie_values)
@counted
def test_dump_cookie_then_parse_round_trips(name: str, value: str) -> None:
    header = dump_cookie(name, value, max_size=0)
    assert "\r" not in header
    assert "\n" not in header
    assert "\x00" not in header
    first, *attributes = header.split("; ")
    assert attributes == ["Path=/"]  # nothing in the value made another attribute
    assert list(parse_cookie(first).lists()) == [(name, [value])]


@settings(max_examples=budget(300))
@given(
    name=st.one_of(tokens, unicode_text),
    value=st.one_of(cookie_values, with_one_of(cookie_values, "\r\n\x00")),
    path=st.one_of(st.none(), unicode_text),
    domain=st.one_of(st.none(), unicode_text),
    samesite=st.one_of(st.none(), st.sampled_from(["lax", "Strict", "none"]), unicode_text),
)
@counted
def test_dump_cookie_refuses_or_writes_one_clean_header(
    name: str, value: str, path: str | None, domain: str | None, samesite: str | None
) -> None:
    try:
        header = dump_cookie(name, value, path=path, domain=domain, samesite=samesite, max_size=0)
    except ValueError:
        return
    assert "\r" not in value
    assert "\n" not in value
    assert "\x00" not in value
    assert header.isprintable()
    assert "\r" not in header
    assert "\n" not in header
    first, *attributes = header.split("; ")
    assert list(parse_cookie(first).lists()) == [(name, [value])]
    # One attribute per option given: no option smuggled in another.
    names = [attribute.partition("=")[0] for attribute in attributes]
    expected = ["Domain"] * bool(domain) + ["Path"] * (path is not None)
    expected += ["SameSite"] * (samesite is not None)
    assert names == expected


@settings(max_examples=budget(100))
@given(
    cookies=st.lists(
        st.tuples(tokens, cookie_values), min_size=1, max_size=3, unique_by=lambda c: c[0]
    )
)
@counted
def test_set_cookie_round_trips_end_to_end(
    http_client: AmbiClient, cookies: list[tuple[str, str]]
) -> None:
    http_client.cookies.clear()
    response = http_client.get("/cookie", params=cookies)
    assert response.status_code == 200
    sent = [
        parse_cookie(header.split("; ")[0]) for header in response.headers.get_list("set-cookie")
    ]
    assert [(name, values[0]) for cookie in sent for name, values in cookie.lists()] == cookies


# The WSGI test client decoded header bytes that happen to be UTF-8 as UTF-8, unlike
# WSGI servers (and the ASGI client): "á\x80\x80" arrived as "\u1000".
@example(header="á\x80\x80").via("regression: Latin-1 header bytes")
@settings(max_examples=budget(100))
@given(header=header_text)
@counted
def test_any_cookie_header_end_to_end(http_client: AmbiClient, header: str) -> None:
    http_client.cookies.clear()
    response = http_client.get("/cookies", headers={"Cookie": header.strip().encode("latin-1")})
    assert response.status_code == 200
    assert _as_lists(response.json()["cookies"]) == list(parse_cookie(header.strip()).lists())


# ------------------------------------------------------------------------------------ headers

names = st.sampled_from(["A", "a", "Content-Type", "content-type", "X-Y", "x-y", "B"])
values = st.one_of(text_without("\r\n\x00", max_size=8), st.integers(-5, 5))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), names, values),
        st.tuples(st.just("set"), names, values),
        st.tuples(st.just("setitem"), names, values),
        st.tuples(st.just("setlist"), names, st.lists(values, max_size=3)),
        st.tuples(st.just("setdefault"), names, values),
        st.tuples(st.just("remove"), names),
        st.tuples(st.just("delitem"), names),
        st.tuples(st.just("pop"), names),
        st.tuples(st.just("extend"), st.lists(st.tuples(names, values), max_size=3)),
        st.tuples(st.just("update"), st.dictionaries(names, values, max_size=3)),
    ),
    max_size=12,
)


class HeaderModel:
    """The documented semantics of ``Headers``, written the obvious way."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def _set(self, name: str, value: str) -> None:
        lower = name.lower()
        found = False
        new = []
        for key, old in self.items:
            if key.lower() != lower:
                new.append((key, old))
            elif not found:
                new.append((name, value))
                found = True
        if not found:
            new.append((name, value))
        self.items = new

    def apply(self, operation: tuple[Any, ...]) -> Any:
        kind = operation[0]
        if kind == "add":
            self.items.append((operation[1], str(operation[2])))
        elif kind in ("set", "setitem"):
            self._set(operation[1], str(operation[2]))
        elif kind == "setlist":
            name, new_values = operation[1], [str(value) for value in operation[2]]
            if not new_values:
                self.apply(("remove", name))
            else:
                self._set(name, new_values[0])
                self.items.extend((name, value) for value in new_values[1:])
        elif kind == "setdefault":
            for key, value in self.items:
                if key.lower() == operation[1].lower():
                    return value
            self.items.append((operation[1], str(operation[2])))
            return str(operation[2])
        elif kind in ("remove", "delitem"):
            self.items = [item for item in self.items if item[0].lower() != operation[1].lower()]
        elif kind == "pop":
            for key, value in self.items:
                if key.lower() == operation[1].lower():
                    self.apply(("remove", operation[1]))
                    return value
            return "<missing>"
        elif kind == "extend":
            self.items.extend((name, str(value)) for name, value in operation[1])
        elif kind == "update":
            for name, value in operation[1].items():
                self._set(name, str(value))
        return None


def _apply(headers: Headers, operation: tuple[Any, ...]) -> Any:
    kind = operation[0]
    if kind == "add":
        headers.add(operation[1], operation[2])
    elif kind == "set":
        headers.set(operation[1], operation[2])
    elif kind == "setitem":
        headers[operation[1]] = operation[2]
    elif kind == "setlist":
        headers.setlist(operation[1], operation[2])
    elif kind == "setdefault":
        return headers.setdefault(operation[1], operation[2])
    elif kind == "remove":
        headers.remove(operation[1])
    elif kind == "delitem":
        del headers[operation[1]]
    elif kind == "pop":
        return headers.pop(operation[1], "<missing>")
    elif kind == "extend":
        headers.extend(operation[1])
    elif kind == "update":
        headers.update(operation[1])
    return None


@settings(max_examples=budget(400))
@given(operations=operations)
@counted
def test_headers_behave_like_the_list_model(operations: list[tuple[Any, ...]]) -> None:
    headers = Headers()
    model = HeaderModel()
    for operation in operations:
        assert _apply(headers, operation) == model.apply(operation)
        assert list(headers.items()) == model.items
    for name in ("a", "content-type", "x-y", "b", "missing"):
        expected = [value for key, value in model.items if key.lower() == name]
        assert headers.getlist(name) == expected
        assert headers.getlist(name.upper()) == expected
        assert (name in headers) == bool(expected)
        assert headers.get(name) == (expected[0] if expected else None)
    assert len(headers) == len(model.items)
    assert Headers(headers.to_wsgi_list()) == headers
    assert str(headers).count("\r\n") == len(model.items) + 1


bad_values = with_one_of(text_without("", max_size=6), "\r\n\x00")
SETTERS = [
    "add",
    "set",
    "setitem",
    "setdefault",
    "setlist",
    "extend",
    "update",
    "init",
    "add-param",
    "response-init",
    "response-location",
    "response-content-type",
    "response-mimetype",
]


def _set_header(setter: str, name: str, value: str) -> Headers:
    headers = Headers()
    if setter == "add":
        headers.add(name, value)
    elif setter == "set":
        headers.set(name, value)
    elif setter == "setitem":
        headers[name] = value
    elif setter == "setdefault":
        headers.setdefault(name, value)
    elif setter == "setlist":
        headers.setlist(name, ["ok", value])
    elif setter == "extend":
        headers.extend([(name, value)])
    elif setter == "update":
        headers.update({name: value})
    elif setter == "init":
        headers = Headers([(name, value)])
    elif setter == "add-param":
        headers.add(name, "attachment", filename=value)
    elif setter == "response-init":
        headers = Response("", headers={name: value}).headers
    elif setter == "response-location":
        response = Response("")
        response.location = value
        headers = response.headers
    elif setter == "response-content-type":
        response = Response("")
        response.content_type = value
        headers = response.headers
    else:
        headers = Response("", mimetype=value).headers
    return headers


@settings(max_examples=budget(400))
@given(setter=st.sampled_from(SETTERS), name=tokens, value=bad_values)
@counted
def test_header_values_with_cr_lf_nul_are_refused(setter: str, name: str, value: str) -> None:
    if setter != "add-param":
        with pytest.raises(ValueError, match="newline or NUL"):
            _set_header(setter, name, value)
        return
    # A parameter is refused, or (non-ASCII: RFC 8187) percent-encoded.
    try:
        headers = _set_header(setter, name, value)
    except ValueError:
        return
    assert not any(char in headers[name] for char in "\r\n\x00")


@settings(max_examples=budget(300))
@given(
    setter=st.sampled_from(SETTERS),
    name=st.one_of(tokens, text_without("\r\n\x00", max_size=6)),
    value=text_without("\r\n\x00", max_size=12),
)
@counted
def test_headers_refuse_bad_names_and_keep_good_values(setter: str, name: str, value: str) -> None:
    is_token = bool(name) and all(char in TOKEN_CHARS for char in name)
    try:
        headers = _set_header(setter, name, value)
    except ValueError:
        assert not is_token
        return
    assert is_token or setter in ("response-location", "response-content-type", "response-mimetype")
    for header_name, header_value in headers.items():
        assert all(char in TOKEN_CHARS for char in header_name)
        assert not any(char in header_value for char in "\r\n\x00")
    if setter in ("add", "set", "setitem", "setdefault", "extend", "update", "init"):
        assert headers.getlist(name) == [value]


# ------------------------------------------------------------------------ header parameters


@settings(max_examples=budget(500))
@given(value=st.one_of(unicode_text, header_text))
@counted
def test_header_parsers_never_raise(value: str) -> None:
    main, params = parse_options_header(value)
    assert main == main.strip().lower()
    for key in params:
        assert key
        assert key == key.lower()
        assert not any(char.isspace() for char in key)
    for item in parse_list_header(value):
        assert item
    parsed = parse_date(value)
    assert parsed is None or (isinstance(parsed, datetime) and parsed.utcoffset() is not None)


#: Parameter names as dump_options_header writes them plainly: lower-case tokens without
#: "*" (which marks the RFC 2231 forms).
param_names = st.text(
    st.sampled_from(string.ascii_lowercase + string.digits + "-_.!#$&+^`|~"), min_size=1
)


@example(main="form-data", params={"name": 'a"b\\c;d'}).via("quotes, backslash and ';'")
@example(main="attachment", params={"filename": "€ rates.pdf"}).via("RFC 8187 form")
@settings(max_examples=budget(400))
@given(
    main=st.one_of(tokens.map(str.lower), st.just("multipart/form-data")),
    params=st.dictionaries(param_names, text_without("\r\n"), max_size=4),
)
@counted
def test_dump_options_header_round_trips(main: str, params: dict[str, str]) -> None:
    header = dump_options_header(main, params)
    assert header.isascii()  # non-ASCII values are written as key*=UTF-8''...
    assert parse_options_header(header) == (main, params)
