"""Bad input gets a clear 4xx, never a 500 or a traceback, on both interfaces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ambi import Ambi, request
from ambi.testing import AmbiClient

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]


@pytest.fixture
def bad_app(app: Ambi, as_view: MakeView) -> Ambi:
    app.testing = False  # what production sees: no propagation
    app.add_url_rule(
        "/json", "json", as_view(lambda: {"got": request.get_json()}), methods=["POST"]
    )
    app.add_url_rule("/text", "text", as_view(lambda: "text"))
    app.add_url_rule("/users/<int:user_id>", "user", as_view(lambda user_id: str(user_id)))
    app.add_url_rule("/args", "args", as_view(lambda: dict(request.args)))
    app.add_url_rule(
        "/data", "data", as_view(lambda: str(len(request.get_data()))), methods=["POST"]
    )
    return app


def _assert_clean(response: Any, status: int, message: str) -> None:
    assert response.status_code == status
    assert message in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("body", [b"{", b'{"a": }', b"\xff\xfe", b"[1, 2", b"nan-ish", b""])
def test_malformed_json_is_400(
    bad_app: Ambi, make_client: Callable[..., AmbiClient], body: bytes
) -> None:
    client = make_client(bad_app)
    response = client.post("/json", content=body, headers={"Content-Type": "application/json"})
    _assert_clean(response, 400, "Failed to decode JSON object")
    # The server keeps serving.
    assert client.post("/json", json={"ok": True}).json() == {"got": {"ok": True}}


def test_json_with_wrong_content_type_is_415(
    bad_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    response = make_client(bad_app).post(
        "/json", content=b"{}", headers={"Content-Type": "text/plain"}
    )
    _assert_clean(response, 415, "Content-Type was not &#x27;application/json&#x27;")


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "FOO"])
def test_unknown_method_is_405_with_allow(
    bad_app: Ambi, make_client: Callable[..., AmbiClient], method: str
) -> None:
    response = make_client(bad_app).request(method, "/text")
    _assert_clean(response, 405, "The method is not allowed")
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("path", ["/users/abc", "/users/1.5", "/users/-1", "/users/", "/nope"])
def test_path_not_matching_a_converter_is_404(
    bad_app: Ambi, make_client: Callable[..., AmbiClient], path: str
) -> None:
    _assert_clean(make_client(bad_app).get(path), 404, "Not Found")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/text%zz", "Invalid percent-encoding in the URL path"),
        ("/text%4", "Invalid percent-encoding in the URL path"),
        ("/text%ff", "Invalid UTF-8 in the URL path"),
        ("/users/%c3%28", "Invalid UTF-8 in the URL path"),
    ],
)
def test_bad_path_encoding_is_400(
    bad_app: Ambi, make_client: Callable[..., AmbiClient], path: str, message: str
) -> None:
    _assert_clean(make_client(bad_app).get(path), 400, message)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("a=%zz", "Invalid percent-encoding in the query string"),
        ("a=%f", "Invalid percent-encoding in the query string"),
        ("a=%ff", "Invalid UTF-8 in the query string"),
        ("%ff=1", "Invalid UTF-8 in the query string"),
    ],
)
def test_bad_query_encoding_is_400(
    bad_app: Ambi, make_client: Callable[..., AmbiClient], query: str, message: str
) -> None:
    client = make_client(bad_app)
    _assert_clean(client.get(f"/args?{query}"), 400, message)
    assert client.get("/args?a=%C3%A9").json() == {"a": "é"}


def test_body_over_max_content_length_is_413(
    bad_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    bad_app.config["MAX_CONTENT_LENGTH"] = 1000
    client = make_client(bad_app)
    _assert_clean(client.post("/data", content=b"x" * 1001), 413, "the limit is 1000 bytes")
    assert client.post("/data", content=b"x" * 1000).text == "1000"

    def chunked() -> Any:
        for _ in range(20):
            yield b"x" * 100

    _assert_clean(client.post("/data", content=chunked()), 413, "1000 bytes")


def test_bad_input_under_debug_still_4xx(
    bad_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    bad_app.debug = True
    response = make_client(bad_app).post(
        "/json", content=b"{", headers={"Content-Type": "application/json"}
    )
    _assert_clean(response, 400, "Failed to decode JSON object")
