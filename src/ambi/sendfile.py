"""Sending files: ``send_file``, ``send_from_directory``, ``safe_join`` and static files.

Part of the sans-I/O core: nothing here knows a server, an event loop or a thread. A
file response carries a *sync generator* as its body; the adapters iterate it like any
streamed body -- directly under WSGI, in worker threads under ASGI -- so the event loop
never waits on the disk. The generator opens the file at its first step (in whatever
thread the adapter runs it), reads 64 KiB chunks of the requested bytes only, and closes
the file in a ``finally`` (the adapters close abandoned bodies, e.g. on a disconnect).
A view's own work here is a ``stat`` and the header arithmetic.

What a file response does, as Flask 3.1 (Werkzeug) does unless noted:

* ``Content-Type`` from ``mimetype`` or guessed from the name; ``Content-Disposition``
  ``inline``/``attachment`` with the name (RFC 6266), ``filename*=UTF-8''...`` (RFC 8187)
  plus an ASCII fallback for non-ASCII names; ``Content-Length``; ``Last-Modified``; a
  strong ``ETag``; ``Cache-Control`` (and ``Expires``) from ``max_age``; and
  ``Accept-Ranges: bytes``.
* Conditional requests (GET and HEAD only, in RFC 9110 section 13.2.2's order):
  ``If-Match`` / ``If-Unmodified-Since`` failing give 412; ``If-None-Match`` (weak
  comparison, ``*``, lists) or, without it, ``If-Modified-Since`` give 304 with no body.
* Ranges (GET only, as RFC 9110 defines them for GET alone): ``bytes=a-b``, ``a-``,
  ``-n`` and lists. One satisfiable range gives a 206 with ``Content-Range``; several
  give a ``multipart/byteranges`` 206 (Werkzeug serves one range only). Ranges that do
  not overlap the file are dropped; if none is left, or two of them overlap, the answer
  is 416 with ``Content-Range: bytes */size``. A header that is malformed, in a unit
  other than bytes, or lists more than :data:`MAX_RANGES` ranges is ignored and the whole
  file is sent with 200 -- RFC 9110 allows ignoring or rejecting such a header; ignoring
  (as nginx's ``max_ranges`` does) always gives the client a correct answer, and a
  client that cannot get what it wants in ten ranges is better served by the whole file.
  ``If-Range`` (an ETag, compared strongly, or an exact date) that does not match also
  makes the Range header ignored. Ranges on an empty file are ignored.
* A HEAD request gets the GET headers; the adapters drop the body unread.
"""

from __future__ import annotations

import errno
import io
import itertools
import mimetypes
import os
import re
import secrets
import stat
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import quote

from .datastructures import Headers
from .exceptions import NotFound, PreconditionFailed, RequestedRangeNotSatisfiable
from .globals import _cv_context
from .http import dump_options_header, http_date, parse_date
from .wrappers import Response, _content_type_for

if TYPE_CHECKING:
    from .app import App
    from .wrappers import Request

__all__ = [
    "CHUNK_SIZE",
    "MAX_RANGES",
    "safe_join",
    "send_file",
    "send_from_directory",
    "send_static_file",
]

#: How many bytes the body generator reads from the file at a time.
CHUNK_SIZE = 64 * 1024

#: The most ranges one ``Range`` header may ask for; a header with more is ignored and
#: the whole file is sent (200). This caps the work one request can cause.
MAX_RANGES = 10

MaxAge = int | timedelta | Callable[[str | None], int | timedelta | None] | None


# --------------------------------------------------------------------------------------------
# safe_join

# A drive ("C:", "c:x") at the start of a part: absolute or drive-relative on Windows.
_DRIVE_RE = re.compile(r"[A-Za-z]:")
# Checked on Windows only (a module attribute so the tests can turn it on anywhere).
_WINDOWS = os.name == "nt"
_WINDOWS_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{name}{n}" for name in ("COM", "LPT") for n in range(1, 10)]
)


def _unsafe_part(part: str) -> bool:
    """True if ``part`` (untrusted, "/"-separated) could name something outside."""
    if (
        "\x00" in part
        or "\\" in part
        or part.startswith("/")
        or _DRIVE_RE.match(part) is not None
        or os.path.isabs(part)
    ):
        return True
    for segment in part.split("/"):
        if segment == "..":
            return True
        if _WINDOWS and segment not in ("", ".") and _unsafe_windows_segment(segment):
            return True
    return False


def _unsafe_windows_segment(segment: str) -> bool:
    # Windows strips trailing dots and spaces ("..." and ".. " become ".."), treats ":" as
    # a stream separator and "CON", "NUL.txt"... as devices.
    return (
        segment != segment.rstrip(". ")
        or ":" in segment
        or segment.split(".", 1)[0].rstrip().upper() in _WINDOWS_DEVICE_NAMES
    )


def _inside(real_directory: str, real_path: str) -> bool:
    base = os.path.normcase(real_directory)
    target = os.path.normcase(real_path)
    return target == base or target.startswith(base.rstrip(os.sep) + os.sep)


def _safe_join(directory: str, untrusted: tuple[str, ...]) -> tuple[str, str] | None:
    """``(joined path, resolved path)`` or ``None``; see :func:`safe_join`."""
    directory = directory or "."
    for part in untrusted:
        if _unsafe_part(part):
            return None
    joined = os.path.join(directory, *untrusted)
    real = os.path.realpath(joined)
    if not _inside(os.path.realpath(directory), real):
        return None
    return joined, real


def safe_join(directory: str | os.PathLike[str], *untrusted: str) -> str | None:
    """Join untrusted path parts (``/``-separated, as in a URL) to a trusted ``directory``;
    return the path, or ``None`` if it could name anything outside the directory.

    Refused: ``..`` segments anywhere (even ``a/../b``), absolute paths, Windows drives
    (``C:``), backslashes (on every OS: in a URL they are never a separator you meant),
    NUL bytes, and -- on Windows -- device names (``CON``, ``NUL.txt``), ``:`` and
    segments ending in a dot or a space.

    Unlike Werkzeug's ``safe_join``, symlinks are resolved (:func:`os.path.realpath`) and
    the result must lie inside the resolved directory, so a link inside the directory that
    points outside it is refused. Links that stay inside work. If you deploy files as
    links to elsewhere, serve that target directory instead.

    >>> safe_join("/srv/static", "css/site.css")
    '/srv/static/css/site.css'
    >>> safe_join("/srv/static", "../secret") is None
    True
    """
    result = _safe_join(os.fspath(directory), untrusted)
    return None if result is None else result[0]


# --------------------------------------------------------------------------------------------
# Context helpers


def _current_app() -> App | None:
    ctx = _cv_context.get(None)
    return None if ctx is None else ctx.app


def _current_request() -> Request | None:
    ctx = _cv_context.get(None)
    request_context = None if ctx is None else ctx.request_context
    return None if request_context is None else request_context.request


def _seconds(value: int | timedelta | None) -> int | None:
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return value


def _default_max_age(app: App | None, filename: str | None) -> int | None:
    """The app's ``get_send_file_max_age(filename)`` if it has one, else
    ``SEND_FILE_MAX_AGE_DEFAULT`` (``None`` outside an app context or if unset)."""
    if app is None:
        return None
    method = getattr(app, "get_send_file_max_age", None)
    if method is not None:
        return _seconds(method(filename))
    return _seconds(app.config.get("SEND_FILE_MAX_AGE_DEFAULT"))


# --------------------------------------------------------------------------------------------
# Headers


# RFC 8187 attr-char besides letters and digits: what stays unescaped in filename*.
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _content_disposition(disposition: str, name: str) -> str:
    if name.isascii() and _CONTROL_RE.search(name) is None:
        return dump_options_header(disposition, {"filename": name})
    # An ASCII approximation for old clients ("é" → "e"), the exact name in filename*.
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = _CONTROL_RE.sub("", fallback)
    options: dict[str, str] = {}
    if fallback:
        options["filename"] = fallback
    options["filename*"] = "UTF-8''" + quote(name, safe=_ATTR_CHAR_SAFE)
    return dump_options_header(disposition, options)


def _quote_etag(tag: str) -> str:
    if '"' in tag:
        raise ValueError(f"An ETag must not contain '\"': {tag!r}.")
    return f'"{tag}"'


def _file_etag(path: str, st: os.stat_result) -> str:
    # Modification time (in nanoseconds), size and a checksum of the path. A strong tag:
    # it is not a hash of the content, but a file whose content changes without its size
    # or its nanosecond mtime changing is not a case worth weakening every tag for -- and
    # only a strong tag lets If-Range resume a download (weak tags never match there).
    # The path checksum tells apart two files with the same size and mtime.
    checksum = zlib.crc32(os.fsencode(path))
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}-{checksum:08x}"'


def _timestamp(value: datetime | int | float) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return int(value)


# --------------------------------------------------------------------------------------------
# Conditional requests

# One entity tag of a list: W/"opaque", "opaque", "*", or (leniently) a bare token.
_ETAG_ITEM_RE = re.compile(r'\s*(W/)?("[^"]*"|[^,\s]+)\s*(?:,|$)')


def _parse_etags(value: str) -> tuple[bool, list[tuple[bool, str]]]:
    """``(is_wildcard, [(weak, opaque tag without quotes), ...])``."""
    if value.strip() == "*":
        return True, []
    tags = []
    for match in _ETAG_ITEM_RE.finditer(value):
        raw = match[2]
        tags.append((match[1] is not None, raw.strip('"')))
    return False, tags


def _etag_matches(header: str, etag: str | None, *, strong: bool) -> bool:
    wildcard, tags = _parse_etags(header)
    if wildcard:
        return True  # "*": any current representation, and this file exists.
    if etag is None:
        return False
    opaque = etag.strip('"')  # Ours are always strong: generated, or a quoted string.
    return any(t == opaque and not (strong and w) for w, t in tags)


def _precondition(request: Request, etag: str | None, last_modified: int | None) -> int | None:
    """412, 304 or ``None`` (go on), evaluated in RFC 9110 section 13.2.2's order."""
    headers = request.headers
    if_match = headers.get("if-match")
    if if_match is not None:
        if not _etag_matches(if_match, etag, strong=True):
            return 412
    else:
        since = parse_date(headers.get("if-unmodified-since"))
        if since is not None and last_modified is not None and last_modified > since.timestamp():
            return 412
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return 304 if _etag_matches(if_none_match, etag, strong=False) else None
    since = parse_date(headers.get("if-modified-since"))
    if since is not None and last_modified is not None and last_modified <= since.timestamp():
        return 304
    return None


def _if_range_allows(value: str, etag: str | None, last_modified: int | None) -> bool:
    value = value.strip()
    if value.startswith(('"', "W/")):
        return _etag_matches(value, etag, strong=True)
    date = parse_date(value)
    return date is not None and last_modified is not None and date.timestamp() == last_modified


# --------------------------------------------------------------------------------------------
# Ranges

_RANGE_SPEC_RE = re.compile(r"([0-9]*)-([0-9]*)", re.ASCII)
# Larger than any file; digit strings longer than this are not converted (int() refuses
# thousands of digits, and the exact value does not matter).
_HUGE = 10**18


def _to_int(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) < 18 else _HUGE


def _parse_ranges(value: str, size: int) -> list[tuple[int, int]] | None:
    """The satisfiable ranges of a ``Range`` header as ``(start, stop)`` (``stop``
    exclusive), in the requested order; ``[]`` if none is (or two overlap): a 416;
    ``None`` if the header must be ignored (malformed, not bytes, too many ranges)."""
    unit, sep, range_set = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [spec.strip() for spec in range_set.split(",")]
    specs = [spec for spec in specs if spec]
    if not specs or len(specs) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for spec in specs:
        match = _RANGE_SPEC_RE.fullmatch(spec)
        if match is None:
            return None
        first, last = match[1], match[2]
        if first:
            start = _to_int(first)
            if last:
                end = _to_int(last)
                if end < start:
                    return None  # An invalid range-spec: the whole header is ignored.
                stop = min(end + 1, size)
            else:
                stop = size
            if start < size:
                ranges.append((start, stop))
        elif last:
            length = _to_int(last)
            if length > 0:
                ranges.append((max(size - length, 0), size))
        else:
            return None  # "-" alone.
    ordered = sorted(ranges)
    for (_, previous_stop), (start, _) in itertools.pairwise(ordered):
        if start < previous_stop:
            return []
    return ranges


# --------------------------------------------------------------------------------------------
# The body

# What the body generator sends: literal bytes (multipart framing) or ``(offset, length)``
# spans of the file (``length`` None: up to the end of the file).
Piece = bytes | tuple[int, int | None]


def _iter_file(
    path: str | None, file: IO[bytes] | None, base: int, pieces: list[Piece], seek: bool
) -> Iterator[bytes]:
    """Yield ``pieces``, reading file spans in :data:`CHUNK_SIZE` chunks.

    A path is opened here, at the first step, in whatever thread the adapter iterates
    in; a file object is read from ``base`` (its position when it was passed in). The
    file is closed when the generator ends or is closed. A file that shrank since its
    ``stat`` ends the body early, and the server then reports the short response.
    """
    handle: IO[bytes] = open(path, "rb") if path is not None else cast("IO[bytes]", file)  # noqa: SIM115
    try:
        for piece in pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            offset, remaining = piece
            if seek:
                handle.seek(base + offset)
            while remaining is None or remaining > 0:
                data = handle.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                yield data
    finally:
        handle.close()


def _position_and_size(file: IO[bytes]) -> tuple[int, int | None]:
    """A seekable file's current position and the bytes left after it; ``(0, None)`` for
    a stream whose size cannot be known."""
    seekable = getattr(file, "seekable", None)
    if seekable is None or not seekable():
        return 0, None
    position = file.tell()
    end = file.seek(0, io.SEEK_END)
    file.seek(position)
    return position, max(end - position, 0)


# --------------------------------------------------------------------------------------------
# send_file


def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: MaxAge = None,
) -> Response:
    """A response sending a file's contents, with Flask 3.1's signature and behaviour.

    :param path_or_file: a path (relative paths are relative to the app's ``root_path``),
        or a file object opened in binary mode (read from its current position and closed
        once the response is done). Prefer a path: it gives ``Content-Length``,
        ``Last-Modified``, an ``ETag`` and conditional requests for free. Never pass a
        path that came from the client; use :func:`send_from_directory`.
    :param mimetype: the ``Content-Type``; guessed from the name (``download_name`` or the
        path) by default, ``application/octet-stream`` if the guess fails. A file object
        with neither ``mimetype`` nor ``download_name`` raises :class:`TypeError` (as
        Flask does).
    :param as_attachment: ``Content-Disposition: attachment`` (a download) instead of
        ``inline``.
    :param download_name: the name the browser sees; defaults to the path's name.
        Non-ASCII names are sent as ``filename*=UTF-8''...`` with an ASCII fallback.
    :param conditional: answer ``If-None-Match``, ``If-Modified-Since``, ``If-Match``,
        ``If-Unmodified-Since``, ``Range`` and ``If-Range`` (304, 206, 412, 416).
    :param etag: ``True`` computes a strong ETag from a path's mtime, size and name; a
        string is used as the tag (quoted); ``False`` sends none.
    :param last_modified: overrides the path's modification time (datetime or timestamp).
    :param max_age: seconds the client may cache the file (``Cache-Control: public,
        max-age=N`` and ``Expires``), or a callable taking the path (``None`` for a file
        object). By default the app's ``get_send_file_max_age`` or its
        ``SEND_FILE_MAX_AGE_DEFAULT`` config; ``None`` sends ``Cache-Control: no-cache``
        (the client revalidates, cheaply thanks to the ETag).

    Outside a request context nothing conditional applies; outside an app context the
    default response class is used and relative paths are relative to the working
    directory.
    """
    app = _current_app()
    response_class = app.response_class if app is not None else Response
    path: str | None = None
    file: IO[bytes] | None = None
    st: os.stat_result | None = None
    base = 0
    size: int | None
    if isinstance(path_or_file, (str, os.PathLike)):
        path = os.fspath(path_or_file)
        if app is not None:
            path = os.path.join(app.root_path, path)
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            # OSError picks the subclass from the errno: IsADirectoryError for EISDIR.
            code = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
            raise OSError(code, "Not a regular file", path)
        size = st.st_size
        if download_name is None:
            download_name = os.path.basename(path)
    else:
        given: object = path_or_file  # Typed as binary, but a text file is a common slip.
        if isinstance(given, io.TextIOBase):
            raise ValueError("Files must be opened in binary mode or use BytesIO.")
        file = path_or_file
        base, size = _position_and_size(file)

    try:
        headers = Headers()
        if mimetype is None:
            if download_name is None:
                raise TypeError(
                    "Unable to detect the MIME type because a file name is not available."
                    " Either set 'download_name', pass a path instead of a file, or set"
                    " 'mimetype'."
                )
            mimetype, encoding = mimetypes.guess_type(download_name)
            if mimetype is None:
                mimetype = "application/octet-stream"
            # As Flask: a .gz file shown inline is the compressed representation of its
            # type; as an attachment the browser must save it as it is.
            if encoding is not None and not as_attachment:
                headers["Content-Encoding"] = encoding
        if download_name is not None:
            headers["Content-Disposition"] = _content_disposition(
                "attachment" if as_attachment else "inline", download_name
            )
        elif as_attachment:
            raise TypeError("No name provided for attachment.")

        modified: int | None = None
        if last_modified is not None:
            modified = _timestamp(last_modified)
        elif st is not None:
            modified = int(st.st_mtime)
        tag: str | None = None
        if isinstance(etag, str):
            tag = _quote_etag(etag)
        elif etag and path is not None and st is not None:
            tag = _file_etag(path, st)
        if modified is not None:
            headers["Last-Modified"] = http_date(modified)
        if tag is not None:
            headers["ETag"] = tag

        if max_age is None:
            age = _default_max_age(app, path)
        elif callable(max_age):
            age = _seconds(max_age(path))
        else:
            age = _seconds(max_age)
        if age is None:
            headers["Cache-Control"] = "no-cache"
        else:
            age = max(age, 0)
            headers["Cache-Control"] = f"public, max-age={age}" if age else "no-cache, max-age=0"
            headers["Expires"] = http_date(time.time() + age)

        ranges: list[tuple[int, int]] | None = None
        request = _current_request() if conditional else None
        if conditional and size is not None:
            headers["Accept-Ranges"] = "bytes"
        if request is not None and request.method in ("GET", "HEAD"):
            outcome = _precondition(request, tag, modified)
            if outcome == 412:
                raise PreconditionFailed()
            if outcome == 304:
                return _not_modified(response_class, headers, file)
            range_header = request.headers.get("range")
            if_range = request.headers.get("if-range")
            if (
                range_header is not None
                and request.method == "GET"
                and size  # Known and not 0.
                and (if_range is None or _if_range_allows(if_range, tag, modified))
            ):
                ranges = _parse_ranges(range_header, size)
                if ranges == []:
                    raise RequestedRangeNotSatisfiable(length=size)
    except BaseException:
        if file is not None:
            file.close()
        raise

    status = 200
    pieces: list[Piece]
    if ranges is None:
        pieces = [(0, size)]
        if size is not None:
            headers["Content-Length"] = str(size)
    else:
        assert size is not None
        status = 206
        if len(ranges) == 1:
            start, stop = ranges[0]
            pieces = [(start, stop - start)]
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
            headers["Content-Length"] = str(stop - start)
        else:
            pieces, mimetype = _multipart(ranges, size, mimetype)
            headers["Content-Length"] = str(
                sum(len(p) if isinstance(p, bytes) else p[1] or 0 for p in pieces)
            )
    body = _iter_file(path, file, base, pieces, seek=ranges is not None)
    response = response_class(body, status, headers, mimetype=mimetype)
    if file is not None:
        response.call_on_close(file.close)  # Also when the body is never read (HEAD).
    return response


def _multipart(ranges: list[tuple[int, int]], size: int, mimetype: str) -> tuple[list[Piece], str]:
    """The pieces of a ``multipart/byteranges`` body (RFC 9110 section 14.6), and its
    content type."""
    boundary = secrets.token_hex(16)
    part_type = _content_type_for(mimetype)
    pieces: list[Piece] = []
    for start, stop in ranges:
        pieces.append(
            f"--{boundary}\r\nContent-Type: {part_type}\r\n"
            f"Content-Range: bytes {start}-{stop - 1}/{size}\r\n\r\n".encode("latin-1")
        )
        pieces.append((start, stop - start))
        pieces.append(b"\r\n")
    pieces.append(f"--{boundary}--\r\n".encode("latin-1"))
    return pieces, f"multipart/byteranges; boundary={boundary}"


def _not_modified(
    response_class: type[Response], headers: Headers, file: IO[bytes] | None
) -> Response:
    """A 304: the validators and caching headers a 200 would carry, and no body.

    The empty body is given as an (empty) *stream* so the adapters add no
    ``Content-Length: 0``, which RFC 9110 forbids in a 304 (it must be the size a 200
    would have, or absent).
    """
    keep = Headers(
        (name, value)
        for name, value in headers.items()
        if name.lower() in ("etag", "last-modified", "cache-control", "expires")
    )
    response = response_class((), 304, keep)
    response.headers.remove("Content-Type")
    if file is not None:
        file.close()
    return response


# --------------------------------------------------------------------------------------------
# send_from_directory and static files


def send_from_directory(
    directory: str | os.PathLike[str], path: str | os.PathLike[str], **kwargs: Any
) -> Response:
    """Send the file ``path`` (untrusted: a URL part, a form field) from ``directory``.

    ``path`` goes through :func:`safe_join`; if it could leave ``directory`` (``..``,
    absolute paths, backslashes, NUL, a symlink pointing outside), or names no regular
    file, the answer is :class:`~ambi.exceptions.NotFound` (404) -- never the file, never
    a 500. A relative ``directory`` is relative to the app's ``root_path``. ``kwargs`` go
    to :func:`send_file`; the name shown to the client is the one asked for, while the
    file read is the resolved one that was checked.

    ::

        @app.get("/uploads/<path:name>")
        def download(name):
            return send_from_directory("uploads", name, as_attachment=True)
    """
    app = _current_app()
    folder = os.fspath(directory)
    if app is not None:
        folder = os.path.join(app.root_path, folder)
    result = _safe_join(folder, (os.fspath(path),))
    if result is None:
        raise NotFound()
    joined, real = result
    if not os.path.isfile(real):
        raise NotFound()
    kwargs.setdefault("download_name", os.path.basename(joined))
    return send_file(real, **kwargs)


def send_static_file(app: App, filename: str) -> Response:
    """Serve ``filename`` from ``app.static_folder``: the view behind ``/static/``.

    The cache lifetime is the app's ``get_send_file_max_age(filename)`` if it has one,
    else ``SEND_FILE_MAX_AGE_DEFAULT``. Raises :class:`RuntimeError` if the app has no
    static folder, and 404 for anything :func:`send_from_directory` refuses.
    """
    folder: str | None = getattr(app, "static_folder", None)
    if folder is None:
        raise RuntimeError("'static_folder' must be set to serve static_files.")
    return send_from_directory(folder, filename, max_age=_default_max_age(app, filename))
