"""The core is sans-I/O: it imports no server, event loop or thread module.

The proof walks the import graph from the source (not from ``sys.modules``, which the
test run itself fills): every module of the core, and every ``ambi`` module it imports,
directly or through other ``ambi`` modules, imports none of the forbidden modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ambi

PACKAGE = Path(ambi.__file__).parent
CORE = {
    "_pipeline",
    "_sse_format",
    "_testing_connection",
    "app",
    "appgroup",
    "blueprints",
    "config",
    "ctx",
    "datastructures",
    "exceptions",
    "flashing",
    "formparser",
    "globals",
    "helpers",
    "http",
    "json",
    "middleware",
    "mounts",
    "routing",
    "sendfile",
    "scaffold",
    "sessions",
    "signals",
    "tag",
    "templating",
    "types",
    "utils",
    "views",
    "websocket",
    "wrappers",
}
ADAPTERS = {
    "_drivers",
    "_background",
    "_lifespan",
    "asgi",
    "bridges",
    "wsgi",
    "serving",
    "testing",
    "cli",
    "sse",
    "asgi_websocket",
    "_disconnect",
}
FORBIDDEN = {
    "asyncio",
    "anyio",
    "threading",
    "_thread",
    "concurrent",
    "socket",
    "selectors",
    "trio",
    "uvicorn",
    "gunicorn",
    "hypercorn",
    "granian",
    "httpx",
    "h11",
}


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(ambi modules, other top-level modules) imported by ``ambi.<module>``."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top, _, rest = alias.name.partition(".")
                if top == "ambi":
                    internal.add(rest.partition(".")[0])
                else:
                    external.add(top)
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                if node.module:
                    internal.add(node.module.partition(".")[0])
                else:
                    internal.update(alias.name for alias in node.names)
            elif node.module:
                top, _, rest = node.module.partition(".")
                if top == "ambi":
                    internal.add(rest.partition(".")[0] or "__init__")
                else:
                    external.add(top)
    return internal, external


def test_every_module_is_classified() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == CORE | ADAPTERS, "classify new modules as core or adapter here"


def test_core_imports_no_io_loop_or_thread_module() -> None:
    for module in sorted(CORE):
        seen: set[str] = set()
        stack = [module]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            internal, external = _imports(current)
            bad = external & FORBIDDEN
            assert not bad, f"core module {module} reaches {sorted(bad)} through {current}"
            leaked = internal & ADAPTERS
            assert not leaked, f"core module {module} imports adapter {sorted(leaked)}"
            stack.extend(internal - {"__init__"})


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    # The walk above must be able to fail: the adapters do import the forbidden modules.
    assert _imports("_drivers")[1] & FORBIDDEN == {"asyncio", "anyio", "threading"}
    assert "anyio" in _imports("asgi")[1]
