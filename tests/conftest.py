"""Shared fixtures: every behaviour test runs on both interfaces, and where the view kind
matters, with both ``def`` and ``async def`` views.

``interface`` parametrizes WSGI × ASGI; ``make_client(app)`` opens a test client of that
interface; ``view_kind`` parametrizes ``def`` × ``async def`` and ``view(kind_function)``
turns a plain function into a view of the current kind.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ambi import Ambi
from ambi.testing import AmbiClient


@pytest.fixture(params=["wsgi", "asgi"])
def interface(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["def", "async"])
def view_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def as_view(view_kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Return a decorator turning a plain function into a view of the current kind."""

    def convert(func: Callable[..., Any]) -> Callable[..., Any]:
        assert not inspect.iscoroutinefunction(func)
        if view_kind == "def":
            return func

        @functools.wraps(func)
        async def async_view(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        return async_view

    return convert


@pytest.fixture
def app() -> Ambi:
    app = Ambi(__name__)
    app.testing = True
    return app


@pytest.fixture
def make_client(interface: str) -> Iterator[Callable[..., AmbiClient]]:
    clients: list[AmbiClient] = []

    def make(app: Ambi, **kwargs: Any) -> AmbiClient:
        client = app.test_client(interface, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(app: Ambi, make_client: Callable[..., AmbiClient]) -> AmbiClient:
    return make_client(app)


# --- property-based fuzzing (tests/test_fuzz_*.py, tests/_fuzz.py) ---------------------------
# "ambi-ci", the default everywhere: derandomized (the same examples on every run, so a
# failure in CI reproduces locally) and no example database. "ambi-explore": random examples,
# for a longer search (see tests/_fuzz.py); pick it with --hypothesis-profile=ambi-explore.
import sys as _sys  # noqa: E402

from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile(
    "ambi-ci", derandomize=True, database=None, deadline=None, print_blob=True
)
_hypothesis_settings.register_profile("ambi-explore", deadline=None, print_blob=True)
_hypothesis_settings.load_profile("ambi-ci")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many hypothesis examples the fuzz properties ran, if any ran."""
    counts: dict[str, int] = {}
    for name in ("tests._fuzz", "_fuzz"):  # imported as either, depending on sys.path
        module = _sys.modules.get(name)
        if module is not None:
            counts.update(module.EXAMPLES)
    if counts:
        terminalreporter.write_line(
            f"fuzz: {sum(counts.values())} hypothesis examples run by {len(counts)} properties"
        )
    for name in ("tests._reports", "_reports"):  # the reliability tests' figures
        reports = _sys.modules.get(name)
        if reports is not None:
            for line in reports.SUMMARIES:
                terminalreporter.write_line(line)
