"""Notes: a small multi-user notes app, written with Ambi the way the Flask tutorial writes
its blog.

It shows a realistic app's parts: an application factory, blueprints, sqlite3 on ``g``,
login with hashed passwords, CSRF-protected forms, validation, file uploads, JSON views, and an
``async def`` page that calls other services concurrently with httpx. The sqlite views are
``def`` (sqlite3 blocks); the status page and the health check are ``async def``. The same app
object runs under uvicorn (ASGI) and gunicorn (WSGI)::

    ambi --app examples.notes init-db
    ambi --app examples.notes add-user alice
    uvicorn examples.notes.main:app        # or: gunicorn --threads 8 examples.notes.main:app
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ambi import Ambi

from . import api, auth, csrf, db, files, notes, status


def create_app(test_config: Mapping[str, Any] | None = None) -> Ambi:
    """Build the app: defaults, then ``NOTES_*`` environment variables, then ``test_config``.

    ``NOTES_SECRET_KEY``, ``NOTES_DATABASE``, ``NOTES_UPLOAD_FOLDER`` and
    ``NOTES_STATUS_CHECKS`` (a JSON object, name -> URL) override the defaults, so a
    deployment configures the app without editing code.
    """
    app = Ambi(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY="dev",  # only for development: set NOTES_SECRET_KEY in production
        DATABASE=os.path.join(app.instance_path, "notes.sqlite"),
        UPLOAD_FOLDER=os.path.join(app.instance_path, "uploads"),
        MAX_CONTENT_LENGTH=1024 * 1024,
        STATUS_CHECKS={},
    )
    app.config.from_prefixed_env("NOTES")
    if test_config is not None:
        app.config.from_mapping(test_config)

    db.init_app(app)
    # auth first: its hook loads g.user, which the views, the error pages and the 413
    # handler use; the CSRF check runs after it.
    app.register_blueprint(auth.bp)
    csrf.init_app(app)
    app.register_blueprint(notes.bp)
    app.register_blueprint(files.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(status.bp)
    return app
