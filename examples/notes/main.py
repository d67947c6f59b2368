"""The server target: ``uvicorn examples.notes.main:app`` or
``gunicorn --threads 8 examples.notes.main:app``.

Both servers import this module and serve the same object: uvicorn through its ASGI face,
gunicorn through its WSGI face. Give gunicorn threads: the status page calls the app's own
health check, which a single-threaded worker could not answer while it waits.
"""

from __future__ import annotations

from . import create_app

app = create_app()
