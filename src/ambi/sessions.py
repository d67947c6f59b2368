"""Sessions: signed cookie sessions compatible with Flask's, and the interface to replace them.

Part of the sans-I/O core: nothing here touches a server. The pipeline asks
``app.session_interface`` for the session when a request starts
(:meth:`SessionInterface.open_session`) and hands it back with the response
(:meth:`SessionInterface.save_session`); either method may be a ``def`` or an
``async def`` in a subclass.

The default, :class:`SecureCookieSessionInterface`, keeps the whole session in a cookie
signed with itsdangerous, with the same key derivation, digest, salt and tagged JSON as
Flask's default session (``flask.sessions.SecureCookieSessionInterface``). A user logged in
on a Flask app that shares the ``SECRET_KEY`` and cookie settings is logged in on the
Ambi app, and the reverse. The cookie is signed, not encrypted: the user can read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .tag import TaggedJSONSerializer

if TYPE_CHECKING:
    from _typeshed import SupportsKeysAndGetItem

    from .app import App
    from .wrappers import Request, Response

__all__ = [
    "SESSION_CONFIG_DEFAULTS",
    "NullSession",
    "SecureCookieSession",
    "SecureCookieSessionInterface",
    "SessionInterface",
    "SessionMixin",
    "session_json_serializer",
]

#: The configuration keys sessions read, with Flask 3.1's defaults.
SESSION_CONFIG_DEFAULTS: dict[str, Any] = {
    "SECRET_KEY_FALLBACKS": None,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
    "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_PARTITIONED": False,
    "SESSION_COOKIE_SAMESITE": None,
    "SESSION_REFRESH_EACH_REQUEST": True,
}

_MISSING: Any = object()


class SessionMixin(dict[str, Any]):
    """A session: a dict with Flask's ``permanent``, ``new``, ``modified`` and ``accessed``.

    A session class that cannot track changes keeps ``modified = True`` (this default), so
    it is saved on every request.
    """

    #: Whether the session was created by this request. Not every backend can tell.
    new = False
    #: Whether the session must be saved. Backends that track changes set it themselves.
    modified = True
    #: Whether the request looked at the session; the response then gets ``Vary: Cookie``.
    accessed = False

    @property
    def permanent(self) -> bool:
        """Whether the session outlives the browser session (the ``_permanent`` key)."""
        return bool(self.get("_permanent", False))

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)


class SecureCookieSession(SessionMixin):
    """The session of the signed-cookie backend: tracks ``modified`` and ``accessed``.

    Every change to the dict itself sets both flags; reading a key (``[]``, ``get``,
    ``setdefault``, ``in``) sets ``accessed``. A change *inside* a mutable value
    (``session["cart"].append(3)``) is not seen: set ``session.modified = True`` then.
    """

    modified = False
    accessed = False

    def _changed(self) -> None:
        self.modified = True
        self.accessed = True

    # -- reads ---------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return super().__contains__(key)

    # -- writes --------------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        if super().__contains__(key):
            return super().__getitem__(key)
        super().__setitem__(key, default)
        self._changed()
        return default

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        if super().__contains__(key):
            value = super().pop(key)
            self._changed()
            return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self._changed()
        return item

    def clear(self) -> None:
        super().clear()
        self._changed()

    def update(
        self,
        other: SupportsKeysAndGetItem[str, Any] | Iterable[tuple[str, Any]] = (),
        /,
        **kwargs: Any,
    ) -> None:
        super().update(other, **kwargs)
        self._changed()

    def __ior__(self, other: Any) -> SecureCookieSession:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


class NullSession(SecureCookieSession):
    """The session when sessions are unavailable (no ``SECRET_KEY``): it reads as empty and
    refuses every write with a message that says what to do."""

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError(
            "The session is unavailable because no secret key was set. Set the secret_key"
            " on the application to something unique and secret"
            " (app.secret_key = ... or the SECRET_KEY setting)."
        )

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail
    __ior__ = _fail
    del _fail


def _lifetime(app: App) -> timedelta:
    """``PERMANENT_SESSION_LIFETIME`` as a timedelta (the setting may be seconds, as in Flask)."""
    value = app.config["PERMANENT_SESSION_LIFETIME"]
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=value)


class SessionInterface:
    """How the app opens and saves sessions; set ``app.session_interface`` to replace it.

    Implement :meth:`open_session` and :meth:`save_session` (each a ``def`` or an
    ``async def``). The ``get_cookie_*`` helpers read the ``SESSION_COOKIE_*`` settings so
    a cookie-based backend uses the same names and attributes as the default one.
    """

    #: What :meth:`make_null_session` returns.
    null_session_class: ClassVar[type[SessionMixin]] = NullSession
    #: Whether the backend pickles data (kept for Flask extensions that look at it).
    pickle_based: ClassVar[bool] = False

    def make_null_session(self, app: App) -> SessionMixin:
        """The stand-in session used when :meth:`open_session` returns ``None``."""
        return self.null_session_class()

    def is_null_session(self, obj: object) -> bool:
        """Whether ``obj`` is a null session (the pipeline then does not save it)."""
        return isinstance(obj, self.null_session_class)

    def get_cookie_name(self, app: App) -> str:
        """``SESSION_COOKIE_NAME`` (default ``"session"``)."""
        return str(app.config["SESSION_COOKIE_NAME"])

    def get_cookie_domain(self, app: App) -> str | None:
        """``SESSION_COOKIE_DOMAIN``: ``None`` (the default) sends the cookie to this host only."""
        domain: str | None = app.config["SESSION_COOKIE_DOMAIN"]
        return domain or None

    def get_cookie_path(self, app: App) -> str:
        """``SESSION_COOKIE_PATH``, else ``APPLICATION_ROOT``."""
        return str(app.config["SESSION_COOKIE_PATH"] or app.config["APPLICATION_ROOT"])

    def get_cookie_httponly(self, app: App) -> bool:
        """``SESSION_COOKIE_HTTPONLY`` (default ``True``): scripts cannot read the cookie."""
        return bool(app.config["SESSION_COOKIE_HTTPONLY"])

    def get_cookie_secure(self, app: App) -> bool:
        """``SESSION_COOKIE_SECURE`` (default ``False``): send the cookie over HTTPS only."""
        return bool(app.config["SESSION_COOKIE_SECURE"])

    def get_cookie_samesite(self, app: App) -> str | None:
        """``SESSION_COOKIE_SAMESITE``: ``"Strict"``, ``"Lax"`` (Ambi's default), ``"None"``,
        or ``None`` (no attribute: the browser's default applies, Flask's default)."""
        samesite: str | None = app.config["SESSION_COOKIE_SAMESITE"]
        return samesite

    def get_cookie_partitioned(self, app: App) -> bool:
        """``SESSION_COOKIE_PARTITIONED`` (default ``False``; ``True`` implies ``Secure``)."""
        return bool(app.config["SESSION_COOKIE_PARTITIONED"])

    def get_expiration_time(self, app: App, session: SessionMixin) -> datetime | None:
        """When the cookie expires: now + ``PERMANENT_SESSION_LIFETIME`` for a permanent
        session, ``None`` (when the browser closes) otherwise."""
        if session.permanent:
            return datetime.now(UTC) + _lifetime(app)
        return None

    def should_set_cookie(self, app: App, session: SessionMixin) -> bool:
        """Whether :meth:`save_session` writes the cookie: the session changed, or it is
        permanent and ``SESSION_REFRESH_EACH_REQUEST`` renews its expiry on every request."""
        return session.modified or (
            session.permanent and bool(app.config["SESSION_REFRESH_EACH_REQUEST"])
        )

    def open_session(self, app: App, request: Request) -> SessionMixin | None:
        """The session for ``request``, or ``None`` when sessions are unavailable (the
        pipeline then uses :meth:`make_null_session`). Runs once the request context is
        pushed, before any ``before_request`` callable."""
        raise NotImplementedError

    def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        """Store ``session`` (set the cookie on ``response``). Runs after the
        ``after_request`` callables; not called for a null session."""
        raise NotImplementedError


def _sha1(data: bytes = b"") -> Any:
    # Looked up at call time (as Flask does) so importing Ambi works on interpreters built
    # without SHA-1 (FIPS mode), which fail only if the default session is used.
    return hashlib.sha1(data)


#: The serializer of the default session (shared; register extra tags on it).
session_json_serializer = TaggedJSONSerializer()


def _add_vary_cookie(response: Response) -> None:
    for value in response.headers.getlist("Vary"):
        for item in value.split(","):
            if item.strip().lower() in ("cookie", "*"):
                return
    response.headers.add("Vary", "Cookie")


class SecureCookieSessionInterface(SessionInterface):
    """The default: the session lives in a cookie signed with itsdangerous, exactly as
    Flask's default session does (readable by either framework).

    Needs ``SECRET_KEY``; ``SECRET_KEY_FALLBACKS`` lists older keys still accepted when
    reading, so keys can be rotated without logging everyone out. A cookie that is
    tampered with, signed with an unknown key, malformed, or older than
    ``PERMANENT_SESSION_LIFETIME`` gives a new, empty session.
    """

    #: The itsdangerous salt; Flask's value, so both frameworks read each other's cookies.
    salt: ClassVar[str] = "cookie-session"
    #: The signature's hash.
    digest_method = staticmethod(_sha1)
    #: How the signing key is derived from the secret key.
    key_derivation: ClassVar[str] = "hmac"
    #: Turns the session into the signed payload.
    serializer: ClassVar[TaggedJSONSerializer] = session_json_serializer
    session_class: ClassVar[type[SecureCookieSession]] = SecureCookieSession

    def get_signing_serializer(self, app: App) -> URLSafeTimedSerializer | None:
        """The itsdangerous serializer for the app's keys, or ``None`` without a secret key."""
        secret_key = app.secret_key
        if not secret_key:
            return None
        keys: list[str | bytes] = []
        fallbacks: Iterable[str | bytes] | None = app.config.get("SECRET_KEY_FALLBACKS")
        if fallbacks:
            keys.extend(fallbacks)
        keys.append(secret_key)  # itsdangerous signs with the last key, accepts them all
        return URLSafeTimedSerializer(
            keys,  # type: ignore[arg-type]
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
            },
        )

    def open_session(self, app: App, request: Request) -> SecureCookieSession | None:
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(_lifetime(app).total_seconds())
        try:
            data = signer.loads(value, max_age=max_age)
        except BadSignature:  # tampered, unknown key, expired, or not a payload at all
            return self.session_class()
        if not isinstance(data, Mapping):  # signed by us, but not a session (another use)
            return self.session_class()
        return self.session_class(data)

    def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        secure = self.get_cookie_secure(app)
        partitioned = self.get_cookie_partitioned(app)
        samesite = self.get_cookie_samesite(app)
        httponly = self.get_cookie_httponly(app)

        # Whatever the request read from the session, the response depends on the cookie.
        if session.accessed:
            _add_vary_cookie(response)

        if not session:
            # Emptied during this request: remove the cookie. Never set: nothing to do.
            if session.modified:
                response.delete_cookie(
                    name,
                    path=path,
                    domain=domain,
                    secure=secure,
                    httponly=httponly,
                    samesite=samesite,
                    partitioned=partitioned,
                )
                _add_vary_cookie(response)
            return

        if not self.should_set_cookie(app, session):
            return

        signer = self.get_signing_serializer(app)
        if signer is None:  # the secret key was removed while the request ran
            return
        response.set_cookie(
            name,
            signer.dumps(dict(session)),
            expires=self.get_expiration_time(app, session),
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )
        _add_vary_cookie(response)
