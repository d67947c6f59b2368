"""Multi-valued dicts and HTTP headers, with the API Flask users know from Werkzeug.

* :class:`MultiDict` / :class:`ImmutableMultiDict` hold ``request.args``, ``request.form``
  and ``request.cookies``: each key maps to a list of values, ``d[key]`` gives the first one,
  ``d.getlist(key)`` all of them. A missing key raises :class:`BadRequestKeyError`, which is
  both a :class:`KeyError` and a 400 :class:`~ambi.exceptions.BadRequest`, so an uncaught
  ``request.form["name"]`` answers the client with 400, not 500.
* :class:`Headers` holds request and response headers: ordered, case-insensitive,
  multi-valued, and it refuses values that would inject a header (CR, LF, NUL).

This module is part of the sans-I/O core: plain data structures, no I/O of any kind.
They are written by hand (not taken from Werkzeug) and kept lean because every request
builds several of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from copy import deepcopy as _deepcopy
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Self, TypeAlias, TypeVar, overload

from .exceptions import BadRequest

__all__ = ["BadRequestKeyError", "FileStorage", "Headers", "ImmutableMultiDict", "MultiDict"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
D = TypeVar("D")


class _Missing:
    """Sentinel type for "no default given"."""

    def __repr__(self) -> str:
        return "<missing>"


_missing: Any = _Missing()


class BadRequestKeyError(KeyError, BadRequest):
    """A key is missing from request data: a :class:`KeyError` that is also a 400.

    >>> try:
    ...     MultiDict()["name"]
    ... except KeyError as e:
    ...     print(e.code, e.description)
    400 The request is missing the key 'name'.
    """

    def __init__(self, key: object) -> None:
        BadRequest.__init__(self, f"The request is missing the key {key!r}.")
        self.args = (key,)
        #: The key that was looked up.
        self.key = key

    def __str__(self) -> str:
        return BadRequest.__str__(self)


# MultiDict stores a list of values under each key in the underlying dict, while its public
# typing (dict[K, V]) describes what users see. These aliases call the plain dict methods
# (no Python-level indirection at run time) and tell mypy what they really return.
if TYPE_CHECKING:

    def _dict_getitem(d: MultiDict[K, V], key: K, /) -> list[V]: ...
    def _dict_setitem(d: MultiDict[K, V], key: K, value: list[V], /) -> None: ...
    def _dict_get(d: MultiDict[K, V], key: K, /) -> list[V] | None: ...
    def _dict_pop(d: MultiDict[K, V], key: K, /) -> list[V]: ...
    def _dict_popitem(d: MultiDict[K, V], /) -> tuple[K, list[V]]: ...
    def _dict_items(d: MultiDict[K, V], /) -> Iterable[tuple[K, list[V]]]: ...
    def _dict_values(d: MultiDict[K, V], /) -> Iterable[list[V]]: ...
    def _dict_iter(d: MultiDict[K, V], /) -> Iterator[K]: ...
    def _dict_update(d: MultiDict[K, V], other: dict[K, list[V]], /) -> None: ...
else:
    _dict_getitem = dict.__getitem__
    _dict_setitem = dict.__setitem__
    _dict_get = dict.get
    _dict_pop = dict.pop
    _dict_popitem = dict.popitem
    _dict_items = dict.items
    _dict_values = dict.values
    _dict_iter = dict.__iter__
    _dict_update = dict.update


def _iter_multi_items(
    source: MultiDict[Any, Any] | Mapping[Any, Any] | Iterable[tuple[Any, Any]],
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(key, value)`` for every value of a MultiDict, mapping or pair iterable.

    In a plain mapping a list or tuple value stands for several values.
    """
    if isinstance(source, MultiDict):
        yield from source.items(multi=True)
    elif isinstance(source, Mapping):
        for key, value in source.items():
            if isinstance(value, list | tuple):
                for item in value:
                    yield key, item
            else:
                yield key, value
    else:
        yield from source


class MultiDict(dict[K, V]):
    """A dict whose keys each hold a list of values; indexing gives the first value.

    Built from a mapping (a list or tuple value gives several values), another
    MultiDict, or an iterable of ``(key, value)`` pairs:

    >>> d = MultiDict([("tag", "a"), ("tag", "b"), ("page", "2")])
    >>> d["tag"], d.getlist("tag"), d.get("page", type=int)
    ('a', ['a', 'b'], 2)
    >>> d.to_dict()
    {'tag': 'a', 'page': '2'}

    ``d[key]`` raises :class:`BadRequestKeyError` (a :class:`KeyError`) for a missing key.
    It is a real :class:`dict` subclass, so ``json.dumps(d)`` and ``dict(d)`` see the first
    values.
    """

    __slots__ = ()

    @overload
    def __init__(self) -> None: ...
    @overload
    def __init__(self, mapping: MultiDict[K, V]) -> None: ...
    @overload
    def __init__(self, mapping: Mapping[K, list[V]]) -> None: ...
    @overload
    def __init__(self, mapping: Mapping[K, tuple[V, ...]]) -> None: ...
    @overload
    def __init__(self, mapping: Mapping[K, V | list[V] | tuple[V, ...]]) -> None: ...
    @overload
    def __init__(self, mapping: Iterable[tuple[K, V]]) -> None: ...
    @overload
    def __init__(self, mapping: None) -> None: ...

    def __init__(
        self,
        mapping: MultiDict[K, V]
        | Mapping[K, V | list[V] | tuple[V, ...]]
        | Iterable[tuple[K, V]]
        | None = None,
    ) -> None:
        if mapping is None:
            return
        lists: dict[K, list[V]] = {}
        if isinstance(mapping, MultiDict):
            for key, stored in _dict_items(mapping):
                lists[key] = stored[:]
        elif isinstance(mapping, Mapping):
            for key, value in mapping.items():
                if isinstance(value, list | tuple):
                    if value:
                        lists[key] = list(value)
                else:
                    lists[key] = [value]
        else:
            for key, value in mapping:
                values = lists.get(key)
                if values is None:
                    lists[key] = [value]
                else:
                    values.append(value)
        _dict_update(self, lists)

    @classmethod
    def _from_lists(cls, lists: dict[K, list[V]]) -> Self:
        """Wrap ``lists`` (taken over, not copied) without re-checking it; for parsers."""
        rv = cls.__new__(cls)
        _dict_update(rv, lists)
        return rv

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (list(self.items(multi=True)),)

    # -- reading --------------------------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        values = _dict_get(self, key)
        if values:
            return values[0]
        raise BadRequestKeyError(key)

    def __iter__(self) -> Iterator[K]:
        # Overridden (as the plain dict iterator) so that dict(d) and {**d} go through
        # keys() and __getitem__ and see first values, not the internal lists.
        return _dict_iter(self)

    @overload  # type: ignore[override]
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: V) -> V: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...
    @overload
    def get(self, key: K, *, type: Callable[[V], T]) -> T | None: ...
    @overload
    def get(self, key: K, default: D, type: Callable[[V], T]) -> T | D: ...

    def get(
        self, key: K, default: object = None, type: Callable[[V], object] | None = None
    ) -> object:
        """The first value for ``key``, or ``default``.

        With ``type``, the value is converted by calling ``type(value)``; if that raises
        :class:`ValueError` or :class:`TypeError`, ``default`` is returned:

        >>> MultiDict({"page": "x"}).get("page", 1, type=int)
        1
        """
        values = _dict_get(self, key)
        if not values:
            return default
        if type is None:
            return values[0]
        try:
            return type(values[0])
        except (ValueError, TypeError):
            return default

    @overload
    def getlist(self, key: K) -> list[V]: ...
    @overload
    def getlist(self, key: K, type: Callable[[V], T]) -> list[T]: ...

    def getlist(self, key: K, type: Callable[[V], object] | None = None) -> list[Any]:
        """All values for ``key`` (a new list; empty if the key is missing).

        With ``type``, each value is converted and values that fail to convert
        (:class:`ValueError`, :class:`TypeError`) are left out.
        """
        values = _dict_get(self, key)
        if not values:
            return []
        if type is None:
            return values[:]
        result = []
        for value in values:
            try:
                converted = type(value)
            except (ValueError, TypeError):
                continue
            result.append(converted)
        return result

    def items(self, multi: bool = False) -> Iterator[tuple[K, V]]:  # type: ignore[override]
        """Iterate over ``(key, first value)``, or every ``(key, value)`` with ``multi=True``."""
        if multi:
            for key, values in _dict_items(self):
                for value in values:
                    yield key, value
        else:
            for key, values in _dict_items(self):
                if values:
                    yield key, values[0]

    def lists(self) -> Iterator[tuple[K, list[V]]]:
        """Iterate over ``(key, list of values)`` (each list is a copy)."""
        for key, values in _dict_items(self):
            yield key, values[:]

    def values(self) -> Iterator[V]:  # type: ignore[override]
        """Iterate over the first value of each key."""
        for values in _dict_values(self):
            if values:
                yield values[0]

    def listvalues(self) -> Iterator[list[V]]:
        """Iterate over the list of values of each key (each list is a copy)."""
        for values in _dict_values(self):
            yield values[:]

    @overload
    def to_dict(self, flat: Literal[True] = True) -> dict[K, V]: ...
    @overload
    def to_dict(self, flat: Literal[False]) -> dict[K, list[V]]: ...
    @overload
    def to_dict(self, flat: bool) -> dict[K, V] | dict[K, list[V]]: ...

    def to_dict(self, flat: bool = True) -> dict[K, V] | dict[K, list[V]]:
        """A plain dict: first values, or (``flat=False``) lists of all values."""
        if flat:
            return {key: values[0] for key, values in _dict_items(self) if values}
        return {key: values[:] for key, values in _dict_items(self)}

    def copy(self) -> MultiDict[K, V]:
        """A shallow copy (the lists are copied, the values are not)."""
        return type(self)(self)

    def deepcopy(self, memo: dict[int, Any] | None = None) -> MultiDict[K, V]:
        """A deep copy."""
        return type(self)(_deepcopy(self.to_dict(flat=False), memo))

    def __copy__(self) -> MultiDict[K, V]:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> MultiDict[K, V]:
        return self.deepcopy(memo)

    def __eq__(self, other: object) -> bool:
        """Equal to another MultiDict with the same keys and the same lists of values.

        Compared with a plain mapping, the first values are compared.
        """
        if isinstance(other, MultiDict):
            return dict.__eq__(self, other)
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.items(multi=True))!r})"

    # -- writing --------------------------------------------------------------------------

    def __setitem__(self, key: K, value: V) -> None:
        """Replace all values of ``key`` with ``value``."""
        _dict_setitem(self, key, [value])

    def add(self, key: K, value: V) -> None:
        """Append ``value`` to the values of ``key``."""
        values = _dict_get(self, key)
        if values is None:
            _dict_setitem(self, key, [value])
        else:
            values.append(value)

    def setlist(self, key: K, new_list: Iterable[V]) -> None:
        """Replace the values of ``key`` with those of ``new_list``."""
        _dict_setitem(self, key, list(new_list))

    def setdefault(self, key: K, default: V) -> V:
        """The first value of ``key``; if there is none, set it to ``default`` first."""
        values = _dict_get(self, key)
        if values:
            return values[0]
        _dict_setitem(self, key, [default])
        return default

    def setlistdefault(self, key: K, default_list: Iterable[V] | None = None) -> list[V]:
        """The list of values of ``key`` (the stored list itself: changes to it stick).

        A missing key is first set to a list of ``default_list``.
        """
        values = _dict_get(self, key)
        if values is None:
            values = list(default_list or ())
            _dict_setitem(self, key, values)
        return values

    def update(  # type: ignore[override]
        self,
        mapping: MultiDict[K, V]
        | Mapping[K, V | list[V] | tuple[V, ...]]
        | Iterable[tuple[K, V]]
        | None = None,
        /,
    ) -> None:
        """Add the values of ``mapping`` (they extend, not replace, existing values).

        >>> d = MultiDict({"a": "1"})
        >>> d.update({"a": "2"})
        >>> d.getlist("a")
        ['1', '2']
        """
        if mapping is None:
            return
        for key, value in _iter_multi_items(mapping):
            self.add(key, value)

    def __or__(self, other: object) -> MultiDict[K, V]:  # type: ignore[override]
        if not isinstance(other, Mapping):
            return NotImplemented
        rv = self.copy()
        rv.update(other)
        return rv

    def __ior__(self, other: object) -> Self:  # type: ignore[override]
        if not isinstance(other, Mapping | Iterable):
            return NotImplemented
        self.update(other)
        return self

    @overload
    def pop(self, key: K) -> V: ...
    @overload
    def pop(self, key: K, default: V) -> V: ...
    @overload
    def pop(self, key: K, default: D) -> V | D: ...

    def pop(self, key: K, default: object = _missing) -> object:
        """Remove ``key`` and return its first value, or ``default`` if it has none.

        Without a default a missing key raises :class:`BadRequestKeyError`.
        """
        values = _dict_get(self, key)
        if values is not None:
            _dict_pop(self, key)
            if values:
                return values[0]
        if default is _missing:
            raise BadRequestKeyError(key)
        return default

    def popitem(self) -> tuple[K, V]:
        """Remove some key and return ``(key, first value)``; :class:`KeyError` if empty."""
        while True:
            key, values = _dict_popitem(self)
            if values:
                return key, values[0]

    def poplist(self, key: K) -> list[V]:
        """Remove ``key`` and return its list of values (empty if it was missing)."""
        values = _dict_get(self, key)
        if values is None:
            return []
        _dict_pop(self, key)
        return values

    def popitemlist(self) -> tuple[K, list[V]]:
        """Remove some key and return ``(key, list of values)``; :class:`KeyError` if empty."""
        return _dict_popitem(self)


class ImmutableMultiDict(MultiDict[K, V]):
    """A :class:`MultiDict` that cannot be changed (``request.args``, ``request.form``).

    Every mutator raises :class:`TypeError`; :meth:`copy` returns a mutable MultiDict.
    """

    __slots__ = ()

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"{type(self).__name__!r} objects are immutable")

    __setitem__ = _immutable
    __delitem__ = _immutable
    add = _immutable
    setlist = _immutable
    setdefault = _immutable
    setlistdefault = _immutable
    update = _immutable
    pop = _immutable
    popitem = _immutable
    poplist = _immutable
    popitemlist = _immutable
    clear = _immutable
    __ior__ = _immutable

    def copy(self) -> MultiDict[K, V]:
        """A mutable :class:`MultiDict` copy."""
        return MultiDict(self)

    def __copy__(self) -> ImmutableMultiDict[K, V]:
        return self


# --------------------------------------------------------------------------------------------
# Headers

# RFC 9110 token: the only characters allowed in a header name.
_token_re = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Names seen valid before; checking set membership is cheaper than the regex every time.
_valid_names: set[str] = set()
_VALID_NAMES_MAX = 1024

#: What a header value may be given as; non-strings are stored as ``str(value)``.
HeaderValue: TypeAlias = str | int
#: What Headers can be built from (and :meth:`Headers.extend` / :meth:`Headers.update`
#: take): Headers, a mapping whose list or tuple values give several headers, or pairs.
#: (Values are typed loosely, as in Werkzeug, because type checkers infer ``object`` for
#: ``{"a": "x", "b": 1}``; anything not a str is stored as ``str(value)``.)
HeadersInit: TypeAlias = "Headers | Mapping[str, Any] | Iterable[tuple[str, Any]]"


def _check_name(name: str) -> str:
    if name in _valid_names:
        return name
    if not isinstance(name, str) or _token_re.fullmatch(name) is None:
        raise ValueError(f"Invalid header name {name!r}.")
    if len(_valid_names) < _VALID_NAMES_MAX:
        _valid_names.add(name)
    return name


def _check_value(value: HeaderValue) -> str:
    if not isinstance(value, str):
        value = str(value)
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError("Header values must not contain newline or NUL characters.")
    return value


def _converted(value: str, type: Callable[[str], object], default: object) -> object:
    """``type(value)``, or ``default`` when that raises ValueError or TypeError (the
    ``type=`` of :meth:`Headers.get`)."""
    try:
        return type(value)
    except (ValueError, TypeError):
        return default


def _with_params(value: HeaderValue, params: Mapping[str, HeaderValue | None]) -> HeaderValue:
    if not params:
        return value
    from .http import dump_options_header

    return dump_options_header(
        str(value), {key.replace("_", "-"): param for key, param in params.items()}
    )


class Headers:
    """Ordered, case-insensitive, multi-valued HTTP headers.

    >>> h = Headers([("Content-Type", "text/html"), ("Set-Cookie", "a=1")])
    >>> h.add("Set-Cookie", "b=2")
    >>> h["content-type"], h.getlist("set-cookie")
    ('text/html', ['a=1', 'b=2'])
    >>> h.set("Content-Type", "text/plain", charset="utf-8")
    >>> h.to_wsgi_list()
    [('Content-Type', 'text/plain; charset=utf-8'), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')]

    Iterating yields ``(name, value)`` pairs. Names must be HTTP tokens and values must
    not contain CR, LF or NUL (:class:`ValueError` otherwise), so no header can be
    injected; non-string values (e.g. ints) are stored as ``str(value)``. Each lookup is a
    scan of a short list, which beats a dict for the handful of headers a message has.
    """

    __slots__ = ("_list",)

    def __init__(
        self,
        defaults: HeadersInit | None = None,
    ) -> None:
        self._list: list[tuple[str, str]] = []
        if defaults is not None:
            self.extend(defaults)

    @classmethod
    def _adopt(cls, pairs: list[tuple[str, str]]) -> Headers:
        """Headers holding ``pairs`` itself, already checked by the caller (the response's
        own first headers). PERF: no copy and no check (benchmarks/inprocess.py)."""
        rv = cls.__new__(cls)
        rv._list = pairs
        return rv

    @classmethod
    def _from_pairs(cls, pairs: list[tuple[str, str]]) -> Headers:
        """Headers holding a copy of ``pairs``, checked exactly as :meth:`extend` checks
        them (request headers, made once per request that reads them).

        PERF: one inline pass for the common case (names seen valid before, string
        values without CR/LF/NUL) instead of two checking calls per header
        (benchmarks/inprocess.py args, callgrind -4k instr/request). (C-level passes
        over all the pairs, a join and a set test, measured slower for a few headers.)
        """
        if pairs.__class__ is not list:
            return cls(pairs)
        rv = cls()
        valid = _valid_names
        for name, value in pairs:
            if (
                name not in valid
                or value.__class__ is not str
                or "\n" in value
                or "\r" in value
                or "\0" in value
            ):
                rv.extend(pairs)  # the general path: converts, or raises the usual error
                return rv
        rv._list = pairs[:]
        return rv

    # -- reading --------------------------------------------------------------------------

    @overload
    def __getitem__(self, key: str) -> str: ...
    @overload
    def __getitem__(self, key: int) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, key: slice) -> Headers: ...

    def __getitem__(self, key: str | int | slice) -> str | tuple[str, str] | Headers:
        """The first value of header ``key``; a pair for an int index; Headers for a slice.

        A missing name raises :class:`BadRequestKeyError` (a :class:`KeyError`).
        """
        if isinstance(key, str):
            lower = key.lower()
            for name, value in self._list:
                if name.lower() == lower:
                    return value
            raise BadRequestKeyError(key)
        if isinstance(key, int):
            return self._list[key]
        rv = Headers()
        rv._list = self._list[key]
        return rv

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    @overload
    def get(self, key: str, default: D) -> str | D: ...
    @overload
    def get(self, key: str, *, type: Callable[[str], T]) -> T | None: ...
    @overload
    def get(self, key: str, default: D, type: Callable[[str], T]) -> T | D: ...

    def get(
        self, key: str, default: object = None, type: Callable[[str], object] | None = None
    ) -> object:
        """The first value of header ``key``, or ``default``.

        With ``type``, the value is converted by ``type(value)``; a :class:`ValueError` or
        :class:`TypeError` there returns ``default``:

        >>> Headers({"Content-Length": "12"}).get("content-length", type=int)
        12
        """
        lower = key.lower()
        for name, value in self._list:
            if name.lower() == lower:
                return value if type is None else _converted(value, type, default)
        return default

    @overload
    def getlist(self, key: str) -> list[str]: ...
    @overload
    def getlist(self, key: str, type: Callable[[str], T]) -> list[T]: ...

    def getlist(self, key: str, type: Callable[[str], object] | None = None) -> list[Any]:
        """All values of header ``key``, in order (values failing ``type`` are left out)."""
        lower = key.lower()
        if type is None:
            return [value for name, value in self._list if name.lower() == lower]
        result = []
        for name, value in self._list:
            if name.lower() == lower:
                try:
                    converted = type(value)
                except (ValueError, TypeError):
                    continue
                result.append(converted)
        return result

    get_all = getlist

    def __contains__(self, key: object) -> bool:
        """Whether header ``key`` is present (case-insensitive)."""
        if not isinstance(key, str):
            return False
        lower = key.lower()
        # A plain loop: about twice as fast as any() over a generator, and this is hot.
        for name, _ in self._list:  # noqa: SIM110
            if name.lower() == lower:
                return True
        return False

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """Iterate over ``(name, value)`` pairs in order."""
        return iter(self._list)

    def __len__(self) -> int:
        return len(self._list)

    def keys(self, lower: bool = False) -> Iterator[str]:
        """Iterate over the header names, once per value (lower-cased with ``lower=True``)."""
        for name, _ in self._list:
            yield name.lower() if lower else name

    def values(self) -> Iterator[str]:
        """Iterate over the header values in order."""
        for _, value in self._list:
            yield value

    def items(self, lower: bool = False) -> Iterator[tuple[str, str]]:
        """Iterate over ``(name, value)`` pairs in order, names as given (or lower-cased)."""
        for name, value in self._list:
            yield (name.lower() if lower else name), value

    def to_wsgi_list(self) -> list[tuple[str, str]]:
        """The headers as a new list of ``(name, value)`` pairs, as WSGI wants them."""
        return self._list[:]

    def copy(self) -> Headers:
        """A copy."""
        rv = type(self)()
        rv._list = self._list[:]
        return rv

    def __copy__(self) -> Headers:
        return self.copy()

    def __eq__(self, other: object) -> bool:
        """Equal to Headers with the same pairs, names compared case-insensitively.

        The order of the pairs does not matter.
        """
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted((n.lower(), v) for n, v in self._list) == sorted(
            (n.lower(), v) for n, v in other._list
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"

    def __str__(self) -> str:
        """The headers formatted as in an HTTP message, ending with a blank line."""
        return "".join(f"{name}: {value}\r\n" for name, value in self._list) + "\r\n"

    # -- writing --------------------------------------------------------------------------

    def add(self, key: str, value: HeaderValue, **params: HeaderValue | None) -> None:
        """Add a header, keeping existing ones of that name.

        Keyword arguments become parameters (``_`` in a name becomes ``-``; a ``None``
        value is left out):

        >>> h = Headers()
        >>> h.add("Content-Disposition", "attachment", filename="report 1.pdf")
        >>> h["Content-Disposition"]
        'attachment; filename="report 1.pdf"'
        """
        self._list.append((_check_name(key), _check_value(_with_params(value, params))))

    def add_header(self, key: str, value: HeaderValue, **params: HeaderValue | None) -> None:
        """Same as :meth:`add` (the name :mod:`wsgiref` uses)."""
        self.add(key, value, **params)

    def set(self, key: str, value: HeaderValue, **params: HeaderValue | None) -> None:
        """Set header ``key`` to ``value`` alone, replacing all its values.

        The header keeps the position of its first occurrence, or is appended. Keyword
        arguments become parameters as for :meth:`add`.
        """
        _check_name(key)
        value = _check_value(_with_params(value, params))
        lower = key.lower()
        items = self._list
        index = 0
        for item in items:
            if item[0].lower() == lower:
                break
            index += 1
        else:
            # PERF: a new header (the common case) is appended, no list rebuilt
            # (benchmarks/inprocess.py: every response sets two).
            items.append((key, value))
            return
        new: list[tuple[str, str]] = items[:index]
        new.append((key, value))
        new.extend(item for item in items[index + 1 :] if item[0].lower() != lower)
        self._list = new

    def __setitem__(self, key: str, value: HeaderValue) -> None:
        """Same as :meth:`set` without parameters."""
        self.set(key, value)

    def setlist(self, key: str, values: Iterable[HeaderValue]) -> None:
        """Replace all values of header ``key`` with ``values`` (none: remove it)."""
        checked = [_check_value(value) for value in values]
        if not checked:
            self.remove(key)
            return
        self.set(key, checked[0])
        for value in checked[1:]:
            self._list.append((key, value))

    def setdefault(self, key: str, default: HeaderValue) -> str:
        """The first value of ``key``; if absent, add it with ``default`` first."""
        lower = key.lower()
        for name, value in self._list:
            if name.lower() == lower:
                return value
        value = _check_value(default)
        self._list.append((_check_name(key), value))
        return value

    def extend(
        self,
        arg: HeadersInit | None = None,
        /,
        **kwargs: Any,
    ) -> None:
        """Add every header of ``arg`` and ``kwargs``, keeping existing ones.

        ``arg`` may be Headers, a MultiDict, a mapping (a list or tuple value gives several
        headers) or an iterable of pairs.
        """
        if arg is not None:
            pairs: Iterable[tuple[str, HeaderValue]]
            if isinstance(arg, Headers):
                pairs = arg._list
            else:
                pairs = _iter_multi_items(arg)
            for key, value in pairs:
                self._list.append((_check_name(key), _check_value(value)))
        if kwargs:
            self.extend(kwargs)

    def update(
        self,
        arg: HeadersInit | None = None,
        /,
        **kwargs: Any,
    ) -> None:
        """Replace the headers named in ``arg`` and ``kwargs`` with the values given there.

        For Headers and MultiDicts all values of a name replace the old ones; in a mapping
        a list or tuple value gives several values; in a pair iterable each pair is set
        (so the last one of a name wins).
        """
        if isinstance(arg, Headers | MultiDict):
            # Group the values by name (case-insensitively), keeping the first spelling.
            groups: dict[str, tuple[str, list[HeaderValue]]] = {}
            for name, value in _iter_pairs(arg):
                group = groups.get(name.lower())
                if group is None:
                    groups[name.lower()] = (name, [value])
                else:
                    group[1].append(value)
            for name, values in groups.values():
                self.setlist(name, values)
        elif isinstance(arg, Mapping):
            self._update_mapping(arg)
        elif arg is not None:
            for key, value in arg:
                self.set(key, value)
        if kwargs:
            self._update_mapping(kwargs)

    def _update_mapping(
        self,
        mapping: Mapping[str, Any],
    ) -> None:
        for key, value in mapping.items():
            if isinstance(value, list | tuple):
                self.setlist(key, value)
            else:
                self.set(key, value)

    def __delitem__(self, key: str | int) -> None:
        """Remove all values of header ``key`` (no error if absent), or the pair at an index."""
        if isinstance(key, int):
            del self._list[key]
        else:
            self.remove(key)

    def remove(self, key: str) -> None:
        """Remove all values of header ``key``; nothing happens if it is absent."""
        lower = key.lower()
        self._list = [item for item in self._list if item[0].lower() != lower]

    @overload
    def pop(self) -> tuple[str, str]: ...
    @overload
    def pop(self, key: int) -> tuple[str, str]: ...
    @overload
    def pop(self, key: str) -> str: ...
    @overload
    def pop(self, key: str, default: D) -> str | D: ...

    def pop(self, key: str | int | None = None, default: object = _missing) -> object:
        """Remove header ``key`` and return its first value (or ``default`` if absent).

        Without a key, remove and return the last pair; with an int, the pair at that index.
        """
        if key is None:
            return self._list.pop()
        if isinstance(key, int):
            return self._list.pop(key)
        try:
            value = self[key]
        except KeyError:
            if default is _missing:
                raise
            return default
        self.remove(key)
        return value

    def popitem(self) -> tuple[str, str]:
        """Remove and return the last ``(name, value)`` pair."""
        return self._list.pop()

    def clear(self) -> None:
        """Remove all headers."""
        self._list = []


def _iter_pairs(
    source: Headers | MultiDict[str, HeaderValue],
) -> Iterable[tuple[str, HeaderValue]]:
    if isinstance(source, Headers):
        return source._list
    return source.items(multi=True)


class FileStorage:
    """An uploaded file from a multipart form (``request.files["name"]``).

    ``stream`` is a file object positioned at the start of the upload: in memory for small
    files, a temporary file on disk past a threshold. ``save()`` copies it in chunks, so a
    large upload never has to fit in memory::

        upload = request.files["avatar"]
        upload.save(os.path.join(UPLOADS, secure_filename(upload.filename or "upload")))
    """

    def __init__(
        self,
        stream: Any = None,
        filename: str | None = None,
        name: str | None = None,
        content_type: str | None = None,
        content_length: int | None = None,
        headers: Headers | None = None,
    ) -> None:
        import io

        self.stream = stream if stream is not None else io.BytesIO()
        self.filename = filename
        self.name = name
        self.headers = headers if headers is not None else Headers()
        if content_type is not None and "content-type" not in self.headers:
            self.headers["Content-Type"] = content_type
        if content_length is not None and "content-length" not in self.headers:
            self.headers["Content-Length"] = str(content_length)

    @property
    def content_type(self) -> str | None:
        """The part's ``Content-Type`` header."""
        return self.headers.get("content-type")

    @property
    def content_length(self) -> int:
        """The part's ``Content-Length`` header, 0 if absent (browsers do not send it)."""
        value = self.headers.get("content-length", "0")
        return int(value) if value.isdigit() else 0

    @property
    def mimetype(self) -> str:
        """The content type without parameters, lower-cased."""
        from .http import parse_options_header

        return parse_options_header(self.content_type)[0]

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The content type's parameters."""
        from .http import parse_options_header

        return parse_options_header(self.content_type)[1]

    def read(self, size: int = -1) -> bytes:
        """Read from the stream."""
        data: bytes = self.stream.read(size)
        return data

    def save(self, destination: Any, buffer_size: int = 16384) -> None:
        """Copy the upload to a path or a writable binary file object, in chunks."""
        import os
        import shutil

        close_destination = False
        if isinstance(destination, (str, os.PathLike)):
            destination = open(destination, "wb")  # noqa: SIM115 - closed below
            close_destination = True
        try:
            shutil.copyfileobj(self.stream, destination, buffer_size)
        finally:
            if close_destination:
                destination.close()

    def close(self) -> None:
        """Close the stream (a temporary file is deleted)."""
        self.stream.close()

    def __bool__(self) -> bool:
        return bool(self.filename)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.stream)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.filename!r} ({self.content_type!r})>"
