"""A legacy Flask app being migrated to Ambi: ``tests.server_apps.legacy_flask:legacy``.

Plain Flask, as it ran under gunicorn before the migration: a login form that puts the
user in the session, a page and a JSON API reading the session, a logout, a streaming
response, an upload, and its own 404 and 405 pages. ``migration_app.py`` mounts it as the
fallback of an Ambi app with the same ``SECRET_KEY``; every response says which app
served it (``X-Served-By``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, redirect, request, session, url_for

SECRET_KEY = "the key both apps share during the migration"

#: The streaming route's defaults: chunks and the pause after each.
STREAM_CHUNKS = 4
STREAM_PAUSE = 0.3

legacy = Flask(__name__)
legacy.config.update(SECRET_KEY=SECRET_KEY)


@legacy.after_request
def mark(response: Response) -> Response:
    response.headers["X-Served-By"] = "flask"
    return response


@legacy.get("/login")
def login_form() -> str:
    return (
        '<form method="post" action="' + url_for("login") + '">'
        '<input name="user"><button>Log in</button></form>'
    )


@legacy.post("/login")
def login() -> Any:
    session["user"] = request.form["user"]
    return redirect(url_for("profile"))


@legacy.post("/logout")
def logout() -> str:
    session.pop("user", None)
    return "logged out of flask"


@legacy.get("/profile")
def profile() -> str:
    user = session.get("user")
    if user is None:
        return "<p>flask profile: nobody is logged in</p>"
    return f"<p>flask profile: hello {user}</p>"


@legacy.get("/api/user")
def api_user() -> dict[str, Any]:
    """The JSON API; Ambi re-implements GET (the migration's first route)."""
    return {"user": session.get("user"), "served_by": "flask"}


@legacy.post("/api/user")
def api_user_update() -> dict[str, Any]:
    """Still Flask's: Ambi serves only GET /api/user, so a POST falls back here."""
    session["nickname"] = request.get_json()["nickname"]
    return {"nickname": session["nickname"], "served_by": "flask"}


@legacy.get("/users/<int:user_id>")
def user_page(user_id: int) -> str:
    return f"flask user {user_id}"


@legacy.get("/only-get")
def only_get() -> str:
    return "flask only-get"


@legacy.get("/where")
def where() -> dict[str, Any]:
    return {
        "script_root": request.script_root,
        "path": request.path,
        "url": request.url,
        "served_by": "flask",
    }


@legacy.get("/stream")
def stream() -> Response:
    """``chunks`` lines with a pause after each but the last; the last line carries the
    wall-clock time at which the generator's last pause ended."""
    chunks = request.args.get("chunks", STREAM_CHUNKS, type=int)
    pause = request.args.get("pause", STREAM_PAUSE, type=float)

    def generate() -> Iterator[str]:
        for index in range(chunks - 1):
            yield f"chunk {index} at {time.time():.6f}\n"
            time.sleep(pause)
        yield f"last at {time.time():.6f}\n"

    return Response(generate(), mimetype="text/plain")


@legacy.post("/upload")
def upload() -> dict[str, Any]:
    data = request.get_data()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@legacy.errorhandler(404)
def not_found(error: Exception) -> tuple[str, int]:
    return "legacy flask 404: no such page", 404


@legacy.errorhandler(405)
def method_not_allowed(error: Exception) -> tuple[str, int]:
    return "legacy flask 405: wrong method", 405
