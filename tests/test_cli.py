"""The ``ambi`` command: app discovery, ``routes``, and ``run`` on both servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ambi.cli import NoAppException, cli, locate_app

ROOT = Path(__file__).resolve().parent.parent


def test_routes_lists_rules_and_how_they_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["routes", "examples.app:app"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Rule", "WSGI", "ASGI"]
    user_line = next(line for line in lines if line.startswith("user "))
    assert "/users/<int:user_id>" in user_line
    # The app has a sync before_request hook, so an async view hops once for it.
    assert "thread's persistent loop (one entry)" in user_line
    assert "event loop + worker-thread hops for the sync hooks" in user_line
    index_line = next(line for line in lines if line.startswith("index "))
    assert "direct (no loop)" in index_line
    assert "worker thread (one hop)" in index_line


def test_locate_app_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "broken.py").write_text("import not_a_module_xyz\n")
    (tmp_path / "noapp.py").write_text("x = 1\n")
    (tmp_path / "factory.py").write_text(
        "from ambi import Ambi\n\ndef create_app():\n    return Ambi('factory')\n"
    )
    with pytest.raises(NoAppException, match="no such module"):
        locate_app("missing_module_xyz:app")
    with pytest.raises(NoAppException, match="an ImportError was raised"):
        locate_app("broken:app")
    with pytest.raises(NoAppException, match="has no attribute 'application'"):
        locate_app("noapp:application")
    with pytest.raises(NoAppException, match="Could not find an Ambi application"):
        locate_app("noapp:")
    assert locate_app("factory:").name == "factory"
    assert locate_app("factory:create_app()").name == "factory"
    result = CliRunner().invoke(cli, ["routes", "noapp"])
    assert result.exit_code == 2
    assert "Could not find an Ambi application" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.server
@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_ambi_run_serves_the_example(server: str) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "ambi.cli", "run", "examples.app:app", "--port", str(port)]
    if server == "gunicorn":
        command += ["--server", "gunicorn"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while True:
                try:
                    response = client.get("/", headers={"X-User": "ada"})
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.1)
            assert response.text == "hello, ada! Try /users/42?q=x\n"
            assert client.get("/users/42?q=x").json() == {"id": 42, "q": "x"}
            created = client.post("/items", json={"name": "pen"})
            assert created.status_code == 201
            assert created.json()["created"] == {"name": "pen"}
            assert client.post("/items", json=[1]).status_code == 400
            assert client.get("/count/3").text == "0\n1\n2\n"
    finally:
        process.terminate()
        try:
            output = process.communicate(timeout=15)[0].decode()
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0].decode()
    assert "Traceback" not in output, output
