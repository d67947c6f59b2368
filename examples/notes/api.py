"""A small JSON API: a health check for monitors, and the current user's notes.

A view returning a dict or a list answers JSON. The API speaks JSON in its errors too: its
own 401 handler wins over the app's redirect to the login page.
"""

from __future__ import annotations

from typing import Any

from ambi import Blueprint, g
from ambi.exceptions import HTTPException
from ambi.types import ResponseReturnValue

from .auth import login_required
from .db import get_db

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/health")
async def health() -> dict[str, str]:
    """Open to everyone; it answers while the app serves. (The app-wide hook that loads
    ``g.user`` still runs first, and reads the user only when a session cookie names one.)"""
    return {"status": "ok"}


@bp.get("/notes")
@login_required
def notes() -> list[dict[str, Any]]:
    rows = (
        get_db()
        .execute(
            "SELECT id, title, body, created FROM note WHERE author_id = ?"
            " ORDER BY created DESC, id DESC",
            (g.user["id"],),
        )
        .fetchall()
    )
    return [dict(row) for row in rows]


@bp.errorhandler(401)
def login_required_json(error: HTTPException) -> ResponseReturnValue:
    return {"error": "login required"}, 401
