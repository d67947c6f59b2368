"""Middleware for running behind reverse proxies: :class:`ProxyFix`, for WSGI and ASGI.

Behind nginx, a load balancer or a CDN, the server sees the proxy as the client: the
client's address, the scheme (``https`` ended at the proxy), the host and the path
prefix the client used are in headers the proxy adds. :class:`ProxyFix` applies them,
as Werkzeug's ``ProxyFix`` does, before the wrapped application sees the request::

    from ambi.middleware import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)   # Flask's line, unchanged
    app.asgi_app = ProxyFix(app.asgi_app, x_for=1, x_proto=1)   # the same for ASGI
    # or both faces at once:
    ProxyFix.install(app, x_for=1, x_proto=1)

Part of the sans-I/O core: the headers are read and checked once, in
:meth:`ProxyFix.resolve`, for both interfaces; the two small ``_apply`` functions only
write the result into a WSGI environ or a copy of an ASGI scope. No I/O, loop or thread.

How a value is chosen
=====================

Each setting is the number of proxies in front of the app that set that header (the
"trusted hops"); ``0`` ignores the header. A proxy *appends* to a list header, so the
value a client sent comes first and the value the outermost trusted proxy saw is the
``n``-th from the right: ``X-Forwarded-For: <spoofed>, <client>, <proxy 1>`` with two
proxies (``x_for=2``) gives ``<client>``. With fewer values than the setting the header
is ignored (something in front did not add one: nothing can be trusted).

Every chosen value is checked, and an invalid one is ignored (the server's value stays):
an address must be an IP address (``[IPv6]`` and a port allowed), the scheme ``http`` or
``https``, the host a valid ``host[:port]``, the port 1-65535, the prefix a plain path.
A forwarded host is still subject to ``TRUSTED_HOSTS``: the app checks the host it ends
up with.

``Forwarded`` (RFC 7239) and ``X-Forwarded-*``: with ``forwarded=n``, the ``n``-th element
from the right of ``Forwarded`` is used, and wherever it names ``for``, ``proto`` or
``host`` it wins over the ``X-Forwarded-*`` header of that value (even when its value is
unusable, such as ``for=unknown``: the trusted proxy said so). Values it does not name
come from the ``X-Forwarded-*`` headers whose count is set. ``Forwarded`` has no port or
prefix: ``x_port`` and ``x_prefix`` apply in any case. A ``Forwarded`` header that does
not parse is ignored as a whole.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .http import parse_list_header, split_host
from .mounts import Interface, detect_interface

if TYPE_CHECKING:
    from .types import Receive, Scope, Send, StartResponse, WSGIEnvironment

__all__ = ["ForwardedValues", "ProxyFix"]

#: Where the values before the fix are kept: in the WSGI environ and the ASGI scope.
ORIGINAL_KEY = "ambi.proxy_fix.orig"

_ENVIRON_KEYS = {
    "forwarded": "HTTP_FORWARDED",
    "x-forwarded-for": "HTTP_X_FORWARDED_FOR",
    "x-forwarded-proto": "HTTP_X_FORWARDED_PROTO",
    "x-forwarded-host": "HTTP_X_FORWARDED_HOST",
    "x-forwarded-port": "HTTP_X_FORWARDED_PORT",
    "x-forwarded-prefix": "HTTP_X_FORWARDED_PREFIX",
    "host": "HTTP_HOST",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}
# A forwarded-pair of RFC 7239: token "=" (token / quoted-string). Unquoted values are
# read leniently (up to a separator), since proxies write "for=192.0.2.1:80" unquoted.
_FORWARDED_PAIR = re.compile(
    r"[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*"
    r'(?:"((?:[^"\\]|\\.)*)"|([^\s",;]*))[ \t]*'
)
_QUOTED_PAIR = re.compile(r"\\(.)")
# A path prefix: a slash, then path characters (no "%": SCRIPT_NAME and root_path hold
# the decoded path, and an escaped prefix would need decoding and re-checking).
_PREFIX = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*")


class ForwardedValues:
    """What the forwarding headers say about one request, checked; ``None``: unchanged."""

    __slots__ = ("client", "host", "prefix", "scheme", "server")

    def __init__(self) -> None:
        #: The client's address and port (``0`` when the proxy gave none).
        self.client: tuple[str, int] | None = None
        #: ``"http"`` or ``"https"``.
        self.scheme: str | None = None
        #: The new ``Host`` header value, ``host[:port]``.
        self.host: str | None = None
        #: The new server name and port (``SERVER_NAME``/``SERVER_PORT``, scope ``server``).
        self.server: tuple[str | None, int] | None = None
        #: The path prefix (``SCRIPT_NAME``, ``root_path``); ``""`` for the root.
        self.prefix: str | None = None

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"ForwardedValues({fields})"


class ProxyFix:
    """Apply the headers of trusted proxies to the request: the client's address, the
    scheme, the host, the port and the path prefix (Werkzeug's ``ProxyFix``, for WSGI
    and ASGI applications alike)::

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
        app.asgi_app = ProxyFix(app.asgi_app, x_for=1, x_proto=1)
        ProxyFix.install(app, x_for=1, x_proto=1)    # both faces at once

    ``app`` is a WSGI application, an ASGI application (an ``async def`` callable) or an
    object serving both (an :class:`ambi.Ambi` app: the wrapper then serves both too);
    ``interface`` (``"wsgi"``, ``"asgi"``, ``"both"``) overrides the detection.

    :param x_for: proxies setting ``X-Forwarded-For``: the client's address
        (``request.remote_addr``; WSGI ``REMOTE_ADDR``, ASGI ``client``).
    :param x_proto: proxies setting ``X-Forwarded-Proto``: the scheme (``request.scheme``;
        ``wsgi.url_scheme``, ASGI ``scheme``, ``ws``/``wss`` for websockets).
    :param x_host: proxies setting ``X-Forwarded-Host``: the host (``request.host``;
        ``HTTP_HOST`` and ``SERVER_NAME``/``SERVER_PORT``, ASGI ``host`` header and
        ``server``).
    :param x_port: proxies setting ``X-Forwarded-Port``: the port of the host.
    :param x_prefix: proxies setting ``X-Forwarded-Prefix``: the path the app is mounted
        at (``request.root_path``, so ``url_for``; ``SCRIPT_NAME``, ASGI ``root_path``).
    :param forwarded: proxies setting the standard ``Forwarded`` header (RFC 7239):
        ``for``, ``proto`` and ``host``; where it names a value it wins over the
        ``X-Forwarded-*`` header of that value.

    The values before the fix are kept in ``environ["ambi.proxy_fix.orig"]`` (and the
    scope's ``"ambi.proxy_fix.orig"``). Only count proxies you run: a client can send
    any of these headers, and the count decides which values are the proxies'.
    """

    def __init__(
        self,
        app: Callable[..., Any],
        x_for: int = 1,
        x_proto: int = 1,
        x_host: int = 0,
        x_port: int = 0,
        x_prefix: int = 0,
        forwarded: int = 0,
        *,
        interface: Interface | None = None,
    ) -> None:
        for name, count in (
            ("x_for", x_for),
            ("x_proto", x_proto),
            ("x_host", x_host),
            ("x_port", x_port),
            ("x_prefix", x_prefix),
            ("forwarded", forwarded),
        ):
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(
                    f"ProxyFix({name}={count!r}): give the number of proxies that set the"
                    " header, 0 to ignore it."
                )
        self.app = app
        self.x_for = x_for
        self.x_proto = x_proto
        self.x_host = x_host
        self.x_port = x_port
        self.x_prefix = x_prefix
        self.forwarded = forwarded
        #: How the wrapped application is called: ``"wsgi"``, ``"asgi"`` or ``"both"``.
        self.interface: Interface = detect_interface(app, interface)
        # The ASGI header names to collect (lower-case bytes), the Host always.
        wanted = {"host"}
        for header, count in (
            ("forwarded", forwarded),
            ("x-forwarded-for", x_for),
            ("x-forwarded-proto", x_proto),
            ("x-forwarded-host", x_host),
            ("x-forwarded-port", x_port),
            ("x-forwarded-prefix", x_prefix),
        ):
            if count:
                wanted.add(header)
        self._asgi_names = frozenset(name.encode("latin-1") for name in wanted)
        if self.interface != "wsgi":
            # Servers that ask "is app.__call__ a coroutine function?" (uvicorn, hypercorn)
            # find the ASGI entry point; a call goes through the class's __call__.
            self.__call__ = self._call_asgi  # type: ignore[method-assign,assignment]
        if self.interface == "both":
            # So that mounting or wrapping this wrapper sees an app serving both ways.
            self.wsgi_app = self._call_wsgi
            self.asgi_app = self._call_asgi

    @classmethod
    def install(cls, app: Any, **options: Any) -> None:
        """Wrap both faces of an :class:`ambi.Ambi` app, ``app.wsgi_app`` and
        ``app.asgi_app``, with the same settings (the keyword arguments of
        :class:`ProxyFix`)::

            ProxyFix.install(app, x_for=1, x_proto=1, x_host=1)

        ``app`` stays the server target (``gunicorn app:app``, ``uvicorn app:app``) and
        test clients go through the fix too.
        """
        app.wsgi_app = cls(app.wsgi_app, interface="wsgi", **options)
        app.asgi_app = cls(app.asgi_app, interface="asgi", **options)

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{name}={getattr(self, name)}"
            for name in ("x_for", "x_proto", "x_host", "x_port", "x_prefix", "forwarded")
        )
        return f"<ProxyFix {self.interface} {counts} {self.app!r}>"

    def __call__(
        self, scope_or_environ: Any, receive_or_start_response: Any, send: Send | None = None, /
    ) -> Any:
        """Serve a request: WSGI with two arguments, ASGI (a coroutine) with three."""
        if send is None:
            if self.interface == "asgi":
                raise TypeError(
                    f"This ProxyFix wraps an ASGI application ({self.app!r}) and was called"
                    " as WSGI: wrap the WSGI face (app.wsgi_app) with a ProxyFix of its own,"
                    " or use ProxyFix.install(app)."
                )
            return self._call_wsgi(scope_or_environ, receive_or_start_response)
        if self.interface == "wsgi":
            raise TypeError(
                f"This ProxyFix wraps a WSGI application ({self.app!r}) and was called as"
                " ASGI: wrap the ASGI face (app.asgi_app) with a ProxyFix of its own, or"
                " use ProxyFix.install(app)."
            )
        return self._call_asgi(scope_or_environ, receive_or_start_response, send)

    # -- the one reading of the headers ----------------------------------------------------

    def resolve(self, get: Callable[[str], str | None], scheme: str) -> ForwardedValues | None:
        """The checked values the trusted headers give, or ``None`` when they change
        nothing. ``get(name)`` returns a request header (lower-case name; repeated
        headers joined with commas), ``scheme`` is the request's scheme before the fix.
        """
        client: tuple[str, int] | None = None
        proto: str | None = None
        host: tuple[str, int | None] | None = None
        named: frozenset[str] = frozenset()
        if self.forwarded:
            element = _pick(_parse_forwarded(get("forwarded")), self.forwarded)
            if element is not None:
                named = frozenset(element)
                if "for" in element:
                    client = _parse_node(element["for"])
                if "proto" in element:
                    proto = _parse_proto(element["proto"])
                if "host" in element:
                    host = split_host(element["host"].strip())
        if self.x_for and "for" not in named:
            value = _pick(parse_list_header(get("x-forwarded-for")), self.x_for)
            client = _parse_node(value) if value is not None else None
        if self.x_proto and "proto" not in named:
            value = _pick(parse_list_header(get("x-forwarded-proto")), self.x_proto)
            proto = _parse_proto(value) if value is not None else None
        if self.x_host and "host" not in named:
            value = _pick(parse_list_header(get("x-forwarded-host")), self.x_host)
            host = split_host(value) if value is not None else None
        port: int | None = None
        if self.x_port:
            value = _pick(parse_list_header(get("x-forwarded-port")), self.x_port)
            port = _parse_port(value) if value is not None else None
        prefix: str | None = None
        if self.x_prefix:
            value = _pick(parse_list_header(get("x-forwarded-prefix")), self.x_prefix)
            prefix = _parse_prefix(value) if value is not None else None

        if client is None and proto is None and host is None and port is None and prefix is None:
            return None
        values = ForwardedValues()
        values.client = client
        values.scheme = proto
        values.prefix = prefix
        if host is not None or port is not None:
            # The host the client used, with the forwarded port (or the one it named).
            if host is None:
                host = split_host(get("host"))  # the port alone changes
            name = host[0] if host is not None else None
            final_port = port if port is not None else host[1] if host is not None else None
            if name is not None:
                values.host = name if final_port is None else f"{name}:{final_port}"
            if final_port is None:
                final_port = _DEFAULT_PORTS[proto or ("https" if scheme[-1:] == "s" else "http")]
            server_name = name.strip("[]") if name is not None else None
            values.server = (server_name, final_port)
        return values

    # -- WSGI ------------------------------------------------------------------------------

    def _call_wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        scheme = environ.get("wsgi.url_scheme", "http")
        values = self.resolve(lambda name: environ.get(_ENVIRON_KEYS[name]), scheme)
        _apply_wsgi(environ, values)
        return self.app(environ, start_response)

    # -- ASGI ------------------------------------------------------------------------------

    async def _call_asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self._fix_scope(scope)
        await self.app(scope, receive, send)

    def _fix_scope(self, scope: Scope) -> Scope:
        wanted = self._asgi_names
        found: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", ()):
            name = raw_name.lower()
            if name in wanted:
                key = name.decode("latin-1")
                value = raw_value.decode("latin-1")
                if key not in found:
                    found[key] = value
                elif key != "host":  # a list header sent on several lines
                    found[key] = f"{found[key]},{value}"
        scheme = scope.get("scheme") or ("ws" if scope["type"] == "websocket" else "http")
        values = self.resolve(found.get, scheme)
        return _apply_asgi(scope, values, found.get("host"))


def _apply_wsgi(environ: WSGIEnvironment, values: ForwardedValues | None) -> None:
    """Write ``values`` into the WSGI environ, keeping the values before the fix."""
    environ[ORIGINAL_KEY] = {
        key: environ.get(key)
        for key in (
            "REMOTE_ADDR",
            "REMOTE_PORT",
            "wsgi.url_scheme",
            "HTTP_HOST",
            "SERVER_NAME",
            "SERVER_PORT",
            "SCRIPT_NAME",
        )
    }
    if values is None:
        return
    if values.client is not None:
        address, port = values.client
        environ["REMOTE_ADDR"] = address
        environ["REMOTE_PORT"] = str(port)
    if values.scheme is not None:
        environ["wsgi.url_scheme"] = values.scheme
    if values.host is not None:
        environ["HTTP_HOST"] = values.host
    if values.server is not None:
        name, port = values.server
        if name is not None:
            environ["SERVER_NAME"] = name
        environ["SERVER_PORT"] = str(port)
    if values.prefix is not None:
        environ["SCRIPT_NAME"] = values.prefix


def _apply_asgi(scope: Scope, values: ForwardedValues | None, host: str | None) -> Scope:
    """A copy of ``scope`` with ``values`` written in (ASGI middleware must not change
    the scope it was given), keeping the values before the fix."""
    fixed = dict(scope)
    fixed[ORIGINAL_KEY] = {
        "client": scope.get("client"),
        "scheme": scope.get("scheme"),
        "host": host,
        "server": scope.get("server"),
        "root_path": scope.get("root_path", ""),
    }
    if values is None:
        return fixed
    if values.client is not None:
        fixed["client"] = values.client
    if values.scheme is not None:
        scheme = values.scheme
        fixed["scheme"] = _WEBSOCKET_SCHEMES[scheme] if scope["type"] == "websocket" else scheme
    if values.host is not None:
        encoded = values.host.encode("latin-1")
        headers: Iterable[tuple[bytes, bytes]] = scope.get("headers", ())
        fixed["headers"] = [
            *((name, value) for name, value in headers if name.lower() != b"host"),
            (b"host", encoded),
        ]
    if values.server is not None:
        name, port = values.server
        if name is None:
            server = scope.get("server")
            name = server[0] if server else ""
        fixed["server"] = (name, port)
    if values.prefix is not None:
        # ASGI's "path" includes "root_path": keep the part below the old root.
        prefix = values.prefix
        old_root: str = scope.get("root_path", "") or ""
        path: str = scope.get("path", "/") or "/"
        if old_root and path.startswith(old_root):
            path = path[len(old_root) :]
        fixed["root_path"] = prefix
        fixed["path"] = prefix + path
        raw_path: bytes | None = scope.get("raw_path")
        if raw_path is not None:
            old_raw_root = old_root.encode("utf-8")
            if old_root and raw_path.startswith(old_raw_root):
                raw_path = raw_path[len(old_raw_root) :]
            fixed["raw_path"] = prefix.encode("ascii") + raw_path
    return fixed


# -- checking the values ---------------------------------------------------------------


def _pick(values: list[Any] | None, trusted: int) -> Any:
    """The ``trusted``-th value from the right, or ``None`` if there are fewer."""
    if values is None or len(values) < trusted:
        return None
    return values[-trusted]


def _parse_forwarded(header: str | None) -> list[dict[str, str]] | None:
    """The elements of a ``Forwarded`` header, each a dict of its parameters (lower-case
    names), or ``None`` if it does not parse (or names a parameter twice in an element).

    >>> _parse_forwarded('for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"')
    [{'for': '192.0.2.60', 'proto': 'http'}, {'for': '[2001:db8::17]:4711'}]
    """
    if not header:
        return None
    elements: list[dict[str, str]] = []
    element: dict[str, str] = {}
    position, end = 0, len(header)
    while True:
        while position < end and header[position] in " \t":
            position += 1
        pair = _FORWARDED_PAIR.match(header, position)
        if pair is not None:
            name = pair[1].lower()
            if name in element:
                return None
            quoted = pair[2]
            element[name] = _QUOTED_PAIR.sub(r"\1", quoted) if quoted is not None else pair[3]
            position = pair.end()
        if position >= end:
            break
        separator = header[position]
        position += 1
        if separator == ",":
            if element:  # empty list elements do not count (RFC 9110 list syntax)
                elements.append(element)
            element = {}
        elif separator != ";":
            return None
    if element:
        elements.append(element)
    return elements


def _parse_node(value: str) -> tuple[str, int] | None:
    """An ``X-Forwarded-For`` value or a ``Forwarded`` ``for=`` node: an IP address,
    ``[IPv6]``, optionally with a port; ``(address, port or 0)`` or ``None``
    (``unknown``, an obfuscated ``_name``, anything else)."""
    value = value.strip()
    port: int | None = 0
    if value.startswith("["):
        close = value.find("]")
        if close < 0:
            return None
        address, rest = value[1:close], value[close + 1 :]
        if rest:
            port = _parse_port(rest[1:]) if rest[0] == ":" else None
    elif value.count(":") == 1:  # IPv4 with a port
        address, _, port_text = value.partition(":")
        port = _parse_port(port_text)
    else:
        address = value
    if port is None:
        return None
    try:
        return str(ipaddress.ip_address(address)), port
    except ValueError:
        return None


def _parse_proto(value: str) -> str | None:
    proto = value.strip().lower()
    if proto in ("http", "https"):
        return proto
    if proto in ("ws", "wss"):
        return "https" if proto == "wss" else "http"
    return None


def _parse_port(value: str) -> int | None:
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 5:
        return None
    port = int(value)
    return port if 1 <= port <= 65535 else None


def _parse_prefix(value: str) -> str | None:
    """A plain path prefix without its trailing slash (``""`` for ``/``); leading
    slashes collapse to one, so no prefix can make a URL naming another host."""
    value = value.strip()
    if _PREFIX.fullmatch(value) is None:
        return None
    stripped = value.strip("/")
    return f"/{stripped}" if stripped else ""
