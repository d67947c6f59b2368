"""Tagged JSON: compact JSON that round-trips a few non-JSON types, as Flask's session does.

Part of the sans-I/O core. The default session cookie stores its data with
:class:`TaggedJSONSerializer`, and the JSON it writes and reads is the same as
``flask.json.tag.TaggedJSONSerializer``'s, byte for byte, so a cookie written by a Flask
app opens in Ambi and the reverse (see ``tests/test_sessions_unit.py``).

A value that plain JSON cannot carry is written as a one-key object whose key is a *tag*,
a short string starting with a space (a key a real dict rarely has)::

    (1, 2)                      {" t":[1,2]}
    b"\\x00"                     {" b":"AA=="}            base64
    Markup("<b>")               {" m":"<b>"}             anything with __html__
    UUID(int=5)                 {" u":"000…005"}         hex
    datetime(2020, 1, 2, ...)   {" d":"Thu, 02 Jan 2020 03:04:05 GMT"}   HTTP date
    {" t": 1}                   {" di":{" t__":1}}       a dict that looks like a tag

Lists and other dicts pass through with their items tagged. JSON is written with
``separators=(",", ":")`` through :func:`ambi.json.dumps`, that is the current app's
JSON provider (keys sorted by default) inside an app context and the standard library
(keys in insertion order) outside one: the same choice Flask makes.

Add a type with :meth:`TaggedJSONSerializer.register` and a :class:`JSONTag` subclass::

    class TagOrderedDict(JSONTag):
        __slots__ = ()
        key = " od"

        def check(self, value): return isinstance(value, OrderedDict)
        def to_json(self, value): return [[k, self.serializer.tag(v)] for k, v in value.items()]
        def to_python(self, value): return OrderedDict(value)

    app.session_interface.serializer.register(TagOrderedDict, index=0)
"""

from __future__ import annotations

from base64 import b64decode, b64encode
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from markupsafe import Markup

from .http import http_date, parse_date
from .json import dumps as _dumps
from .json import loads as _loads

__all__ = [
    "JSONTag",
    "PassDict",
    "PassList",
    "TagBytes",
    "TagDateTime",
    "TagDict",
    "TagMarkup",
    "TagTuple",
    "TagUUID",
    "TaggedJSONSerializer",
]


class JSONTag:
    """One type the serializer knows how to carry. Subclass it and :meth:`register` it.

    ``key`` is the tag written in the JSON (start it with a space); a tag with an empty
    key only transforms the value (used for lists and dicts, whose items may need tags).
    """

    __slots__ = ("serializer",)

    #: The tag in the JSON; empty for a pass-through tag.
    key: ClassVar[str] = ""

    def __init__(self, serializer: TaggedJSONSerializer) -> None:
        #: The serializer this tag belongs to (use it to tag nested values).
        self.serializer = serializer

    def check(self, value: Any) -> bool:
        """Whether this tag handles ``value``."""
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        """Turn ``value`` into something JSON can hold (the tag is added by :meth:`tag`)."""
        raise NotImplementedError

    def to_python(self, value: Any) -> Any:
        """Turn what :meth:`to_json` produced back into the Python value."""
        raise NotImplementedError

    def tag(self, value: Any) -> Any:
        """``{key: to_json(value)}``: the JSON-ready, tagged form of ``value``."""
        return {self.key: self.to_json(value)}


class TagDict(JSONTag):
    """A dict with exactly one key that is a registered tag: the key gets ``"__"`` appended,
    so the dict is not mistaken for a tagged value when read back."""

    __slots__ = ()
    key = " di"

    def check(self, value: Any) -> bool:
        return (
            isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)) in self.serializer.tags
        )

    def to_json(self, value: Any) -> Any:
        (key, item) = next(iter(value.items()))
        return {f"{key}__": self.serializer.tag(item)}

    def to_python(self, value: Any) -> Any:
        (key, item) = next(iter(value.items()))
        return {key[:-2]: item}


class PassDict(JSONTag):
    """Any other dict: kept as a JSON object, its values tagged (keys are left as they are)."""

    __slots__ = ()

    def check(self, value: Any) -> bool:
        return isinstance(value, dict)

    def to_json(self, value: Any) -> Any:
        tag = self.serializer.tag
        return {key: tag(item) for key, item in value.items()}

    tag = to_json


class TagTuple(JSONTag):
    """A tuple, as a JSON array under ``" t"``; read back as a tuple."""

    __slots__ = ()
    key = " t"

    def check(self, value: Any) -> bool:
        return isinstance(value, tuple)

    def to_json(self, value: Any) -> Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]

    def to_python(self, value: Any) -> Any:
        return tuple(value)


class PassList(JSONTag):
    """A list: kept as a JSON array, its items tagged."""

    __slots__ = ()

    def check(self, value: Any) -> bool:
        return isinstance(value, list)

    def to_json(self, value: Any) -> Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]

    tag = to_json


class TagBytes(JSONTag):
    """``bytes``, base64-encoded under ``" b"``."""

    __slots__ = ()
    key = " b"

    def check(self, value: Any) -> bool:
        return isinstance(value, bytes)

    def to_json(self, value: Any) -> Any:
        return b64encode(value).decode("ascii")

    def to_python(self, value: Any) -> Any:
        return b64decode(value)


class TagMarkup(JSONTag):
    """Anything with an ``__html__`` method (``markupsafe.Markup``…), as its HTML under
    ``" m"``; read back as :class:`~markupsafe.Markup`."""

    __slots__ = ()
    key = " m"

    def check(self, value: Any) -> bool:
        return callable(getattr(value, "__html__", None))

    def to_json(self, value: Any) -> Any:
        return str(value.__html__())

    def to_python(self, value: Any) -> Any:
        return Markup(value)


class TagUUID(JSONTag):
    """A :class:`uuid.UUID`, as 32 hex digits under ``" u"``."""

    __slots__ = ()
    key = " u"

    def check(self, value: Any) -> bool:
        return isinstance(value, UUID)

    def to_json(self, value: Any) -> Any:
        return value.hex

    def to_python(self, value: Any) -> Any:
        return UUID(value)


class TagDateTime(JSONTag):
    """A :class:`~datetime.datetime`, as an HTTP date under ``" d"`` (whole seconds, UTC;
    a naive datetime is taken as UTC). Read back as an aware UTC datetime."""

    __slots__ = ()
    key = " d"

    def check(self, value: Any) -> bool:
        return isinstance(value, datetime)

    def to_json(self, value: Any) -> Any:
        return http_date(value)

    def to_python(self, value: Any) -> Any:
        return parse_date(value)


class TaggedJSONSerializer:
    """Compact JSON with tags for tuples, bytes, Markup, UUIDs, datetimes (and dicts that
    look like tags), compatible with Flask's session serializer."""

    __slots__ = ("order", "tags")

    #: The tags every new serializer starts with, in the order they are tried.
    default_tags: ClassVar[list[type[JSONTag]]] = [
        TagDict,
        PassDict,
        TagTuple,
        PassList,
        TagBytes,
        TagMarkup,
        TagUUID,
        TagDateTime,
    ]

    def __init__(self) -> None:
        #: Tags by key (pass-through tags have no key and are not here).
        self.tags: dict[str, JSONTag] = {}
        #: Every tag, in the order :meth:`tag` tries them.
        self.order: list[JSONTag] = []
        for tag_class in self.default_tags:
            self.register(tag_class)

    def register(
        self, tag_class: type[JSONTag], force: bool = False, index: int | None = None
    ) -> None:
        """Add a tag. ``index`` places it in the order the tags are tried (default: last;
        ``0`` tries it first, before the dict and list tags). A key already in use is a
        :class:`KeyError` unless ``force`` replaces the old tag's key.
        """
        tag = tag_class(self)
        key = tag.key
        if key:
            if not force and key in self.tags:
                raise KeyError(f"Tag {key!r} is already registered.")
            self.tags[key] = tag
        if index is None:
            self.order.append(tag)
        else:
            self.order.insert(index, tag)

    def tag(self, value: Any) -> Any:
        """The JSON-ready form of ``value``: the first tag whose ``check`` accepts it, or the
        value itself."""
        for tag in self.order:
            if tag.check(value):
                return tag.tag(value)
        return value

    def untag(self, value: dict[str, Any]) -> Any:
        """If ``value`` is a one-key object whose key is a registered tag, the Python value
        it stands for; otherwise ``value`` unchanged."""
        if len(value) != 1:
            return value
        key = next(iter(value))
        tag = self.tags.get(key)
        if tag is None:
            return value
        return tag.to_python(value[key])

    def _untag_tree(self, value: Any) -> Any:
        # Innermost first, so a tag's to_python receives already-restored items.
        if isinstance(value, dict):
            return self.untag({key: self._untag_tree(item) for key, item in value.items()})
        if isinstance(value, list):
            return [self._untag_tree(item) for item in value]
        return value

    def dumps(self, value: Any) -> str:
        """Tag ``value`` and write it as compact JSON."""
        return _dumps(self.tag(value), separators=(",", ":"))

    def loads(self, value: str | bytes) -> Any:
        """Read JSON written by :meth:`dumps` (or by Flask), restoring the tagged values."""
        return self._untag_tree(_loads(value))
