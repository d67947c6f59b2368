"""The Flask body API (get_json, form, files, data, values, stream) in every view and hook,
on both interfaces, with both view kinds; limits enforced while reading; bad bodies → 4xx."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ambi import Ambi, g, request
from ambi.datastructures import FileStorage
from ambi.testing import AmbiClient
from ambi.utils import secure_filename

MakeView = Callable[[Callable[..., Any]], Callable[..., Any]]


def multipart(parts: list[tuple[str, ...]], boundary: str = "XyZ") -> tuple[bytes, str]:
    """Build a multipart body by hand: (name, value) fields, (name, filename, data, type)."""
    out = io.BytesIO()
    for part in parts:
        out.write(f"--{boundary}\r\n".encode())
        if len(part) == 2:
            out.write(f'Content-Disposition: form-data; name="{part[0]}"\r\n\r\n'.encode())
            value = part[1]
            out.write(value if isinstance(value, bytes) else value.encode())
        else:
            name, filename, data, content_type = part
            out.write(
                f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n".encode()
            )
            out.write(data if isinstance(data, bytes) else data.encode())
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def describe_body() -> dict[str, Any]:
    files = {
        key: {"filename": f.filename, "type": f.content_type, "data": f.read().decode()}
        for key, f in request.files.items()
    }
    return {
        "form": request.form.to_dict(flat=False),
        "files": files,
        "values": request.values.to_dict(flat=False),
    }


def test_urlencoded_form(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.add_url_rule("/", "form", as_view(describe_body), methods=["POST"])
    response = client.post("/?q=1", data={"a": ["1", "2"], "b": "é & ="})
    assert response.json() == {
        "form": {"a": ["1", "2"], "b": ["é & ="]},
        "files": {},
        "values": {"q": ["1"], "a": ["1", "2"], "b": ["é & ="]},
    }


def test_multipart_form_and_files(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.add_url_rule("/", "form", as_view(describe_body), methods=["POST"])
    response = client.post(
        "/",
        data={"title": "Ünïcode"},
        files=[
            ("doc", ("notes.txt", b"line 1\nline 2", "text/plain")),
            ("doc", ("b.bin", b"\x00\x01", "application/octet-stream")),
        ],
    )
    data = response.json()
    assert data["form"] == {"title": ["Ünïcode"]}
    assert data["files"] == {
        "doc": {"filename": "notes.txt", "type": "text/plain", "data": "line 1\nline 2"}
    }


def test_body_api_in_hooks_and_views_of_mixed_kinds(
    app: Ambi, client: AmbiClient, view_kind: str, as_view: MakeView
) -> None:
    def before() -> None:
        g.json_in_hook = request.get_json()

    async def async_before() -> None:
        g.json_in_hook = request.get_json()

    # The hook is of the other kind than the view: both must see the body.
    app.before_request(async_before if view_kind == "def" else before)
    app.add_url_rule(
        "/",
        "view",
        as_view(
            lambda: {
                "hook": g.json_in_hook,
                "view": request.get_json(),
                "data": request.get_data(as_text=True),
            }
        ),
        methods=["POST"],
    )
    response = client.post("/", json={"k": [1, 2]})
    assert response.json() == {"hook": {"k": [1, 2]}, "view": {"k": [1, 2]}, "data": '{"k":[1,2]}'}


def test_file_storage_save_and_secure_filename(
    app: Ambi, client: AmbiClient, as_view: MakeView, tmp_path: Path
) -> None:
    def upload() -> str:
        storage = request.files["file"]
        assert isinstance(storage, FileStorage)
        assert storage.mimetype == "image/png"
        assert storage.name == "file"
        assert bool(storage)
        name = secure_filename(storage.filename or "")
        storage.save(tmp_path / name)
        with open(tmp_path / f"copy-{name}", "wb") as handle:
            storage.stream.seek(0)
            storage.save(handle)
        return name

    app.add_url_rule("/", "upload", as_view(upload), methods=["POST"])
    payload = bytes(range(256)) * 4000  # ~1 MB: spooled to disk by the parser
    response = client.post("/", files={"file": ("../../etc/évil name.png", payload, "image/png")})
    assert response.text == "etc_evil_name.png"
    assert (tmp_path / "etc_evil_name.png").read_bytes() == payload
    assert (tmp_path / "copy-etc_evil_name.png").read_bytes() == payload


def test_get_data_after_form_is_empty_and_form_after_data_works(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    app.add_url_rule(
        "/form-first",
        "a",
        as_view(lambda: {"form": request.form.to_dict(), "data": request.get_data(as_text=True)}),
        methods=["POST"],
    )
    app.add_url_rule(
        "/data-first",
        "b",
        as_view(lambda: {"data": request.get_data(as_text=True), "form": request.form.to_dict()}),
        methods=["POST"],
    )
    assert client.post("/form-first", data={"x": "1"}).json() == {"form": {"x": "1"}, "data": ""}
    assert client.post("/data-first", data={"x": "1"}).json() == {"data": "x=1", "form": {"x": "1"}}


def test_non_form_content_type_gives_empty_form(app: Ambi, client: AmbiClient) -> None:
    @app.post("/")
    def index() -> dict[str, Any]:
        return {
            "form": dict(request.form),
            "files": len(request.files),
            "data": request.get_data(as_text=True),
        }

    assert client.post("/", json={"a": 1}).json() == {"form": {}, "files": 0, "data": '{"a":1}'}


def test_stream_request_route(app: Ambi, client: AmbiClient, view_kind: str) -> None:
    if view_kind == "def":

        @app.post("/upload", stream_request=True)
        def upload() -> dict[str, Any]:
            first = request.stream.read(5)
            rest = b"".join(request.stream)
            return {"first": first.decode(), "rest": len(rest), "data": request.get_data().decode()}
    else:

        @app.post("/upload", stream_request=True)
        async def upload() -> dict[str, Any]:
            chunks = [chunk async for chunk in request.stream]
            body = b"".join(chunks)
            return {
                "first": body[:5].decode(),
                "rest": len(body) - 5,
                "data": request.get_data().decode(),
            }

    def generate() -> Iterator[bytes]:
        yield b"hello"
        for _ in range(10):
            yield b"x" * 1000

    response = client.post("/upload", content=generate())
    assert response.json() == {"first": "hello", "rest": 10000, "data": ""}


def test_stream_on_a_normal_route_and_read_sizes(
    app: Ambi, client: AmbiClient, as_view: MakeView
) -> None:
    def view() -> dict[str, Any]:
        stream = request.stream
        return {
            "a": stream.read(3).decode(),
            "b": stream.read(100).decode(),
            "c": stream.read().decode(),
            "d": stream.read(1).decode(),
        }

    app.add_url_rule("/", "view", as_view(view), methods=["POST"])
    assert client.post("/", content=b"abcdefgh").json() == {
        "a": "abc",
        "b": "defgh",
        "c": "",
        "d": "",
    }


def test_asgi_async_view_body_is_spooled_past_the_threshold(app: Ambi) -> None:
    app.config["BODY_SPOOL_THRESHOLD"] = 10_000
    seen: dict[str, Any] = {}

    @app.post("/")
    async def index() -> str:
        seen["spooled"] = request.connection._spool is not None  # type: ignore[attr-defined]
        return str(len(request.get_data()))

    with app.test_client("asgi") as client:
        assert client.post("/", content=b"y" * 50_000).text == "50000"
        assert seen["spooled"] is True
        assert client.post("/", content=b"y" * 5_000).text == "5000"
        assert seen["spooled"] is False


def test_per_request_limit_override(app: Ambi, client: AmbiClient, as_view: MakeView) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.before_request
    def raise_limit() -> None:
        if request.path == "/big":
            request.max_content_length = 10_000

    app.add_url_rule("/big", "big", as_view(lambda: str(len(request.get_data()))), methods=["POST"])
    app.add_url_rule(
        "/small", "small", as_view(lambda: str(len(request.get_data()))), methods=["POST"]
    )
    app.testing = False
    assert client.post("/big", content=b"z" * 5000).text == "5000"
    assert client.post("/small", content=b"z" * 5000).status_code == 413


# -- limits and bad bodies: a clear 4xx each, the app keeps serving -----------------------------


@pytest.fixture
def form_app(app: Ambi, as_view: MakeView) -> Ambi:
    app.testing = False
    app.add_url_rule("/", "form", as_view(describe_body), methods=["POST"])
    app.add_url_rule("/ok", "ok", as_view(lambda: "ok"))
    return app


def _expect(client: AmbiClient, response: Any, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert message in response.text
    assert "Traceback" not in response.text
    assert client.get("/ok").text == "ok"


@pytest.mark.parametrize(
    ("config", "parts", "status", "message"),
    [
        ({"MAX_FORM_MEMORY_SIZE": 100}, [("big", "v" * 101)], 413, "MAX_FORM_MEMORY_SIZE"),
        ({"MAX_FORM_PARTS": 3}, [("f", "1")] * 4, 413, "more than 3 parts"),
        ({}, [("bad", b"\xff\xfe")], 400, "Invalid UTF-8 in the form field"),
        ({"MAX_FORM_MEMORY_SIZE": 100}, [("file", "a.txt", "f" * 5000, "text/plain")], 200, ""),
    ],
)
def test_multipart_limits_and_bad_fields(
    form_app: Ambi,
    make_client: Callable[..., AmbiClient],
    config: dict[str, Any],
    parts: list[tuple[str, ...]],
    status: int,
    message: str,
) -> None:
    form_app.config.update(config)
    client = make_client(form_app)
    body, content_type = multipart(parts)
    response = client.post("/", content=body, headers={"Content-Type": content_type})
    _expect(client, response, status, message)


def test_part_header_size_limit(form_app: Ambi, make_client: Callable[..., AmbiClient]) -> None:
    form_app.config["MAX_FORM_PART_HEADER_SIZE"] = 200
    client = make_client(form_app)
    body = (
        b'--B\r\nContent-Disposition: form-data; name="a"\r\nX-Padding: '
        + b"p" * 300
        + b"\r\n\r\nvalue\r\n--B--\r\n"
    )
    response = client.post(
        "/", content=body, headers={"Content-Type": "multipart/form-data; boundary=B"}
    )
    _expect(client, response, 413, "MAX_FORM_PART_HEADER_SIZE")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (
            b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue',
            "multipart/form-data; boundary=B",
            400,
            "truncated",
        ),
        (
            b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--B--\r\n',
            "multipart/form-data",
            400,
            "Missing boundary",
        ),
        (b"garbage without any boundary", "multipart/form-data; boundary=B", 400, "multipart"),
        (
            b"--B\r\nContent-Type: text/plain\r\n\r\nv\r\n--B--\r\n",
            "multipart/form-data; boundary=B",
            400,
            "Content-Disposition",
        ),
        (
            b"a=%zz",
            "application/x-www-form-urlencoded",
            400,
            "Invalid percent-encoding in the form data",
        ),
        (b"a=%ff", "application/x-www-form-urlencoded", 400, "Invalid UTF-8 in the form data"),
        (b"a=" + b"x" * 600_000, "application/x-www-form-urlencoded", 413, "MAX_FORM_MEMORY_SIZE"),
        (
            b"&".join(b"f%d=1" % i for i in range(1001)),
            "application/x-www-form-urlencoded",
            413,
            "MAX_FORM_PARTS",
        ),
    ],
)
def test_bad_form_bodies(
    form_app: Ambi,
    make_client: Callable[..., AmbiClient],
    body: bytes,
    content_type: str,
    status: int,
    message: str,
) -> None:
    client = make_client(form_app)
    response = client.post("/", content=body, headers={"Content-Type": content_type})
    _expect(client, response, status, message)


def test_oversized_body_with_and_without_content_length(
    form_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    form_app.config["MAX_CONTENT_LENGTH"] = 10_000
    client = make_client(form_app)
    body, content_type = multipart([("file", "a.bin", "x" * 20_000, "application/octet-stream")])
    response = client.post("/", content=body, headers={"Content-Type": content_type})
    _expect(client, response, 413, "MAX_CONTENT_LENGTH")

    def chunked() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = client.post("/", content=chunked(), headers={"Content-Type": content_type})
    _expect(client, response, 413, "MAX_CONTENT_LENGTH")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "etc_passwd"),
        ("My résumé.pdf", "My_resume.pdf"),
        ("con.txt", "_con.txt"),
        ("...", ""),
        ("a\\b\\c.txt", "a_b_c.txt"),
        ("  x  y .png", "x_y_.png"),
        ("日本.txt", "txt"),
        (".bashrc", "bashrc"),
    ],
)
def test_secure_filename(name: str, expected: str) -> None:
    assert secure_filename(name) == expected


def test_long_filename_within_the_header_limit_is_accepted(
    form_app: Ambi, make_client: Callable[..., AmbiClient]
) -> None:
    form_app.config["MAX_FORM_PART_HEADER_SIZE"] = 20_000
    client = make_client(form_app)
    body, content_type = multipart([("file", "n" * 6000 + ".txt", "data", "text/plain")])
    response = client.post("/", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert response.json()["files"]["file"]["data"] == "data"
    form_app.config["MAX_FORM_PART_HEADER_SIZE"] = 1000
    response = client.post("/", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 413
