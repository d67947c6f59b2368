"""Jinja2 templates with Flask's defaults: ``render_template`` and friends.

Part of the sans-I/O core: a render is plain, blocking Python (Jinja2 reading template
files), done by whoever calls it. In an ``async def`` view it blocks the loop for as long
as the render takes and no longer; a ``def`` view renders in its own thread under ASGI.

The environment (``app.jinja_env``, made by :func:`create_jinja_environment`):

* autoescaping for ``.html``, ``.htm``, ``.xml``, ``.xhtml`` and ``.svg`` templates and for
  :func:`render_template_string`; not for other names (``.txt``, ``.md``…);
* ``auto_reload`` from ``TEMPLATES_AUTO_RELOAD``, or ``DEBUG`` when that is ``None``:
  a template file changed on disk is read again on its next use;
* the globals ``url_for``, ``get_flashed_messages``, ``config`` (the app's), and
  ``request``, ``session``, ``g``; for a render the last three are the current context's
  own objects, not proxies;
* ``tojson`` serialises with the app's JSON provider;
* templates found in the app's ``template_folder`` (``templates`` next to the app), then
  in each registered blueprint's ``template_folder``, in registration order
  (:class:`DispatchingJinjaLoader`).

Context processors
==================

Before a render, the context processors of the current request's blueprint chain run
(the app's, then the outer blueprint's, then the inner one's; later names win) and the
caller's keyword arguments win over all of them, as in Flask. Outside a request only the
app's own processors run.

A ``def`` processor is called at render time, so it sees what the view did. An
``async def`` processor cannot be awaited inside a blocking render: while Ambi handles a
request the pipeline runs the endpoint's async processors ahead of the view (after the
``before_request`` hooks) with :func:`template_context_flow`, which keeps their results
on the request context as ``ctx.template_context`` (a dict: processor -> the dict it
returned); a render merges each result at that processor's place in the chain. A render
with an async processor and no such results (``test_request_context``, a bare app
context, a ``before_request`` hook that renders) raises :class:`RuntimeError`.
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeAlias

import jinja2
import jinja2.runtime

from .flashing import get_flashed_messages
from .globals import _app_context, _cv_context, g, request, session
from .scaffold import is_async_callable
from .signals import before_render_template, template_rendered

if TYPE_CHECKING:
    from ._pipeline import Flow
    from .app import App
    from .ctx import AppContext, RequestContext
    from .sessions import SessionMixin

__all__ = [
    "DispatchingJinjaLoader",
    "Environment",
    "Template",
    "add_template_filter",
    "add_template_global",
    "add_template_test",
    "create_jinja_environment",
    "folder_loader",
    "render_template",
    "render_template_string",
    "select_jinja_autoescape",
    "stream_template",
    "stream_template_string",
    "template_context_flow",
    "update_template_context",
]

TemplateNames: TypeAlias = "str | jinja2.Template | list[str | jinja2.Template]"

_AUTOESCAPE_SUFFIXES = (".html", ".htm", ".xml", ".xhtml", ".svg")


def select_jinja_autoescape(filename: str | None) -> bool:
    """Whether a template is autoescaped: a string template (no name) or an HTML, XML or
    SVG file is; anything else (``.txt``, ``.md``, ``.csv``…) is not."""
    if filename is None:
        return True
    return filename.endswith(_AUTOESCAPE_SUFFIXES)


def folder_loader(
    root_path: str | os.PathLike[str], template_folder: str | os.PathLike[str] | None
) -> jinja2.FileSystemLoader | None:
    """The loader of a template folder given relative to ``root_path`` (an absolute
    folder is used as is), or ``None`` when there is no folder. The app's and each
    blueprint's ``jinja_loader``."""
    if template_folder is None:
        return None
    return jinja2.FileSystemLoader(os.path.join(root_path, template_folder))


_NO_ATTRIBUTE: Any = object()


def _own_loader(scaffold: Any, default_folder: str | None) -> jinja2.BaseLoader | None:
    loader = getattr(scaffold, "jinja_loader", _NO_ATTRIBUTE)
    if loader is _NO_ATTRIBUTE:
        folder = getattr(scaffold, "template_folder", default_folder)
        loader = folder_loader(scaffold.root_path, folder)
    return loader  # type: ignore[no-any-return]


class DispatchingJinjaLoader(jinja2.BaseLoader):
    """Finds a template in the app's folder, then in each blueprint's, in the order the
    blueprints were registered; the first folder that has the name wins."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _loaders(self) -> Iterator[jinja2.BaseLoader]:
        app_loader = _own_loader(self.app, "templates")
        if app_loader is not None:
            yield app_loader
        blueprints: Mapping[str, Any] = getattr(self.app, "blueprints", {})
        for blueprint in blueprints.values():
            loader = _own_loader(blueprint, None)
            if loader is not None:
                yield loader

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        for loader in self._loaders():
            try:
                return loader.get_source(environment, template)
            except jinja2.TemplateNotFound:
                continue
        raise jinja2.TemplateNotFound(template)

    def list_templates(self) -> list[str]:
        names: set[str] = set()
        for loader in self._loaders():
            names.update(loader.list_templates())
        return sorted(names)


class Template(jinja2.Template):
    """The templates of :class:`Environment`: a :class:`jinja2.Template` whose render
    contexts start from a flat copy of its globals."""

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> jinja2.runtime.Context:
        # PERF: a template's globals are a ChainMap (its own over the environment's, so
        # globals added later are seen); Jinja2 copies it with dict() and set() per
        # render, two Python-level calls per name. Flattening it here (the same names and
        # values, the first map winning) costs a C-level update per map
        # (benchmarks/inprocess.py template, callgrind -30k instr/request).
        template_globals: Any = self.globals
        if type(template_globals) is ChainMap:
            flat: dict[str, Any] = {}
            for mapping in reversed(template_globals.maps):
                flat.update(mapping)
            template_globals = flat
        return jinja2.runtime.new_context(
            self.environment, self.name, self.blocks, vars, shared, template_globals, locals
        )


class Environment(jinja2.Environment):
    """A Jinja2 environment that knows its app and, unless given another ``loader``,
    finds templates with a :class:`DispatchingJinjaLoader`."""

    template_class = Template

    def __init__(self, app: App, **options: Any) -> None:
        if "loader" not in options:
            options["loader"] = DispatchingJinjaLoader(app)
        super().__init__(**options)
        self.app = app


def create_jinja_environment(app: App) -> Environment:
    """The environment ``app.jinja_env`` holds, with Flask's defaults (see the module
    docstring). ``app.jinja_options`` (a dict) adds Jinja2 options or replaces these
    defaults; ``app.jinja_environment`` picks the class."""
    options: dict[str, Any] = dict(getattr(app, "jinja_options", None) or {})
    if "autoescape" not in options:
        options["autoescape"] = getattr(app, "select_jinja_autoescape", select_jinja_autoescape)
    if "auto_reload" not in options:
        auto_reload = app.config.get("TEMPLATES_AUTO_RELOAD")
        options["auto_reload"] = app.debug if auto_reload is None else bool(auto_reload)
    environment_class: type[Environment] = getattr(app, "jinja_environment", Environment)
    env = environment_class(app, **options)
    from .helpers import url_for  # here: helpers imports the pipeline, which may import us

    env.globals.update(
        url_for=url_for,
        get_flashed_messages=get_flashed_messages,
        config=app.config,
        # Proxies, for macros imported without context; a render's context holds the
        # current objects themselves.
        request=request,
        session=session,
        g=g,
    )
    env.policies["json.dumps_function"] = app.json.dumps
    return env


def add_template_filter(
    env: jinja2.Environment, func: Callable[..., Any], name: str | None = None
) -> None:
    """Make ``func`` the filter ``name`` (default: its ``__name__``): ``{{ x|name }}``."""
    env.filters[name or func.__name__] = func


def add_template_test(
    env: jinja2.Environment, func: Callable[..., bool], name: str | None = None
) -> None:
    """Make ``func`` the test ``name`` (default: its ``__name__``): ``{% if x is name %}``."""
    env.tests[name or func.__name__] = func


def add_template_global(
    env: jinja2.Environment, func: Callable[..., Any], name: str | None = None
) -> None:
    """Make ``func`` the global ``name`` (default: its ``__name__``) of every template."""
    env.globals[name or func.__name__] = func


# -- context ---------------------------------------------------------------------------------


def _async_processor_unavailable(func: Callable[..., Any]) -> RuntimeError:
    name = getattr(func, "__qualname__", repr(func))
    return RuntimeError(
        f"The context processor {name!r} is an async def function. A template render"
        " cannot await it, so Ambi runs async context processors ahead of the view while"
        " it handles a request; here (a test_request_context, an app context, or a"
        " before_request hook) there is no such result. Make the processor a def"
        " function, or render from a view."
    )


def _merge(context: dict[str, Any], rv: Any, func: Callable[..., Any]) -> None:
    if type(rv) is dict:
        context.update(rv)
        return
    if isinstance(rv, Mapping):
        context.update(rv)
        return
    name = getattr(func, "__qualname__", repr(func))
    if type(rv) is CoroutineType:
        rv.close()
        raise RuntimeError(
            f"The context processor {name!r} returned a coroutine: it is a def function"
            " wrapping an async def one. Mark the wrapper with"
            " inspect.markcoroutinefunction, or register the async def function itself."
        )
    raise TypeError(
        f"The context processor {name!r} returned {type(rv).__name__}; it must return a"
        " dict of names for the template."
    )


def _template_session(ctx: RequestContext) -> SessionMixin:
    opened = ctx._session
    if opened is not None:
        return opened
    try:
        opened = ctx.session
    except RuntimeError:
        # Cannot be opened here (an async session interface outside a request): the
        # proxy raises the same clear error if the template does use it.
        return session
    # Opening it for the template is not a use; reading a key in the template is one
    # (and then adds ``Vary: Cookie``).
    opened.accessed = False
    return opened


def _update_context(app: App, ctx: AppContext | None, context: dict[str, Any]) -> None:
    explicit = dict(context) if context else None
    processors: Any = None
    async_results: dict[Callable[..., Any], Any] | None = None
    if ctx is not None:
        context["g"] = ctx.g
        request_ctx = ctx.request_context
        if request_ctx is not None:
            context["request"] = request_ctx.request
            context["session"] = _template_session(request_ctx)
            plan = getattr(request_ctx, "plan", None)
            if plan is not None and request_ctx.app is app:
                processors = plan.context_processors
                async_results = getattr(request_ctx, "template_context", None)
    if processors is None:
        processors = [_AppStep(func) for func in app.template_context_processors.get(None, ())]
    for step in processors:
        func = step.func
        if step.is_async:
            if async_results is None or func not in async_results:
                raise _async_processor_unavailable(func)
            _merge(context, async_results[func], func)
        else:
            _merge(context, func(), func)
    if explicit:
        context.update(explicit)


class _AppStep:
    """An app-level processor outside a request (no frozen plan to take it from)."""

    __slots__ = ("func", "is_async")

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.is_async = is_async_callable(func)


def update_template_context(app: App, context: dict[str, Any]) -> None:
    """Add ``g``, ``request``, ``session`` and the context processors' names to
    ``context`` in place; names already in ``context`` are kept (the caller's win)."""
    _update_context(app, _cv_context.get(None), context)


def template_context_flow(ctx: RequestContext) -> Flow[None]:
    """Pipeline step: run the endpoint's ``async def`` context processors, once per
    request, and keep their results as ``ctx.template_context`` for the renders.

    Yields each one as a pipeline call (the driver awaits it); an exception it raises
    goes where a ``before_request`` hook's would. Running it twice is harmless.
    """
    target: Any = ctx
    if getattr(target, "template_context", None) is not None:
        return
    results: dict[Callable[..., Any], Any] = {}
    for step in ctx.plan.context_processors:
        if step.is_async and step.func not in results:
            results[step.func] = yield (step.func, True, (), None)
    target.template_context = results


# -- rendering -------------------------------------------------------------------------------


def _render(app: App, ctx: AppContext, template: jinja2.Template, context: dict[str, Any]) -> str:
    _update_context(app, ctx, context)
    if before_render_template.receivers:
        before_render_template.send(app, template=template, context=context)
    rv = template.render(context)
    if template_rendered.receivers:
        template_rendered.send(app, template=template, context=context)
    return rv


def _stream(
    app: App, ctx: AppContext, template: jinja2.Template, context: dict[str, Any]
) -> Iterator[str]:
    # The context is made now, in the view (its def processors see what the view did);
    # the chunks are rendered as the body is sent, with the request context still pushed.
    _update_context(app, ctx, context)
    if before_render_template.receivers:
        before_render_template.send(app, template=template, context=context)
    return _generate(app, template, context)


def _generate(app: App, template: jinja2.Template, context: dict[str, Any]) -> Iterator[str]:
    yield from template.generate(context)
    if template_rendered.receivers:
        template_rendered.send(app, template=template, context=context)


def _jinja_env(app: App) -> jinja2.Environment:
    # ``App.jinja_env`` is a cached property calling create_jinja_environment().
    holder: Any = app
    env: jinja2.Environment = holder.jinja_env
    return env


def render_template(template_name_or_list: TemplateNames, **context: Any) -> str:
    """Render the template file ``template_name_or_list`` (the first that exists, for a
    list) with ``context`` and the context processors' names::

        return render_template("user.html", user=user)
    """
    ctx = _app_context("render_template")
    app = ctx.app
    template = _jinja_env(app).get_or_select_template(template_name_or_list)
    return _render(app, ctx, template, context)


def render_template_string(source: str, **context: Any) -> str:
    """Render a template given as a string (always autoescaped)."""
    ctx = _app_context("render_template_string")
    app = ctx.app
    template = _jinja_env(app).from_string(source)
    return _render(app, ctx, template, context)


def stream_template(template_name_or_list: TemplateNames, **context: Any) -> Iterator[str]:
    """Like :func:`render_template`, but return an iterator of chunks rendered as they
    are sent; return it from a view to stream the page::

        return stream_template("report.html", rows=rows)
    """
    ctx = _app_context("stream_template")
    app = ctx.app
    template = _jinja_env(app).get_or_select_template(template_name_or_list)
    return _stream(app, ctx, template, context)


def stream_template_string(source: str, **context: Any) -> Iterator[str]:
    """Like :func:`render_template_string`, streamed (see :func:`stream_template`)."""
    ctx = _app_context("stream_template_string")
    app = ctx.app
    template = _jinja_env(app).from_string(source)
    return _stream(app, ctx, template, context)
