"""What every benchmark app serves, written once, and the requests that exercise it.

Each framework module in this package builds the same four scenarios with its own
idioms; :data:`SCENARIOS` describes the request for each and what a correct answer is.
Runners (the in-process one now; end-to-end load generators later) share these.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ECHO_BODY",
    "ECHO_PAYLOAD",
    "HELLO",
    "JSON_MESSAGE",
    "PARAM_ID",
    "PARAM_ROUTE",
    "ROUTE_COUNT",
    "SCENARIOS",
    "AppCase",
    "Scenario",
    "param_text",
]

HELLO = "Hello, World!"
JSON_MESSAGE = {"message": HELLO}

#: Routes ``/route0/<int>`` … ``/route99/<int>`` are registered in that order; the
#: benchmark requests the last one, so a linear matcher pays for all of them.
ROUTE_COUNT = 100
PARAM_ROUTE = ROUTE_COUNT - 1
PARAM_ID = 12345


def param_text(route: int, item_id: int) -> str:
    """The body route ``route`` answers with: proves both the route and the int converter."""
    return f"route{route}:{item_id}"


def _echo_payload() -> dict[str, Any]:
    items = [
        {"sku": f"SKU-{i:05d}", "name": f"Item number {i}", "qty": i % 7 + 1, "price": 9.5 + i}
        for i in range(15)
    ]
    return {"id": 42, "user": "ada@example.com", "tags": ["a", "b", "c"], "items": items}


#: The POST /echo body, about 1 KB of JSON.
ECHO_PAYLOAD = _echo_payload()
ECHO_BODY = json.dumps(ECHO_PAYLOAD, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Scenario:
    """One request and what a correct response to it looks like."""

    name: str
    title: str
    method: str
    path: str
    body: bytes = b""
    content_type: str | None = None
    #: the exact body expected (plain text scenarios)
    expect_text: str | None = None
    #: the JSON value expected (JSON scenarios); the content type must say json
    expect_json: Any = None

    def check(self, status: int, headers: dict[str, str], body: bytes) -> str | None:
        """``None`` when the response is correct, else what is wrong with it."""
        if status != 200:
            return f"status {status}, body {body[:200]!r}"
        if self.expect_text is not None and body != self.expect_text.encode():
            return f"body {body[:200]!r}, expected {self.expect_text!r}"
        if self.expect_json is not None:
            ctype = headers.get("content-type", "")
            if "json" not in ctype:
                return f"content-type {ctype!r}, expected JSON"
            try:
                value = json.loads(body)
            except ValueError:
                return f"body is not JSON: {body[:200]!r}"
            if value != self.expect_json:
                return f"JSON {value!r:.200}, expected {self.expect_json!r:.200}"
        return None


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("plaintext", "plaintext `GET /`", "GET", "/", expect_text=HELLO),
    Scenario("json", "JSON `GET /json`", "GET", "/json", expect_json=JSON_MESSAGE),
    Scenario(
        "params",
        f"path param, route {ROUTE_COUNT} of {ROUTE_COUNT}",
        "GET",
        f"/route{PARAM_ROUTE}/{PARAM_ID}",
        expect_text=param_text(PARAM_ROUTE, PARAM_ID),
    ),
    Scenario(
        "echo",
        f"POST JSON echo ({len(ECHO_BODY)} B)",
        "POST",
        "/echo",
        body=ECHO_BODY,
        content_type="application/json",
        expect_json=ECHO_PAYLOAD,
    ),
)


@dataclass
class AppCase:
    """One app to benchmark: a framework served through one interface with one view kind."""

    framework: str
    #: "wsgi" or "asgi": which callable convention ``app`` follows
    interface: str
    #: "def" or "async": the kind of view functions it was written with
    view: str
    app: Any
    #: scenario name -> why this app does not serve it (shown as n/a in the report)
    unsupported: dict[str, str] = field(default_factory=dict)
    #: why the whole case cannot run here (a missing optional package); None to run it
    skip: str | None = None

    @property
    def label(self) -> str:
        return f"{self.framework} {self.interface.upper()} {self.view}"
