"""JSON for requests and responses: ``jsonify`` and the app's JSON provider.

Part of the sans-I/O core. The default provider behaves like Flask's: keys sorted,
compact output unless ``DEBUG``, and ``datetime``/``date`` (HTTP date), ``uuid.UUID``,
``decimal.Decimal``, dataclasses and objects with ``__html__`` serialised.
"""

from __future__ import annotations

import dataclasses
import decimal
import json as _json
import json.encoder as _json_encoder
import uuid
from datetime import date
from typing import TYPE_CHECKING, Any

from .http import http_date
from .wrappers import text_response

if TYPE_CHECKING:
    from .app import App
    from .wrappers import Response

__all__ = ["DefaultJSONProvider", "JSONProvider", "dumps", "jsonify", "loads"]


class JSONProvider:
    """The interface ``app.json`` implements; subclass it to use another JSON library."""

    def __init__(self, app: App) -> None:
        self._app = app

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise ``obj`` to a JSON string."""
        raise NotImplementedError

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse a JSON document."""
        raise NotImplementedError

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A JSON response: one positional argument, several (a list), or keywords (a dict)."""
        if args and kwargs:
            raise TypeError("jsonify() takes positional or keyword arguments, not both.")
        obj: Any = kwargs if not args else args[0] if len(args) == 1 else list(args)
        body = f"{self._dumps_response(obj)}\n"
        return text_response(body, "application/json", self._app.response_class)

    def _dumps_response(self, obj: Any) -> str:
        return self.dumps(obj, **self._response_options())

    def _response_options(self) -> dict[str, Any]:
        return {}


def _default(obj: Any) -> Any:
    if isinstance(obj, date):
        return http_date(obj)
    if isinstance(obj, (decimal.Decimal, uuid.UUID)):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "__html__"):
        return str(obj.__html__())
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


#: Response encoders by (ensure_ascii, sort_keys, compact): at most 8.
_ENCODERS: dict[tuple[bool, bool, bool], _json.JSONEncoder] = {}

# The standard library's C encoder factory (``None`` without the ``_json`` accelerator).
_c_make_encoder: Any = getattr(_json_encoder, "c_make_encoder", None)
#: Compact C encoders by (ensure_ascii, sort_keys): at most 4.
_FAST_ENCODERS: dict[tuple[bool, bool], Any] = {}


class DefaultJSONProvider(JSONProvider):
    """The standard library's ``json`` with Flask's defaults."""

    sort_keys = True
    ensure_ascii = True
    compact: bool | None = None

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", _default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return _json.dumps(obj, **kwargs)

    def _response_options(self) -> dict[str, Any]:
        # As in Flask: responses are compact unless DEBUG, where they are indented.
        compact = self.compact if self.compact is not None else not self._app.debug
        return {"separators": (",", ":")} if compact else {"indent": 2}

    def _dumps_response(self, obj: Any) -> str:
        cls = type(self)
        if cls.dumps is not DefaultJSONProvider.dumps or (
            cls._response_options is not DefaultJSONProvider._response_options
        ):
            return super()._dumps_response(obj)
        # PERF: one encoder per set of options, reused: json.dumps with options builds a
        # new JSONEncoder per call (benchmarks/inprocess.py, JSON).
        compact = self.compact if self.compact is not None else not self._app.debug
        if compact and _c_make_encoder is not None and obj.__class__ is not str:
            # PERF: the standard library's C encoder, made once per set of options and
            # called directly: what JSONEncoder.encode() does for compact output, without
            # its Python-level steps nor a new C encoder per call (benchmarks/inprocess.py
            # json/args/echo, callgrind -6k instr/request). It keeps no state between
            # calls (no marker dict: thread-safe); a circular reference, which it meets as
            # a RecursionError, is re-encoded with the checking encoder below so that it
            # raises the usual ValueError.
            options = (self.ensure_ascii, self.sort_keys)
            fast = _FAST_ENCODERS.get(options)
            if fast is None:
                fast = _FAST_ENCODERS[options] = _c_make_encoder(
                    None,
                    _default,
                    _json_encoder.encode_basestring_ascii
                    if self.ensure_ascii
                    else _json_encoder.encode_basestring,
                    None,
                    ":",
                    ",",
                    self.sort_keys,
                    False,
                    True,
                )
            try:
                return "".join(fast(obj, 0))
            except RecursionError:
                pass
        key = (self.ensure_ascii, self.sort_keys, compact)
        encoder = _ENCODERS.get(key)
        if encoder is None:
            encoder = _ENCODERS[key] = _json.JSONEncoder(
                default=_default,
                ensure_ascii=self.ensure_ascii,
                sort_keys=self.sort_keys,
                **({"separators": (",", ":")} if compact else {"indent": 2}),
            )
        return encoder.encode(obj)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return _json.loads(s, **kwargs)


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """A JSON response for the arguments, through ``current_app.json``::

    return jsonify(id=1, name="x")      # {"id":1,"name":"x"}
    """
    from .globals import current_app

    return current_app.json.response(*args, **kwargs)


def dumps(obj: Any, **kwargs: Any) -> str:
    """Serialise with the current app's provider (the standard library outside an app)."""
    from .globals import _cv_context

    ctx = _cv_context.get(None)
    if ctx is not None:
        return ctx.app.json.dumps(obj, **kwargs)
    kwargs.setdefault("default", _default)
    return _json.dumps(obj, **kwargs)


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """Parse with the current app's provider (the standard library outside an app)."""
    from .globals import _cv_context

    ctx = _cv_context.get(None)
    if ctx is not None:
        return ctx.app.json.loads(s, **kwargs)
    return _json.loads(s, **kwargs)
