"""Unit tests of the tagged JSON serializer and the session interface, without the pipeline.

The centre of this file is compatibility with a real Flask (3.1): the tagged JSON is the
same bytes, a payload signed by either side opens on the other, a cookie a real Flask app
sets opens in Ambi and a cookie Ambi sets is read by a real Flask view, and the whole
``Set-Cookie`` header is the same. The session interface is driven directly here with a
real :class:`ambi.Ambi` app (for its ``config`` and ``secret_key``), a real
:class:`ambi.Request` from ``test_request_context`` and a real :class:`ambi.Response`.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import flask
import flask.json.tag
import flask.sessions
import itsdangerous
import pytest
from markupsafe import Markup

from ambi import Ambi, Request, Response
from ambi.http import parse_date
from ambi.sessions import (
    SESSION_CONFIG_DEFAULTS,
    NullSession,
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionInterface,
    SessionMixin,
    session_json_serializer,
)
from ambi.tag import JSONTag, TaggedJSONSerializer, TagTuple

SECRET = "correct horse battery staple"
OLD_SECRET = "an old key"
FROZEN = 1_700_000_000  # a fixed itsdangerous timestamp, for byte-for-byte comparisons


@dataclasses.dataclass
class Point:
    x: int
    y: int


# A value that exercises every tag, nested, and a dict that looks like a tag.
RICH: dict[str, Any] = {
    "user": "alice",
    "n": 3,
    "ratio": 0.5,
    "flag": True,
    "none": None,
    "roles": ("admin", "dev"),
    "blob": b"\x00\xff binary",
    "seen": datetime(2024, 2, 29, 12, 30, 15, tzinfo=UTC),
    "id": UUID("12345678-1234-5678-1234-567812345678"),
    "html": Markup("<b>hi</b>"),
    "odd": {" t": "not a tuple"},
    "nested": {"a": [1, {"b": (2, b"x")}], "é": "ünïcode"},
}

SERIALIZER_CASES: list[Any] = [
    "plain string",
    "ünïcode ☃",
    42,
    -1.25,
    None,
    [1, "two", [3]],
    {"b": 1, "a": 2, "c": {"z": 1, "y": 2}},
    ("a", 1, ("nested",)),
    (),
    b"\x00\x01\xfe\xff",
    b"",
    datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2020, 1, 2, 3, 4, 5, 678),  # naive (UTC) with microseconds
    UUID(int=5),
    Markup("<em>x</em> &amp;"),
    {" t": "x"},
    {" di": {" b": 1}},
    {" unknown": 1},
    {"x": {" b": "nested tag-like key"}},
    [{"a": (1,)}, ({"b": b"y"},)],
    RICH,
    # Not tagged: these go through the JSON default function (both frameworks agree).
    date(2024, 1, 2),
    Decimal("1.10"),
    Point(1, 2),
]


# --------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture
def ambi_app() -> Ambi:
    app = Ambi("sessions_unit")
    app.config.update(SESSION_CONFIG_DEFAULTS)
    app.secret_key = SECRET
    return app


@pytest.fixture
def flask_app() -> flask.Flask:
    app = flask.Flask("sessions_unit_flask")
    app.secret_key = SECRET
    return app


@pytest.fixture
def iface() -> SecureCookieSessionInterface:
    return SecureCookieSessionInterface()


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Fix the timestamp itsdangerous signs with (Flask's and Ambi's alike)."""

    def freeze(timestamp: int) -> None:
        monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: timestamp)

    freeze(FROZEN)
    return freeze


def ambi_request(app: Ambi, cookie: str | None = None) -> Request:
    headers = {"Cookie": cookie} if cookie is not None else None
    return app.test_request_context(headers=headers).request


def open_with_cookie(
    iface: SecureCookieSessionInterface, app: Ambi, value: str, name: str = "session"
) -> SessionMixin | None:
    return iface.open_session(app, ambi_request(app, f"{name}={value}"))


def flip(token: str, index: int) -> str:
    """``token`` with the character at ``index`` replaced by another base64 character."""
    replacement = "B" if token[index] == "A" else "A"
    return token[:index] + replacement + token[index + 1 :]


def flags(session: SessionMixin) -> tuple[bool, bool]:
    """``(modified, accessed)``."""
    return session.modified, session.accessed


def set_cookies(response: Any) -> list[str]:
    return list(response.headers.getlist("Set-Cookie"))


def cookie_value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def vary_values(response: Response) -> list[str]:
    return [
        item.strip()
        for value in response.headers.getlist("Vary")
        for item in value.split(",")
        if item.strip()
    ]


def save(
    iface: SessionInterface, app: Ambi, session: SessionMixin, response: Response | None = None
) -> Response:
    response = response if response is not None else Response("ok")
    iface.save_session(app, session, response)
    return response


# --------------------------------------------------------------------------------------------
# tagged JSON: the same bytes as Flask's


@pytest.mark.parametrize("value", SERIALIZER_CASES)
def test_tagged_json_is_flasks_bytes_outside_an_app(value: Any) -> None:
    ours = TaggedJSONSerializer().dumps(value)
    theirs = flask.json.tag.TaggedJSONSerializer().dumps(value)
    assert ours == theirs


@pytest.mark.parametrize("value", SERIALIZER_CASES)
def test_tagged_json_is_flasks_bytes_inside_an_app(value: Any) -> None:
    # Inside an app both go through the app's JSON provider: keys sorted.
    with Ambi("a").app_context(), flask.Flask("f").app_context():
        ours = TaggedJSONSerializer().dumps(value)
        theirs = flask.json.tag.TaggedJSONSerializer().dumps(value)
    assert ours == theirs


def test_inside_an_app_keys_are_sorted_outside_they_keep_their_order() -> None:
    value = {"b": 1, "a": {"d": 2, "c": 3}}
    assert TaggedJSONSerializer().dumps(value) == '{"b":1,"a":{"d":2,"c":3}}'
    with Ambi("a").app_context():
        assert TaggedJSONSerializer().dumps(value) == '{"a":{"c":3,"d":2},"b":1}'


@pytest.mark.parametrize("value", SERIALIZER_CASES)
def test_tagged_json_reads_like_flask(value: Any) -> None:
    ours = TaggedJSONSerializer()
    theirs = flask.json.tag.TaggedJSONSerializer()
    text = theirs.dumps(value)
    assert ours.loads(text) == theirs.loads(text)
    assert type(ours.loads(text)) is type(theirs.loads(text))
    assert theirs.loads(ours.dumps(value)) == ours.loads(text)


def test_tagged_json_round_trips_types() -> None:
    s = TaggedJSONSerializer()
    loaded = s.loads(s.dumps(RICH))
    assert loaded == RICH
    assert type(loaded["roles"]) is tuple
    assert type(loaded["html"]) is Markup
    assert type(loaded["nested"]["a"][1]["b"]) is tuple
    assert loaded["odd"] == {" t": "not a tuple"}
    # A naive datetime is taken as UTC and comes back aware, without microseconds.
    assert s.loads(s.dumps(datetime(2020, 1, 2, 3, 4, 5, 678))) == datetime(
        2020, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    assert s.loads(s.dumps(b"\x00")) == b"\x00"


def test_tagged_json_known_forms() -> None:
    s = TaggedJSONSerializer()
    assert s.dumps((1, 2)) == '{" t":[1,2]}'
    assert s.dumps(b"\x00") == '{" b":"AA=="}'
    assert s.dumps(Markup("<b>")) == '{" m":"<b>"}'
    assert s.dumps(UUID(int=5)) == '{" u":"00000000000000000000000000000005"}'
    assert s.dumps(datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)) == (
        '{" d":"Sun, 06 Nov 1994 08:49:37 GMT"}'
    )
    assert s.dumps({" t": 1}) == '{" di":{" t__":1}}'
    assert s.dumps({"x": "é"}) == '{"x":"\\u00e9"}'


def test_untag_leaves_ordinary_objects_alone() -> None:
    s = TaggedJSONSerializer()
    assert s.loads('{" t":[1],"x":2}') == {" t": [1], "x": 2}  # two keys: not a tag
    assert s.loads('{" nope":[1]}') == {" nope": [1]}  # unknown tag
    assert s.loads('[{" t":[1]}]') == [(1,)]
    assert s.loads(b'{" t":[1]}') == (1,)
    # An unparseable date reads as None, as in Flask.
    assert s.loads('{" d":"garbage"}') is None
    assert flask.json.tag.TaggedJSONSerializer().loads('{" d":"garbage"}') is None


def test_an_object_with_html_is_tagged_as_markup() -> None:
    class Widget:
        def __html__(self) -> str:
            return "<i>w</i>"

    s = TaggedJSONSerializer()
    assert s.dumps(Widget()) == '{" m":"<i>w</i>"}'
    assert s.dumps(Widget()) == flask.json.tag.TaggedJSONSerializer().dumps(Widget())


def test_debug_mode_cookie_payload_still_reads_in_flask() -> None:
    # The app's provider may indent in debug mode; the payload must stay valid JSON.
    app = Ambi("a")
    app.debug = True
    with app.app_context():
        text = TaggedJSONSerializer().dumps(RICH)
    assert flask.json.tag.TaggedJSONSerializer().loads(text) == RICH


# --------------------------------------------------------------------------------------------
# tagged JSON: extending it


class TagOrderedDict(JSONTag):
    __slots__ = ()
    key = " od"

    def check(self, value: Any) -> bool:
        return isinstance(value, OrderedDict)

    def to_json(self, value: Any) -> Any:
        return [[k, self.serializer.tag(v)] for k, v in value.items()]

    def to_python(self, value: Any) -> Any:
        return OrderedDict(value)


def test_register_a_tag_first_in_the_order() -> None:
    s = TaggedJSONSerializer()
    s.register(TagOrderedDict, index=0)
    assert s.order[0].__class__ is TagOrderedDict
    text = s.dumps(OrderedDict([("b", (1,)), ("a", 2)]))
    assert text == '{" od":[["b",{" t":[1]}],["a",2]]}'
    loaded = s.loads(text)
    assert type(loaded) is OrderedDict
    assert list(loaded.items()) == [("b", (1,)), ("a", 2)]
    # A dict whose only key is the new tag is now escaped too.
    assert s.loads(s.dumps({" od": 1})) == {" od": 1}


def test_register_at_the_end_does_not_shadow_the_dict_tag() -> None:
    s = TaggedJSONSerializer()
    s.register(TagOrderedDict)
    assert s.order[-1].__class__ is TagOrderedDict
    assert s.dumps(OrderedDict(a=1)) == '{"a":1}'  # PassDict takes it first


def test_register_a_duplicate_key() -> None:
    s = TaggedJSONSerializer()
    with pytest.raises(KeyError, match="' t' is already registered"):
        s.register(TagTuple)

    class OtherTuple(TagTuple):
        __slots__ = ()

        def to_python(self, value: Any) -> Any:
            return ("other", *value)

    s.register(OtherTuple, force=True)
    assert isinstance(s.tags[" t"], OtherTuple)
    assert s.loads('{" t":[1]}') == ("other", 1)


def test_jsontag_base_is_abstract() -> None:
    tag = JSONTag(TaggedJSONSerializer())
    with pytest.raises(NotImplementedError):
        tag.check(1)
    with pytest.raises(NotImplementedError):
        tag.to_json(1)
    with pytest.raises(NotImplementedError):
        tag.to_python(1)


def test_the_default_interface_uses_the_shared_serializer() -> None:
    assert SecureCookieSessionInterface.serializer is session_json_serializer
    assert isinstance(session_json_serializer, TaggedJSONSerializer)


# --------------------------------------------------------------------------------------------
# signing: Flask's signing serializer and ours are interchangeable


@pytest.mark.parametrize(
    "data",
    [
        {"s": "str"},
        {"i": 7},
        {"nested": {"a": {"b": [1, 2]}}},
        {"t": (1, 2)},
        {"b": b"\x00bytes"},
        {"d": datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)},
        {"u": UUID(int=99)},
        {"m": Markup("<p>")},
        {" t": "only key looks like a tag"},
        RICH,
        {"_permanent": True, "user": "bob"},
    ],
    ids=lambda d: ",".join(d)[:30],
)
def test_signed_payloads_interoperate(
    data: dict[str, Any],
    ambi_app: Ambi,
    flask_app: flask.Flask,
    iface: SecureCookieSessionInterface,
    frozen_time: Callable[[int], None],
) -> None:
    flask_signer = flask.sessions.SecureCookieSessionInterface().get_signing_serializer(flask_app)
    ambi_signer = iface.get_signing_serializer(ambi_app)
    assert flask_signer is not None
    assert ambi_signer is not None

    from_flask = flask_signer.dumps(data)
    from_ambi = ambi_signer.dumps(data)
    assert from_ambi == from_flask  # same salt, key derivation, digest and JSON

    session = open_with_cookie(iface, ambi_app, from_flask)
    assert isinstance(session, SecureCookieSession)
    assert dict(session) == data
    assert not session.modified
    assert flask_signer.loads(from_ambi) == data


# --------------------------------------------------------------------------------------------
# a real Flask app and Ambi share the session cookie


def make_flask_session_app(seen: list[dict[str, Any]], **config: Any) -> flask.Flask:
    app = flask.Flask("interop")
    app.secret_key = SECRET
    app.config.update(config)

    @app.get("/login")
    def login() -> str:
        flask.session.update(RICH)
        return "in"

    @app.get("/login-permanent")
    def login_permanent() -> str:
        flask.session["user"] = "alice"
        flask.session.permanent = True
        return "in"

    @app.get("/whoami")
    def whoami() -> str:
        seen.append(dict(flask.session))
        return "ok"

    @app.get("/logout")
    def logout() -> str:
        flask.session.clear()
        return "out"

    return app


def test_cookie_set_by_a_real_flask_app_opens_in_ambi(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    flask_app = make_flask_session_app([])
    response = flask_app.test_client().get("/login")
    [header] = set_cookies(response)
    session = open_with_cookie(iface, ambi_app, cookie_value(header))
    assert session == RICH
    assert type(session) is SecureCookieSession
    assert type(session["roles"]) is tuple


def test_cookie_set_by_ambi_is_read_by_a_real_flask_view(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    seen: list[dict[str, Any]] = []
    flask_app = make_flask_session_app(seen)
    session = iface.open_session(ambi_app, ambi_request(ambi_app))
    assert session is not None
    session.update(RICH)
    [header] = set_cookies(save(iface, ambi_app, session))

    client = flask_app.test_client()
    client.set_cookie("session", cookie_value(header))
    response = client.get("/whoami")
    assert response.status_code == 200
    assert seen == [RICH]
    assert type(seen[0]["blob"]) is bytes


def test_a_session_goes_flask_to_ambi_to_flask(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    seen: list[dict[str, Any]] = []
    flask_app = make_flask_session_app(seen)
    [header] = set_cookies(flask_app.test_client().get("/login"))

    session = open_with_cookie(iface, ambi_app, cookie_value(header))
    assert session is not None
    session["cart"] = [("apple", 2)]
    [header] = set_cookies(save(iface, ambi_app, session))

    client = flask_app.test_client()
    client.set_cookie("session", cookie_value(header))
    client.get("/whoami")
    assert seen == [{**RICH, "cart": [("apple", 2)]}]


ALL_COOKIE_SETTINGS: dict[str, Any] = {
    "SESSION_COOKIE_NAME": "sid",
    "SESSION_COOKIE_DOMAIN": "example.com",
    "SESSION_COOKIE_PATH": "/app",
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_PARTITIONED": True,
}


@pytest.mark.parametrize("settings", [{}, ALL_COOKIE_SETTINGS], ids=["defaults", "all-set"])
def test_set_cookie_header_is_flasks_byte_for_byte(
    settings: dict[str, Any],
    ambi_app: Ambi,
    iface: SecureCookieSessionInterface,
    frozen_time: Callable[[int], None],
) -> None:
    flask_app = make_flask_session_app([], **settings)
    ambi_app.config.update(settings)
    flask_response = flask_app.test_client().get("/login", base_url="https://example.com/app")
    [flask_header] = set_cookies(flask_response)

    # Saved inside an Ambi request context, as the pipeline does: the same JSON provider.
    with ambi_app.test_request_context("/app/login"):
        session = iface.session_class()
        session.update(RICH)
        ambi_response = save(iface, ambi_app, session)
    [ambi_header] = set_cookies(ambi_response)
    assert ambi_header == flask_header
    assert vary_values(ambi_response) == flask_response.headers.get_all("Vary") == ["Cookie"]


@pytest.mark.parametrize("settings", [{}, ALL_COOKIE_SETTINGS], ids=["defaults", "all-set"])
def test_permanent_and_deleted_cookies_match_flask(
    settings: dict[str, Any],
    ambi_app: Ambi,
    iface: SecureCookieSessionInterface,
    frozen_time: Callable[[int], None],
) -> None:
    flask_app = make_flask_session_app([], **settings)
    ambi_app.config.update(settings)
    # The test client keeps the cookie from the first response for the second request.
    client = flask_app.test_client()
    [flask_set] = set_cookies(client.get("/login-permanent", base_url="https://example.com/app"))
    [flask_delete] = set_cookies(client.get("/logout", base_url="https://example.com/app"))

    with ambi_app.test_request_context("/app/login"):
        session = iface.session_class()
        session["user"] = "alice"
        session.permanent = True
        [ambi_set] = set_cookies(save(iface, ambi_app, session))
        session.clear()
        [ambi_delete] = set_cookies(save(iface, ambi_app, session))

    def without_expires(header: str) -> str:
        return re.sub(r"; Expires=[^;]+", "", header)

    assert without_expires(ambi_set) == without_expires(flask_set)
    ambi_expires = parse_date(re.search(r"Expires=([^;]+)", ambi_set)[1])  # type: ignore[index]
    flask_expires = parse_date(re.search(r"Expires=([^;]+)", flask_set)[1])  # type: ignore[index]
    assert ambi_expires is not None
    assert flask_expires is not None
    assert abs(ambi_expires - flask_expires) <= timedelta(seconds=2)
    assert ambi_delete == flask_delete


# --------------------------------------------------------------------------------------------
# opening: bad cookies give an empty session, never an error


def test_no_cookie_gives_a_new_empty_session(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    session = iface.open_session(ambi_app, ambi_request(ambi_app))
    assert type(session) is SecureCookieSession
    assert session == {}
    assert not session.modified
    assert not session.accessed
    assert open_with_cookie(iface, ambi_app, "") == {}


def test_cookie_name_setting_is_used_for_reading(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    ambi_app.config["SESSION_COOKIE_NAME"] = "sid"
    token = signer.dumps({"a": 1})
    assert open_with_cookie(iface, ambi_app, token, name="session") == {}
    assert open_with_cookie(iface, ambi_app, token, name="sid") == {"a": 1}


@pytest.mark.parametrize(
    "mangle",
    [
        # (Not the last character: its low bits are base64 padding, ignored on decoding.)
        lambda t: flip(t, t.rindex(".") + 1),  # signature changed
        lambda t: flip(t, 2),  # payload changed
        lambda t: flip(t, t.index(".") + 2),  # timestamp changed
        lambda t: t.split(".")[0],  # no signature
        lambda t: "garbage",
        lambda t: "...",
        lambda t: "!!!.???.***",
    ],
    ids=["signature", "payload", "timestamp", "unsigned", "garbage", "dots", "symbols"],
)
def test_tampered_cookie_gives_an_empty_session(
    mangle: Callable[[str], str], ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    token = signer.dumps({"user": "alice", "admin": False})
    session = open_with_cookie(iface, ambi_app, mangle(token))
    assert type(session) is SecureCookieSession
    assert session == {}


def test_cookie_signed_with_another_key_gives_an_empty_session(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    other = Ambi("other")
    other.config.update(SESSION_CONFIG_DEFAULTS)
    other.secret_key = "someone else's key"
    signer = iface.get_signing_serializer(other)
    assert signer is not None
    assert open_with_cookie(iface, ambi_app, signer.dumps({"user": "mallory"})) == {}


def test_signed_value_that_is_not_a_session_gives_an_empty_session(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    assert open_with_cookie(iface, ambi_app, signer.dumps([1, 2])) == {}
    assert open_with_cookie(iface, ambi_app, signer.dumps("text")) == {}


@pytest.mark.parametrize("lifetime", [timedelta(seconds=60), 60], ids=["timedelta", "seconds"])
def test_expired_cookie_gives_an_empty_session(
    lifetime: timedelta | int,
    ambi_app: Ambi,
    iface: SecureCookieSessionInterface,
    frozen_time: Callable[[int], None],
) -> None:
    ambi_app.config["PERMANENT_SESSION_LIFETIME"] = lifetime
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    now = int(datetime.now(UTC).timestamp())
    frozen_time(now - 50)
    fresh = signer.dumps({"user": "alice"})
    frozen_time(now - 61)
    stale = signer.dumps({"user": "alice"})
    frozen_time(now + 3600)
    future = signer.dumps({"user": "alice"})
    frozen_time(now)
    assert open_with_cookie(iface, ambi_app, fresh) == {"user": "alice"}
    assert open_with_cookie(iface, ambi_app, stale) == {}
    assert open_with_cookie(iface, ambi_app, future) == {}


def test_secret_key_fallbacks_read_old_cookies_and_sign_with_the_new_key(
    ambi_app: Ambi, flask_app: flask.Flask, iface: SecureCookieSessionInterface
) -> None:
    flask_app.secret_key = OLD_SECRET
    old_signer = flask.sessions.SecureCookieSessionInterface().get_signing_serializer(flask_app)
    assert old_signer is not None
    old_token = old_signer.dumps({"user": "alice"})
    assert open_with_cookie(iface, ambi_app, old_token) == {}

    ambi_app.config["SECRET_KEY_FALLBACKS"] = ["older still", OLD_SECRET]
    session = open_with_cookie(iface, ambi_app, old_token)
    assert session == {"user": "alice"}
    assert session is not None
    session["n"] = 1
    [header] = set_cookies(save(iface, ambi_app, session))
    new_token = cookie_value(header)
    with pytest.raises(itsdangerous.BadSignature):
        old_signer.loads(new_token)
    # Flask with the same rotation reads both; without fallbacks, only the new one.
    flask_app.secret_key = SECRET
    flask_app.config["SECRET_KEY_FALLBACKS"] = [OLD_SECRET]
    rotated = flask.sessions.SecureCookieSessionInterface().get_signing_serializer(flask_app)
    assert rotated is not None
    assert rotated.loads(new_token) == {"user": "alice", "n": 1}
    ambi_app.config["SECRET_KEY_FALLBACKS"] = None
    assert open_with_cookie(iface, ambi_app, new_token) == {"user": "alice", "n": 1}


def test_bytes_secret_key(ambi_app: Ambi, iface: SecureCookieSessionInterface) -> None:
    ambi_app.secret_key = SECRET.encode()
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    ambi_app.secret_key = SECRET
    assert open_with_cookie(iface, ambi_app, signer.dumps({"a": 1})) == {"a": 1}


# --------------------------------------------------------------------------------------------
# no secret key: the null session


@pytest.mark.parametrize("key", [None, ""])
def test_no_secret_key_means_a_null_session(
    key: str | None, ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    ambi_app.secret_key = key
    assert iface.get_signing_serializer(ambi_app) is None
    assert iface.open_session(ambi_app, ambi_request(ambi_app, "session=x.y.z")) is None
    null = iface.make_null_session(ambi_app)
    assert type(null) is NullSession
    assert iface.is_null_session(null)
    assert not iface.is_null_session(SecureCookieSession())


def test_null_session_reads_as_empty_and_refuses_writes() -> None:
    null = NullSession()
    assert null.get("user") is None
    assert "user" not in null
    assert len(null) == 0
    assert not null.permanent
    assert not null.modified
    writes: list[Callable[[], Any]] = [
        lambda: null.__setitem__("a", 1),
        lambda: null.__delitem__("a"),
        null.clear,
        lambda: null.pop("a", None),
        null.popitem,
        lambda: null.update(a=1),
        lambda: null.setdefault("a", 1),
        lambda: null.__ior__({"a": 1}),
    ]
    for write in writes:
        with pytest.raises(RuntimeError, match="no secret key was set"):
            write()
    with pytest.raises(RuntimeError, match="Set the secret_key"):
        null.permanent = True
    assert null == {}


def test_null_session_in_place_or_is_refused() -> None:
    null = NullSession()
    with pytest.raises(RuntimeError, match="no secret key"):
        null |= {"a": 1}
    assert null == {}


# --------------------------------------------------------------------------------------------
# the session dict tracks changes and reads


def test_session_mixin_defaults() -> None:
    class PlainSession(SessionMixin):
        pass

    session = PlainSession()
    assert session.modified  # a backend that cannot track changes saves every time
    assert not session.accessed
    assert not session.new
    assert not session.permanent
    session.permanent = True
    assert session == {"_permanent": True}
    session.permanent = False
    assert session["_permanent"] is False


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.__setitem__("b", 2),
        lambda s: s.__delitem__("a"),
        lambda s: s.clear(),
        lambda s: s.pop("a"),
        lambda s: s.pop("a", None),
        lambda s: s.popitem(),
        lambda s: s.update({"b": 2}),
        lambda s: s.update([("b", 2)]),
        lambda s: s.update(b=2),
        lambda s: s.setdefault("b", 2),
        lambda s: s.__ior__({"b": 2}),
        lambda s: setattr(s, "permanent", True),
    ],
    ids=[
        "setitem",
        "delitem",
        "clear",
        "pop",
        "pop-default",
        "popitem",
        "update-mapping",
        "update-pairs",
        "update-kwargs",
        "setdefault-new",
        "ior",
        "permanent",
    ],
)
def test_every_change_sets_modified_and_accessed(mutate: Callable[[Any], Any]) -> None:
    session = SecureCookieSession({"a": 1})
    assert flags(session) == (False, False)
    mutate(session)
    assert flags(session) == (True, True)


def test_in_place_or_updates_the_same_session() -> None:
    session = SecureCookieSession({"a": 1})
    original = session
    session |= {"b": 2}
    assert session is original
    assert session == {"a": 1, "b": 2}
    assert session.modified


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s["a"],
        lambda s: s.get("a"),
        lambda s: s.get("missing", 0),
        lambda s: "a" in s,
        lambda s: s.setdefault("a", 5),
        lambda s: s.permanent,
    ],
    ids=["getitem", "get", "get-default", "contains", "setdefault-existing", "permanent"],
)
def test_reads_set_accessed_only(read: Callable[[Any], Any]) -> None:
    session = SecureCookieSession({"a": 1})
    read(session)
    assert session.accessed
    assert not session.modified
    assert session == {"a": 1}


def test_non_changes_do_not_set_modified() -> None:
    session = SecureCookieSession({"a": 1})
    assert session.pop("missing", "d") == "d"
    assert session.setdefault("a", 9) == 1
    assert flags(session) == (False, True)
    with pytest.raises(KeyError):
        session.pop("missing")
    with pytest.raises(KeyError):
        session["missing"]
    assert flags(session) == (False, True)
    assert session.pop("a") == 1
    assert flags(session) == (True, True)
    assert session.setdefault("b") is None
    assert session == {"b": None}
    assert session.popitem() == ("b", None)


def test_session_repr_and_plain_dict_copy() -> None:
    session = SecureCookieSession({"a": (1,)})
    assert repr(session) == "<SecureCookieSession {'a': (1,)}>"
    assert repr(NullSession()) == "<NullSession {}>"
    assert type(dict(session)) is dict
    assert dict(session) == {"a": (1,)}


# --------------------------------------------------------------------------------------------
# saving: cookie attributes, deletion, Vary, expiry


def test_config_defaults_are_flasks() -> None:
    for key, value in SESSION_CONFIG_DEFAULTS.items():
        assert flask.Flask.default_config[key] == value, key
    flask_session_keys = {
        key
        for key in flask.Flask.default_config
        if key.startswith(("SESSION_", "PERMANENT_SESSION")) or key == "SECRET_KEY_FALLBACKS"
    }
    assert set(SESSION_CONFIG_DEFAULTS) == flask_session_keys


def test_default_cookie_attributes(ambi_app: Ambi, iface: SecureCookieSessionInterface) -> None:
    session = SecureCookieSession()
    session["user"] = "alice"
    [header] = set_cookies(save(iface, ambi_app, session))
    assert re.fullmatch(r"session=[\w\-]+\.[\w\-]+\.[\w\-]+; HttpOnly; Path=/", header)


def test_every_cookie_setting_is_reflected(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    ambi_app.config.update(ALL_COOKIE_SETTINGS)
    session = SecureCookieSession()
    session["user"] = "alice"
    [header] = set_cookies(save(iface, ambi_app, session))
    name, _, attributes = header.partition("; ")
    assert name.startswith("sid=")
    assert (
        attributes == "Domain=example.com; Secure; HttpOnly; Path=/app; SameSite=Lax; Partitioned"
    )


def test_cookie_setting_getters(ambi_app: Ambi, iface: SecureCookieSessionInterface) -> None:
    assert iface.get_cookie_name(ambi_app) == "session"
    assert iface.get_cookie_domain(ambi_app) is None
    assert iface.get_cookie_path(ambi_app) == "/"
    assert iface.get_cookie_httponly(ambi_app) is True
    assert iface.get_cookie_secure(ambi_app) is False
    assert iface.get_cookie_samesite(ambi_app) is None
    assert iface.get_cookie_partitioned(ambi_app) is False
    ambi_app.config["APPLICATION_ROOT"] = "/root"
    ambi_app.config["SESSION_COOKIE_DOMAIN"] = ""
    assert iface.get_cookie_path(ambi_app) == "/root"
    assert iface.get_cookie_domain(ambi_app) is None
    ambi_app.config["SESSION_COOKIE_PATH"] = "/p"
    ambi_app.config["SESSION_COOKIE_HTTPONLY"] = False
    ambi_app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    assert iface.get_cookie_path(ambi_app) == "/p"
    assert iface.get_cookie_httponly(ambi_app) is False
    assert iface.get_cookie_samesite(ambi_app) == "Strict"


def test_partitioned_implies_secure(ambi_app: Ambi, iface: SecureCookieSessionInterface) -> None:
    ambi_app.config["SESSION_COOKIE_PARTITIONED"] = True
    session = SecureCookieSession()
    session["a"] = 1
    [header] = set_cookies(save(iface, ambi_app, session))
    assert "; Secure;" in header
    assert header.endswith("; Partitioned")


def test_emptied_session_deletes_the_cookie_with_the_same_attributes(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    ambi_app.config.update(ALL_COOKIE_SETTINGS)
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    session = open_with_cookie(iface, ambi_app, signer.dumps({"user": "alice"}), name="sid")
    assert session == {"user": "alice"}
    assert session is not None
    session.clear()
    response = save(iface, ambi_app, session)
    assert set_cookies(response) == [
        "sid=; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Secure;"
        " HttpOnly; Path=/app; SameSite=Lax; Partitioned"
    ]
    assert vary_values(response) == ["Cookie"]


def test_empty_untouched_session_sets_nothing(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    session = iface.open_session(ambi_app, ambi_request(ambi_app))
    assert session is not None
    response = save(iface, ambi_app, session)
    assert set_cookies(response) == []
    assert vary_values(response) == []


def test_read_only_access_adds_vary_but_no_cookie(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    session = open_with_cookie(iface, ambi_app, signer.dumps({"user": "alice"}))
    assert session is not None
    assert session["user"] == "alice"
    response = save(iface, ambi_app, session)
    assert set_cookies(response) == []
    assert vary_values(response) == ["Cookie"]


def test_vary_without_any_access(ambi_app: Ambi, iface: SecureCookieSessionInterface) -> None:
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    session = open_with_cookie(iface, ambi_app, signer.dumps({"user": "alice"}))
    assert session is not None
    assert vary_values(save(iface, ambi_app, session)) == []
    # The pipeline (or a hook) may mark it accessed without reading a key.
    session.accessed = True
    assert vary_values(save(iface, ambi_app, session)) == ["Cookie"]


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (["Accept-Encoding"], ["Accept-Encoding", "Cookie"]),
        (["Accept-Encoding, cookie"], ["Accept-Encoding", "cookie"]),
        (["Origin", "Cookie"], ["Origin", "Cookie"]),
        (["*"], ["*"]),
    ],
)
def test_vary_cookie_is_added_once(
    existing: list[str],
    expected: list[str],
    ambi_app: Ambi,
    iface: SecureCookieSessionInterface,
) -> None:
    response = Response("ok")
    for value in existing:
        response.headers.add("Vary", value)
    session = SecureCookieSession()
    session["a"] = 1
    save(iface, ambi_app, session, response)
    assert vary_values(response) == expected
    assert len(set_cookies(response)) == 1


def test_permanent_session_gets_expires(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    ambi_app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=2)
    session = SecureCookieSession()
    session["a"] = 1
    assert iface.get_expiration_time(ambi_app, session) is None
    [header] = set_cookies(save(iface, ambi_app, session))
    assert "Expires" not in header
    assert "Max-Age" not in header

    session.permanent = True
    before = datetime.now(UTC)
    expires = iface.get_expiration_time(ambi_app, session)
    assert expires is not None
    assert timedelta(hours=2) <= expires - before < timedelta(hours=2, seconds=5)
    [header] = set_cookies(save(iface, ambi_app, session))
    match = re.search(r"; Expires=([^;]+);", header)
    assert match is not None
    written = parse_date(match[1])
    assert written is not None
    assert abs(written - (before + timedelta(hours=2))) < timedelta(seconds=5)
    assert "Max-Age" not in header

    ambi_app.config["PERMANENT_SESSION_LIFETIME"] = 600  # seconds, as Flask accepts
    expires = iface.get_expiration_time(ambi_app, session)
    assert expires is not None
    assert timedelta(seconds=599) <= expires - datetime.now(UTC) <= timedelta(seconds=600)


def test_permanent_session_is_refreshed_each_request_unless_disabled(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    token = signer.dumps({"_permanent": True, "user": "alice"})

    session = open_with_cookie(iface, ambi_app, token)
    assert session is not None
    assert not session.modified
    assert iface.should_set_cookie(ambi_app, session)
    [header] = set_cookies(save(iface, ambi_app, session))
    assert "Expires=" in header

    ambi_app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    session = open_with_cookie(iface, ambi_app, token)
    assert session is not None
    assert not iface.should_set_cookie(ambi_app, session)
    assert set_cookies(save(iface, ambi_app, session)) == []
    session["n"] = 1
    assert iface.should_set_cookie(ambi_app, session)
    assert len(set_cookies(save(iface, ambi_app, session))) == 1


def test_non_permanent_unmodified_session_is_not_rewritten(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    signer = iface.get_signing_serializer(ambi_app)
    assert signer is not None
    session = open_with_cookie(iface, ambi_app, signer.dumps({"user": "alice"}))
    assert session is not None
    assert not iface.should_set_cookie(ambi_app, session)
    assert set_cookies(save(iface, ambi_app, session)) == []


def test_secret_key_removed_during_the_request_writes_nothing(
    ambi_app: Ambi, iface: SecureCookieSessionInterface
) -> None:
    session = iface.open_session(ambi_app, ambi_request(ambi_app))
    assert session is not None
    session["a"] = 1
    ambi_app.secret_key = None
    assert set_cookies(save(iface, ambi_app, session)) == []


# --------------------------------------------------------------------------------------------
# the base interface, for custom backends


def test_base_interface_must_be_implemented(ambi_app: Ambi) -> None:
    base = SessionInterface()
    with pytest.raises(NotImplementedError):
        base.open_session(ambi_app, ambi_request(ambi_app))
    with pytest.raises(NotImplementedError):
        base.save_session(ambi_app, SecureCookieSession(), Response("ok"))
    assert base.pickle_based is False
    assert base.null_session_class is NullSession


class DictStore(SessionInterface):
    """A server-side backend as a user would write it (sync; async works the same way for
    the pipeline), reusing the cookie helpers."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}

    def open_session(self, app: Any, request: Request) -> SessionMixin | None:
        sid = request.cookies.get(self.get_cookie_name(app))
        session = SecureCookieSession(self.store.get(sid or "", {}))
        session.new = sid is None
        return session

    def save_session(self, app: Any, session: SessionMixin, response: Response) -> None:
        if self.should_set_cookie(app, session):
            self.store["sid1"] = dict(session)
            response.set_cookie(
                self.get_cookie_name(app),
                "sid1",
                expires=self.get_expiration_time(app, session),
                httponly=self.get_cookie_httponly(app),
                path=self.get_cookie_path(app),
            )


def test_a_custom_interface_uses_the_helpers(ambi_app: Ambi) -> None:
    backend = DictStore()
    session = backend.open_session(ambi_app, ambi_request(ambi_app))
    assert session is not None
    assert session.new
    session["cart"] = [1]
    response = Response("ok")
    backend.save_session(ambi_app, session, response)
    assert set_cookies(response) == ["session=sid1; HttpOnly; Path=/"]
    again = backend.open_session(ambi_app, ambi_request(ambi_app, "session=sid1"))
    assert again == {"cart": [1]}
    assert again is not None
    assert not again.new
    assert not backend.is_null_session(again)


@pytest.fixture(autouse=True)
def _no_leaked_tags() -> Iterator[None]:
    # Tests register tags on their own serializers only; the shared one must stay default.
    before = list(session_json_serializer.order)
    yield
    assert session_json_serializer.order == before
