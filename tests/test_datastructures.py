"""Tests for ambi.datastructures: MultiDict, ImmutableMultiDict, Headers, BadRequestKeyError."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from ambi import datastructures
from ambi.datastructures import BadRequestKeyError, Headers, ImmutableMultiDict, MultiDict
from ambi.exceptions import BadRequest, HTTPException

# -- BadRequestKeyError -------------------------------------------------------------------------


def test_bad_request_key_error_is_a_key_error_and_a_400() -> None:
    error = BadRequestKeyError("name")
    assert isinstance(error, KeyError)
    assert isinstance(error, BadRequest)
    assert isinstance(error, HTTPException)
    assert error.code == 400
    assert error.key == "name"
    assert error.args == ("name",)
    assert error.description == "The request is missing the key 'name'."
    assert str(error) == "400 Bad Request: The request is missing the key 'name'."


def test_bad_request_key_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(BadRequestKeyError("k")))
    assert isinstance(error, BadRequestKeyError)
    assert error.key == "k"


def test_missing_key_caught_as_key_error() -> None:
    empty: MultiDict[str, str] = MultiDict()
    with pytest.raises(KeyError) as info:
        empty["missing"]
    assert isinstance(info.value, BadRequest)
    assert "'missing'" in (info.value.description or "")


# -- MultiDict: construction --------------------------------------------------------------------


def test_construct_empty() -> None:
    assert len(MultiDict()) == 0
    assert len(MultiDict(None)) == 0
    assert MultiDict() == MultiDict([])


def test_construct_from_dict_with_lists_and_tuples() -> None:
    d = MultiDict({"a": "1", "b": ["2", "3"], "c": ("4",), "empty": []})
    assert list(d.items(multi=True)) == [("a", "1"), ("b", "2"), ("b", "3"), ("c", "4")]
    assert "empty" not in d


def test_construct_from_pairs_and_generator() -> None:
    pairs = [("a", 1), ("b", 2), ("a", 3)]
    assert MultiDict(pairs).getlist("a") == [1, 3]
    assert MultiDict(iter(pairs)) == MultiDict(pairs)


def test_construct_from_multidict_copies_lists() -> None:
    original = MultiDict([("a", "1"), ("a", "2")])
    clone = MultiDict(original)
    clone.add("a", "3")
    assert original.getlist("a") == ["1", "2"]
    assert clone.getlist("a") == ["1", "2", "3"]


def test_is_a_dict_that_shows_first_values() -> None:
    d = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert isinstance(d, dict)
    assert dict(d) == {"a": "1", "b": "3"}
    assert {**d} == {"a": "1", "b": "3"}
    assert json.loads(json.dumps(d)) == {"a": "1", "b": "3"}
    assert list(d) == ["a", "b"]
    assert list(d.keys()) == ["a", "b"]
    assert len(d) == 2
    assert "a" in d
    assert "z" not in d


# -- MultiDict: reading -------------------------------------------------------------------------


def test_getitem_first_value_and_missing() -> None:
    d = MultiDict([("a", "1"), ("a", "2")])
    assert d["a"] == "1"
    with pytest.raises(BadRequestKeyError):
        d["b"]


def test_getitem_key_with_empty_list_is_missing() -> None:
    d: MultiDict[str, str] = MultiDict()
    d.setlist("a", [])
    assert "a" in d
    with pytest.raises(BadRequestKeyError):
        d["a"]
    assert d.get("a", "x") == "x"
    assert d.getlist("a") == []
    assert list(d.items()) == []
    assert list(d.values()) == []
    assert d.to_dict() == {}
    assert d.to_dict(flat=False) == {"a": []}


def test_get_and_type_conversion() -> None:
    d = MultiDict([("n", "12"), ("x", "abc"), ("n", "13")])
    assert d.get("n") == "12"
    assert d.get("missing") is None
    assert d.get("missing", "default") == "default"
    assert d.get("n", type=int) == 12
    assert d.get("x", type=int) is None
    assert d.get("x", -1, type=int) == -1
    assert d.get("missing", 5, type=int) == 5


def test_get_type_error_returns_default() -> None:
    def picky(value: str) -> int:
        raise TypeError(value)

    assert MultiDict({"a": "b"}).get("a", 0, type=picky) == 0


def test_getlist_and_type_conversion() -> None:
    d = MultiDict([("n", "1"), ("n", "x"), ("n", "3")])
    assert d.getlist("n") == ["1", "x", "3"]
    assert d.getlist("n", type=int) == [1, 3]
    assert d.getlist("missing") == []
    assert d.getlist("missing", type=int) == []
    d.getlist("n").append("changed")
    assert d.getlist("n") == ["1", "x", "3"]


def test_items_lists_values() -> None:
    d = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert list(d.items()) == [("a", "1"), ("b", "2")]
    assert list(d.items(multi=True)) == [("a", "1"), ("a", "3"), ("b", "2")]
    assert list(d.lists()) == [("a", ["1", "3"]), ("b", ["2"])]
    assert list(d.values()) == ["1", "2"]
    assert list(d.listvalues()) == [["1", "3"], ["2"]]
    for _, values in d.lists():
        values.append("x")
    for values in d.listvalues():
        values.append("y")
    assert d.getlist("a") == ["1", "3"]


def test_to_dict() -> None:
    d = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert d.to_dict() == {"a": "1", "b": "3"}
    flat_false = d.to_dict(flat=False)
    assert flat_false == {"a": ["1", "2"], "b": ["3"]}
    flat_false["a"].append("x")
    assert d.getlist("a") == ["1", "2"]


def test_copy_and_deepcopy() -> None:
    inner = ["mutable"]
    d = MultiDict([("a", inner), ("a", ["other"])])
    shallow = d.copy()
    assert shallow == d
    assert type(shallow) is MultiDict
    shallow.add("a", ["third"])
    assert len(d.getlist("a")) == 2
    assert shallow["a"] is inner

    deep = d.deepcopy()
    assert deep == d
    assert deep["a"] is not inner
    assert copy.copy(d) == d
    assert copy.copy(d) is not d
    deep2 = copy.deepcopy(d)
    assert deep2 == d
    assert deep2["a"] is not inner


def test_equality() -> None:
    a = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert a == MultiDict([("b", "3"), ("a", "1"), ("a", "2")])
    assert a != MultiDict([("a", "2"), ("a", "1"), ("b", "3")])
    assert a == ImmutableMultiDict(a)
    # Against a plain mapping, first values are compared.
    assert a == {"a": "1", "b": "3"}
    assert a != {"a": "2", "b": "3"}
    assert a != [("a", "1")]
    assert a != 1
    assert (a == 1) is False


def test_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(MultiDict())


def test_repr() -> None:
    d = MultiDict([("a", "1"), ("a", "2")])
    assert repr(d) == "MultiDict([('a', '1'), ('a', '2')])"
    assert repr(ImmutableMultiDict(d)) == "ImmutableMultiDict([('a', '1'), ('a', '2')])"


@pytest.mark.parametrize("cls", [MultiDict, ImmutableMultiDict])
def test_pickle_keeps_all_values(cls: type[MultiDict[str, str]]) -> None:
    d = cls([("a", "1"), ("a", "2"), ("b", "3")])
    restored = pickle.loads(pickle.dumps(d))
    assert type(restored) is cls
    assert list(restored.items(multi=True)) == [("a", "1"), ("a", "2"), ("b", "3")]


def test_from_lists_takes_the_dict_over() -> None:
    lists = {"a": ["1", "2"]}
    d = ImmutableMultiDict._from_lists(lists)
    assert type(d) is ImmutableMultiDict
    assert d.getlist("a") == ["1", "2"]


# -- MultiDict: writing -------------------------------------------------------------------------


def test_setitem_replaces_all_values() -> None:
    d = MultiDict([("a", "1"), ("a", "2")])
    d["a"] = "3"
    assert d.getlist("a") == ["3"]


def test_add() -> None:
    d: MultiDict[str, str] = MultiDict()
    d.add("a", "1")
    d.add("a", "2")
    assert d.getlist("a") == ["1", "2"]


def test_setlist() -> None:
    d = MultiDict({"a": "1"})
    values = ["x", "y"]
    d.setlist("a", values)
    values.append("z")
    assert d.getlist("a") == ["x", "y"]
    d.setlist("b", iter(["1"]))
    assert d["b"] == "1"


def test_setdefault() -> None:
    d = MultiDict({"a": "1"})
    assert d.setdefault("a", "2") == "1"
    assert d.setdefault("b", "3") == "3"
    assert d.getlist("b") == ["3"]
    d.setlist("c", [])
    assert d.setdefault("c", "4") == "4"
    assert d.getlist("c") == ["4"]


def test_setlistdefault() -> None:
    d = MultiDict({"a": "1"})
    stored = d.setlistdefault("a", ["ignored"])
    stored.append("2")
    assert d.getlist("a") == ["1", "2"]
    assert d.setlistdefault("b", ("x", "y")) == ["x", "y"]
    assert d.setlistdefault("c") == []
    assert "c" in d


@pytest.mark.parametrize(
    "other",
    [
        {"a": "2", "b": ["3", "4"]},
        MultiDict([("a", "2"), ("b", "3"), ("b", "4")]),
        [("a", "2"), ("b", "3"), ("b", "4")],
    ],
)
def test_update_adds_values(other: Any) -> None:
    d = MultiDict({"a": "1"})
    d.update(other)
    assert d.to_dict(flat=False) == {"a": ["1", "2"], "b": ["3", "4"]}


def test_update_with_nothing() -> None:
    d = MultiDict({"a": "1"})
    d.update()
    d.update(None)
    assert d == MultiDict({"a": "1"})


def test_or_operators() -> None:
    d = MultiDict({"a": "1"})
    merged = d | {"a": "2"}
    assert merged.getlist("a") == ["1", "2"]
    assert d.getlist("a") == ["1"]
    with pytest.raises(TypeError):
        d | 1

    same = d
    d |= {"b": "2"}
    d |= [("b", "3")]
    assert d is same
    assert d.getlist("b") == ["2", "3"]
    with pytest.raises(TypeError):
        d |= 1


def test_or_on_immutable_gives_a_new_multidict() -> None:
    d = ImmutableMultiDict({"a": "1"})
    merged = d | {"a": "2"}
    assert type(merged) is MultiDict
    assert merged.getlist("a") == ["1", "2"]


def test_pop() -> None:
    d = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert d.pop("a") == "1"
    assert "a" not in d
    assert d.pop("a", "default") == "default"
    assert d.pop("b", "default") == "3"
    with pytest.raises(BadRequestKeyError):
        d.pop("missing")


def test_pop_key_with_empty_list() -> None:
    d: MultiDict[str, str] = MultiDict()
    d.setlist("a", [])
    assert d.pop("a", "default") == "default"
    assert "a" not in d
    d.setlist("a", [])
    with pytest.raises(BadRequestKeyError):
        d.pop("a")
    assert "a" not in d


def test_popitem() -> None:
    d = MultiDict([("a", "1"), ("a", "2")])
    d.setlist("empty", [])
    assert d.popitem() == ("a", "1")
    assert len(d) == 0
    with pytest.raises(KeyError):
        d.popitem()


def test_poplist_and_popitemlist() -> None:
    d = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert d.poplist("a") == ["1", "2"]
    assert "a" not in d
    assert d.poplist("a") == []
    assert d.popitemlist() == ("b", ["3"])
    with pytest.raises(KeyError):
        d.popitemlist()


def test_delitem_and_clear() -> None:
    d = MultiDict({"a": "1", "b": "2"})
    del d["a"]
    assert list(d) == ["b"]
    d.clear()
    assert len(d) == 0


# -- ImmutableMultiDict -------------------------------------------------------------------------

_MUTATORS: list[tuple[str, tuple[Any, ...]]] = [
    ("__setitem__", ("a", "x")),
    ("__delitem__", ("a",)),
    ("add", ("a", "x")),
    ("setlist", ("a", ["x"])),
    ("setdefault", ("a", "x")),
    ("setlistdefault", ("a",)),
    ("update", ({"a": "x"},)),
    ("pop", ("a",)),
    ("popitem", ()),
    ("poplist", ("a",)),
    ("popitemlist", ()),
    ("clear", ()),
    ("__ior__", ({"a": "x"},)),
]


@pytest.mark.parametrize(("method", "args"), _MUTATORS)
def test_immutable_multidict_refuses_changes(method: str, args: tuple[Any, ...]) -> None:
    d = ImmutableMultiDict({"a": "1"})
    with pytest.raises(TypeError, match="'ImmutableMultiDict' objects are immutable"):
        getattr(d, method)(*args)
    assert d.getlist("a") == ["1"]


def test_immutable_multidict_reads_and_copies() -> None:
    d = ImmutableMultiDict([("a", "1"), ("a", "2")])
    assert d["a"] == "1"
    assert d.getlist("a") == ["1", "2"]
    mutable = d.copy()
    assert type(mutable) is MultiDict
    mutable.add("a", "3")
    assert d.getlist("a") == ["1", "2"]
    assert copy.copy(d) is d
    deep = copy.deepcopy(d)
    assert type(deep) is ImmutableMultiDict
    assert deep == d


# -- Headers: construction and reading ----------------------------------------------------------


def test_headers_construct() -> None:
    pairs = [("Content-Type", "text/html"), ("X-A", "1"), ("x-a", "2")]
    assert Headers().to_wsgi_list() == []
    assert Headers(None).to_wsgi_list() == []
    assert Headers(pairs).to_wsgi_list() == pairs
    assert Headers(iter(pairs)).to_wsgi_list() == pairs
    assert Headers(Headers(pairs)).to_wsgi_list() == pairs
    assert Headers({"X-A": ["1", "2"], "X-B": ("3",), "Content-Length": 10}).to_wsgi_list() == [
        ("X-A", "1"),
        ("X-A", "2"),
        ("X-B", "3"),
        ("Content-Length", "10"),
    ]
    assert Headers(MultiDict([("X-A", "1"), ("X-A", "2")])).getlist("x-a") == ["1", "2"]


def test_headers_constructor_copies() -> None:
    original = Headers([("A", "1")])
    clone = Headers(original)
    clone.add("B", "2")
    assert len(original) == 1


def test_headers_getitem() -> None:
    h = Headers([("Content-Type", "text/html"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert h["content-type"] == "text/html"
    assert h["CONTENT-TYPE"] == "text/html"
    assert h["Set-Cookie"] == "a=1"
    assert h[0] == ("Content-Type", "text/html")
    assert h[-1] == ("set-cookie", "b=2")
    sliced = h[1:]
    assert isinstance(sliced, Headers)
    assert sliced.to_wsgi_list() == [("Set-Cookie", "a=1"), ("set-cookie", "b=2")]
    with pytest.raises(KeyError) as info:
        h["X-Missing"]
    assert isinstance(info.value, BadRequestKeyError)


def test_headers_get() -> None:
    h = Headers([("Content-Length", "12"), ("X-Bad", "abc")])
    assert h.get("content-length") == "12"
    assert h.get("missing") is None
    assert h.get("missing", "d") == "d"
    assert h.get("content-length", type=int) == 12
    assert h.get("x-bad", type=int) is None
    assert h.get("x-bad", 0, type=int) == 0
    assert h.get("missing", 7, type=int) == 7


def test_headers_getlist() -> None:
    h = Headers([("X-N", "1"), ("x-n", "bad"), ("X-n", "3"), ("Other", "4")])
    assert h.getlist("X-N") == ["1", "bad", "3"]
    assert h.getlist("x-n", type=int) == [1, 3]
    assert h.get_all("x-n") == ["1", "bad", "3"]
    assert h.getlist("missing") == []


def test_headers_contains_iter_len() -> None:
    h = Headers([("Content-Type", "text/html"), ("X-A", "1"), ("X-A", "2")])
    assert "content-type" in h
    assert "X-a" in h
    assert "missing" not in h
    assert 1 not in h
    assert ("Content-Type", "text/html") not in h
    assert list(h) == [("Content-Type", "text/html"), ("X-A", "1"), ("X-A", "2")]
    assert len(h) == 3
    assert bool(Headers()) is False


def test_headers_keys_values_items() -> None:
    h = Headers([("Content-Type", "text/html"), ("X-A", "1")])
    assert list(h.keys()) == ["Content-Type", "X-A"]
    assert list(h.keys(lower=True)) == ["content-type", "x-a"]
    assert list(h.values()) == ["text/html", "1"]
    assert list(h.items()) == [("Content-Type", "text/html"), ("X-A", "1")]
    assert list(h.items(lower=True)) == [("content-type", "text/html"), ("x-a", "1")]
    assert dict(h) == {"Content-Type": "text/html", "X-A": "1"}


def test_headers_to_wsgi_list_and_copy_are_independent() -> None:
    h = Headers([("A", "1")])
    wsgi = h.to_wsgi_list()
    wsgi.append(("B", "2"))
    clone = h.copy()
    clone.add("C", "3")
    shallow = copy.copy(h)
    shallow.add("D", "4")
    assert h.to_wsgi_list() == [("A", "1")]
    assert type(clone) is Headers


def test_headers_equality() -> None:
    h = Headers([("Content-Type", "text/html"), ("X-A", "1")])
    assert h == Headers([("content-type", "text/html"), ("x-a", "1")])
    assert h == Headers([("X-A", "1"), ("Content-Type", "text/html")])
    assert h != Headers([("Content-Type", "text/HTML"), ("X-A", "1")])
    assert h != Headers([("Content-Type", "text/html"), ("X-A", "1"), ("X-A", "1")])
    assert h != [("Content-Type", "text/html"), ("X-A", "1")]
    with pytest.raises(TypeError):
        hash(h)


def test_headers_repr_and_str() -> None:
    h = Headers([("A", "1"), ("B", "2")])
    assert repr(h) == "Headers([('A', '1'), ('B', '2')])"
    assert str(h) == "A: 1\r\nB: 2\r\n\r\n"


# -- Headers: writing ---------------------------------------------------------------------------


def test_headers_add() -> None:
    h = Headers()
    h.add("Set-Cookie", "a=1")
    h.add("Set-Cookie", "b=2")
    h.add("Content-Length", 5)
    h.add_header("X-Wsgiref", "yes")
    assert h.to_wsgi_list() == [
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Length", "5"),
        ("X-Wsgiref", "yes"),
    ]


def test_headers_add_with_params() -> None:
    h = Headers()
    h.add("Content-Disposition", "attachment", filename="my file.txt", creation_date=None)
    h.add("Content-Type", "text/plain", charset="utf-8")
    h.add("X-Params", "v", foo_bar="token", quoted='say "hi"')
    h.add_header("Content-Disposition", "inline", filename="résumé.pdf")
    assert h.getlist("Content-Disposition") == [
        'attachment; filename="my file.txt"',
        "inline; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
    ]
    assert h["Content-Type"] == "text/plain; charset=utf-8"
    assert h["X-Params"] == 'v; foo-bar=token; quoted="say \\"hi\\""'


def test_headers_set_replaces_in_place() -> None:
    h = Headers([("A", "1"), ("X-Multi", "1"), ("B", "2"), ("x-multi", "2")])
    h.set("X-MULTI", "new")
    assert h.to_wsgi_list() == [("A", "1"), ("X-MULTI", "new"), ("B", "2")]
    h.set("C", "3")
    assert h.to_wsgi_list()[-1] == ("C", "3")
    h.set("Content-Type", "text/plain", charset="utf-8")
    assert h["content-type"] == "text/plain; charset=utf-8"
    h["a"] = 10
    assert h.to_wsgi_list()[0] == ("a", "10")


def test_headers_setlist() -> None:
    h = Headers([("A", "0"), ("X", "old"), ("B", "1"), ("X", "old2")])
    h.setlist("x", ["1", 2])
    assert h.to_wsgi_list() == [("A", "0"), ("x", "1"), ("B", "1"), ("x", "2")]
    h.setlist("X", [])
    assert "X" not in h
    h.setlist("New", iter(["a"]))
    assert h["new"] == "a"


def test_headers_setdefault() -> None:
    h = Headers([("A", "1")])
    assert h.setdefault("a", "2") == "1"
    assert h.setdefault("B", 3) == "3"
    assert h.to_wsgi_list() == [("A", "1"), ("B", "3")]


def test_headers_extend() -> None:
    h = Headers([("A", "1")])
    h.extend(Headers([("A", "2")]))
    h.extend({"A": ["3", "4"], "B": 5})
    h.extend([("C", "6")])
    h.extend(MultiDict([("D", "7"), ("D", "8")]))
    h.extend(E="9")
    h.extend(None)
    h.extend()
    assert h.to_wsgi_list() == [
        ("A", "1"),
        ("A", "2"),
        ("A", "3"),
        ("A", "4"),
        ("B", "5"),
        ("C", "6"),
        ("D", "7"),
        ("D", "8"),
        ("E", "9"),
    ]


def test_headers_update() -> None:
    h = Headers([("A", "1"), ("B", "1"), ("a", "2"), ("C", "1"), ("D", "1")])
    h.update(Headers([("a", "new"), ("Z", "z"), ("A", "new2")]))
    assert h.getlist("A") == ["new", "new2"]
    assert h.to_wsgi_list()[:2] == [("a", "new"), ("B", "1")]
    h.update(MultiDict([("B", "x"), ("B", "y")]))
    assert h.getlist("b") == ["x", "y"]
    h.update({"C": ["c1", "c2"], "D": "d"})
    assert h.getlist("c") == ["c1", "c2"]
    assert h.getlist("d") == ["d"]
    h.update([("E", "1"), ("E", "2")])
    assert h.getlist("e") == ["2"]
    h.update(F="f", G=["g1", "g2"])
    assert h["f"] == "f"
    assert h.getlist("g") == ["g1", "g2"]
    before = h.to_wsgi_list()
    h.update()
    h.update(None)
    assert h.to_wsgi_list() == before


def test_headers_delete_remove_pop() -> None:
    h = Headers([("A", "1"), ("a", "2"), ("B", "3"), ("C", "4"), ("D", "5")])
    del h["A"]
    assert "a" not in h
    del h["missing"]  # no error, as in Werkzeug
    h.remove("missing")
    del h[0]
    assert h.to_wsgi_list() == [("C", "4"), ("D", "5")]
    h.remove("c")
    assert h.to_wsgi_list() == [("D", "5")]

    h = Headers([("A", "1"), ("A", "2"), ("B", "3"), ("C", "4")])
    assert h.pop() == ("C", "4")
    assert h.pop(0) == ("A", "1")
    assert h.pop("a") == "2"
    assert "A" not in h
    assert h.pop("missing", None) is None
    with pytest.raises(KeyError):
        h.pop("missing")
    assert h.popitem() == ("B", "3")
    assert len(h) == 0
    h.add("X", "1")
    h.clear()
    assert h.to_wsgi_list() == []


# -- Headers: header injection and invalid names ------------------------------------------------

_BAD_VALUES = ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\0b", "\n"]
_MESSAGE = "Header values must not contain newline or NUL characters."


@pytest.mark.parametrize("bad", _BAD_VALUES)
def test_header_injection_rejected_by_every_setter(bad: str) -> None:
    setters: list[Callable[[Headers], object]] = [
        lambda h: h.add("X", bad),
        lambda h: h.add_header("X", bad),
        lambda h: h.add("X", "ok", param=bad),
        lambda h: h.set("X", bad),
        lambda h: h.set("X", "ok", param=bad),
        lambda h: h.__setitem__("X", bad),
        lambda h: h.setlist("X", ["ok", bad]),
        lambda h: h.setdefault("New", bad),
        lambda h: h.extend([("X", bad)]),
        lambda h: h.extend({"X": [bad]}),
        lambda h: h.extend(X=bad),
        lambda h: h.update({"X": bad}),
        lambda h: h.update([("X", bad)]),
        lambda h: h.update(MultiDict([("X", bad)])),
        lambda h: Headers([("X", bad)]),
        lambda h: Headers({"X": bad}),
    ]
    for setter in setters:
        h = Headers([("X", "original")])
        with pytest.raises(ValueError, match=_MESSAGE):
            setter(h)
        assert h.to_wsgi_list() == [("X", "original")]


@pytest.mark.parametrize("name", ["", "Bad Name", "a:b", "X\r\nY", "Ünïcode", "a\0", "(x)"])
def test_invalid_header_names_rejected(name: str) -> None:
    setters: list[Callable[[Headers], object]] = [
        lambda h: h.add(name, "v"),
        lambda h: h.set(name, "v"),
        lambda h: h.__setitem__(name, "v"),
        lambda h: h.setdefault(name, "v"),
        lambda h: h.setlist(name, ["v"]),
        lambda h: h.extend([(name, "v")]),
        lambda h: h.update({name: "v"}),
        lambda h: Headers([(name, "v")]),
    ]
    for setter in setters:
        h = Headers()
        with pytest.raises(ValueError, match="Invalid header name"):
            setter(h)
        assert len(h) == 0


def test_non_string_header_name_rejected() -> None:
    with pytest.raises(ValueError, match="Invalid header name"):
        Headers().add(b"X-Bytes", "v")  # type: ignore[arg-type]


def test_valid_name_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datastructures, "_valid_names", set())
    monkeypatch.setattr(datastructures, "_VALID_NAMES_MAX", 1)
    h = Headers()
    h.add("X-First", "1")
    h.add("X-Second", "2")
    h.add("X-First", "3")
    assert datastructures._valid_names == {"X-First"}
    assert len(h) == 3


def test_missing_sentinel_repr() -> None:
    assert repr(datastructures._missing) == "<missing>"
