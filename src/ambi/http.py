"""HTTP parsing and formatting helpers: status phrases, query strings, header values,
cookies and dates.

Everything here turns strings and bytes into values and back; nothing does I/O. Parsing
of client input is strict where a wrong guess would be a security or data problem (percent
escapes and UTF-8 in query strings raise :class:`~ambi.exceptions.BadRequest`, a 400) and
tolerant where browsers are sloppy and the safe reading is clear (cookies and header
parameters never raise).
"""

from __future__ import annotations

import functools
import re
import time
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, quote_plus, unquote_to_bytes, urlsplit, urlunsplit

from .datastructures import ImmutableMultiDict, MultiDict, _iter_multi_items
from .exceptions import BadRequest, RequestEntityTooLarge

__all__ = [
    "HTTP_STATUS_CODES",
    "dump_cookie",
    "dump_options_header",
    "host_is_trusted",
    "http_date",
    "iri_to_uri",
    "parse_cookie",
    "parse_date",
    "parse_list_header",
    "parse_options_header",
    "parse_query_string",
    "quote_header_value",
    "split_host",
    "unquote_header_value",
    "unquote_strict",
    "url_encode",
    "url_quote",
]

#: Reason phrases of the standard status codes (as in Python's :class:`http.HTTPStatus`,
#: whose wording Werkzeug and Flask use too).
HTTP_STATUS_CODES: dict[int, str] = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    306: "Switch Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a teapot",
    421: "Misdirected Request",
    422: "Unprocessable Entity",
    423: "Locked",
    424: "Failed Dependency",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required",
}

# --------------------------------------------------------------------------------------------
# Percent-decoding and query strings

# Every two-hex-digit escape body ("2F", "2f", ...) mapped to its byte. A dict lookup both
# validates and decodes, and unlike int(x, 16) it refuses "+1", " 1" or "_1".
_HEX_TO_BYTE: dict[bytes, int] = {
    f"{a}{b}".encode(): int(f"{a}{b}", 16)
    for a in "0123456789abcdefABCDEF"
    for b in "0123456789abcdefABCDEF"
}


def unquote_strict(raw: bytes, what: str) -> str:
    """Percent-decode ``raw`` and decode the result as UTF-8, refusing anything malformed.

    A ``%`` not followed by two hex digits, or bytes that are not UTF-8, raise
    :class:`~ambi.exceptions.BadRequest` whose description names ``what``:

    >>> unquote_strict(b"caf%C3%A9", "URL path")
    'café'
    >>> unquote_strict(b"100%", "URL path")
    Traceback (most recent call last):
    ...
    ambi.exceptions.BadRequest: 400 Bad Request: Invalid percent-encoding in the URL path.

    ``+`` is left alone (it means a space only in form encoding).
    """
    if b"%" in raw:
        parts = raw.split(b"%")
        buf = bytearray(parts[0])
        for i in range(1, len(parts)):
            part = parts[i]
            byte = _HEX_TO_BYTE.get(part[:2])
            if byte is None:
                raise BadRequest(f"Invalid percent-encoding in the {what}.")
            buf.append(byte)
            buf += part[2:]
        raw = bytes(buf)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"Invalid UTF-8 in the {what}.") from None


def parse_query_string(
    raw: bytes | str, *, max_fields: int | None = None, what: str = "query string"
) -> ImmutableMultiDict[str, str]:
    """Parse ``application/x-www-form-urlencoded`` data (a query string or a form body).

    Pairs are separated by ``&`` only (not ``;``), ``+`` is a space, empty pieces are
    skipped and a piece without ``=`` has the value ``""``:

    >>> parse_query_string(b"q=a+b&tag=x&tag=y&flag")
    ImmutableMultiDict([('q', 'a b'), ('tag', 'x'), ('tag', 'y'), ('flag', '')])

    Bad percent-escapes or invalid UTF-8 raise :class:`~ambi.exceptions.BadRequest` (the
    description names ``what``); more than ``max_fields`` pairs raise
    :class:`~ambi.exceptions.RequestEntityTooLarge`. A ``str`` is taken as text and encoded
    as UTF-8 first.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    lists: dict[str, list[str]] = {}
    if not raw:
        return ImmutableMultiDict._from_lists(lists)
    if b"%" not in raw and b"+" not in raw:
        # The common case: nothing to unescape, so decode once and split the text.
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"Invalid UTF-8 in the {what}.") from None
        pieces = text.split("&")
        if max_fields is not None and len(pieces) - pieces.count("") > max_fields:
            raise RequestEntityTooLarge("Too many fields.")
        for piece in pieces:
            if piece:
                key, _, value = piece.partition("=")
                values = lists.get(key)
                if values is None:
                    lists[key] = [value]
                else:
                    values.append(value)
        return ImmutableMultiDict._from_lists(lists)
    raw_pieces = raw.split(b"&")
    if max_fields is not None and len(raw_pieces) - raw_pieces.count(b"") > max_fields:
        raise RequestEntityTooLarge("Too many fields.")
    for raw_piece in raw_pieces:
        if raw_piece:
            raw_key, _, raw_value = raw_piece.replace(b"+", b" ").partition(b"=")
            key = unquote_strict(raw_key, what)
            value = unquote_strict(raw_value, what)
            values = lists.get(key)
            if values is None:
                lists[key] = [value]
            else:
                values.append(value)
    return ImmutableMultiDict._from_lists(lists)


def url_quote(s: str, safe: str = "/:@!$&'()*+,;=") -> str:
    """Percent-encode ``s`` (as UTF-8) for a URL path, keeping letters, digits, ``-._~``
    and the characters in ``safe``.

    >>> url_quote("/files/my report.pdf")
    '/files/my%20report.pdf'
    """
    return quote(s, safe=safe)


# What stays unescaped in query-string keys and values besides letters, digits and "-._~".
_QUERY_SAFE = "!$'()*,/:;?@"


def _quote_query(value: object) -> str:
    if isinstance(value, bytes):
        return quote_plus(value, safe=_QUERY_SAFE)
    return quote_plus(str(value), safe=_QUERY_SAFE)


def url_encode(
    obj: MultiDict[str, object] | Mapping[str, object] | Iterable[tuple[str, object]],
) -> str:
    """Build a query string from a mapping, a MultiDict or ``(key, value)`` pairs.

    ``None`` values are left out, a list or tuple value repeats the key, other values are
    turned into strings; spaces become ``+``:

    >>> url_encode({"q": "a b", "tag": ["x", "y"], "page": 2, "skip": None})
    'q=a+b&tag=x&tag=y&page=2'
    """
    return "&".join(
        f"{_quote_query(key)}={_quote_query(value)}"
        for key, value in _iter_multi_items(obj)
        if value is not None
    )


_USERINFO_SAFE = "%!$&'()*+,;="


def _netloc_to_ascii(
    hostname: str, port: int | None, username: str | None, password: str | None
) -> str:
    try:
        host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        host = quote(hostname, safe="")
    if ":" in host:
        host = f"[{host}]"
    if port is not None:
        host = f"{host}:{port}"
    if username is not None:
        auth = quote(username, safe=_USERINFO_SAFE)
        if password is not None:
            auth = auth + ":" + quote(password, safe=_USERINFO_SAFE)
        host = f"{auth}@{host}"
    return host


# Every character a URI may hold besides letters, digits and "_.-~" (which quote() keeps).
_URI_SAFE = "%!#$&'()*+,/:;=?@[]~"


def iri_to_uri(iri: str) -> str:
    """``iri`` made ASCII for a ``Location`` header, as Werkzeug's ``iri_to_uri``: the
    host in Punycode, other non-ASCII characters and spaces percent-encoded (as UTF-8),
    reserved characters and existing escapes kept. An ASCII URL without spaces or
    control characters is returned unchanged.

    >>> iri_to_uri("https://bücher.example/straße?q=ä b#top")
    'https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%A4%20b#top'
    """
    if iri.isascii() and iri.isprintable() and " " not in iri:
        return iri
    try:
        parts = urlsplit(iri)
    except ValueError:  # "http://[é": not a URL urlsplit can split; escape it whole
        return quote(iri, safe=_URI_SAFE)
    netloc = parts.netloc
    if parts.hostname:
        try:
            netloc = _netloc_to_ascii(parts.hostname, parts.port, parts.username, parts.password)
        except ValueError:  # a port that is not a number: escaped as it is
            netloc = quote(netloc, safe="%!$&'()*+,;=:@[]")
    uri = urlunsplit(
        (
            parts.scheme,
            netloc,
            quote(parts.path, safe="%!$&'()*+,/:;=@"),
            quote(parts.query, safe="%!$&'()*+,/:;=?@"),
            quote(parts.fragment, safe="%!#$&'()*+,/:;=?@"),
        )
    )
    # What is still not URI text (a control character or space in the scheme or host of
    # a malformed URL) is escaped too: the result always fits in a header.
    return quote(uri, safe=_URI_SAFE)


# --------------------------------------------------------------------------------------------
# Hosts

# A Host header value: a name or IPv4 address (letters, digits, "-", ".", "_"; Werkzeug
# leaves out "_", which container host names use), or an IPv6 address in brackets, with an
# optional port.
_host_re = re.compile(r"([a-z0-9._-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([0-9]{1,5}))?", re.I)


def split_host(value: str | None) -> tuple[str, int | None] | None:
    """A ``Host`` value checked and split: ``(hostname, port)``, the name lower-cased
    (IPv6 in brackets), ``port`` ``None`` when absent; ``None`` if the value is not a host
    (other characters, a port outside 1-65535).

    >>> split_host("Example.COM:8080"), split_host("[::1]"), split_host("evil.com/x")
    (('example.com', 8080), ('[::1]', None), None)
    """
    if not value or len(value) > 300:
        return None
    found = _host_re.fullmatch(value)
    if found is None:
        return None
    name, port_text = found.groups()
    if port_text is None:
        return name.lower(), None
    port = int(port_text)
    if not 1 <= port <= 65535:
        return None
    return name.lower(), port


@functools.lru_cache(maxsize=16)
def _trusted_names(trusted: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """``TRUSTED_HOSTS`` entries as ``(ascii name, matches subdomains)``; cached, since
    the same list is checked on every request."""
    names = []
    for entry in trusted:
        suffix = entry.startswith(".")
        name = entry[1:] if suffix else entry
        if name.count(":") > 1 and not name.startswith("["):
            name = f"[{name}]"  # a bare IPv6 address
        elif not name.startswith("["):
            name = name.partition(":")[0]
        elif "]:" in name:
            name = name.partition("]:")[0] + "]"
        try:
            name = name.encode("idna").decode("ascii") if not name.isascii() else name
        except UnicodeError:
            continue  # not a host name: it matches nothing
        names.append((name.lower().rstrip("."), suffix))
    return tuple(names)


def host_is_trusted(hostname: str | None, trusted_list: Iterable[str]) -> bool:
    """Whether ``hostname`` (a ``Host`` value, ``host[:port]``) is one of
    ``trusted_list`` (``TRUSTED_HOSTS``), as Flask 3.1 checks it: the port is ignored,
    names compare case-insensitively (non-ASCII names in Punycode), and an entry starting
    with a dot also matches every subdomain. A value that is not a valid host, and any
    value against an empty list, is not trusted.

    >>> trusted = ["example.com", ".example.org"]
    >>> [host_is_trusted(h, trusted) for h in ("example.com:8443", "api.example.org",
    ...                                       "example.org", "evil.com", "api.example.com")]
    [True, True, True, False, False]
    """
    split = split_host(hostname)
    if split is None:
        return False
    name = split[0]
    if isinstance(trusted_list, str):
        trusted_list = [trusted_list]
    for ref, suffix in _trusted_names(tuple(trusted_list)):
        if name == ref or (suffix and name.endswith(f".{ref}")):
            return True
    return False


# --------------------------------------------------------------------------------------------
# Header values

_token_re = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_unescape_header_re = re.compile(r'\\(["\\])')


def quote_header_value(value: object, allow_token: bool = True) -> str:
    """Quote ``value`` for a header if it is not a plain token (always, if not
    ``allow_token``), escaping ``\\`` and ``"``.

    >>> quote_header_value("utf-8"), quote_header_value('my "file".txt')
    ('utf-8', '"my \\\\"file\\\\".txt"')
    """
    text = str(value)
    if allow_token and _token_re.fullmatch(text) is not None:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote_header_value(value: str) -> str:
    """Remove the double quotes around a header value and its ``\\"`` / ``\\\\`` escapes.

    A backslash before any other character is kept, so a Windows path sent unescaped in a
    quoted ``filename`` (as browsers do) comes through intact. Unquoted values are returned
    as they are.
    """
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        if "\\" in inner:
            return _unescape_header_re.sub(r"\1", inner)
        return inner
    return value


# RFC 8187 attr-char, besides letters, digits and the "-._~" that quote() always keeps.
_ATTR_CHAR_SAFE = "!#$&+^`|"


def dump_options_header(header: str | None, options: Mapping[str, object]) -> str:
    """Format a header value with ``; key=value`` parameters (the inverse of
    :func:`parse_options_header`).

    Values are quoted when needed and ``None`` values are left out. A non-ASCII value is
    written in the RFC 8187 form ``key*=UTF-8''...``, which every client understands and
    which keeps the header Latin-1 safe:

    >>> dump_options_header("attachment", {"filename": "résumé.pdf"})
    "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    """
    segments = [] if header is None else [header]
    for key, value in options.items():
        if value is None:
            continue
        text = str(value)
        if key.endswith("*") or not text.isascii():
            if not key.endswith("*"):
                key += "*"
                text = "UTF-8''" + quote(text, safe=_ATTR_CHAR_SAFE)
            segments.append(f"{key}={text}")
        else:
            segments.append(f"{key}={quote_header_value(text)}")
    return "; ".join(segments)


# One "; key=value" parameter: a key (which may end with "*", "*N" or "*N*" for RFC 2231
# forms), then optionally "=" and a quoted string or anything up to the next ";".
_option_re = re.compile(
    r"""
    \s*(?P<key>[^\s;="]+)\s*
    (?:=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^;]*?))?
    \s*(?:;|\Z)
    """,
    re.VERBOSE | re.DOTALL,
)
_rfc2231_key_re = re.compile(r"(?P<name>[^*]+)(?:\*(?P<index>[0-9]+))?(?P<ext>\*)?")


def _decode_bytes(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _split_charset(value: str) -> tuple[str, str]:
    """Split an RFC 2231 ``charset'language'data`` value into ``(charset, data)``."""
    charset, sep, rest = value.partition("'")
    if not sep:
        return "utf-8", value
    _language, sep, data = rest.partition("'")
    return charset or "utf-8", data if sep else rest


def _decode_rfc2231(value: str) -> str:
    charset, data = _split_charset(unquote_header_value(value))
    return _decode_bytes(unquote_to_bytes(data), charset)


def _join_continuations(parts: dict[int, tuple[str, bool]]) -> str:
    charset = "utf-8"
    data = bytearray()
    for position, index in enumerate(sorted(parts)):
        value, extended = parts[index]
        value = unquote_header_value(value)
        if extended:
            if position == 0:
                charset, value = _split_charset(value)
            data += unquote_to_bytes(value)
        else:
            data += value.encode("utf-8")
    return _decode_bytes(bytes(data), charset)


def parse_options_header(value: str | None) -> tuple[str, dict[str, str]]:
    """Split a header like ``Content-Type`` or ``Content-Disposition`` into its value and
    parameters.

    The value and parameter names are lower-cased; quoted strings are unquoted; the
    RFC 2231 / RFC 8187 forms ``name*=charset'lang'percent-encoded`` (which take precedence
    over a plain ``name``) and ``name*0=...; name*1=...`` continuations are decoded.
    Malformed pieces are skipped; this never raises.

    >>> parse_options_header("text/html; charset=UTF-8")
    ('text/html', {'charset': 'UTF-8'})
    >>> parse_options_header("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf")
    ('attachment', {'filename': '€ rates.pdf'})
    """
    if not value:
        return "", {}
    main, sep, rest = value.partition(";")
    main = main.strip().lower()
    params: dict[str, str] = {}
    if not sep:
        return main, params
    extended: dict[str, str] = {}
    continued: dict[str, dict[int, tuple[str, bool]]] = {}
    pos = 0
    end = len(rest)
    while pos < end:
        match = _option_re.match(rest, pos)
        if match is None:
            # Junk such as a stray quote: skip to the next parameter.
            next_pos = rest.find(";", pos)
            if next_pos == -1:
                break
            pos = next_pos + 1
            continue
        pos = match.end()
        key = match["key"].lower()
        raw = match["value"]
        if raw is None:
            continue
        key_match = _rfc2231_key_re.fullmatch(key)
        if key_match is None or (key_match["index"] is None and key_match["ext"] is None):
            params[key] = unquote_header_value(raw)
        elif key_match["index"] is None:
            extended[key_match["name"]] = _decode_rfc2231(raw)
        else:
            continued.setdefault(key_match["name"], {})[int(key_match["index"])] = (
                raw,
                key_match["ext"] is not None,
            )
    for name, parts in continued.items():
        params[name] = _join_continuations(parts)
    params.update(extended)
    return main, params


# An item of a comma-separated list: quoted strings (commas inside them do not split),
# other characters, or a stray quote.
_list_item_re = re.compile(r'(?:"(?:[^"\\]|\\.)*"|[^,"]|")+', re.DOTALL)


def parse_list_header(value: str | None) -> list[str]:
    """Split a comma-separated header value, honouring quoted strings.

    Items are stripped, fully quoted items are unquoted and empty items dropped:

    >>> parse_list_header('gzip, "a, b", , br')
    ['gzip', 'a, b', 'br']
    """
    if not value:
        return []
    items = []
    for match in _list_item_re.finditer(value):
        item = match[0].strip()
        if item:
            items.append(unquote_header_value(item))
    return items


# --------------------------------------------------------------------------------------------
# Dates

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(timestamp: datetime | date | int | float | None = None) -> str:
    """Format a moment as an HTTP date (IMF-fixdate, always GMT).

    Accepts a datetime (a naive one is taken as UTC), a date (midnight UTC), a POSIX
    timestamp, or ``None`` for now:

    >>> http_date(0)
    'Thu, 01 Jan 1970 00:00:00 GMT'
    """
    if timestamp is None:
        moment = datetime.now(UTC)
    elif isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            moment = timestamp
        else:
            moment = timestamp.astimezone(UTC)
    elif isinstance(timestamp, date):
        moment = datetime(timestamp.year, timestamp.month, timestamp.day)
    else:
        moment = datetime.fromtimestamp(timestamp, UTC)
    return (
        f"{_WEEKDAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]}"
        f" {moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"
    )


def parse_date(value: str | None) -> datetime | None:
    """Parse an HTTP date (IMF-fixdate, RFC 850 or asctime) into an aware UTC datetime.

    Returns ``None`` for anything that is not a valid date:

    >>> parse_date("Sun, 06 Nov 1994 08:49:37 GMT")
    datetime.datetime(1994, 11, 6, 8, 49, 37, tzinfo=datetime.timezone.utc)
    """
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# --------------------------------------------------------------------------------------------
# Cookies

# RFC 6265 cookie-octet: a value made only of these is written without quotes.
_cookie_value_re = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")


def _cookie_quote_byte(byte: int) -> str:
    char = chr(byte)
    if char in '"\\':
        return "\\" + char
    if byte == 0x20 or _cookie_value_re.fullmatch(char):
        return char
    return f"\\{byte:03o}"


# How each UTF-8 byte of a quoted cookie value is written: cookie-octets and space as they
# are, '"' and '\' backslash-escaped, anything else (",", ";", controls, non-ASCII bytes) as
# a three-digit octal escape, the way Python's http.cookies and Werkzeug write them.
_COOKIE_QUOTE = tuple(_cookie_quote_byte(byte) for byte in range(256))
_cookie_unescape_bytes_re = re.compile(rb"\\(?:([0-3][0-7][0-7])|(.))", re.DOTALL)
_cookie_unescape_str_re = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))", re.DOTALL)


def _unescape_cookie_byte(match: re.Match[bytes]) -> bytes:
    octal = match[1]
    return bytes((int(octal, 8),)) if octal is not None else match[2]


def _unescape_cookie_char(match: re.Match[str]) -> str:
    octal = match[1]
    return chr(int(octal, 8)) if octal is not None else match[2]


def _unquote_cookie(inner: str) -> str:
    if "\\" not in inner:
        return inner
    data = _cookie_unescape_bytes_re.sub(
        _unescape_cookie_byte, inner.encode("utf-8", "surrogatepass")
    )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Not UTF-8 bytes: read the octal escapes as code points, as http.cookies does.
        return _cookie_unescape_str_re.sub(_unescape_cookie_char, inner)


def parse_cookie(header: str | None) -> ImmutableMultiDict[str, str]:
    """Parse a ``Cookie`` request header the way browsers send it.

    Pieces are split on ``;``; ``name=value`` pairs are stripped; a double-quoted value is
    unquoted (backslash and octal escapes, as written by :func:`dump_cookie` and Python's
    :mod:`http.cookies`). A piece without ``=`` gives an empty value; pieces with no name
    or an unterminated quote are skipped. Percent-escapes are *not* decoded. Never raises.

    >>> parse_cookie('session=abc; theme="dark \\\\"blue\\\\""; session=old')
    ImmutableMultiDict([('session', 'abc'), ('session', 'old'), ('theme', 'dark "blue"')])
    """
    lists: dict[str, list[str]] = {}
    if header:
        for piece in header.split(";"):
            name, _, value = piece.partition("=")
            name = name.strip()
            if not name:
                continue
            value = value.strip()
            if value[:1] == '"':
                if len(value) < 2 or value[-1] != '"':
                    continue
                value = _unquote_cookie(value[1:-1])
            values = lists.get(name)
            if values is None:
                lists[name] = [value]
            else:
                values.append(value)
    return ImmutableMultiDict._from_lists(lists)


_domain_re = re.compile(r"[A-Za-z0-9._-]+")
_PATH_SAFE = "%!$&'()*+,/:=@"


def _check_cookie_part(what: str, value: str) -> None:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"The cookie {what} must not contain newline or NUL characters.")


def dump_cookie(
    key: str,
    value: str = "",
    max_age: int | timedelta | None = None,
    expires: datetime | date | int | float | str | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    sync_expires: bool = True,
    max_size: int = 4093,
    samesite: str | None = None,
    partitioned: bool = False,
) -> str:
    """Build a ``Set-Cookie`` header value.

    ``max_age`` is seconds or a timedelta; with ``sync_expires`` it also sets ``Expires``
    if that is not given. ``expires`` is a datetime, date, timestamp or ready-made string.
    ``samesite`` is ``"Strict"``, ``"Lax"`` or ``"None"``; ``partitioned`` implies
    ``secure``. A value with characters outside the RFC 6265 cookie-octets is written in
    double quotes with escapes, which :func:`parse_cookie` reads back:

    >>> dump_cookie("theme", "dark blue", httponly=True, samesite="lax")
    'theme="dark blue"; HttpOnly; Path=/; SameSite=Lax'

    :raises ValueError: for an invalid name, CR, LF or NUL in any part, an invalid domain
        or ``samesite`` value.
    :warns UserWarning: if the header is longer than ``max_size`` (0 disables), since
        browsers silently drop such cookies.
    """
    _check_cookie_part("name", key)
    _check_cookie_part("value", value)
    if _token_re.fullmatch(key) is None:
        raise ValueError(f"Invalid cookie name {key!r}.")
    if _cookie_value_re.fullmatch(value) is None:
        value = '"' + "".join([_COOKIE_QUOTE[byte] for byte in value.encode("utf-8")]) + '"'
    parts = [f"{key}={value}"]

    if domain:
        _check_cookie_part("domain", domain)
        if not domain.isascii():
            domain = domain.encode("idna").decode("ascii")
        if _domain_re.fullmatch(domain) is None:
            raise ValueError(f"Invalid cookie domain {domain!r}.")
        parts.append(f"Domain={domain}")

    if isinstance(max_age, timedelta):
        max_age = int(max_age.total_seconds())
    if expires is None and max_age is not None and sync_expires:
        expires = time.time() + max_age
    if isinstance(expires, str):
        _check_cookie_part("expiry date", expires)
        if ";" in expires:
            raise ValueError("The cookie expiry date must not contain ';'.")
        parts.append(f"Expires={expires}")
    elif expires is not None:
        parts.append(f"Expires={http_date(expires)}")
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")

    if secure or partitioned:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if path is not None:
        _check_cookie_part("path", path)
        parts.append(f"Path={quote(path, safe=_PATH_SAFE)}")
    if samesite is not None:
        samesite = samesite.title()
        if samesite not in ("Strict", "Lax", "None"):
            raise ValueError("SameSite must be 'Strict', 'Lax', or 'None'.")
        parts.append(f"SameSite={samesite}")
    if partitioned:
        parts.append("Partitioned")

    header = "; ".join(parts)
    if max_size and len(header) > max_size:
        warnings.warn(
            f"The {key!r} cookie is too large: its Set-Cookie header is {len(header)} bytes"
            f" (the value alone {len(value)}), over the limit of {max_size} bytes."
            " Browsers may silently ignore it.",
            stacklevel=2,
        )
    return header
