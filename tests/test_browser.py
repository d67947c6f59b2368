"""End to end: the ``examples/notes`` app in headless Chromium, under uvicorn (ASGI) and
gunicorn (WSGI).

The browser is the system's Chromium (Debian's ``chromium`` package), driven by the
``playwright`` package with ``executable_path``: nothing is downloaded at test time, and
``playwright install`` is never run. Without Chromium the test is skipped, or fails when
``AMBI_REQUIRE_BROWSER=1`` (as in CI, whose ``.ci/run`` installs the package).

Each test starts its own server on 127.0.0.1 with a fresh database and upload folder
under ``tmp_path``, creates the user with the app's CLI, and walks through the app as a
person would: log in, write a note, upload a file, look at the status page, log out.
Every wait is bounded (Playwright's timeouts, the server's start deadline), and the
browser and the server are stopped in fixture teardowns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from ambi.utils import secure_filename

try:
    from tests._servers import REPO_ROOT, RunningServer, start_server
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ on sys.path
    from _servers import REPO_ROOT, RunningServer, start_server  # type: ignore[no-redef]

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Response

pytestmark = [pytest.mark.browser, pytest.mark.server]

TARGET = "examples.notes.main:app"
CHROMIUM = "/usr/bin/chromium"
REQUIRE_BROWSER = "AMBI_REQUIRE_BROWSER"
# Chromium on a machine with no network but loopback: no sandbox (we may be root), no GPU,
# and none of the background connections (updates, sync, QUIC probes) it would try.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
LAUNCH_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 10_000  # each click, fill, navigation and expect()
CLI_TIMEOUT = 60.0

USER, PASSWORD = "alice", "wonderland"
NOTE_TITLE = "Shopping list"
NOTE_BODY = "Milk, eggs & <bread>"  # markup characters: shown as text, not parsed
UPLOAD_NAME = "hello notes.txt"  # stored and shown as its secure_filename
UPLOAD_BYTES = "Hello from the browser test.\nLine two: é ✓\n".encode()
OFFLINE = "Offline service"


def _browser_unavailable(reason: str) -> None:
    """Fail when the environment requires the browser tests, else skip them."""
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{reason} ({REQUIRE_BROWSER}=1 requires the browser tests to run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    """The system Chromium's path; skip (or fail under AMBI_REQUIRE_BROWSER=1) without it."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        _browser_unavailable(
            f"Chromium is not installed ({CHROMIUM} is missing and no 'chromium' on PATH): "
            "install Debian's package with 'apt-get install -y chromium' "
            "(never 'playwright install')"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _browser_unavailable("the 'playwright' package is not installed: pip install -e '.[test]'")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium for the module, on a fresh temporary profile."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=LAUNCH_TIMEOUT_MS,
        )
        try:
            yield browser
        finally:
            browser.close()


def _notes_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``ambi --app examples.notes ARGS`` with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "ambi.cli", "--app", "examples.notes", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


@pytest.fixture
def notes_server(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningServer]:
    """The notes app under the real server named by the test's parameter, with its own
    database, upload folder and user."""
    monkeypatch.setenv("NOTES_SECRET_KEY", "browser-test-secret")
    monkeypatch.setenv("NOTES_DATABASE", str(tmp_path / "notes.sqlite"))
    monkeypatch.setenv("NOTES_UPLOAD_FOLDER", str(tmp_path / "uploads"))
    # Port 9 (discard) on loopback: nothing listens, so the check is "down" at once.
    monkeypatch.setenv("NOTES_STATUS_CHECKS", json.dumps({OFFLINE: "http://127.0.0.1:9/"}))
    added = _notes_cli("add-user", USER, "--password", PASSWORD)
    assert added.returncode == 0, f"add-user failed:\n{added.stdout}\n{added.stderr}"
    assert f"Added user {USER}." in added.stdout

    server = start_server(str(request.param), TARGET)
    try:
        yield server
        # pytest sets sys.last_value when the test's call phase failed.
        if getattr(sys, "last_value", None) is not None:
            print(f"--- {server.name} log (port {server.port}) ---")
            print(server.log()[-20_000:])
    finally:
        server.stop()


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies); a screenshot if the test failed."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        page.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        yield page
        if getattr(sys, "last_value", None) is not None:
            shot = tmp_path / "failure.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
            except Exception as exc:  # the report is about the failure, not this
                print(f"no screenshot: {exc}")
            else:
                print(f"screenshot of the page at failure: {shot} ({page.url})")
    finally:
        context.close()


def _submit(page: Page, button: str, path: str) -> Response:
    """Click ``button`` and return the response to the form's POST to ``path`` (before
    any redirect), after the resulting page has loaded."""

    def is_post(response: Response) -> bool:
        return response.request.method == "POST" and urlsplit(response.url).path == path

    with page.expect_response(is_post) as posted:
        page.click(button)
    page.wait_for_load_state()
    return posted.value


def _flash(page: Page, category: str) -> Locator:
    return page.locator(f"ul.flashes li.flash.flash-{category}")


@pytest.mark.parametrize("notes_server", ["uvicorn", "gunicorn"], indirect=True)
def test_notes_in_the_browser(notes_server: RunningServer, page: Page) -> None:
    from playwright.sync_api import expect

    base = notes_server.base_url

    def at(path: str) -> re.Pattern[str]:
        return re.compile("^" + re.escape(base + path) + "$")

    # Not logged in: / sends the browser to the login page, which remembers where it was.
    page.goto(base + "/")
    expect(page).to_have_url(re.compile("^" + re.escape(base) + r"/auth/login\?next=(/|%2F)$"))
    expect(page.locator("#nav-login")).to_be_visible()
    expect(page.locator("#current-user")).to_have_count(0)

    # A wrong password: 401, the error on the page, still logged out.
    page.fill("#username", USER)
    page.fill("#password", "not the password")
    assert _submit(page, "#login-submit", "/auth/login").status == 401
    expect(page.locator("#login-error")).to_have_text("Incorrect username or password.")
    expect(page.locator("#current-user")).to_have_count(0)

    # The right one: 303 to next (/), the welcome flash, the user in the nav.
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    assert _submit(page, "#login-submit", "/auth/login").status == 303
    expect(page).to_have_url(at("/"))
    expect(_flash(page, "success")).to_have_text(f"Welcome back, {USER}.")
    expect(page.locator("#current-user")).to_have_text(USER)
    expect(page.locator("#no-notes")).to_be_visible()

    # New note via the nav: an empty title is refused (422), the body is kept.
    page.click("#nav-new")
    expect(page).to_have_url(at("/notes/new"))
    page.fill("#body", NOTE_BODY)
    assert _submit(page, "#save-note", "/notes/new").status == 422
    expect(page.locator("#title-error")).to_have_text("Title is required.")
    expect(page.locator("#body")).to_have_value(NOTE_BODY)

    # A good title: 303 to /, the flash, the note listed; its page shows the body as text.
    page.fill("#title", NOTE_TITLE)
    assert _submit(page, "#save-note", "/notes/new").status == 303
    expect(page).to_have_url(at("/"))
    expect(_flash(page, "success")).to_have_text(f'Note "{NOTE_TITLE}" saved.')
    expect(page.locator("#no-notes")).to_have_count(0)
    notes = page.locator("#notes li.note a")
    expect(notes).to_have_text([NOTE_TITLE])
    notes.first.click()
    expect(page).to_have_url(re.compile("^" + re.escape(base) + r"/notes/\d+$"))
    expect(page.locator("#note-title")).to_have_text(NOTE_TITLE)
    expect(page.locator("#note-body")).to_have_text(NOTE_BODY)

    # Files: upload a small text file, see it listed, fetch it back byte for byte.
    stored_name = secure_filename(UPLOAD_NAME)
    assert stored_name == "hello_notes.txt"
    page.click("#nav-files")
    expect(page).to_have_url(at("/files/"))
    page.set_input_files(
        "#file", files=[{"name": UPLOAD_NAME, "mimeType": "text/plain", "buffer": UPLOAD_BYTES}]
    )
    assert _submit(page, "#upload", "/files/").status == 303
    expect(page).to_have_url(at("/files/"))
    expect(_flash(page, "success")).to_have_text(f"Uploaded {stored_name}.")
    files = page.locator("#files li.file")
    expect(files).to_have_text([f"{stored_name} ({len(UPLOAD_BYTES)} bytes)"])
    link = files.first.locator("a")
    expect(link).to_have_text(stored_name)
    expect(link).to_have_attribute("href", f"/files/{stored_name}")
    fetched = page.request.get(base + f"/files/{stored_name}", timeout=ACTION_TIMEOUT_MS)
    assert fetched.status == 200
    assert fetched.body() == UPLOAD_BYTES

    # A file type the app does not take: 400 and the error; the list is unchanged.
    page.set_input_files(
        "#file", files=[{"name": "tool.exe", "mimeType": "text/plain", "buffer": b"MZ"}]
    )
    assert _submit(page, "#upload", "/files/").status == 400
    expect(page.locator("#upload-error")).to_have_text(
        "Only .txt, .md, .png, .jpg, .pdf files can be uploaded."
    )
    expect(page.locator("#files li.file")).to_have_count(1)

    # Status: the app's own API is up, the service nobody listens for is down.
    page.click("#nav-status")
    expect(page).to_have_url(at("/status"))
    expect(page.locator("#status tr.service")).to_have_count(2)
    api = page.locator('#status tr.service[data-name="Notes API"]')
    offline = page.locator(f'#status tr.service[data-name="{OFFLINE}"]')
    expect(api).to_have_attribute("data-state", "up")
    expect(api).to_contain_text("Notes API")
    expect(offline).to_have_attribute("data-state", "down")
    expect(offline).to_contain_text(OFFLINE)

    # Log out: 303 to the login page, the flash, logged out (/ redirects again).
    assert _submit(page, "#logout", "/auth/logout").status == 303
    expect(page).to_have_url(at("/auth/login"))
    expect(_flash(page, "info")).to_have_text("You have been logged out.")
    expect(page.locator("#current-user")).to_have_count(0)
    expect(page.locator("#nav-login")).to_be_visible()
    page.goto(base + "/")
    expect(page).to_have_url(re.compile("^" + re.escape(base) + r"/auth/login\?next="))
