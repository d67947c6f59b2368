"""Request and Response objects, JSON provider and config, without a server."""

from __future__ import annotations

import dataclasses
import decimal
import json
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import pytest

from ambi import Ambi, Config, Response, jsonify, request
from ambi.json import dumps, loads


def test_response_defaults_and_status_forms() -> None:
    response = Response()
    assert response.status == "200 OK"
    assert response.data == b""
    assert response.mimetype == "text/html"
    assert repr(response) == "<Response 0 bytes [200 OK]>"
    response.status = HTTPStatus.CREATED
    assert response.status_code == 201
    response.status = "404 whatever"
    assert response.status == "404 NOT FOUND"
    response.status = 299
    assert response.status == "299 UNKNOWN"
    with pytest.raises(ValueError, match="must start with a number"):
        response.status = "abc"
    with pytest.raises(ValueError, match="between 100 and 999"):
        response.status = 42
    with pytest.raises(TypeError, match="must be an int or str"):
        response.status = 1.5  # type: ignore[assignment]


def test_response_mimetypes_and_headers() -> None:
    assert Response("x", mimetype="text/plain").content_type == "text/plain; charset=utf-8"
    assert Response("x", mimetype="image/png").content_type == "image/png"
    assert Response("x", mimetype="application/xml").content_type == (
        "application/xml; charset=utf-8"
    )
    assert Response("x", content_type="a/b; q=1").mimetype_params == {"q": "1"}
    custom = Response("x", headers={"Content-Type": "text/csv"})
    assert custom.mimetype == "text/csv"
    response = Response("abc")
    response.mimetype = "application/json"
    assert response.is_json
    response.content_type = "text/x"
    assert response.content_type == "text/x"
    assert response.content_length == 3
    response.content_length = 5
    assert response.headers["content-length"] == "5"
    response.location = "/next"
    assert response.location == "/next"
    with pytest.raises(ValueError, match="newline"):
        response.headers["Location"] = "/a\r\nSet-Cookie: x=1"


def test_response_body_and_json() -> None:
    response = Response(b'{"a": 1}', mimetype="application/json")
    assert response.get_json() == {"a": 1}
    assert response.json == {"a": 1}
    assert Response("x").json is None
    bad = Response("{", mimetype="application/json")
    assert bad.get_json(silent=True) is None
    with pytest.raises(ValueError):
        bad.get_json()
    response.data = "new"
    assert response.get_data(as_text=True) == "new"
    streamed = Response(iter(["a", b"b"]))
    assert streamed.is_streamed
    assert list(streamed.iter_encoded()) == [b"a", b"b"]
    streamed = Response(iter(["a", b"b"]))
    assert streamed.get_data() == b"ab"
    assert not streamed.is_streamed

    async def agen() -> Any:
        yield b"x"

    asynchronous = Response(agen())
    with pytest.raises(RuntimeError, match="async iterator"):
        asynchronous.get_data()
    with pytest.raises(RuntimeError, match="async iteration"):
        list(asynchronous.iter_encoded())
    callbacks: list[int] = []
    assert response.call_on_close(lambda: callbacks.append(1)) is not None


def test_set_cookie_all_attributes() -> None:
    response = Response()
    response.set_cookie(
        "k",
        "v",
        max_age=60,
        path="/p",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="Strict",
        partitioned=True,
    )
    cookie = response.headers["set-cookie"]
    for part in (
        "k=v",
        "Max-Age=60",
        "Path=/p",
        "Domain=example.com",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Partitioned",
    ):
        assert part in cookie


def test_request_details_in_a_test_context(app: Ambi) -> None:
    with app.test_request_context("/a", headers={"User-Agent": "ua", "Content-Length": "x"}):
        assert request.user_agent == "ua"
        assert request.content_length is None
        assert request.blueprint is None
        assert request.endpoint is None
        assert request.mimetype == ""
        assert request.full_path == "/a?"
        assert repr(request._get_current_object()) == "<Request 'http://localhost/a' [GET]>"  # type: ignore[attr-defined]
    with app.test_request_context("/a", headers={"Host": ""}):
        assert request.host == "localhost"
    with app.test_request_context("/a", headers={"Host": ""}, base_url="http://h:8080"):
        assert request.host == "h:8080"


def test_json_provider(app: Ambi) -> None:
    @dataclasses.dataclass
    class Point:
        x: int

    class Html:
        def __html__(self) -> str:
            return "<b>"

    value = {
        "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "id": uuid.UUID(int=1),
        "price": decimal.Decimal("1.10"),
        "point": Point(1),
        "html": Html(),
        "z": "é",
    }
    with app.app_context():
        text = dumps(value)
        assert json.loads(text) == {
            "html": "<b>",
            "id": "00000000-0000-0000-0000-000000000001",
            "point": {"x": 1},
            "price": "1.10",
            "when": "Tue, 02 Jan 2024 03:04:05 GMT",
            "z": "é",
        }
        assert "\\u00e9" in text
        assert loads('{"a": 1}') == {"a": 1}
        assert jsonify(1, 2).get_json() == [1, 2]
        assert jsonify().get_json() == {}
        with pytest.raises(TypeError, match="not both"):
            jsonify(1, a=2)
        with pytest.raises(TypeError, match="not JSON serializable"):
            dumps(object())
        app.debug = True
        assert jsonify(a=1).get_data(as_text=True) == '{\n  "a": 1\n}\n'
    assert dumps([1]) == "[1]"
    assert loads("[1]") == [1]


def test_config_loading(tmp_path: Any) -> None:
    config = Config(str(tmp_path), {"A": 1})
    config.from_mapping({"B": 2, "lower": 3}, C=4)
    assert config == {"A": 1, "B": 2, "C": 4}

    class Settings:
        DEBUG = True
        ignored = 1

    config.from_object(Settings)
    assert config["DEBUG"] is True
    assert "ignored" not in config
    config.from_object("json:JSONDecoder")  # any importable object works
    config.from_object("os.path:sep")
    with pytest.raises(ImportError, match=r"Could not import 'nope\.module:X'"):
        config.from_object("nope.module:X")
    config.from_mapping(IMAGE_STORE_TYPE="fs", IMAGE_STORE_PATH="/x")
    assert config.get_namespace("IMAGE_STORE_") == {"type": "fs", "path": "/x"}
    assert config.get_namespace("IMAGE_STORE_", lowercase=False, trim_namespace=False) == {
        "IMAGE_STORE_TYPE": "fs",
        "IMAGE_STORE_PATH": "/x",
    }
    assert repr(config).startswith("<Config {")


def test_app_properties(app: Ambi) -> None:
    assert app.name == app.import_name
    app.secret_key = "s"
    assert app.secret_key == "s"
    assert app.propagate_exceptions is True
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.propagate_exceptions is False
    assert app.logger.name == app.import_name
    assert app.logger is app.logger
