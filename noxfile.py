"""Nox sessions: the gates CI runs, on each supported Python, plus docs and benchmarks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

# Make pyenv's interpreters visible to nox (the machines install 3.11-3.13 through pyenv).
_PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
if _PYENV_VERSIONS.is_dir():
    _bins = sorted(str(path / "bin") for path in _PYENV_VERSIONS.glob("3.1[1-9]*"))
    os.environ["PATH"] = os.pathsep.join([*_bins, os.environ.get("PATH", "")])

nox.options.sessions = ["lint", "typing", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.11", "3.12", "3.13"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite with branch coverage (warnings are errors, see pyproject.toml)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "--cov", "--cov-branch", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on the package and the example app."""
    session.install("-e", ".[lint]")
    session.run("mypy", "--strict", "src/ambi", "examples/notes")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site; warnings are errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "-d", "site")


def _ensure_tool(session: nox.Session, tool: str, needed_by: str) -> None:
    """A benchmark's system tool (wrk, valgrind): Debian's package, installed when we are
    root."""
    if shutil.which(tool) is not None:
        return
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        session.error(
            f"{needed_by} needs {tool}, which is not installed: install it "
            f"(Debian/Ubuntu: sudo apt-get install {tool}) and run again"
        )
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", external=True, env=env)
    session.run("apt-get", "install", "-y", tool, external=True, env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks and write benchmarks/results{,-footprint,-hop,-e2e}.md."""
    _ensure_tool(session, "wrk", "benchmarks/e2e.py")
    session.install("-e", ".", "-r", "benchmarks/requirements.txt")
    session.run("python", "benchmarks/inprocess.py", "--output", "benchmarks/results.md")
    session.run("python", "benchmarks/footprint.py", "--output", "benchmarks/results-footprint.md")
    session.run("python", "benchmarks/hop.py", "--output", "benchmarks/results-hop.md")
    # Last: it exits with 1 (after writing its report) when any cell failed.
    # Two rounds of 2 s per cell, the better kept: this machine's neighbours only ever
    # take throughput away, and a slow spell then spoils one round, not the cell.
    session.run(
        "python",
        "benchmarks/e2e.py",
        "--rounds",
        "2",
        "--duration",
        "2",
        "--output",
        "benchmarks/results-e2e.md",
    )


@nox.session(name="bench-instructions")
def bench_instructions(session: nox.Session) -> None:
    """Instructions per request under callgrind (in process and under the real servers),
    written to benchmarks/results-instructions.md; needs valgrind."""
    _ensure_tool(session, "valgrind", "benchmarks/instructions.py")
    session.install("-e", ".", "-r", "benchmarks/requirements.txt")
    session.run(
        "python",
        "benchmarks/instructions.py",
        *session.posargs,
        "--output",
        "benchmarks/results-instructions.md",
    )
