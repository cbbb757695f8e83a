"""Reading a database without changing the disk: for the commands that only read (show,
simulate)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from store.db import SCHEMA_VERSION, StoreError, schema_refusal
from store.queries import Queries

# A reader of a WAL database makes these beside it and cannot remove them when it closes.
SIDECARS = ("-wal", "-shm")


@contextmanager
def reading(db_path: Path | str) -> Iterator[Queries]:
    """The database for reading alone: refused unless it is a campaigncalls database of this
    schema (nothing is created, migrated or written), and the -wal and -shm the reading made
    are removed after it."""
    with _left_as_found(Path(db_path)) as path:
        queries = Queries(path)
        try:
            yield queries
        finally:
            queries.close()


@contextmanager
def reading_rows(db_path: Path | str) -> Iterator[sqlite3.Connection]:
    """A plain read-only connection to the database, refused and cleaned up as `reading`."""
    with _left_as_found(Path(db_path)) as path:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            yield conn
        finally:
            conn.close()


@contextmanager
def _left_as_found(path: Path) -> Iterator[Path]:
    if not path.is_file():
        raise StoreError(
            f"there is no database at {path}; create one with: campaigncalls load --db {path} demo"
        )
    made = [Path(f"{path}{suffix}") for suffix in SIDECARS]
    made = [sidecar for sidecar in made if not sidecar.exists()]
    try:
        _check_schema(path)
        yield path
    finally:
        if any(sidecar.exists() for sidecar in made):
            _fold_back(path)


def _check_schema(path: Path) -> None:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path} cannot be used as a campaigncalls database: {error}") from None
    finally:
        conn.close()
    if version == SCHEMA_VERSION:
        return
    refused = schema_refusal(path, version, tables)
    if refused is not None:
        raise refused
    if not tables:
        raise StoreError(
            f"{path} is empty, not a campaigncalls database yet; fill it with: "
            f"campaigncalls load --db {path} demo"
        )
    raise StoreError(
        f"{path} has an older campaigncalls schema ({version}) and reading does not upgrade it;"
        f" the dashboard, watch, apply or load upgrade it"
    )


def _fold_back(path: Path) -> None:
    """The last connection to close removes -wal and -shm, if it may write: one that reads
    nothing new and writes nothing, so the database file itself stays as it was."""
    try:
        conn = sqlite3.connect(path)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # locked or read-only: the files stay, as any reader's would
