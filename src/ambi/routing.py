"""URL routing for the sans-I/O core: rules, converters, a compiled matcher, URL building.

The API mirrors the names Flask users know from Werkzeug (``Map``, ``Rule``,
``BaseConverter``, ``ValidationError``, ``BuildError``, the ``int``/``path``/``any``/...
converters); the implementation is Ambi's own.  This module does no I/O and knows
no server: it turns an already percent-decoded path into ``(rule, values)`` and an
endpoint plus values back into a quoted path.

Theory of operation
===================

Parsing and binding
-------------------
``Rule("/users/<int(min=1):user_id>")`` is tokenised when it is created: static
text and variables ``<converter(args):name>``.  Malformed strings (no leading
``/``, an unclosed ``<``, a variable name that is not an identifier, a name used
twice, converter arguments that are not literals) raise :class:`ValueError` naming
the rule.  Converter arguments are parsed with :mod:`ast`: each argument must be a
literal (``ast.literal_eval``) or a bare word, which is taken as a string, so
``<any(about, help):page>`` works.  ``Map.add`` *binds* the rule: converters are
looked up in ``Map.converters`` (an unknown name raises :class:`LookupError`) and
instantiated, and the rule's regex, its build recipe and its priority key are
computed once.

Priority (which rule wins when several match)
---------------------------------------------
Rules are ordered as Werkzeug's state machine orders them (checked by a
differential test against Werkzeug), expressed as one sort key per rule.  The rule
is cut into *parts*: one per ``/``-separated segment, except that a segment with a
converter that can match ``/`` (``part_isolating = False``, e.g. ``path``) starts
a *tail* part running to the end of the rule.  Each part gets a key:

* ``(0,)`` if it is all static text, so **static beats variable** at the same
  position (``/users/me`` beats ``/users/<name>``, ``/a/b/<x>`` beats ``/a/<y>/c``);
* otherwise ``(1, -number_of_static_pieces, (-len(piece), ...),
  -number_of_variables, (converter weights, ...))``: more static text wins
  (``<name>.json`` beats ``<name>``, ``<path:p>/edit`` beats ``<path:p>``), then
  more variables, then lighter converters (``int``/``float``/``uuid`` weigh 50,
  ``string``/``any`` 100, ``path`` 200, so ``path`` is the weakest).

The sort key is the tuple of ``(part key, node)``, where ``node`` numbers the part
in a trie of all rules' parts (parts compared by their regex text, variable names
left out) in the order trie nodes were first created.  Sorting by it is a
depth-first walk of that trie, children ordered by key, then by when they were
first registered: ties keep registration order (of the first rule sharing that
prefix, as in Werkzeug).  Rules whose regexes are identical (e.g. the same path
registered once for GET and once for POST) form one *group*; within a group,
members are tried in registration order.

The compiled matcher (built lazily)
-----------------------------------
``Map.add`` only marks the map dirty; the first ``match``/``build`` after it
compiles:

* ``_static``: a dict ``path -> candidates`` for rules without variables (plus,
  for each, the "other slash" spelling: a redirect entry for strict rules ending
  in ``/``, or a plain alias for non-strict rules).  One dict lookup.
* ``_buckets``: rules with variables, bucketed by their first path segment when
  that segment is static (``/users/<id>`` is in bucket ``"users"``).  Rules whose
  first segment holds a variable are tried after that bucket (a static first
  segment always outranks a variable one); they are bucketed in turn by their
  second segment when it is static and the first segment cannot contain ``/``
  (``/<lang>/about`` is in ``_var_buckets["about"]``); the remaining ones
  (``_var_rest``) are merged, in priority order, into every one of those buckets.
  Each bucket is a short list of *chunks*; a chunk is one compiled regex, the
  alternation ``(group0)|(group1)|...`` of its groups' patterns in priority
  order.  ``fullmatch`` picks the first alternative that matches the whole path,
  and ``m.lastindex`` (the outer group of an alternative closes last) says which
  group it was: one ``re`` call per chunk, no per-rule Python loop.  A group whose
  converter regex uses named groups cannot be embedded (the names would clash) and
  gets a chunk of its own.  Capturing groups inside converter regexes are allowed
  (they are counted); numbered back-references are not (nor are they in Werkzeug).

``Map.match`` is a fast path and a slow path.  The fast path takes the first
group that matches and returns its first candidate that accepts the method (and
the websocket flag) and whose converters accept the values.  Anything unusual --
no candidate accepts the method, a converter raised :class:`ValidationError`, a
strict-slash redirect, a request on another subdomain, host matching, nothing
matched at all -- goes to the slow path, which walks *every* matching candidate in
priority order (each group after the first is matched with its own regex) and
decides: the first suitable rule, a redirect, 405 with the union of methods,
automatic OPTIONS, or 404.

Hosts and subdomains
--------------------
As in Werkzeug, a map matches either subdomains (the default) or, with
``Map(host_matching=True)``, whole hosts; the app works out the request's part and
passes it to ``match(path, method, subdomain=...)`` or ``match(..., host=...)``.

* ``Rule(subdomain="api")`` or ``Rule(subdomain="<user>")`` (variables and
  converters as in paths; the default converter also takes dots, ``a.b``).  A rule
  without ``subdomain`` takes ``Map.default_subdomain`` (``""``) when it is added.
  ``subdomain=None`` in ``match`` means the default subdomain.
  :meth:`Map.subdomain_of` computes the subdomain from the ``Host`` and
  ``SERVER_NAME`` as Werkzeug does (lower case, the scheme's default port dropped,
  label by label); a host outside ``SERVER_NAME`` gives ``None``, and the app
  answers 404 without matching (Werkzeug matches the placeholder subdomain
  ``<invalid>``, which a ``<user>`` rule then accepts).
* ``Rule(host="<user>.example.com")`` with ``host_matching``: the host is matched
  port included (``normalize_host`` drops the scheme's default port).  Hosts and
  subdomains are compared without regard to case.
* Variables of the host or subdomain join the values, count as rule arguments
  (never query arguments), and must be given to build the rule.
* Priority: the domain first, as Werkzeug's matcher does -- a static domain before
  a variable one (then by converter weight, then first registration), then the
  path order above within a domain, so ``/x/<a>`` on ``api`` beats ``/x/y`` on
  ``<user>`` for ``api``.  Strict-slash redirects, 405 and automatic OPTIONS only
  consider the rules on the request's domain; ``allowed_methods`` takes the same
  ``host``/``subdomain``.
* Cost: rules are compiled into one matcher (static dict and buckets, as above)
  per domain: per static subdomain or host, per variable pattern (by its regex
  text), and, with host matching, one for the rules without a host.  The fast path
  is the matcher of the default subdomain ``""``, so a map with subdomain rules
  matches default-subdomain requests exactly as fast as a map without.  A request
  on another subdomain (or any request with host matching) takes the slow path
  over the matchers of the domains that match it, in priority order, lazily: it
  stops at the first suitable rule.  The fast path is off only with host
  matching, a non-empty ``default_subdomain``, or a variable subdomain whose
  converter matches ``""``.
* Building: :meth:`Map.build_with_host` returns ``(path?query, host)``, ``host``
  being ``None`` when the rule is on the current subdomain (or host), else the
  host the URL must be absolute on (``api.<server_name>``; the rule's host); with
  ``host_matching``, a rule on the current host is preferred, as in Werkzeug.
  ``build`` returns the path only.

Redirects and slashes
---------------------
* A rule ending in ``/`` with ``strict_slashes`` (the default) also matches the
  path without the slash, as a *redirect candidate* in its normal priority place;
  if it is the first suitable candidate, ``match`` raises
  ``RequestRedirect(path + "/")`` (the path only: the caller adds the root path and
  query).  A candidate whose methods do not fit is skipped, as in Werkzeug.  A rule
  ``/docs`` requested as ``/docs/`` is a 404.  With ``strict_slashes=False`` both
  spellings match without a redirect.
* Leading slashes are collapsed (``//users`` matches ``/users``, as in Werkzeug),
  which also guarantees that a redirect target never starts with ``//``.
* With ``Map(merge_slashes=True)``, a path with ``//`` that matches nothing, but
  matches once runs of slashes are merged, raises ``RequestRedirect(merged)``.  A
  path that matches as it is is not redirected (``/files/<path:p>`` keeps
  ``a//b``).  Werkzeug's default is ``True``; Ambi's is ``False``.

Methods
-------
``Rule(methods=...)`` is upper-cased, and HEAD is added wherever GET is;
``methods=None`` accepts every method.  When a path matches rules but none
accepts the method, ``MethodNotAllowed.valid_methods`` lists the union of their
methods, plus ``OPTIONS`` unless all of them set
``provide_automatic_options=False``.

Automatic OPTIONS: for ``OPTIONS`` on a path whose rules do not list OPTIONS,
``match`` returns ``(rule, values)`` of the first matching rule whose
``provide_automatic_options`` is not ``False`` (``"OPTIONS" not in rule.methods``
tells the caller the answer is automatic) and the caller answers with
``Allow: ", ".join(sorted(map.allowed_methods(path)))``.

Building
--------
``Map.build`` tries the endpoint's rules in Werkzeug's build order: the rules with
more arguments first, then those with more defaults, then registration order
(with no ``method``, the rules accepting GET are tried before the others).  The
first rule whose variables are all given (or defaulted), whose non-variable
defaults are not contradicted by the values, that accepts ``method`` and whose
converters accept the values is used.  ``to_url`` results are percent-quoted:
path-like converters (``part_isolating = False``) keep ``/``; other converters
quote it.  Leftover values become the query string, ``application/x-www-form-
urlencoded`` style (space as ``+``), ``None`` skipped, lists and tuples repeated.

Deliberate differences from Werkzeug
------------------------------------
* ``/page/1`` for rules ``/page/`` (defaults ``{"n": 1}``) and ``/page/<int:n>``
  matches the second rule; Werkzeug redirects it to ``/page/``.
* ``int``/``float`` accept ASCII digits only (Werkzeug's ``\\d`` accepts any
  Unicode digit, so ``/n/٣`` would be 3); ``uuid`` weighs 50 (Werkzeug: 100).
* ``float``'s ``to_url`` writes positional notation (``1e16`` →
  ``10000000000000000.0``; Werkzeug writes ``1e+16``, which its own regex does not
  match) and refuses infinities and NaN with :class:`ValidationError`.
* A path matched by a rule whose converter refuses the value (``ValidationError``)
  and by a lower-priority rule with other methods is a 405 (Werkzeug: 404); a
  non-strict rule matched through its other slash spelling counts towards 405 as
  well, and non-strict rules with a ``path`` tail accept a trailing slash where
  Werkzeug answers 404.
* The automatic ``OPTIONS`` is part of ``MethodNotAllowed.valid_methods`` (in
  Flask it comes from ``Rule.methods``, to which Flask adds OPTIONS).
* ``any``'s ``to_url`` raises :class:`ValidationError` for a value not in its list,
  so building moves on to the next rule (and ends in :class:`BuildError`) rather
  than raising :class:`ValueError` from ``url_for``.
* A default for a key that is also a variable of the rule is used only when the
  value is missing; Werkzeug also refuses to build when it differs.
* With ``host_matching``, a rule without ``host`` matches every host, after the
  rules with a host (Werkzeug: only the empty host, which is why Flask needs
  ``static_host``); building it gives the current host.
* A request host outside ``SERVER_NAME`` matches nothing (see "Hosts and
  subdomains"); host patterns are matched without regard to case.
* ``redirect_to`` is stored; the app acts on it.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple
from urllib.parse import quote, urlencode

from .exceptions import BadRequest, MethodNotAllowed, NotFound, RequestRedirect

__all__ = [
    "AnyConverter",
    "BaseConverter",
    "BuildError",
    "FloatConverter",
    "IntegerConverter",
    "Map",
    "NumberConverter",
    "PathConverter",
    "Rule",
    "UUIDConverter",
    "UnicodeConverter",
    "ValidationError",
    "WebsocketMismatch",
]

#: Characters left unquoted in path-like variables (``part_isolating = False``).
_PATH_SAFE = "/:@!$&'()*+,;="
#: Characters left unquoted in the other variables: the same, minus ``/``.
_SEGMENT_SAFE = ":@!$&'()*+,;="
#: Characters left unquoted in query keys and values (``&``, ``=``, ``+``, ``#`` are quoted).
_QUERY_SAFE = "!$'()*,/:;?@"
#: What ``allowed_methods`` reports for a rule with ``methods=None``.
_ALL_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_MULTI_SLASH = re.compile("/{2,}")
_CONVERTER_SPEC = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", re.DOTALL)


class ValidationError(ValueError):
    """Raised by a converter to say "this rule does not match" (or "cannot be built").

    From ``to_python`` during matching, the next candidate rule is tried; from
    ``to_url`` during building, the next rule of the endpoint is tried.
    """


class WebsocketMismatch(BadRequest):
    """400: the path only matches websocket rules and this is plain HTTP, or the reverse."""

    description = "The URL exists, but not for this kind of request (HTTP versus WebSocket)."


# --------------------------------------------------------------------------- converters


class BaseConverter:
    """Base class of URL converters; subclass it and register it in ``Map.converters``.

    ``regex`` is what the variable matches (use non-capturing groups), ``weight``
    orders overlapping rules (lower wins), ``part_isolating`` is ``False`` when the
    regex can match ``/`` (it is derived from ``regex`` for subclasses that set
    ``regex`` as a class attribute and not ``part_isolating``).  Arguments written
    in the rule, ``<name(1, x=2):var>``, are passed to ``__init__`` after the map.
    """

    regex: str = "[^/]+"
    weight: int = 100
    part_isolating: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "regex" in cls.__dict__ and "part_isolating" not in cls.__dict__:
            cls.part_isolating = "/" not in cls.regex

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        self.map = map

    def to_python(self, value: str) -> Any:
        """Turn the matched text into the view argument; :class:`ValidationError` rejects it."""
        return value

    def to_url(self, value: Any) -> str:
        """Turn a value into *unquoted* URL text; the rule quotes it."""
        return str(value)


class UnicodeConverter(BaseConverter):
    """The default converter (``<name>``, ``<string:name>``): one path segment.

    ``minlength`` (default 1), ``maxlength`` and ``length`` bound its length:
    ``<string(length=2):code>``.
    """

    def __init__(
        self,
        map: Map,
        minlength: int = 1,
        maxlength: int | None = None,
        length: int | None = None,
    ) -> None:
        super().__init__(map)
        if length is not None:
            bounds = f"{{{int(length)}}}"
        else:
            upper = "" if maxlength is None else str(int(maxlength))
            bounds = f"{{{int(minlength)},{upper}}}"
        self.regex = f"[^/]{bounds}"


class AnyConverter(BaseConverter):
    """One of a fixed list of strings: ``<any(about, help, "x y"):page>``."""

    def __init__(self, map: Map, *items: Any) -> None:
        super().__init__(map)
        if not items:
            raise ValueError("the 'any' converter needs at least one item")
        self.items = tuple(str(item) for item in items)
        self._item_set = frozenset(self.items)
        self.regex = "(?:" + "|".join(re.escape(item) for item in self.items) + ")"

    def to_url(self, value: Any) -> str:
        """The value as text; :class:`ValidationError` if it is not one of the items."""
        text = str(value)
        if text not in self._item_set:
            choices = ", ".join(repr(item) for item in self.items)
            raise ValidationError(f"{value!r} is not one of {choices}")
        return text


class PathConverter(BaseConverter):
    """Like the default converter but also matches slashes: ``/files/<path:name>``."""

    regex = "[^/].*?"
    weight = 200
    part_isolating = False


class NumberConverter(BaseConverter):
    """Base of :class:`IntegerConverter` and :class:`FloatConverter`.

    ``fixed_digits`` requires exactly that many characters (and zero-pads when
    building), ``min``/``max`` bound the value, ``signed`` allows a leading ``-``.
    """

    weight = 50
    signed_regex = "-?[0-9]+"

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: float | None = None,
        max: float | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map)
        if signed:
            self.regex = self.signed_regex
        self.fixed_digits = fixed_digits
        self.min = min
        self.max = max
        self.signed = signed

    def _number(self, value: Any) -> Any:
        raise NotImplementedError

    def to_python(self, value: str) -> Any:
        """The number; :class:`ValidationError` when outside the digit count or the bounds."""
        if self.fixed_digits and len(value) != self.fixed_digits:
            raise ValidationError(f"{value!r} does not have {self.fixed_digits} digits")
        try:
            number = self._number(value)
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            raise ValidationError(f"{value!r} is too long a number") from None
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            raise ValidationError(f"{value!r} is out of bounds")
        return number

    def to_url(self, value: Any) -> str:
        """The number as text, zero-padded to ``fixed_digits``."""
        text = str(self._number(value))
        if self.fixed_digits:
            text = text.zfill(self.fixed_digits)
        return text


class IntegerConverter(NumberConverter):
    """``<int:n>``: ASCII digits, to ``int``; ``<int(fixed_digits=4, min=1, max=9999):year>``."""

    regex = "[0-9]+"

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)

    def _number(self, value: Any) -> int:
        return int(value)


class FloatConverter(NumberConverter):
    """``<float:x>``: ``digits.digits``, to ``float``; ``min``, ``max``, ``signed`` as for int."""

    regex = r"[0-9]+\.[0-9]+"
    signed_regex = r"-?[0-9]+\.[0-9]+"

    def __init__(
        self,
        map: Map,
        min: float | None = None,
        max: float | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, 0, min, max, signed)

    def _number(self, value: Any) -> float:
        return float(value)

    def to_url(self, value: Any) -> str:
        """The number in positional notation, which the regex matches (``repr`` switches
        to an exponent: ``1e+16``, ``1e-05``); :class:`ValidationError` for infinities and
        NaN, which no URL of this converter can hold."""
        number = self._number(value)
        if not math.isfinite(number):
            raise ValidationError(f"{value!r} is not a finite number")
        text = format(Decimal(repr(number)), "f")
        return text if "." in text else f"{text}.0"


class UUIDConverter(BaseConverter):
    """``<uuid:id>``: a hyphenated UUID, to :class:`uuid.UUID`."""

    regex = "[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"
    weight = 50

    def to_python(self, value: str) -> uuid.UUID:
        """The :class:`uuid.UUID`."""
        return uuid.UUID(value)


# ----------------------------------------------------------------------------- parsing


class _Var(NamedTuple):
    converter: str
    args: str | None
    name: str


_Token = str | _Var
#: (variable name, group index relative to the rule's outer group, to_python or None)
_Spec = tuple[str, int, Callable[[str], Any] | None]
#: a static piece of a build recipe, or (variable name, to_url, safe characters)
_BuildPart = str | tuple[str, Callable[[Any], str], str]


def _find_close(text: str, pos: int) -> int:
    """Index of the ``>`` closing a variable opened before ``pos``, or -1."""
    depth = 0
    quote_char = ""
    while pos < len(text):
        char = text[pos]
        if quote_char:
            if char == "\\":
                pos += 1
            elif char == quote_char:
                quote_char = ""
        elif char in "'\"":
            quote_char = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth <= 0 and char == ">":
            return pos
        elif depth <= 0 and char == "<":
            return -1
        pos += 1
    return -1


def _tokenize(string: str, what: str) -> list[_Token]:
    tokens: list[_Token] = []
    seen: set[str] = set()
    pos = 0
    while pos < len(string):
        start = string.find("<", pos)
        if start < 0:
            tokens.append(string[pos:])
            break
        if start > pos:
            tokens.append(string[pos:start])
        end = _find_close(string, start + 1)
        if end < 0:
            raise ValueError(f"{what} {string!r}: the '<' at index {start} is not closed by '>'")
        var = _parse_variable(string, string[start + 1 : end], what)
        if var.name in seen:
            raise ValueError(f"{what} {string!r}: variable {var.name!r} is used twice")
        seen.add(var.name)
        tokens.append(var)
        pos = end + 1
    return tokens


def _parse_variable(string: str, inner: str, what: str) -> _Var:
    spec, sep, name = inner.rpartition(":")
    name = name.strip()
    converter, args = "default", None
    if sep:
        found = _CONVERTER_SPEC.fullmatch(spec)
        if found is None:
            raise ValueError(f"{what} {string!r}: {spec!r} is not a valid converter")
        converter, args = found.group(1), found.group(2)
    if not name.isidentifier():
        raise ValueError(f"{what} {string!r}: {name!r} is not a valid variable name")
    return _Var(converter, args, name)


def _argument_value(node: ast.expr, string: str) -> Any:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        dotted = _argument_value(node.value, string)
        if isinstance(dotted, str):
            return f"{dotted}.{node.attr}"
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError) as exc:
        raise ValueError(
            f"rule {string!r}: converter argument {ast.unparse(node)!r} is not a literal"
        ) from exc


def _parse_arguments(text: str, string: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Parse ``1, x=2, bare`` safely: literals via ``ast.literal_eval``, bare words as str."""
    try:
        call = ast.parse(f"_({text})", mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"rule {string!r}: cannot parse converter arguments ({text})") from exc
    if not isinstance(call, ast.Call):
        raise ValueError(f"rule {string!r}: cannot parse converter arguments ({text})")
    args: list[Any] = []
    for node in call.args:
        if isinstance(node, ast.Starred):
            raise ValueError(f"rule {string!r}: '*' is not allowed in converter arguments")
        args.append(_argument_value(node, string))
    kwargs: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise ValueError(f"rule {string!r}: '**' is not allowed in converter arguments")
        kwargs[keyword.arg] = _argument_value(keyword.value, string)
    return tuple(args), kwargs


def _compile_regex(regex: str, string: str) -> re.Pattern[str]:
    try:
        return re.compile(regex, re.DOTALL)
    except re.error as exc:
        raise ValueError(f"rule {string!r}: bad converter regex {regex!r}: {exc}") from exc


def _encode_query(items: Iterable[tuple[str, Any]]) -> str:
    pairs: list[tuple[str, Any]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, item) for item in value if item is not None)
        else:
            pairs.append((key, value))
    return urlencode(pairs, safe=_QUERY_SAFE)


def _part_key(items: list[str | int]) -> tuple[Any, ...]:
    """Priority of one part of a rule (lower sorts first); see the module docstring."""
    weights = tuple(item for item in items if isinstance(item, int))
    if not weights:
        return (0,)
    static = tuple(-len(item) for item in items if isinstance(item, str) and item)
    return (1, -len(static), static, -len(weights), weights)


def _fast_to_python(converter: BaseConverter) -> Callable[[str], Any] | None:
    """The callable the matcher uses for ``converter.to_python``; ``None`` for identity.

    PERF: converters that do not override ``to_python`` (string, path, any) are not
    called at all, and an unconstrained built-in ``int``/``float`` converter is the
    ``int``/``float`` builtin itself (its regex already guarantees the text parses):
    this saves a Python-level call per variable on every match, as measured by
    benchmarks/inprocess.py.
    """
    kind = type(converter)
    if kind.to_python is BaseConverter.to_python:
        return None
    if kind in (IntegerConverter, FloatConverter):
        assert isinstance(converter, NumberConverter)
        if not converter.fixed_digits and converter.min is None and converter.max is None:
            return int if kind is IntegerConverter else float
    return converter.to_python


def _check_domain_variables(
    tokens: list[_Token], path_variables: frozenset[str], what: str, string: str
) -> set[str]:
    """The variable names of a host or subdomain pattern; none may also be in the path."""
    names = {token.name for token in tokens if isinstance(token, _Var)}
    clash = names & path_variables
    if clash:
        raise ValueError(f"rule {string!r}: {sorted(clash)} used in both {what} and path")
    return names


class _DomainPattern:
    """A compiled host or subdomain pattern: matching, building and its priority key.

    ``static`` is the text itself when the pattern has no variables (matched and built
    by comparison), else ``None``.  Matching ignores case: callers pass hosts
    lower-cased, as Werkzeug does.
    """

    __slots__ = ("build_parts", "fullmatch", "key", "specs", "static", "text", "variables")

    def __init__(
        self,
        text: str,
        specs: tuple[_Spec, ...],
        build_parts: tuple[_BuildPart, ...],
        key: tuple[Any, ...],
    ) -> None:
        self.text = text  # the regex text (variable names left out): the trie node
        self.specs = specs
        self.build_parts = build_parts
        self.key = key
        self.variables = frozenset(part[0] for part in build_parts if isinstance(part, tuple))
        self.static: str | None = None if specs else "".join(map(str, build_parts))
        self.fullmatch = re.compile(text, re.DOTALL | re.IGNORECASE).fullmatch

    def match(self, domain: str) -> dict[str, Any] | None:
        """The pattern's values if it matches ``domain``, else ``None``."""
        found = self.fullmatch(domain)
        if found is None:
            return None
        return _convert(self.specs, None, found, 0)

    def build(self, values: Mapping[str, Any], defaults: dict[str, Any] | None) -> str | None:
        """The domain text for ``values`` (of a pattern with variables; else use ``static``).

        ``None`` if a variable is missing (and has no default) or ``to_url`` refused it.
        """
        return _render_parts(self.build_parts, values, defaults)


def _render_parts(
    parts: Sequence[Any], values: Mapping[str, Any], defaults: Mapping[str, Any] | None
) -> str | None:
    """Join static text and converted, quoted values; ``None`` if a value is missing (and
    has no default) or a converter's ``to_url`` refuses it."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        name, to_url, safe = part
        value = values.get(name)
        if value is None:
            if defaults is None or name not in defaults:
                return None
            value = defaults[name]
        try:
            out.append(quote(to_url(value), safe=safe))
        except ValidationError:
            return None
    return "".join(out)


# -------------------------------------------------------------------------------- rules


class Rule:
    """One URL rule: a pattern, the endpoint it leads to, and its options.

    ``Rule("/users/<int:user_id>", endpoint="user", methods=["GET", "POST"])``.
    ``methods`` is stored as a frozenset of upper-case names with HEAD added where
    GET is, or ``None`` for every method.  ``defaults`` are added to the values of
    a match (and let a rule be built without those values).  ``strict_slashes``
    (``None``: the map's setting, resolved when bound) decides whether ``/docs``
    redirects to a rule ``/docs/``.  ``redirect_to`` and
    ``provide_automatic_options`` are stored for the app; a ``build_only`` rule is never
    matched, only built (for ``url_for`` to URLs another app serves, as in Werkzeug);
    ``host`` is used only by
    a map with ``host_matching=True``, ``subdomain`` (``None``: the map's
    ``default_subdomain``, resolved when bound) only by one without; ``websocket``
    rules only match websocket requests.  ``arguments`` is the set of variable
    names (of the path, host and subdomain; the subdomain's once bound) plus the
    keys of ``defaults``, as in Werkzeug; ``map`` is set by :meth:`Map.add`.
    """

    def __init__(
        self,
        string: str,
        *,
        endpoint: str | None = None,
        methods: Iterable[str] | None = None,
        defaults: Mapping[str, Any] | None = None,
        strict_slashes: bool | None = None,
        redirect_to: str | None = None,
        host: str | None = None,
        subdomain: str | None = None,
        websocket: bool = False,
        provide_automatic_options: bool | None = None,
        build_only: bool = False,
    ) -> None:
        if not string.startswith("/"):
            raise ValueError(f"rule {string!r} must start with '/'")
        self.rule = string
        self.endpoint = endpoint
        if methods is None:
            self.methods: frozenset[str] | None = None
        else:
            if isinstance(methods, str):
                raise TypeError(
                    f"rule {string!r}: methods must be a list of strings, e.g. methods=['POST']"
                )
            names = {name.upper() for name in methods}
            if "GET" in names:
                names.add("HEAD")
            if websocket and names - {"GET", "HEAD", "OPTIONS"}:
                raise ValueError(
                    f"rule {string!r}: websocket rules accept only GET, HEAD and OPTIONS"
                )
            self.methods = frozenset(names)
        self.defaults: dict[str, Any] | None = dict(defaults) if defaults is not None else None
        self.strict_slashes = strict_slashes
        self.redirect_to = redirect_to
        self.host = host
        self.subdomain = subdomain
        self.websocket = websocket
        self.provide_automatic_options = provide_automatic_options
        self.build_only = build_only
        self.map: Map | None = None

        self._tokens = _tokenize(string, "rule")
        self._host_tokens = _tokenize(host, "host") if host else []
        self._variables = frozenset(t.name for t in self._tokens if isinstance(t, _Var))
        host_variables = _check_domain_variables(self._host_tokens, self._variables, "host", string)
        self.arguments: set[str] = set(self._variables) | host_variables | set(self.defaults or ())
        #: the path when the rule has no variables (it then lives in the static dict)
        self._static_path: str | None = None if self._variables else string

    # binding -----------------------------------------------------------------------

    def bind(self, map: Map) -> None:
        """Attach the rule to ``map``: instantiate converters, compile regex and build recipe.

        Called by :meth:`Map.add`; a rule can be bound once.
        """
        if self.map is not None:
            raise RuntimeError(f"rule {self.rule!r} is already bound to a map")
        if self.strict_slashes is None:
            self.strict_slashes = map.strict_slashes
        if self.subdomain is None:
            self.subdomain = map.default_subdomain
        string = self.rule
        subdomain_tokens = _tokenize(self.subdomain, "subdomain") if self.subdomain else []
        self.arguments |= _check_domain_variables(
            subdomain_tokens, self._variables, "subdomain", string
        )
        pattern: list[str] = []
        specs: list[_Spec] = []
        build: list[_BuildPart] = []
        segments: list[list[str | int]] = [[]]
        contents: list[list[str]] = [[]]  # per segment, the regex text (names left out)
        spanning: set[int] = set()  # segments holding a converter that may match "/"
        combinable = True
        groups = 0
        trailing = string != "/" and string.endswith("/")
        last = len(self._tokens) - 1
        for index, token in enumerate(self._tokens):
            if isinstance(token, str):
                text = token[:-1] if trailing and index == last else token
                pattern.append(re.escape(text))
                build.append(quote(token, safe=_PATH_SAFE))
                pieces = token.split("/")
                if pieces[0]:
                    segments[-1].append(pieces[0])
                    contents[-1].append(re.escape(pieces[0]))
                for piece in pieces[1:]:
                    segments.append([piece] if piece else [])
                    contents.append([re.escape(piece)])
                continue
            converter = self._make_converter(map, token)
            compiled = _compile_regex(converter.regex, string)
            if compiled.groupindex:
                combinable = False
            groups += 1
            specs.append((token.name, groups, _fast_to_python(converter)))
            groups += compiled.groups
            pattern.append(f"({converter.regex})")
            safe = _SEGMENT_SAFE if converter.part_isolating else _PATH_SAFE
            build.append((token.name, converter.to_url, safe))
            segments[-1].append(converter.weight)
            contents[-1].append(f"({converter.regex})")
            if not converter.part_isolating:
                spanning.add(len(segments) - 1)
        slash = 0
        if trailing and self.strict_slashes:
            groups += 1
            slash = groups
            pattern.append("(/)?")
        elif not self.strict_slashes and not (
            # a trailing path-like variable already takes a trailing slash (Werkzeug too)
            isinstance(self._tokens[-1], _Var) and len(segments) - 1 in spanning
        ):
            pattern.append("/?")

        # Dispatch keys (see Map._compile): the first segment if it is static, else
        # the second one if it is static, not the trailing-slash segment, and the
        # first segment cannot match "/" (so the second is at a known place).
        self._bucket: str | None = None
        self._bucket2: str | None = None
        if self._variables:
            if all(isinstance(item, str) for item in segments[1]):
                self._bucket = "".join(str(item) for item in segments[1])
            elif (
                1 not in spanning
                and len(segments) > 2
                and all(isinstance(item, str) for item in segments[2])
                and (segments[2] or len(segments) > 3)
            ):
                self._bucket2 = "".join(str(item) for item in segments[2])
        # Priority parts: one per segment, except that a segment holding a converter
        # that may match "/" starts a tail part running to the end of the rule.  Each
        # is (priority key, regex text); Map._compile turns them into the sort key.
        parts: list[tuple[tuple[Any, ...], str]] = []
        for position in range(1, len(segments)):
            if position in spanning:
                items = [item for segment in segments[position:] for item in segment]
                text = "/".join("".join(content) for content in contents[position:])
                parts.append((_part_key(items), text))
                break
            parts.append((_part_key(segments[position]), "".join(contents[position])))
        self._parts = tuple(parts)
        self._pattern = "".join(pattern)
        self._combinable = combinable
        self._specs = tuple(specs)
        self._slash = slash
        self._build_parts = tuple(build)  # static pieces and variables alternate
        #: the host pattern (``None``: any host) and the subdomain pattern (``""``: the
        #: map's default subdomain, when that is ``""``)
        self._host_pattern = self._compile_domain(map, self._host_tokens) if self.host else None
        self._subdomain_pattern = self._compile_domain(map, subdomain_tokens)
        domain_variables = self._host_pattern.variables if self._host_pattern else frozenset()
        domain_variables |= self._subdomain_pattern.variables
        self._default_checks = tuple(
            (key, value)
            for key, value in (self.defaults or {}).items()
            if key not in self._variables and key not in domain_variables
        )
        self.map = map

    def _make_converter(self, map: Map, token: _Var) -> BaseConverter:
        cls = map.converters.get(token.converter)
        if cls is None:
            raise LookupError(f"the converter {token.converter!r} does not exist")
        args, kwargs = ((), {}) if token.args is None else _parse_arguments(token.args, self.rule)
        try:
            return cls(map, *args, **kwargs)
        except TypeError as exc:
            raise ValueError(
                f"rule {self.rule!r}: bad arguments for converter {token.converter!r}: {exc}"
            ) from exc

    def _compile_domain(self, map: Map, tokens: list[_Token]) -> _DomainPattern:
        pattern: list[str] = []
        specs: list[_Spec] = []
        build: list[_BuildPart] = []
        items: list[str | int] = []
        groups = 0
        for token in tokens:
            if isinstance(token, str):
                pattern.append(re.escape(token))
                build.append(token)
                items.append(token)
                continue
            converter = self._make_converter(map, token)
            groups += 1
            specs.append((token.name, groups, converter.to_python))
            groups += _compile_regex(converter.regex, self.rule).groups
            pattern.append(f"({converter.regex})")
            build.append((token.name, converter.to_url, _SEGMENT_SAFE))
            items.append(converter.weight)
        return _DomainPattern("".join(pattern), tuple(specs), tuple(build), _part_key(items))

    def _domain(self, host_matching: bool) -> _DomainPattern | None:
        """The pattern the map matches against: the host's or the subdomain's."""
        return self._host_pattern if host_matching else self._subdomain_pattern

    # building ----------------------------------------------------------------------

    def build(
        self, values: Mapping[str, Any], append_unknown: bool = True
    ) -> tuple[str, str] | None:
        """``(quoted path, query string without '?')``, or ``None`` if ``values`` do not fit.

        ``None`` when a variable is missing (``None`` counts as missing) and has no
        default, when a value contradicts a non-variable default, or when a
        converter's ``to_url`` raises :class:`ValidationError`.  With
        ``append_unknown``, values that are not arguments of the rule go into the
        query string; otherwise they are dropped.
        """
        if self.map is None:
            raise RuntimeError(f"rule {self.rule!r} is not bound to a Map; add it to one first")
        for key, default in self._default_checks:
            given = values.get(key)
            if given is not None and given != default:
                return None
        path = _render_parts(self._build_parts, values, self.defaults)
        if path is None:
            return None
        if not append_unknown:
            return path, ""
        arguments = self.arguments
        extra = [(key, value) for key, value in values.items() if key not in arguments]
        return path, (_encode_query(extra) if extra else "")

    def _missing(self, values: Mapping[str, Any]) -> set[str]:
        defaults = self.defaults or {}
        names = set(self._variables)
        domain = self._domain(self.map.host_matching) if self.map is not None else None
        if domain is not None:
            names |= domain.variables
        return {name for name in names if values.get(name) is None and name not in defaults}

    def __str__(self) -> str:
        return self.rule

    def __repr__(self) -> str:
        methods = f" ({', '.join(sorted(self.methods))})" if self.methods is not None else ""
        return f"<Rule {self.rule!r}{methods} -> {self.endpoint}>"


def _automatic_options(rule: Rule) -> bool:
    return rule.provide_automatic_options is not False


def _accepts(rule: Rule, method: str) -> bool:
    return rule.methods is None or method in rule.methods


# ---------------------------------------------------------------------- compiled matcher


class _Cand:
    """A rule as the matcher sees it: its attributes copied flat for the hot path."""

    __slots__ = ("defaults", "methods", "redirect", "rule", "slash", "specs", "websocket")

    def __init__(self, rule: Rule, redirect: bool = False) -> None:
        self.rule = rule
        self.methods = rule.methods
        self.websocket = rule.websocket
        self.defaults = rule.defaults or None
        self.specs = rule._specs if rule._static_path is None else ()
        self.slash = rule._slash if rule._static_path is None else 0
        self.redirect = redirect


class _Group:
    """Candidates sharing one regex, in priority order."""

    __slots__ = ("candidates", "fullmatch", "inner", "pattern")

    def __init__(self, pattern: str, compiled: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.fullmatch = compiled.fullmatch  # standalone: the outer group is group 1
        self.inner = compiled.groups - 1
        self.candidates: list[_Cand] = []


#: (fullmatch of the chunk regex, lastindex -> (group position, outer group index), groups)
_Chunk = tuple[
    Callable[[str], re.Match[str] | None], dict[int | None, tuple[int, int]], tuple[_Group, ...]
]


def _convert(
    specs: tuple[_Spec, ...], defaults: dict[str, Any] | None, found: re.Match[str], offset: int
) -> dict[str, Any] | None:
    values = dict(defaults) if defaults else {}
    try:
        for name, rel, to_python in specs:
            text = found[offset + rel]
            values[name] = text if to_python is None else to_python(text)
    except ValidationError:
        return None
    except ValueError:
        if to_python is not int:
            raise
        # int() itself (a plain <int:...>, see _fast_to_python) refuses more digits than
        # sys.get_int_max_str_digits(): no such number, as for a ValidationError.
        return None
    return values


def _make_chunk(groups: list[_Group]) -> _Chunk:
    index: dict[int | None, tuple[int, int]] = {}
    alternatives: list[str] = []
    outer = 1
    for position, group in enumerate(groups):
        index[outer] = (position, outer)
        alternatives.append(f"({group.pattern})")
        outer += 1 + group.inner
    compiled = re.compile("|".join(alternatives), re.DOTALL)
    return compiled.fullmatch, index, tuple(groups)


def _make_chunks(groups: list[_Group]) -> list[_Chunk]:
    chunks: list[_Chunk] = []
    pending: list[_Group] = []
    for group in groups:
        if group.candidates[0].rule._combinable:
            pending.append(group)
            continue
        if pending:
            chunks.append(_make_chunk(pending))
            pending = []
        chunks.append(_make_chunk([group]))
    if pending:
        chunks.append(_make_chunk(pending))
    return chunks


def _build_sort_key(rule: Rule) -> tuple[int, int]:
    return (-len(rule.arguments), -len(rule.defaults or ()))


#: the priority key of a dynamic rule: ((part key, trie node), ...)
_SortKey = tuple[tuple[tuple[Any, ...], int], ...]


def _priority_keys(rules: list[Rule]) -> dict[Rule, _SortKey]:
    """The sort keys of the dynamic rules (see "Priority" in the module docstring).

    The priority order is a depth-first walk of the trie of rule parts, children
    ordered by their part key, then by when the child was first seen (the
    registration order of the first rule with that prefix).
    """
    nodes: dict[tuple[int, str], int] = {}
    sort_keys: dict[Rule, _SortKey] = {}
    for rule in rules:
        if rule._static_path is not None:
            continue
        parent = 0
        rule_key: list[tuple[tuple[Any, ...], int]] = []
        for part_key, text in rule._parts:
            node = nodes.setdefault((parent, text), len(nodes) + 1)
            rule_key.append((part_key, node))
            parent = node
        sort_keys[rule] = tuple(rule_key)
    return sort_keys


class _Matcher:
    """The compiled matcher of a set of rules: the static dict and the buckets of chunks.

    A map has one for the rules of its default subdomain (the fast path's) and, when
    some rules are on other subdomains or hosts, one for all its rules.
    """

    __slots__ = ("buckets", "static", "var_buckets", "var_rest")

    def __init__(self, rules: list[Rule], sort_keys: dict[Rule, _SortKey]) -> None:
        exact: dict[str, list[_Cand]] = {}
        alias: dict[str, list[_Cand]] = {}
        dynamic: list[Rule] = []
        for rule in rules:
            path = rule._static_path
            if path is None:
                dynamic.append(rule)
                continue
            exact.setdefault(path, []).append(_Cand(rule))
            if path == "/":
                continue
            other = path[:-1] if path.endswith("/") else path + "/"
            if not rule.strict_slashes:
                alias.setdefault(other, []).append(_Cand(rule))
            elif path.endswith("/"):
                alias.setdefault(other, []).append(_Cand(rule, redirect=True))
        self.static = {
            path: tuple(exact.get(path, [])) + tuple(alias.get(path, []))
            for path in exact.keys() | alias.keys()
        }

        dynamic.sort(key=sort_keys.__getitem__)
        grouped: dict[str | None, dict[str, _Group]] = {}
        for rule in dynamic:
            groups = grouped.setdefault(rule._bucket, {})
            group = groups.get(rule._pattern)
            if group is None:
                compiled = re.compile(f"({rule._pattern})", re.DOTALL)
                group = groups[rule._pattern] = _Group(rule._pattern, compiled)
            group.candidates.append(_Cand(rule))
        var_rules = grouped.pop(None, {})
        self.buckets = {
            key: tuple(_make_chunks(list(groups.values())))
            for key, groups in grouped.items()
            if key is not None
        }
        # Rules whose first segment is variable: sub-bucketed by a static second
        # segment; the rest go with every sub-bucket, merged in priority order.
        # PERF: without this, 100 rules /<lang>/routeN/<int:id> are one 100-way
        # alternation (about 13 us per match here); with it, about 1.7 us. Measured
        # by benchmarks/inprocess.py.
        rest = [g for g in var_rules.values() if g.candidates[0].rule._bucket2 is None]
        second: dict[str, list[_Group]] = {}
        for group in var_rules.values():
            key = group.candidates[0].rule._bucket2
            if key is not None:
                second.setdefault(key, [])
        for group in var_rules.values():  # in priority order
            key = group.candidates[0].rule._bucket2
            for name, groups_here in second.items():
                if key is None or key == name:
                    groups_here.append(group)
        self.var_buckets = {key: tuple(_make_chunks(groups)) for key, groups in second.items()}
        self.var_rest = tuple(_make_chunks(rest))

    def var_chunks(self, path: str, end: int) -> tuple[_Chunk, ...]:
        """The chunks of rules whose first segment is variable, for this path."""
        if end < 0 or not self.var_buckets:
            return self.var_rest
        stop = path.find("/", end + 1)
        second = path[end + 1 : stop] if stop > 0 else path[end + 1 :]
        return self.var_buckets.get(second, self.var_rest)

    def iter_matches(self, path: str) -> Iterator[tuple[Rule, dict[str, Any], bool]]:
        """Every ``(rule, values, is_redirect)`` whose pattern matches ``path``, best first."""
        for cand in self.static.get(path, ()):
            yield cand.rule, (dict(cand.defaults) if cand.defaults else {}), cand.redirect
        end = path.find("/", 1)
        first = self.buckets.get(path[1:end] if end > 0 else path[1:], ())
        for fullmatch, index, groups in first + self.var_chunks(path, end):
            found = fullmatch(path)
            if found is None:
                continue
            position, offset = index[found.lastindex]
            for group in groups[position:]:
                if group is not groups[position]:
                    found_here = group.fullmatch(path)
                    if found_here is None:
                        continue
                    found, offset = found_here, 1
                for cand in group.candidates:
                    values = _convert(cand.specs, cand.defaults, found, offset)
                    if values is not None:
                        redirect = bool(cand.slash) and found.group(offset + cand.slash) is None
                        yield cand.rule, values, redirect


_EMPTY_MATCHER = _Matcher([], {})


class Map:
    """The set of rules of an app: matching and building.

    ``Map([Rule("/", endpoint="index")], strict_slashes=True, merge_slashes=False)``.
    Add converters to ``converters`` *before* adding rules that use them
    (``app.url_map.converters["list"] = ListConverter``); ``strict_slashes`` and
    ``default_subdomain`` are read when a rule is added, ``merge_slashes`` when
    matching.  ``host_matching=True`` matches rules by ``Rule(host=...)`` instead of
    by ``Rule(subdomain=...)`` (see "Hosts and subdomains" in the module docstring);
    it is a plain attribute, and setting it later makes the map recompile.
    """

    default_converters: ClassVar[dict[str, type[BaseConverter]]] = {
        "default": UnicodeConverter,
        "string": UnicodeConverter,
        "any": AnyConverter,
        "path": PathConverter,
        "int": IntegerConverter,
        "float": FloatConverter,
        "uuid": UUIDConverter,
    }

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        strict_slashes: bool = True,
        merge_slashes: bool = False,
        converters: Mapping[str, type[BaseConverter]] | None = None,
        host_matching: bool = False,
        default_subdomain: str = "",
    ) -> None:
        self.converters: dict[str, type[BaseConverter]] = dict(self.default_converters)
        if converters:
            self.converters.update(converters)
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        self._version = 0
        self._dirty = True
        # PERF: one flag for "compiled, and no domain to look at": the fast path
        # checks it and the subdomain argument, as many checks as before domains.
        self._fast = False
        #: Match rules by ``Rule(host=...)`` against the request's host, not by subdomain.
        self.host_matching = bool(host_matching)
        self.default_subdomain = default_subdomain
        self._rules: list[Rule] = []
        self._rules_by_endpoint: dict[str, list[Rule]] = {}
        # The fast path's matcher (rules of the default subdomain), copied flat.
        self._static: dict[str, tuple[_Cand, ...]] = {}
        self._buckets: dict[str, tuple[_Chunk, ...]] = {}
        self._var_buckets: dict[str, tuple[_Chunk, ...]] = {}
        self._var_chunks: Callable[[str, int], tuple[_Chunk, ...]] = _EMPTY_MATCHER.var_chunks
        self._main = _EMPTY_MATCHER
        # One matcher per domain (a static subdomain or host, by its lower-cased text;
        # a variable one, in priority order; in host matching, the rules without a
        # host last) for the slow path.  _domains: the fast path is off.
        self._static_domains: dict[str, _Matcher] = {}
        self._variable_domains: tuple[
            tuple[Callable[[str], re.Match[str] | None], _Matcher], ...
        ] = ()
        self._any_host: _Matcher | None = None
        self._domains = False
        self._build_order: dict[str, tuple[Rule, ...]] = {}
        self._build_order_get: dict[str, tuple[Rule, ...]] = {}
        for rule in rules:
            self.add(rule)

    def __setattr__(self, name: str, value: Any) -> None:
        # PERF: host_matching is a plain attribute rather than a property because the
        # app reads it on every request (a property is a call: about 40 ns here);
        # setting it makes the map recompile on next use, as add() does.
        object.__setattr__(self, name, value)
        if name == "host_matching":
            object.__setattr__(self, "_version", self._version + 1)
            object.__setattr__(self, "_dirty", True)
            object.__setattr__(self, "_fast", False)

    def add(self, rule: Rule) -> None:
        """Bind ``rule`` to this map and add it; the matcher is recompiled on next use."""
        rule.bind(self)
        self._rules.append(rule)
        if rule.endpoint is not None:
            self._rules_by_endpoint.setdefault(rule.endpoint, []).append(rule)
        self._version += 1
        self._dirty = True
        self._fast = False

    def iter_rules(self, endpoint: str | None = None) -> Iterator[Rule]:
        """The rules in registration order, or only those of ``endpoint``."""
        if endpoint is None:
            return iter(list(self._rules))
        return iter(list(self._rules_by_endpoint.get(endpoint, ())))

    def is_endpoint_expecting(self, endpoint: str, *arguments: str) -> bool:
        """Whether some rule of ``endpoint`` has all of ``arguments`` (for ``url_defaults``)."""
        wanted = set(arguments)
        return any(wanted <= rule.arguments for rule in self._rules_by_endpoint.get(endpoint, ()))

    # compiling ---------------------------------------------------------------------

    def _compile(self) -> None:
        """(Re)build the matchers (the fast path's, one per domain) and the build orders.

        PERF: done once, lazily, on the first match/build after ``add``, so adding
        N rules costs one compile rather than N (benchmarks/inprocess.py).
        """
        version = self._version
        host_matching = self.host_matching
        # build_only rules are only in the build orders below, never in a matcher.
        rules = [rule for rule in self._rules if not rule.build_only]
        sort_keys = _priority_keys(rules)

        # Rules by domain: Werkzeug matches the domain first, so the slow path tries
        # the rules of a static domain, then those of each variable domain that
        # matches (static text first, then converter weights, then registration
        # order), then, in host matching, the rules without a host; within a domain,
        # the path order.  Rules are grouped by the regex text of their domain.
        static_rules: dict[str, list[Rule]] = {}
        variable_rules: dict[str, list[Rule]] = {}
        any_host: list[Rule] = []
        for rule in rules:
            pattern = rule._domain(host_matching)
            if pattern is None:
                any_host.append(rule)
            elif pattern.static is not None:
                static_rules.setdefault(pattern.static.lower(), []).append(rule)
            else:
                variable_rules.setdefault(pattern.text, []).append(rule)

        # PERF: the fast path only knows the rules of the default subdomain ""; the
        # rules on other subdomains are only tried for requests on other subdomains,
        # so they cost the others nothing (timeit: no change per match).
        main = _Matcher(static_rules.get("", []), sort_keys)
        domains = host_matching or self.default_subdomain != ""
        if not host_matching:
            # a variable subdomain that also matches "": the fast path would miss it
            domains = domains or any(
                rule._subdomain_pattern.match("") is not None
                for group in variable_rules.values()
                for rule in group
            )
        static_domains = {
            text: main if text == "" else _Matcher(group, sort_keys)
            for text, group in static_rules.items()
        }
        variable_domains: list[tuple[tuple[Any, ...], int, _DomainPattern, _Matcher]] = []
        for index, group in enumerate(variable_rules.values()):
            pattern = group[0]._domain(host_matching)
            assert pattern is not None
            variable_domains.append((pattern.key, index, pattern, _Matcher(group, sort_keys)))
        variable_domains.sort(key=lambda item: item[:2])

        build_order: dict[str, tuple[Rule, ...]] = {}
        build_order_get: dict[str, tuple[Rule, ...]] = {}
        for endpoint, endpoint_rules in self._rules_by_endpoint.items():
            ordered = sorted(endpoint_rules, key=_build_sort_key)
            build_order[endpoint] = tuple(ordered)
            build_order_get[endpoint] = tuple(
                [rule for rule in ordered if _accepts(rule, "GET")]
                + [rule for rule in ordered if not _accepts(rule, "GET")]
            )

        self._main = main
        self._static = main.static
        self._buckets = main.buckets
        self._var_buckets = main.var_buckets
        self._var_chunks = main.var_chunks
        self._static_domains = static_domains
        self._variable_domains = tuple(
            (pattern.fullmatch, matcher) for _key, _index, pattern, matcher in variable_domains
        )
        self._any_host = _Matcher(any_host, sort_keys) if any_host else None
        self._domains = domains
        self._build_order = build_order
        self._build_order_get = build_order_get
        # an add() that raced with this compile leaves the map dirty
        self._dirty = self._version != version
        self._fast = not self._dirty and not domains

    # matching ----------------------------------------------------------------------

    # PERF: host, subdomain and websocket are not keyword-only: CPython fills missing
    # keyword-only arguments by a dict lookup each, positional defaults by copying.
    # That makes this signature about 20 ns per call cheaper than one with "*"
    # (timeit); pass them by keyword all the same.
    def match(
        self,
        path: str,
        method: str,
        host: str | None = None,
        subdomain: str | None = None,
        websocket: bool = False,
    ) -> tuple[Rule, dict[str, Any]]:
        """The rule matching the decoded ``path`` for ``method``, and its converted values.

        Raises :class:`~ambi.exceptions.NotFound`,
        :class:`~ambi.exceptions.MethodNotAllowed` (``valid_methods`` is the union of
        the methods of every rule matching the path, with OPTIONS where automatic),
        :class:`~ambi.exceptions.RequestRedirect` (``new_url`` is a path: ``/docs`` to
        ``/docs/``, or merged slashes) or :class:`WebsocketMismatch`.

        For ``OPTIONS`` when no matching rule lists OPTIONS, the first matching rule
        with ``provide_automatic_options`` not ``False`` is returned: the caller sees
        ``"OPTIONS" not in rule.methods`` and answers itself, with
        :meth:`allowed_methods` for ``Allow``.  ``websocket`` selects websocket rules.

        ``host`` (see :meth:`normalize_host`) is used only when the map has
        ``host_matching``; ``subdomain`` (see :meth:`subdomain_of`) only when it has
        not: ``None`` is :attr:`default_subdomain`.  Variables of the host or
        subdomain pattern are added to the values.
        """
        if not self._fast or subdomain:
            return self._match_other(path, method, host, subdomain, websocket)
        # PERF: static rules are one dict lookup; no regex runs for them. Measured by
        # benchmarks/inprocess.py.
        static = self._static.get(path)
        if static is not None:
            for cand in static:
                methods = cand.methods
                if (
                    (methods is None or method in methods)
                    and cand.websocket == websocket
                    and not cand.redirect
                ):
                    defaults = cand.defaults
                    return cand.rule, (dict(defaults) if defaults else {})
            return self._match_slow(path, method, host, subdomain, websocket)
        # PERF: only the chunks of the request's first segment (then those of the
        # variable-first rules for its second segment) are tried, each with a single
        # re.fullmatch over all its rules, and m.lastindex names the rule group: no
        # Python loop over rules. Measured by benchmarks/inprocess.py.
        end = path.find("/", 1)
        chunks = self._buckets.get(path[1:end] if end > 0 else path[1:])
        if chunks is not None:
            found = self._match_chunks(chunks, path, method, websocket)
            if found is not None:
                return (
                    found if found else self._match_slow(path, method, host, subdomain, websocket)
                )
        found = self._match_chunks(self._var_chunks(path, end), path, method, websocket)
        if found:
            return found
        return self._match_slow(path, method, host, subdomain, websocket)

    def _match_other(
        self, path: str, method: str, host: str | None, subdomain: str | None, websocket: bool
    ) -> tuple[Rule, dict[str, Any]]:
        """``match`` when the map is not compiled, or there is a domain to look at."""
        if self._dirty:
            self._compile()
            if self._fast and not subdomain:
                return self.match(path, method, websocket=websocket)
        return self._match_slow(path, method, host, subdomain, websocket)

    def _match_chunks(
        self, chunks: tuple[_Chunk, ...], path: str, method: str, websocket: bool
    ) -> tuple[Rule, dict[str, Any]] | tuple[()] | None:
        """Fast path over chunks: a match, ``None`` if no chunk matched, ``()`` for "go slow"."""
        for fullmatch, index, groups in chunks:
            found = fullmatch(path)
            if found is None:
                continue
            position, offset = index[found.lastindex]
            for cand in groups[position].candidates:
                methods = cand.methods
                if (methods is not None and method not in methods) or cand.websocket != websocket:
                    continue
                if cand.slash and found[offset + cand.slash] is None:
                    break  # a strict-slash redirect: the slow path decides
                defaults = cand.defaults
                values = dict(defaults) if defaults else {}
                try:
                    for name, rel, to_python in cand.specs:
                        text = found[offset + rel]
                        values[name] = text if to_python is None else to_python(text)
                except ValidationError:
                    continue
                except ValueError:
                    if to_python is not int:
                        raise
                    continue  # too many digits for int(): see _convert
                return cand.rule, values
            return ()
        return None

    def _scan(
        self, path: str, host: str | None, subdomain: str | None
    ) -> Iterator[tuple[Rule, dict[str, Any], bool]]:
        """Every ``(rule, values, is_redirect)`` matching ``path`` on this domain, best first."""
        if not (self._domains or subdomain):
            return self._main.iter_matches(path)
        return self._scan_domains(path, host, subdomain)

    def _scan_domains(
        self, path: str, host: str | None, subdomain: str | None
    ) -> Iterator[tuple[Rule, dict[str, Any], bool]]:
        host_matching = self.host_matching
        if host_matching:
            domain = (host or "").lower()
        else:
            domain = (self.default_subdomain if subdomain is None else subdomain).lower()
        matchers: list[_Matcher] = []
        static = self._static_domains.get(domain)
        if static is not None:
            matchers.append(static)
        matchers.extend(
            matcher for fullmatch, matcher in self._variable_domains if fullmatch(domain)
        )
        if self._any_host is not None:
            matchers.append(self._any_host)
        # PERF: lazily, domain by domain: the caller stops at the first suitable rule.
        for matcher in matchers:
            for rule, values, redirect in matcher.iter_matches(path):
                pattern = rule._host_pattern if host_matching else rule._subdomain_pattern
                if pattern is not None and pattern.static is None:
                    domain_values = pattern.match(domain)
                    if domain_values is None:
                        continue  # a converter of this rule refused the domain
                    values.update(domain_values)
                yield rule, values, redirect

    def _match_slow(
        self, path: str, method: str, host: str | None, subdomain: str | None, websocket: bool
    ) -> tuple[Rule, dict[str, Any]]:
        if path[:1] != "/" or path[1:2] == "/":
            return self.match(
                "/" + path.lstrip("/"), method, host=host, subdomain=subdomain, websocket=websocket
            )
        allowed: set[str] = set()
        automatic: tuple[Rule, dict[str, Any]] | None = None
        websocket_mismatch = False
        for rule, values, redirect in self._scan(path, host, subdomain):
            if rule.websocket != websocket:
                websocket_mismatch = True
                continue
            fits = _accepts(rule, method)
            if redirect:
                # "/" to "//" (a rule "//") would loop: leading slashes are collapsed.
                if path != "/" and (fits or (method == "OPTIONS" and _automatic_options(rule))):
                    raise RequestRedirect(path + "/")
                continue
            if fits:
                return rule, values
            assert rule.methods is not None
            allowed |= rule.methods
            if automatic is None and _automatic_options(rule):
                automatic = rule, values
        if automatic is not None:
            if method == "OPTIONS":
                return automatic
            allowed.add("OPTIONS")
        if allowed:
            raise MethodNotAllowed(valid_methods=allowed)
        if websocket_mismatch:
            raise WebsocketMismatch()
        if self.merge_slashes and "//" in path:
            merged = _MULTI_SLASH.sub("/", path)
            try:
                self.match(merged, method, host=host, subdomain=subdomain, websocket=websocket)
            except NotFound:
                raise NotFound() from None
            except (MethodNotAllowed, WebsocketMismatch):
                pass
            raise RequestRedirect(merged)
        raise NotFound()

    def allowed_methods(
        self,
        path: str,
        *,
        host: str | None = None,
        subdomain: str | None = None,
        websocket: bool = False,
    ) -> set[str]:
        """The methods some rule matching ``path`` accepts (for ``Allow`` on automatic OPTIONS).

        HEAD is there wherever GET is; OPTIONS unless every matching rule sets
        ``provide_automatic_options=False``.  A rule with ``methods=None`` counts as
        GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS.  Empty if nothing matches.
        ``host`` and ``subdomain`` are those given to :meth:`match`.
        """
        if self._dirty:
            self._compile()
        if path[:1] != "/" or path[1:2] == "/":
            path = "/" + path.lstrip("/")
        allowed: set[str] = set()
        automatic = False
        for rule, _values, redirect in self._scan(path, host, subdomain):
            if redirect or rule.websocket != websocket:
                continue
            if rule.methods is None:
                return set(_ALL_METHODS)
            allowed |= rule.methods
            automatic = automatic or _automatic_options(rule)
        if automatic:
            allowed.add("OPTIONS")
        return allowed

    # hosts ---------------------------------------------------------------------------

    @staticmethod
    def normalize_host(host: str, scheme: str = "http") -> str:
        """``host`` lower-cased, without the scheme's default port (as Werkzeug compares it).

        ``Map.normalize_host("API.Example.com:443", "https") == "api.example.com"``.
        """
        host = host.lower()
        if scheme in ("http", "ws") and host.endswith(":80"):
            return host[:-3]
        if scheme in ("https", "wss") and host.endswith(":443"):
            return host[:-4]
        return host

    @staticmethod
    def subdomain_of(host: str, server_name: str, scheme: str = "http") -> str | None:
        """The subdomain of ``host`` under ``server_name`` (``SERVER_NAME``), or ``None``.

        Both are normalised (:meth:`normalize_host`) and compared label by label, port
        included, as Werkzeug does: ``api.example.com`` under ``example.com`` is
        ``"api"``, ``example.com`` itself is ``""``, and ``other.org`` (or
        ``example.com:5000`` under ``example.com``) is ``None``: a host outside
        ``server_name``, on which no rule matches.
        """
        labels = Map.normalize_host(host, scheme).split(".")
        server_labels = Map.normalize_host(server_name, scheme).split(".")
        split = len(labels) - len(server_labels)
        if split < 0 or labels[split:] != server_labels:
            return None
        return ".".join(label for label in labels[:split] if label)

    # building ----------------------------------------------------------------------

    def build(
        self,
        endpoint: str,
        values: Mapping[str, Any] | None = None,
        method: str | None = None,
        append_unknown: bool = True,
    ) -> str:
        """The quoted path (plus ``?query`` for leftover values) of ``endpoint``.

        Raises :class:`BuildError` when no rule of the endpoint can be built from
        ``values`` (and, if given, accepts ``method``).  The rule's host or subdomain
        is not part of the result (see :meth:`build_with_host`), but its variables
        must be given (or defaulted) as well.
        """
        given, rules = self._build_candidates(endpoint, values, method)
        host_matching = self.host_matching
        for rule in rules:
            if method is not None and rule.methods is not None and method not in rule.methods:
                continue
            built = rule.build(given, append_unknown)
            if built is None:
                continue
            pattern = rule._host_pattern if host_matching else rule._subdomain_pattern
            if (
                pattern is not None
                and pattern.static is None
                and pattern.build(given, rule.defaults) is None
            ):
                continue
            path, query = built
            return f"{path}?{query}" if query else path
        raise BuildError(endpoint, given, method, self)

    def _build_candidates(
        self, endpoint: str, values: Mapping[str, Any] | None, method: str | None
    ) -> tuple[Mapping[str, Any], Sequence[Rule]]:
        """The values to build with, and the endpoint's rules in build order (rules
        accepting GET first when no method is asked for, as in Werkzeug)."""
        if self._dirty:
            self._compile()
        given: Mapping[str, Any] = values if values is not None else {}
        if method is None:
            return given, self._build_order_get.get(endpoint, ())
        return given, self._build_order.get(endpoint, ())

    def build_with_host(
        self,
        endpoint: str,
        values: Mapping[str, Any] | None = None,
        method: str | None = None,
        append_unknown: bool = True,
        *,
        server_name: str,
        subdomain: str | None = None,
    ) -> tuple[str, str | None]:
        """Like :meth:`build`, plus the host the URL must be absolute on, or ``None``.

        ``server_name`` is ``SERVER_NAME`` (or the request's host when it is unset)
        and ``subdomain`` the current one (``None``: :attr:`default_subdomain`); with
        ``host_matching``, ``server_name`` is the current host.  The host is ``None``
        when the rule is on the current subdomain (or host): the URL can stay
        relative.  Otherwise it is ``api.<server_name>`` for a rule on ``api``,
        ``server_name`` itself for a rule on the default subdomain seen from another,
        or the rule's host.  With ``host_matching``, a rule on the current host is
        preferred among the buildable ones (rules without ``host`` are on every host);
        with ``method=None``, rules accepting GET are tried first, as in Werkzeug.
        """
        given, rules = self._build_candidates(endpoint, values, method)
        host_matching = self.host_matching
        if host_matching:
            current = server_name.lower()
        elif subdomain is None:
            current = self.default_subdomain
        else:
            current = subdomain.lower()
        first: tuple[str, str] | None = None
        for rule in rules:
            if method is not None and rule.methods is not None and method not in rule.methods:
                continue
            if method is None and first is not None and not _accepts(rule, "GET"):
                break  # a rule accepting GET was built: the others are not tried
            built = rule.build(given, append_unknown)
            if built is None:
                continue
            pattern = rule._host_pattern if host_matching else rule._subdomain_pattern
            if pattern is None:
                domain = None
            else:
                domain = pattern.static
                if domain is None:
                    domain = pattern.build(given, rule.defaults)
                    if domain is None:
                        continue
            path, query = built
            url = f"{path}?{query}" if query else path
            if domain is None or domain == current or domain.lower() == current:
                return url, None
            if not host_matching:
                return url, (f"{domain}.{server_name}" if domain else server_name)
            if first is None:
                first = url, domain
        if first is not None:
            return first
        raise BuildError(endpoint, given, method, self)

    def __repr__(self) -> str:
        return f"<Map {len(self._rules)} rules>"


class BuildError(LookupError):
    """No rule of ``endpoint`` can be built from ``values`` (for ``method``).

    The message says why: an unknown endpoint (with similar ones), a method no
    rule accepts, or the values that are missing.  ``suggested`` is the rule that
    came closest, if any.
    """

    def __init__(
        self,
        endpoint: str,
        values: Mapping[str, Any] | None,
        method: str | None,
        map: Map | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.values = dict(values or {})
        self.method = method
        self.suggested: Rule | None = None
        super().__init__(self._message(map))

    def _message(self, map: Map | None) -> str:
        head = f"Could not build url for endpoint {self.endpoint!r}"
        if self.method is not None:
            head += f" ({self.method!r})"
        given = sorted(key for key, value in self.values.items() if value is not None)
        if given:
            head += f" with values {given!r}"
        head += "."
        if map is None:
            return head
        rules = list(map.iter_rules(self.endpoint))
        if not rules:
            endpoints = [rule.endpoint for rule in map.iter_rules() if rule.endpoint is not None]
            close = difflib.get_close_matches(self.endpoint, endpoints, n=1)
            if close:
                return f"{head} Did you mean {close[0]!r} instead?"
            return f"{head} No rule has this endpoint."
        method = self.method
        if method is not None:
            fitting = [rule for rule in rules if _accepts(rule, method)]
            if not fitting:
                methods: set[str] = set()
                for rule in rules:
                    methods |= rule.methods or set()
                self.suggested = rules[0]
                return f"{head} Did you mean to use methods {sorted(methods)!r}?"
            rules = fitting
        best = min(rules, key=lambda rule: len(rule._missing(self.values)))
        self.suggested = best
        missing = best._missing(self.values)
        if missing:
            return f"{head} Did you forget to specify values {sorted(missing)!r}?"
        return (
            f"{head} Every rule of this endpoint rejects these values "
            "(they contradict a rule's defaults, or a converter's to_url refused them)."
        )
