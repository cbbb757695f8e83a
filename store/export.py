"""Campaigncalls as CSV or JSON, streamed from the database a row at a time (`export`, `e`).

What is exported is what the dashboard shows: one status group or all three (each newest
first), narrowed by the dashboard's own filter (`Queries.each_in_status`, the WHERE clause the
tables use). Rows are read from a cursor and written as they come, so memory stays flat at any
size. CSV is RFC 4180: CRLF line ends, a header row of the field names, each Address
flattened into `source_type`, `source_target`, ...; Address values always quoted, any other
field only where it holds a comma, quote or line break; quotes doubled. JSON is one array, an
item per line, each the record as stored (Addresses as objects). Both are UTF-8.

Record data is written as data, unchanged, except when `escape` is set (the caller's output
is a terminal): then control, bidi and lone-surrogate characters are written escaped
(`store.text.visible`), so they cannot drive the terminal; what is shown may then not parse.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from store.db import StoreError
from store.models import CAMPAIGNCALL_STATUSES, Address, Campaigncall, CampaigncallStatus
from store.queries import NO_FILTER, Filter, Queries
from store.readonly import reading
from store.rows import JSON_COLUMNS
from store.text import visible

ExportFormat = Literal["csv", "json"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "json")

FIELDS = list(Campaigncall.model_fields)
ADDRESS_FIELDS = [name for name in FIELDS if name in JSON_COLUMNS]  # source, destination
ADDRESS_KEYS = list(Address.model_fields)  # type, target, target_name, name, detail

_LINES_PER_WRITE = 1000  # fast lines joined into one write
_BUFFER = 1 << 20


def csv_header() -> list[str]:
    """The CSV's field names: the record's, in its order, each Address as five columns."""
    header: list[str] = []
    for name in FIELDS:
        if name in ADDRESS_FIELDS:
            header += [f"{name}_{key}" for key in ADDRESS_KEYS]
        else:
            header.append(name)
    return header


# ---- the exact way: each value read, quoted as it needs -------------------------------------


def _text(value: Any) -> str:
    """A stored value as text: bytes decoded (any byte that is not UTF-8 kept as a surrogate,
    written as `\\udcxx`), a number as written, an Address value that is not text as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _csv_line(row: Iterable[Any], *, escape: bool = False) -> bytes:
    """One CSV line (no line end) from the record's fields as stored, in their order."""
    fields: list[str] = []
    for name, stored in zip(FIELDS, row, strict=True):
        if name in ADDRESS_FIELDS:
            address = json.loads(stored) if stored is not None else {}
            if not isinstance(address, dict):
                raise StoreError(f"a campaigncall's {name} is not an Address: {stored!r:.80}")
            for key in ADDRESS_KEYS:
                text = _text(address.get(key))
                fields.append(_quoted(visible(text) if escape else text))
        else:
            text = visible(_text(stored)) if escape else _text(stored)
            quote = "," in text or '"' in text or "\r" in text or "\n" in text
            fields.append(_quoted(text) if quote else text)
    return ",".join(fields).encode("utf-8", "backslashreplace")  # a lone surrogate: \udxxx


_FIELD_COLUMNS = ", ".join(f"c.{name}" for name in FIELDS)

# ---- the fast way: SQLite writes the line, Python checks it ------------------------------
# SQLite joins the fields (printf), each Address as the JSON array json_extract makes of its
# five values, brackets trimmed: `"tel","+4915...","","",""`. That is those values' CSV
# exactly when they are five strings without a quote or an escape (no backslash: JSON escapes
# every quote, line break and control character); the other fields are their CSV when they
# hold no comma, quote or line break. The Addresses are set apart by a unit separator (0x1f)
# each side, so a line's shape says whether all that holds: nothing but quotes between the
# two separators among the bytes `"`, `\`, CR, LF and 0x1f (so no other field holds a quote),
# two quotes per value, the values joined by `","` and the separators right at the first and
# last, and the commas of the fields each side. Such a line becomes CSV by a comma for each
# separator (a thousand lines at a time). Any other line (a name with a quote, a missing key,
# a NUL, a field written by hand) is written the exact way, from its row read again by rowid
# (the same snapshot).
_PATHS = ", ".join(f"'$.{key}'" for key in ADDRESS_KEYS)
_FIRST = FIELDS.index(ADDRESS_FIELDS[0]) if ADDRESS_FIELDS else 0
_LAST = FIELDS.index(ADDRESS_FIELDS[-1]) if ADDRESS_FIELDS else 0
# the shape holds for Addresses side by side (the record's layout)
_FAST = bool(ADDRESS_FIELDS) and ADDRESS_FIELDS == FIELDS[_FIRST : _LAST + 1]
_MARK = "\x1f"
_FORMAT = (
    ",".join(["%s"] * _FIRST)
    + _MARK
    + ",".join(["%s"] * len(ADDRESS_FIELDS))
    + _MARK
    + ",".join(["%s"] * (len(FIELDS) - 1 - _LAST))
)
_LINE_PARTS = [
    f"rtrim(ltrim(json_extract(c.{name}, {_PATHS}), '['), ']')"
    if name in ADDRESS_FIELDS
    else f"c.{name}"
    for name in FIELDS
]
_FAST_COLUMNS = f"c.rowid, printf('{_FORMAT}', {', '.join(_LINE_PARTS)})"
_NOT_SHAPE = bytes(byte for byte in range(256) if byte not in b'"\\\r\n\x1f')
_SHAPE = b"\x1f" + b'"' * (2 * len(ADDRESS_KEYS) * len(ADDRESS_FIELDS)) + b"\x1f"
_JOINED = len(ADDRESS_KEYS) * len(ADDRESS_FIELDS) - 1
_QUOTE = ord('"')
# the commas in a line's fields before the Addresses and after them, when they have none
_COMMAS_BEFORE, _COMMAS_AFTER = max(_FIRST - 1, 0), max(len(FIELDS) - 2 - _LAST, 0)


def _write_csv_fast(
    queries: Queries, status: CampaigncallStatus, flt: Filter, out: BinaryIO
) -> int:
    """A group's lines by the fast way, checked (see above); returns how many."""
    batch: list[bytes] = []
    count = 0

    def flush() -> None:
        batch.append(b"")
        out.write(b"\r\n".join(batch).replace(b"\x1f", b","))
        batch.clear()

    for rowid, line in queries.each_in_status(status, flt, _FAST_COLUMNS, as_bytes=True):
        count += 1
        if line.translate(None, _NOT_SHAPE) == _SHAPE and line.count(b'","') == _JOINED:
            start, end = line.index(b"\x1f"), line.rindex(b"\x1f")
            if (
                line[start + 1] == _QUOTE == line[end - 1]
                and line.count(b",", 0, start) == _COMMAS_BEFORE
                and line.count(b",", end) == _COMMAS_AFTER
            ):
                batch.append(line)
                if len(batch) == _LINES_PER_WRITE:
                    flush()
                continue
        if batch:
            flush()  # the separators become commas in checked lines only
        row = queries.campaigncall_by_rowid(rowid, _FIELD_COLUMNS)
        if row is None:  # cannot be: the same snapshot
            raise StoreError(f"campaigncall row {rowid} went missing during the export")
        out.write(_csv_line(row) + b"\r\n")
    if batch:
        flush()
    return count


# The record as stored, as one JSON object built by SQLite (Addresses as objects).
_JSON_COLUMN = (
    "json_object("
    + ", ".join(
        f"'{name}', json(c.{name})" if name in ADDRESS_FIELDS else f"'{name}', c.{name}"
        for name in FIELDS
    )
    + ")"
)


def write_export(
    queries: Queries,
    out: BinaryIO,
    *,
    status: CampaigncallStatus | None = None,
    flt: Filter = NO_FILTER,
    fmt: ExportFormat = "csv",
    escape: bool = False,
) -> int:
    """Write the campaigncalls of one status (None: all three, dialing first) under a filter
    to `out`, as UTF-8; returns how many. `escape`: for a terminal (see the module). `queries`
    is held until the end: give it a Queries of its own."""
    statuses = CAMPAIGNCALL_STATUSES if status is None else (status,)
    rows = 0
    if fmt == "csv":
        out.write(",".join(csv_header()).encode() + b"\r\n")
        for each in statuses:
            if _FAST and not escape:
                rows += _write_csv_fast(queries, each, flt, out)
                continue
            for row in queries.each_in_status(each, flt, _FIELD_COLUMNS):
                out.write(_csv_line(row, escape=escape) + b"\r\n")
                rows += 1
        return rows
    if fmt != "json":
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    out.write(b"[")
    separator = b"\n"
    for each in statuses:
        for (item,) in queries.each_in_status(each, flt, _JSON_COLUMN, as_bytes=True):
            if escape:
                item = visible(_text(item)).encode("utf-8", "backslashreplace")
            out.write(separator + item)
            separator = b",\n"
            rows += 1
    out.write(b"\n]\n" if rows else b"]\n")
    return rows


def open_export_stream(fileno: int) -> BinaryIO:
    """A buffered binary stream over an open file descriptor (stdout, a new file), as
    `write_export` writes; closing it leaves the descriptor open."""
    return open(fileno, "wb", buffering=_BUFFER, closefd=False)  # the caller closes it


def export_to_file(
    db_path: Path | str,
    path: Path,
    *,
    status: CampaigncallStatus | None = None,
    flt: Filter = NO_FILTER,
    fmt: ExportFormat = "csv",
) -> int:
    """Export into a file, whole or not at all: written beside it under a temporary name
    (`.NAME.*.part`, which a drop folder ignores) and renamed over it when complete. The
    database is only read (store.readonly: refused unless it is a campaigncalls database of
    this schema, no -wal or -shm left behind). Returns how many rows."""
    with reading(db_path) as queries:
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
