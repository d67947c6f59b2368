"""Small utilities Flask users import from Werkzeug: :func:`secure_filename`.

Part of the sans-I/O core.
"""

from __future__ import annotations

import os
import re
import unicodedata

__all__ = ["secure_filename"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_WINDOWS_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))]
)


def secure_filename(filename: str) -> str:
    """A version of ``filename`` safe to use as a file name on any file system.

    Non-ASCII letters lose their accents or are dropped, path separators and other
    special characters become ``_``, leading dots and underscores go (no hidden files, no
    ``..``), and Windows device names get a leading underscore. The result may be empty:
    choose a name yourself then::

        secure_filename("../../etc/passwd")   # "etc_passwd"
        secure_filename("My résumé.pdf")      # "My_resume.pdf"
    """
    text = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    for separator in (os.sep, os.altsep, "/", "\\"):
        if separator:
            text = text.replace(separator, " ")
    text = "_".join(text.split())
    text = _UNSAFE.sub("", text).strip("._")
    if text and text.split(".")[0].upper() in _WINDOWS_DEVICE_NAMES:
        text = f"_{text}"
    return text
