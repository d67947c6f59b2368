"""The notes themselves: the list, the form to write one, and one note's page.

These views use sqlite3, a blocking library, so they are ``def``: under gunicorn they run
directly, under uvicorn in a worker thread, never blocking the event loop.
"""

from __future__ import annotations

import sqlite3

from ambi import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from ambi.types import ResponseReturnValue

from .auth import login_required
from .db import get_db

bp = Blueprint("notes", __name__)

MAX_TITLE_LENGTH = 80
MAX_BODY_LENGTH = 5000


@bp.get("/")
@login_required
def index() -> str:
    """The current user's notes, newest first."""
    notes = (
        get_db()
        .execute(
            "SELECT id, title, created FROM note WHERE author_id = ?"
            " ORDER BY created DESC, id DESC",
            (g.user["id"],),
        )
        .fetchall()
    )
    return render_template("notes/index.html", notes=notes)


def validate_note(title: str, body: str) -> dict[str, str]:
    """The errors of a note's fields, by field name (empty when the note is fine)."""
    errors = {}
    if not title:
        errors["title"] = "Title is required."
    elif len(title) > MAX_TITLE_LENGTH:
        errors["title"] = f"Title must be at most {MAX_TITLE_LENGTH} characters."
    if len(body) > MAX_BODY_LENGTH:
        errors["body"] = f"Note must be at most {MAX_BODY_LENGTH} characters."
    return errors


@bp.route("/notes/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    """The form for a new note; on POST, validate and save it."""
    if request.method == "GET":
        return render_template("notes/new.html", title="", body="", errors={})

    title = request.form.get("title", "").strip()
    # Browsers send a textarea's line breaks as CRLF: count each as one character.
    body = request.form.get("body", "").replace("\r\n", "\n")
    errors = validate_note(title, body)
    if errors:
        # 422: the form was understood but its content is not acceptable; show it again,
        # with what the user typed.
        return render_template("notes/new.html", title=title, body=body, errors=errors), 422

    database = get_db()
    database.execute(
        "INSERT INTO note (author_id, title, body) VALUES (?, ?, ?)",
        (g.user["id"], title, body),
    )
    database.commit()
    flash(f'Note "{title}" saved.', "success")
    return redirect(url_for("notes.index"), 303)


def get_own_note(note_id: int) -> sqlite3.Row:
    """The note ``note_id`` if the current user wrote it; a 404 otherwise (also for other
    users' notes: not even their existence is revealed)."""
    note: sqlite3.Row | None = (
        get_db()
        .execute(
            "SELECT * FROM note WHERE id = ? AND author_id = ?",
            (note_id, g.user["id"]),
        )
        .fetchone()
    )
    if note is None:
        abort(404)
    return note


@bp.get("/notes/<int:note_id>")
@login_required
def detail(note_id: int) -> str:
    return render_template("notes/detail.html", note=get_own_note(note_id))
