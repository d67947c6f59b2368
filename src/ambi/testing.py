"""In-process test clients: ``httpx`` clients bound to the app's WSGI or ASGI face.

``app.test_client("wsgi")`` and ``app.test_client("asgi")`` run the same requests through
the two adapters, so one test can check both servers' code paths::

    @pytest.fixture(params=["wsgi", "asgi"])
    def client(request):
        with app.test_client(request.param) as client:
            yield client

Exceptions a view does not handle propagate to the test when ``app.testing`` is on
(``PROPAGATE_EXCEPTIONS``), as in Flask.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import unquote_to_bytes

import anyio.to_thread
import httpx
from click.testing import CliRunner, Result

from .appgroup import ScriptInfo
from .wsgi import add_environ_headers

if TYPE_CHECKING:
    from .serving import Ambi

__all__ = ["ASGITransport", "AmbiAsyncClient", "AmbiCliRunner", "AmbiClient", "WSGITransport"]

T = TypeVar("T")
Interface = Literal["wsgi", "asgi"]
_CLIENT = ("127.0.0.1", 50000)


class _WSGIResponseStream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes], closer: Any) -> None:
        self._chunks = chunks
        self._closer = closer

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None


class WSGITransport(httpx.BaseTransport):
    """Calls a WSGI app the way a WSGI server does, with a PEP 3333 environ.

    Unlike httpx's own WSGI transport it passes ``PATH_INFO`` as latin-1 native string
    and ``RAW_URI`` as gunicorn does, and calls the body's ``close()``.
    """

    def __init__(self, app: Any, *, script_name: str = "", client: tuple[str, int] = _CLIENT):
        self.app = app
        self.script_name = script_name
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import io

        body = request.read()
        raw_path, _, query = request.url.raw_path.partition(b"?")
        path_bytes = unquote_to_bytes(raw_path)
        script = self.script_name.encode()
        if script and path_bytes.startswith(script):
            path_bytes = path_bytes[len(script) :]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": self.script_name,
            "PATH_INFO": path_bytes.decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "RAW_URI": request.url.raw_path.decode("latin-1"),
            "SERVER_NAME": request.url.host,
            "SERVER_PORT": str(request.url.port or (443 if request.url.scheme == "https" else 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.client[0],
            "REMOTE_PORT": str(self.client[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": request.url.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        add_environ_headers(environ, request.headers.multi_items())
        if "CONTENT_LENGTH" not in environ and body:
            environ["CONTENT_LENGTH"] = str(len(body))
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [status, headers]
            return lambda data: None

        result = self.app(environ, start_response)
        iterator = iter(result)
        chunks: list[bytes] = []
        try:
            # Advance to the first chunk so start_response has been called.
            first = next(iterator, None)
            if first is not None:
                chunks.append(first)
        except BaseException:
            if hasattr(result, "close"):
                result.close()
            raise
        status, headers = started

        def rest() -> Iterator[bytes]:
            yield from chunks
            yield from iterator

        return httpx.Response(
            int(status.split(None, 1)[0]),
            headers=headers,
            stream=_WSGIResponseStream(rest(), getattr(result, "close", None)),
            request=request,
        )


class _LoopThread:
    """A daemon thread running one event loop, for the sync client over ASGI.

    The loop persists across requests (like a real server's), and being a daemon thread
    it never blocks interpreter exit if a client is not closed.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="ambi-test-loop"
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result()

    def close(self) -> None:
        async def shutdown() -> None:
            await self.loop.shutdown_asyncgens()
            await self.loop.shutdown_default_executor()

        self.run(shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class ASGITransport(httpx.BaseTransport):
    """A sync transport over an ASGI app, through a persistent loop in a daemon thread."""

    def __init__(self, app: Any, *, root_path: str = "", client: tuple[str, int] = _CLIENT):
        self._async = httpx.ASGITransport(app=app, root_path=root_path, client=client)
        self._loop: _LoopThread | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._loop is None:
            self._loop = _LoopThread()
        body = request.read()
        async_request = httpx.Request(
            request.method,
            request.url,
            headers=request.headers,
            content=body,
            extensions=request.extensions,
        )

        async def send() -> tuple[httpx.Response, bytes]:
            response = await self._async.handle_async_request(async_request)
            # The raw bytes: the outer client decodes any Content-Encoding itself.
            content = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
            return response, content

        response, content = self._loop.run(send())
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(content),
            request=request,
        )

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None


class _AsyncWSGITransport(httpx.AsyncBaseTransport):
    """An async transport over a WSGI app: each request runs in a worker thread."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self._sync = WSGITransport(app, **kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        sync_request = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )

        def call() -> tuple[httpx.Response, bytes]:
            response = self._sync.handle_request(sync_request)
            content = response.read()
            response.close()
            return response, content

        response, content = await anyio.to_thread.run_sync(call)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(content),
            request=request,
        )


def _check_interface(interface: str) -> None:
    if interface not in ("wsgi", "asgi"):
        raise ValueError(f"interface must be 'wsgi' or 'asgi', not {interface!r}.")


class AmbiClient(httpx.Client):
    """A sync ``httpx.Client`` bound to an app through its WSGI or ASGI face.

    Cookies persist between requests; use it as a context manager to close it.
    """

    def __init__(self, app: Ambi, *, interface: Interface = "wsgi", **kwargs: Any) -> None:
        _check_interface(interface)
        self.app = app
        self.interface = interface
        transport: httpx.BaseTransport
        if interface == "wsgi":
            transport = WSGITransport(app.wsgi_app)
        else:
            transport = ASGITransport(app.asgi_app)
        kwargs.setdefault("base_url", "http://localhost")
        super().__init__(transport=transport, **kwargs)


class AmbiAsyncClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` bound to an app through its ASGI or WSGI face."""

    def __init__(self, app: Ambi, *, interface: Interface = "asgi", **kwargs: Any) -> None:
        _check_interface(interface)
        self.app = app
        self.interface = interface
        transport: httpx.AsyncBaseTransport
        if interface == "asgi":
            transport = httpx.ASGITransport(app=app.asgi_app, client=_CLIENT)
        else:
            transport = _AsyncWSGITransport(app.wsgi_app)
        kwargs.setdefault("base_url", "http://localhost")
        super().__init__(transport=transport, **kwargs)


class AmbiCliRunner(CliRunner):
    """A click ``CliRunner`` for an app's commands (``app.test_cli_runner()``).

    :meth:`invoke` runs ``app.cli`` unless another command is given, with a
    :class:`~ambi.cli.ScriptInfo` that returns this app, so commands find it loaded;
    ``async def`` commands are run to completion.
    """

    def __init__(self, app: Ambi, **kwargs: Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    def invoke(  # type: ignore[override]
        self, cli: Any = None, args: Any = None, **kwargs: Any
    ) -> Result:
        """Invoke ``cli`` (default: ``app.cli``) with ``args``, as click's ``invoke``."""
        if cli is None:
            cli = self.app.cli
        if "obj" not in kwargs:
            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app, run_coroutine=asyncio.run)
        return super().invoke(cli, args, **kwargs)
