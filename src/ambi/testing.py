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
import base64
import contextlib
import json
import os
import queue
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import unquote_to_bytes

import anyio.to_thread
import httpx
from click.testing import CliRunner, Result

from .appgroup import ScriptInfo
from .websocket import WebSocketDisconnect
from .wsgi import add_environ_headers

if TYPE_CHECKING:
    from .serving import Ambi

__all__ = [
    "ASGITransport",
    "AmbiAsyncClient",
    "AmbiCliRunner",
    "AmbiClient",
    "TestWebsocket",
    "WSGITransport",
    "WebSocketRejected",
]

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

    def __init__(
        self,
        app: Any,
        *,
        script_name: str = "",
        client: tuple[str, int] = _CLIENT,
        lazy_startup: bool = False,
    ):
        self.app = app
        self.script_name = script_name
        self.client = client
        #: Let an Ambi app run its startup at the first request, as under a real WSGI
        #: server; off by default: test clients run no lifespan (``app.test_serving``).
        self.lazy_startup = lazy_startup

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
            "ambi.lazy_startup": self.lazy_startup,
        }
        # Latin-1, as WSGI servers decode header bytes (httpx's own decoding would read
        # bytes that happen to be valid UTF-8 as UTF-8).
        add_environ_headers(
            environ,
            [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in request.headers.raw
            ],
        )
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
        self.app = app
        self.root_path = root_path
        self.client = client

    def loop_thread(self) -> _LoopThread:
        """The daemon thread whose loop runs the app (started on first use)."""
        if self._loop is None:
            self._loop = _LoopThread()
        return self._loop

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
        self._app_transport = transport
        kwargs.setdefault("base_url", "http://localhost")
        super().__init__(transport=transport, **kwargs)

    def websocket_connect(
        self,
        url: str,
        *,
        subprotocols: list[str] | None = None,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        http_response_extension: bool = True,
        timeout: float = 10.0,
    ) -> TestWebsocket:
        """Open a websocket to the app, in process, and do the handshake::

            with app.test_client("asgi") as client:
                with client.websocket_connect("/ws/lobby") as ws:
                    ws.send_text("hello")
                    assert ws.receive_text() == "lobby: hello"

        The client's cookies go with the handshake (so the session does). A refused
        handshake raises :class:`WebSocketRejected`. The app runs on the client's loop
        thread, as an ASGI server would run it; ``http_response_extension=False``
        pretends the server lacks ``websocket.http.response`` (rejections then close).
        ``timeout`` bounds each wait for the app, so a stuck handler fails the test.

        Through the ``"wsgi"`` interface the handshake is the plain GET a WSGI server
        would pass on, and the app's answer (400: websockets need an ASGI server) is
        raised as :class:`WebSocketRejected`.
        """
        request = self.build_request("GET", url, headers=headers)
        handshake = [
            ("upgrade", "websocket"),
            ("connection", "upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", base64.b64encode(os.urandom(16)).decode()),
        ]
        if subprotocols:
            handshake.append(("sec-websocket-protocol", ", ".join(subprotocols)))
        for name, value in handshake:
            request.headers[name] = value
        transport = self._app_transport
        if not isinstance(transport, ASGITransport):
            response = self.send(request)
            raise WebSocketRejected(response.status_code, response.headers, response.content)
        raw_path, _, query = request.url.raw_path.partition(b"?")
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "wss" if request.url.scheme == "https" else "ws",
            "path": transport.root_path + unquote_to_bytes(raw_path).decode("utf-8", "replace"),
            "raw_path": transport.root_path.encode() + raw_path,
            "query_string": query,
            "root_path": transport.root_path,
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in request.headers.multi_items()
            ],
            "client": transport.client,
            "server": (host, port),
            "subprotocols": list(subprotocols or ()),
            "extensions": {"websocket.http.response": {}} if http_response_extension else {},
        }
        return TestWebsocket(transport.app, transport.loop_thread(), scope, timeout=timeout)


class _Lifespan:
    """Sends an app the ASGI lifespan events on a test loop, as a server does."""

    def __init__(self, app: Any, last_failure: Callable[[], BaseException | None]) -> None:
        self._last_failure = last_failure
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        self._task = asyncio.ensure_future(app(scope, self._to_app.get, self._from_app.put))

    async def _event(self, event: str) -> None:
        await self._to_app.put({"type": f"lifespan.{event}"})
        answer = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            self._task.result()  # the app's own exception, if it raised one
            raise RuntimeError(f"The app's lifespan ended without answering lifespan.{event}.")
        message = answer.result()
        if message["type"] == f"lifespan.{event}.failed":
            await self._task
            cause = self._last_failure() if event == "startup" else None
            raise RuntimeError(message.get("message", f"lifespan.{event}.failed")) from cause

    async def startup(self) -> None:
        await self._event("startup")

    async def shutdown(self) -> None:
        await self._event("shutdown")
        await self._task


@contextlib.contextmanager
def serving_client(app: Ambi, interface: Interface, **kwargs: Any) -> Iterator[AmbiClient]:
    """The body of :meth:`ambi.Ambi.test_serving`: startup, a client, shutdown."""
    with AmbiClient(app, interface=interface, **kwargs) as client:
        if interface == "wsgi":
            lifecycle = app._lifecycle
            lifecycle.startup_sync()
            try:
                yield client
            finally:
                failures = lifecycle.shutdown_sync()
            if failures:
                raise RuntimeError("The application's shutdown failed: " + "; ".join(failures))
        else:
            transport = client._app_transport
            assert isinstance(transport, ASGITransport)
            loop = transport.loop_thread()

            async def start() -> _Lifespan:
                lifespan = _Lifespan(transport.app, lambda: app._lifecycle.last_failure)
                await lifespan.startup()
                return lifespan

            lifespan = loop.run(start())
            try:
                yield client
            finally:
                loop.run(lifespan.shutdown())


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


# -- websockets ---------------------------------------------------------------------------------


class WebSocketRejected(Exception):
    """The app refused a test websocket's handshake.

    ``status_code``, ``headers`` and ``content`` are the HTTP answer; when the app refused
    by closing (the server lacks the ``websocket.http.response`` extension, or the
    handler closed before accepting) they are what servers then send, 403 with no body,
    and ``close_code`` and ``close_reason`` say what the app sent.
    """

    def __init__(
        self,
        status_code: int,
        headers: httpx.Headers | list[tuple[str, str]] | None = None,
        content: bytes = b"",
        *,
        close_code: int | None = None,
        close_reason: str = "",
    ) -> None:
        self.status_code = status_code
        self.headers = httpx.Headers(headers)
        self.content = content
        self.close_code = close_code
        self.close_reason = close_reason
        detail = f", close code {close_code}" if close_code is not None else ""
        super().__init__(f"The websocket handshake was refused with {status_code}{detail}.")

    @property
    def text(self) -> str:
        """The body, decoded as UTF-8."""
        return self.content.decode("utf-8", "replace")


class _AppEnded:
    """Put on the app's outbox when the ASGI app returns (or raises)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class TestWebsocket:
    """A websocket to the app, from :meth:`AmbiClient.websocket_connect` (connected).

    A small ASGI websocket client: it runs the app on the test client's loop thread and
    exchanges ``websocket.*`` messages with it through two queues. Use it as a context
    manager; leaving it closes the socket (1000) and waits for the handler to end. An
    exception the app did not handle (with ``TESTING`` on) is raised here, at the next
    receive or at the close.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: Any, loop: _LoopThread, scope: dict[str, Any], *, timeout: float):
        self._loop = loop
        self.timeout = timeout
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: queue.Queue[dict[str, Any] | _AppEnded] = queue.Queue()
        self._ended: _AppEnded | None = None
        self._error_raised = False
        self._client_closed = False
        #: True once the app closed the socket (or the app ended).
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ""
        #: The subprotocol the app chose, and the extra headers of its accept.
        self.accepted_subprotocol: str | None = None
        self.accept_headers = httpx.Headers()
        self._future = asyncio.run_coroutine_threadsafe(self._run(app, scope), loop.loop)
        self._handshake()

    # -- the app's side (on the loop thread) ----------------------------------------------

    async def _run(self, app: Any, scope: dict[str, Any]) -> None:
        error: BaseException | None = None
        try:
            await app(scope, self._inbox.get, self._app_send)
        except Exception as exc:
            error = exc
        finally:
            self._outbox.put(_AppEnded(error))

    async def _app_send(self, message: dict[str, Any]) -> None:
        self._outbox.put(message)

    # -- the test's side --------------------------------------------------------------------

    def _put(self, message: dict[str, Any]) -> None:
        self._loop.loop.call_soon_threadsafe(self._inbox.put_nowait, message)

    def _next(self) -> dict[str, Any]:
        """The app's next message; raises what the app raised, or :class:`WebSocketDisconnect`
        if it ended without closing."""
        if self._ended is not None:
            return self._after_end()
        try:
            item = self._outbox.get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(
                f"The websocket handler sent nothing within {self.timeout} s."
            ) from None
        if isinstance(item, _AppEnded):
            self._ended = item
            return self._after_end()
        return item

    def _after_end(self) -> dict[str, Any]:
        assert self._ended is not None
        self.closed = True
        if self._ended.error is not None and not self._error_raised:
            self._error_raised = True
            raise self._ended.error
        if self.close_code is None:
            self.close_code = 1006
        raise WebSocketDisconnect(self.close_code, self.close_reason)

    def _wait_for_app(self) -> None:
        """Wait until the app returned; raise what it raised (once)."""
        while self._ended is None:
            try:
                item = self._outbox.get(timeout=self.timeout)
            except queue.Empty:
                self._future.cancel()
                raise TimeoutError(
                    f"The websocket handler did not end within {self.timeout} s after the"
                    " client closed: does it catch WebSocketDisconnect and go on?"
                ) from None
            if isinstance(item, _AppEnded):
                self._ended = item
        if self._ended.error is not None and not self._error_raised:
            self._error_raised = True
            raise self._ended.error

    def _handshake(self) -> None:
        self._put({"type": "websocket.connect"})
        message = self._next()
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            self.accept_headers = httpx.Headers(
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
            )
            return
        if kind == "websocket.close":
            self._app_closed(message)
            raise WebSocketRejected(403, close_code=self.close_code, close_reason=self.close_reason)
        if kind == "websocket.http.response.start":
            self.closed = True
            status: int = message["status"]
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]]
            body = bytearray()
            while True:
                part = self._next()
                body += part.get("body", b"")
                if not part.get("more_body", False):
                    break
            self._wait_for_app()
            raise WebSocketRejected(status, headers, bytes(body))
        raise RuntimeError(f"Unexpected ASGI message {kind!r} in answer to the handshake.")

    def _app_closed(self, message: dict[str, Any]) -> None:
        """The app closed: answer with the client's close, as a server would (the app's
        ``receive`` then says disconnected), wait for the app to end and raise what it
        raised, if anything."""
        self.closed = True
        self.close_code = message.get("code", 1000)
        self.close_reason = message.get("reason") or ""
        if not self._client_closed:
            self._client_closed = True
            self._put({"type": "websocket.disconnect", "code": self.close_code})
        self._wait_for_app()

    def receive(self) -> str | bytes:
        """The app's next message: ``str`` (text) or ``bytes`` (binary). Raises
        :class:`WebSocketDisconnect` with the app's close code once it closed."""
        if self.closed:
            raise WebSocketDisconnect(self.close_code or 1006, self.close_reason)
        message = self._next()
        kind = message["type"]
        if kind == "websocket.send":
            text: str | None = message.get("text")
            if text is not None:
                return text
            data: bytes = message.get("bytes") or b""
            return data
        if kind == "websocket.close":
            self._app_closed(message)
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        raise RuntimeError(f"Unexpected ASGI message {kind!r} from the websocket handler.")

    def receive_text(self) -> str:
        """The next message, which must be text."""
        data = self.receive()
        if not isinstance(data, str):
            raise TypeError(f"Expected a text message, got binary: {data!r}")
        return data

    def receive_bytes(self) -> bytes:
        """The next message, which must be binary."""
        data = self.receive()
        if isinstance(data, str):
            raise TypeError(f"Expected a binary message, got text: {data!r}")
        return data

    def receive_json(self) -> Any:
        """The next message, parsed as JSON."""
        return json.loads(self.receive())

    def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message to the app."""
        if self._client_closed:
            raise RuntimeError("This test websocket was closed by the client.")
        if isinstance(data, str):
            self._put({"type": "websocket.receive", "text": data})
        else:
            self._put({"type": "websocket.receive", "bytes": bytes(data)})

    def send_text(self, data: str) -> None:
        """Send a text message."""
        self.send(data)

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        self.send(bytes(data))

    def send_json(self, data: Any) -> None:
        """Send ``data`` as a JSON text message."""
        self.send(json.dumps(data))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Disconnect (the app's ``receive`` raises :class:`WebSocketDisconnect` with
        ``code``) and wait for the handler to end; raise what it raised."""
        if not self._client_closed:
            self._client_closed = True
            self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._wait_for_app()

    def __enter__(self) -> TestWebsocket:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self.close()
            return
        # The test failed already: close, but do not hide its error behind another one.
        with contextlib.suppress(Exception):
            self.close()
