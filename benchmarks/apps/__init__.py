"""The benchmark apps: the same scenarios (see :mod:`apps.common`) once per framework.

Each module in :data:`FRAMEWORKS` exposes ``cases()``, a list of
:class:`~apps.common.AppCase` (framework, interface, view kind, the callable). To add a
peer, write one more module like those and name it here; a module whose framework is
not installed is skipped with a note.
"""

from __future__ import annotations

import importlib

from .common import AppCase

__all__ = ["FRAMEWORKS", "load_cases"]

#: (framework name, module in this package), in report column order; "raw" is the floor.
FRAMEWORKS: tuple[tuple[str, str], ...] = (
    ("raw", "raw"),
    ("ambi", "ambi_app"),
    ("flask", "flask_app"),
    ("starlette", "starlette_app"),
    ("falcon", "falcon_app"),
    ("quart", "quart_app"),
)


def load_cases(only: set[str] | None = None) -> tuple[list[AppCase], list[str]]:
    """Every app case whose framework imports, and a note for each that does not."""
    found: list[AppCase] = []
    notes: list[str] = []
    for name, module_name in FRAMEWORKS:
        if only is not None and name not in only:
            continue
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ImportError as exc:
            notes.append(f"{name}: skipped, it does not import here ({exc})")
            continue
        for case in module.cases():
            if case.skip:
                notes.append(f"{case.label}: skipped, {case.skip}")
            else:
                found.append(case)
    return found, notes
