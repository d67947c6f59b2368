"""send_file, send_from_directory, safe_join and the static route, on both interfaces.

Behaviour tests go through the WSGI and ASGI test clients (the ``client``/``make_client``
fixtures), and through both view kinds where the view is the one calling ``send_file``.
"""

from __future__ import annotations

import asyncio
import errno
import gzip
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

import httpx
import pytest

from ambi import Ambi, request
from ambi import sendfile as sendfile_module
from ambi.http import http_date, parse_date, parse_options_header
from ambi.sendfile import (
    CHUNK_SIZE,
    MAX_RANGES,
    safe_join,
    send_file,
    send_from_directory,
    send_static_file,
)
from ambi.testing import AmbiClient

AsView = Callable[[Callable[..., Any]], Callable[..., Any]]
DATA = bytes(range(256)) * 4  # 1024 bytes, every byte value, CR LF included.
SECRET = b"TOP SECRET: outside the served directory\n"


@dataclass
class Files:
    root: Path  # holds public/ and the secret outside it
    public: Path
    data: Path  # public/data.bin, DATA
    hello: Path  # public/hello.txt
    secret: Path  # root/secret.txt


@pytest.fixture
def files(tmp_path: Path) -> Files:
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    data = public / "data.bin"
    data.write_bytes(DATA)
    hello = public / "hello.txt"
    hello.write_bytes(b"hello, world\n")
    (public / "sub" / "site.css").write_bytes(b"body { color: red }\n")
    (public / "empty.txt").write_bytes(b"")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    os.symlink(secret, public / "link_out.txt")
    os.symlink(tmp_path / "outside", public / "dir_out")
    os.symlink(hello, public / "link_in.txt")
    return Files(tmp_path, public, data, hello, secret)


@pytest.fixture
def static_client(app: Ambi, files: Files, make_client: Callable[..., AmbiClient]) -> AmbiClient:
    """A client whose app serves files.public at /static/ (the app's own static route)."""
    app.static_folder = str(files.public)
    return make_client(app)


def raw_url(path: str) -> httpx.URL:
    """A URL whose path is sent exactly as given: httpx would resolve a literal ``..``."""
    url = httpx.URL("http://localhost/")
    url._uri_reference = url._uri_reference._replace(path=path)
    return url


def parse_byteranges(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/byteranges body strictly (RFC 9110 section 14.6 framing)."""
    mimetype, params = parse_options_header(content_type)
    assert mimetype == "multipart/byteranges"
    delimiter = b"--" + params["boundary"].encode()
    closing = delimiter + b"--\r\n"
    assert body.startswith(delimiter + b"\r\n")
    assert body.endswith(closing)
    parts = []
    for chunk in body[len(delimiter) + 2 : -len(closing)].split(b"\r\n" + delimiter + b"\r\n"):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        assert sep
        headers = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n"))
        parts.append((headers, data.removesuffix(b"\r\n")))
    # The last part's data ends with the CRLF that belongs to the closing delimiter.
    assert body[: -len(closing)].endswith(b"\r\n")
    return parts


def serve(app: Ambi, as_view: AsView, path: Path | str, **kwargs: Any) -> None:
    """Route GET/HEAD/POST /file to send_file(path, **kwargs) in a view of the current kind."""
    app.add_url_rule(
        "/file",
        "file",
        as_view(lambda: send_file(path, **kwargs)),
        methods=["GET", "POST"],
    )


# --------------------------------------------------------------------------------------------
# Plain sends


def test_plain_send_headers_and_content(
    app: Ambi, client: AmbiClient, as_view: AsView, files: Files
) -> None:
    serve(app, as_view, files.hello)
    response = client.get("/file")
    assert response.status_code == 200
    assert response.content == b"hello, world\n"
    headers = response.headers
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["content-length"] == "13"
    assert headers["content-disposition"] == "inline; filename=hello.txt"
    assert headers["last-modified"] == http_date(int(files.hello.stat().st_mtime))
    etag = headers["etag"]
    assert etag.startswith('"')  # a strong tag, not W/"..."
    assert etag.endswith('"')
    assert headers["cache-control"] == "no-cache"
    assert "expires" not in headers
    assert headers["accept-ranges"] == "bytes"
    assert "content-encoding" not in headers
    # The same file gives the same tag; another file or a change gives another.
    assert client.get("/file").headers["etag"] == etag
    files.hello.write_bytes(b"hello, world!\n")
    assert client.get("/file").headers["etag"] != etag


def test_etag_depends_on_path_size_and_mtime(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    os.utime(a, ns=(10**18, 10**18))
    os.utime(b, ns=(10**18, 10**18))
    tag_a = send_file(a).headers["ETag"]
    assert tag_a != send_file(b).headers["ETag"]
    os.utime(a, ns=(10**18 + 1, 10**18 + 1))
    assert send_file(a).headers["ETag"] != tag_a


def test_attachment_with_a_unicode_name(
    app: Ambi, client: AmbiClient, as_view: AsView, files: Files
) -> None:
    serve(app, as_view, files.data, as_attachment=True, download_name="résumé €.pdf")
    response = client.get("/file")
    assert response.content == DATA
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition == (
        "attachment; filename=\"resume .pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf"
    )
    assert parse_options_header(disposition) == ("attachment", {"filename": "résumé €.pdf"})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "inline; filename=report.pdf"),
        ('my "q".txt', 'inline; filename="my \\"q\\".txt"'),
        ("日本.txt", "inline; filename=.txt; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"),
        ("日本", "inline; filename*=UTF-8''%E6%97%A5%E6%9C%AC"),
        ("a\r\nb.txt", "inline; filename=ab.txt; filename*=UTF-8''a%0D%0Ab.txt"),
    ],
)
def test_content_disposition_forms(name: str, expected: str) -> None:
    response = send_file(io.BytesIO(b"x"), download_name=name)
    assert response.headers["Content-Disposition"] == expected
    if "\r" not in name:
        assert parse_options_header(expected)[1]["filename"] == name


@pytest.mark.parametrize(
    ("name", "kwargs", "content_type", "encoding"),
    [
        ("style.css", {}, "text/css; charset=utf-8", None),
        ("data.json", {}, "application/json", None),
        ("photo.png", {}, "image/png", None),
        ("blob.unknownext", {}, "application/octet-stream", None),
        ("noextension", {}, "application/octet-stream", None),
        ("style.css", {"mimetype": "text/x-custom"}, "text/x-custom; charset=utf-8", None),
        ("dump.tar.gz", {}, "application/x-tar", "gzip"),
        ("dump.tar.gz", {"as_attachment": True}, "application/x-tar", None),
    ],
)
def test_mimetype_guessing(
    tmp_path: Path,
    client: AmbiClient,
    app: Ambi,
    name: str,
    kwargs: dict[str, Any],
    content_type: str,
    encoding: str | None,
) -> None:
    path = tmp_path / name
    stored = gzip.compress(b"content") if name.endswith(".gz") else b"content"
    path.write_bytes(stored)
    app.add_url_rule("/file", "file", lambda: send_file(path, **kwargs))
    # HEAD for the headers: ambi.testing's sync ASGI transport decodes a gzip body and
    # keeps Content-Encoding, so httpx would decode it twice (a test-client bug).
    response = client.head("/file")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers.get("content-encoding") == encoding
    assert response.headers["content-length"] == str(len(stored))
    if encoding is None:
        assert client.get("/file").content == stored
    assert send_file(path, **kwargs).get_data() == stored  # the file's bytes, as they are


def test_mimetype_from_download_name_over_path(files: Files) -> None:
    response = send_file(files.data, download_name="x.html")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_relative_path_is_relative_to_root_path(
    files: Files, make_client: Callable[..., AmbiClient]
) -> None:
    app = Ambi(__name__, root_path=str(files.root))
    app.add_url_rule("/file", "file", lambda: send_file("public/hello.txt"))
    assert make_client(app).get("/file").content == b"hello, world\n"


def test_outside_any_context(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files.public)
    response = send_file("hello.txt")  # relative to the working directory
    assert response.status_code == 200
    assert response.get_data() == b"hello, world\n"
    assert response.headers["Cache-Control"] == "no-cache"


def test_app_context_without_request_is_not_conditional(app: Ambi, files: Files) -> None:
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 30
    with app.app_context():
        response = send_file(files.data)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert response.get_data() == DATA


def test_not_a_regular_file(files: Files) -> None:
    with pytest.raises(IsADirectoryError):
        send_file(files.public)
    with pytest.raises(FileNotFoundError):
        send_file(files.public / "missing.txt")
    fifo = files.root / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="Not a regular file") as info:
        send_file(fifo)
    assert info.value.errno == errno.EINVAL


def test_etag_and_last_modified_options(files: Files) -> None:
    response = send_file(files.hello, etag=False)
    assert "ETag" not in response.headers
    assert send_file(files.hello, etag="v1").headers["ETag"] == '"v1"'
    with pytest.raises(ValueError, match="must not contain"):
        send_file(files.hello, etag='"v1"')
    moment = datetime(2024, 5, 6, 7, 8, 9)
    assert send_file(files.hello, last_modified=moment).headers["Last-Modified"] == (
        "Mon, 06 May 2024 07:08:09 GMT"
    )
    aware = datetime(2024, 5, 6, 9, 8, 9, tzinfo=UTC) + timedelta(hours=0)
    assert send_file(files.hello, last_modified=aware).headers["Last-Modified"] == (
        "Mon, 06 May 2024 09:08:09 GMT"
    )
    assert send_file(files.hello, last_modified=0).headers["Last-Modified"] == (
        "Thu, 01 Jan 1970 00:00:00 GMT"
    )


# --------------------------------------------------------------------------------------------
# max_age / Cache-Control


def test_max_age_forms(app: Ambi, files: Files) -> None:
    def cache(**kwargs: Any) -> tuple[str, str | None]:
        response = send_file(files.hello, **kwargs)
        return response.headers["Cache-Control"], response.headers.get("Expires")

    control, expires = cache(max_age=60)
    assert control == "public, max-age=60"
    assert expires is not None
    expiry = parse_date(expires)
    assert expiry is not None
    assert abs(expiry.timestamp() - (datetime.now(UTC).timestamp() + 60)) < 5
    assert cache(max_age=0)[0] == "no-cache, max-age=0"
    assert cache(max_age=-5)[0] == "no-cache, max-age=0"
    assert cache(max_age=timedelta(minutes=2))[0] == "public, max-age=120"
    seen: list[str | None] = []

    def per_file(path: str | None) -> int:
        seen.append(path)
        return 7

    assert cache(max_age=per_file)[0] == "public, max-age=7"
    assert seen == [str(files.hello)]
    assert send_file(io.BytesIO(b"x"), mimetype="text/plain", max_age=per_file).headers[
        "Cache-Control"
    ] == ("public, max-age=7")
    assert seen[-1] is None
    assert cache(max_age=lambda path: None) == ("no-cache", None)


def test_max_age_default_from_config_and_app_method(app: Ambi, files: Files) -> None:
    with app.app_context():
        assert send_file(files.hello).headers["Cache-Control"] == "no-cache"
        app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(hours=1)
        assert send_file(files.hello).headers["Cache-Control"] == "public, max-age=3600"
        asked: list[str | None] = []

        def get_send_file_max_age(filename: str | None) -> int:
            asked.append(filename)
            return 5

        app.get_send_file_max_age = get_send_file_max_age  # type: ignore[attr-defined]
        assert send_file(files.hello).headers["Cache-Control"] == "public, max-age=5"
        assert asked == [str(files.hello)]


# --------------------------------------------------------------------------------------------
# File objects


def test_file_object(app: Ambi, client: AmbiClient, as_view: AsView) -> None:
    opened: list[io.BytesIO] = []

    def view() -> Any:
        stream = io.BytesIO(b"0123456789abcdef")
        stream.seek(3)  # sent from its current position
        opened.append(stream)
        return send_file(stream, download_name="digits.txt")

    app.add_url_rule("/obj", "obj", as_view(view))
    response = client.get("/obj")
    assert response.status_code == 200
    assert response.content == b"3456789abcdef"
    assert response.headers["content-length"] == "13"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["accept-ranges"] == "bytes"
    assert "etag" not in response.headers
    assert "last-modified" not in response.headers
    assert opened[-1].closed

    ranged = client.get("/obj", headers={"Range": "bytes=2-4"})
    assert ranged.status_code == 206
    assert ranged.content == b"567"
    assert ranged.headers["content-range"] == "bytes 2-4/13"
    assert opened[-1].closed

    head = client.head("/obj")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "13"
    assert opened[-1].closed  # closed although the body was never read


def test_file_object_with_validators_gets_304(app: Ambi, client: AmbiClient) -> None:
    streams: list[io.BytesIO] = []

    def view() -> Any:
        streams.append(io.BytesIO(b"payload"))
        return send_file(streams[-1], mimetype="text/plain", etag="v7", last_modified=0)

    app.add_url_rule("/obj", "obj", view)
    first = client.get("/obj")
    assert first.headers["etag"] == '"v7"'
    assert first.headers["last-modified"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    response = client.get("/obj", headers={"If-None-Match": '"v7"'})
    assert response.status_code == 304
    assert response.content == b""
    assert streams[-1].closed


class Unseekable(io.RawIOBase):
    """A stream that cannot seek and whose size is unknown (e.g. a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_unseekable_file_object_streams_without_length(app: Ambi, client: AmbiClient) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 17)
    app.add_url_rule(
        "/pipe",
        "pipe",
        lambda: send_file(cast("IO[bytes]", Unseekable(data)), mimetype="application/x-thing"),
    )
    response = client.get("/pipe", headers={"Range": "bytes=0-9"})
    assert response.status_code == 200  # no size, no ranges
    assert response.content == data
    assert "content-length" not in response.headers
    assert "accept-ranges" not in response.headers
    assert "content-disposition" not in response.headers


def test_object_without_seekable_is_read_to_its_end() -> None:
    class Reader:
        def __init__(self) -> None:
            self.inner = io.BytesIO(b"abc")
            self.closed = False

        def read(self, size: int = -1) -> bytes:
            return self.inner.read(size)

        def close(self) -> None:
            self.closed = True

    reader = Reader()
    response = send_file(cast("IO[bytes]", reader), mimetype="text/plain")
    assert response.get_data() == b"abc"
    assert reader.closed


def test_file_object_errors() -> None:
    stream = io.BytesIO(b"x")
    with pytest.raises(TypeError, match="Unable to detect the MIME type"):
        send_file(stream)
    assert stream.closed  # a file handed over is closed on every path
    with pytest.raises(TypeError, match="No name provided for attachment"):
        send_file(io.BytesIO(b"x"), mimetype="text/plain", as_attachment=True)
    with pytest.raises(ValueError, match="binary mode"):
        send_file(cast("IO[bytes]", io.StringIO("text")), mimetype="text/plain")


def test_real_file_object(files: Files) -> None:
    with open(files.data, "rb") as handle:
        handle.seek(1000)
        response = send_file(handle, mimetype="application/octet-stream")
        assert response.headers["Content-Length"] == "24"
        assert response.get_data() == DATA[1000:]
        assert handle.closed


def test_body_generator_closes_the_file_when_abandoned(app: Ambi) -> None:
    stream = io.BytesIO(os.urandom(3 * CHUNK_SIZE))
    with app.test_request_context("/"):
        response = send_file(stream, mimetype="application/octet-stream")
    body = cast("Iterator[bytes]", response.response)
    assert len(next(body)) == CHUNK_SIZE
    assert not stream.closed
    cast("Any", body).close()
    assert stream.closed


def test_file_that_shrinks_ends_the_body_early(files: Files) -> None:
    path = files.root / "shrinking.bin"
    path.write_bytes(b"x" * 1000)
    response = send_file(path)
    assert response.headers["Content-Length"] == "1000"
    path.write_bytes(b"x" * 10)
    assert response.get_data() == b"x" * 10  # the server then reports the short body


# --------------------------------------------------------------------------------------------
# Conditional requests: 304 and 412


def test_if_none_match_gives_304(
    app: Ambi, client: AmbiClient, as_view: AsView, files: Files
) -> None:
    serve(app, as_view, files.hello, max_age=60)
    first = client.get("/file")
    etag = first.headers["etag"]
    for value in (etag, f"W/{etag}", f'"nope", {etag}', "*", f'  "x" ,W/{etag} '):
        response = client.get("/file", headers={"If-None-Match": value})
        assert response.status_code == 304, value
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["last-modified"] == first.headers["last-modified"]
        assert response.headers["cache-control"] == "public, max-age=60"
        assert "expires" in response.headers
        assert "content-type" not in response.headers
        assert "content-length" not in response.headers
        assert "content-disposition" not in response.headers
    head = client.head("/file", headers={"If-None-Match": etag})
    assert head.status_code == 304


def test_if_none_match_mismatch_gives_200(
    app: Ambi, client: AmbiClient, as_view: AsView, files: Files
) -> None:
    serve(app, as_view, files.hello)
    last_modified = client.get("/file").headers["last-modified"]
    for value in ('"other"', 'W/"other", "more"', "garbage"):
        # If-None-Match is present, so If-Modified-Since (which would match) is ignored.
        response = client.get(
            "/file", headers={"If-None-Match": value, "If-Modified-Since": last_modified}
        )
        assert response.status_code == 200, value
        assert response.content == b"hello, world\n"


def test_if_none_match_without_etag(app: Ambi, client: AmbiClient, files: Files) -> None:
    app.add_url_rule("/file", "file", lambda: send_file(files.hello, etag=False))
    assert client.get("/file", headers={"If-None-Match": '"x"'}).status_code == 200
    assert client.get("/file", headers={"If-None-Match": "*"}).status_code == 304


def test_if_modified_since(app: Ambi, client: AmbiClient, as_view: AsView, files: Files) -> None:
    serve(app, as_view, files.hello)
    mtime = int(files.hello.stat().st_mtime)
    cases = [
        (http_date(mtime), 304),
        (http_date(mtime + 3600), 304),
        (http_date(mtime - 1), 200),
        ("not a date", 200),
    ]
    for value, status in cases:
        response = client.get("/file", headers={"If-Modified-Since": value})
        assert response.status_code == status, value
        assert response.content == (b"" if status == 304 else b"hello, world\n")


def test_if_modified_since_without_last_modified(app: Ambi, client: AmbiClient) -> None:
    app.add_url_rule("/obj", "obj", lambda: send_file(io.BytesIO(b"x"), download_name="x.txt"))
    response = client.get("/obj", headers={"If-Modified-Since": http_date(2**31)})
    assert response.status_code == 200


def test_if_match_and_if_unmodified_since(app: Ambi, client: AmbiClient, files: Files) -> None:
    app.add_url_rule("/file", "file", lambda: send_file(files.hello))
    etag = client.get("/file").headers["etag"]
    mtime = int(files.hello.stat().st_mtime)
    cases = [
        ({"If-Match": etag}, 200),
        ({"If-Match": f'"a", {etag}'}, 200),
        ({"If-Match": "*"}, 200),
        ({"If-Match": '"other"'}, 412),
        ({"If-Match": f"W/{etag}"}, 412),  # strong comparison
        ({"If-Unmodified-Since": http_date(mtime)}, 200),
        ({"If-Unmodified-Since": http_date(mtime - 10)}, 412),
        ({"If-Unmodified-Since": "garbage"}, 200),
        # If-Match present: If-Unmodified-Since is not evaluated.
        ({"If-Match": etag, "If-Unmodified-Since": http_date(mtime - 10)}, 200),
        # A failed precondition wins over If-None-Match.
        ({"If-Match": '"other"', "If-None-Match": etag}, 412),
    ]
    for headers, status in cases:
        assert client.get("/file", headers=headers).status_code == status, headers


def test_if_match_with_weak_own_tag(app: Ambi, client: AmbiClient, files: Files) -> None:
    app.add_url_rule("/file", "file", lambda: send_file(files.hello, etag=False))
    assert client.get("/file", headers={"If-Match": '"x"'}).status_code == 412
    assert client.get("/file", headers={"If-Match": "*"}).status_code == 200


def test_conditional_false_ignores_everything(app: Ambi, client: AmbiClient, files: Files) -> None:
    app.add_url_rule("/file", "file", lambda: send_file(files.data, conditional=False))
    response = client.get("/file", headers={"If-None-Match": "*", "Range": "bytes=0-1"})
    assert response.status_code == 200
    assert response.content == DATA
    assert "accept-ranges" not in response.headers


def test_post_is_not_conditional(
    app: Ambi, client: AmbiClient, as_view: AsView, files: Files
) -> None:
    serve(app, as_view, files.data)
    response = client.post("/file", headers={"If-None-Match": "*", "Range": "bytes=0-1"})
    assert response.status_code == 200
    assert response.content == DATA


# --------------------------------------------------------------------------------------------
# Ranges


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=10-19", 10, 20),  # closed range
        ("bytes=0-0", 0, 1),
        ("bytes=1000-", 1000, 1024),  # open range
        ("bytes=-100", 924, 1024),  # suffix range
        ("bytes=-5000", 0, 1024),  # suffix longer than the file
        ("bytes=1000-5000", 1000, 1024),  # end clamped
        ("BYTES=5-6", 5, 7),  # the unit is case-insensitive
        ("bytes=0-9, 5000-6000", 0, 10),  # the unsatisfiable range is dropped
        ("bytes= 3-4 , ,", 3, 5),  # whitespace and empty list elements
        ("bytes=0-99999999999999999999999999", 0, 1024),
        ("bytes=-99999999999999999999999999", 0, 1024),
        ("bytes=" + "0" * 5000 + "7-" + "0" * 5000 + "8", 7, 9),
    ],
)
def test_single_range(
    app: Ambi, client: AmbiClient, files: Files, header: str, start: int, stop: int
) -> None:
    app.add_url_rule("/file", "file", lambda: send_file(files.data))
    response = client.get("/file", headers={"Range": header})
    assert response.status_code == 206
    assert response.content == DATA[start:stop]
    assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/1024"
    assert response.headers["content-length"] == str(stop - start)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["etag"]
    assert response.headers["accept-ranges"] == "bytes"


def test_single_range_both_view_kinds(
    app: Ambi, client: AmbiClient, as_view: AsView, files: Files
) -> None:
    serve(app, as_view, files.data)
    response = client.get("/file", headers={"Range": "bytes=-3"})
    assert response.status_code == 206
    assert response.content == DATA[-3:]
    assert response.headers["content-range"] == "bytes 1021-1023/1024"


def test_multiple_ranges_give_multipart_byteranges(
    app: Ambi, client: AmbiClient, as_view: AsView, files: Files
) -> None:
    serve(app, as_view, files.data)
    response = client.get("/file", headers={"Range": "bytes=500-509, 0-9, -4, 10-12"})
    assert response.status_code == 206
    assert "content-range" not in response.headers
    assert response.headers["content-length"] == str(len(response.content))
    parts = parse_byteranges(response.headers["content-type"], response.content)
    expected = [(500, 510), (0, 10), (1020, 1024), (10, 13)]  # in the order asked
    assert len(parts) == len(expected)
    for (headers, data), (start, stop) in zip(parts, expected, strict=True):
        assert headers == {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {start}-{stop - 1}/1024",
        }
        assert data == DATA[start:stop]


def test_multipart_parts_carry_the_file_type(app: Ambi, client: AmbiClient, files: Files) -> None:
    app.add_url_rule("/file", "file", lambda: send_file(files.hello))
    response = client.get("/file", headers={"Range": "bytes=0-4,7-11"})
    parts = parse_byteranges(response.headers["content-type"], response.content)
    assert [data for _, data in parts] == [b"hello", b"world"]
    assert parts[0][0]["Content-Type"] == "text/plain; charset=utf-8"
    boundaries = {
        parse_options_header(
            client.get("/file", headers={"Range": "bytes=0-1,3-4"}).headers["content-type"]
        )[1]["boundary"]
        for _ in range(3)
    }
    assert len(boundaries) == 3  # a fresh random boundary each time


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1024-",  # starts at the end
        "bytes=5000-6000",
        "bytes=-0",  # an empty suffix
        "bytes=2000-, 3000-3001",
        "bytes=0-10, 5-20",  # overlapping
        "bytes=0-10, -1020",  # overlapping once the suffix is resolved
        "bytes=99999999999999999999-",
    ],
)
def test_unsatisfiable_range_gives_416(
    app: Ambi, client: AmbiClient, files: Files, header: str
) -> None:
    app.add_url_rule("/file", "file", lambda: send_file(files.data))
    response = client.get("/file", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */1024"
    assert DATA not in response.content


def test_unsatisfiable_range_both_view_kinds_and_file_object_closed(
    app: Ambi, client: AmbiClient, as_view: AsView
) -> None:
    streams: list[io.BytesIO] = []

    def view() -> Any:
        streams.append(io.BytesIO(b"12345"))
        return send_file(streams[-1], download_name="n.txt")

    app.add_url_rule("/obj", "obj", as_view(view))
    response = client.get("/obj", headers={"Range": "bytes=10-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */5"
    assert streams[-1].closed


def test_too_many_ranges_are_ignored(app: Ambi, client: AmbiClient, files: Files) -> None:
    """Our choice: more than MAX_RANGES ranges → the Range header is ignored (200)."""
    app.add_url_rule("/file", "file", lambda: send_file(files.data))
    specs = [f"{i * 10}-{i * 10 + 1}" for i in range(MAX_RANGES + 1)]
    response = client.get("/file", headers={"Range": "bytes=" + ",".join(specs)})
    assert response.status_code == 200
    assert response.content == DATA
    at_cap = client.get("/file", headers={"Range": "bytes=" + ",".join(specs[:MAX_RANGES])})
    assert at_cap.status_code == 206
    parts = parse_byteranges(at_cap.headers["content-type"], at_cap.content)
    assert len(parts) == MAX_RANGES
    # A flood of tiny ranges cannot make the server do more work either.
    flood = client.get("/file", headers={"Range": "bytes=" + ",".join(["0-0"] * 5000)})
    assert flood.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",
        "bytes=5-2",  # last before first: invalid
        "bytes=0-1, 5-2",
        "items=0-1",  # unknown unit
        "bytes=",
        "bytes=-",
        "0-1",
        "bytes 0-1",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=0x10-20",
        "bytes=١-٢",  # non-ASCII digits
    ],
)
def test_malformed_range_is_ignored(
    app: Ambi, client: AmbiClient, files: Files, header: str
) -> None:
    app.add_url_rule("/file", "file", lambda: send_file(files.data))
    response = client.get("/file", headers={b"Range": header.encode()})
    assert response.status_code == 200
    assert response.content == DATA
    assert "content-range" not in response.headers


def test_range_digits_are_ascii_only() -> None:
    assert sendfile_module._parse_ranges("bytes=١-٢", 10) is None
    assert sendfile_module._parse_ranges("bytes=1-2", 10) == [(1, 3)]


def test_if_range(app: Ambi, client: AmbiClient, as_view: AsView, files: Files) -> None:
    serve(app, as_view, files.data)
    first = client.get("/file")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    mtime = int(files.data.stat().st_mtime)
    cases = [
        (etag, 206),
        (f"W/{etag}", 200),  # weak tags never match in If-Range
        ('"stale"', 200),
        (last_modified, 206),
        (http_date(mtime - 1), 200),
        (http_date(mtime + 1), 200),  # exact match only
        ("garbage", 200),
    ]
    for value, status in cases:
        response = client.get("/file", headers={"Range": "bytes=0-9", "If-Range": value})
        assert response.status_code == status, value
        assert response.content == (DATA[:10] if status == 206 else DATA)


def test_if_range_without_validators(app: Ambi, client: AmbiClient) -> None:
    app.add_url_rule("/obj", "obj", lambda: send_file(io.BytesIO(DATA), download_name="d.bin"))
    for value in ('"x"', http_date(0)):
        response = client.get("/obj", headers={"Range": "bytes=0-9", "If-Range": value})
        assert response.status_code == 200
        assert response.content == DATA


def test_range_on_an_empty_file_is_ignored(app: Ambi, client: AmbiClient, files: Files) -> None:
    app.add_url_rule("/file", "file", lambda: send_file(files.public / "empty.txt"))
    response = client.get("/file", headers={"Range": "bytes=0-10"})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_head(app: Ambi, client: AmbiClient, as_view: AsView, files: Files) -> None:
    serve(app, as_view, files.data)
    get = client.get("/file")
    head = client.head("/file")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "accept-ranges"):
        assert head.headers[name] == get.headers[name]
    # RFC 9110 defines Range for GET only: a HEAD with Range gets the 200 headers.
    ranged = client.head("/file", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 200
    assert ranged.headers["content-length"] == "1024"


def test_large_file_streams(app: Ambi, client: AmbiClient, as_view: AsView, tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 123)
    path = tmp_path / "large.bin"
    path.write_bytes(data)
    serve(app, as_view, path)
    with client.stream("GET", "/file") as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(data))
        digest = hashlib.sha256()
        size = 0
        for chunk in response.iter_raw():
            digest.update(chunk)
            size += len(chunk)
    assert size == len(data)
    assert digest.digest() == hashlib.sha256(data).digest()
    # A range across chunk boundaries, and several.
    start, stop = CHUNK_SIZE - 7, 3 * CHUNK_SIZE + 11
    ranged = client.get("/file", headers={"Range": f"bytes={start}-{stop - 1}"})
    assert ranged.content == data[start:stop]
    multi = client.get("/file", headers={"Range": "bytes=-70000,100-200000"})
    parts = parse_byteranges(multi.headers["content-type"], multi.content)
    assert [d for _, d in parts] == [data[-70000:], data[100:200001]]


def test_the_file_is_read_off_the_event_loop(
    app: Ambi, client: AmbiClient, as_view: AsView
) -> None:
    """Under ASGI the adapter reads the body in worker threads, even for an async view;
    under WSGI in the server's thread. Never on a running event loop."""
    on_loop: list[bool] = []

    class Probe(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                on_loop.append(False)
            else:
                on_loop.append(True)
            return super().read(size)

    data = os.urandom(3 * CHUNK_SIZE)
    app.add_url_rule(
        "/probe", "probe", as_view(lambda: send_file(Probe(data), download_name="p.bin"))
    )
    assert client.get("/probe").content == data
    assert on_loop
    assert not any(on_loop)


def test_the_body_is_a_lazy_sync_generator(app: Ambi, files: Files) -> None:
    with app.test_request_context("/", headers={"Range": "bytes=1-2"}):
        response = send_file(files.data)
    body = response.response
    assert isinstance(body, Iterator)
    assert not hasattr(body, "__aiter__")
    files.data.write_bytes(b"ABCDEFGH" * 128)  # opened only when iterated
    assert response.get_data() == b"BC"


# --------------------------------------------------------------------------------------------
# Path traversal: the static route and send_from_directory


def test_static_route_serves_files(static_client: AmbiClient, files: Files) -> None:
    response = static_client.get("/static/hello.txt")
    assert response.status_code == 200
    assert response.content == b"hello, world\n"
    assert response.headers["cache-control"] == "no-cache"
    css = static_client.get("/static/sub/site.css")
    assert css.content == b"body { color: red }\n"
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    # A symlink that stays inside the directory is served, under the name asked for.
    link = static_client.get("/static/link_in.txt")
    assert link.status_code == 200
    assert link.content == b"hello, world\n"
    assert link.headers["content-disposition"] == "inline; filename=link_in.txt"
    ranged = static_client.get("/static/hello.txt", headers={"Range": "bytes=7-11"})
    assert ranged.status_code == 206
    assert ranged.content == b"world"


def test_static_route_max_age_from_config(
    app: Ambi, static_client: AmbiClient, files: Files
) -> None:
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 300
    response = static_client.get("/static/hello.txt")
    assert response.headers["cache-control"] == "public, max-age=300"


TRAVERSALS_URL = [
    "/static/../secret.txt",  # sent literally, not resolved by the client
    "/static/../../../../etc/passwd",
    "/static/sub/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%252e%252e/secret.txt",  # double-encoded: a literal name, not a parent
    "/static/%2E%2E%2Fsecret.txt",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/sub%2F..%2F..%2Fsecret.txt",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
    "/static/%2F%2Fetc%2Fpasswd",
    "/static/..\\..\\secret.txt",
    "/static/..%5C..%5Csecret.txt",
    "/static/sub\\..\\..\\secret.txt",
    "/static/C:%5CWindows%5Cwin.ini",
    "/static/C:secret.txt",
    "/static/hello.txt%00.png",
    "/static/%00",
    "/static/link_out.txt",  # a symlink to a file outside
    "/static/dir_out/secret.txt",  # through a symlinked directory outside
    "/static/sub",  # a directory
    "/static/missing.txt",
    "/static/" + "a" * 5000,
]


@pytest.mark.parametrize("path", TRAVERSALS_URL)
def test_static_route_refuses_traversal(static_client: AmbiClient, files: Files, path: str) -> None:
    response = static_client.get(raw_url(path))
    assert response.status_code == 404, (path, response.status_code)
    assert SECRET not in response.content
    assert b"root:" not in response.content


TRAVERSALS_NAME = [
    "../secret.txt",
    "../../../../../../etc/passwd",
    "sub/../../secret.txt",
    "sub/../hello.txt",  # stays inside, but ".." is refused wherever it is
    "/etc/passwd",
    "//etc/passwd",
    "..\\..\\secret.txt",
    "sub\\..\\hello.txt",
    "C:\\Windows\\win.ini",
    "C:secret.txt",
    "c:/secret.txt",
    "hello.txt\x00.png",
    "\x00",
    "link_out.txt",
    "dir_out/secret.txt",
    "dir_out",
    "sub",
    "",
    ".",
    "missing.txt",
    "a" * 5000,
]


@pytest.mark.parametrize("name", TRAVERSALS_NAME)
def test_send_from_directory_refuses_traversal(
    app: Ambi, client: AmbiClient, as_view: AsView, files: Files, name: str
) -> None:
    app.add_url_rule(
        "/dl",
        "dl",
        as_view(lambda: send_from_directory(files.public, request.args["name"])),
    )
    response = client.get("/dl", params={"name": name})
    assert response.status_code == 404, (name, response.status_code)
    assert SECRET not in response.content


def test_send_from_directory_also_refuses_the_absolute_secret_path(
    app: Ambi, client: AmbiClient, files: Files
) -> None:
    app.add_url_rule("/dl", "dl", lambda: send_from_directory(files.public, request.args["name"]))
    assert client.get("/dl", params={"name": str(files.secret)}).status_code == 404
    assert client.get("/dl", params={"name": "hello.txt"}).status_code == 200


def test_send_from_directory_serves_and_passes_options(
    app: Ambi, client: AmbiClient, as_view: AsView, files: Files
) -> None:
    app.add_url_rule(
        "/dl/<path:name>",
        "dl",
        as_view(
            lambda name: send_from_directory(
                str(files.public), name, as_attachment=True, max_age=10
            )
        ),
    )
    response = client.get("/dl/sub/site.css")
    assert response.status_code == 200
    assert response.content == b"body { color: red }\n"
    assert response.headers["content-disposition"] == "attachment; filename=site.css"
    assert response.headers["cache-control"] == "public, max-age=10"
    named = client.get("/dl/link_in.txt")
    assert named.headers["content-disposition"] == "attachment; filename=link_in.txt"


def test_send_from_directory_relative_to_root_path(
    files: Files, make_client: Callable[..., AmbiClient]
) -> None:
    app = Ambi(__name__, root_path=str(files.root))
    app.add_url_rule("/dl/<path:name>", "dl", lambda name: send_from_directory("public", name))
    client = make_client(app)
    assert client.get("/dl/hello.txt").content == b"hello, world\n"
    assert client.get(raw_url("/dl/../secret.txt")).status_code == 404


def test_send_from_directory_outside_a_context(files: Files) -> None:
    assert send_from_directory(files.public, "hello.txt").get_data() == b"hello, world\n"


def test_send_static_file_needs_a_static_folder(app: Ambi) -> None:
    app.static_folder = None
    with app.app_context(), pytest.raises(RuntimeError, match="static_folder"):
        send_static_file(app, "x.txt")


def test_static_route_defaults(tmp_path: Any) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("js")
    custom = Ambi("custom", root_path=str(tmp_path), static_folder="assets", static_url_path="/s")
    assert custom.static_folder == str(tmp_path / "assets")
    with custom.test_client() as client:
        assert client.get("/s/app.js").text == "js"
    default = Ambi("default", root_path=str(tmp_path))
    assert default.static_url_path == "/static"
    assert [r.rule for r in default.url_map.iter_rules()] == ["/static/<path:filename>"]
    none = Ambi("none", root_path=str(tmp_path), static_folder=None)
    assert list(none.url_map.iter_rules()) == []


# --------------------------------------------------------------------------------------------
# safe_join, directly


def test_safe_join_accepts_paths_inside(files: Files) -> None:
    public = str(files.public)
    assert safe_join(public, "hello.txt") == os.path.join(public, "hello.txt")
    assert safe_join(files.public, "sub", "site.css") == os.path.join(public, "sub", "site.css")
    assert safe_join(public, "sub/site.css") == os.path.join(public, "sub/site.css")
    assert safe_join(public, "./hello.txt") == os.path.join(public, "./hello.txt")
    assert safe_join(public, "link_in.txt") == os.path.join(public, "link_in.txt")
    assert safe_join(public, "not/there/yet.txt") == os.path.join(public, "not/there/yet.txt")
    assert safe_join(public) == public
    assert safe_join(public, "") == os.path.join(public, "")


def test_safe_join_relative_directory(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files.public)
    assert safe_join("", "hello.txt") == os.path.join(".", "hello.txt")
    assert safe_join("sub", "site.css") == os.path.join("sub", "site.css")
    assert safe_join("", "../secret.txt") is None


@pytest.mark.parametrize(
    "parts",
    [
        ("..",),
        ("../x",),
        ("a/../b",),
        ("a/..",),
        ("/etc/passwd",),
        ("sub", "/etc/passwd"),
        ("sub", ".."),
        ("a\\b",),
        ("C:",),
        ("C:\\x",),
        ("z:x",),
        ("a\x00b",),
        ("link_out.txt",),
        ("dir_out", "secret.txt"),
        ("dir_out",),
    ],
)
def test_safe_join_refuses(files: Files, parts: tuple[str, ...]) -> None:
    assert safe_join(files.public, *parts) is None


@pytest.mark.parametrize(
    "name",
    ["CON", "nul.txt", "Com1", "LPT9.log", "aux .txt", "...", ".. ", "a.", "a ", "f.txt:stream"],
)
def test_safe_join_windows_rules(files: Files, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    assert safe_join(files.public, name) is not None  # fine on POSIX
    monkeypatch.setattr(sendfile_module, "_WINDOWS", True)
    assert safe_join(files.public, name) is None
    assert safe_join(files.public, "sub", name) is None
    assert safe_join(files.public, "sub/./site.css") is not None
    assert safe_join(files.public, "console.txt") is not None
