"""An Ambi app in the middle of an incremental migration:
``tests.server_apps.migration_app:app``.

The legacy Flask app (``legacy_flask.py``) is this app's fallback, with the same
``SECRET_KEY``, so one session cookie serves both. One route has moved to Ambi as
``async def`` (``GET /api/user``); Ambi adds a login ("switch user") and a logout of its
own, and builds URLs to the routes Flask still serves with ``url_for("legacy....")``.
Everything else (the login form, the profile page, the streaming response, ``POST
/api/user``, unknown paths) is still Flask's. Served by uvicorn (the Flask app then runs
through a2wsgi in worker threads) and gunicorn (called directly).
"""

from __future__ import annotations

from typing import Any

from ambi import Ambi, Response, request, session, url_for

from .legacy_flask import SECRET_KEY, legacy

# No static route of Ambi's own: /static/... stays the legacy app's.
app = Ambi(__name__, static_folder=None)
app.config.update(SECRET_KEY=SECRET_KEY)
app.fallback(legacy, endpoint_prefix="legacy")

#: Set by a before_request hook: the hooks of this app never run for fallback requests.
HOOK_CALLS: list[str] = []


@app.before_request
async def record_hook() -> None:
    HOOK_CALLS.append(request.path)


@app.after_request
async def mark(response: Response) -> Response:
    response.headers["X-Served-By"] = "ambi"
    return response


@app.get("/api/user")
async def api_user() -> dict[str, Any]:
    """The first route moved from Flask: the same URL and JSON, now ``async def``."""
    return {"user": session.get("user"), "served_by": "ambi"}


@app.post("/switch-user")
async def switch_user() -> dict[str, Any]:
    session["user"] = request.form["user"]
    return {"user": session["user"], "served_by": "ambi"}


@app.post("/ambi-logout")
async def ambi_logout() -> str:
    session.pop("user", None)
    return "logged out of ambi"


@app.get("/links")
async def links() -> dict[str, str]:
    """URLs of routes the legacy app still serves, built by Ambi."""
    return {
        "profile": url_for("legacy.profile"),
        "login": url_for("legacy.login"),
        "user": url_for("legacy.user_page", user_id=7, tab="posts"),
        "stream": url_for("legacy.stream", _external=True),
        "api": url_for("api_user"),
    }


@app.get("/hooks")
async def hooks() -> list[str]:
    return HOOK_CALLS
