"""Figures the reliability tests report: one summary line per case, printed at the end of
the pytest run (``pytest_terminal_summary`` in ``conftest.py``, whatever ``-s`` or
``-q`` say) and written with the full data as JSON to ``.pytest-reports/<name>.json``
(git-ignored), so a closing note can quote them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPORT_DIR = Path(__file__).resolve().parent.parent / ".pytest-reports"

#: The summary lines of this run, in the order the tests reported them.
SUMMARIES: list[str] = []


def report(name: str, summary: str, data: dict[str, Any]) -> Path:
    """Record ``summary`` for the end of the run and write ``data`` (with the summary) to
    ``.pytest-reports/<name>.json``; the file's path."""
    SUMMARIES.append(summary)
    REPORT_DIR.mkdir(exist_ok=True)
    path = REPORT_DIR / f"{name}.json"
    path.write_text(json.dumps({"summary": summary, **data}, indent=2, sort_keys=True) + "\n")
    return path
