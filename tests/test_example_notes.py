"""The notes example app (examples/notes/), per .scratch/notes_contract.md.

The behaviour tests run in-process on both interfaces (``interface`` × WSGI/ASGI); the status
page's own health check is also run under real uvicorn and gunicorn, where the app's URL is
served. The CLI commands run through ``app.test_cli_runner()``.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from examples.notes import create_app
from tests._servers import REPO_ROOT, start_server

from ambi import Ambi
from ambi.testing import AmbiClient

PASSWORD = "wonderland"
REFUSED_URL = "http://127.0.0.1:9/"  # the discard port: nothing listens there
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
CSRF_MESSAGE = "The form has expired or is invalid. Reload the page and try again."
MiB = 1024 * 1024

MakeClient = Callable[..., AmbiClient]


def add_user(app: Ambi, name: str, password: str = PASSWORD) -> None:
    result = app.test_cli_runner().invoke(args=["add-user", name, "--password", password])
    assert result.exit_code == 0, result.output
    assert result.output == f"Added user {name}.\n"


@pytest.fixture
def notes_app(tmp_path: Path) -> Ambi:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE": tmp_path / "notes.sqlite",
            "UPLOAD_FOLDER": tmp_path / "uploads",
            "SECRET_KEY": "test",
            "STATUS_CHECKS": {"Backup": REFUSED_URL},
        }
    )
    add_user(app, "alice")
    return app


@pytest.fixture
def visitor(notes_app: Ambi, make_client: MakeClient) -> AmbiClient:
    """A client that has not logged in."""
    return make_client(notes_app)


@pytest.fixture
def alice(visitor: AmbiClient) -> AmbiClient:
    """A client logged in as alice, the welcome message already seen."""
    response = log_in(visitor)
    assert response.status_code == 303
    assert "Welcome back" in visitor.get("/").text
    return visitor


def csrf_token(client: AmbiClient, path: str) -> str:
    """The CSRF token of the form on the page at ``path``."""
    response = client.get(path)
    assert response.status_code == 200
    match = CSRF_INPUT.search(response.text)
    assert match is not None, response.text
    return match.group(1)


def log_in(
    client: AmbiClient,
    username: str = "alice",
    password: str = PASSWORD,
    next_url: str | None = None,
) -> httpx.Response:
    params = {} if next_url is None else {"next": next_url}
    token = csrf_token(client, "/auth/login")
    form = {"csrf_token": token, "username": username, "password": password}
    return client.post("/auth/login", params=params, data=form)


def post_note(client: AmbiClient, title: str, body: str = "") -> httpx.Response:
    token = csrf_token(client, "/notes/new")
    return client.post("/notes/new", data={"csrf_token": token, "title": title, "body": body})


def upload(
    client: AmbiClient, filename: str, content: bytes, content_type: str = "text/plain"
) -> httpx.Response:
    token = csrf_token(client, "/files/")
    files = {"file": (filename, content, content_type)}
    return client.post("/files/", data={"csrf_token": token}, files=files)


def flashes(page: str) -> list[tuple[str, str]]:
    """The (category, message) pairs flashed on ``page``, unescaped."""
    items = re.findall(r'<li class="flash flash-(\w+)">(.*?)</li>', page)
    return [(category, html.unescape(message)) for category, message in items]


# --- logging in and out ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/notes/new", "/notes/1", "/files/", "/files/notes.txt", "/status"]
)
def test_pages_redirect_anonymous_visitors_to_login(visitor: AmbiClient, path: str) -> None:
    response = visitor.get(path)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/auth/login?next={path}"


def test_api_refuses_anonymous_visitors_with_json(visitor: AmbiClient) -> None:
    response = visitor.get("/api/notes")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "login required"}


def test_open_pages_need_no_login(visitor: AmbiClient) -> None:
    health = visitor.get("/api/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    style = visitor.get("/static/style.css")
    assert style.status_code == 200
    assert style.headers["Content-Type"].startswith("text/css")
    login_page = visitor.get("/auth/login")
    assert login_page.status_code == 200
    for element in ('id="username"', 'id="password"', 'id="login-submit"', 'id="nav-login"'):
        assert element in login_page.text
    assert 'id="current-user"' not in login_page.text


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "not the password"), ("nobody", PASSWORD)]
)
def test_login_with_bad_credentials_is_refused(
    visitor: AmbiClient, username: str, password: str
) -> None:
    response = log_in(visitor, username, password)
    assert response.status_code == 401
    expected = '<p class="form-error" id="login-error">Incorrect username or password.</p>'
    assert expected in response.text
    assert f'value="{username}"' in response.text  # the username is kept
    assert visitor.get("/").status_code == 303  # still not logged in


def test_login_redirects_home_and_flashes_a_welcome(visitor: AmbiClient) -> None:
    response = log_in(visitor)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    home = visitor.get("/")
    assert home.status_code == 200
    assert flashes(home.text) == [("success", "Welcome back, alice.")]
    assert '<span id="current-user">alice</span>' in home.text
    assert 'id="logout"' in home.text
    assert 'id="nav-login"' not in home.text
    assert flashes(visitor.get("/").text) == []  # shown once


def test_login_follows_a_local_next(visitor: AmbiClient) -> None:
    response = log_in(visitor, next_url="/files/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/files/"


@pytest.mark.parametrize(
    "next_url",
    ["http://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)", "x"],
)
def test_login_ignores_a_next_that_leaves_the_site(visitor: AmbiClient, next_url: str) -> None:
    response = log_in(visitor, next_url=next_url)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_logout(alice: AmbiClient) -> None:
    token = csrf_token(alice, "/")
    response = alice.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/login"
    login_page = alice.get("/auth/login")
    assert flashes(login_page.text) == [("info", "You have been logged out.")]
    assert 'id="nav-login"' in login_page.text
    assert alice.get("/").status_code == 303


# --- CSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_post_without_the_sessions_csrf_token_is_refused(
    alice: AmbiClient, token: str | None
) -> None:
    form = {"title": "Sneaky", "body": ""}
    if token is not None:
        form["csrf_token"] = token
    response = alice.post("/notes/new", data=form)
    assert response.status_code == 400
    assert f'<p class="form-error">{CSRF_MESSAGE}</p>' in response.text
    assert alice.get("/api/notes").json() == []

    response = alice.post("/auth/logout", data=form)
    assert response.status_code == 400
    assert alice.get("/").status_code == 200  # still logged in


def test_the_login_form_needs_the_csrf_token_too(visitor: AmbiClient) -> None:
    visitor.get("/auth/login")  # the session now has a token; the form below does not
    response = visitor.post("/auth/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.text
    assert visitor.get("/").status_code == 303


def test_a_token_from_another_session_is_refused(
    alice: AmbiClient, notes_app: Ambi, make_client: MakeClient
) -> None:
    other = make_client(notes_app)
    stolen = csrf_token(other, "/auth/login")
    response = alice.post("/notes/new", data={"csrf_token": stolen, "title": "Sneaky"})
    assert response.status_code == 400
    assert alice.get("/api/notes").json() == []


# --- notes ----------------------------------------------------------------------------


def test_no_notes_yet(alice: AmbiClient) -> None:
    home = alice.get("/")
    assert '<p id="no-notes">' in home.text
    assert alice.get("/api/notes").json() == []


def test_a_note_is_saved_listed_and_shown(alice: AmbiClient) -> None:
    response = post_note(alice, "  Groceries  ", "Milk\r\nEggs")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    home = alice.get("/")
    assert flashes(home.text) == [("success", 'Note "Groceries" saved.')]
    [note] = alice.get("/api/notes").json()
    assert note.keys() == {"id", "title", "body", "created"}
    assert (note["title"], note["body"]) == ("Groceries", "Milk\nEggs")
    assert f'<li class="note"><a href="/notes/{note["id"]}">Groceries</a></li>' in home.text
    assert 'id="no-notes"' not in home.text

    page = alice.get(f"/notes/{note['id']}")
    assert page.status_code == 200
    assert '<h1 id="note-title">Groceries</h1>' in page.text
    assert '<div id="note-body">Milk\nEggs</div>' in page.text


def test_notes_are_listed_newest_first(alice: AmbiClient) -> None:
    for title in ("First", "Second", "Third"):
        assert post_note(alice, title).status_code == 303
    titles = [note["title"] for note in alice.get("/api/notes").json()]
    assert titles == ["Third", "Second", "First"]
    listed = re.findall(
        r'<li class="note"><a href="/notes/\d+">(\w+)</a></li>', alice.get("/").text
    )
    assert listed == ["Third", "Second", "First"]


@pytest.mark.parametrize(
    ("title", "body", "field", "message"),
    [
        ("", "A body", "title", "Title is required."),
        ("   ", "A body", "title", "Title is required."),
        ("t" * 81, "A body", "title", "Title must be at most 80 characters."),
        ("A title", "b" * 5001, "body", "Note must be at most 5000 characters."),
    ],
)
def test_an_invalid_note_is_shown_again_with_the_error(
    alice: AmbiClient, title: str, body: str, field: str, message: str
) -> None:
    response = post_note(alice, title, body)
    assert response.status_code == 422
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in response.text
    other_field = "body" if field == "title" else "title"
    assert f'id="{other_field}-error"' not in response.text
    assert f'<input id="title" name="title" type="text" value="{title.strip()}">' in response.text
    assert f'<textarea id="body" name="body" rows="10">{body}</textarea>' in response.text
    assert alice.get("/api/notes").json() == []


def test_the_longest_valid_note_is_saved(alice: AmbiClient) -> None:
    # 5001 characters as sent, 5000 once the browser's CRLF line break counts as one.
    body = "b" * 4998 + "\r\n" + "b"
    response = post_note(alice, "t" * 80, body)
    assert response.status_code == 303
    [note] = alice.get("/api/notes").json()
    assert (len(note["title"]), len(note["body"])) == (80, 5000)


def test_html_in_a_title_is_escaped(alice: AmbiClient) -> None:
    title = '<script>alert("x")</script>'
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

    invalid = post_note(alice, title, "b" * 5001)  # shown again in the form
    assert invalid.status_code == 422
    assert f'value="{escaped}"' in invalid.text
    assert "<script>" not in invalid.text

    assert post_note(alice, title).status_code == 303
    home = alice.get("/")
    assert "<script>" not in home.text
    assert f">{escaped}</a></li>" in home.text
    assert flashes(home.text) == [("success", f'Note "{title}" saved.')]
    [note] = alice.get("/api/notes").json()
    assert note["title"] == title  # stored as typed, escaped only in HTML
    page = alice.get(f"/notes/{note['id']}")
    assert f'<h1 id="note-title">{escaped}</h1>' in page.text


def test_another_users_note_is_not_found(
    alice: AmbiClient, notes_app: Ambi, make_client: MakeClient
) -> None:
    assert post_note(alice, "Alice's secret", "Only for alice").status_code == 303
    [note] = alice.get("/api/notes").json()
    add_user(notes_app, "bob")
    bob = make_client(notes_app)
    assert log_in(bob, "bob").status_code == 303

    assert bob.get(f"/notes/{note['id']}").status_code == 404
    assert bob.get("/api/notes").json() == []
    assert "Alice's secret" not in bob.get("/").text
    assert alice.get(f"/notes/{note['id']}").status_code == 200
    assert alice.get(f"/notes/{note['id'] + 1}").status_code == 404


# --- files ----------------------------------------------------------------------------


def alice_folder(notes_app: Ambi) -> Path:
    return Path(notes_app.config["UPLOAD_FOLDER"], "1")  # alice is user 1


def test_an_upload_is_stored_listed_and_downloadable(alice: AmbiClient, notes_app: Ambi) -> None:
    content = bytes(range(256)) * 10  # every byte value
    response = upload(alice, "data.txt", content)
    assert response.status_code == 303
    assert response.headers["Location"] == "/files/"
    assert (alice_folder(notes_app) / "data.txt").read_bytes() == content

    page = alice.get("/files/")
    assert flashes(page.text) == [("success", "Uploaded data.txt.")]
    expected = '<li class="file"><a href="/files/data.txt">data.txt</a> (2560 bytes)</li>'
    assert expected in page.text
    assert 'id="no-files"' not in page.text

    download = alice.get("/files/data.txt")
    assert download.status_code == 200
    assert download.content == content
    assert not download.headers["Content-Disposition"].startswith("attachment")


def test_an_image_upload_keeps_its_bytes(alice: AmbiClient) -> None:
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(1000)
    assert upload(alice, "Photo.PNG", png, "image/png").status_code == 303
    download = alice.get("/files/Photo.PNG")
    assert (download.status_code, download.content) == (200, png)
    assert download.headers["Content-Type"] == "image/png"


def test_an_upload_without_a_file(alice: AmbiClient, notes_app: Ambi) -> None:
    token = csrf_token(alice, "/files/")
    without_part = alice.post("/files/", data={"csrf_token": token})
    # What a browser sends when no file was chosen: a part with an empty file name.
    empty_part = alice.post(
        "/files/",
        data={"csrf_token": token},
        files={"file": ("", b"", "application/octet-stream")},
    )
    for response in (without_part, empty_part):
        assert response.status_code == 400
        expected = '<p class="form-error" id="upload-error">Choose a file to upload.</p>'
        assert expected in response.text
    assert not alice_folder(notes_app).exists()


@pytest.mark.parametrize("filename", ["run.exe", "README", "page.html", "notes.txt.sh", ".txt"])
def test_an_upload_with_a_refused_extension(
    alice: AmbiClient, notes_app: Ambi, filename: str
) -> None:
    response = upload(alice, filename, b"#!/bin/sh\n")
    assert response.status_code == 400
    message = "Only .txt, .md, .png, .jpg, .pdf files can be uploaded."
    assert f'<p class="form-error" id="upload-error">{message}</p>' in response.text
    assert not alice_folder(notes_app).exists()


def test_an_upload_name_cannot_leave_the_users_folder(
    alice: AmbiClient, notes_app: Ambi, tmp_path: Path
) -> None:
    response = upload(alice, "../../x.txt", b"escaped?")
    assert response.status_code == 303
    assert flashes(alice.get("/files/").text) == [("success", "Uploaded x.txt.")]
    assert (alice_folder(notes_app) / "x.txt").read_bytes() == b"escaped?"
    stored = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    assert stored == [Path("notes.sqlite"), Path("uploads/1/x.txt")]


def test_an_upload_over_the_limit_gets_the_413_page(alice: AmbiClient, notes_app: Ambi) -> None:
    response = upload(alice, "big.txt", b"x" * (MiB + 1))
    assert response.status_code == 413
    message = "The file is too large (limit 1 MiB)."
    assert f'<p class="form-error" id="upload-error">{message}</p>' in response.text
    assert 'id="file"' in response.text  # the form, to try again
    assert not alice_folder(notes_app).exists()
    assert upload(alice, "fits.txt", b"x" * (MiB - 1024)).status_code == 303


def test_another_users_file_is_not_found(
    alice: AmbiClient, notes_app: Ambi, make_client: MakeClient
) -> None:
    assert upload(alice, "diary.md", b"# Dear diary").status_code == 303
    add_user(notes_app, "bob")
    bob = make_client(notes_app)
    assert log_in(bob, "bob").status_code == 303
    assert bob.get("/files/diary.md").status_code == 404
    assert "diary.md" not in bob.get("/files/").text
    assert alice.get("/files/diary.md").content == b"# Dear diary"


# --- status ---------------------------------------------------------------------------


def status_rows(page: str) -> dict[str, tuple[str, str]]:
    """name -> (state, answer) of each row of the status table."""
    rows = re.findall(
        r'<tr class="service" data-name="([^"]+)" data-state="(up|down)">\s*'
        r"<td[^>]*>[^<]*</td>\s*<td[^>]*>[^<]*</td>\s*<td>([^<]*)</td>\s*"
        r'<td class="number">\d+</td>',
        page,
    )
    return {name: (state, answer) for name, state, answer in rows}


def test_the_status_page_shows_a_service_that_is_down(alice: AmbiClient) -> None:
    response = alice.get("/status")
    assert response.status_code == 200
    assert '<table id="status">' in response.text
    rows = status_rows(response.text)
    assert rows.keys() == {"Notes API", "Backup"}
    assert rows["Backup"] == ("down", "ConnectError")
    # In-process, the app's own URL (http://localhost/api/health) is not this app: only a
    # real server can answer it (below); the row is there all the same.


@pytest.mark.server
@pytest.mark.parametrize("server_name", ["uvicorn", "gunicorn"])
def test_the_status_page_under_a_real_server(
    server_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server process builds the app from these (create_app reads NOTES_*).
    monkeypatch.setenv("NOTES_SECRET_KEY", "server test")
    monkeypatch.setenv("NOTES_DATABASE", str(tmp_path / "notes.sqlite"))
    monkeypatch.setenv("NOTES_UPLOAD_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setenv("NOTES_STATUS_CHECKS", json.dumps({"Backup": REFUSED_URL}))
    add_user(create_app(), "alice")  # into the same database

    server = start_server(server_name, "examples.notes.main:app")
    try:
        with server.client() as client:
            page = client.get("/auth/login")
            token = CSRF_INPUT.search(page.text)
            assert token is not None
            form = {"csrf_token": token.group(1), "username": "alice", "password": PASSWORD}
            assert client.post("/auth/login", data=form).status_code == 303
            response = client.get("/status")
    finally:
        server.stop()
    assert response.status_code == 200
    rows = status_rows(response.text)
    assert rows == {"Notes API": ("up", "HTTP 200"), "Backup": ("down", "ConnectError")}


# --- configuration and commands --------------------------------------------------------


def test_configuration_defaults_environment_and_test_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTES_DATABASE", str(tmp_path / "env.sqlite"))
    monkeypatch.setenv("NOTES_SECRET_KEY", "from the environment")
    monkeypatch.setenv("NOTES_STATUS_CHECKS", '{"Search": "https://search.example/health"}')
    app = create_app()
    assert app.instance_path == str(REPO_ROOT / "instance")
    assert app.config["DATABASE"] == str(tmp_path / "env.sqlite")
    assert (tmp_path / "env.sqlite").exists()  # the schema was created
    assert app.config["SECRET_KEY"] == "from the environment"
    assert app.config["STATUS_CHECKS"] == {"Search": "https://search.example/health"}
    assert app.config["UPLOAD_FOLDER"] == os.path.join(app.instance_path, "uploads")
    assert app.config["MAX_CONTENT_LENGTH"] == MiB

    app = create_app({"SECRET_KEY": "from the test", "DATABASE": tmp_path / "test.sqlite"})
    assert app.config["SECRET_KEY"] == "from the test"
    assert (tmp_path / "test.sqlite").exists()


def test_add_user_refuses_an_existing_name(notes_app: Ambi) -> None:
    result = notes_app.test_cli_runner().invoke(args=["add-user", "alice", "--password", "x"])
    assert result.exit_code != 0
    assert "User alice already exists." in result.output


def test_add_user_prompts_for_the_password(notes_app: Ambi, make_client: MakeClient) -> None:
    runner = notes_app.test_cli_runner()
    result = runner.invoke(args=["add-user", "carol"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output  # hidden input
    assert result.output.endswith("Added user carol.\n")
    assert log_in(make_client(notes_app), "carol", "s3cret").status_code == 303


def test_init_db_clears_users_notes_and_uploads(alice: AmbiClient, notes_app: Ambi) -> None:
    assert post_note(alice, "Old note").status_code == 303
    assert upload(alice, "old.txt", b"old").status_code == 303

    result = notes_app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert result.output == "Initialized the database.\n"
    assert not alice_folder(notes_app).exists()
    assert Path(notes_app.config["UPLOAD_FOLDER"]).is_dir()  # only the users' folders go

    alice.cookies.clear()
    assert log_in(alice).status_code == 401  # the user is gone too
    add_user(notes_app, "alice")  # user 1 again: sees none of the old data
    assert log_in(alice).status_code == 303
    assert alice.get("/api/notes").json() == []
    assert "old.txt" not in alice.get("/files/").text
