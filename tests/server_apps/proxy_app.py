"""The app the real-server proxy and trusted-host tests serve (``tests/test_servers_proxy.py``).

Both faces are wrapped with :class:`~ambi.middleware.ProxyFix` trusting one proxy for
every header, and ``TRUSTED_HOSTS`` admits 127.0.0.1 (the tests' own requests),
``example.com`` and the subdomains of ``example.org``.
"""

from __future__ import annotations

from typing import Any

from ambi import Ambi, request, url_for
from ambi.middleware import ProxyFix

app = Ambi(__name__, static_folder=None)
app.config["TRUSTED_HOSTS"] = ["127.0.0.1", "example.com", ".example.org"]


@app.get("/text")
def text() -> str:
    return "ok"


def _describe() -> dict[str, Any]:
    return {
        "remote_addr": request.remote_addr,
        "scheme": request.scheme,
        "host": request.host,
        "root_path": request.root_path,
        "path": request.path,
        "url": request.url,
        "external": url_for("info", _external=True),
    }


@app.get("/info")
def info() -> dict[str, Any]:
    return _describe()


@app.get("/info-async")
async def info_async() -> dict[str, Any]:
    return _describe()


ProxyFix.install(app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1, forwarded=1)
