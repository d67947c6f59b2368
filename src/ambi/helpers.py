"""Flask's helper functions: ``url_for``, ``redirect``, ``make_response`` and friends.

Part of the sans-I/O core; they work on the current context (see ``globals.py``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any, TypeVar

from ._pipeline import blueprint_chain
from .globals import _cv_context, _request_context, current_app
from .http import iri_to_uri
from .wrappers import Response

__all__ = [
    "after_this_request",
    "make_response",
    "redirect",
    "stream_with_context",
    "url_for",
]

F = TypeVar("F", bound=Callable[..., Any])
_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")  # RFC 3986 scheme


def redirect(location: str, code: int = 302, Response: type[Response] | None = None) -> Response:
    """A redirect response to ``location`` (302 by default; 301, 303, 307, 308 also).

    A location containing CR, LF or NUL is refused with ``ValueError`` (header
    injection). Non-ASCII characters and spaces are percent-encoded (the host in
    Punycode), as Flask does. ``redirect`` sends the client wherever ``location`` says:
    never pass it a URL taken from the request unchecked (``?next=``); check that it is
    a local path first.
    """
    if "\r" in location or "\n" in location or "\0" in location:
        raise ValueError("The redirect location must not contain newline or NUL characters.")
    response_class = Response or _default_response_class()
    location = iri_to_uri(location)
    escaped = html.escape(location)
    response = response_class(
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n"
        f'<p>You should be redirected automatically to the target URL: <a href="{escaped}">'
        f"{escaped}</a>. If not, click the link.\n",
        code,
        mimetype="text/html",
    )
    response.headers["Location"] = location
    return response


def _default_response_class() -> type[Response]:
    ctx = _cv_context.get(None)
    return ctx.app.response_class if ctx is not None else Response


def make_response(*args: Any) -> Response:
    """Turn view-style return values into a response, to add headers before returning::

    response = make_response(render_page(), 200)
    response.headers["X-Thing"] = "1"
    """
    if not args:
        return current_app.response_class()
    value: Any = args[0] if len(args) == 1 else args
    return current_app.make_response(value)


def url_for(
    endpoint: str,
    *,
    _anchor: str | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    _external: bool | None = None,
    **values: Any,
) -> str:
    """The URL of ``endpoint`` with ``values`` as URL arguments; unknown values become the
    query string. Inside a request the URL is relative to the app's root unless
    ``_external``; outside one, ``SERVER_NAME`` must be set. ``_scheme`` must be a URL
    scheme (RFC 3986: a letter, then letters, digits, ``+``, ``-``, ``.``), else
    ``ValueError``::

        url_for("user", user_id=1, tab="posts")   # "/users/1?tab=posts"
    """
    from urllib.parse import quote

    ctx = _cv_context.get(None)
    if ctx is None:
        raise RuntimeError(
            "Attempted to generate a URL without the application context being pushed."
            " This has to be executed when application context is available: inside a"
            " request, or in 'with app.app_context():'."
        )
    app = ctx.app
    url_map = app.url_map
    request_ctx = ctx.request_context
    subdomain: str | None = None
    if request_ctx is not None:
        request = request_ctx.request
        scheme = request.scheme
        root = request.root_path
        if url_map.host_matching:
            host = request.host
            server_name = request_ctx.url_host or url_map.normalize_host(host, scheme)
        else:
            subdomain = request_ctx.url_subdomain
            configured: str | None = app.config["SERVER_NAME"]
            if configured:
                # As Flask: external URLs name SERVER_NAME (and the current subdomain),
                # never the Host the client sent.
                server_name = configured
                host = f"{subdomain}.{configured}" if subdomain else configured
            else:
                # The request's Host: checked against TRUSTED_HOSTS when that is set
                # (request.host raises a 400 for another host), else only for its syntax.
                host = server_name = request.host
        if endpoint.startswith("."):
            blueprint = request.blueprint
            endpoint = f"{blueprint}{endpoint}" if blueprint else endpoint[1:]
        external = bool(_external)
    else:
        server_name = app.config["SERVER_NAME"]
        if not server_name:
            raise RuntimeError(
                "Unable to build URLs outside an active request without 'SERVER_NAME'"
                " configured. Also configure 'APPLICATION_ROOT' and 'PREFERRED_URL_SCHEME'"
                " as needed."
            )
        scheme = app.config["PREFERRED_URL_SCHEME"]
        host = server_name
        root = (app.config["APPLICATION_ROOT"] or "/").rstrip("/")
        endpoint = endpoint.lstrip(".")
        external = True if _external is None else _external
    if _scheme is not None:
        if not external and _external is not None:
            raise ValueError("When specifying '_scheme', '_external' must be True.")
        if _SCHEME_RE.fullmatch(_scheme) is None:  # else CR/LF or "/" could enter the URL
            raise ValueError(f"Invalid URL scheme {_scheme!r}: letters, digits, '+-.' only.")
        scheme = _scheme
        external = True
    if endpoint in app.websocket_endpoints:
        # A websocket URL is always absolute, ws:// or wss:// (as Werkzeug builds it).
        scheme = "wss" if scheme in ("https", "wss") else "ws"
        external = True
    elif scheme in ("ws", "wss"):  # an HTTP URL built inside a websocket handler
        scheme = "https" if scheme == "wss" else "http"
    for scope in (None, *reversed(blueprint_chain(endpoint))):
        for func in app.url_default_functions.get(scope, ()):
            func(endpoint, values)
    path, other_host = url_map.build_with_host(
        endpoint, values, method=_method, server_name=server_name, subdomain=subdomain
    )
    if other_host is not None:  # on another subdomain or host: always absolute, as Flask
        host = other_host
        external = True
    url = f"{root}{path}"
    if url[:2] == "//":
        # A value starting with "/" (a path converter's "/evil.com") must not make a
        # scheme-relative URL to another host: one leading slash, as Werkzeug builds it.
        url = "/" + url.lstrip("/")
    if _anchor is not None:
        url = f"{url}#{quote(_anchor, safe=_ANCHOR_SAFE)}"
    if external:
        url = f"{scheme}://{host}{url}"
    return url


def after_this_request(func: F) -> F:
    """Run ``func(response)`` after this request's view (before ``after_request`` hooks)."""
    ctx = _request_context("after_this_request")
    funcs = ctx.after_request_functions
    if isinstance(funcs, list):
        funcs.append(func)
    else:  # the class's empty tuple: the first one of this request
        ctx.after_request_functions = [func]
    return func


def stream_with_context(generator_or_function: Any) -> Any:
    """Kept for Flask code: Ambi keeps the request context alive in streamed bodies
    already, so this returns its argument unchanged (decorator use included)."""
    return generator_or_function
