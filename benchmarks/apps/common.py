"""What every benchmark app serves, written once, and the requests that exercise it.

Each framework module in this package builds the same six scenarios with its own
idioms; :data:`SCENARIOS` describes the request for each and what a correct answer is.
Runners (the in-process one and the end-to-end one) share these: a scenario's ``path``
carries its query string, and ``headers`` the request headers beyond the usual ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

__all__ = [
    "ARGS_COOKIE",
    "ARGS_EXPECTED",
    "ARGS_HEADER",
    "ECHO_BODY",
    "ECHO_PAYLOAD",
    "HELLO",
    "JSON_MESSAGE",
    "PARAM_ID",
    "PARAM_ROUTE",
    "ROUTE_COUNT",
    "SCENARIOS",
    "TEMPLATES_DIR",
    "TEMPLATE_CONTEXT",
    "TEMPLATE_HTML",
    "TEMPLATE_NAME",
    "AppCase",
    "Scenario",
    "args_result",
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

#: ``templates/rows.html``: a page with a table of :data:`TEMPLATE_CONTEXT`'s rows. The
#: ambi, flask and quart apps find it through their ``templates`` folder (next to their
#: modules), starlette through ``Jinja2Templates``, falcon and raw through a module-level
#: ``jinja2.Environment``.
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "rows.html"


def _template_rows() -> list[dict[str, Any]]:
    # Every row has something to escape: markup, ampersands, both kinds of quotes.
    notes = [
        "<b>bold</b> & brave",
        'say "hello"',
        "it's <i>fine</i>",
        "Tom & Jerry <script>alert(1)</script>",
    ]
    return [
        {
            "id": i,
            "name": f"<item {i}> & 'co'",
            "note": notes[i % len(notes)],
            "price": 1.25 * i,
        }
        for i in range(1, 13)
    ]


#: The keyword arguments every app renders the template with: a title and 12 rows.
TEMPLATE_CONTEXT: dict[str, Any] = {
    "title": 'Rows & "records" <12>',
    "rows": _template_rows(),
}


def _render_expected() -> str:
    # A plain autoescaping environment, as a reference: every app's Jinja2 setup (with
    # its own loader, globals and caching) must render these very bytes.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, auto_reload=False
    )
    return env.get_template(TEMPLATE_NAME).render(TEMPLATE_CONTEXT)


#: The exact HTML GET /template must answer with.
TEMPLATE_HTML = _render_expected()

#: GET /args: a query with a repeated key, a request header and a cookie.
ARGS_HEADER = ("X-Request-Id", "abc123")
ARGS_COOKIE = ("session_hint", "xyz")


def args_result(
    name: str | None, count: int | None, tags: list[str], request_id: str | None, hint: str | None
) -> dict[str, Any]:
    """The JSON object GET /args answers with, from what the view read off the request."""
    return {
        "name": name,
        "count": count,
        "tags": tags,
        "request_id": request_id,
        "session_hint": hint,
    }


#: The exact JSON GET /args must answer with.
ARGS_EXPECTED = args_result("Ada", 3, ["a", "b"], ARGS_HEADER[1], ARGS_COOKIE[1])


def _body_difference(body: bytes, expected: bytes) -> str:
    if len(body) + len(expected) <= 200:
        return f"body {body!r}, expected {expected!r}"
    at = next(
        (i for i, (got, want) in enumerate(zip(body, expected, strict=False)) if got != want),
        min(len(body), len(expected)),
    )
    start = max(0, at - 40)
    return (
        f"body ({len(body)} B) differs from the expected ({len(expected)} B) at byte {at}: "
        f"...{body[start : at + 60]!r}..., expected ...{expected[start : at + 60]!r}..."
    )


@dataclass(frozen=True)
class Scenario:
    """One request and what a correct response to it looks like."""

    name: str
    title: str
    method: str
    #: the request target: the path, with the query string if any (``/args?name=Ada``)
    path: str
    body: bytes = b""
    content_type: str | None = None
    #: request headers beyond Host, User-Agent, Accept (and Content-Type/-Length, which
    #: come from ``content_type`` and ``body``), as (name, value) pairs
    headers: tuple[tuple[str, str], ...] = ()
    #: the exact body expected (text and HTML scenarios), compared as UTF-8 bytes
    expect_text: str | None = None
    #: the JSON value expected (JSON scenarios); the content type must say json
    expect_json: Any = None
    #: when set, the response's content type must start with it (``text/html``)
    expect_type: str | None = None

    @property
    def path_info(self) -> str:
        """The path without the query string."""
        return self.path.partition("?")[0]

    @property
    def query_string(self) -> str:
        """The query string without the ``?`` (empty when there is none)."""
        return self.path.partition("?")[2]

    def check(self, status: int, headers: dict[str, str], body: bytes) -> str | None:
        """``None`` when the response is correct, else what is wrong with it.

        ``headers`` maps lower-cased response header names to values.
        """
        if status != 200:
            return f"status {status}, body {body[:200]!r}"
        if self.expect_type is not None:
            ctype = headers.get("content-type", "")
            if not ctype.startswith(self.expect_type):
                return f"content-type {ctype!r}, expected {self.expect_type}"
        if self.expect_text is not None:
            expected = self.expect_text.encode()
            if body != expected:
                return _body_difference(body, expected)
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
    Scenario(
        "template",
        f"Jinja2 template, {len(TEMPLATE_CONTEXT['rows'])} escaped rows",
        "GET",
        "/template",
        expect_text=TEMPLATE_HTML,
        expect_type="text/html",
    ),
    Scenario(
        "args",
        "query args + header + cookie",
        "GET",
        "/args?name=Ada&count=3&tag=a&tag=b",
        headers=(ARGS_HEADER, ("Cookie", f"{ARGS_COOKIE[0]}={ARGS_COOKIE[1]}")),
        expect_json=ARGS_EXPECTED,
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
