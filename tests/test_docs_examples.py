"""The documentation's examples run, on both interfaces: every ```python``` block and
every ```pycon``` session of the guide pages (docs/_tools/check_examples.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "docs" / "_tools" / "check_examples.py"


def _pages() -> list[str]:
    namespace: dict[str, object] = {}
    source = TOOL.read_text(encoding="utf-8")
    start = source.index("PAGES = [")
    exec(source[start : source.index("]", start) + 1], namespace)
    pages = namespace["PAGES"]
    assert isinstance(pages, list)
    return [str(page) for page in pages]


@pytest.mark.parametrize("page", _pages())
def test_page_examples_run_on_both_interfaces(page: str) -> None:
    result = subprocess.run(
        [sys.executable, str(TOOL), page],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = [line for line in result.stdout.splitlines() if line.startswith(page)]
    assert len(summary) == 2, result.stdout  # wsgi and asgi
    for line in summary:
        assert line.endswith(", 0 failed"), line
        assert ": 0 examples" not in line, line


def test_every_guide_page_is_checked() -> None:
    """A new page with examples is added to the checked list, not forgotten."""
    unchecked = {
        "docs/index.md",  # the landing page's example is the quickstart's
        "docs/api.md",  # generated from docstrings
        "docs/one-app-two-servers.md",  # shell commands and server output
        "docs/migrating-from-flask.md",  # before/after fragments
        "docs/deployment.md",  # configuration files and shell commands
        "docs/operations.md",  # server flags and fragments (a health check needs a database)
        "docs/tutorial.md",  # tested by tests/test_example_notes.py on the real example
        "docs/benchmarks.md",  # method, shell commands and result tables; no Python examples
    }
    pages = {f"docs/{path.name}" for path in (REPO / "docs").glob("*.md")}
    assert pages - unchecked == set(_pages())


_TITLED = re.compile(
    r'^```[a-z]*[^\n]*title="(?P<file>[^"]+)"[^\n]*\n(?P<body>.*?)^```[ ]*$', re.S | re.M
)


def test_tutorial_quotes_the_example_code_verbatim() -> None:
    """Every block of the tutorial titled with a file name is a verbatim piece of that
    file, so the page cannot drift from the code the tests run."""
    text = (REPO / "docs" / "tutorial.md").read_text(encoding="utf-8")
    blocks = list(_TITLED.finditer(text))
    assert len(blocks) >= 20
    for block in blocks:
        source = (REPO / block["file"]).read_text(encoding="utf-8")
        assert block["body"] in source, f"{block['file']}: the tutorial's block drifted"
