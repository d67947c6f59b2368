"""Run the examples of documentation pages under both of Ambi's interfaces.

    python docs/_tools/check_examples.py                 # the pages in PAGES
    python docs/_tools/check_examples.py docs/files.md   # or the pages named

Docs-only tooling (excluded from the site in ``mkdocs.yml``); it needs the dev
dependencies (Flask, for the session interop example). Exit status 1 if any example fails.

For each page and each interface ("wsgi", then "asgi"):

* a fresh temporary directory becomes the working directory, with a few fixture files
  (``static/``, ``reports/``, ``uploads/``); ``Ambi(__name__)`` in the examples finds its
  root path there;
* every ```` ```python ```` block runs, in page order, in one namespace per page (blocks
  whose info string has ``title="test_`` are pytest files and are skipped, as are
  blocks tagged ``no-check``);
* every ```` ```pycon ```` block runs as a doctest in that namespace (ELLIPSIS and
  NORMALIZE_WHITESPACE on), with ``app.test_client()`` and ``app.test_serving()``
  defaulting to the interface being checked, so every output a page shows is checked on
  both servers' code paths.
"""

from __future__ import annotations

import doctest
import os
import re
import sys
import tempfile
import textwrap
import traceback

from ambi import Ambi

FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.S | re.M
)

#: The pages whose examples are checked by default (paths from the repository root).
PAGES = [
    "docs/request-data.md",
    "docs/responses.md",
    "docs/sse.md",
    "docs/websockets.md",
    "docs/sessions.md",
    "docs/files.md",
    "docs/errors.md",
    "docs/limits.md",
    "docs/fuzzing.md",
    "docs/security.md",
    "docs/quickstart.md",
    "docs/blueprints.md",
    "docs/templates.md",
    "docs/config.md",
    "docs/views.md",
    "docs/cli.md",
    "docs/extensions.md",
    "docs/migrating-incrementally.md",
    "docs/lifespan.md",
]

FIXTURES = {
    "static/css/site.css": "body { color: #333; }\n",
    "static/robots.txt": "User-agent: *\nDisallow:\n",
    "reports/2026-q1.csv": "month,total\njan,10\nfeb,12\nmar,15\n",
    "outside/secret.txt": "not for you\n",
    "uploads/.keep": "",
    "templates/hello.html": "<h1>Hello, {{ name }}!</h1>",
    "templates/hello.txt": "Hello, {{ name }}!",
    "settings.py": (
        'SECRET_KEY = "from settings.py"\nMAX_CONTENT_LENGTH = 1024 * 1024\nhelper = "skipped"\n'
    ),
    "config.toml": '[shop]\nTAX = 0.2\n\n[DB]\nHOST = "db.local"\n',
    "templates/messages.html": (
        "{% for category, message in get_flashed_messages(with_categories=true) %}"
        "<p class={{ category }}>{{ message }}</p>"
        "{% endfor %}"
    ),
}


def make_fixtures(root: str) -> None:
    for name, text in FIXTURES.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as file:
            file.write(text)
    # A link inside reports/ that points outside it: send_from_directory must refuse it.
    os.symlink(
        os.path.join(root, "outside", "secret.txt"), os.path.join(root, "reports", "leak.csv")
    )


def blocks(text: str):
    for match in FENCE.finditer(text):
        info = match["info"].strip()
        lang = info.split()[0] if info else ""
        body = textwrap.dedent(match["body"])
        lineno = text.count("\n", 0, match.start()) + 2
        yield lang, info, body, lineno


def check_page(path: str, interface: str) -> tuple[int, int]:
    with open(path, encoding="utf-8") as file:
        text = file.read()
    failures = attempts = 0
    cwd = os.getcwd()
    defaults = Ambi.test_client.__defaults__
    serving_defaults = Ambi.test_serving.__defaults__
    with tempfile.TemporaryDirectory() as root:
        make_fixtures(root)
        os.chdir(root)
        Ambi.test_client.__defaults__ = (interface,)
        Ambi.test_serving.__defaults__ = (interface,)
        namespace: dict = {"__name__": "app"}
        runner = doctest.DocTestRunner(
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
        )
        parser = doctest.DocTestParser()
        try:
            for lang, info, body, lineno in blocks(text):
                if lang == "python":
                    if 'title="test_' in info or "no-check" in info:
                        continue
                    attempts += 1
                    try:
                        exec(compile(body, f"{path}:{lineno}", "exec"), namespace)
                    except Exception:
                        failures += 1
                        print(f"--- {path}:{lineno} [{interface}] python block failed")
                        traceback.print_exc()
                elif lang == "pycon":
                    test = parser.get_doctest(body, namespace, f"{path}:{lineno}", path, lineno - 1)
                    result = runner.run(test, clear_globs=False)
                    namespace.update(test.globs)  # DocTest works on a copy
                    attempts += result.attempted
                    failures += result.failed
        finally:
            Ambi.test_client.__defaults__ = defaults
            Ambi.test_serving.__defaults__ = serving_defaults
            os.chdir(cwd)
    return attempts, failures


def main(paths: list[str]) -> int:
    total_failures = 0
    for path in paths:
        for interface in ("wsgi", "asgi"):
            attempts, failures = check_page(path, interface)
            total_failures += failures
            print(f"{path} [{interface}]: {attempts} examples, {failures} failed")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or PAGES))
