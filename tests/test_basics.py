"""Views, return values, request data and hooks, on both interfaces and both view kinds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from ambi import Ambi, Response, abort, g, jsonify, make_response, redirect, request, url_for
from ambi.testing import AmbiClient

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]


def test_readme_app(app: Ambi, make_client: Callable[..., AmbiClient]) -> None:
    @app.get("/")
    def index() -> str:
        return "hello"

    @app.get("/users/<int:user_id>")
    async def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "q": request.args.get("q")}

    @app.post("/items")
    def create() -> Any:
        return jsonify(created=request.get_json()), 201

    client = make_client(app)
    assert client.get("/").text == "hello"
    response = client.get("/users/7", params={"q": "x"})
    assert response.status_code == 200
    assert response.json() == {"id": 7, "q": "x"}
    assert response.headers["content-type"] == "application/json"
    response = client.post("/items", json={"a": [1, 2]})
    assert response.status_code == 201
    assert response.json() == {"created": {"a": [1, 2]}}


@pytest.mark.parametrize(
    ("returned", "status", "body", "content_type"),
    [
        ("text", 200, b"text", "text/html; charset=utf-8"),
        (b"raw", 200, b"raw", "text/html; charset=utf-8"),
        ({"b": 1, "a": 2}, 200, b'{"a":2,"b":1}\n', "application/json"),
        ([1, "x"], 200, b'[1,"x"]\n', "application/json"),
        (("created", 201), 201, b"created", "text/html; charset=utf-8"),
        (("teapot", "418 I'M A TEAPOT"), 418, b"teapot", "text/html; charset=utf-8"),
        (("h", {"X-A": "1"}), 200, b"h", "text/html; charset=utf-8"),
        (("h", [("X-A", "1")]), 200, b"h", "text/html; charset=utf-8"),
        (("both", 202, {"X-A": "1"}), 202, b"both", "text/html; charset=utf-8"),
        (({"k": "v"}, 400), 400, b'{"k":"v"}\n', "application/json"),
    ],
)
def test_return_values(
    app: Ambi,
    client: AmbiClient,
    as_view: MakeView,
    returned: Any,
    status: int,
    body: bytes,
    content_type: str,
) -> None:
    app.add_url_rule("/", "index", as_view(lambda: returned))
    response = client.get("/")
    assert response.status_code == status
    assert response.content == body
    assert response.headers["content-type"] == content_type
    assert response.headers["content-length"] == str(len(body))
    if isinstance(returned, tuple) and isinstance(returned[-1], (dict, list)):
        assert response.headers["x-a"] == "1"


def test_response_object_and_make_response(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    def view() -> Response:
        response = make_response("made", 203)
        response.headers["X-Made"] = "yes"
        response.set_cookie("flavor", "oat", httponly=True, samesite="Lax")
        return response

    app.add_url_rule("/", "index", as_view(view))
    response = client.get("/")
    assert response.status_code == 203
    assert response.text == "made"
    assert response.headers["x-made"] == "yes"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("flavor=oat;")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert client.cookies["flavor"] == "oat"


def test_delete_cookie(app: Ambi, client: AmbiClient) -> None:
    @app.get("/")
    def index() -> Response:
        response = Response("bye")
        response.delete_cookie("session")
        return response

    cookie = client.get("/").headers["set-cookie"]
    assert cookie.startswith("session=;")
    assert "Max-Age=0" in cookie
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in cookie


def test_streaming_sync_and_async_generators(app: Ambi, client: AmbiClient, view_kind: str) -> None:
    def sync_numbers() -> Any:
        for number in range(3):
            yield f"{number}-{g.tag}\n"

    async def async_numbers() -> Any:
        for number in range(3):
            await asyncio.sleep(0)
            yield f"{number}-{g.tag}\n".encode()

    @app.get("/sync")
    def sync_stream() -> Any:
        g.tag = "s"
        return sync_numbers()

    @app.get("/async")
    async def async_stream() -> Any:
        g.tag = "a"
        return async_numbers()

    assert client.get("/sync").text == "0-s\n1-s\n2-s\n"
    response = client.get("/async")
    assert response.text == "0-a\n1-a\n2-a\n"
    assert "content-length" not in response.headers


def test_request_attributes(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    def view(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "method": request.method,
            "path": request.path,
            "full_path": request.full_path,
            "url": request.url,
            "base_url": request.base_url,
            "url_root": request.url_root,
            "host": request.host,
            "scheme": request.scheme,
            "args": request.args.getlist("a"),
            "header": request.headers.get("x-custom"),
            "header_all": request.headers.getlist("X-Multi"),
            "cookie": request.cookies.get("c"),
            "remote_addr": request.remote_addr,
            "endpoint": request.endpoint,
            "is_secure": request.is_secure,
            "content_type": request.content_type,
            "content_length": request.content_length,
            "mimetype": request.mimetype,
            "data": request.get_data(as_text=True),
        }

    app.add_url_rule("/hello/<name>", "hello", as_view(view), methods=["PUT"])
    response = client.put(
        "/hello/w%C3%B6rld?a=1&a=2",
        headers=[
            ("X-Custom", "yes"),
            ("X-Multi", "1"),
            ("X-Multi", "2"),
            ("Cookie", "c=choc"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ],
        content=b"body!",
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data == {
        "name": "wörld",
        "method": "PUT",
        "path": "/hello/wörld",
        "full_path": "/hello/wörld?a=1&a=2",
        "url": "http://localhost/hello/w%C3%B6rld?a=1&a=2",
        "base_url": "http://localhost/hello/w%C3%B6rld",
        "url_root": "http://localhost/",
        "host": "localhost",
        "scheme": "http",
        "args": ["1", "2"],
        "header": "yes",
        # WSGI environs hold one value per header name: the server joins repeats.
        "header_all": ["1", "2"] if client.interface == "asgi" else ["1,2"],
        "cookie": "choc",
        "remote_addr": "127.0.0.1",
        "endpoint": "hello",
        "is_secure": False,
        "content_type": "text/plain; charset=utf-8",
        "content_length": 5,
        "mimetype": "text/plain",
        "data": "body!",
    }


def test_get_json_variants(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    def view() -> dict[str, Any]:
        return {
            "silent": request.get_json(silent=True),
            "forced": request.get_json(force=True, silent=True),
        }

    app.add_url_rule("/", "index", as_view(view), methods=["POST"])
    plain = client.post("/", content=b'{"a": 1}', headers={"Content-Type": "text/plain"})
    assert plain.json() == {"silent": None, "forced": {"a": 1}}
    vendor = client.post("/", content=b"[1]", headers={"Content-Type": "application/vnd.api+json"})
    assert vendor.json() == {"silent": [1], "forced": [1]}


def test_hooks_order_and_g(app: Ambi, client: AmbiClient, view_kind: str) -> None:
    calls: list[str] = []

    def kinded(func: Callable[..., Any]) -> Callable[..., Any]:
        if view_kind == "def":
            return func

        async def wrapper(*args: Any) -> Any:
            return func(*args)

        wrapper.__name__ = func.__name__
        return wrapper

    def before_one() -> None:
        calls.append("before1")
        g.seen = ["before1"]

    def before_two() -> None:
        calls.append("before2")
        g.seen.append("before2")

    def after_one(response: Response) -> Response:
        calls.append("after1")
        response.headers["X-After-1"] = "1"
        return response

    def after_two(response: Response) -> Response:
        calls.append("after2")
        return response

    def teardown(error: BaseException | None) -> None:
        calls.append(f"teardown:{error!r}")

    def preprocess(endpoint: str | None, values: dict[str, Any] | None) -> None:
        calls.append(f"preprocess:{endpoint}")
        assert values is not None
        values["number"] = values["number"] * 2

    app.url_value_preprocessor(kinded(preprocess))
    app.before_request(kinded(before_one))
    app.before_request(kinded(before_two))
    app.after_request(kinded(after_one))
    app.after_request(kinded(after_two))
    app.teardown_request(kinded(teardown))

    @app.get("/<int:number>")
    def index(number: int) -> str:
        calls.append("view")
        return f"{number} {g.seen}"

    response = client.get("/21")
    assert response.text == "42 ['before1', 'before2']"
    assert response.headers["x-after-1"] == "1"
    assert calls == [
        "preprocess:index",
        "before1",
        "before2",
        "view",
        "after2",
        "after1",
        "teardown:None",
    ]


def test_before_request_short_circuits(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.before_request(as_view(lambda: ("blocked", 403)))
    view_calls: list[int] = []

    @app.get("/")
    def index() -> str:
        view_calls.append(1)
        return "never"

    response = client.get("/")
    assert (response.status_code, response.text) == (403, "blocked")
    assert view_calls == []


def test_after_this_request(app: Ambi, client: AmbiClient) -> None:
    from ambi import after_this_request

    @app.get("/")
    async def index() -> str:
        @after_this_request
        def add_header(response: Response) -> Response:
            response.headers["X-Once"] = "1"
            return response

        return "ok"

    assert client.get("/").headers["x-once"] == "1"


def test_redirect_and_url_for(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.add_url_rule("/target/<int:n>", "target", as_view(lambda n: f"target {n}"))
    app.add_url_rule("/go", "go", as_view(lambda: redirect(url_for("target", n=5, extra="a b"))))
    app.add_url_rule(
        "/external",
        "external",
        as_view(lambda: url_for("target", n=1, _external=True, _anchor="top")),
    )
    response = client.get("/go")
    assert response.status_code == 302
    assert response.headers["location"] == "/target/5?extra=a+b"
    assert client.get("/go", follow_redirects=True).text == "target 5"
    assert client.get("/external").text == "http://localhost/target/1#top"


def test_abort_and_http_errors(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    def view(code: int) -> str:
        if code == 299:
            abort(make_response("custom body", 299))
        abort(code, f"custom {code}")

    app.add_url_rule("/abort/<int:code>", "abort", as_view(view))
    response = client.get("/abort/403")
    assert response.status_code == 403
    assert "custom 403" in response.text
    assert "<title>403 Forbidden</title>" in response.text
    response = client.get("/abort/299")
    assert (response.status_code, response.text) == (299, "custom body")


def test_error_handlers_by_code_and_class(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    class AppError(Exception):
        pass

    class SubError(AppError):
        pass

    app.register_error_handler(404, as_view(lambda e: ({"error": "missing"}, 404)))
    app.register_error_handler(AppError, as_view(lambda e: (f"app error {type(e).__name__}", 409)))

    def raise_sub() -> str:
        raise SubError()

    app.add_url_rule("/sub", "sub", as_view(raise_sub))
    response = client.get("/nowhere")
    assert (response.status_code, response.json()) == (404, {"error": "missing"})
    response = client.get("/sub")
    assert (response.status_code, response.text) == (409, "app error SubError")


def test_unhandled_error_is_500_and_logged_once(
    app: Ambi,
    make_client: Callable[..., AmbiClient],
    as_view: MakeView,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.testing = False
    torn: list[Any] = []

    def boom() -> str:
        raise RuntimeError("secret detail")

    app.add_url_rule("/", "boom", as_view(boom))
    app.teardown_request(lambda error: torn.append(error))
    response = make_client(app).get("/")
    assert response.status_code == 500
    assert "secret detail" not in response.text
    assert "Traceback" not in response.text
    assert "Internal Server Error" in response.text
    records = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(records) == 1
    assert records[0].getMessage() == "Exception on / [GET]"
    assert isinstance(torn[0], RuntimeError)


def test_500_handler_gets_original_exception(app: Ambi, client: AmbiClient) -> None:
    app.testing = False

    @app.errorhandler(500)
    async def server_error(error: Any) -> tuple[str, int]:
        return f"handled {type(error.original_exception).__name__}", 500

    @app.get("/")
    def index() -> str:
        raise KeyError("x")

    response = client.get("/")
    assert (response.status_code, response.text) == (500, "handled KeyError")


def test_debug_mode_shows_traceback(app: Ambi, client: AmbiClient) -> None:
    app.testing = False
    app.debug = True

    @app.get("/")
    def index() -> str:
        raise ValueError("visible in debug")

    response = client.get("/")
    assert response.status_code == 500
    assert "Traceback" in response.text
    assert "visible in debug" in response.text


def test_exceptions_propagate_in_testing(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    torn: list[Any] = []

    def boom() -> str:
        raise LookupError("propagated")

    app.add_url_rule("/", "boom", as_view(boom))
    app.teardown_request(lambda error: torn.append(error))
    with pytest.raises(LookupError, match="propagated"):
        client.get("/")
    assert len(torn) == 1
    assert isinstance(torn[0], LookupError)


def test_teardown_errors_are_logged_not_sent(
    app: Ambi, client: AmbiClient, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    @app.teardown_request
    def second(error: Any) -> None:
        ran.append("second")

    @app.teardown_request
    def first(error: Any) -> None:
        ran.append("first")
        raise RuntimeError("teardown failed")

    @app.get("/")
    def index() -> str:
        return "fine"

    assert client.get("/").text == "fine"
    assert ran == ["first", "second"]
    assert "Error in teardown_request function" in caplog.text


def test_view_returning_none_is_an_error(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.add_url_rule("/", "index", as_view(lambda: None))
    with pytest.raises(TypeError, match="did not return a valid response"):
        client.get("/")


def test_sync_wrapper_around_async_view(app: Ambi, client: AmbiClient) -> None:
    import functools

    def login_required(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)  # returns a coroutine

        return wrapper

    @app.get("/")
    @login_required
    async def index() -> str:
        await asyncio.sleep(0)
        return "awaited"

    assert client.get("/").text == "awaited"


def test_head_and_options(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.add_url_rule("/", "index", as_view(lambda: "hello"), methods=["GET", "POST"])
    head = client.head("/")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "5"
    options = client.options("/")
    assert options.status_code == 200
    assert options.headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_async_client(app: Ambi, interface: str) -> None:
    @app.get("/")
    async def index() -> str:
        return "async client"

    async def main() -> None:
        async with app.async_test_client(interface) as client:  # type: ignore[arg-type]
            response = await client.get("/")
            assert response.text == "async client"

    asyncio.run(main())
