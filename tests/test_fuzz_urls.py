"""Fuzzing the URLs Ambi writes: ``url_for`` and ``redirect``.

* ``url_for`` with random values for every converter, leftover query values, any
  ``_anchor`` text, ``_external`` and ``_scheme``: the URL is ASCII without spaces or
  controls (no CR/LF can reach a page or a header), and parsing it back gives the same
  endpoint, values, query and anchor; an unusable ``_scheme`` is a ``ValueError``.
* End to end, with any ``Host`` header the client sends: ``url_for(_external=True)`` is a
  clean URL whose host is the request's, or empty when the header is not a host.
* ``redirect`` with any location: CR, LF or NUL are refused with ``ValueError``; else the
  ``Location`` header is ASCII without spaces and names the same path.

See tests/_fuzz.py for profiles, budgets and the example count.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ambi import Ambi, redirect, request, url_for
from ambi.http import parse_query_string, split_host, unquote_strict
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


def _view(**values: Any) -> str:
    return "ok"


def _url_app() -> Ambi:
    app = Ambi(__name__)
    app.testing = False
    app.config["SERVER_NAME"] = "example.com"
    app.add_url_rule("/s/<v>", "string", _view)
    app.add_url_rule("/i/<int(signed=True):v>", "int", _view)
    app.add_url_rule("/f/<float(signed=True):v>", "float", _view)
    app.add_url_rule("/u/<uuid:v>", "uuid", _view)
    app.add_url_rule("/p/<path:v>/end", "path", _view)
    app.add_url_rule("/a/<any(x, 'y z', é):v>/", "any", _view)
    return app


URL_APP = _url_app()

#: (endpoint, values the endpoint's converter round-trips)
targets = st.one_of(
    st.tuples(st.just("string"), text_without("/", min_size=1)),
    st.tuples(st.just("int"), st.integers(-(10**30), 10**30)),
    st.tuples(st.just("float"), st.floats(allow_nan=False, allow_infinity=False)),
    st.tuples(st.just("uuid"), st.uuids()),
    st.tuples(
        st.just("path"),
        st.tuples(text_without("/", min_size=1, max_size=1), unicode_text).map("".join),
    ),
    st.tuples(st.just("any"), st.sampled_from(["x", "y z", "é"])),
)
extras = st.dictionaries(
    unicode_text.filter(lambda key: key != "v" and not key.startswith("_")),
    unicode_text,
    max_size=3,
)
#: Schemes url_for accepts (RFC 3986), and anything else.
schemes = st.one_of(
    st.none(),
    st.sampled_from(["http", "https", "ws", "git+ssh", "x-1.2"]),
    unicode_text,
)


#: RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")


def assert_clean_url(url: str) -> None:
    """ASCII, no space, no control character: safe in a page and in a header."""
    assert url.isascii(), url
    assert url.isprintable(), url
    assert " " not in url, url


@example(target=("path", "a"), extra={}, anchor="x\r\ny", external=True, scheme="a\r\nb").via(
    "regression: CR LF in the scheme (the anchor is escaped)"
)
@settings(max_examples=budget(400))
@given(
    target=targets,
    extra=extras,
    anchor=st.one_of(st.none(), unicode_text),
    external=st.booleans(),
    scheme=schemes,
)
@counted
def test_url_for_round_trips(
    target: tuple[str, Any],
    extra: dict[str, str],
    anchor: str | None,
    external: bool,
    scheme: str | None,
) -> None:
    endpoint, value = target
    with URL_APP.app_context():
        try:
            url = url_for(
                endpoint,
                v=value,
                _anchor=anchor,
                _external=external or scheme is not None,  # a _scheme needs _external
                _scheme=scheme,
                **extra,
            )
        except ValueError:
            # Only a scheme RFC 3986 does not allow is refused.
            assert scheme is not None
            assert SCHEME.fullmatch(scheme) is None
            return
    assert_clean_url(url)
    parts = urlsplit(url)
    if external or scheme is not None:
        # An HTTP endpoint's URL is never ws:// or wss://.
        expected = {"ws": "http", "wss": "https"}.get(scheme or "http", scheme or "http")
        assert parts.scheme == expected.lower()
        assert parts.netloc == "example.com"
    else:
        assert not parts.scheme
        assert not parts.netloc
    rule, values = URL_APP.url_map.match(
        unquote_strict(parts.path.encode("ascii"), "URL path"), "GET"
    )
    assert rule.endpoint == endpoint
    assert values == {"v": value}
    assert dict(parse_query_string(parts.query)) == extra
    if anchor is None:
        assert "#" not in url
    elif "%" not in anchor:  # "%" is kept as it is, for anchors already quoted (as Flask)
        assert unquote(parts.fragment) == anchor


def _link() -> str:
    return url_for("string", v=request.args["v"], _external=True)


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def url_client(request: pytest.FixtureRequest) -> Iterator[AmbiClient]:
    app = Ambi(__name__)
    app.testing = False
    app.add_url_rule("/s/<v>", "string", _view)
    app.add_url_rule("/link", "link", _link)
    client = app.test_client(request.param)
    yield client
    client.close()


@example(host="evil.example/x?", value="a").via("a path in the Host")
@example(host="a b", value="a").via("a space in the Host")
@settings(max_examples=budget(150))
@given(host=header_text.map(str.strip), value=text_without("/", min_size=1))
@counted
def test_external_urls_with_any_host_end_to_end(
    url_client: AmbiClient, host: str, value: str
) -> None:
    response = url_client.get(
        "/link", params={"v": value}, headers={"Host": host.encode("latin-1")}
    )
    valid = split_host(host)
    if valid is None:  # not a host: refused, or left out of the URL
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            return
    else:
        assert response.status_code == 200, response.text
    url = response.text
    assert_clean_url(url)
    parts = urlsplit(url)
    if not host:  # no Host value: the server's address, if the server gave one
        pass
    elif valid is None:
        assert not parts.netloc
    else:
        name, port = valid
        assert split_host(parts.netloc) == (name, None if port == 80 else port)
    assert unquote(parts.path) == f"/s/{value}"


#: Locations a view may redirect to: paths, URLs, anything.
locations = st.one_of(
    unicode_text,
    st.tuples(
        st.sampled_from(["", "/", "http://", "https://", "//", "http://[", "mailto:"]),
        unicode_text,
    ).map("".join),
    st.sampled_from(["http://bücher.example/straße?q=ä b#top", "http://[::1]:80/é", "/%zz é"]),
)


@example(location="http://[é", code=302).via("regression: an unclosed IPv6 host")
@example(location="http://é:x/", code=302).via("a port that is not a number")
@example(location="/\x1f", code=302).via("regression: a control character")
@example(location="a://\x1f", code=302).via("regression: a control character in the host")
@settings(max_examples=budget(400))
@given(location=locations, code=st.sampled_from([301, 302, 303, 307, 308]))
@counted
def test_redirect_writes_a_clean_location(location: str, code: int) -> None:
    if any(char in location for char in "\r\n\x00"):
        with pytest.raises(ValueError, match="must not contain"):
            redirect(location, code)
        return
    response = redirect(location, code)
    assert response.status_code == code
    header = response.headers["Location"]
    assert_clean_url(header)
    assert f'href="{html.escape(header)}"' in response.get_data(as_text=True)


# No "%" (kept as it is), "?" or "#" (an empty query or fragment is dropped), and no tab
# (left out, as urlsplit and browsers do).
@settings(max_examples=budget(300))
@given(path=text_without("%?#\t\r\n\x00", min_size=1).map(lambda text: "/" + text.lstrip("/")))
@counted
def test_redirect_to_a_path_keeps_it(path: str) -> None:
    header = redirect(path).headers["Location"]
    assert_clean_url(header)
    assert unquote(header) == path


def test_uuid_and_float_url_for_examples() -> None:
    """Two values a reader can check by eye (the properties above cover the rest)."""
    with URL_APP.app_context():
        assert url_for("uuid", v=uuid.UUID(int=1)).endswith(
            "/u/00000000-0000-0000-0000-000000000001"
        )
        assert url_for("float", v=1e16) == "http://example.com/f/10000000000000000.0"
