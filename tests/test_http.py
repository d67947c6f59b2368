"""Tests for ambi.http: status phrases, query strings, header values, dates and cookies."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from http.cookies import SimpleCookie
from typing import Any

import pytest

from ambi.datastructures import ImmutableMultiDict, MultiDict
from ambi.exceptions import BadRequest, RequestEntityTooLarge
from ambi.http import (
    HTTP_STATUS_CODES,
    dump_cookie,
    dump_options_header,
    http_date,
    parse_cookie,
    parse_date,
    parse_list_header,
    parse_options_header,
    parse_query_string,
    quote_header_value,
    unquote_header_value,
    unquote_strict,
    url_encode,
    url_quote,
)

# -- status codes -------------------------------------------------------------------------------


def test_status_codes_cover_the_standard_ranges() -> None:
    expected = {
        *range(100, 104),
        *range(200, 209),
        226,
        *range(300, 309),
        *range(400, 419),
        *range(421, 427),
        428,
        429,
        431,
        451,
        *range(500, 509),
        510,
        511,
    }
    assert expected <= set(HTTP_STATUS_CODES)
    assert all(isinstance(phrase, str) and phrase for phrase in HTTP_STATUS_CODES.values())


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (100, "Continue"),
        (103, "Early Hints"),
        (200, "OK"),
        (204, "No Content"),
        (226, "IM Used"),
        (302, "Found"),
        (308, "Permanent Redirect"),
        (400, "Bad Request"),
        (404, "Not Found"),
        (413, "Request Entity Too Large"),
        (418, "I'm a teapot"),
        (429, "Too Many Requests"),
        (451, "Unavailable For Legal Reasons"),
        (500, "Internal Server Error"),
        (511, "Network Authentication Required"),
    ],
)
def test_status_phrases(code: int, phrase: str) -> None:
    assert HTTP_STATUS_CODES[code] == phrase


# -- unquote_strict -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", ""),
        (b"plain", "plain"),
        (b"a+b", "a+b"),
        (b"%2F%2f", "//"),
        (b"caf%C3%A9", "café"),
        (b"%E2%82%AC%20rates", "€ rates"),
        (b"%25", "%"),
        (b"%2541", "%41"),
        ("é".encode(), "é"),
        (b"%00", "\x00"),
    ],
)
def test_unquote_strict(raw: bytes, expected: str) -> None:
    assert unquote_strict(raw, "URL") == expected


@pytest.mark.parametrize(
    "raw", [b"%", b"a%", b"%4", b"%zz", b"%+1", b"% 1", b"%-1", b"%_1", b"%4g"]
)
def test_unquote_strict_rejects_bad_escapes(raw: bytes) -> None:
    with pytest.raises(BadRequest) as info:
        unquote_strict(raw, "URL path")
    assert info.value.description == "Invalid percent-encoding in the URL path."


@pytest.mark.parametrize("raw", [b"%FF", b"\xff", b"%C3", b"%C3%28", b"\xc3", b"%ED%A0%80"])
def test_unquote_strict_rejects_bad_utf8(raw: bytes) -> None:
    with pytest.raises(BadRequest) as info:
        unquote_strict(raw, "URL path")
    assert info.value.description == "Invalid UTF-8 in the URL path."


# -- parse_query_string -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", []),
        (b"&", []),
        (b"&&a=1&&", [("a", "1")]),
        (b"&&a=%41&&b+c&", [("a", "A"), ("b c", "")]),
        (b"a=1&b=2&a=3", [("a", "1"), ("a", "3"), ("b", "2")]),
        (b"flag", [("flag", "")]),
        (b"flag=", [("flag", "")]),
        (b"=value", [("", "value")]),
        (b"a=b=c", [("a", "b=c")]),
        (b"a=1;b=2", [("a", "1;b=2")]),
        (b"q=a+b", [("q", "a b")]),
        (b"a+b=c+d", [("a b", "c d")]),
        (b"q=a%2Bb", [("q", "a+b")]),
        (b"q=%26%3D", [("q", "&=")]),
        (b"k%C3%A9y=v%C3%A4lue&x", [("kéy", "välue"), ("x", "")]),
        ("q=é".encode(), [("q", "é")]),
        (b"plain=caf\xc3\xa9&b=%41", [("plain", "café"), ("b", "A")]),
        ("q=é", [("q", "é")]),
        ("q=caf%C3%A9+au+lait", [("q", "café au lait")]),
    ],
)
def test_parse_query_string(raw: bytes | str, expected: list[tuple[str, str]]) -> None:
    result = parse_query_string(raw)
    assert isinstance(result, ImmutableMultiDict)
    assert list(result.items(multi=True)) == expected


def test_parse_query_string_is_immutable() -> None:
    with pytest.raises(TypeError):
        parse_query_string(b"a=1")["a"] = "2"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"a=%", "Invalid percent-encoding in the query string."),
        (b"a=%zz&b=1", "Invalid percent-encoding in the query string."),
        (b"a%2=1", "Invalid percent-encoding in the query string."),
        (b"a=%ff", "Invalid UTF-8 in the query string."),
        (b"a=\xff", "Invalid UTF-8 in the query string."),
        (b"a=\xff+b", "Invalid UTF-8 in the query string."),
        (b"\xc3=1", "Invalid UTF-8 in the query string."),
        ("a=\udcff", "Invalid UTF-8 in the query string."),
    ],
)
def test_parse_query_string_errors(raw: bytes | str, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_query_string(raw)
    assert info.value.description == message


def test_parse_query_string_error_names_what() -> None:
    with pytest.raises(BadRequest, match="Invalid percent-encoding in the form data"):
        parse_query_string(b"a=%", what="form data")
    with pytest.raises(BadRequest, match="Invalid UTF-8 in the form data"):
        parse_query_string(b"a=\xff", what="form data")


@pytest.mark.parametrize("raw", [b"a=1&b=2&c=3", b"a=1&b=2&c=%33", b"a&b&c&&&"])
def test_parse_query_string_max_fields(raw: bytes) -> None:
    assert len(parse_query_string(raw, max_fields=3)) == 3
    with pytest.raises(RequestEntityTooLarge) as info:
        parse_query_string(raw, max_fields=2)
    assert info.value.description == "Too many fields."
    assert info.value.code == 413


def test_parse_query_string_max_fields_zero() -> None:
    assert len(parse_query_string(b"", max_fields=0)) == 0
    assert len(parse_query_string(b"&&", max_fields=0)) == 0
    with pytest.raises(RequestEntityTooLarge):
        parse_query_string(b"a", max_fields=0)


# -- url_quote / url_encode ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/plain/path", "/plain/path"),
        ("/my file.txt", "/my%20file.txt"),
        ("/é", "/%C3%A9"),
        ("/a?b#c%d", "/a%3Fb%23c%25d"),
        ("/keep:@!$&'()*+,;=-._~", "/keep:@!$&'()*+,;=-._~"),
        ("a\nb", "a%0Ab"),
    ],
)
def test_url_quote(value: str, expected: str) -> None:
    assert url_quote(value) == expected


def test_url_quote_custom_safe() -> None:
    assert url_quote("a/b c", safe="") == "a%2Fb%20c"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({}, ""),
        ({"q": "a b"}, "q=a+b"),
        ({"tag": ["x", "y"], "n": 2, "skip": None}, "tag=x&tag=y&n=2"),
        ({"t": ("x", None, "z")}, "t=x&t=z"),
        ([("a", "1"), ("a", "2"), ("b", None)], "a=1&a=2"),
        (MultiDict([("a", "1"), ("a", "2")]), "a=1&a=2"),
        ({"k&=": "v&=+#%"}, "k%26%3D=v%26%3D%2B%23%25"),
        ({"path": "/a:b@c;d,e?f!'()*$"}, "path=/a:b@c;d,e?f!'()*$"),
        ({"é": "ü"}, "%C3%A9=%C3%BC"),
        ({"raw": b"\xff "}, "raw=%FF+"),
    ],
)
def test_url_encode(obj: Any, expected: str) -> None:
    assert url_encode(obj) == expected


def test_url_encode_round_trips() -> None:
    pairs = [("q", "a b&c=d"), ("q", "+%;é€"), ("empty", ""), ("", "no key")]
    assert list(parse_query_string(url_encode(pairs)).items(multi=True)) == [
        ("q", "a b&c=d"),
        ("q", "+%;é€"),
        ("empty", ""),
        ("", "no key"),
    ]


# -- quote / unquote header values --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "allow_token", "expected"),
    [
        ("utf-8", True, "utf-8"),
        ("utf-8", False, '"utf-8"'),
        ("", True, '""'),
        ("a b", True, '"a b"'),
        ('say "hi"', True, '"say \\"hi\\""'),
        ("back\\slash", True, '"back\\\\slash"'),
        (12, True, "12"),
    ],
)
def test_quote_header_value(value: object, allow_token: bool, expected: str) -> None:
    assert quote_header_value(value, allow_token) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("token", "token"),
        ('""', ""),
        ('"a b"', "a b"),
        ('"say \\"hi\\""', 'say "hi"'),
        ('"back\\\\slash"', "back\\slash"),
        ('"C:\\dir\\file.txt"', "C:\\dir\\file.txt"),
        ('"', '"'),
        ('"unterminated', '"unterminated'),
    ],
)
def test_unquote_header_value(value: str, expected: str) -> None:
    assert unquote_header_value(value) == expected


@pytest.mark.parametrize("value", ["", "token", "a b", 'q"uote', "back\\slash", '\\"', "\\"])
def test_quote_unquote_round_trip(value: str) -> None:
    assert unquote_header_value(quote_header_value(value)) == value


@pytest.mark.parametrize(
    ("header", "options", "expected"),
    [
        ("text/html", {}, "text/html"),
        ("text/html", {"charset": "utf-8"}, "text/html; charset=utf-8"),
        (None, {"a": "1", "b": "x y"}, 'a=1; b="x y"'),
        ("attachment", {"filename": "a.txt", "skip": None}, "attachment; filename=a.txt"),
        ("attachment", {"filename": "€.txt"}, "attachment; filename*=UTF-8''%E2%82%AC.txt"),
        ("attachment", {"filename*": "UTF-8''%41"}, "attachment; filename*=UTF-8''%41"),
        ("x", {"n": 3}, "x; n=3"),
    ],
)
def test_dump_options_header(header: str | None, options: dict[str, Any], expected: str) -> None:
    assert dump_options_header(header, options) == expected


# -- parse_options_header -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("", {})),
        ("", ("", {})),
        ("text/html", ("text/html", {})),
        ("  TEXT/Html  ", ("text/html", {})),
        ("text/html; charset=UTF-8", ("text/html", {"charset": "UTF-8"})),
        ("text/html;Charset=utf-8;  Q = 0.5 ", ("text/html", {"charset": "utf-8", "q": "0.5"})),
        (
            'form-data; name="file"; filename="a b;c.txt"',
            ("form-data", {"name": "file", "filename": "a b;c.txt"}),
        ),
        ('x; a="say \\"hi\\" \\\\o/"', ("x", {"a": 'say "hi" \\o/'})),
        ('x; filename="C:\\dir\\a.txt"', ("x", {"filename": "C:\\dir\\a.txt"})),
        ('x; a=""', ("x", {"a": ""})),
        ("x; a=", ("x", {"a": ""})),
        # RFC 2231 / RFC 8187 extended values
        ("x; filename*=UTF-8''%E2%82%AC%20rates.pdf", ("x", {"filename": "€ rates.pdf"})),
        ("x; filename*=utf-8'en'%C3%A9", ("x", {"filename": "é"})),
        ("x; filename*=iso-8859-1''%E9", ("x", {"filename": "é"})),
        ("x; filename*=''%41", ("x", {"filename": "A"})),
        ("x; filename*=\"UTF-8''%41\"", ("x", {"filename": "A"})),
        ("x; filename*=unknown-charset''%41%C3%A9", ("x", {"filename": "Aé"})),
        ("x; filename*=UTF-8''%FF", ("x", {"filename": "\ufffd"})),
        ("x; filename*=no-quotes%41", ("x", {"filename": "no-quotesA"})),
        ("x; filename*=UTF-8'%41", ("x", {"filename": "A"})),
        (
            "x; filename=fallback.pdf; filename*=UTF-8''%E2%82%AC.pdf",
            ("x", {"filename": "€.pdf"}),
        ),
        (
            "x; filename*=UTF-8''%E2%82%AC.pdf; filename=fallback.pdf",
            ("x", {"filename": "€.pdf"}),
        ),
        # RFC 2231 continuations
        ("x; a*0=ab; a*1=cd", ("x", {"a": "abcd"})),
        ("x; a*1=cd; a*0=ab", ("x", {"a": "abcd"})),
        ('x; a*0="a b"; a*1=" c"', ("x", {"a": "a b c"})),
        ("x; a*0*=UTF-8''%E2%82; a*1*=%AC; a*2=!", ("x", {"a": "€!"})),
        ("x; a*0*=iso-8859-1'fr'%E9t%E9", ("x", {"a": "été"})),
        # junk is skipped, never raised
        ("x; foo", ("x", {})),
        ("x;;a=b;", ("x", {"a": "b"})),
        ("x; =junk; a=b", ("x", {"a": "b"})),
        ('x; "quoted-key"=1; a=b', ("x", {"a": "b"})),
        ('x; "stray', ("x", {})),
        ('x; a="unterminated; b=c', ("x", {"a": '"unterminated', "b": "c"})),
        ('x; a="x" junk', ("x", {"a": '"x" junk'})),
        ("x; a*b=1; *=2", ("x", {"a*b": "1", "*": "2"})),
        ('"junk"; a=b', ('"junk"', {"a": "b"})),
        (";a=b", ("", {"a": "b"})),
    ],
)
def test_parse_options_header(value: str | None, expected: tuple[str, dict[str, str]]) -> None:
    assert parse_options_header(value) == expected


@pytest.mark.parametrize(
    "options",
    [
        {"charset": "utf-8"},
        {"filename": "my report (final).pdf"},
        {"filename": 'quote" and back\\slash'},
        {"filename": "€uro résumé.pdf"},
        {"a": "1", "b": "two words", "c": ""},
    ],
)
def test_options_header_round_trip(options: dict[str, str]) -> None:
    assert parse_options_header(dump_options_header("attachment", options)) == (
        "attachment",
        options,
    )


# -- parse_list_header --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("", []),
        ("gzip", ["gzip"]),
        ("gzip, deflate,br", ["gzip", "deflate", "br"]),
        (' a , "b,c" , , d ', ["a", "b,c", "d"]),
        ('"say \\"hi\\""', ['say "hi"']),
        ('no-cache="Set-Cookie, X", max-age=0', ['no-cache="Set-Cookie, X"', "max-age=0"]),
        (",,,", []),
        ('a, "unterminated, b', ["a", '"unterminated', "b"]),
    ],
)
def test_parse_list_header(value: str | None, expected: list[str]) -> None:
    assert parse_list_header(value) == expected


# -- dates --------------------------------------------------------------------------------------

_IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d\d:\d\d:\d\d GMT"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (784111777, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (784111777.9, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (datetime(1994, 11, 6, 8, 49, 37), "Sun, 06 Nov 1994 08:49:37 GMT"),
        (datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC), "Sun, 06 Nov 1994 08:49:37 GMT"),
        (
            datetime(1994, 11, 6, 10, 49, 37, tzinfo=timezone(timedelta(hours=2))),
            "Sun, 06 Nov 1994 08:49:37 GMT",
        ),
        (date(2024, 2, 29), "Thu, 29 Feb 2024 00:00:00 GMT"),
        (datetime(9999, 12, 31, 23, 59, 59), "Fri, 31 Dec 9999 23:59:59 GMT"),
        (datetime(1, 1, 1), "Mon, 01 Jan 0001 00:00:00 GMT"),
    ],
)
def test_http_date(value: datetime | date | float, expected: str) -> None:
    assert http_date(value) == expected


def test_http_date_now() -> None:
    value = http_date()
    assert _IMF_FIXDATE.fullmatch(value)
    parsed = parse_date(value)
    assert parsed is not None
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 5


_NOV_6 = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", _NOV_6),
        ("  Sun, 06 Nov 1994 08:49:37 GMT  ", _NOV_6),
        ("Sunday, 06-Nov-94 08:49:37 GMT", _NOV_6),
        ("Sun Nov  6 08:49:37 1994", _NOV_6),
        ("Sun, 06 Nov 1994 10:49:37 +0200", _NOV_6),
        ("Sun, 06 Nov 1994 08:49:37 -0000", _NOV_6),
        (None, None),
        ("", None),
        ("garbage", None),
        ("Sun, 32 Nov 1994 08:49:37 GMT", None),
        ("Sun, 06 Nov 99999 08:49:37 GMT", None),
        ("Fri, 31 Dec 9999 23:30:00 -0100", None),
    ],
)
def test_parse_date(value: str | None, expected: datetime | None) -> None:
    result = parse_date(value)
    assert result == expected
    if result is not None:
        assert result.tzinfo is UTC


def test_date_round_trip() -> None:
    moment = datetime(2031, 7, 4, 23, 5, 9, tzinfo=UTC)
    assert parse_date(http_date(moment)) == moment


# -- parse_cookie -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("", []),
        ("a=b", [("a", "b")]),
        ("a=b; c=d;e=f", [("a", "b"), ("c", "d"), ("e", "f")]),
        (" a = b ;  ", [("a", "b")]),
        ("a=1; a=2", [("a", "1"), ("a", "2")]),
        ("a=b=c", [("a", "b=c")]),
        ("flag", [("flag", "")]),
        ("a=", [("a", "")]),
        ("=nameless; a=b", [("a", "b")]),
        ("a=%20%41", [("a", "%20%41")]),
        ('a="quoted"', [("a", "quoted")]),
        ('a=""', [("a", "")]),
        ('a="b c\\"\\073\\\\\\303\\251"', [("a", 'b c";\\é')]),
        ('a="\\351"', [("a", "é")]),
        ('a="\\x"', [("a", "x")]),
        ('a="end\\"', [("a", "end\\")]),
        ('a="unterminated; b=c', [("b", "c")]),
        ('a="; b=c', [("b", "c")]),
        ('a=x"y; b=c', [("a", 'x"y'), ("b", "c")]),
        ("a=é", [("a", "é")]),
    ],
)
def test_parse_cookie(header: str | None, expected: list[tuple[str, str]]) -> None:
    result = parse_cookie(header)
    assert isinstance(result, ImmutableMultiDict)
    assert list(result.items(multi=True)) == expected


def test_parse_cookie_reads_http_cookies_output() -> None:
    cookie: SimpleCookie = SimpleCookie()
    cookie["a"] = 'é; "x",\\'
    header = cookie.output(header="", attrs=[]).strip()
    assert parse_cookie(header)["a"] == 'é; "x",\\'


# -- dump_cookie --------------------------------------------------------------------------------


def test_dump_cookie_defaults() -> None:
    assert dump_cookie("session", "abc") == "session=abc; Path=/"
    assert dump_cookie("empty") == "empty=; Path=/"


def test_dump_cookie_all_attributes() -> None:
    header = dump_cookie(
        "k",
        "v",
        max_age=60,
        expires=0,
        path="/app",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    assert header == (
        "k=v; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60; Secure;"
        " HttpOnly; Path=/app; SameSite=Strict"
    )


def test_dump_cookie_max_age_sets_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.time", lambda: 1000.0)
    assert dump_cookie("k", max_age=60) == (
        "k=; Expires=Thu, 01 Jan 1970 00:17:40 GMT; Max-Age=60; Path=/"
    )
    assert dump_cookie("k", max_age=timedelta(minutes=1)) == (
        "k=; Expires=Thu, 01 Jan 1970 00:17:40 GMT; Max-Age=60; Path=/"
    )
    assert dump_cookie("k", max_age=60, sync_expires=False) == "k=; Max-Age=60; Path=/"


@pytest.mark.parametrize(
    ("expires", "expected"),
    [
        (datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), "Wed, 02 Jan 2030 03:04:05 GMT"),
        (date(2030, 1, 2), "Wed, 02 Jan 2030 00:00:00 GMT"),
        (1.5, "Thu, 01 Jan 1970 00:00:01 GMT"),
        ("Wed, 02 Jan 2030 03:04:05 GMT", "Wed, 02 Jan 2030 03:04:05 GMT"),
    ],
)
def test_dump_cookie_expires(expires: Any, expected: str) -> None:
    assert dump_cookie("k", expires=expires) == f"k=; Expires={expected}; Path=/"


def test_dump_cookie_path_and_domain() -> None:
    assert dump_cookie("k", path=None) == "k="
    assert dump_cookie("k", path="/a b;c/é") == "k=; Path=/a%20b%3Bc/%C3%A9"
    assert dump_cookie("k", path="/already%20quoted") == "k=; Path=/already%20quoted"
    assert dump_cookie("k", domain="") == "k=; Path=/"
    assert dump_cookie("k", domain=".Example.com") == "k=; Domain=.Example.com; Path=/"
    assert dump_cookie("k", domain="bücher.de") == "k=; Domain=xn--bcher-kva.de; Path=/"


@pytest.mark.parametrize(
    ("given", "written"), [("lax", "Lax"), ("NONE", "None"), ("Strict", "Strict")]
)
def test_dump_cookie_samesite(given: str, written: str) -> None:
    assert dump_cookie("k", samesite=given) == f"k=; Path=/; SameSite={written}"


def test_dump_cookie_partitioned_implies_secure() -> None:
    assert dump_cookie("k", "v", partitioned=True) == "k=v; Secure; Path=/; Partitioned"
    assert dump_cookie("k", "v", secure=True, partitioned=True) == (
        "k=v; Secure; Path=/; Partitioned"
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain-value_1.2~!#$%&'()*+/:<=>?@[]^`{|}", "plain-value_1.2~!#$%&'()*+/:<=>?@[]^`{|}"),
        ("a b", '"a b"'),
        ("a,b;c", '"a\\054b\\073c"'),
        ('q"b\\', '"q\\"b\\\\"'),
        ("tab\there\x7f", '"tab\\011here\\177"'),
        ("é", '"\\303\\251"'),
        (" ", '" "'),
    ],
)
def test_dump_cookie_quotes_values(value: str, written: str) -> None:
    assert dump_cookie("k", value, path=None) == f"k={written}"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "simple",
        "with space",
        " leading and trailing ",
        'quote " inside',
        '"fully quoted"',
        "back\\slash",
        "semi;colon, comma",
        "tab\tand\x01control\x7f",
        "unicode é € 😀",
        "\\073 looks like an escape",
        "eq=uals",
        "%20 stays",
    ],
)
def test_cookie_round_trip(value: str) -> None:
    cookies = parse_cookie(dump_cookie("name", value, max_age=10, httponly=True))
    assert cookies["name"] == value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "a\nb"}, "cookie name must not contain newline"),
        ({"key": "a\rb"}, "cookie name must not contain newline"),
        ({"key": "a\0b"}, "cookie name must not contain newline"),
        ({"value": "a\r\nSet-Cookie: x=y"}, "cookie value must not contain newline"),
        ({"value": "\0"}, "cookie value must not contain newline"),
        ({"path": "/a\nb"}, "cookie path must not contain newline"),
        ({"path": "/a\0"}, "cookie path must not contain newline"),
        ({"domain": "example.com\r\n"}, "cookie domain must not contain newline"),
        ({"expires": "Wed\n"}, "cookie expiry date must not contain newline"),
        ({"expires": "Wed; Secure"}, "must not contain ';'"),
        ({"key": ""}, "Invalid cookie name"),
        ({"key": "a b"}, "Invalid cookie name"),
        ({"key": "a=b"}, "Invalid cookie name"),
        ({"key": "a;b"}, "Invalid cookie name"),
        ({"domain": "example.com; Secure"}, "Invalid cookie domain"),
        ({"domain": "exa mple.com"}, "Invalid cookie domain"),
        ({"samesite": "sometimes"}, "SameSite must be"),
    ],
)
def test_dump_cookie_rejects(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"key": "k", **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        dump_cookie(**arguments)


def test_dump_cookie_warns_when_too_large() -> None:
    with pytest.warns(UserWarning, match="'big' cookie is too large"):
        header = dump_cookie("big", "x" * 5000)
    assert header.startswith("big=xxx")
    with pytest.warns(UserWarning, match="over the limit of 10 bytes"):
        dump_cookie("k", "0123456789", max_size=10)


def test_dump_cookie_size_limit_can_be_disabled_or_met() -> None:
    dump_cookie("big", "x" * 5000, max_size=0)
    header = dump_cookie("k", "v", path=None, max_size=3)
    assert header == "k=v"
