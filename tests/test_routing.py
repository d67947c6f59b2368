"""Tests for ambi.routing: converters, rule parsing, the compiled matcher, building."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from ambi.exceptions import MethodNotAllowed, NotFound, RequestRedirect
from ambi.routing import (
    AnyConverter,
    BaseConverter,
    BuildError,
    FloatConverter,
    IntegerConverter,
    Map,
    PathConverter,
    Rule,
    UnicodeConverter,
    UUIDConverter,
    ValidationError,
    WebsocketMismatch,
)

ALL_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def make_map(*rules: str | tuple[str, dict[str, Any]], **map_options: Any) -> Map:
    """A map whose endpoints are the rule strings themselves."""
    url_map = Map(**map_options)
    for rule in rules:
        if isinstance(rule, tuple):
            string, options = rule
            options = {"endpoint": string, **options}
        else:
            string, options = rule, {"endpoint": rule}
        url_map.add(Rule(string, **options))
    return url_map


def endpoint(url_map: Map, path: str, method: str = "GET", **kwargs: Any) -> tuple[Any, ...]:
    rule, values = url_map.match(path, method, **kwargs)
    return rule.endpoint, values


# ----------------------------------------------------------------------------- converters


class TestUnicodeConverter:
    def test_default_and_string(self) -> None:
        m = make_map("/u/<name>", "/s/<string:name>")
        assert endpoint(m, "/u/abc") == ("/u/<name>", {"name": "abc"})
        assert endpoint(m, "/s/x y") == ("/s/<string:name>", {"name": "x y"})
        with pytest.raises(NotFound):
            m.match("/u/a/b", "GET")
        with pytest.raises(NotFound):
            m.match("/u/", "GET")

    def test_length(self) -> None:
        m = make_map("/x/<string(length=2):code>")
        assert endpoint(m, "/x/fr")[1] == {"code": "fr"}
        for bad in ("/x/f", "/x/fra"):
            with pytest.raises(NotFound):
                m.match(bad, "GET")

    def test_min_max_length(self) -> None:
        m = make_map("/x/<string(minlength=2, maxlength=3):code>")
        assert endpoint(m, "/x/ab")[1] == {"code": "ab"}
        assert endpoint(m, "/x/abc")[1] == {"code": "abc"}
        for bad in ("/x/a", "/x/abcd"):
            with pytest.raises(NotFound):
                m.match(bad, "GET")

    def test_class_attributes(self) -> None:
        assert UnicodeConverter.part_isolating is True
        assert UnicodeConverter.weight == 100
        conv = UnicodeConverter(Map())
        assert conv.regex == "[^/]{1,}"
        assert conv.to_python("x") == "x"
        assert conv.to_url(5) == "5"


class TestIntegerConverter:
    def test_valid_and_invalid(self) -> None:
        m = make_map("/n/<int:n>")
        assert endpoint(m, "/n/42")[1] == {"n": 42}
        assert endpoint(m, "/n/007")[1] == {"n": 7}
        for bad in ("/n/abc", "/n/-1", "/n/1.5", "/n/", "/n/\u0663"):
            with pytest.raises(NotFound):
                m.match(bad, "GET")

    def test_bounds_and_signed(self) -> None:
        m = make_map("/n/<int(min=-5, max=9, signed=True):n>")
        assert endpoint(m, "/n/-5")[1] == {"n": -5}
        assert endpoint(m, "/n/9")[1] == {"n": 9}
        for bad in ("/n/-6", "/n/10"):
            with pytest.raises(NotFound):
                m.match(bad, "GET")

    def test_min_only_and_max_only(self) -> None:
        m = make_map("/a/<int(min=1):n>", "/b/<int(max=3):n>")
        assert endpoint(m, "/a/1")[1] == {"n": 1}
        assert endpoint(m, "/b/3")[1] == {"n": 3}
        with pytest.raises(NotFound):
            m.match("/a/0", "GET")
        with pytest.raises(NotFound):
            m.match("/b/4", "GET")

    def test_fixed_digits(self) -> None:
        m = make_map("/y/<int(fixed_digits=4):year>")
        assert endpoint(m, "/y/0042")[1] == {"year": 42}
        with pytest.raises(NotFound):
            m.match("/y/42", "GET")
        assert m.build("/y/<int(fixed_digits=4):year>", {"year": 42}) == "/y/0042"

    def test_build(self) -> None:
        m = make_map("/n/<int:n>", "/s/<int(signed=True):n>")
        assert m.build("/n/<int:n>", {"n": 5}) == "/n/5"
        assert m.build("/n/<int:n>", {"n": "12"}) == "/n/12"
        assert m.build("/s/<int(signed=True):n>", {"n": -3}) == "/s/-3"
        with pytest.raises(ValueError, match="invalid literal"):
            m.build("/n/<int:n>", {"n": "abc"})

    def test_weight(self) -> None:
        assert IntegerConverter.weight == FloatConverter.weight == UUIDConverter.weight == 50
        assert IntegerConverter(Map(), signed=True).regex == "-?[0-9]+"


class TestFloatConverter:
    def test_valid_invalid(self) -> None:
        m = make_map("/f/<float:x>")
        assert endpoint(m, "/f/1.5")[1] == {"x": 1.5}
        for bad in ("/f/1", "/f/-1.5", "/f/.5", "/f/a.b"):
            with pytest.raises(NotFound):
                m.match(bad, "GET")
        assert m.build("/f/<float:x>", {"x": 2}) == "/f/2.0"

    def test_signed_bounds(self) -> None:
        m = make_map("/f/<float(signed=True, min=-1.0, max=1.0):x>")
        assert endpoint(m, "/f/-0.5")[1] == {"x": -0.5}
        with pytest.raises(NotFound):
            m.match("/f/-1.5", "GET")
        with pytest.raises(NotFound):
            m.match("/f/1.01", "GET")


class TestUUIDConverter:
    def test_match_and_build(self) -> None:
        m = make_map("/i/<uuid:id>")
        value = uuid.UUID("12345678-1234-5678-1234-567812345678")
        _, values = m.match(f"/i/{value}", "GET")
        assert values == {"id": value}
        assert isinstance(values["id"], uuid.UUID)
        assert m.match(f"/i/{str(value).upper()}", "GET")[1] == {"id": value}
        assert m.build("/i/<uuid:id>", {"id": value}) == f"/i/{value}"
        for bad in ("/i/1234", "/i/12345678-1234-5678-1234-56781234567g"):
            with pytest.raises(NotFound):
                m.match(bad, "GET")


class TestAnyConverter:
    def test_items(self) -> None:
        m = make_map('/<any(about, help, "c d"):page>')
        for page in ("about", "help", "c d"):
            assert endpoint(m, f"/{page}")[1] == {"page": page}
        with pytest.raises(NotFound):
            m.match("/other", "GET")
        assert m.build('/<any(about, help, "c d"):page>', {"page": "c d"}) == "/c%20d"

    def test_build_rejects_other_values(self) -> None:
        m = make_map("/<any(a, b):x>")
        with pytest.raises(BuildError, match="rejects these values"):
            m.build("/<any(a, b):x>", {"x": "zzz"})

    def test_to_url_message(self) -> None:
        conv = AnyConverter(Map(), "a", 1)
        assert conv.items == ("a", "1")
        assert conv.to_url(1) == "1"
        with pytest.raises(ValidationError, match="'z' is not one of 'a', '1'"):
            conv.to_url("z")

    def test_build_falls_through_to_next_rule(self) -> None:
        m = Map(
            [
                Rule("/<any(a, b):x>", endpoint="e"),
                Rule("/other/<any(c, d):x>", endpoint="e"),
            ]
        )
        assert m.build("e", {"x": "a"}) == "/a"
        assert m.build("e", {"x": "d"}) == "/other/d"

    def test_needs_items(self) -> None:
        with pytest.raises(ValueError, match="at least one item"):
            Map([Rule("/<any():x>")])

    def test_escaped_quote_in_item(self) -> None:
        m = make_map('/<any("a\\"b", c):x>')
        assert endpoint(m, '/a"b')[1] == {"x": 'a"b'}

    def test_dotted_and_quoted_items(self) -> None:
        m = make_map("/<any(index.html, 'a>b', \"q'\"):f>")
        assert endpoint(m, "/index.html")[1] == {"f": "index.html"}
        assert endpoint(m, "/a>b")[1] == {"f": "a>b"}
        assert endpoint(m, "/q'")[1] == {"f": "q'"}


class TestPathConverter:
    def test_slashes(self) -> None:
        m = make_map("/files/<path:p>")
        assert endpoint(m, "/files/a/b/c.txt")[1] == {"p": "a/b/c.txt"}
        assert endpoint(m, "/files/a/")[1] == {"p": "a/"}
        with pytest.raises(NotFound):
            m.match("/files/", "GET")
        with pytest.raises(NotFound):
            m.match("/files//x", "GET")

    def test_attributes(self) -> None:
        assert PathConverter.part_isolating is False
        assert PathConverter.weight == 200

    def test_newline_in_path(self) -> None:
        m = make_map("/files/<path:p>")
        assert endpoint(m, "/files/a\nb/c")[1] == {"p": "a\nb/c"}

    def test_path_with_suffix_beats_bare_path(self) -> None:
        m = make_map("/<path:p>", "/<path:p>/edit")
        assert endpoint(m, "/a/b/edit") == ("/<path:p>/edit", {"p": "a/b"})
        assert endpoint(m, "/a/b") == ("/<path:p>", {"p": "a/b"})


class ListConverter(BaseConverter):
    """The example from Flask's docs."""

    def to_python(self, value: str) -> list[str]:
        return value.split(",")

    def to_url(self, value: Any) -> str:
        return ",".join(str(item) for item in value)


class EvenConverter(BaseConverter):
    regex = "[0-9]+"
    weight = 10

    def to_python(self, value: str) -> int:
        number = int(value)
        if number % 2:
            raise ValidationError("odd")
        return number

    def to_url(self, value: Any) -> str:
        if int(value) % 2:
            raise ValidationError("odd")
        return str(value)


class TestCustomConverters:
    def test_registered_on_map(self) -> None:
        m = Map()
        m.converters["list"] = ListConverter
        m.add(Rule("/tags/<list:tags>", endpoint="tags"))
        assert endpoint(m, "/tags/a,b,c") == ("tags", {"tags": ["a", "b", "c"]})
        assert m.build("tags", {"tags": ["x y", "z/w"]}) == "/tags/x%20y,z%2Fw"

    def test_converters_argument(self) -> None:
        m = Map([], converters={"list": ListConverter})
        assert m.converters["list"] is ListConverter
        assert m.converters["int"] is IntegerConverter
        assert "list" not in Map.default_converters

    def test_validation_error_tries_next_rule(self) -> None:
        m = Map(converters={"even": EvenConverter})
        m.add(Rule("/n/<even:n>", endpoint="even"))
        m.add(Rule("/n/<int:n>", endpoint="any"))
        assert endpoint(m, "/n/4") == ("even", {"n": 4})
        assert endpoint(m, "/n/3") == ("any", {"n": 3})
        m.add(Rule("/b/<even:n>", endpoint="both"))
        m.add(Rule("/c/<int:n>", endpoint="both"))
        assert m.build("both", {"n": 4}) == "/b/4"
        assert m.build("both", {"n": 3}) == "/c/3"

    def test_part_isolating_derived_from_regex(self) -> None:
        class Slashy(BaseConverter):
            regex = "[a-z/]+"

        class Explicit(BaseConverter):
            regex = "[a-z/]+"
            part_isolating = True

        assert Slashy.part_isolating is False
        assert Explicit.part_isolating is True
        assert ListConverter.part_isolating is True
        # like Werkzeug, any "/" in the regex counts, even inside [^/]
        assert type("Neg", (BaseConverter,), {"regex": "[^/]+,[^/]+"}).part_isolating is False
        m = Map(converters={"slashy": Slashy})
        m.add(Rule("/s/<slashy:v>", endpoint="s"))
        assert endpoint(m, "/s/a/b") == ("s", {"v": "a/b"})
        assert m.build("s", {"v": "a/b"}) == "/s/a/b"

    def test_capturing_groups_in_regex(self) -> None:
        class Pair(BaseConverter):
            regex = "([a-z]+)-([0-9]+)"

        m = Map(converters={"pair": Pair})
        m.add(Rule("/p/<pair:a>/<int:b>", endpoint="p"))
        m.add(Rule("/p/<pair:a>/x/<int:b>", endpoint="q"))
        assert endpoint(m, "/p/ab-12/7") == ("p", {"a": "ab-12", "b": 7})
        assert endpoint(m, "/p/ab-12/x/7") == ("q", {"a": "ab-12", "b": 7})

    def test_named_groups_get_their_own_chunk(self) -> None:
        class Named(BaseConverter):
            regex = "(?P<word>[a-z]+)"

        class Twice(BaseConverter):
            regex = r"(?P<c>[a-z])(?P=c)"

        m = Map(converters={"named": Named, "twice": Twice})
        m.add(Rule("/w/<int:n>", endpoint="int"))
        m.add(Rule("/w/<named:a>", endpoint="named"))
        m.add(Rule("/w/<twice:b>/x", endpoint="twice"))
        m.add(Rule("/w/<a>/<b>", endpoint="two"))
        m.add(Rule("/w/<named:a>/<named2>/y", endpoint="named2"))
        assert endpoint(m, "/w/5") == ("int", {"n": 5})
        assert endpoint(m, "/w/abc") == ("named", {"a": "abc"})
        assert endpoint(m, "/w/aa/x") == ("twice", {"b": "aa"})
        assert endpoint(m, "/w/ab/x") == ("two", {"a": "ab", "b": "x"})
        assert endpoint(m, "/w/ab/c/y") == ("named2", {"a": "ab", "named2": "c"})

    def test_bad_regex(self) -> None:
        class Broken(BaseConverter):
            regex = "(["

        m = Map(converters={"broken": Broken})
        with pytest.raises(ValueError, match="bad converter regex"):
            m.add(Rule("/<broken:x>"))

    def test_base_converter(self) -> None:
        conv = BaseConverter(Map(), "ignored", extra=1)
        assert conv.regex == "[^/]+"
        assert conv.to_python("x") == "x"
        assert conv.to_url(3) == "3"


# ---------------------------------------------------------------------------- parsing


class TestMalformedRules:
    @pytest.mark.parametrize(
        ("string", "message"),
        [
            ("users", "must start with '/'"),
            ("/users/<id", "is not closed"),
            ("/users/<a<b>", "is not closed"),
            ("/<a>/<a>", "used twice"),
            ("/<int:a>/<b>/<string:a>", "used twice"),
            ("/<1x>", "not a valid variable name"),
            ("/<>", "not a valid variable name"),
            ("/<int:>", "not a valid variable name"),
            ("/<a b>", "not a valid variable name"),
            ("/<a:b:c>", "not a valid converter"),
            ("/<in t:x>", "not a valid converter"),
        ],
    )
    def test_syntax(self, string: str, message: str) -> None:
        with pytest.raises(ValueError, match=message) as info:
            Rule(string)
        assert repr(string) in str(info.value)

    @pytest.mark.parametrize(
        ("string", "message"),
        [
            ("/<int(min=:x>", "is not closed"),
            ("/<int(min=1, ):x>", None),
            ("/<int(min=a+b):x>", "is not a literal"),
            ("/<int(min=f(1)):x>", "is not a literal"),
            ("/<int(min=(1).real):x>", "is not a literal"),
            ("/<int(*a):x>", "'\\*' is not allowed"),
            ("/<int(**a):x>", "'\\*\\*' is not allowed"),
            ("/<int(1 2):x>", "cannot parse converter arguments"),
            ("/<int(1), f(2):x>", "cannot parse converter arguments"),
            ("/<int(nope=1):x>", "bad arguments for converter 'int'"),
        ],
    )
    def test_converter_arguments(self, string: str, message: str | None) -> None:
        if message is None:  # a trailing comma is fine
            assert endpoint(make_map(string), "/3")[1] == {"x": 3}
            return
        with pytest.raises((ValueError, TypeError), match=message):
            Map([Rule(string)])

    def test_unknown_converter(self) -> None:
        with pytest.raises(LookupError, match="the converter 'nope' does not exist"):
            Map([Rule("/<nope:x>")])

    def test_methods_must_be_a_list(self) -> None:
        with pytest.raises(TypeError, match="list of strings"):
            Rule("/", methods="GET")

    def test_websocket_methods(self) -> None:
        with pytest.raises(ValueError, match="websocket rules"):
            Rule("/ws", methods=["POST"], websocket=True)
        assert Rule("/ws", methods=["get"], websocket=True).methods == {"GET", "HEAD"}

    def test_host_and_path_variable_clash(self) -> None:
        with pytest.raises(ValueError, match="both host and path"):
            Rule("/<user>", host="<user>.example.com")

    def test_bind_twice(self) -> None:
        rule = Rule("/x")
        Map([rule])
        with pytest.raises(RuntimeError, match="already bound"):
            Map([rule])

    def test_static_parts_with_special_characters(self) -> None:
        m = make_map("/a.b/(c)+[d]*/<x>", "/100%/$^")
        assert endpoint(m, "/a.b/(c)+[d]*/y")[1] == {"x": "y"}
        assert endpoint(m, "/100%/$^")[1] == {}
        with pytest.raises(NotFound):
            m.match("/aXb/(c)+[d]*/y", "GET")
        assert m.build("/100%/$^") == "/100%25/$%5E"

    def test_whitespace_and_keywords_in_variables(self) -> None:
        m = make_map("/<int : n>/<string( length = 2 ) : code>")
        assert endpoint(m, "/1/ab")[1] == {"n": 1, "code": "ab"}

    def test_attributes(self) -> None:
        rule = Rule(
            "/p/<int:n>",
            endpoint="page",
            methods=["get", "post"],
            defaults={"lang": "en"},
            redirect_to="/new",
            subdomain="www",
            provide_automatic_options=False,
        )
        assert rule.rule == str(rule) == "/p/<int:n>"
        assert rule.endpoint == "page"
        assert rule.methods == frozenset({"GET", "HEAD", "POST"})
        assert rule.arguments == {"n", "lang"}
        assert rule.defaults == {"lang": "en"}
        assert rule.redirect_to == "/new"
        assert rule.subdomain == "www"
        assert rule.host is None
        assert rule.websocket is False
        assert rule.provide_automatic_options is False
        assert rule.map is None
        assert rule.strict_slashes is None
        assert repr(rule) == "<Rule '/p/<int:n>' (GET, HEAD, POST) -> page>"
        assert repr(Rule("/x", endpoint="x")) == "<Rule '/x' -> x>"
        m = Map([rule])
        assert rule.map is m
        assert rule.strict_slashes is True
        assert Rule("/", methods=["POST"]).methods == {"POST"}


# --------------------------------------------------------------------------- ordering


class TestOrdering:
    @pytest.mark.parametrize("reverse", [False, True])
    def test_static_beats_variable(self, reverse: bool) -> None:
        rules = ["/users/me", "/users/<name>"]
        m = make_map(*(rules[::-1] if reverse else rules))
        assert endpoint(m, "/users/me") == ("/users/me", {})
        assert endpoint(m, "/users/bob") == ("/users/<name>", {"name": "bob"})

    @pytest.mark.parametrize("reverse", [False, True])
    def test_converter_weight(self, reverse: bool) -> None:
        rules = ["/x/<name>", "/x/<int:n>", "/x/<path:p>", "/x/<uuid:u>", "/x/<float:f>"]
        m = make_map(*(rules[::-1] if reverse else rules))
        assert endpoint(m, "/x/5") == ("/x/<int:n>", {"n": 5})
        assert endpoint(m, "/x/1.5") == ("/x/<float:f>", {"f": 1.5})
        value = uuid.uuid4()
        assert endpoint(m, f"/x/{value}") == ("/x/<uuid:u>", {"u": value})
        assert endpoint(m, "/x/abc") == ("/x/<name>", {"name": "abc"})
        assert endpoint(m, "/x/a/b") == ("/x/<path:p>", {"p": "a/b"})

    @pytest.mark.parametrize("reverse", [False, True])
    def test_longer_static_prefix_first(self, reverse: bool) -> None:
        rules = ["/a/<y>/c", "/a/b/<x>"]
        m = make_map(*(rules[::-1] if reverse else rules))
        assert endpoint(m, "/a/b/c") == ("/a/b/<x>", {"x": "c"})
        assert endpoint(m, "/a/z/c") == ("/a/<y>/c", {"y": "z"})

    @pytest.mark.parametrize("reverse", [False, True])
    def test_more_static_text_in_segment_first(self, reverse: bool) -> None:
        rules = ["/<name>", "/<name>.json", "/v<int:n>"]
        m = make_map(*(rules[::-1] if reverse else rules))
        assert endpoint(m, "/a.json") == ("/<name>.json", {"name": "a"})
        assert endpoint(m, "/v2.json") == ("/<name>.json", {"name": "v2"})
        assert endpoint(m, "/v2") == ("/v<int:n>", {"n": 2})
        assert endpoint(m, "/a") == ("/<name>", {"name": "a"})

    def test_static_first_segment_beats_variable_first_segment(self) -> None:
        m = make_map("/<a>/<b>", "/x/<b>", "/<path:p>")
        assert endpoint(m, "/x/1") == ("/x/<b>", {"b": "1"})
        assert endpoint(m, "/y/1") == ("/<a>/<b>", {"a": "y", "b": "1"})
        assert endpoint(m, "/y/1/2") == ("/<path:p>", {"p": "y/1/2"})

    def test_ties_keep_registration_order(self) -> None:
        m = make_map("/<a>", "/<any(x, y):b>")
        assert endpoint(m, "/x") == ("/<a>", {"a": "x"})
        m = make_map("/<any(x, y):b>", "/<a>")
        assert endpoint(m, "/x") == ("/<any(x, y):b>", {"b": "x"})

    def test_shared_prefix_keeps_first_registration(self) -> None:
        # /<x>/... was registered before /<any(..)>, so the whole /<x> subtree comes
        # first for the tie at the first segment (Werkzeug's trie walk).
        m = make_map("/<x>/b/<int:n>", "/<any(a, me):k>", "/<x>")
        assert endpoint(m, "/a") == ("/<x>", {"x": "a"})

    def test_identical_patterns_with_different_converters(self) -> None:
        m = make_map("/n/<int(min=10):n>", "/n/<int(max=5):m>")
        assert endpoint(m, "/n/12") == ("/n/<int(min=10):n>", {"n": 12})
        assert endpoint(m, "/n/3") == ("/n/<int(max=5):m>", {"m": 3})
        with pytest.raises(NotFound):
            m.match("/n/7", "GET")

    def test_validation_error_then_lower_priority_rule(self) -> None:
        m = make_map("/x/<int(min=5):a>", "/x/<b>")
        assert endpoint(m, "/x/7") == ("/x/<int(min=5):a>", {"a": 7})
        assert endpoint(m, "/x/3") == ("/x/<b>", {"b": "3"})

    def test_variable_first_segment_sub_buckets(self) -> None:
        m = make_map(
            "/<lang>/about",
            "/<lang>/users/<int:id>",
            "/<lang>/<page>",
            "/<lang>/",
            "/<lang>//x/<y>",
            "/<path:p>/edit",
        )
        assert endpoint(m, "/en/about") == ("/<lang>/about", {"lang": "en"})
        assert endpoint(m, "/en/users/3") == ("/<lang>/users/<int:id>", {"lang": "en", "id": 3})
        assert endpoint(m, "/en/users") == ("/<lang>/<page>", {"lang": "en", "page": "users"})
        assert endpoint(m, "/en/contact") == ("/<lang>/<page>", {"lang": "en", "page": "contact"})
        assert endpoint(m, "/en/") == ("/<lang>/", {"lang": "en"})
        assert endpoint(m, "/en//x/1") == ("/<lang>//x/<y>", {"lang": "en", "y": "1"})
        assert endpoint(m, "/a/b/edit") == ("/<path:p>/edit", {"p": "a/b"})
        with pytest.raises(RequestRedirect) as info:
            m.match("/en", "GET")
        assert info.value.new_url == "/en/"


def test_ordering_matches_werkzeug() -> None:
    """Differential check of the priority order against Werkzeug, strict slashes."""
    wz = pytest.importorskip("werkzeug.routing")
    wz_exc = pytest.importorskip("werkzeug.exceptions")
    segments = [
        "a", "b", "me", "<x>", "<int:n>", "<path:p>", "<any(a, me):k>", "<y>.json",
        "v<int:v>", "<float:f>", "",
    ]  # fmt: skip
    values = ["a", "b", "me", "12", "1.5", "x.json", "v3", "q", "a.json", ""]
    rng = random.Random(20240501)

    def ours(m: Map, path: str, method: str) -> tuple[Any, ...]:
        try:
            rule, found = m.match(path, method)
        except RequestRedirect as exc:
            return ("redirect", exc.new_url)
        except MethodNotAllowed:
            return ("405",)
        except NotFound:
            return ("404",)
        return ("ok", rule.endpoint, found)

    def theirs(adapter: Any, path: str, method: str) -> tuple[Any, ...]:
        try:
            name, found = adapter.match(path, method)
        except wz.RequestRedirect as exc:
            return ("redirect", exc.new_url.removeprefix("http://x"))
        except wz_exc.MethodNotAllowed:
            return ("405",)
        except wz_exc.NotFound:
            return ("404",)
        return ("ok", name, found)

    compared = 0
    for _ in range(400):
        rules = []
        for index in range(rng.randint(1, 6)):
            parts = [rng.choice(segments) for _ in range(rng.randint(1, 3))]
            string = "/" + "/".join(parts)
            names = [name for name in "xnpkyvf" if f":{name}>" in string or f"<{name}>" in string]
            if (
                "//" in string
                or len(names) != len(set(names))
                or any(string.count(f"{name}>") > 1 for name in names)
            ):
                continue
            methods = rng.choice([None, ["GET"], ["POST"], ["GET", "POST"]])
            rules.append((string, f"e{index}", methods))
        ours_map = Map([Rule(s, endpoint=e, methods=me) for s, e, me in rules])
        adapter = wz.Map(
            [wz.Rule(s, endpoint=e, methods=me) for s, e, me in rules], merge_slashes=False
        ).bind("x")
        for _ in range(8):
            path = "/" + "/".join(rng.choice(values) for _ in range(rng.randint(1, 3)))
            if "//" in path:
                continue
            method = rng.choice(["GET", "POST"])
            assert ours(ours_map, path, method) == theirs(adapter, path, method), (rules, path)
            compared += 1
    assert compared > 1000


# --------------------------------------------------------------- 404, 405, OPTIONS


class TestMethods:
    def test_not_found(self) -> None:
        m = make_map("/a", "/b/<int:n>")
        for path in ("/c", "/b/x", "/a/b", "/b"):
            with pytest.raises(NotFound):
                m.match(path, "GET")
        with pytest.raises(NotFound):
            Map().match("/", "GET")

    def test_head_added_with_get(self) -> None:
        m = make_map(("/a", {"methods": ["GET"]}))
        assert endpoint(m, "/a", "HEAD") == ("/a", {})

    def test_method_not_allowed_allow_set(self) -> None:
        m = Map(
            [
                Rule("/x", endpoint="get", methods=["GET"]),
                Rule("/x", endpoint="post", methods=["POST"]),
                Rule("/y/<int:n>", endpoint="put", methods=["PUT"]),
                Rule("/y/<int:n>", endpoint="delete", methods=["DELETE"]),
            ]
        )
        with pytest.raises(MethodNotAllowed) as info:
            m.match("/x", "PATCH")
        assert info.value.valid_methods == ["GET", "HEAD", "OPTIONS", "POST"]
        with pytest.raises(MethodNotAllowed) as info:
            m.match("/y/1", "GET")
        assert info.value.valid_methods == ["DELETE", "OPTIONS", "PUT"]
        assert endpoint(m, "/x", "POST") == ("post", {})
        assert endpoint(m, "/y/1", "DELETE") == ("delete", {"n": 1})
        with pytest.raises(NotFound):
            m.match("/y/x", "DELETE")

    def test_no_options_when_not_automatic(self) -> None:
        m = Map(
            [
                Rule("/x", endpoint="a", methods=["GET"], provide_automatic_options=False),
                Rule("/x", endpoint="b", methods=["POST"], provide_automatic_options=False),
            ]
        )
        with pytest.raises(MethodNotAllowed) as info:
            m.match("/x", "PUT")
        assert info.value.valid_methods == ["GET", "HEAD", "POST"]
        with pytest.raises(MethodNotAllowed):
            m.match("/x", "OPTIONS")
        assert m.allowed_methods("/x") == {"GET", "HEAD", "POST"}

    def test_allowed_methods_compiles_lazily(self) -> None:
        m = make_map(("/x", {"methods": ["PUT"]}))
        assert m.allowed_methods("/x") == {"PUT", "OPTIONS"}

    def test_automatic_options(self) -> None:
        m = Map(
            [
                Rule("/x", endpoint="a", methods=["GET"], provide_automatic_options=False),
                Rule("/x", endpoint="b", methods=["POST"]),
                Rule("/d/<int:n>", endpoint="d", methods=["GET"]),
            ]
        )
        rule, _ = m.match("/x", "OPTIONS")
        assert rule.endpoint == "b"
        assert rule.methods is not None
        assert "OPTIONS" not in rule.methods
        assert m.allowed_methods("/x") == {"GET", "HEAD", "POST", "OPTIONS"}
        assert endpoint(m, "/d/4", "OPTIONS") == ("d", {"n": 4})
        assert m.allowed_methods("/d/4") == {"GET", "HEAD", "OPTIONS"}
        assert m.allowed_methods("/nothing") == set()
        assert m.allowed_methods("//d/4") == {"GET", "HEAD", "OPTIONS"}

    def test_explicit_options_rule(self) -> None:
        m = Map(
            [
                Rule("/x", endpoint="get", methods=["GET"]),
                Rule("/x", endpoint="options", methods=["OPTIONS"]),
            ]
        )
        assert endpoint(m, "/x", "OPTIONS") == ("options", {})

    def test_methods_none_accepts_all(self) -> None:
        m = make_map("/any", "/v/<x>")
        assert endpoint(m, "/any", "BREW") == ("/any", {})
        assert endpoint(m, "/v/1", "DELETE") == ("/v/<x>", {"x": "1"})
        assert m.allowed_methods("/any") == ALL_METHODS

    def test_rules_differing_by_method_share_the_path(self) -> None:
        m = Map(
            [
                Rule("/items/<int:id>", endpoint="show", methods=["GET"]),
                Rule("/items/<int:id>", endpoint="update", methods=["PUT"]),
                Rule("/items/<int:id>", endpoint="remove", methods=["DELETE"]),
            ]
        )
        assert endpoint(m, "/items/1", "GET") == ("show", {"id": 1})
        assert endpoint(m, "/items/1", "PUT") == ("update", {"id": 1})
        assert endpoint(m, "/items/1", "DELETE") == ("remove", {"id": 1})

    def test_method_mismatch_falls_to_lower_priority_rule(self) -> None:
        m = Map(
            [
                Rule("/users/me", endpoint="me", methods=["GET"]),
                Rule("/users/<name>", endpoint="user", methods=["POST"]),
                Rule("/x/<int:n>", endpoint="int", methods=["GET"]),
                Rule("/x/<name>", endpoint="str", methods=["POST"]),
            ]
        )
        assert endpoint(m, "/users/me", "POST") == ("user", {"name": "me"})
        assert endpoint(m, "/x/1", "POST") == ("str", {"name": "1"})
        with pytest.raises(MethodNotAllowed) as info:
            m.match("/users/me", "PUT")
        assert info.value.valid_methods == ["GET", "HEAD", "OPTIONS", "POST"]


# ------------------------------------------------------------------------ slashes


class TestSlashes:
    def test_strict_slash_redirect_static(self) -> None:
        m = make_map("/docs/")
        with pytest.raises(RequestRedirect) as info:
            m.match("/docs", "GET")
        assert info.value.new_url == "/docs/"
        assert endpoint(m, "/docs/") == ("/docs/", {})

    def test_strict_slash_redirect_dynamic(self) -> None:
        m = make_map("/users/<name>/", "/users/<name>/posts/")
        with pytest.raises(RequestRedirect) as info:
            m.match("/users/bob", "GET")
        assert info.value.new_url == "/users/bob/"
        with pytest.raises(RequestRedirect) as info:
            m.match("/users/bob/posts", "GET")
        assert info.value.new_url == "/users/bob/posts/"
        assert endpoint(m, "/users/bob/") == ("/users/<name>/", {"name": "bob"})

    def test_no_redirect_without_slash_in_rule(self) -> None:
        m = make_map("/docs", "/d/<x>")
        with pytest.raises(NotFound):
            m.match("/docs/", "GET")
        with pytest.raises(NotFound):
            m.match("/d/y/", "GET")

    def test_exact_rule_beats_redirect(self) -> None:
        m = make_map("/docs", "/docs/")
        assert endpoint(m, "/docs") == ("/docs", {})
        assert endpoint(m, "/docs/") == ("/docs/", {})

    def test_redirect_only_when_method_fits(self) -> None:
        m = make_map(("/docs/", {"methods": ["POST"]}), ("/d/<x>/", {"methods": ["POST"]}))
        with pytest.raises(NotFound):
            m.match("/docs", "GET")
        with pytest.raises(NotFound):
            m.match("/d/1", "GET")
        with pytest.raises(RequestRedirect):
            m.match("/docs", "POST")
        with pytest.raises(RequestRedirect):
            m.match("/docs", "OPTIONS")
        with pytest.raises(RequestRedirect):
            m.match("/d/1", "POST")
        m = make_map(("/docs/", {"methods": ["POST"], "provide_automatic_options": False}))
        with pytest.raises(NotFound):
            m.match("/docs", "OPTIONS")

    def test_redirect_in_priority_order(self) -> None:
        # Werkzeug: the static "docs" wins over <name>, so this redirects.
        m = make_map("/docs/", "/<name>")
        with pytest.raises(RequestRedirect):
            m.match("/docs", "GET")
        m = make_map("/x/<int:a>/", "/x/<b>")
        with pytest.raises(RequestRedirect):
            m.match("/x/5", "GET")
        assert endpoint(m, "/x/q") == ("/x/<b>", {"b": "q"})
        # a redirect candidate whose method does not fit is skipped
        m = make_map(("/docs/", {"methods": ["POST"]}), "/<name>")
        assert endpoint(m, "/docs") == ("/<name>", {"name": "docs"})

    def test_redirect_after_method_mismatch(self) -> None:
        m = Map(
            [
                Rule("/docs", endpoint="a", methods=["GET"]),
                Rule("/docs/", endpoint="b", methods=["POST"]),
            ]
        )
        with pytest.raises(RequestRedirect):
            m.match("/docs", "POST")

    def test_non_strict_rule(self) -> None:
        m = make_map(
            ("/docs/", {"strict_slashes": False}),
            ("/a", {"strict_slashes": False}),
            ("/u/<name>/", {"strict_slashes": False}),
            ("/v/<name>", {"strict_slashes": False}),
            ("/f/<path:p>", {"strict_slashes": False}),
        )
        assert endpoint(m, "/docs") == ("/docs/", {})
        assert endpoint(m, "/docs/") == ("/docs/", {})
        assert endpoint(m, "/a/") == ("/a", {})
        assert endpoint(m, "/u/x") == ("/u/<name>/", {"name": "x"})
        assert endpoint(m, "/u/x/") == ("/u/<name>/", {"name": "x"})
        assert endpoint(m, "/v/x/") == ("/v/<name>", {"name": "x"})
        assert endpoint(m, "/f/a/b/") == ("/f/<path:p>", {"p": "a/b/"})

    def test_non_strict_map(self) -> None:
        m = Map([Rule("/docs/", endpoint="docs"), Rule("/", endpoint="root")], strict_slashes=False)
        assert endpoint(m, "/docs") == ("docs", {})
        assert endpoint(m, "/") == ("root", {})
        rule = next(m.iter_rules("docs"))
        assert rule.strict_slashes is False
        m = Map([Rule("/docs/", endpoint="docs", strict_slashes=True)], strict_slashes=False)
        with pytest.raises(RequestRedirect):
            m.match("/docs", "GET")

    def test_leading_slashes_collapsed(self) -> None:
        m = make_map("/users", "/u/<int:n>", "/")
        assert endpoint(m, "//users") == ("/users", {})
        assert endpoint(m, "///u/3") == ("/u/<int:n>", {"n": 3})
        assert endpoint(m, "users") == ("/users", {})
        assert endpoint(m, "") == ("/", {})

    def test_redirect_target_never_starts_with_two_slashes(self) -> None:
        m = make_map("/<path:p>/")
        with pytest.raises(RequestRedirect) as info:
            m.match("//evil.example/x", "GET")
        assert info.value.new_url == "/evil.example/x/"

    def test_merge_slashes(self) -> None:
        m = make_map("/a/b", "/f/<path:p>", "/d/", "/only-post", merge_slashes=True)
        with pytest.raises(RequestRedirect) as info:
            m.match("/a//b", "GET")
        assert info.value.new_url == "/a/b"
        with pytest.raises(RequestRedirect) as info:
            m.match("/a///b", "GET")
        assert info.value.new_url == "/a/b"
        # a path that matches as it is is not redirected
        assert endpoint(m, "/f/a//b") == ("/f/<path:p>", {"p": "a//b"})
        with pytest.raises(NotFound):
            m.match("/x//y", "GET")
        # merged path then needs its trailing slash: one redirect to the final URL
        with pytest.raises(RequestRedirect) as info:
            m.match("/d//", "GET")
        assert info.value.new_url == "/d/"

    def test_merge_slashes_redirects_even_if_method_then_fails(self) -> None:
        m = Map([Rule("/a/b", endpoint="x", methods=["POST"])], merge_slashes=True)
        with pytest.raises(RequestRedirect) as info:
            m.match("/a//b", "GET")
        assert info.value.new_url == "/a/b"
        m = Map([Rule("/ws/x", endpoint="x", websocket=True)], merge_slashes=True)
        with pytest.raises(RequestRedirect):
            m.match("/ws//x", "GET")

    def test_merge_slashes_off_by_default(self) -> None:
        m = make_map("/a/b")
        assert m.merge_slashes is False
        with pytest.raises(NotFound):
            m.match("/a//b", "GET")


# ----------------------------------------------------------------------- defaults


class TestDefaults:
    def test_match_fills_defaults(self) -> None:
        m = Map(
            [
                Rule("/page/", endpoint="page", defaults={"n": 1}),
                Rule("/page/<int:n>", endpoint="page"),
                Rule("/x/<int:n>", endpoint="x", defaults={"lang": "en"}),
            ]
        )
        assert endpoint(m, "/page/") == ("page", {"n": 1})
        # no redirect /page/1 -> /page/ (Werkzeug would redirect)
        assert endpoint(m, "/page/1") == ("page", {"n": 1})
        assert endpoint(m, "/page/2") == ("page", {"n": 2})
        assert endpoint(m, "/x/3") == ("x", {"n": 3, "lang": "en"})

    def test_values_are_fresh_dicts(self) -> None:
        m = Map([Rule("/page/", endpoint="page", defaults={"n": 1})])
        _, first = m.match("/page/", "GET")
        first["n"] = 99
        assert m.match("/page/", "GET")[1] == {"n": 1}

    @pytest.mark.parametrize("reverse", [False, True])
    def test_build_with_defaults(self, reverse: bool) -> None:
        rules = [
            Rule("/users/", endpoint="users", defaults={"page": 1}),
            Rule("/users/page/<int:page>", endpoint="users"),
        ]
        m = Map(rules[::-1] if reverse else rules)
        assert m.build("users") == "/users/"
        assert m.build("users", {"page": 1}) == "/users/"
        assert m.build("users", {"page": 2}) == "/users/page/2"
        assert m.build("users", {"page": None}) == "/users/"
        assert m.build("users", {"page": 1, "q": "x"}) == "/users/?q=x"

    def test_default_for_a_variable(self) -> None:
        m = Map([Rule("/p/<int:n>", endpoint="p", defaults={"n": 5})])
        assert m.build("p") == "/p/5"
        assert m.build("p", {"n": 7}) == "/p/7"
        assert endpoint(m, "/p/7") == ("p", {"n": 7})

    def test_contradicted_default(self) -> None:
        m = Map([Rule("/en/", endpoint="home", defaults={"lang": "en"})])
        assert m.build("home", {"lang": "en"}) == "/en/"
        with pytest.raises(BuildError, match="rejects these values"):
            m.build("home", {"lang": "fr"})


# ----------------------------------------------------------------------- building


class TestBuild:
    def test_leftovers_become_query(self) -> None:
        m = make_map("/u/<int:id>")
        built = m.build(
            "/u/<int:id>", {"id": 1, "q": "a b", "tags": ["x", "y", None], "skip": None, "t": (1,)}
        )
        assert built == "/u/1?q=a+b&tags=x&tags=y&t=1"
        assert m.build("/u/<int:id>", {"id": 1, "q": "x"}, append_unknown=False) == "/u/1"

    def test_query_quoting(self) -> None:
        m = make_map("/")
        built = m.build("/", {"q": "a&b=c+d#e%f/g:h?", "é": "ü"})
        assert built == "/?q=a%26b%3Dc%2Bd%23e%25f/g:h?&%C3%A9=%C3%BC"

    def test_path_quoting(self) -> None:
        m = make_map("/s/<s>", "/p/<path:p>", "/über/<s>")
        text = "a/b c:@!$&'()*+,;=?#%é"
        assert m.build("/s/<s>", {"s": text}) == "/s/a%2Fb%20c:@!$&'()*+,;=%3F%23%25%C3%A9"
        assert m.build("/p/<path:p>", {"p": text}) == "/p/a/b%20c:@!$&'()*+,;=%3F%23%25%C3%A9"
        assert m.build("/über/<s>", {"s": "x"}) == "/%C3%BCber/x"

    def test_unicode_round_trip(self) -> None:
        m = make_map("/café/<name>", "/日本/<path:p>")
        assert endpoint(m, "/café/naïve") == ("/café/<name>", {"name": "naïve"})
        assert endpoint(m, "/日本/東京/駅") == ("/日本/<path:p>", {"p": "東京/駅"})
        assert m.build("/café/<name>", {"name": "naïve"}) == "/caf%C3%A9/na%C3%AFve"

    def test_prefers_rule_with_more_arguments(self) -> None:
        m = Map([Rule("/a", endpoint="a"), Rule("/a/<x>", endpoint="a")])
        assert m.build("a", {"x": "1"}) == "/a/1"
        assert m.build("a") == "/a"
        assert m.build("a", {"y": "1"}) == "/a?y=1"

    def test_method(self) -> None:
        m = Map(
            [
                Rule("/post", endpoint="e", methods=["POST"]),
                Rule("/get", endpoint="e", methods=["GET"]),
                Rule("/all", endpoint="all"),
            ]
        )
        assert m.build("e") == "/get"  # GET rules first when no method is given
        assert m.build("e", method="POST") == "/post"
        assert m.build("e", method="GET") == "/get"
        assert m.build("all", method="BREW") == "/all"
        expected = r"Did you mean to use methods \['GET', 'HEAD', 'POST'\]"
        with pytest.raises(BuildError, match=expected):
            m.build("e", method="PUT")
        m = Map([Rule("/post", endpoint="e", methods=["POST"])])
        assert m.build("e") == "/post"

    def test_build_error_unknown_endpoint(self) -> None:
        m = Map([Rule("/", endpoint="index"), Rule("/x", endpoint=None)])
        with pytest.raises(BuildError) as info:
            m.build("indx")
        assert str(info.value) == (
            "Could not build url for endpoint 'indx'. Did you mean 'index' instead?"
        )
        assert isinstance(info.value, LookupError)
        assert info.value.endpoint == "indx"
        assert info.value.values == {}
        assert info.value.method is None
        with pytest.raises(BuildError, match="No rule has this endpoint"):
            m.build("zzzzzz", {"a": 1})

    def test_build_error_missing_values(self) -> None:
        m = Map(
            [
                Rule("/u/<int:id>/<tab>", endpoint="user"),
                Rule("/u/<int:id>", endpoint="user", methods=["POST"]),
            ]
        )
        with pytest.raises(BuildError) as info:
            m.build("user", {"q": 1, "x": None}, method="GET")
        assert str(info.value) == (
            "Could not build url for endpoint 'user' ('GET') with values ['q']."
            " Did you forget to specify values ['id', 'tab']?"
        )
        assert info.value.suggested is not None
        assert info.value.suggested.rule == "/u/<int:id>/<tab>"
        with pytest.raises(BuildError, match=r"forget to specify values \['id'\]"):
            m.build("user")

    def test_build_error_without_map(self) -> None:
        error = BuildError("e", None, "GET")
        assert str(error) == "Could not build url for endpoint 'e' ('GET')."
        assert error.suggested is None

    def test_rule_build(self) -> None:
        rule = Rule("/u/<int:id>", endpoint="u")
        with pytest.raises(RuntimeError, match="not bound"):
            rule.build({"id": 1})
        Map([rule])
        assert rule.build({"id": 1, "q": "x"}) == ("/u/1", "q=x")
        assert rule.build({"id": 1}) == ("/u/1", "")
        assert rule.build({"id": 1, "q": "x"}, append_unknown=False) == ("/u/1", "")
        assert rule.build({"q": "x"}) is None
        assert rule.build({"id": None}) is None

    def test_static_rule_build(self) -> None:
        m = make_map("/a b/c", "/")
        assert m.build("/a b/c") == "/a%20b/c"
        assert m.build("/", {}) == "/"


# ----------------------------------------------------------------- compiled matcher


class TestCompiledMatcher:
    def test_hundred_rules_bucketed(self) -> None:
        m = Map([Rule(f"/route{i}/<int:id>", endpoint=f"r{i}") for i in range(100)])
        assert endpoint(m, "/route99/42") == ("r99", {"id": 42})
        assert endpoint(m, "/route0/1") == ("r0", {"id": 1})
        assert len(m._buckets) == 100
        with pytest.raises(NotFound):
            m.match("/route100/1", "GET")

    def test_hundred_rules_with_variable_first_segment(self) -> None:
        m = Map([Rule(f"/<lang>/route{i}/<int:id>", endpoint=f"r{i}") for i in range(100)])
        assert endpoint(m, "/en/route99/42") == ("r99", {"lang": "en", "id": 42})
        assert len(m._var_buckets) == 100

    def test_thousand_rules_in_one_bucket(self) -> None:
        rules = [Rule(f"/x/<int:a>/r{i}/<b>", endpoint=f"r{i}") for i in range(1000)]
        m = Map(rules)
        assert endpoint(m, "/x/1/r999/z") == ("r999", {"a": 1, "b": "z"})
        assert endpoint(m, "/x/1/r500/z") == ("r500", {"a": 1, "b": "z"})

    def test_lazy_recompile_after_add(self) -> None:
        m = make_map("/a/<x>")
        assert endpoint(m, "/a/me") == ("/a/<x>", {"x": "me"})
        m.add(Rule("/a/me", endpoint="me"))
        assert endpoint(m, "/a/me") == ("me", {})
        m.add(Rule("/b", endpoint="b"))
        assert m.build("b") == "/b"

    def test_iter_rules_and_expecting(self) -> None:
        rules = [
            Rule("/", endpoint="index"),
            Rule("/<lang>/", endpoint="index"),
            Rule("/x", endpoint="x"),
        ]
        m = Map(rules)
        assert list(m.iter_rules()) == rules
        assert list(m.iter_rules("index")) == rules[:2]
        assert list(m.iter_rules("nope")) == []
        assert m.is_endpoint_expecting("index", "lang")
        assert not m.is_endpoint_expecting("x", "lang")
        assert not m.is_endpoint_expecting("nope")
        assert repr(m) == "<Map 3 rules>"

    def test_many_methods_on_a_static_path(self) -> None:
        m = Map(
            [
                Rule("/items", endpoint="list", methods=["GET"]),
                Rule("/items", endpoint="create", methods=["POST"]),
            ]
        )
        assert endpoint(m, "/items", "POST") == ("create", {})


# ---------------------------------------------------------------- host, websocket


class TestHostMatching:
    def test_host_patterns(self) -> None:
        m = Map(
            [
                Rule("/", endpoint="user_home", host="<user>.example.com"),
                Rule("/", endpoint="main", host="example.com"),
                Rule("/static/<path:f>", endpoint="static"),
                Rule("/n/<int:n>", endpoint="n", host="<int:shard>.db.example.com"),
            ],
            host_matching=True,
        )
        assert endpoint(m, "/", host="alice.example.com") == ("user_home", {"user": "alice"})
        assert endpoint(m, "/", host="example.com") == ("main", {})
        assert endpoint(m, "/static/a.css", host="anything") == ("static", {"f": "a.css"})
        assert endpoint(m, "/n/1", host="3.db.example.com") == ("n", {"n": 1, "shard": 3})
        with pytest.raises(NotFound):
            m.match("/", "GET", host="other.org")
        with pytest.raises(NotFound):
            m.match("/", "GET")
        with pytest.raises(NotFound):
            m.match("/n/1", "GET", host="x.db.example.com")
        assert m.allowed_methods("/", host="example.com") == ALL_METHODS
        assert m.allowed_methods("/", host="other.org") == set()

    def test_host_ignored_without_host_matching(self) -> None:
        m = Map([Rule("/", endpoint="main", host="example.com")])
        assert endpoint(m, "/", host="other.org") == ("main", {})
        assert m.build("main") == "/"
        assert m.build_with_host("main", server_name="other.org") == ("/", None)

    def test_host_variables_are_not_query_arguments(self) -> None:
        m = Map([Rule("/", endpoint="home", host="<user>.example.com")], host_matching=True)
        assert m.build("home", {"user": "bob"}) == "/"

    def test_host_is_compared_without_case(self) -> None:
        m = Map([Rule("/", endpoint="home", host="Example.com")], host_matching=True)
        assert endpoint(m, "/", host="EXAMPLE.COM") == ("home", {})
        assert endpoint(m, "/", host="example.com") == ("home", {})

    def test_ports_are_part_of_the_host(self) -> None:
        m = Map([Rule("/", endpoint="dev", host="localhost:5000")], host_matching=True)
        assert endpoint(m, "/", host="localhost:5000") == ("dev", {})
        with pytest.raises(NotFound):
            m.match("/", "GET", host="localhost")
        assert Map.normalize_host("LocalHost:80") == "localhost"
        assert Map.normalize_host("localhost:443", "https") == "localhost"
        assert Map.normalize_host("localhost:443") == "localhost:443"
        assert Map.normalize_host("localhost:80", "wss") == "localhost:80"
        assert Map.normalize_host("localhost:80", "ws") == "localhost"

    def test_rules_without_host_match_any_host_after_host_rules(self) -> None:
        m = Map(
            [
                Rule("/", endpoint="anywhere"),
                Rule("/", endpoint="user", host="<user>.example.com"),
                Rule("/<page>", endpoint="page", host="example.com"),
                Rule("/about", endpoint="about"),
            ],
            host_matching=True,
        )
        assert endpoint(m, "/", host="bob.example.com") == ("user", {"user": "bob"})
        assert endpoint(m, "/", host="other.org") == ("anywhere", {})
        # the host comes first: a variable path on this host beats a static one on any
        assert endpoint(m, "/about", host="example.com") == ("page", {"page": "about"})
        assert endpoint(m, "/about", host="other.org") == ("about", {})

    def test_static_host_before_variable_host(self) -> None:
        m = Map(
            [
                Rule("/x/<a>", endpoint="any_user", host="<user>.example.com"),
                Rule("/x/<a>", endpoint="www", host="www.example.com"),
            ],
            host_matching=True,
        )
        assert endpoint(m, "/x/1", host="www.example.com") == ("www", {"a": "1"})
        assert endpoint(m, "/x/1", host="bob.example.com") == (
            "any_user",
            {"a": "1", "user": "bob"},
        )

    def test_methods_and_redirects_per_host(self) -> None:
        m = Map(
            [
                Rule("/docs/", endpoint="docs", host="docs.example.com"),
                Rule("/form", endpoint="form", host="example.com", methods=["POST"]),
                Rule("/form", endpoint="form_get", host="other.org", methods=["GET"]),
            ],
            host_matching=True,
        )
        with pytest.raises(RequestRedirect) as info:
            m.match("/docs", "GET", host="docs.example.com")
        assert info.value.new_url == "/docs/"
        with pytest.raises(NotFound):
            m.match("/docs", "GET", host="example.com")
        with pytest.raises(MethodNotAllowed) as not_allowed:
            m.match("/form", "GET", host="example.com")
        assert set(not_allowed.value.valid_methods or ()) == {"POST", "OPTIONS"}
        assert m.allowed_methods("/form", host="example.com") == {"POST", "OPTIONS"}
        assert m.allowed_methods("/form", host="other.org") == {"GET", "HEAD", "OPTIONS"}

    def test_build_with_host(self) -> None:
        m = Map(
            [
                Rule("/", endpoint="home", host="<user>.example.com"),
                Rule("/", endpoint="home", host="example.com"),
                Rule("/about", endpoint="about", host="example.com"),
                Rule("/static/<path:f>", endpoint="static"),
            ],
            host_matching=True,
        )
        # the rule on the current host is preferred; rules without host are on every host
        assert m.build_with_host("home", server_name="example.com") == ("/", None)
        assert m.build_with_host("home", {"user": "bob"}, server_name="example.com") == (
            "/?user=bob",
            None,
        )
        assert m.build_with_host("home", {"user": "bob"}, server_name="EXAMPLE.com") == (
            "/?user=bob",
            None,
        )
        assert m.build_with_host("home", {"user": "bob"}, server_name="bob.example.com") == (
            "/",
            None,
        )
        # otherwise the first buildable rule, on its host
        assert m.build_with_host("home", {"user": "bob"}, server_name="amy.example.com") == (
            "/",
            "bob.example.com",
        )
        assert m.build_with_host("about", server_name="bob.example.com") == (
            "/about",
            "example.com",
        )
        assert m.build_with_host("static", {"f": "a.css"}, server_name="x.org") == (
            "/static/a.css",
            None,
        )
        with pytest.raises(BuildError):
            m.build_with_host("nothing", server_name="example.com")

    def test_build_host_with_defaults_and_missing_values(self) -> None:
        m = Map(
            [
                Rule("/", endpoint="home", host="<user>.example.com", defaults={"user": "www"}),
                Rule("/n", endpoint="n", host="<int:shard>.db.example.com"),
                Rule("/p/<int:n>", endpoint="p"),
            ],
            host_matching=True,
        )
        with pytest.raises(BuildError, match=r"specify values \['n'\]"):
            m.build_with_host("p", server_name="example.com")
        assert m.build_with_host("home", server_name="example.com") == ("/", "www.example.com")
        assert m.build_with_host("n", {"shard": 3}, server_name="example.com") == (
            "/n",
            "3.db.example.com",
        )
        assert m.build_with_host("n", {"shard": 3}, server_name="3.db.example.com") == ("/n", None)
        with pytest.raises(BuildError, match=r"specify values \['shard'\]"):
            m.build_with_host("n", server_name="example.com")
        with pytest.raises(BuildError, match=r"specify values \['shard'\]"):
            m.build("n")
        assert m.build("n", {"shard": 1}) == "/n"

    def test_build_method_none_tries_get_rules_first(self) -> None:
        m = Map(
            [
                Rule("/a", endpoint="e", host="one.example.com", methods=["GET"]),
                Rule("/b", endpoint="e", host="two.example.com", methods=["POST"]),
            ],
            host_matching=True,
        )
        # Werkzeug: a GET rule was built, so the POST rule on the current host is not tried
        assert m.build_with_host("e", server_name="two.example.com") == (
            "/a",
            "one.example.com",
        )
        assert m.build_with_host("e", method="POST", server_name="two.example.com") == (
            "/b",
            None,
        )
        assert m.build_with_host("e", method="GET", server_name="two.example.com") == (
            "/a",
            "one.example.com",
        )

    def test_toggling_host_matching_recompiles(self) -> None:
        m = Map([Rule("/", endpoint="home", host="example.com")])
        assert endpoint(m, "/", host="other.org") == ("home", {})
        m.host_matching = True
        assert m.host_matching is True
        with pytest.raises(NotFound):
            m.match("/", "GET", host="other.org")
        assert endpoint(m, "/", host="example.com") == ("home", {})


class TestSubdomains:
    @staticmethod
    def make() -> Map:
        return Map(
            [
                Rule("/", endpoint="index"),
                Rule("/", endpoint="api_index", subdomain="api"),
                Rule("/u/<int:n>", endpoint="user", subdomain="<user>"),
                Rule("/docs/", endpoint="docs", subdomain="api"),
                Rule("/about", endpoint="about"),
            ]
        )

    def test_match(self) -> None:
        m = self.make()
        assert endpoint(m, "/") == ("index", {})
        assert endpoint(m, "/", subdomain="") == ("index", {})
        assert endpoint(m, "/", subdomain="api") == ("api_index", {})
        assert endpoint(m, "/u/3", subdomain="bob") == ("user", {"n": 3, "user": "bob"})
        assert endpoint(m, "/u/3", subdomain="api") == ("user", {"n": 3, "user": "api"})
        # the default converter takes dots, as Werkzeug's does
        assert endpoint(m, "/u/3", subdomain="a.b") == ("user", {"n": 3, "user": "a.b"})
        for path, subdomain in [("/u/3", None), ("/u/3", ""), ("/about", "api"), ("/", "bob")]:
            with pytest.raises(NotFound):
                m.match(path, "GET", subdomain=subdomain)
        # host is ignored without host matching
        assert endpoint(m, "/", host="api.example.com") == ("index", {})

    def test_bound_rule_takes_the_default_subdomain(self) -> None:
        rule = Rule("/", endpoint="index")
        assert rule.subdomain is None
        Map([rule])
        assert rule.subdomain == ""

    def test_fast_path_holds_only_the_default_subdomain(self) -> None:
        m = self.make()
        m.match("/", "GET")
        assert m._domains is False
        assert set(m._static) == {"/", "/about"}
        assert set(m._static_domains) == {"", "api"}
        assert m._static_domains[""] is m._main
        assert "/docs" in m._static_domains["api"].static
        assert len(m._variable_domains) == 1

    def test_static_subdomain_before_variable(self) -> None:
        m = Map(
            [
                Rule("/", endpoint="user", subdomain="<user>"),
                Rule("/", endpoint="api", subdomain="api"),
                Rule("/x/y", endpoint="user_y", subdomain="<user>"),
                Rule("/x/<a>", endpoint="api_a", subdomain="api"),
            ]
        )
        assert endpoint(m, "/", subdomain="api") == ("api", {})
        assert endpoint(m, "/", subdomain="bob") == ("user", {"user": "bob"})
        # Werkzeug matches the domain first: a variable path on "api" beats a static
        # one on "<user>"
        assert endpoint(m, "/x/y", subdomain="api") == ("api_a", {"a": "y"})
        assert endpoint(m, "/x/y", subdomain="bob") == ("user_y", {"user": "bob"})

    def test_converter_in_subdomain(self) -> None:
        m = Map([Rule("/", endpoint="shard", subdomain="s<int(min=1):shard>")])
        assert endpoint(m, "/", subdomain="s4") == ("shard", {"shard": 4})
        for subdomain in ("s0", "sx", "", None):
            with pytest.raises(NotFound):
                m.match("/", "GET", subdomain=subdomain)
        assert m.build_with_host("shard", {"shard": 2}, server_name="example.com") == (
            "/",
            "s2.example.com",
        )
        languages = Map([Rule("/", endpoint="home", subdomain="<any(en, fr):lang>")])
        assert endpoint(languages, "/", subdomain="fr") == ("home", {"lang": "fr"})
        with pytest.raises(BuildError, match="rejects these values"):
            languages.build_with_host("home", {"lang": "de"}, server_name="example.com")

    def test_strict_slash_redirect_on_a_subdomain(self) -> None:
        m = Map(
            [
                Rule("/docs/", endpoint="api_docs", subdomain="api", methods=["GET"]),
                Rule("/docs/", endpoint="docs_post", methods=["POST"]),
                Rule("/p/<int:n>/", endpoint="page", subdomain="<user>"),
            ]
        )
        with pytest.raises(RequestRedirect) as info:
            m.match("/docs", "GET", subdomain="api")
        assert info.value.new_url == "/docs/"
        with pytest.raises(RequestRedirect):
            m.match("/p/1", "GET", subdomain="bob")
        # on the default subdomain, only the POST rule has the path: no GET redirect
        with pytest.raises(MethodNotAllowed):
            m.match("/docs/", "GET")
        with pytest.raises(NotFound):
            m.match("/docs", "GET")
        with pytest.raises(RequestRedirect):
            m.match("/docs", "POST")
        with pytest.raises(NotFound):
            m.match("/docs", "POST", subdomain="api")
        assert endpoint(m, "/p/1/", subdomain="bob") == ("page", {"n": 1, "user": "bob"})

    def test_methods_and_options_per_subdomain(self) -> None:
        m = Map(
            [
                Rule("/form", endpoint="api_form", subdomain="api", methods=["POST"]),
                Rule("/form", endpoint="form", methods=["GET"]),
                Rule("/any", endpoint="any", subdomain="api"),
            ]
        )
        with pytest.raises(MethodNotAllowed) as info:
            m.match("/form", "GET", subdomain="api")
        assert set(info.value.valid_methods or ()) == {"POST", "OPTIONS"}
        assert m.allowed_methods("/form", subdomain="api") == {"POST", "OPTIONS"}
        assert m.allowed_methods("/form") == {"GET", "HEAD", "OPTIONS"}
        assert m.allowed_methods("/form", subdomain="www") == set()
        assert m.allowed_methods("/any", subdomain="api") == ALL_METHODS
        rule, _values = m.match("/form", "OPTIONS", subdomain="api")
        assert rule.endpoint == "api_form"

    def test_leading_and_merged_slashes_keep_the_subdomain(self) -> None:
        m = Map(
            [Rule("/a/b", endpoint="api_ab", subdomain="api"), Rule("/a/b", endpoint="ab")],
            merge_slashes=True,
        )
        assert endpoint(m, "//a/b", subdomain="api") == ("api_ab", {})
        with pytest.raises(RequestRedirect) as info:
            m.match("/a//b", "GET", subdomain="api")
        assert info.value.new_url == "/a/b"
        with pytest.raises(NotFound):
            m.match("/a//b", "GET", subdomain="www")

    def test_websocket_on_a_subdomain(self) -> None:
        m = Map([Rule("/ws", endpoint="ws", subdomain="live", websocket=True)])
        assert endpoint(m, "/ws", subdomain="live", websocket=True) == ("ws", {})
        with pytest.raises(WebsocketMismatch):
            m.match("/ws", "GET", subdomain="live")
        with pytest.raises(NotFound):
            m.match("/ws", "GET", websocket=True)

    def test_default_subdomain(self) -> None:
        m = Map(
            [Rule("/", endpoint="www"), Rule("/", endpoint="api", subdomain="api")],
            default_subdomain="www",
        )
        assert m.default_subdomain == "www"
        assert endpoint(m, "/") == ("www", {})
        assert endpoint(m, "/", subdomain="www") == ("www", {})
        assert endpoint(m, "/", subdomain="api") == ("api", {})
        with pytest.raises(NotFound):
            m.match("/", "GET", subdomain="")
        assert m.build_with_host("www", server_name="example.com") == ("/", None)
        assert m.build_with_host("www", server_name="example.com", subdomain="api") == (
            "/",
            "www.example.com",
        )

    def test_variable_subdomain_that_matches_the_default(self) -> None:
        class Optional(BaseConverter):
            regex = "[^/]*"

        m = Map(converters={"opt": Optional})
        m.add(Rule("/", endpoint="tenant", subdomain="<opt:tenant>"))
        m.add(Rule("/", endpoint="index"))
        # no fast path: the variable rule also takes the default subdomain, and
        # the static domain "" comes first
        assert endpoint(m, "/") == ("index", {})
        assert endpoint(m, "/", subdomain="acme") == ("tenant", {"tenant": "acme"})
        assert m._domains is True

    def test_only_default_rules_and_another_subdomain(self) -> None:
        m = make_map("/", "/a/<b>")
        with pytest.raises(NotFound):
            m.match("/", "GET", subdomain="api")
        with pytest.raises(NotFound):
            m.match("/a/1", "GET", subdomain="api")
        assert endpoint(m, "/a/1", subdomain="") == ("/a/<b>", {"b": "1"})

    def test_variables(self) -> None:
        rule = Rule("/u/<int:n>", endpoint="user", subdomain="<user>")
        assert rule.arguments == {"n"}
        m = Map([rule])
        assert rule.arguments == {"n", "user"}
        assert m.is_endpoint_expecting("user", "user", "n")
        with pytest.raises(ValueError, match="both subdomain and path"):
            Map([Rule("/<user>", subdomain="<user>")])
        with pytest.raises(ValueError, match="subdomain '<user'"):
            Map([Rule("/", subdomain="<user")])

    def test_build_with_host(self) -> None:
        m = self.make()
        server = "example.com"
        assert m.build_with_host("index", server_name=server) == ("/", None)
        assert m.build_with_host("api_index", server_name=server) == ("/", "api.example.com")
        assert m.build_with_host("api_index", server_name=server, subdomain="api") == ("/", None)
        assert m.build_with_host("api_index", server_name=server, subdomain="API") == ("/", None)
        assert m.build_with_host("index", server_name=server, subdomain="api") == (
            "/",
            "example.com",
        )
        assert m.build_with_host("index", {"q": "1 2"}, server_name=server) == ("/?q=1+2", None)
        assert m.build_with_host(
            "user", {"user": "bob", "n": 1, "x": 2}, server_name="example.com:5000"
        ) == ("/u/1?x=2", "bob.example.com:5000")
        bob = {"user": "bob", "n": 1}
        assert m.build_with_host("user", bob, server_name=server, subdomain="bob") == ("/u/1", None)
        assert m.build_with_host(
            "user", {"user": "bob", "n": 1}, append_unknown=False, server_name=server
        ) == ("/u/1", "bob.example.com")
        with pytest.raises(BuildError, match=r"specify values \['user'\]"):
            m.build_with_host("user", {"n": 1}, server_name=server)
        with pytest.raises(BuildError, match=r"specify values \['user'\]"):
            m.build("user", {"n": 1})
        assert m.build("user", {"n": 1, "user": "a b"}) == "/u/1"
        assert m.build_with_host("user", {"n": 1, "user": "a/b"}, server_name=server) == (
            "/u/1",
            "a%2Fb.example.com",
        )
        with pytest.raises(BuildError, match="Did you mean 'about'"):
            m.build_with_host("abut", server_name=server)

    def test_build_prefers_more_arguments(self) -> None:
        m = Map(
            [
                Rule("/", endpoint="home"),
                Rule("/", endpoint="home", subdomain="<user>"),
            ]
        )
        assert m.build_with_host("home", server_name="example.com") == ("/", None)
        assert m.build_with_host("home", {"user": "amy"}, server_name="example.com") == (
            "/",
            "amy.example.com",
        )

    def test_subdomain_defaults(self) -> None:
        m = Map([Rule("/", endpoint="home", subdomain="<lang>", defaults={"lang": "en"})])
        assert m.build_with_host("home", server_name="example.com") == ("/", "en.example.com")
        assert m.build_with_host("home", {"lang": "fr"}, server_name="example.com") == (
            "/",
            "fr.example.com",
        )
        assert endpoint(m, "/", subdomain="de") == ("home", {"lang": "de"})

    @pytest.mark.parametrize(
        ("host", "server_name", "scheme", "expected"),
        [
            ("example.com", "example.com", "http", ""),
            ("api.example.com", "example.com", "http", "api"),
            ("API.Example.COM", "example.com", "http", "api"),
            ("a.b.example.com", "example.com", "http", "a.b"),
            ("api.example.com", "EXAMPLE.com", "http", "api"),
            ("api.example.com:5000", "example.com:5000", "http", "api"),
            ("api.example.com:5000", "example.com", "http", None),
            ("example.com", "example.com:5000", "http", None),
            ("api.example.com:80", "example.com", "http", "api"),
            ("api.example.com", "example.com:80", "http", "api"),
            ("api.example.com:443", "example.com", "https", "api"),
            ("api.example.com:443", "example.com", "http", None),
            ("other.org", "example.com", "http", None),
            ("com", "example.com", "http", None),
            ("notexample.com", "example.com", "http", None),
            (".example.com", "example.com", "http", ""),
            ("127.0.0.1:8000", "example.com", "http", None),
        ],
    )
    def test_subdomain_of(
        self, host: str, server_name: str, scheme: str, expected: str | None
    ) -> None:
        assert Map.subdomain_of(host, server_name, scheme) == expected


def test_domains_match_werkzeug() -> None:
    """Differential check of subdomain and host matching and building against Werkzeug."""
    wz = pytest.importorskip("werkzeug.routing")
    wz_exc = pytest.importorskip("werkzeug.exceptions")
    rng = random.Random(20260509)
    paths = ["/", "/a", "/a/", "/<x>", "/a/<int:n>", "/<path:p>"]
    subdomains = ["", "api", "<user>", "<int:shard>", "s<int:shard>"]
    hosts = [
        "example.com",
        "api.example.com",
        "<user>.example.com",
        "<int:shard>.example.com",
        "s<int:shard>.example.com",
    ]
    request_paths = ["/", "/a", "/a/", "/b", "/a/1", "/a/b/c"]
    request_domains = ["", "api", "bob", "12", "s3"]

    def ours(m: Map, path: str, **domain: Any) -> tuple[Any, ...]:
        try:
            rule, found = m.match(path, "GET", **domain)
        except RequestRedirect as exc:
            return ("redirect", exc.new_url)
        except MethodNotAllowed:
            return ("405",)
        except NotFound:
            return ("404",)
        return ("ok", rule.endpoint, found)

    def theirs(adapter: Any, path: str) -> tuple[Any, ...]:
        try:
            name, found = adapter.match(path, "GET")
        except wz.RequestRedirect as exc:
            return ("redirect", "/" + exc.new_url.split("/", 3)[3])
        except wz_exc.MethodNotAllowed:
            return ("405",)
        except wz_exc.NotFound:
            return ("404",)
        return ("ok", name, found)

    def our_url(m: Map, name: str, values: dict[str, Any], **current: Any) -> str | None:
        try:
            url, host = m.build_with_host(name, values, **current)
        except BuildError:
            return None
        return url if host is None else f"http://{host}{url}"

    def their_url(adapter: Any, name: str, values: dict[str, Any]) -> str | None:
        try:
            return str(adapter.build(name, values))
        except wz.BuildError:
            return None

    compared = 0
    for host_matching in (False, True):
        domains = hosts if host_matching else subdomains
        for _ in range(150):
            rules = []
            for index in range(rng.randint(1, 5)):
                path, domain = rng.choice(paths), rng.choice(domains)
                methods = rng.choice([["GET"], ["POST"], ["GET", "POST"]])
                if path == "/<x>" and "<x>" in domain:
                    continue
                rules.append((path, f"e{index % 3}", domain, methods))
            key = "host" if host_matching else "subdomain"
            ours_map = Map(
                [Rule(p, endpoint=e, methods=me, **{key: d}) for p, e, d, me in rules],
                host_matching=host_matching,
            )
            their_map = wz.Map(
                [wz.Rule(p, endpoint=e, methods=me, **{key: d}) for p, e, d, me in rules],
                host_matching=host_matching,
                merge_slashes=False,
            )
            for _ in range(6):
                path = rng.choice(request_paths)
                current = rng.choice(request_domains)
                if host_matching:
                    server = f"{current}.example.com" if current else "example.com"
                    adapter = their_map.bind(server)
                    ours_domain: dict[str, Any] = {"host": server}
                    build_current: dict[str, Any] = {"server_name": server}
                else:
                    adapter = their_map.bind("example.com", subdomain=current)
                    ours_domain = {"subdomain": current}
                    build_current = {"server_name": "example.com", "subdomain": current}
                assert ours(ours_map, path, **ours_domain) == theirs(adapter, path), (
                    rules,
                    path,
                    current,
                )
                name = rng.choice(["e0", "e1", "e2"])
                values: dict[str, Any] = rng.choice(
                    [{}, {"user": "bob"}, {"shard": 2, "n": 5}, {"x": "q", "p": "a/b", "n": 1}]
                )
                assert our_url(ours_map, name, values, **build_current) == their_url(
                    adapter, name, values
                ), (rules, name, values, current)
                compared += 1
    assert compared > 1500


class TestWebsocket:
    def test_websocket_rules(self) -> None:
        m = Map(
            [
                Rule("/ws", endpoint="ws", websocket=True),
                Rule("/chat/<room>", endpoint="chat_ws", websocket=True),
                Rule("/chat/<room>", endpoint="chat_page"),
                Rule("/page", endpoint="page"),
            ]
        )
        assert endpoint(m, "/ws", websocket=True) == ("ws", {})
        assert endpoint(m, "/chat/1", websocket=True) == ("chat_ws", {"room": "1"})
        assert endpoint(m, "/chat/1") == ("chat_page", {"room": "1"})
        with pytest.raises(WebsocketMismatch):
            m.match("/ws", "GET")
        with pytest.raises(WebsocketMismatch) as info:
            m.match("/page", "GET", websocket=True)
        assert info.value.code == 400
        assert m.allowed_methods("/ws") == set()
        assert m.allowed_methods("/ws", websocket=True) == ALL_METHODS
