"""Campaigncalls as CSV or JSON, streamed from the database a row at a time (`export`, `e`).

What is exported is what the dashboard shows: one status group or all three (each newest
first), narrowed by the dashboard's own filter (`Queries.each_in_status`, the WHERE clause the
tables use). Rows are read from a cursor and written as they come, so memory stays flat at any
size. CSV is RFC 4180 (the csv module's excel dialect: CRLF, quotes doubled, a field with a
comma, quote or line break quoted), with a header row of the field names and each Address
flattened into `source_type`, `source_target`, ...; JSON is one array, an item per line, each
the record as stored (Addresses as objects).

Record data is written as data, unchanged, except when `escape` is set (the caller's output
is a terminal): then control, bidi and lone-surrogate characters are written escaped
(`store.text.visible`), so they cannot drive the terminal; what is shown may then not parse.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from store.db import JSON_COLUMNS, StoreError
from store.models import CAMPAIGNCALL_STATUSES, Address, Campaigncall, CampaigncallStatus
from store.queries import NO_FILTER, Filter, Queries
from store.text import visible

ExportFormat = Literal["csv", "json"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "json")

FIELDS = list(Campaigncall.model_fields)
ADDRESS_FIELDS = [name for name in FIELDS if name in JSON_COLUMNS]  # source, destination
ADDRESS_KEYS = list(Address.model_fields)  # type, target, target_name, name, detail


def csv_header() -> list[str]:
    """The CSV's field names: the record's, in its order, each Address as five columns."""
    header: list[str] = []
    for name in FIELDS:
        if name in ADDRESS_FIELDS:
            header += [f"{name}_{key}" for key in ADDRESS_KEYS]
        else:
            header.append(name)
    return header


# SQLite's json_extract cannot give back a NUL (it cuts the text there) nor a lone surrogate
# (stored as the escape `\udxxx`; it makes bytes that are not UTF-8). A row whose Addresses
# hold either escape is flattened by Python's json module instead, from the stored text.
_ODD = " + ".join(
    f"instr(c.{name}, '{escape}')" for name in ADDRESS_FIELDS for escape in ("\\u0000", "\\ud")
)


def _csv_columns() -> str:
    """The CSV's select list: whether the row is odd (above), the columns, the odd row's
    stored Addresses."""
    columns = [f"({_ODD}) > 0"]
    for name in FIELDS:
        if name in ADDRESS_FIELDS:
            columns += [
                f"iif(({_ODD}) > 0, NULL, coalesce(json_extract(c.{name}, '$.{key}'), ''))"
                for key in ADDRESS_KEYS
            ]
        else:
            columns.append(f"c.{name}")
    columns += [f"iif(({_ODD}) > 0, c.{name}, NULL)" for name in ADDRESS_FIELDS]
    return ", ".join(columns)


_CSV_COLUMNS = _csv_columns()
_CSV_WIDTH = len(csv_header())
# where each Address's five columns start in a CSV row (the odd flag left out)
_ADDRESS_AT = {name: csv_header().index(f"{name}_{ADDRESS_KEYS[0]}") for name in ADDRESS_FIELDS}

# The record as stored, as one JSON object built by SQLite (Addresses as objects).
_JSON_COLUMN = (
    "json_object("
    + ", ".join(
        f"'{name}', json(c.{name})" if name in ADDRESS_FIELDS else f"'{name}', c.{name}"
        for name in FIELDS
    )
    + ")"
)


def _odd_row(row: tuple[Any, ...]) -> list[Any]:
    """A CSV row whose Addresses SQLite could not flatten, flattened from their stored JSON."""
    values = list(row[1 : 1 + _CSV_WIDTH])
    for number, name in enumerate(ADDRESS_FIELDS):
        stored = row[1 + _CSV_WIDTH + number]
        address = json.loads(stored) if stored is not None else {}
        start = _ADDRESS_AT[name]
        for offset, key in enumerate(ADDRESS_KEYS):
            value = address.get(key)
            values[start + offset] = "" if value is None else value
    return values


def _csv_rows(rows: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
    end = 1 + _CSV_WIDTH
    for row in rows:
        yield _odd_row(row) if row[0] else row[1:end]


@dataclass
class ExportCount:
    """How many rows an export has written so far."""

    rows: int = 0


def _counted(rows: Iterable[Any], count: ExportCount) -> Iterator[Any]:
    for row in rows:
        count.rows += 1
        yield row


def check_exportable(db_path: Path | str) -> None:
    """A StoreError, in a sentence, unless the file is a campaigncalls database that can be
    read; it is opened read-only, so nothing is made or written."""
    path = Path(db_path)
    if not path.is_file():
        raise StoreError(f"there is no database at {path}")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(campaigncalls)")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path} cannot be read as a campaigncalls database: {error}") from None
    if not columns:
        raise StoreError(f"{path} is not a campaigncalls database (it has no campaigncalls)")
    missing = [name for name in FIELDS if name not in columns]
    if missing:
        raise StoreError(f"{path} has a campaigncalls table without {', '.join(missing)}")


def write_export(
    queries: Queries,
    out: TextIO,
    *,
    status: CampaigncallStatus | None = None,
    flt: Filter = NO_FILTER,
    fmt: ExportFormat = "csv",
    escape: bool = False,
) -> int:
    """Write the campaigncalls of one status (None: all three, dialing first) under a filter
    to `out`; returns how many. `out` must be opened with newline="" (CSV ends lines in CRLF)
    and should write lone surrogates as `\\udxxx` (errors="backslashreplace"), as the database
    stores them in text; `open_export_stream` does both. `queries` is held until the end:
    give it a Queries of its own."""
    statuses = CAMPAIGNCALL_STATUSES if status is None else (status,)
    count = ExportCount()
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(csv_header())
        for each in statuses:
            rows = _counted(_csv_rows(queries.each_in_status(each, flt, _CSV_COLUMNS)), count)
            if escape:
                writer.writerows([visible(v) for v in row] for row in rows)
            else:
                writer.writerows(rows)
        return count.rows
    if fmt != "json":
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    out.write("[")
    separator = "\n"
    for each in statuses:
        for (item,) in queries.each_in_status(each, flt, _JSON_COLUMN):
            out.write(separator)
            out.write(visible(item) if escape else item)
            separator = ",\n"
            count.rows += 1
    out.write("\n]\n" if count.rows else "]\n")
    return count.rows


def open_export_stream(fileno: int) -> TextIO:
    """A text stream over an open file descriptor (stdout), as `write_export` needs it:
    UTF-8, no newline translation, a big buffer; closing it leaves the descriptor open."""
    return open(  # the caller closes it
        fileno,
        "w",
        encoding="utf-8",
        errors="backslashreplace",
        newline="",
        buffering=1 << 20,
        closefd=False,
    )


def export_to_file(
    db_path: Path | str,
    path: Path,
    *,
    status: CampaigncallStatus | None = None,
    flt: Filter = NO_FILTER,
    fmt: ExportFormat = "csv",
) -> int:
    """Export into a file, whole or not at all: written beside it under a temporary name
    (`.NAME.*.part`, which a drop folder ignores) and renamed over it when complete. Returns
    how many rows."""
    check_exportable(db_path)
    queries = Queries(db_path)
    partial = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with open_export_stream(handle) as out:
                rows = write_export(queries, out, status=status, flt=flt, fmt=fmt)
        finally:
            os.close(handle)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        queries.close()
    return rows


def view_file_name(
    status: CampaigncallStatus | None, now: datetime, fmt: ExportFormat = "csv", number: int = 1
) -> str:
    """`campaigncalls-done-2026-12-02T1612.csv` (the second that minute: `...T1612-2.csv`)."""
    again = f"-{number}" if number > 1 else ""
    return f"campaigncalls-{status or 'all'}-{now:%Y-%m-%dT%H%M}{again}.{fmt}"


@dataclass(frozen=True)
class ViewExported:
    """Where an export of the dashboard's view went, and how many rows it holds."""

    path: Path
    rows: int


def export_view(
    db_path: Path | str,
    folder: Path,
    status: CampaigncallStatus | None,
    flt: Filter,
    now: datetime,
    fmt: ExportFormat = "csv",
) -> ViewExported:
    """The dashboard's `e`: a group under its filter, into a new file in `folder` named for
    the group and the time (an existing file is never replaced)."""
    for number in range(1, 1000):
        path = folder / view_file_name(status, now, fmt, number)
        try:
            path.open("x").close()  # the name is taken for this export, atomically
        except FileExistsError:
            continue
        try:
            rows = export_to_file(db_path, path, status=status, flt=flt, fmt=fmt)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return ViewExported(path, rows)
    raise FileExistsError(f"{folder} already holds 999 exports named for {now:%Y-%m-%dT%H%M}")
