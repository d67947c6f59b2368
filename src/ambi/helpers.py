"""Flask's helper functions: ``url_for``, ``redirect``, ``make_response`` and friends.

Part of the sans-I/O core; they work on the current context (see ``globals.py``).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, TypeVar

from ._pipeline import blueprint_chain
from .globals import _cv_context, _request_context, current_app
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


def redirect(location: str, code: int = 302, Response: type[Response] | None = None) -> Response:
    """A redirect response to ``location`` (302 by default; 301, 303, 307, 308 also).

    A location containing CR or LF is refused with ``ValueError`` (header injection).
    """
    response_class = Response or _default_response_class()
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
    ``_external``; outside one, ``SERVER_NAME`` must be set::

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
        host = request.host
        root = request.root_path
        if url_map.host_matching:
            server_name = request_ctx.url_host or url_map.normalize_host(host, scheme)
        else:
            server_name = app.config["SERVER_NAME"] or host
            subdomain = request_ctx.url_subdomain
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
        scheme = _scheme
        external = True
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
    if _anchor is not None:
        url = f"{url}#{quote(_anchor, safe=_ANCHOR_SAFE)}"
    if external:
        url = f"{scheme}://{host}{url}"
    return url


def after_this_request(func: F) -> F:
    """Run ``func(response)`` after this request's view (before ``after_request`` hooks)."""
    _request_context("after_this_request").after_request_functions.append(func)
    return func


def stream_with_context(generator_or_function: Any) -> Any:
    """Kept for Flask code: Ambi keeps the request context alive in streamed bodies
    already, so this returns its argument unchanged (decorator use included)."""
    return generator_or_function
