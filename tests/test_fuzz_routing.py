"""Fuzzing routing (``ambi.routing``): random rule sets, random request paths, and URL
building round trips.

* Matching any path against any rule set ends in a match or one of the documented
  exceptions (NotFound, MethodNotAllowed, RequestRedirect, WebsocketMismatch, a
  BadRequest), never in anything else; the same end to end, on both interfaces, with raw
  request paths (percent-escapes, ``//``, ``..``, non-ASCII): never a 500.
* ``Map.build`` then ``Map.match`` (through the same percent-decoding the app applies)
  gives back the endpoint and equal values for every converter, and leftover values come
  back from the query string; likewise for subdomains and hosts.

See tests/_fuzz.py for profiles, budgets and the example count.
"""

from __future__ import annotations

import contextlib
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ambi import Ambi, request
from ambi.exceptions import BadRequest, MethodNotAllowed, NotFound, RequestRedirect
from ambi.http import parse_query_string, unquote_strict
from ambi.routing import Map, Rule, WebsocketMismatch
from ambi.testing import AmbiClient

try:
    from tests._fuzz import budget, counted, text_without, unicode_text
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _fuzz import budget, counted, text_without, unicode_text  # type: ignore[no-redef]

pytestmark = pytest.mark.fuzz

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "BREW"]
DOCUMENTED = (NotFound, MethodNotAllowed, RequestRedirect, WebsocketMismatch, BadRequest)

# ------------------------------------------------------------------------------- strategies

#: One path segment's worth of text for a value: no "/", at least one character.
segment_values = text_without("/", min_size=1, max_size=12)


@dataclass(frozen=True)
class Converter:
    """A converter as written in a rule (``int(signed=True)``; ``""``: the default one),
    the values it round-trips, and whether it may match ``/``."""

    syntax: str
    values: Any = field(compare=False)
    spans_slashes: bool = False

    def variable(self, name: str) -> str:
        return f"<{self.syntax}:{name}>" if self.syntax else f"<{name}>"


def _path_values() -> Any:
    # Any text that does not start with "/" (the path converter's regex is "[^/].*?").
    return st.tuples(text_without("/", min_size=1, max_size=1), unicode_text).map("".join)


@st.composite
def converters(draw: st.DrawFn) -> Converter:
    kind = draw(
        st.sampled_from(
            [
                "default",
                "length",
                "minmax",
                "int",
                "int-signed",
                "int-fixed",
                "int-bounded",
                "float",
                "float-signed",
                "float-bounded",
                "uuid",
                "any",
                "path",
            ]
        )
    )
    if kind == "default":
        return Converter(draw(st.sampled_from(["", "string", "default"])), segment_values)
    if kind == "length":
        length = draw(st.integers(1, 5))
        return Converter(
            f"string(length={length})", text_without("/", min_size=length, max_size=length)
        )
    if kind == "minmax":
        low = draw(st.integers(1, 3))
        high = draw(st.integers(low, 8))
        return Converter(
            f"string(minlength={low}, maxlength={high})",
            text_without("/", min_size=low, max_size=high),
        )
    if kind == "int":
        return Converter("int", st.integers(0, 10**40))
    if kind == "int-signed":
        return Converter("int(signed=True)", st.integers(-(10**40), 10**40))
    if kind == "int-fixed":
        digits = draw(st.integers(1, 6))
        return Converter(f"int(fixed_digits={digits})", st.integers(0, 10**digits - 1))
    if kind == "int-bounded":
        low = draw(st.integers(0, 100))
        high = draw(st.integers(low, low + 1000))
        return Converter(f"int(min={low}, max={high})", st.integers(low, high))
    if kind == "float":
        return Converter("float", st.floats(min_value=0, allow_nan=False, allow_infinity=False))
    if kind == "float-signed":
        return Converter("float(signed=True)", st.floats(allow_nan=False, allow_infinity=False))
    if kind == "float-bounded":
        return Converter("float(min=0.5, max=1e6)", st.floats(min_value=0.5, max_value=1e6))
    if kind == "uuid":
        return Converter("uuid", st.uuids())
    if kind == "any":
        items = draw(st.lists(segment_values, min_size=1, max_size=4, unique=True))
        return Converter(f"any({', '.join(map(repr, items))})", st.sampled_from(items))
    return Converter("path", _path_values(), spans_slashes=True)


#: Static text of a rule: anything but "/" (a separator) and "<" ">" (variables).
static_text = text_without("/<>", min_size=1, max_size=6)


@dataclass
class RuleSpec:
    """A generated rule: its string and, per variable, the converter it uses."""

    rule: str
    variables: dict[str, Converter]


@st.composite
def round_trip_rules(draw: st.DrawFn, index: int) -> RuleSpec:
    """A rule whose URLs can be parsed back unambiguously: at most one variable per
    segment (with static text around it), at most one path variable, and a last
    segment ``e<index>`` that no other rule of the set ends with."""
    segments: list[str] = []
    variables: dict[str, Converter] = {}
    first = draw(st.sampled_from(["r", "s", "var"]))
    count = draw(st.integers(0, 3))
    path_used = False
    for position in range(count + 1):
        if position == 0 and first != "var":
            segments.append(first)
            continue
        if position > 0 and draw(st.booleans()):
            segments.append(draw(static_text))
            continue
        converter = draw(converters())
        if converter.spans_slashes:
            if path_used:
                converter = Converter("", segment_values)
            path_used = True
        name = f"v{len(variables)}"
        variables[name] = converter
        prefix = draw(st.one_of(st.just(""), static_text))
        suffix = draw(st.one_of(st.just(""), static_text))
        segments.append(f"{prefix}{converter.variable(name)}{suffix}")
    segments.append(f"e{index}")
    trailing = "/" if draw(st.booleans()) else ""
    return RuleSpec("/" + "/".join(segments) + trailing, variables)


@st.composite
def loose_rules(draw: st.DrawFn) -> str:
    """Any valid rule string, ambiguous ones included (several variables in a segment,
    several path variables, empty segments)."""
    pieces = ["/"]
    names = 0
    for _ in range(draw(st.integers(0, 5))):
        choice = draw(st.sampled_from(["static", "slash", "var", "var"]))
        if choice == "static":
            pieces.append(draw(st.sampled_from(["a", "b", "users", "é", "1", "x.json", "%"])))
        elif choice == "slash":
            pieces.append("/")
        else:
            pieces.append(draw(converters()).variable(f"v{names}"))
            names += 1
    return "".join(pieces)


#: Request paths: arbitrary text, and paths made of pieces that rules care about.
PATH_PIECES = [
    "",
    ".",
    "..",
    "a",
    "b",
    "users",
    "é",
    "e0",
    "r",
    "s",
    "0",
    "12",
    "-3",
    "1.5",
    "-0.25",
    "x.json",
    "%",
    "%2F",
    "%zz",
    str(uuid.UUID(int=7)),
    "9" * 50,
]
request_paths = st.one_of(
    unicode_text,
    st.lists(st.sampled_from(PATH_PIECES), max_size=6).map(lambda parts: "/" + "/".join(parts)),
    st.lists(st.sampled_from(PATH_PIECES), max_size=6).map(lambda parts: "//" + "/".join(parts)),
)


def _value_text(value: Any) -> str:
    """What a query value is sent as (``url_encode`` and ``Map.build`` use ``str``)."""
    return str(value)


#: Extra values for ``build``: they go into the query string.
extra_values = st.dictionaries(
    unicode_text.filter(lambda key: not (key.startswith("v") and key[1:].isdigit())),
    st.one_of(
        unicode_text,
        st.integers(),
        st.lists(unicode_text, min_size=1, max_size=3),
        st.none(),
    ),
    max_size=4,
)


def _expected_query(extra: dict[str, Any]) -> list[tuple[str, list[str]]]:
    lists: dict[str, list[str]] = {}
    for key, value in extra.items():
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        lists.setdefault(key, []).extend(_value_text(item) for item in items)
    return list(lists.items())


def _assert_is_uri_path(url: str) -> None:
    # What build() returns is a quoted URL: visible ASCII only, no space, no fragment.
    assert url.isascii(), url
    assert url.isprintable(), url
    assert " " not in url, url
    assert "#" not in url, url


# ------------------------------------------------------------------- matching never raises


@settings(max_examples=budget(400))
@given(
    rules=st.lists(
        st.tuples(
            loose_rules(),
            st.one_of(st.none(), st.lists(st.sampled_from(METHODS[:5]), min_size=1)),
            st.booleans(),  # strict_slashes
            st.booleans(),  # websocket
        ),
        max_size=6,
    ),
    merge_slashes=st.booleans(),
    path=request_paths,
    method=st.sampled_from(METHODS),
    websocket=st.booleans(),
)
@counted
def test_matching_raises_only_documented_errors(
    rules: list[tuple[str, list[str] | None, bool, bool]],
    merge_slashes: bool,
    path: str,
    method: str,
    websocket: bool,
) -> None:
    url_map = Map(merge_slashes=merge_slashes)
    for index, (string_, methods, strict, is_websocket) in enumerate(rules):
        if is_websocket and methods is not None:
            methods = ["GET"]
        url_map.add(
            Rule(
                string_,
                endpoint=f"e{index}",
                methods=methods,
                strict_slashes=strict,
                websocket=is_websocket,
            )
        )
    error: Exception | None = None
    try:
        rule, values = url_map.match(path, method, websocket=websocket)
    except DOCUMENTED as exc:
        error = exc
    if isinstance(error, RequestRedirect):
        assert error.new_url.startswith("/")
        assert not error.new_url.startswith("//")
    elif isinstance(error, MethodNotAllowed):
        assert error.valid_methods
    elif error is None:
        assert rule.map is url_map
        assert rule.websocket == websocket
        assert rule.methods is None or method in rule.methods or method == "OPTIONS"
        assert set(values) >= {name for name in rule.arguments if name.startswith("v")}
    allowed = url_map.allowed_methods(path, websocket=websocket)
    assert allowed <= set(METHODS) | {"PATCH"}


# A run of digits longer than int() converts (4300 digits) used to escape as ValueError.
@example(path="/n/" + "9" * 5000).via("regression: huge int")
@example(path="/b/" + "9" * 5000).via("regression: huge bounded int")
@settings(max_examples=budget(300))
@given(path=request_paths)
@counted
def test_number_converters_never_raise(path: str) -> None:
    url_map = Map(
        [
            Rule("/n/<int:n>", endpoint="n"),
            Rule("/b/<int(min=1, max=99):n>", endpoint="b"),
            Rule("/f/<float:x>", endpoint="f"),
            Rule("/s/<int(signed=True):n>/<float(signed=True):x>", endpoint="s"),
            Rule("/d/<int(fixed_digits=4):n>", endpoint="d"),
        ]
    )
    with contextlib.suppress(DOCUMENTED):
        url_map.match(path, "GET")


# ------------------------------------------------------------------------ build round trip


@st.composite
def rule_sets_with_values(draw: st.DrawFn) -> tuple[list[RuleSpec], int, dict[str, Any]]:
    specs = [draw(round_trip_rules(index)) for index in range(draw(st.integers(1, 4)))]
    chosen = draw(st.integers(0, len(specs) - 1))
    values = {name: draw(converter.values) for name, converter in specs[chosen].variables.items()}
    return specs, chosen, values


# Floats whose repr() is in exponent form used to build URLs the float converter does not
# match ("/f/1e+16", "/f/1e-05").
@example(
    case=([RuleSpec("/r/<float:v0>/e0", {"v0": Converter("float", None)})], 0, {"v0": 1e16}),
    extra={},
).via("regression: float in exponent form")
@example(
    case=([RuleSpec("/r/<float:v0>/e0", {"v0": Converter("float", None)})], 0, {"v0": 1e-05}),
    extra={},
).via("regression: small float")
@settings(max_examples=budget(500))
@given(case=rule_sets_with_values(), extra=extra_values)
@counted
def test_build_then_match_round_trips(
    case: tuple[list[RuleSpec], int, dict[str, Any]], extra: dict[str, Any]
) -> None:
    specs, chosen, values = case
    url_map = Map()
    for index, spec in enumerate(specs):
        url_map.add(Rule(spec.rule, endpoint=f"e{index}"))
    url = url_map.build(f"e{chosen}", {**values, **extra})
    _assert_is_uri_path(url)
    path, _, query = url.partition("?")
    decoded = unquote_strict(path.encode("ascii"), "URL path")
    rule, matched = url_map.match(decoded, "GET")
    assert rule.endpoint == f"e{chosen}"
    assert matched == values
    assert list(parse_query_string(query).lists()) == _expected_query(extra)


@settings(max_examples=budget(200))
@given(
    subdomain=st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
    value=segment_values,
    on_variable=st.booleans(),
)
@counted
def test_subdomain_build_then_match_round_trips(
    subdomain: str, value: str, on_variable: bool
) -> None:
    url_map = Map()
    url_map.add(Rule("/p/<v>", endpoint="main"))
    if on_variable:
        url_map.add(Rule("/p/<v>", endpoint="sub", subdomain="<tenant>"))
        values: dict[str, Any] = {"v": value, "tenant": subdomain}
    else:
        url_map.add(Rule("/p/<v>", endpoint="sub", subdomain=subdomain))
        values = {"v": value}
    path, host = url_map.build_with_host("sub", values, server_name="example.com")
    assert host == f"{subdomain}.example.com"
    found = Map.subdomain_of(host, "example.com")
    assert found == subdomain
    rule, matched = url_map.match(
        unquote_strict(path.encode("ascii"), "URL path"), "GET", subdomain=found
    )
    assert rule.endpoint == "sub"
    assert matched == values


@settings(max_examples=budget(200))
@given(
    user=st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
    # A host rule naming the scheme's default port never matches: hosts are compared
    # without it (normalize_host), as in Werkzeug.
    port=st.one_of(st.none(), st.integers(1, 65535).filter(lambda port: port != 80)),
    number=st.integers(0, 10**6),
)
@counted
def test_host_build_then_match_round_trips(user: str, port: int | None, number: int) -> None:
    url_map = Map(host_matching=True)
    host_pattern = "<user>.example.com" + ("" if port is None else f":{port}")
    url_map.add(Rule("/n/<int:n>", endpoint="user", host=host_pattern))
    url_map.add(Rule("/n/<int:n>", endpoint="any"))
    path, host = url_map.build_with_host("user", {"user": user, "n": number}, server_name="x")
    assert host is not None
    rule, matched = url_map.match(
        unquote_strict(path.encode("ascii"), "URL path"),
        "GET",
        host=Map.normalize_host(host.upper(), "http"),
    )
    assert rule.endpoint == "user"
    assert matched == {"user": user, "n": number}


# ------------------------------------------------------------------------------ end to end


def _routing_app() -> Ambi:
    app = Ambi(__name__)
    app.testing = False  # what production sees: errors become responses

    def show(**values: Any) -> dict[str, Any]:
        return {"endpoint": request.endpoint, "values": {k: str(v) for k, v in values.items()}}

    app.add_url_rule("/n/<int:v>", "int", show)
    app.add_url_rule("/f/<float(signed=True):v>", "float", show)
    app.add_url_rule("/u/<uuid:v>", "uuid", show)
    app.add_url_rule("/files/<path:v>", "path", show)
    app.add_url_rule("/d/<v>/", "dir", show)
    app.add_url_rule("/a/<any(x, 'y z', é):v>", "any", show)
    app.add_url_rule("/<v>/about", "about", show, methods=["POST"])
    return app


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def routing_client(request: pytest.FixtureRequest) -> Iterator[AmbiClient]:
    client = _routing_app().test_client(request.param)
    yield client
    client.close()


#: Raw request targets as a client sends them: visible ASCII, with percent-escapes of any
#: byte (valid UTF-8 or not), broken escapes, "//", "." and "..".
raw_pieces = st.one_of(
    st.text(st.sampled_from(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@")),
    st.binary(max_size=4).map(lambda data: "".join(f"%{byte:02X}" for byte in data)),
    st.text(st.characters(codec="utf-8"), max_size=3).map(lambda text: quote(text, safe="")),
    st.sampled_from(["%", "%z", "%zz", "%C3", "%C3%28", "%2F", "%0D%0A", "%00", ".", ".."]),
)
raw_paths = st.lists(
    st.tuples(st.sampled_from(["", "n", "f", "u", "files", "d", "a", "x"]), raw_pieces),
    min_size=1,
    max_size=4,
).map(lambda parts: "/" + "/".join(a + b if a else b for a, b in parts))


def _check_location(response: httpx.Response) -> None:
    location = response.headers["location"]
    assert location.isascii()
    assert location.isprintable()
    assert " " not in location


# The strict-slash redirect put the decoded path in Location: CR/LF made it a 500, "€"
# an unencodable header, "%3F" a "?" that cut the path.
@example(target="/d/%0D%0A", method="GET").via("regression: CR LF in a redirect")
@example(target="/d/%E2%82%AC", method="GET").via("regression: non-ASCII in a redirect")
@example(target="/d/a%3Fb%23c%20d", method="GET").via("regression: ? # space in a redirect")
@example(target="/n/" + "9" * 5000, method="GET").via("regression: huge int")
@settings(max_examples=budget(150))
@given(target=raw_paths, method=st.sampled_from(["GET", "POST", "PUT", "OPTIONS"]))
@counted
def test_raw_paths_end_to_end(routing_client: AmbiClient, target: str, method: str) -> None:
    response = routing_client.request(
        method, httpx.URL("http://localhost", raw_path=target.encode("ascii"))
    )
    assert response.status_code in (200, 308, 400, 404, 405), response.text
    if response.status_code == 308:
        _check_location(response)
        location = httpx.URL(response.headers["location"])
        # The redirect names the same path plus "/", in its wire form.
        followed = routing_client.request(method, location)
        assert followed.status_code in (200, 405)
        if followed.status_code == 200 and method == "GET":
            assert followed.json()["endpoint"] == "dir"


@settings(max_examples=budget(100))
@given(
    value=segment_values.filter(lambda text: text not in (".", "..")),
    query=st.lists(st.tuples(unicode_text, unicode_text), max_size=3),
)
@counted
def test_strict_slash_redirect_keeps_value_end_to_end(
    routing_client: AmbiClient, value: str, query: list[tuple[str, str]]
) -> None:
    response = routing_client.get(f"/d/{quote(value, safe='')}", params=query)
    assert response.status_code == 308
    _check_location(response)
    followed = routing_client.get(httpx.URL(response.headers["location"]))
    assert followed.status_code == 200
    assert followed.json()["values"] == {"v": value}
    assert followed.request.url.query == response.request.url.query  # kept as it was sent
