"""Logging in and out, the current user on ``g.user``, and the ``login_required`` decorator.

The session (a signed cookie) remembers only the user's id; each request loads the user's
row into ``g.user`` before its view runs (``None`` for an anonymous visitor).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from ambi import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from ambi.exceptions import HTTPException
from ambi.types import ResponseReturnValue

from .db import get_db
from .passwords import check_password

bp = Blueprint("auth", __name__, url_prefix="/auth")

View = TypeVar("View", bound=Callable[..., Any])


@bp.before_app_request
def load_logged_in_user() -> None:
    """Put the logged-in user's row (or ``None``) on ``g.user``, for every request."""
    user_id = session.get("user_id")
    g.user = None
    if user_id is not None:
        g.user = get_db().execute("SELECT * FROM user WHERE id = ?", (user_id,)).fetchone()


def _require_user() -> None:
    if g.user is None:
        abort(401)  # the app's 401 handler sends browsers to the login page


def login_required(view: View) -> View:
    """Let only logged-in users call ``view``; others get a 401, which the app turns into
    a redirect to the login page (and the ``api`` blueprint into a JSON error).

    The wrapper is of the same kind as the view, ``def`` or ``async def``, so that Ambi
    still runs the view on its native path.
    """
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            _require_user()
            return await view(*args, **kwargs)

        return cast(View, async_wrapper)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _require_user()
        return view(*args, **kwargs)

    return cast(View, wrapper)


@bp.app_errorhandler(401)
def redirect_to_login(error: HTTPException) -> ResponseReturnValue:
    """Send an anonymous visitor to the login page, and back here afterwards."""
    return redirect(url_for("auth.login", next=request.path), 303)


def is_local_url(target: str) -> bool:
    """Whether ``target`` is a path on this site: ``/notes/1``, but not
    ``http://evil.example/`` or the scheme-relative ``//evil.example/``."""
    # Browsers read a backslash like a slash: "/\evil.example" is "//evil.example".
    parts = urlsplit(target.replace("\\", "/"))
    return not parts.scheme and not parts.netloc and target.startswith("/")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the login form; on POST, check the password and log the user in."""
    if request.method == "GET":
        return render_template("auth/login.html")

    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    user = get_db().execute("SELECT * FROM user WHERE username = ?", (username,)).fetchone()
    if user is None or not check_password(password, user["password_hash"]):
        error = "Incorrect username or password."
        return render_template("auth/login.html", error=error, username=username), 401

    # A fresh session on login: nothing an attacker planted before survives it.
    session.clear()
    session["user_id"] = user["id"]
    flash(f"Welcome back, {user['username']}.", "success")
    target = request.args.get("next", "")
    if not is_local_url(target):
        target = url_for("notes.index")
    return redirect(target, 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"), 303)
