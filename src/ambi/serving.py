"""``Ambi``: the one object both kinds of server call.

``gunicorn app:app`` calls it as WSGI, ``app(environ, start_response)``;
``uvicorn app:app`` calls it as ASGI, ``await app(scope, receive, send)``. ``__call__``
tells the two apart by the number of arguments and hands over to the thin adapter.
Servers that pick an interface by asking "is ``__call__`` a coroutine function?"
(uvicorn, hypercorn) are told yes by a marker, and the WSGI call still works.
"""

from __future__ import annotations

import asyncio.coroutines
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from ._drivers import run_coroutine_sync
from ._lifespan import Lifecycle
from .app import App
from .asgi import asgi_app
from .wsgi import wsgi_app

if TYPE_CHECKING:
    from .testing import AmbiAsyncClient, AmbiClient, AmbiCliRunner
    from .types import Receive, Scope, Send, StartResponse, WSGIEnvironment

__all__ = ["Ambi"]

T = TypeVar("T")


class Ambi(App):
    """A Flask-style application served unchanged by WSGI and ASGI servers::

        from ambi import Ambi

        app = Ambi(__name__)

        @app.get("/")
        def index():
            return "hello"

        @app.get("/users/<int:user_id>")
        async def user(user_id):
            return {"id": user_id}

    Run it with ``uvicorn app:app``, ``gunicorn app:app`` or ``ambi run app:app``.
    """

    def __init__(self, import_name: str, **kwargs: Any) -> None:
        super().__init__(import_name, **kwargs)
        self._lifecycle = Lifecycle(self)

        # Servers that look at ``app.__call__`` (hypercorn's inspect test, which cannot see
        # the coroutine marker on Python 3.11) find an ASGI entry point here, while a
        # call ``app(...)`` still goes through the class's dual ``__call__`` below. It
        # looks ``self.asgi_app`` up at call time, so middleware assigned later
        # (``app.asgi_app = ProxyFix(app.asgi_app)``) is used by a caller of
        # ``app.__call__`` too. PERF: servers call ``app(...)``, not this (the class's
        # ``__call__``, as in benchmarks/inprocess.py): the extra frame is paid only by
        # explicit ``app.__call__(...)`` callers.
        async def asgi_entry(scope: Scope, receive: Receive, send: Send) -> None:
            await self.asgi_app(scope, receive, send)

        self.__call__ = asgi_entry  # type: ignore[method-assign,assignment]

    def __call__(
        self,
        scope_or_environ: Any,
        receive_or_start_response: Any,
        send: Send | None = None,
        /,
    ) -> Awaitable[None] | Iterable[bytes]:
        """Serve a request: WSGI with two arguments, ASGI (a coroutine) with three."""
        if send is None:
            return self.wsgi_app(scope_or_environ, receive_or_start_response)
        # PERF: straight to the adapter's coroutine while ``asgi_app`` is not replaced
        # (middleware assigned to the instance, or a subclass's own): one coroutine less
        # per request (benchmarks/inprocess.py, plaintext ASGI async).
        if self._plain_asgi and "asgi_app" not in self.__dict__:
            return asgi_app(self, scope_or_environ, receive_or_start_response, send)
        return self.asgi_app(scope_or_environ, receive_or_start_response, send)

    #: Whether this class's ``asgi_app`` is Ambi's (not a subclass's).
    _plain_asgi: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_asgi = cls.asgi_app is Ambi.asgi_app

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application; wrap this (not ``app``) with WSGI middleware:
        ``app.wsgi_app = ProxyFix(app.wsgi_app)``."""
        if self._lifecycle.wsgi_pending:  # before_serving has not run in this process yet
            refusal = self._lifecycle.start_under_wsgi(environ)
            if refusal is not None:
                return refusal(environ, start_response)
        return wsgi_app(self, environ, start_response)

    async def asgi_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI application (ASGI 3); wrap this with ASGI middleware:
        ``app.asgi_app = ProxyFix(app.asgi_app)``. Servers use the wrapped one."""
        await asgi_app(self, scope, receive, send)

    def run_coroutine(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the calling thread's persistent event loop (the loop
        ``async def`` views use under WSGI on this thread), so what it opens stays usable
        there. Raises :class:`RuntimeError` inside a running loop: await it there."""
        return run_coroutine_sync(coroutine)

    def add_background_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``func(*args, **kwargs)`` in the background, without delaying the response
        (Quart's ``add_background_task``)::

            @app.post("/signup")
            def signup():
                user = create_user(request.form)
                app.add_background_task(send_welcome_email, user.email)
                return redirect(url_for("welcome"))

        ``func`` is ``def`` or ``async def``, and runs in a copy of the current context, so
        ``request``, ``g`` and ``current_app`` are what they were where it was added.
        ``async def`` tasks run on an event loop (the server's under ASGI); ``def`` tasks
        in up to ``BACKGROUND_TASK_THREADS`` threads of their own. An exception is logged,
        never raised. When the server stops, running tasks are waited for up to
        ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT`` seconds, then cancelled. Works from views,
        hooks, ``before_serving`` and other tasks, on both servers; see the Lifespan
        guide for where each kind runs.
        """
        self._lifecycle.background.add(func, args, kwargs)

    def test_serving(
        self, interface: Literal["wsgi", "asgi"] = "wsgi", **kwargs: Any
    ) -> contextlib.AbstractContextManager[AmbiClient]:
        """Serve the app for a test, lifespan included, and yield a test client::

            with app.test_serving("asgi") as client:   # lifespan and before_serving ran
                assert client.get("/").status_code == 200
            # after_serving ran; the background tasks were waited for

        Plain :meth:`test_client` runs no lifespan (as Flask's runs no startup code).
        Under ``"asgi"`` the client's event loop receives the ASGI lifespan events, as
        from a server; under ``"wsgi"`` the startup runs on the calling thread, where
        the client's requests run. A failed startup raises :class:`RuntimeError` with
        the server's message, the original exception chained.
        """
        from .testing import serving_client

        return serving_client(self, interface, **kwargs)

    def test_cli_runner(self, **kwargs: Any) -> AmbiCliRunner:
        """A click ``CliRunner`` that invokes this app's commands (``app.cli`` by default)
        with the app already loaded::

            result = app.test_cli_runner().invoke(args=["init-db"])
            assert result.exit_code == 0
        """
        from .testing import AmbiCliRunner

        return AmbiCliRunner(self, **kwargs)

    def test_client(self, interface: Literal["wsgi", "asgi"] = "wsgi", **kwargs: Any) -> AmbiClient:
        """An ``httpx.Client`` bound to this app in-process, through its WSGI or ASGI face::

        client = app.test_client("asgi")
        assert client.get("/").text == "hello"
        """
        from .testing import AmbiClient

        return AmbiClient(self, interface=interface, **kwargs)

    def async_test_client(
        self, interface: Literal["wsgi", "asgi"] = "asgi", **kwargs: Any
    ) -> AmbiAsyncClient:
        """An ``httpx.AsyncClient`` bound to this app, for ``async def`` tests."""
        from .testing import AmbiAsyncClient

        return AmbiAsyncClient(self, interface=interface, **kwargs)


# uvicorn and hypercorn choose ASGI 3 only for a coroutine function; mark __call__ so
# both tests (asyncio's, and inspect's on 3.12+) say yes. The WSGI call is unaffected.
if hasattr(inspect, "markcoroutinefunction"):  # Python 3.12+
    inspect.markcoroutinefunction(Ambi.__call__)
Ambi.__call__._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
