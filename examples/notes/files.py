"""File uploads: each user has a folder of their own, ``UPLOAD_FOLDER/<user id>``.

An uploaded file's name comes from the client, so it is never trusted: ``secure_filename``
turns ``../../x.txt`` into ``x.txt``, only a few extensions are accepted, and files are sent
back with ``send_from_directory``, which never leaves the user's folder. The size limit is
the app's ``MAX_CONTENT_LENGTH``: a larger request is refused with 413 while it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ambi import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from ambi.exceptions import HTTPException
from ambi.types import ResponseReturnValue
from ambi.utils import secure_filename

from .auth import login_required

bp = Blueprint("files", __name__, url_prefix="/files")

ALLOWED_EXTENSIONS = (".txt", ".md", ".png", ".jpg", ".pdf")


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int


def user_folder() -> Path:
    """The current user's upload folder (it may not exist yet)."""
    return Path(current_app.config["UPLOAD_FOLDER"], str(g.user["id"]))


def stored_files() -> list[StoredFile]:
    folder = user_folder()
    if not folder.is_dir():
        return []
    return [
        StoredFile(path.name, path.stat().st_size)
        for path in sorted(folder.iterdir())
        if path.is_file()
    ]


def files_page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template("files/index.html", files=stored_files(), error=error), status


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return files_page()


@bp.post("/")
@login_required
def upload() -> ResponseReturnValue:
    """Store the uploaded file in the user's folder (replacing one of the same name)."""
    file = request.files.get("file")
    if not file:  # no file part, or a part with an empty name: nothing was chosen
        return files_page("Choose a file to upload.", 400)
    name = secure_filename(file.filename or "")
    if not name.lower().endswith(ALLOWED_EXTENSIONS):
        allowed = ", ".join(ALLOWED_EXTENSIONS)
        return files_page(f"Only {allowed} files can be uploaded.", 400)

    folder = user_folder()
    folder.mkdir(parents=True, exist_ok=True)
    file.save(folder / name)
    flash(f"Uploaded {name}.", "success")
    return redirect(url_for("files.index"), 303)


@bp.get("/<path:name>")
@login_required
def download(name: str) -> ResponseReturnValue:
    # Shown in the browser (as_attachment=False); a name outside the folder is a 404.
    return send_from_directory(user_folder(), name, as_attachment=False)


def format_size(size: int) -> str:
    """``1048576`` -> ``"1 MiB"``, ``1536`` -> ``"1.5 KiB"``."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MiB"
    if size >= 1024:
        return f"{size / 1024:g} KiB"
    return f"{size} bytes"


@bp.errorhandler(413)
def upload_too_large(error: HTTPException) -> ResponseReturnValue:
    """A request larger than MAX_CONTENT_LENGTH: the upload form again, with the limit."""
    if g.get("user") is None:
        return redirect(url_for("auth.login", next=request.path), 303)
    limit = format_size(current_app.config["MAX_CONTENT_LENGTH"])
    return files_page(f"The file is too large (limit {limit}).", 413)
