"""CSRF protection: every form carries a secret token that only this site's pages know.

Another site can make a logged-in user's browser POST to us (the session cookie goes
along), but it cannot read our pages, so it cannot know the token. The token lives in the
session; templates put it in each form with ``{{ csrf_token() }}``, and every POST is checked
before its view runs.
"""

from __future__ import annotations

import hmac
import secrets

from ambi import Ambi, render_template, request, session
from ambi.exceptions import BadRequest

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"


class CSRFError(BadRequest):
    """A POST whose form token is missing or does not match the session's."""

    description = "The form has expired or is invalid. Reload the page and try again."


def csrf_token() -> str:
    """The session's CSRF token, made on first use (a template global)."""
    if SESSION_KEY not in session:
        session[SESSION_KEY] = secrets.token_urlsafe(32)
    token: str = session[SESSION_KEY]
    return token


def check_csrf_token() -> None:
    """Refuse a POST whose form does not carry the session's token (a before_request hook)."""
    if request.method != "POST":
        return
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FORM_FIELD)
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise CSRFError()


def render_csrf_error(error: CSRFError) -> tuple[str, int]:
    return render_template("error.html", title="Invalid form", message=error.description), 400


def init_app(app: Ambi) -> None:
    app.add_template_global(csrf_token)
    app.before_request(check_csrf_token)
    app.register_error_handler(CSRFError, render_csrf_error)
