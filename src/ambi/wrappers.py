"""``Request`` and ``Response``: the objects views see, built from a neutral connection.

Part of the sans-I/O core. A :class:`Connection` is what an adapter (``wsgi.py`` or
``asgi.py``) knows about one HTTP request: method, scheme, paths, query bytes, headers,
client, and a body it can read *synchronously* on demand. The core builds a
:class:`Request` from it and never learns which server is underneath.

Everything on ``Request`` is computed lazily and cached: a view that never touches
``request.args`` never pays for query parsing.
"""

from __future__ import annotations

import json as _stdlib_json
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from datetime import datetime, timedelta
from functools import cached_property
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .datastructures import FileStorage, Headers, ImmutableMultiDict, MultiDict, _check_value
from .exceptions import BadRequest, RequestEntityTooLarge, SecurityError, UnsupportedMediaType
from .http import (
    HTTP_STATUS_CODES,
    dump_cookie,
    host_is_trusted,
    parse_cookie,
    parse_options_header,
    parse_query_string,
    split_host,
    unquote_strict,
)

if TYPE_CHECKING:
    from .routing import Rule
    from .types import HeadersValue

__all__ = ["Connection", "Request", "Response"]

Interface = Literal["wsgi", "asgi"]

#: Body size limit used when the app does not say otherwise (16 MiB, like Quart).
DEFAULT_MAX_CONTENT_LENGTH = 16 * 1024 * 1024
_READ_CHUNK = 64 * 1024


class Connection:
    """What an adapter knows about one request, in server-neutral terms.

    The adapters subclass it; the core only reads these attributes and calls
    :meth:`read_body_chunk`. ``path_bytes`` is the request path below ``root_path``,
    percent-encoded when ``path_is_encoded`` is true (the wire form, when the server
    gives it) or already decoded by the server otherwise.
    """

    __slots__ = (
        "client",
        "header_items",
        "method",
        "path_bytes",
        "path_is_encoded",
        "query_string",
        "root_path",
        "scheme",
        "server",
    )

    interface: ClassVar[Interface]

    def __init__(
        self,
        *,
        method: str,
        scheme: str,
        server: tuple[str, int | None] | None,
        root_path: str,
        path_bytes: bytes,
        path_is_encoded: bool,
        query_string: bytes,
        header_items: list[tuple[str, str]],
        client: tuple[str, int] | None,
    ) -> None:
        self.method = method
        self.scheme = scheme
        self.server = server
        self.root_path = root_path
        self.path_bytes = path_bytes
        self.path_is_encoded = path_is_encoded
        self.query_string = query_string
        self.header_items = header_items
        self.client = client

    def read_body_chunk(self) -> bytes:
        """Return the next chunk of the request body, ``b""`` at its end.

        Blocking; the adapter decides how (``wsgi.input``, or ``receive()`` through the
        event loop from a worker thread, or a body read in ahead of an async view).
        Raises :class:`~ambi.exceptions.ClientDisconnected` if the client went away.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Free what the connection holds (a spooled body); called when the request ends."""

    def make_headers(self) -> Headers:
        """``request.headers``: :attr:`header_items` as checked :class:`Headers` (made once
        per request that reads them)."""
        return Headers._from_pairs(self.header_items)

    async def read_body_chunk_async(self) -> bytes:
        """The async form of :meth:`read_body_chunk`, for ``async for`` over
        ``request.stream``. Under WSGI it reads synchronously (the thread's own loop waits,
        no other request does); the ASGI connection awaits ``receive()``."""
        return self.read_body_chunk()

    @property
    def environ(self) -> dict[str, Any]:
        """The WSGI environ (under ASGI: a WSGI-style view of the scope)."""
        raise NotImplementedError


class RequestStream:
    """``request.stream``: the request body as it arrives.

    A file-like ``read(size=-1)`` and chunk iteration for ``def`` views, and ``async for`` /
    ``await aread()`` for ``async def`` views. Limits (``max_content_length``) apply while
    reading.
    """

    def __init__(
        self,
        read_chunk: Callable[[], bytes],
        read_chunk_async: Callable[[], Awaitable[bytes]] | None,
    ) -> None:
        self._read_chunk = read_chunk
        self._read_chunk_async = read_chunk_async
        self._pending = b""
        self._done = False

    def _next(self) -> bytes:
        if self._pending:
            chunk, self._pending = self._pending, b""
            return chunk
        if self._done:
            return b""
        chunk = self._read_chunk()
        if not chunk:
            self._done = True
        return chunk

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left with ``-1``); ``b""`` at the end."""
        if size is None or size < 0:
            parts = []
            while chunk := self._next():
                parts.append(chunk)
            return b"".join(parts)
        buffer = bytearray()
        while len(buffer) < size:
            chunk = self._next()
            if not chunk:
                break
            buffer += chunk
        if len(buffer) > size:
            self._pending = bytes(buffer[size:])
            del buffer[size:]
        return bytes(buffer)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._next():
            yield chunk

    async def _anext(self) -> bytes:
        if self._pending or self._done or self._read_chunk_async is None:
            return self._next()
        chunk = await self._read_chunk_async()
        if not chunk:
            self._done = True
        return chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self._anext():
            yield chunk

    async def aread(self) -> bytes:
        """Read everything that is left (async)."""
        parts = []
        while chunk := await self._anext():
            parts.append(chunk)
        return b"".join(parts)


def _decode_path(conn: Connection) -> tuple[str, BadRequest | None]:
    raw = conn.path_bytes
    try:
        if conn.path_is_encoded and b"%" in raw:
            return unquote_strict(raw, "URL path"), None
        return raw.decode("utf-8"), None
    except BadRequest as exc:
        return raw.decode("utf-8", "replace"), exc
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), BadRequest("Invalid UTF-8 in the URL path.")


class Request:
    """The incoming request, as a view sees it through ``ambi.request``.

    Mirrors Flask's request API: ``method``, ``path``, ``args``, ``headers``,
    ``cookies``, ``get_json()``, ``get_data()``, ``url`` and friends.
    """

    __slots__ = (
        "__dict__",
        "_limits_config",
        "_max_form_memory_size",
        "_max_form_part_header_size",
        "_max_form_parts",
        "connection",
        "json_loads",
        "max_content_length",
        "method",
        "path",
        "path_error",
        "root_path",
        "routing_exception",
        "scheme",
        "url_rule",
        "view_args",
    )

    #: The host names this request may be for (``TRUSTED_HOSTS``; ``None``: any). The app
    #: sets it when configured; :attr:`host` checks it.
    trusted_hosts: list[str] | None = None
    #: The largest body accepted, checked while reading (``None``: no limit); set it in a
    #: ``before_request`` hook to change it for one request (``MAX_CONTENT_LENGTH``).
    max_content_length: int | None
    # The form limits set on this request; unset: read from ``_limits_config`` (the app's
    # config, set by the app) when a form is parsed, else the defaults.
    _max_form_memory_size: int | None
    _max_form_parts: int | None
    _max_form_part_header_size: int | None
    _limits_config: Mapping[str, Any]
    # What a request makes on first use, or changes only when its body is read. PERF: class
    # defaults, not set per request (benchmarks/inprocess.py, plaintext).
    _body_read: int = 0
    _body_consumed: bool = False
    _form: ImmutableMultiDict[str, str] | None = None
    _files: ImmutableMultiDict[str, FileStorage] | None = None
    _stream: RequestStream | None = None
    _args: ImmutableMultiDict[str, str] | None = None
    _headers: Headers | None = None
    _cookies: ImmutableMultiDict[str, str] | None = None
    _cached_data: bytes | None = None
    _cached_json: tuple[Any, Any] | None = None

    def __init__(
        self,
        connection: Connection,
        max_content_length: int | None = DEFAULT_MAX_CONTENT_LENGTH,
        json_loads: Callable[[bytes], Any] = _stdlib_json.loads,
    ) -> None:
        self.connection = connection
        self.json_loads = json_loads
        self.method = connection.method
        self.scheme = connection.scheme
        self.root_path = connection.root_path
        raw_path = connection.path_bytes
        if connection.path_is_encoded and b"%" in raw_path:
            self.path, self.path_error = _decode_path(connection)
        else:
            # PERF: _decode_path's common case inlined (benchmarks/inprocess.py, every
            # scenario).
            try:
                self.path = raw_path.decode("utf-8")
                self.path_error = None
            except UnicodeDecodeError:
                self.path, self.path_error = _decode_path(connection)
        self.max_content_length = max_content_length
        self.url_rule: Rule | None = None
        self.view_args: dict[str, Any] | None = None
        self.routing_exception: Exception | None = self.path_error

    def __repr__(self) -> str:
        try:
            url = self.url
        except BadRequest:  # an invalid or untrusted Host
            url = self.full_path.rstrip("?")
        return f"<Request {url!r} [{self.method}]>"

    # -- URL -----------------------------------------------------------------------------

    @property
    def environ(self) -> dict[str, Any]:
        """The WSGI environ; under ASGI a WSGI-style dictionary built from the scope."""
        return self.connection.environ

    @property
    def query_string(self) -> bytes:
        """The raw query string, without the ``?``."""
        return self.connection.query_string

    @property
    def args(self) -> ImmutableMultiDict[str, str]:
        """The parsed query string. Bad percent-encoding or UTF-8 raises a 400."""
        if self._args is None:
            self._args = parse_query_string(self.connection.query_string)
        return self._args

    @property
    def full_path(self) -> str:
        """``path`` plus ``?`` and the query string (always with the ``?``, like Flask)."""
        return f"{self.path}?{self.connection.query_string.decode('latin-1')}"

    @cached_property
    def host(self) -> str:
        """The host the client asked for, ``host[:port]``: the ``Host`` header, else the
        server's address; the scheme's default port left out (as Werkzeug's ``get_host``).

        A value that is not a valid host (characters a host name, IP address and port
        cannot have) raises :class:`~ambi.exceptions.BadRequest`, a 400, so it never
        reaches a URL; with :attr:`trusted_hosts` set (``TRUSTED_HOSTS``), so does a host
        not in it (:class:`~ambi.exceptions.SecurityError`). ``""`` when the request names
        no host at all (HTTP/1.0 without ``Host``, on a Unix socket).
        """
        host = self.headers.get("host")
        if not host:  # none (HTTP/1.0), or empty
            server = self.connection.server
            if server is None or server[0][:1] in ("", "/"):
                host = ""  # no address either (a Unix socket's path)
            else:
                name, port = server
                if ":" in name and name[:1] != "[":
                    name = f"[{name}]"  # an IPv6 server address
                host = name if port is None else f"{name}:{port}"
        scheme = self.scheme
        if scheme in ("http", "ws"):
            host = host.removesuffix(":80")
        elif scheme in ("https", "wss"):
            host = host.removesuffix(":443")
        trusted = self.trusted_hosts
        if trusted is not None:
            if not host_is_trusted(host, trusted):
                raise SecurityError()
        elif host and split_host(host) is None:
            raise BadRequest("The Host header is not a valid host name.")
        return host

    @property
    def host_url(self) -> str:
        """``scheme://host/``."""
        return f"{self.scheme}://{self.host}/"

    @property
    def url_root(self) -> str:
        """``scheme://host/root_path/``: the application's root URL."""
        return f"{self.scheme}://{self.host}{self.root_path.rstrip('/')}/"

    @property
    def base_url(self) -> str:
        """The URL without the query string."""
        from .http import url_quote

        return f"{self.scheme}://{self.host}{url_quote(self.root_path + self.path)}"

    @property
    def url(self) -> str:
        """The full URL, query string included."""
        query = self.connection.query_string
        base = self.base_url
        return f"{base}?{query.decode('latin-1')}" if query else base

    @property
    def is_secure(self) -> bool:
        """True over HTTPS or WSS."""
        return self.scheme in ("https", "wss")

    @property
    def remote_addr(self) -> str | None:
        """The client's address as the server saw it."""
        client = self.connection.client
        return client[0] if client else None

    @property
    def endpoint(self) -> str | None:
        """The matched rule's endpoint, or ``None`` if matching failed."""
        return self.url_rule.endpoint if self.url_rule is not None else None

    @property
    def blueprint(self) -> str | None:
        """The blueprint name of the matched endpoint (the part before the last dot)."""
        endpoint = self.endpoint
        if endpoint is not None and "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    @property
    def blueprints(self) -> list[str]:
        """The matched endpoint's blueprints, innermost first (``["shop.admin", "shop"]``)."""
        from ._pipeline import blueprint_chain

        return list(blueprint_chain(self.endpoint))

    # -- headers -------------------------------------------------------------------------

    @property
    def headers(self) -> Headers:
        """The request headers: case-insensitive, multi-valued."""
        if self._headers is None:
            self._headers = self.connection.make_headers()
        return self._headers

    @property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """Cookies sent by the client."""
        if self._cookies is None:
            self._cookies = parse_cookie(self.headers.get("cookie"))
        return self._cookies

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header as sent."""
        return self.headers.get("content-type")

    @property
    def mimetype(self) -> str:
        """The content type without parameters, lower-cased (``""`` if absent)."""
        return parse_options_header(self.content_type)[0]

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The content type's parameters, e.g. ``{"charset": "utf-8"}``."""
        return parse_options_header(self.content_type)[1]

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as an int, ``None`` if absent or invalid."""
        value = self.headers.get("content-length")
        if value is None or not value.isdigit():
            return None
        return int(value)

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` header (a plain string)."""
        return self.headers.get("user-agent", "")

    @property
    def is_json(self) -> bool:
        """True for ``application/json`` and ``application/*+json`` bodies."""
        mimetype = self.mimetype
        return mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )

    # -- body ----------------------------------------------------------------------------

    def _check_declared_length(self) -> None:
        limit = self.max_content_length
        declared = self.content_length
        if limit is not None and declared is not None and declared > limit:
            raise RequestEntityTooLarge(
                f"The request body is {declared} bytes; the limit is {limit} bytes"
                " (MAX_CONTENT_LENGTH)."
            )

    def _count(self, chunk: bytes) -> bytes:
        self._body_read += len(chunk)
        limit = self.max_content_length
        if limit is not None and self._body_read > limit:
            raise RequestEntityTooLarge(
                f"The request body is larger than the limit of {limit} bytes (MAX_CONTENT_LENGTH)."
            )
        return chunk

    def _read_chunk(self) -> bytes:
        """The next body chunk, counted against ``max_content_length``."""
        if self._body_read == 0:
            self._check_declared_length()
        return self._count(self.connection.read_body_chunk())

    async def _read_chunk_async(self) -> bytes:
        if self._body_read == 0:
            self._check_declared_length()
        return self._count(await self.connection.read_body_chunk_async())

    def _take_body(self) -> Callable[[], bytes]:
        """Hand the body to one consumer: ``get_data``, the form parser or ``stream``."""
        if self._cached_data is not None:
            chunks = [self._cached_data]
            return lambda: chunks.pop() if chunks else b""
        if self._body_consumed:
            return lambda: b""
        self._body_consumed = True
        return self._read_chunk

    def get_data(self, cache: bool = True, as_text: bool = False) -> Any:
        """The raw body (bytes, or str with ``as_text``), read once and cached.

        Raises :class:`~ambi.exceptions.RequestEntityTooLarge` (413) past
        ``max_content_length``, checked while reading. After ``form``, ``files`` or
        ``stream`` consumed the body, this is ``b""`` (as in Flask).
        """
        data = self._cached_data
        if data is None:
            read = self._take_body()
            chunks: list[bytes] = []
            while chunk := read():
                chunks.append(chunk)
            data = b"".join(chunks)
            if cache:
                self._cached_data = data
        if as_text:
            return data.decode("utf-8", "replace")
        return data

    @property
    def data(self) -> bytes:
        """The raw body as bytes (see :meth:`get_data`)."""
        data: bytes = self.get_data()
        return data

    @property
    def stream(self) -> RequestStream:
        """The body as it arrives, not buffered: ``read(size)`` and iteration in a ``def``
        view; ``async for chunk in request.stream`` (or ``await .aread()``) in an
        ``async def`` view. Routes registered with ``stream_request=True`` get the body
        this way without any of it being read ahead.
        """
        if self._stream is None:
            if self._cached_data is not None or self._body_consumed:
                self._stream = RequestStream(self._take_body(), None)
            else:
                self._body_consumed = True
                self._stream = RequestStream(self._read_chunk, self._read_chunk_async)
        return self._stream

    # -- form limits ---------------------------------------------------------------------
    # PERF: read from the config only when a form is parsed, not copied onto every request
    # (benchmarks/inprocess.py, every scenario: three config reads and stores less).

    def _form_limit(self, key: str, default: int) -> int | None:
        try:
            config = self._limits_config
        except AttributeError:  # a request not made by an app
            return default
        value: int | None = config[key]
        return value

    @property
    def max_form_memory_size(self) -> int | None:
        """The largest non-file multipart field, or url-encoded body: the app's
        ``MAX_FORM_MEMORY_SIZE`` (500 000 without an app) unless set on this request
        (e.g. in a ``before_request`` hook)."""
        try:
            return self._max_form_memory_size
        except AttributeError:
            return self._form_limit("MAX_FORM_MEMORY_SIZE", 500_000)

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self._max_form_memory_size = value

    @property
    def max_form_parts(self) -> int | None:
        """The most multipart parts or url-encoded fields: the app's ``MAX_FORM_PARTS``
        (1000 without an app) unless set on this request."""
        try:
            return self._max_form_parts
        except AttributeError:
            return self._form_limit("MAX_FORM_PARTS", 1000)

    @max_form_parts.setter
    def max_form_parts(self, value: int | None) -> None:
        self._max_form_parts = value

    @property
    def max_form_part_header_size(self) -> int | None:
        """The largest headers of one multipart part: the app's
        ``MAX_FORM_PART_HEADER_SIZE`` (8192 without an app) unless set on this request."""
        try:
            return self._max_form_part_header_size
        except AttributeError:
            return self._form_limit("MAX_FORM_PART_HEADER_SIZE", 8192)

    @max_form_part_header_size.setter
    def max_form_part_header_size(self, value: int | None) -> None:
        self._max_form_part_header_size = value

    def _load_form_data(self) -> None:
        if self._form is not None:
            return
        from .formparser import FormDataParser, FormLimits

        content_type = self.content_type
        mimetype = self.mimetype
        if mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            self._form, self._files = ImmutableMultiDict(), ImmutableMultiDict()
            return
        parser = FormDataParser(
            FormLimits(
                self.max_form_memory_size, self.max_form_parts, self.max_form_part_header_size
            )
        )
        self._form, self._files = parser.parse(self._take_body(), content_type)

    @property
    def form(self) -> ImmutableMultiDict[str, str]:
        """Fields of a url-encoded or multipart form body (not files). Parsed on first use,
        as the body arrives; limits raise 413 and malformed bodies 400."""
        self._load_form_data()
        assert self._form is not None
        return self._form

    @property
    def files(self) -> ImmutableMultiDict[str, FileStorage]:
        """Uploaded files of a multipart form body, as :class:`FileStorage` objects."""
        self._load_form_data()
        assert self._files is not None
        return self._files

    @property
    def values(self) -> ImmutableMultiDict[str, str]:
        """``args`` and ``form`` combined (only ``args`` for GET, as in Flask)."""
        if self.method == "GET":
            return self.args
        combined: MultiDict[str, str] = MultiDict(self.args)
        for key, value in self.form.items(multi=True):
            combined.add(key, value)
        return ImmutableMultiDict(combined)

    def close(self) -> None:
        """Close uploaded files' temporary files (Ambi calls this when the request ends)."""
        if self._files:
            for _, storage in self._files.items(multi=True):
                storage.close()

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """Parse the body as JSON.

        Without ``force`` the content type must be JSON, else 415. Malformed JSON gives a
        400 with the parser's message. ``silent`` returns ``None`` instead of failing.
        """
        if cache and self._cached_json is not None:
            return self._cached_json[silent]
        if not (force or self.is_json):
            if silent:
                return None
            return self.on_json_loading_failed(None)
        data: bytes = self.get_data(cache=cache)
        try:
            value = self.json_loads(data)
        except (ValueError, RecursionError) as exc:
            if silent:
                return None
            # "[[[[..." nested deeper than the interpreter recurses is bad input too.
            error = exc if isinstance(exc, ValueError) else ValueError("nested too deeply")
            return self.on_json_loading_failed(error)
        if cache:
            self._cached_json = (value, value)
        return value

    @property
    def json(self) -> Any:
        """The parsed JSON body (see :meth:`get_json`)."""
        return self.get_json()

    def on_json_loading_failed(self, error: ValueError | None) -> Any:
        """Called when :meth:`get_json` fails; raises 400 (bad JSON) or 415 (not JSON)."""
        if error is not None:
            raise BadRequest(f"Failed to decode JSON object: {error}")
        raise UnsupportedMediaType(
            "Did not attempt to load JSON data because the request Content-Type was not"
            " 'application/json'."
        )


_STATUS_LINES: dict[int, str] = {}


def _status_line(code: int) -> str:
    """``"200 OK"`` for 200 (memoised: PERF, every response asks; benchmarks/inprocess.py)."""
    line = _STATUS_LINES.get(code)
    if line is None:
        line = _STATUS_LINES[code] = f"{code} {HTTP_STATUS_CODES.get(code, 'UNKNOWN').upper()}"
    return line


class Response:
    """An HTTP response: a status, headers and a body.

    The body is ``bytes``, or for streaming a sync or async iterable of ``bytes``/``str``::

        Response("hello", 201, {"X-Thing": "1"}, mimetype="text/plain")
        Response(generate_rows(), mimetype="text/csv")     # streams
    """

    default_status: ClassVar[int] = 200
    default_mimetype: ClassVar[str | None] = "text/html"
    #: The ``call_on_close`` callbacks (a list once there is one; PERF: none made per
    #: response, benchmarks/inprocess.py).
    _on_close: list[Any] | tuple[()] = ()
    #: The body as bytes, or ``None`` while it streams from :attr:`response`.
    _data: bytes | None
    #: The streamed body (a sync or async iterable), or ``None`` for a bytes body.
    response: Iterable[str | bytes] | AsyncIterable[str | bytes] | None

    def __init__(
        self,
        response: str
        | bytes
        | bytearray
        | Iterable[str | bytes]
        | AsyncIterable[str | bytes]
        | None = None,
        status: int | str | HTTPStatus | None = None,
        headers: HeadersValue | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
    ) -> None:
        if headers is None:
            # PERF: the common case (a view's str or dict made into a response) builds the
            # header list directly; only a caller's content type needs checking (a
            # mimetype's was checked when it was memoised) (benchmarks/inprocess.py,
            # plaintext and JSON).
            if content_type is None:
                mimetype = mimetype or self.default_mimetype
                if mimetype is not None:
                    content_type = _CONTENT_TYPES.get(mimetype) or _content_type_for(mimetype)
            elif content_type.__class__ is not str or content_type not in _CHECKED_VALUES:
                content_type = _check_value(content_type)
            self.headers = Headers._adopt(
                [("Content-Type", content_type)] if content_type is not None else []
            )
        else:
            self.headers = headers if isinstance(headers, Headers) else Headers(headers)
            if content_type is None:
                if mimetype is None and "content-type" not in self.headers:
                    mimetype = self.default_mimetype
                if mimetype is not None:
                    content_type = _content_type_for(mimetype)
            if content_type is not None:
                self.headers["Content-Type"] = content_type
        self.status_code = self.default_status
        if status is not None:
            self.status = status
        self.response = None
        cls = response.__class__
        if (
            headers is None
            and (cls is str or cls is bytes)
            and type(self).set_data is Response.set_data
        ):
            # PERF: a new header list has no Content-Length yet: append it as set_data
            # would (benchmarks/inprocess.py, plaintext).
            data: bytes = response.encode() if cls is str else response  # type: ignore[union-attr,assignment]
            self._data = data
            self.headers._list.append(("Content-Length", str(len(data))))
            return
        self._data = None
        if response is None:
            self._data = b""
        elif isinstance(response, (str, bytes, bytearray)):
            self.set_data(response)
        else:
            self.response = response

    def __repr__(self) -> str:
        body = "streamed" if self.is_streamed else f"{len(self._data or b'')} bytes"
        return f"<{type(self).__name__} {body} [{self.status}]>"

    # -- status ---------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """The status line, e.g. ``"200 OK"``; assign an int, a ``"404 NOT FOUND"`` string or
        an ``HTTPStatus``."""
        return _status_line(self.status_code)

    @status.setter
    def status(self, value: int | str | HTTPStatus) -> None:
        if isinstance(value, int):
            code = int(value)
        elif isinstance(value, str):
            head = value.strip().split(None, 1)[0] if value.strip() else ""
            if not head.isdigit():
                raise ValueError(f"Invalid status {value!r}: it must start with a number.")
            code = int(head)
        else:
            raise TypeError(f"The status must be an int or str, not {type(value).__name__}.")
        if not 100 <= code <= 999:
            raise ValueError(f"Invalid status code {code}: it must be between 100 and 999.")
        self.status_code = code

    # -- body -----------------------------------------------------------------------------

    @property
    def is_streamed(self) -> bool:
        """True when the body is an iterator, sent chunk by chunk."""
        return self._data is None

    def get_data(self, as_text: bool = False) -> Any:
        """The body; a sync streaming body is consumed and buffered first."""
        if self._data is None:
            stream = self.response
            if stream is None or not isinstance(stream, Iterable):
                raise RuntimeError(
                    "This response streams an async iterator; it cannot be read synchronously."
                )
            self._data = b"".join(
                chunk.encode() if isinstance(chunk, str) else chunk for chunk in stream
            )
            self.response = None
        return self._data.decode() if as_text else self._data

    def set_data(self, value: str | bytes | bytearray) -> None:
        """Replace the body and set ``Content-Length``."""
        data = value.encode() if isinstance(value, str) else bytes(value)
        self._data = data
        self.response = None
        self.headers["Content-Length"] = str(len(data))

    @property
    def data(self) -> bytes:
        """The body as bytes (see :meth:`get_data`)."""
        data: bytes = self.get_data()
        return data

    @data.setter
    def data(self, value: str | bytes) -> None:
        self.set_data(value)

    def iter_encoded(self) -> Iterator[bytes]:
        """Iterate a sync body as bytes."""
        if self._data is not None:
            yield self._data
            return
        stream = self.response
        if not isinstance(stream, Iterable):
            raise RuntimeError("This response streams an async iterator; use async iteration.")
        for chunk in stream:
            yield chunk.encode() if isinstance(chunk, str) else chunk

    def prepare_headers(self) -> Headers:
        """The headers to send: ``Content-Length`` added for a bytes body, except on
        statuses that have no body (1xx, 204, 304)."""
        headers = self.headers
        if type(headers) is not Headers:
            # ``response.headers = {...}`` (or pairs): checked on the way out as any header
            # is (Werkzeug copies them into Headers here too), so no CR, LF or NUL is sent.
            headers = self.headers = _as_headers(headers)
        code = self.status_code
        if code < 200 or code in (204, 304):
            if self._data is not None:
                self._data = b""
            headers.remove("Content-Length")
        elif self._data is not None:
            # PERF: Headers.__contains__ inlined (benchmarks/inprocess.py, plaintext).
            for name, _ in headers._list:
                if name.lower() == "content-length":
                    break
            else:
                headers["Content-Length"] = str(len(self._data))
        return headers

    def call_on_close(self, func: Any) -> Any:
        """Register ``func`` to be called once the body has been sent (or abandoned)."""
        if isinstance(self._on_close, list):
            self._on_close.append(func)
        else:
            self._on_close = [func]
        return func

    def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """Parse the body as JSON (useful in tests)."""
        if not (force or self.is_json):
            return None
        try:
            return _stdlib_json.loads(self.get_data())
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self) -> Any:
        """The body parsed as JSON, ``None`` if the mimetype is not JSON."""
        return self.get_json()

    # -- headers --------------------------------------------------------------------------

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header."""
        return self.headers.get("content-type")

    @content_type.setter
    def content_type(self, value: str) -> None:
        self.headers["Content-Type"] = value

    @property
    def mimetype(self) -> str | None:
        """The content type without parameters; assigning adds ``charset=utf-8`` for text."""
        content_type = self.content_type
        return parse_options_header(content_type)[0] if content_type else None

    @mimetype.setter
    def mimetype(self, value: str) -> None:
        self.headers["Content-Type"] = _content_type_for(value)

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The content type's parameters."""
        return parse_options_header(self.content_type)[1]

    @property
    def is_json(self) -> bool:
        """True when the mimetype is JSON."""
        mimetype = self.mimetype or ""
        return mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as an int."""
        value = self.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    @content_length.setter
    def content_length(self, value: int) -> None:
        self.headers["Content-Length"] = str(int(value))

    @property
    def location(self) -> str | None:
        """The ``Location`` header."""
        return self.headers.get("location")

    @location.setter
    def location(self, value: str) -> None:
        self.headers["Location"] = value

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: timedelta | int | None = None,
        expires: str | datetime | int | float | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header (Flask's signature)."""
        self.headers.add(
            "Set-Cookie",
            dump_cookie(
                key,
                value,
                max_age=max_age,
                expires=expires,
                path=path,
                domain=domain,
                secure=secure,
                httponly=httponly,
                samesite=samesite,
                partitioned=partitioned,
            ),
        )

    def delete_cookie(
        self,
        key: str,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Expire a cookie in the browser."""
        self.set_cookie(
            key,
            expires=0,
            max_age=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )


def _as_headers(value: Any) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


_CONTENT_TYPES: dict[str, str] = {}


#: Content types checked as header values (those of the mimetypes memoised above).
_CHECKED_VALUES: set[str] = set()


def _content_type_for(mimetype: str) -> str:
    """The ``Content-Type`` for ``mimetype``: text types get ``; charset=utf-8``; checked
    as a header value (:class:`ValueError` for CR, LF or NUL).

    PERF: memoised (a few hundred mimetypes at most), since every response asks
    (benchmarks/inprocess.py)."""
    content_type = _CONTENT_TYPES.get(mimetype)
    if content_type is None:
        content_type = _check_value(_compute_content_type(mimetype))
        if len(_CONTENT_TYPES) < 512:
            _CONTENT_TYPES[mimetype] = content_type
            _CHECKED_VALUES.add(content_type)
    return content_type


def text_response(
    text: str, mimetype: str | None = None, response_class: type[Response] | None = None
) -> Response:
    """``response_class(text, mimetype=mimetype)`` (``Response`` by default). For the
    :class:`Response` class itself the same object is made without ``__init__``'s
    branches; a subclass is called, so that its ``__init__`` runs.

    PERF: a view's ``str`` made into a response on the direct path
    (``_pipeline.direct_response``), and JSON responses (``json.py``)
    (benchmarks/inprocess.py, plaintext and JSON).
    """
    if response_class is not None and response_class is not Response:
        return response_class(text) if mimetype is None else response_class(text, mimetype=mimetype)
    response = object.__new__(Response)
    data = text.encode()
    mimetype = mimetype or Response.default_mimetype
    if mimetype is None:
        pairs = [("Content-Length", str(len(data)))]
    else:
        content_type = _CONTENT_TYPES.get(mimetype) or _content_type_for(mimetype)
        pairs = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    response.headers = Headers._adopt(pairs)
    response.status_code = Response.default_status
    response.response = None
    response._data = data
    return response


def _compute_content_type(mimetype: str) -> str:
    if "charset=" not in mimetype and (
        mimetype.startswith("text/")
        or mimetype in ("application/xml", "application/javascript", "application/ecmascript")
        or mimetype.endswith("+xml")
    ):
        return f"{mimetype}; charset=utf-8"
    return mimetype
