"""Rows <-> records: how a VoIPbin record is stored in a row and read back."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from store.models import SLOTS, Record

R = TypeVar("R", bound=Record)
# Columns holding JSON text (Addresses and the target's free-form data).
JSON_COLUMNS = frozenset(["source", "destination", "data", *(f"destination_{i}" for i in SLOTS)])


def record_columns(model: type[Record]) -> list[str]:
    return list(model.model_fields)


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
