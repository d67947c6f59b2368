"""The server target: ``uvicorn examples.notes.main:app`` or ``gunicorn examples.notes.main:app``.

Both servers import this module and serve the same object: uvicorn through its ASGI face,
gunicorn through its WSGI face.
"""

from __future__ import annotations

from . import create_app

app = create_app()
