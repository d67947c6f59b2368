"""Templates: Flask's Jinja2 defaults, rendering from views of both kinds on both
interfaces, context processors (def and async def) along the blueprint chain, filters,
tests and globals, per-blueprint folders, auto-reload and streamed templates."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import jinja2
import pytest

from ambi import Ambi, g, redirect, request, session
from ambi.blueprints import Blueprint
from ambi.globals import _cv_context
from ambi.sessions import SecureCookieSession, SessionInterface
from ambi.templating import (
    DispatchingJinjaLoader,
    render_template,
    render_template_string,
    stream_template,
    stream_template_string,
    template_context_flow,
    update_template_context,
)
from ambi.testing import AmbiClient

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]
TESTS = Path(__file__).parent


def _jinja_ready(app: Ambi) -> Ambi:
    """The app, its Jinja environment created (as the first render would)."""
    assert app.jinja_env is not None
    return app


@pytest.fixture
def app(app: Ambi) -> Ambi:
    app.secret_key = "templating tests"
    return _jinja_ready(app)


def test_the_test_app_finds_tests_templates(app: Ambi) -> None:
    assert Path(app.root_path) == TESTS
    assert "escape.html" in app.jinja_env.list_templates()  # type: ignore[attr-defined]


# -- rendering and autoescaping -------------------------------------------------------------


def test_autoescape_by_extension(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    value = "<script>alert(1)</script>"
    for name in ("escape.html", "escape.txt", "escape.svg"):
        app.add_url_rule(
            f"/{name}", name, as_view(lambda name=name: render_template(name, value=value))
        )
    html = client.get("/escape.html")
    assert html.status_code == 200
    assert html.text == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert html.headers["content-type"].startswith("text/html")
    assert client.get("/escape.txt").text == "<script>alert(1)</script>"
    assert client.get("/escape.svg").text == "<svg>&lt;script&gt;alert(1)&lt;/script&gt;</svg>"


def test_render_template_string_escapes_and_takes_context(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    app.add_url_rule(
        "/",
        "index",
        as_view(lambda: render_template_string("{{ a }}|{{ b|safe }}", a="<b>", b="<i>")),
    )
    assert client.get("/").text == "&lt;b&gt;|<i>"


def test_template_inheritance(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.add_url_rule(
        "/",
        "index",
        as_view(lambda: render_template("child.html", heading="Hi", message="<hello>")),
    )
    assert client.get("/").text == "<title>Hi - Ambi</title>\n<main><p>&lt;hello&gt;</p></main>"


def test_first_existing_template_of_a_list(app: Ambi) -> None:
    with app.test_request_context():
        assert render_template(["missing.html", "escape.txt"], value="x") == "x"
        with pytest.raises(Exception, match=r"missing\.html"):
            render_template("missing.html")


def test_url_for_request_session_g_and_config_in_templates(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    app.config["SITE_NAME"] = "Ambi & co"

    @app.get("/login")
    def login() -> Any:
        session["user"] = "<ada>"
        return redirect("/render?q=42")

    def page(name: str) -> str:
        return name

    def view() -> str:
        g.who = "view"
        return render_template("context.html")

    app.add_url_rule("/page/<name>", "page", as_view(page))
    app.add_url_rule("/render", "render", as_view(view))
    text = client.get("/login", follow_redirects=True).text
    assert text == (
        "url=/page/x%20y\npath=/render q=42\nuser=&lt;ada&gt;\ng=view\nsite=Ambi &amp; co"
    )


def test_request_session_and_g_are_the_real_objects(app: Ambi) -> None:
    source = (
        "{{ request.__class__.__name__ }} {{ session.__class__.__name__ }} {{ g is sameas g2 }}"
    )
    with app.test_request_context("/?x=1"):
        assert render_template_string(source, g2=g._get_current_object()) == (  # type: ignore[attr-defined]
            "Request SecureCookieSession True"
        )


def test_app_context_only_renders_with_g_and_config(app: Ambi) -> None:
    app.config["SITE_NAME"] = "site"
    with app.app_context():
        g.x = 1
        assert render_template_string("{{ g.x }} {{ config.SITE_NAME }}") == "1 site"


def test_rendering_outside_a_context_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="application context"):
        render_template_string("x")


def test_a_template_that_ignores_the_session_does_not_vary_on_cookie(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    app.add_url_rule("/plain", "plain", as_view(lambda: render_template_string("plain")))
    app.add_url_rule(
        "/reads", "reads", as_view(lambda: render_template_string("{{ session.get('x') }}"))
    )
    plain = client.get("/plain")
    assert plain.text == "plain"
    assert "vary" not in plain.headers
    assert "set-cookie" not in plain.headers
    assert client.get("/reads").headers["vary"] == "Cookie"


def test_tojson_uses_the_app_json_provider(app: Ambi) -> None:
    with app.test_request_context():
        rendered = render_template_string("{{ data|tojson }}", data={"b": 1, "a": "</script>"})
    assert rendered == '{"a": "\\u003c/script\\u003e", "b": 1}'


def test_jinja_options_are_used() -> None:
    class TrimmingApp(Ambi):
        jinja_options = {"trim_blocks": True}

    app = _jinja_ready(TrimmingApp("trimming", root_path=str(TESTS)))
    with app.app_context():
        assert render_template_string("{% if true %}\nyes{% endif %}") == "yes"


# -- context processors ----------------------------------------------------------------------


def test_def_context_processor_runs_at_render_time(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    @app.context_processor
    def inject() -> dict[str, Any]:
        return {"site": "Ambi", "who": g.get("who", "nobody")}

    def view() -> str:
        g.who = "the view"  # set before the render: the processor sees it
        return render_template_string("{{ site }} {{ who }}")

    app.add_url_rule("/", "index", as_view(view))
    app.add_url_rule(
        "/override", "override", as_view(lambda: render_template_string("{{ site }}", site="mine"))
    )
    assert client.get("/").text == "Ambi the view"
    assert client.get("/override").text == "mine"  # the caller's context wins


def test_context_processors_follow_the_blueprint_chain(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    @app.context_processor
    def from_app() -> dict[str, str]:
        return {"a": "app", "b": "app", "c": "app"}

    outer = Blueprint("outer", __name__, url_prefix="/outer")
    inner = Blueprint("inner", __name__, url_prefix="/inner")

    @outer.context_processor
    def from_outer() -> dict[str, str]:
        return {"b": "outer", "c": "outer"}

    @inner.context_processor
    def from_inner() -> dict[str, str]:
        return {"c": "inner"}

    @inner.app_context_processor
    def everywhere() -> dict[str, str]:
        return {"d": "app-wide"}

    template = "{{ a }} {{ b }} {{ c }} {{ d }}"
    inner.add_url_rule("/", "index", as_view(lambda: render_template_string(template)))
    outer.add_url_rule("/", "index", as_view(lambda: render_template_string(template)))
    outer.register_blueprint(inner)
    app.register_blueprint(outer)
    app.add_url_rule("/", "index", as_view(lambda: render_template_string(template)))
    assert client.get("/outer/inner/").text == "app outer inner app-wide"
    assert client.get("/outer/").text == "app outer outer app-wide"
    assert client.get("/").text == "app app app app-wide"


def test_a_context_processor_must_return_a_dict(app: Ambi) -> None:
    @app.context_processor
    def forgetful() -> None:
        return None

    with app.test_request_context(), pytest.raises(TypeError, match="forgetful"):
        render_template_string("x")


def test_async_context_processors_keep_their_place_in_the_chain(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    """Needs the pipeline to run :func:`template_context_flow` before the view."""

    @app.before_request
    def who() -> None:
        g.who = "before_request"

    @app.context_processor
    async def app_async() -> dict[str, str]:
        await asyncio.sleep(0)
        return {"a": "app-async", "b": "app-async", "who": g.who}

    shop = Blueprint("shop", __name__)

    @shop.context_processor
    def shop_sync() -> dict[str, str]:
        return {"b": "shop-sync", "c": "shop-sync"}

    @shop.context_processor
    async def shop_async() -> dict[str, str]:
        return {"c": "shop-async"}

    template = "{{ a }} {{ b }} {{ c }} {{ who }}"
    shop.add_url_rule("/shop", "index", as_view(lambda: render_template_string(template)))
    app.register_blueprint(shop)
    app.add_url_rule("/", "index", as_view(lambda: render_template_string("{{ a }} {{ b }}")))
    assert client.get("/shop").text == "app-async shop-sync shop-async before_request"
    assert client.get("/").text == "app-async app-async"


def test_error_pages_get_async_context_processors(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    """An error can come before the view (a 404 here): the handler's templates still get
    the async processors' names. Needs the pipeline wiring."""

    @app.context_processor
    async def user() -> dict[str, str]:
        return {"user": "ada"}

    app.register_error_handler(
        404, as_view(lambda error: (render_template_string("{{ user }}: not found"), 404))
    )
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.text == "ada: not found"


def test_async_context_processor_without_the_pipeline_is_a_clear_error(app: Ambi) -> None:
    @app.context_processor
    async def user() -> dict[str, str]:
        return {"user": "ada"}

    with app.test_request_context(), pytest.raises(RuntimeError, match="async def"):
        render_template_string("{{ user }}")
    with app.app_context(), pytest.raises(RuntimeError, match="async def"):
        render_template_string("{{ user }}")


def test_template_context_flow_is_the_pipeline_contract(app: Ambi) -> None:
    """What the pipeline does for async context processors, driven by hand."""

    @app.context_processor
    async def user() -> dict[str, str]:
        return {"user": "ada"}

    @app.context_processor
    def sync() -> dict[str, str]:
        return {"sync": "yes"}

    with app.test_request_context():
        ctx: Any = _cv_context.get()
        flow = template_context_flow(ctx)
        func, is_async, args, kwargs = next(flow)
        assert (func, is_async, args, kwargs) == (user, True, (), None)
        with pytest.raises(StopIteration):
            flow.send(asyncio.run(func()))
        assert ctx.template_context == {user: {"user": "ada"}}
        assert list(template_context_flow(ctx)) == []  # once per request
        assert render_template_string("{{ user }} {{ sync }}") == "ada yes"
        context: dict[str, Any] = {"sync": "caller"}
        update_template_context(app, context)
        assert context["user"] == "ada"
        assert context["sync"] == "caller"
        assert context["request"] is ctx.request


# -- filters, tests, globals -----------------------------------------------------------------


def test_template_filters_tests_and_globals(app: Ambi) -> None:
    @app.template_filter()
    def reverse(value: str) -> str:
        return value[::-1]

    @app.template_filter("shout")
    def make_loud(value: str) -> str:
        return value.upper()

    @app.template_test()
    def even(value: int) -> bool:
        return value % 2 == 0

    @app.template_test("big")
    def is_big(value: int) -> bool:
        return value > 100

    @app.template_global()
    def double(value: int) -> int:
        return value * 2

    @app.template_global("site_name")
    def name() -> str:
        return "Ambi"

    app.add_template_filter(str.title, "title_case")
    app.add_template_test(lambda value: value == 0, "zero")
    app.add_template_global(42, "answer")  # type: ignore[arg-type]
    source = (
        "{{ 'abc'|reverse }} {{ 'hi'|shout }} {{ 'a b'|title_case }}"
        " {{ 4 is even }} {{ 3 is even }} {{ 101 is big }} {{ 0 is zero }}"
        " {{ double(21) }} {{ site_name() }} {{ answer }}"
    )
    with app.test_request_context():
        assert render_template_string(source) == ("cba HI A B True False True True 42 Ambi 42")


def test_blueprint_app_template_filter(app: Ambi) -> None:
    bp = Blueprint("bp", __name__)

    @bp.app_template_filter()
    def exclaim(value: str) -> str:
        return f"{value}!"

    @bp.app_template_test("empty")
    def is_empty(value: str) -> bool:
        return not value

    @bp.app_template_global()
    def greet() -> str:
        return "hello"

    app.register_blueprint(bp)
    with app.test_request_context():
        assert render_template_string("{{ greet()|exclaim }} {{ '' is empty }}") == ("hello! True")


# -- folders and reloading -------------------------------------------------------------------


def test_blueprint_template_folders_after_the_app_folder(
    app: Ambi, client: AmbiClient, as_view: MakeView, tmp_path: Path
) -> None:
    folder = tmp_path / "bp_templates"
    folder.mkdir()
    (folder / "only_here.html").write_text("blueprint {{ request.blueprint }}")
    (folder / "escape.html").write_text("the blueprint's copy")  # the app's wins
    admin = Blueprint(
        "admin",
        __name__,
        url_prefix="/admin",
        template_folder="bp_templates",
        root_path=str(tmp_path),
    )
    admin.add_url_rule("/", "index", as_view(lambda: render_template("only_here.html")))
    admin.add_url_rule(
        "/shadowed", "shadowed", as_view(lambda: render_template("escape.html", value="app"))
    )
    app.register_blueprint(admin)
    assert client.get("/admin/").text == "blueprint admin"
    assert client.get("/admin/shadowed").text == "<p>app</p>"
    names = app.jinja_env.list_templates()  # type: ignore[attr-defined]
    assert {"only_here.html", "escape.html", "base.html"} <= set(names)


def test_app_template_folder_option(tmp_path: Path) -> None:
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "page.txt").write_text("from views/")
    app = Ambi("folder_app", root_path=str(tmp_path), template_folder="views")  # type: ignore[call-arg]
    with app.app_context():
        assert render_template("page.txt") == "from views/"


def _rewrite(path: Path, text: str) -> None:
    before = path.stat().st_mtime
    path.write_text(text)
    os.utime(path, (before + 10, before + 10))  # a later mtime, whatever the clock resolution


@pytest.mark.parametrize(
    ("setting", "debug", "reloads"),
    [(True, False, True), (False, True, False), (None, True, True), (None, False, False)],
)
def test_templates_auto_reload(
    tmp_path: Path,
    make_client: Callable[..., AmbiClient],
    setting: bool | None,
    debug: bool,
    reloads: bool,
) -> None:
    (tmp_path / "templates").mkdir()
    page = tmp_path / "templates" / "page.txt"
    page.write_text("v1")
    app = Ambi("reload_app", root_path=str(tmp_path))
    app.config["TEMPLATES_AUTO_RELOAD"] = setting
    app.config["DEBUG"] = debug
    _jinja_ready(app)
    app.add_url_rule("/", "index", lambda: render_template("page.txt"))
    client = make_client(app)
    assert client.get("/").text == "v1"
    assert app.jinja_env.auto_reload is reloads  # type: ignore[attr-defined]
    _rewrite(page, "v2")
    assert client.get("/").text == ("v2" if reloads else "v1")


# -- streaming -------------------------------------------------------------------------------


def _asgi_body_chunks(app: Ambi, path: str, query: bytes = b"") -> list[bytes]:
    async def run() -> list[bytes]:
        messages: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"localhost")],
            "client": ("127.0.0.1", 1),
            "server": ("localhost", 80),
        }

        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await app.asgi_app(scope, receive, send)
        return [m["body"] for m in messages if m["type"] == "http.response.body" and m["body"]]

    return asyncio.run(run())


def test_stream_template_renders_lazily_in_chunks(
    app: Ambi, client: AmbiClient, as_view: MakeView, interface: str
) -> None:
    events: list[str] = []

    def rows() -> Iterator[str]:
        for index in range(3):
            events.append(f"row {index}")
            # The request context is still there while the body is generated.
            yield f"{request.args['q']}{index}"

    def view() -> Iterator[str]:
        stream = stream_template("rows.html", rows=rows())
        events.append("view returned")
        return stream

    app.add_url_rule("/rows", "rows", as_view(view))
    app.add_url_rule(
        "/string",
        "string",
        as_view(
            lambda: stream_template_string("{{ a }}{% for x in 'xy' %}-{{ x }}{% endfor %}", a="<")
        ),
    )
    response = client.get("/rows?q=r")
    assert response.text == "<li>r0</li>\n<li>r1</li>\n<li>r2</li>\n"
    assert "content-length" not in response.headers
    assert events == ["view returned", "row 0", "row 1", "row 2"]
    assert client.get("/string").text == "&lt;-x-y"
    if interface == "wsgi":
        with client.stream("GET", "/rows?q=r") as streamed:
            chunks = [chunk for chunk in streamed.iter_raw() if chunk]
    else:
        chunks = _asgi_body_chunks(app, "/rows", b"q=r")
    assert len(chunks) > 1
    assert b"".join(chunks) == b"<li>r0</li>\n<li>r1</li>\n<li>r2</li>\n"


# -- edges -----------------------------------------------------------------------------------


def test_loader_of_objects_without_jinja_loader(tmp_path: Path) -> None:
    """The loader works from ``root_path`` and ``template_folder`` alone, and skips an
    app or blueprint without a folder."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("one")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").write_text("two")
    blueprints = {
        "none": SimpleNamespace(root_path=str(tmp_path), template_folder=None),
        "b": SimpleNamespace(root_path=str(tmp_path), template_folder="b"),
    }
    stub: Any = SimpleNamespace(root_path=str(tmp_path), template_folder="a", blueprints=blueprints)
    env = jinja2.Environment(loader=DispatchingJinjaLoader(stub))
    assert env.get_template("one.txt").render() == "one"
    assert env.get_template("two.txt").render() == "two"
    assert env.list_templates() == ["one.txt", "two.txt"]
    stub.template_folder = None
    with pytest.raises(jinja2.TemplateNotFound):
        jinja2.Environment(loader=DispatchingJinjaLoader(stub)).get_template("one.txt")


def test_jinja_options_may_replace_every_default(tmp_path: Path) -> None:
    class CustomApp(Ambi):
        jinja_options = {
            "loader": jinja2.DictLoader({"page.html": "{{ x }}"}),
            "autoescape": False,
            "auto_reload": True,
        }

    app = _jinja_ready(CustomApp("custom", root_path=str(tmp_path)))
    assert app.jinja_env.auto_reload is True  # type: ignore[attr-defined]
    with app.app_context():
        assert render_template("page.html", x="<b>") == "<b>"


def test_processor_results_may_be_any_mapping_but_not_a_coroutine(app: Ambi) -> None:
    @app.context_processor
    def frozen() -> Any:
        return MappingProxyType({"frozen": "yes"})

    with app.test_request_context():
        assert render_template_string("{{ frozen }}") == "yes"

    async def real() -> dict[str, str]:
        return {}

    @functools.wraps(real)
    def hidden_async() -> Any:  # a plain def wrapper around an async def
        return real()

    hidden_async.__qualname__ = "hidden_async"
    app.context_processor(hidden_async)
    with app.test_request_context(), pytest.raises(RuntimeError, match="coroutine"):
        render_template_string("x")


def test_template_with_an_async_session_interface_outside_a_request(app: Ambi) -> None:
    class AsyncSessions(SessionInterface):
        async def open_session(self, app: Any, request: Any) -> SecureCookieSession:
            return SecureCookieSession()

        async def save_session(self, app: Any, session: Any, response: Any) -> None:
            return None

    app.session_interface = AsyncSessions()
    with app.test_request_context():
        assert render_template_string("{{ request.path }}") == "/"
        with pytest.raises(RuntimeError, match="async def"):
            render_template_string("{{ session.x }}")


def test_update_template_context_outside_any_context(app: Ambi) -> None:
    @app.context_processor
    def site() -> dict[str, str]:
        return {"site": "Ambi"}

    context: dict[str, Any] = {}
    update_template_context(app, context)
    assert context == {"site": "Ambi"}
    # Inside another app's request, only this app's own processors apply.
    other = Ambi("other")
    with other.test_request_context("/elsewhere"):
        context = {}
        update_template_context(app, context)
        assert context["site"] == "Ambi"
        assert context["request"].path == "/elsewhere"


def test_streamed_template_signals_before_its_first_chunk(app: Ambi) -> None:
    from ambi.signals import before_render_template

    seen: list[str] = []
    with (
        before_render_template.connected_to(lambda s, **extra: seen.append("before"), app),
        app.test_request_context(),
    ):
        stream = stream_template("escape.txt", value="v")
        assert seen == ["before"]
        assert "".join(stream) == "v"
