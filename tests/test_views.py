"""Class-based views (``View``, ``MethodView``) on both interfaces, with ``def`` and
``async def`` handlers mixed in one class.

The tests marked "native dispatch" below count adaptations: they need the pipeline to
run ``view.ambi_method_views[request.method]`` instead of the view function (see
``ambi.views``); everything else also holds for the plain view function.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

import pytest

import ambi._drivers as drivers
from ambi import Ambi, Response, request
from ambi.testing import AmbiClient
from ambi.views import MethodView, MethodViews, View, http_method_funcs, method_views_for


def _delta(before: tuple[int, int, int]) -> tuple[int, int, int]:
    after = drivers.adaptations.snapshot()
    return (after[0] - before[0], after[1] - before[1], after[2] - before[2])


class Mixed(MethodView):
    """A mixed view."""

    def get(self, item: int) -> dict[str, Any]:
        return {"kind": "def", "item": item, "method": request.method}

    async def post(self, item: int) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"kind": "async", "item": item, "body": request.get_json()}

    def put(self, item: int) -> str:
        return f"put {item} {request.get_data(as_text=True)}"

    async def delete(self, item: int) -> tuple[str, int]:
        return "", 204


# -- View ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["def", "async"])
def test_view_dispatch_request_of_either_kind(
    app: Ambi, make_client: Callable[..., AmbiClient], kind: str
) -> None:
    if kind == "def":

        class Greeting(View):
            """Says hello."""

            methods = ["GET", "POST"]

            def dispatch_request(self, name: str) -> str:  # type: ignore[override]
                return f"{request.method} hello {name}"

    else:

        class Greeting(View):  # type: ignore[no-redef]
            """Says hello."""

            methods = ["GET", "POST"]

            async def dispatch_request(self, name: str) -> str:  # type: ignore[override]
                await asyncio.sleep(0)
                return f"{request.method} hello {name}"

    view = Greeting.as_view("greet")
    assert inspect.iscoroutinefunction(view) is (kind == "async")
    assert view.__name__ == "greet"
    assert view.__doc__ == "Says hello."
    assert view.__module__ == __name__
    assert view.view_class is Greeting
    assert view.methods == ["GET", "POST"]
    assert view.provide_automatic_options is None
    assert view.ambi_method_views is None
    assert method_views_for(view) is None
    app.add_url_rule("/hello/<name>", view_func=view)
    client = make_client(app)
    assert client.get("/hello/ada").text == "GET hello ada"
    assert client.post("/hello/bob").text == "POST hello bob"
    assert client.delete("/hello/bob").status_code == 405


def test_view_defaults_to_get_and_needs_dispatch_request(
    app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    class Nothing(View):
        pass

    view = Nothing.as_view("nothing")
    assert view.methods is None
    assert not inspect.iscoroutinefunction(view)
    app.add_url_rule("/", view_func=view)
    client = make_client(app)
    assert client.post("/").status_code == 405
    with pytest.raises(NotImplementedError, match="must implement dispatch_request"):
        client.get("/")


# -- MethodView: methods, kinds, dispatch ---------------------------------------------------


def test_method_view_mixed_kinds(app: Ambi, make_client: Callable[..., AmbiClient]) -> None:
    view = Mixed.as_view("item")
    assert Mixed.methods == {"GET", "POST", "PUT", "DELETE"}
    assert view.methods == Mixed.methods
    # Mixed kinds: the view function is a def (returning the coroutine of an async handler).
    assert not inspect.iscoroutinefunction(view)
    views = view.ambi_method_views
    assert isinstance(views, MethodViews)
    assert method_views_for(view) is views
    assert sorted(views) == ["DELETE", "GET", "HEAD", "POST", "PUT"]
    assert {m: inspect.iscoroutinefunction(f) for m, f in views.items()} == {
        "DELETE": True,
        "GET": False,
        "HEAD": False,
        "POST": True,
        "PUT": False,
    }
    assert views["HEAD"] is views["GET"]
    for func in views.values():
        assert func.__name__ == "item"
        assert func.view_class is Mixed  # type: ignore[attr-defined]
    assert views["POST"].__qualname__.endswith("Mixed.post")

    app.add_url_rule("/items/<int:item>", view_func=view)
    client = make_client(app)
    assert client.get("/items/3").json() == {"kind": "def", "item": 3, "method": "GET"}
    assert client.post("/items/4", json={"a": 1}).json() == {
        "kind": "async",
        "item": 4,
        "body": {"a": 1},
    }
    assert client.put("/items/5", content=b"body").text == "put 5 body"
    assert client.delete("/items/6").status_code == 204
    response = client.patch("/items/7")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {
        "DELETE",
        "GET",
        "HEAD",
        "OPTIONS",
        "POST",
        "PUT",
    }
    response = client.options("/items/7")
    assert response.status_code == 200
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize("kind", ["def", "async"])
def test_method_view_of_one_kind_has_a_view_function_of_that_kind(
    app: Ambi, make_client: Callable[..., AmbiClient], kind: str
) -> None:
    if kind == "def":

        class Uniform(MethodView):
            def get(self) -> str:
                return "got"

            def post(self) -> str:
                return f"posted {request.get_data(as_text=True)}"

    else:

        class Uniform(MethodView):  # type: ignore[no-redef]
            async def get(self) -> str:
                return "got"

            async def post(self) -> str:
                return f"posted {request.get_data(as_text=True)}"

    view = Uniform.as_view("uniform")
    assert inspect.iscoroutinefunction(view) is (kind == "async")
    assert view.ambi_method_views is not None
    assert {inspect.iscoroutinefunction(f) for f in view.ambi_method_views.values()} == {
        kind == "async"
    }
    app.add_url_rule("/", view_func=view)
    client = make_client(app)
    assert client.get("/").text == "got"
    assert client.post("/", content=b"x").text == "posted x"


def test_methods_come_from_handlers_and_bases(app: Ambi, client: AmbiClient) -> None:
    class Base(MethodView):
        def get(self) -> str:
            return f"get from {type(self).__name__}"

    class Child(Base):
        async def post(self) -> str:
            return "async post"

    class DeleteMixin:
        def delete(self) -> str:
            return "deleted"

    class Grandchild(DeleteMixin, Child):
        pass

    class Restricted(Child):
        methods = ["GET"]

    class Empty(MethodView):
        pass

    assert Base.methods == {"GET"}
    assert Child.methods == {"GET", "POST"}
    assert Grandchild.methods == {"GET", "POST", "DELETE"}
    assert Restricted.methods == ["GET"]
    assert Empty.methods is None
    assert MethodView.methods is None
    assert {"get", "post", "put", "delete", "patch", "head", "options", "trace"} == (
        http_method_funcs
    )

    app.add_url_rule("/gc", view_func=Grandchild.as_view("gc"))
    app.add_url_rule("/r", view_func=Restricted.as_view("r"))
    app.add_url_rule("/e", view_func=Empty.as_view("e"))
    assert client.get("/gc").text == "get from Grandchild"
    assert client.post("/gc").text == "async post"
    assert client.delete("/gc").text == "deleted"
    assert client.put("/gc").status_code == 405
    # ``methods`` set on the class wins over the handlers it defines.
    assert client.get("/r").text == "get from Restricted"
    assert client.post("/r").status_code == 405
    # No handler, no methods: GET by default, and no handler to run.
    assert client.post("/e").status_code == 405
    with pytest.raises(NotImplementedError, match="defines no get"):
        client.get("/e")


def test_methods_option_of_add_url_rule_overrides_the_class(app: Ambi, client: AmbiClient) -> None:
    app.add_url_rule("/items/<int:item>", view_func=Mixed.as_view("item"), methods=["GET"])
    assert client.get("/items/1").json()["kind"] == "def"
    assert client.post("/items/1", json={}).status_code == 405


def test_a_listed_method_without_a_handler_is_an_error(app: Ambi, client: AmbiClient) -> None:
    class OnlyGet(MethodView):
        methods = ["GET", "PUT"]

        def get(self) -> str:
            return "ok"

    view = OnlyGet.as_view("only")
    assert view.ambi_method_views is not None
    assert "PUT" not in view.ambi_method_views
    app.add_url_rule("/", view_func=view)
    assert client.get("/").text == "ok"
    with pytest.raises(NotImplementedError, match="defines no put"):
        client.put("/")


def test_head_falls_back_to_get(app: Ambi, make_client: Callable[..., AmbiClient]) -> None:
    seen: list[str] = []

    class GetOnly(MethodView):
        async def get(self) -> Response:
            seen.append(f"get {request.method}")
            return Response("body", headers={"X-Handler": "get"})

    class WithHead(MethodView):
        def get(self) -> str:
            seen.append("get")
            return "body"

        def head(self) -> Response:
            seen.append("head")
            return Response("", headers={"X-Handler": "head"})

    get_only = GetOnly.as_view("get_only")
    assert get_only.ambi_method_views is not None
    assert get_only.ambi_method_views["HEAD"] is get_only.ambi_method_views["GET"]
    with_head = WithHead.as_view("with_head")
    assert with_head.ambi_method_views is not None
    assert inspect.iscoroutinefunction(get_only.ambi_method_views["HEAD"])
    assert with_head.ambi_method_views["HEAD"] is not with_head.ambi_method_views["GET"]
    app.add_url_rule("/a", view_func=get_only)
    app.add_url_rule("/b", view_func=with_head)
    client = make_client(app)
    response = client.head("/a")
    assert response.status_code == 200
    assert response.headers["x-handler"] == "get"
    assert response.content == b""
    response = client.head("/b")
    assert response.headers["x-handler"] == "head"
    assert seen == ["get HEAD", "head"]


def test_overridden_dispatch_request_is_used(
    app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    class Audited(MethodView):
        async def dispatch_request(self, **kwargs: Any) -> Any:
            rv = super().dispatch_request(**kwargs)
            if inspect.isawaitable(rv):
                rv = await rv
            return f"audited {rv}"

        def get(self) -> str:
            return "get"

        async def post(self) -> str:
            return "post"

    view = Audited.as_view("audited")
    # Its own dispatch_request decides: no per-method callables bypass it.
    assert view.ambi_method_views is None
    assert inspect.iscoroutinefunction(view)
    app.add_url_rule("/", view_func=view)
    client = make_client(app)
    assert client.get("/").text == "audited get"
    assert client.post("/").text == "audited post"


# -- as_view arguments, instances, decorators ---------------------------------------------------


def test_as_view_passes_class_args_and_kwargs(app: Ambi, client: AmbiClient) -> None:
    class Templated(MethodView):
        def __init__(self, template: str, *, suffix: str = "") -> None:
            self.template = template
            self.suffix = suffix

        def get(self, name: str) -> str:
            return self.template.format(name=name) + self.suffix

        async def post(self, name: str) -> str:
            return self.template.format(name=name.upper()) + self.suffix

    class Plain(View):
        def __init__(self, greeting: str) -> None:
            self.greeting = greeting

        async def dispatch_request(self, name: str) -> str:  # type: ignore[override]
            return f"{self.greeting} {name}"

    app.add_url_rule("/t/<name>", view_func=Templated.as_view("t", "Hi {name}", suffix="!"))
    app.add_url_rule("/p/<name>", view_func=Plain.as_view("p", greeting="Yo"))
    assert client.get("/t/ada").text == "Hi ada!"
    assert client.post("/t/ada").text == "Hi ADA!"
    assert client.get("/p/ada").text == "Yo ada"


@pytest.mark.parametrize("init_every_request", [True, False])
def test_init_every_request(
    app: Ambi, make_client: Callable[..., AmbiClient], init_every_request: bool
) -> None:
    instances: list[object] = []
    made: list[object] = []

    class Counted(MethodView):
        def __init__(self) -> None:
            made.append(self)

        def get(self) -> str:
            instances.append(self)
            return "get"

        async def post(self) -> str:
            instances.append(self)
            return "post"

    Counted.init_every_request = init_every_request
    view = Counted.as_view("counted")
    assert len(made) == (0 if init_every_request else 1)
    app.add_url_rule("/", view_func=view)
    client = make_client(app)
    for _ in range(2):
        assert client.get("/").text == "get"
        assert client.post("/").text == "post"
    # The plain view function and the per-method callables share the one instance too.
    with app.test_request_context("/", "POST"):
        assert asyncio.run(view()) == "post"
        assert view.ambi_method_views is not None
        assert asyncio.run(view.ambi_method_views["POST"]()) == "post"
    with app.test_request_context("/"):
        assert view.ambi_method_views["GET"]() == "get"
    assert len(instances) == 7
    if init_every_request:
        assert len({id(instance) for instance in instances}) == 7
        assert made == instances
    else:
        assert len(made) == 1
        assert all(instance is made[0] for instance in instances)


def test_decorators_are_applied_in_order_to_every_method(
    app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    calls: list[str] = []
    applied: list[tuple[str, str, bool]] = []

    def tag(label: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A kind-preserving decorator: async wrapper for async views, def for def."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            applied.append((label, func.__name__, inspect.iscoroutinefunction(func)))
            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def async_wrapper(**kwargs: Any) -> Any:
                    calls.append(label)
                    return await func(**kwargs)

                return async_wrapper

            @functools.wraps(func)
            def wrapper(**kwargs: Any) -> Any:
                calls.append(label)
                return func(**kwargs)

            return wrapper

        return decorator

    class Decorated(MethodView):
        decorators = [tag("inner"), tag("outer")]

        def get(self) -> str:
            calls.append("get")
            return "get"

        async def post(self) -> str:
            calls.append("post")
            return "post"

    view = Decorated.as_view("decorated")
    # Applied to the view function (a def: mixed kinds), then to each handler's callable.
    assert sorted(applied) == sorted(
        [
            ("inner", "decorated", False),
            ("outer", "decorated", False),
            ("inner", "decorated", False),
            ("outer", "decorated", False),
            ("inner", "decorated", True),
            ("outer", "decorated", True),
        ]
    )
    assert view.__name__ == "decorated"
    assert view.view_class is Decorated
    assert view.methods == {"GET", "POST"}
    assert view.ambi_method_views is not None
    assert method_views_for(view) is view.ambi_method_views
    assert inspect.iscoroutinefunction(view.ambi_method_views["POST"])
    assert not inspect.iscoroutinefunction(view.ambi_method_views["GET"])
    app.add_url_rule("/", view_func=view)
    client = make_client(app)
    assert client.get("/").text == "get"
    assert calls == ["outer", "inner", "get"]
    calls.clear()
    assert client.post("/").text == "post"
    assert calls == ["outer", "inner", "post"]


def test_a_sync_decorator_around_an_async_handler_still_works(
    app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    def login_required(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> Any:
            if request.headers.get("X-User") is None:
                return "login first", 401
            return func(**kwargs)  # a coroutine for an async handler: awaited by Ambi

        return wrapper

    class Private(MethodView):
        decorators = [login_required]

        async def get(self) -> str:
            return "secret"

    view = Private.as_view("private")
    assert view.ambi_method_views is not None
    assert not inspect.iscoroutinefunction(view.ambi_method_views["GET"])
    app.add_url_rule("/", view_func=view)
    client = make_client(app)
    assert client.get("/").status_code == 401
    assert client.get("/", headers={"X-User": "ada"}).text == "secret"


def test_a_decorator_around_as_view_is_not_bypassed(
    app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    calls: list[str] = []

    def outside(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)  # copies ambi_method_views into the wrapper's __dict__
        def wrapper(**kwargs: Any) -> Any:
            calls.append(request.method)
            return func(**kwargs)

        return wrapper

    view = outside(Mixed.as_view("item"))
    assert getattr(view, "ambi_method_views", None) is not None
    assert method_views_for(view) is None  # so the pipeline calls ``wrapper``
    app.add_url_rule("/items/<int:item>", view_func=view)
    client = make_client(app)
    assert client.get("/items/1").json()["kind"] == "def"
    assert client.post("/items/2", json=[1]).json() == {"kind": "async", "item": 2, "body": [1]}
    assert calls == ["GET", "POST"]


def test_the_per_method_callables_run_alone(app: Ambi) -> None:
    view = Mixed.as_view("item")
    views = view.ambi_method_views
    assert views is not None
    with app.test_request_context("/items/1", "POST", json={"x": 1}):
        coroutine = views["POST"](item=1)
        assert inspect.iscoroutine(coroutine)
        assert asyncio.run(coroutine) == {"kind": "async", "item": 1, "body": {"x": 1}}
        # The plain view function works too: it hands back the handler's coroutine.
        assert asyncio.run(view(item=2)) == {"kind": "async", "item": 2, "body": {"x": 1}}
    with app.test_request_context("/items/1"):
        assert views["GET"](item=3) == {"kind": "def", "item": 3, "method": "GET"}
        assert view(item=3) == {"kind": "def", "item": 3, "method": "GET"}
    with app.test_request_context("/items/1", "HEAD"):
        assert view(item=4) == {"kind": "def", "item": 4, "method": "HEAD"}


def test_provide_automatic_options_and_an_options_handler(
    app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    class Manual(MethodView):
        def get(self) -> str:
            return "get"

        async def options(self) -> Response:
            return Response("", headers={"Allow": "GET", "X-Manual": "yes"})

    class NoOptions(MethodView):
        provide_automatic_options = False

        def get(self) -> str:
            return "get"

    assert Manual.methods == {"GET", "OPTIONS"}
    app.add_url_rule("/m", view_func=Manual.as_view("m"))
    app.add_url_rule("/n", view_func=NoOptions.as_view("n"))
    client = make_client(app)
    assert client.options("/m").headers["x-manual"] == "yes"
    assert client.options("/n").status_code == 405


# -- native dispatch (needs the pipeline to use ambi_method_views) ------------------------------


def test_native_dispatch_asgi_mixed_view(app: Ambi) -> None:
    threads: dict[str, int] = {}

    class Native(MethodView):
        def get(self) -> str:
            threads["get"] = threading.get_ident()
            return "get"

        async def post(self) -> str:
            threads["post"] = threading.get_ident()
            return f"post {request.get_json()}"

    app.add_url_rule("/", view_func=Native.as_view("native"))
    with app.test_client("asgi") as client:
        assert client.get("/").text == "get"  # warm up
        before = drivers.adaptations.snapshot()
        assert client.get("/").text == "get"
        assert _delta(before) == (1, 0, 0)  # a def handler: one worker-thread hop
        before = drivers.adaptations.snapshot()
        assert client.post("/", json=1).text == "post 1"
        assert _delta(before) == (0, 0, 0)  # an async def handler: no thread at all
        before = drivers.adaptations.snapshot()
        assert client.head("/").status_code == 200
        assert _delta(before) == (1, 0, 0)
    assert threads["get"] != threads["post"]


def test_native_dispatch_wsgi_mixed_view(app: Ambi) -> None:
    class Native(MethodView):
        def get(self) -> str:
            return "get"

        async def post(self) -> str:
            return f"post {request.get_json()}"

    app.add_url_rule("/", view_func=Native.as_view("native"))
    with app.test_client("wsgi") as client:
        assert client.post("/", json=0).text == "post 0"  # warm up: the thread's loop
        before = drivers.adaptations.snapshot()
        assert client.get("/").text == "get"
        assert _delta(before) == (0, 0, 0)  # a def handler: no loop touched
        before = drivers.adaptations.snapshot()
        assert client.post("/", json=1).text == "post 1"
        assert _delta(before) == (0, 1, 0)  # an async def handler: one loop entry


def test_native_dispatch_routes_describe_each_method(app: Ambi) -> None:
    app.add_url_rule("/items/<int:item>", view_func=Mixed.as_view("item"))
    how = app.plan_for("item").describe()
    assert "GET" in how["asgi"]
    assert "POST" in how["asgi"]
    assert "GET" in how["wsgi"]
    assert "POST" in how["wsgi"]
