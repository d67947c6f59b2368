"""Form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

Part of the sans-I/O core: the parser pulls body chunks from a callable (the
connection's blocking ``read_body_chunk``) and never does I/O itself, except that file
parts larger than a threshold are spooled to a temporary file.

Multipart bodies are parsed as they arrive with python-multipart's streaming parser, so
an upload is never held in memory whole. Limits are enforced while reading, each with a
clear error:

* ``MAX_FORM_MEMORY_SIZE``: the largest non-file field of a multipart body, and the whole
  of a url-encoded body (413);
* ``MAX_FORM_PARTS``: the number of multipart parts, or url-encoded fields (413);
* ``MAX_FORM_PART_HEADER_SIZE``: the size of one part's headers (413);
* malformed bodies (no boundary or an invalid one, truncated, a malformed part header,
  bad UTF-8 in a field) give a 400.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from typing import IO, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from .datastructures import FileStorage, Headers, ImmutableMultiDict, MultiDict
from .exceptions import BadRequest, RequestEntityTooLarge
from .http import parse_options_header, parse_query_string

__all__ = ["FormDataParser", "FormLimits"]

#: File parts up to this size stay in memory; larger ones roll over to a temporary file.
FILE_MEMORY_THRESHOLD = 500 * 1024

ReadChunk = Callable[[], bytes]

# A boundary: printable ASCII, not ending with a space (RFC 2046 allows 70 characters;
# like Werkzeug, up to 200 are accepted, below python-multipart's own cap of 256).
_BOUNDARY_RE = re.compile(r"[ -~]{0,199}[!-~]")


class FormLimits:
    """The limits one request's form parsing is held to (``None``: no limit)."""

    __slots__ = ("max_form_memory_size", "max_form_parts", "max_part_header_size")

    def __init__(
        self,
        max_form_memory_size: int | None = 500_000,
        max_form_parts: int | None = 1000,
        max_part_header_size: int | None = 8192,
    ) -> None:
        self.max_form_memory_size = max_form_memory_size
        self.max_form_parts = max_form_parts
        self.max_part_header_size = max_part_header_size


FormResult = tuple[ImmutableMultiDict[str, str], ImmutableMultiDict[str, FileStorage]]


class FormDataParser:
    """Parses a form body into ``(form, files)``."""

    def __init__(self, limits: FormLimits) -> None:
        self.limits = limits

    def parse(self, read_chunk: ReadChunk, content_type: str | None) -> FormResult:
        """Parse the body ``read_chunk`` yields, according to ``content_type``.

        Content types that are not forms give two empty dictionaries (the body is left
        unread, for ``get_data()``).
        """
        mimetype, options = parse_options_header(content_type)
        if mimetype == "application/x-www-form-urlencoded":
            return self._parse_urlencoded(read_chunk), ImmutableMultiDict()
        if mimetype == "multipart/form-data":
            boundary = options.get("boundary")
            if not boundary:
                raise BadRequest("Missing boundary in the multipart/form-data Content-Type.")
            if _BOUNDARY_RE.fullmatch(boundary) is None:
                raise BadRequest("Invalid boundary in the multipart/form-data Content-Type.")
            return _MultipartReader(self.limits, boundary.encode("ascii")).run(read_chunk)
        return ImmutableMultiDict(), ImmutableMultiDict()

    def _parse_urlencoded(self, read_chunk: ReadChunk) -> ImmutableMultiDict[str, str]:
        limit = self.limits.max_form_memory_size
        chunks: list[bytes] = []
        size = 0
        while chunk := read_chunk():
            size += len(chunk)
            if limit is not None and size > limit:
                raise RequestEntityTooLarge(
                    f"The form data is larger than the limit of {limit} bytes"
                    " (MAX_FORM_MEMORY_SIZE)."
                )
            chunks.append(chunk)
        try:
            return parse_query_string(
                b"".join(chunks), max_fields=self.limits.max_form_parts, what="form data"
            )
        except RequestEntityTooLarge:
            raise RequestEntityTooLarge(
                f"The form has more than {self.limits.max_form_parts} fields (MAX_FORM_PARTS)."
            ) from None


class _MultipartReader:
    """Collects the parts python-multipart reports through its callbacks."""

    def __init__(self, limits: FormLimits, boundary: bytes) -> None:
        self.limits = limits
        self.form: MultiDict[str, str] = MultiDict()
        self.files: MultiDict[str, FileStorage] = MultiDict()
        self.parts = 0
        self.finished = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._header_bytes = 0
        self._headers: list[tuple[str, str]] = []
        self._name = ""
        self._filename: str | None = None
        self._field: bytearray | None = None
        self._file: IO[bytes] | None = None
        self._file_size = 0
        callbacks: Any = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }
        # python-multipart's own header caps are lifted: MAX_FORM_PART_HEADER_SIZE (counted
        # in the callbacks) decides, with a 413 rather than a parse error.
        self.parser = MultipartParser(
            boundary, callbacks, max_header_count=1024, max_header_size=2**31
        )

    def run(self, read_chunk: ReadChunk) -> FormResult:
        try:
            while chunk := read_chunk():
                self.parser.write(chunk)
                if self.finished:
                    break
            if not self.finished:
                raise BadRequest(
                    "The multipart/form-data body is truncated: it ended before the"
                    " closing boundary."
                )
        except MultipartParseError as exc:
            self._discard()
            raise BadRequest(f"Malformed multipart/form-data body: {exc}") from None
        except BaseException:
            self._discard()
            raise
        return ImmutableMultiDict(self.form), ImmutableMultiDict(self.files)

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
        for storage in self.files.values():
            storage.close()

    # -- callbacks ---------------------------------------------------------------------

    def _on_part_begin(self) -> None:
        self.parts += 1
        limit = self.limits.max_form_parts
        if limit is not None and self.parts > limit:
            raise RequestEntityTooLarge(f"The form has more than {limit} parts (MAX_FORM_PARTS).")
        self._headers = []
        self._header_bytes = 0

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        limit = self.limits.max_part_header_size
        if limit is not None and self._header_bytes > limit:
            raise RequestEntityTooLarge(
                f"The headers of a form part are larger than {limit} bytes"
                " (MAX_FORM_PART_HEADER_SIZE)."
            )

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header_bytes(end - start)
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header_bytes(end - start)
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_field.decode("latin-1")
        value = self._header_value.decode("utf-8", "replace")
        self._headers.append((name, value))
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        try:
            headers = Headers(self._headers)
        except ValueError:  # a name that is not a token, a value with NUL: not HTTP
            raise BadRequest("A multipart part has a malformed header.") from None
        disposition, options = parse_options_header(headers.get("content-disposition"))
        if disposition != "form-data" or "name" not in options:
            raise BadRequest(
                "A multipart part has no 'Content-Disposition: form-data; name=...' header."
            )
        self._name = options["name"]
        self._part_headers = headers
        if "filename" in options:
            self._filename = options["filename"]
            self._file = tempfile.SpooledTemporaryFile(max_size=FILE_MEMORY_THRESHOLD)  # noqa: SIM115
            self._file_size = 0
            self._field = None
        else:
            self._filename = None
            self._file = None
            self._field = bytearray()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])
            self._file_size += end - start
            return
        assert self._field is not None
        self._field += data[start:end]
        limit = self.limits.max_form_memory_size
        if limit is not None and len(self._field) > limit:
            raise RequestEntityTooLarge(
                f"The form field {self._name!r} is larger than the limit of {limit} bytes"
                " (MAX_FORM_MEMORY_SIZE)."
            )

    def _on_part_end(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self.files.add(
                self._name,
                FileStorage(
                    self._file,
                    filename=self._filename,
                    name=self._name,
                    headers=self._part_headers,
                ),
            )
            self._file = None
        elif self._field is not None:
            try:
                value = self._field.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"Invalid UTF-8 in the form field {self._name!r}.") from None
            self.form.add(self._name, value)
            self._field = None

    def _on_end(self) -> None:
        self.finished = True
