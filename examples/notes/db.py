"""The sqlite3 database: one connection per request or command, kept on ``g``.

``get_db()`` opens the connection on first use; ``close_db`` closes it when the app context
ends (after every request, and after every CLI command). Also the ``init-db`` and
``add-user`` commands.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import click

from ambi import Ambi, current_app, g
from ambi.cli import with_appcontext

from .passwords import hash_password

SCHEMA = Path(__file__).with_name("schema.sql")
TABLES = ("note", "user")  # in drop order: notes refer to users


def connect(database: str | Path) -> sqlite3.Connection:
    """A connection whose rows can be read by column name (``row["title"]``)."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    # Under an ASGI server, an async def view's def hooks run in worker threads, one hop
    # before the view and another after it, possibly in two different threads (an all-def
    # route stays on one thread). The connection is still used by one request at a time,
    # never concurrently: allow that instead of sqlite3's same-thread check.
    connection = sqlite3.connect(database, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def get_db() -> sqlite3.Connection:
    """The current request's (or command's) connection, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    connection: sqlite3.Connection = g.db
    return connection


def close_db(error: BaseException | None = None) -> None:
    """Close the connection, if this context opened one."""
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def create_schema(connection: sqlite3.Connection, *, clear: bool = False) -> None:
    """Create the tables that are missing; with ``clear``, drop them all first."""
    if clear:
        for table in TABLES:
            connection.execute(f"DROP TABLE IF EXISTS {table}")
    connection.executescript(SCHEMA.read_text(encoding="utf-8"))
    connection.commit()


def remove_uploads(upload_folder: str | Path) -> None:
    """Delete every user's upload folder (``UPLOAD_FOLDER/<user id>``).

    User ids start again from 1 in a cleared database, so old files would show up in a new
    user's list. Only the per-user folders go, in case UPLOAD_FOLDER holds anything else.
    """
    root = Path(upload_folder)
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if folder.is_dir() and folder.name.isdigit():
            shutil.rmtree(folder)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Clear the database and the uploaded files, and create the tables."""
    create_schema(get_db(), clear=True)
    remove_uploads(current_app.config["UPLOAD_FOLDER"])
    click.echo("Initialized the database.")


@click.command("add-user")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def add_user_command(name: str, password: str) -> None:
    """Add a user who can log in as NAME."""
    database = get_db()
    try:
        database.execute(
            "INSERT INTO user (username, password_hash) VALUES (?, ?)",
            (name, hash_password(password)),
        )
        database.commit()
    except sqlite3.IntegrityError:
        raise click.ClickException(f"User {name} already exists.") from None
    click.echo(f"Added user {name}.")


def init_app(app: Ambi) -> None:
    """Create the tables if missing, close connections after each context, add commands."""
    with closing(connect(app.config["DATABASE"])) as connection:
        create_schema(connection)
    app.teardown_appcontext(close_db)
    app.cli.add_command(init_db_command)
    app.cli.add_command(add_user_command)
