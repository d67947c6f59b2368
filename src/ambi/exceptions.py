"""HTTP errors as exceptions, with Flask's (Werkzeug's) names and codes.

Raise one from a view or hook, or call :func:`abort`, and the client gets that
status with a short HTML page, unless an error handler registered with
``@app.errorhandler`` turns it into another response::

    from ambi import abort
    from ambi.exceptions import NotFound

    @app.get("/users/<int:user_id>")
    def user(user_id):
        if user_id not in USERS:
            raise NotFound(f"No user {user_id}.")   # or: abort(404, f"No user {user_id}.")
        ...

This module is part of the sans-I/O core: it builds responses, it never sends them.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .wrappers import Response

__all__ = [
    "BadGateway",
    "BadRequest",
    "ClientDisconnected",
    "Conflict",
    "ExpectationFailed",
    "FailedDependency",
    "Forbidden",
    "GatewayTimeout",
    "Gone",
    "HTTPException",
    "HTTPVersionNotSupported",
    "ImATeapot",
    "InternalServerError",
    "LengthRequired",
    "Locked",
    "MethodNotAllowed",
    "MisdirectedRequest",
    "NotAcceptable",
    "NotFound",
    "NotImplemented",
    "PreconditionFailed",
    "PreconditionRequired",
    "RequestEntityTooLarge",
    "RequestHeaderFieldsTooLarge",
    "RequestRedirect",
    "RequestTimeout",
    "RequestURITooLarge",
    "RequestedRangeNotSatisfiable",
    "SecurityError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnavailableForLegalReasons",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "abort",
    "default_exceptions",
]


class HTTPException(Exception):
    """Base class for every HTTP error.

    ``code`` is the status, ``description`` the sentence shown to the client.
    A ``response`` given to the constructor is sent as it is instead of the
    default error page (that is what ``abort(response)`` does).
    """

    code: int | None = None
    description: str | None = None

    def __init__(self, description: str | None = None, response: Response | None = None) -> None:
        super().__init__()
        if description is not None:
            self.description = description
        self.response = response

    @property
    def name(self) -> str:
        """The status reason phrase, e.g. ``"Not Found"``."""
        from .http import HTTP_STATUS_CODES

        return HTTP_STATUS_CODES.get(self.code or 500, "Unknown Error")

    def get_description(self) -> str:
        """The description as HTML-escaped paragraph text."""
        text = html.escape(self.description or "").replace("\n", "<br>")
        return f"<p>{text}</p>"

    def get_body(self) -> str:
        """The HTML error page."""
        return (
            "<!doctype html>\n<html lang=en>\n"
            f"<title>{self.code} {html.escape(self.name)}</title>\n"
            f"<h1>{html.escape(self.name)}</h1>\n"
            f"{self.get_description()}\n"
        )

    def get_headers(self) -> list[tuple[str, str]]:
        """Headers for the error page; subclasses add e.g. ``Allow``."""
        return [("Content-Type", "text/html; charset=utf-8")]

    def get_response(self) -> Response:
        """The response sent when no error handler takes this exception."""
        if self.response is not None:
            return self.response
        from .wrappers import Response

        return Response(self.get_body(), self.code or 500, self.get_headers())

    def __str__(self) -> str:
        code = self.code if self.code is not None else "???"
        return f"{code} {self.name}: {self.description}"

    def __repr__(self) -> str:
        code = self.code if self.code is not None else "???"
        return f"<{type(self).__name__} '{code}: {self.name}'>"


class BadRequest(HTTPException):
    """400: the request is malformed (bad JSON, bad encoding, bad form data)."""

    code = 400
    description = "The browser (or proxy) sent a request that this server could not understand."


class ClientDisconnected(BadRequest):
    """The client went away while its request body was being read."""

    description = "The client disconnected before the whole request body was received."


class SecurityError(BadRequest):
    """400: the request's ``Host`` is not one of ``TRUSTED_HOSTS`` (Werkzeug's name)."""

    description = "Host not trusted: this application does not serve the host named in the request."


class Unauthorized(HTTPException):
    """401: authentication is required.

    ``www_authenticate`` becomes the ``WWW-Authenticate`` header.
    """

    code = 401
    description = "The server could not verify that you are authorized to access the URL requested."

    def __init__(
        self,
        description: str | None = None,
        response: Response | None = None,
        www_authenticate: str | Iterable[str] | None = None,
    ) -> None:
        super().__init__(description, response)
        if isinstance(www_authenticate, str):
            www_authenticate = [www_authenticate]
        self.www_authenticate = list(www_authenticate or ())

    def get_headers(self) -> list[tuple[str, str]]:
        headers = super().get_headers()
        headers.extend(("WWW-Authenticate", value) for value in self.www_authenticate)
        return headers


class Forbidden(HTTPException):
    """403: the client may not access this resource."""

    code = 403
    description = "You don't have the permission to access the requested resource."


class NotFound(HTTPException):
    """404: no such resource."""

    code = 404
    description = (
        "The requested URL was not found on the server. If you entered the URL manually"
        " please check your spelling and try again."
    )


class MethodNotAllowed(HTTPException):
    """405: the URL exists but not for this method; ``Allow`` lists the valid ones."""

    code = 405
    description = "The method is not allowed for the requested URL."

    def __init__(
        self,
        valid_methods: Iterable[str] | None = None,
        description: str | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(description, response)
        self.valid_methods = sorted(valid_methods) if valid_methods is not None else None

    def get_headers(self) -> list[tuple[str, str]]:
        headers = super().get_headers()
        if self.valid_methods:
            headers.append(("Allow", ", ".join(self.valid_methods)))
        return headers


class NotAcceptable(HTTPException):
    """406."""

    code = 406
    description = (
        "The resource identified by the request is only capable of generating"
        " response entities which have content characteristics not acceptable according"
        " to the accept headers sent in the request."
    )


class RequestTimeout(HTTPException):
    """408."""

    code = 408
    description = (
        "The server closed the network connection because the browser didn't"
        " finish the request within the specified time."
    )


class Conflict(HTTPException):
    """409."""

    code = 409
    description = "A conflict happened while processing the request."


class Gone(HTTPException):
    """410."""

    code = 410
    description = (
        "The requested URL is no longer available on this server and there is no"
        " forwarding address."
    )


class LengthRequired(HTTPException):
    """411."""

    code = 411
    description = "A request with this method requires a valid <code>Content-Length</code> header."


class PreconditionFailed(HTTPException):
    """412."""

    code = 412
    description = "The precondition on the request for the URL failed positive evaluation."


class RequestEntityTooLarge(HTTPException):
    """413: the body (or a form part) is larger than the configured limit."""

    code = 413
    description = "The data value transmitted exceeds the capacity limit."


class RequestURITooLarge(HTTPException):
    """414."""

    code = 414
    description = "The length of the requested URL exceeds the capacity limit for this server."


class UnsupportedMediaType(HTTPException):
    """415: the body's content type is not one the view accepts."""

    code = 415
    description = "The server does not support the media type transmitted in the request."


class RequestedRangeNotSatisfiable(HTTPException):
    """416; ``length`` adds ``Content-Range: bytes */length``."""

    code = 416
    description = "The server cannot provide the requested range."

    def __init__(
        self,
        length: int | None = None,
        units: str = "bytes",
        description: str | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(description, response)
        self.length = length
        self.units = units

    def get_headers(self) -> list[tuple[str, str]]:
        headers = super().get_headers()
        if self.length is not None:
            headers.append(("Content-Range", f"{self.units} */{self.length}"))
        return headers


class ExpectationFailed(HTTPException):
    """417."""

    code = 417
    description = "The server could not meet the requirements of the Expect header"


class ImATeapot(HTTPException):
    """418."""

    code = 418
    description = "This server is a teapot, not a coffee machine"


class MisdirectedRequest(HTTPException):
    """421."""

    code = 421
    description = "The server is not able to produce a response for this request."


class UnprocessableEntity(HTTPException):
    """422."""

    code = 422
    description = (
        "The request was well-formed but was unable to be followed due to semantic errors."
    )


class Locked(HTTPException):
    """423."""

    code = 423
    description = "The resource that is being accessed is locked."


class FailedDependency(HTTPException):
    """424."""

    code = 424
    description = (
        "The method could not be performed on the resource because the requested"
        " action depended on another action and that action failed."
    )


class PreconditionRequired(HTTPException):
    """428."""

    code = 428
    description = (
        'This request is required to be conditional; try using "If-Match" or "If-Unmodified-Since".'
    )


class _RetryAfter(HTTPException):
    """Adds ``Retry-After`` (seconds) when ``retry_after`` is given."""

    def __init__(
        self,
        description: str | None = None,
        response: Response | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description, response)
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        headers = super().get_headers()
        if self.retry_after is not None:
            headers.append(("Retry-After", str(int(self.retry_after))))
        return headers


class TooManyRequests(_RetryAfter):
    """429."""

    code = 429
    description = "This user has exceeded an allotted request count. Try again later."


class RequestHeaderFieldsTooLarge(HTTPException):
    """431."""

    code = 431
    description = "One or more header fields exceeds the maximum size."


class UnavailableForLegalReasons(HTTPException):
    """451."""

    code = 451
    description = "Unavailable for legal reasons."


class InternalServerError(HTTPException):
    """500: an unhandled error; ``original_exception`` is what was raised."""

    code = 500
    description = (
        "The server encountered an internal error and was unable to complete your"
        " request. Either the server is overloaded or there is an error in the application."
    )

    def __init__(
        self,
        description: str | None = None,
        response: Response | None = None,
        original_exception: BaseException | None = None,
    ) -> None:
        super().__init__(description, response)
        self.original_exception = original_exception


class NotImplemented(HTTPException):
    """501."""

    code = 501
    description = "The server does not support the action requested by the browser."


class BadGateway(HTTPException):
    """502."""

    code = 502
    description = "The proxy server received an invalid response from an upstream server."


class ServiceUnavailable(_RetryAfter):
    """503."""

    code = 503
    description = (
        "The server is temporarily unable to service your request due to"
        " maintenance downtime or capacity problems. Please try again later."
    )


class GatewayTimeout(HTTPException):
    """504."""

    code = 504
    description = "The connection to an upstream server timed out."


class HTTPVersionNotSupported(HTTPException):
    """505."""

    code = 505
    description = "The server does not support the HTTP protocol version used in the request."


class RequestRedirect(HTTPException):
    """308 raised by URL matching, e.g. ``/docs`` → ``/docs/`` for a rule with a trailing slash."""

    code = 308
    description = "The resource has moved permanently."

    def __init__(self, new_url: str) -> None:
        super().__init__(f"Redirecting to {new_url}.")
        self.new_url = new_url

    def get_response(self) -> Response:
        from .helpers import redirect

        return redirect(self.new_url, self.code or 308)


default_exceptions: dict[int, type[HTTPException]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        RequestTimeout,
        Conflict,
        Gone,
        LengthRequired,
        PreconditionFailed,
        RequestEntityTooLarge,
        RequestURITooLarge,
        UnsupportedMediaType,
        RequestedRangeNotSatisfiable,
        ExpectationFailed,
        ImATeapot,
        MisdirectedRequest,
        UnprocessableEntity,
        Locked,
        FailedDependency,
        PreconditionRequired,
        TooManyRequests,
        RequestHeaderFieldsTooLarge,
        UnavailableForLegalReasons,
        InternalServerError,
        NotImplemented,
        BadGateway,
        ServiceUnavailable,
        GatewayTimeout,
        HTTPVersionNotSupported,
    )
    if cls.code is not None
}


def abort(status: int | Response, *args: Any, **kwargs: Any) -> NoReturn:
    """Raise the :class:`HTTPException` for ``status``, or send ``status`` if it is a response.

    ``abort(404)``, ``abort(403, "Admins only.")``, ``abort(make_response("gone", 410))``.
    """
    from .wrappers import Response

    if isinstance(status, Response):
        raise HTTPException(response=status)
    cls = default_exceptions.get(status)
    if cls is None:
        raise LookupError(
            f"abort({status!r}): no HTTP exception is registered for that code; "
            "raise an HTTPException subclass with that code, or abort(response)."
        )
    raise cls(*args, **kwargs)
