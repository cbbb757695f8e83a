"""Rows <-> records: how a VoIPbin record is stored in a row and read back."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from store.models import SLOTS, Campaigncall, Record

R = TypeVar("R", bound=Record)
# Columns holding JSON text (Addresses and the target's free-form data).
JSON_COLUMNS = frozenset(["source", "destination", "data", *(f"destination_{i}" for i in SLOTS)])


def record_columns(model: type[Record]) -> list[str]:
    return list(model.model_fields)


def group_order(status: str, tm_create: str, tm_update: str | None) -> str:
    """Where a campaigncall sorts in its group (newest first): Done by when it finished,
    Dialing and Progressing by when they started."""
    return (tm_update or tm_create) if status == "done" else tm_create


def stored_columns(model: type[Record]) -> list[str]:
    """A record's columns as stored: its fields, and a campaigncall's `tm_order` too."""
    columns = record_columns(model)
    return [*columns, "tm_order"] if model is Campaigncall else columns


def sqlite_text(text: str) -> str:
    """Text SQLite can store: a lone surrogate (legal in JSON, not in UTF-8) kept as `\\udxxx`."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def record_to_row(record: Record) -> dict[str, Any]:
    """A record as a row: Addresses and data as JSON text, everything else as is."""
    row = record.model_dump()
    for column, value in row.items():
        if column in JSON_COLUMNS:
            row[column] = (
                None if value is None else sqlite_text(json.dumps(value, ensure_ascii=False))
            )
        elif isinstance(value, str):
            row[column] = sqlite_text(value)
    if isinstance(record, Campaigncall):
        row["tm_order"] = group_order(record.status, record.tm_create, record.tm_update)
    return row


def row_to_json(model: type[Record], row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the record's JSON object (JSON columns parsed back, our columns dropped)."""
    record: dict[str, Any] = {}
    for column in model.model_fields:
        value = row.get(column)
        if column in JSON_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        record[column] = value
    return record


def row_to_record(model: type[R], row: dict[str, Any]) -> R:
    return model.model_validate(row_to_json(model, row))


def upsert_sql(table: str, columns: list[str]) -> str:
    """Insert or update a record's row by id; a record written over a stub made from an event
    completes it (`partial` 0; campaigncalls have no stubs)."""
    complete = ", partial = 0" if table != "campaigncalls" else ""
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))}) ON CONFLICT(id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
        + complete
    )
