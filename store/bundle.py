"""Loads fixture bundles: every record checked first, then all upserted in one transaction."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import sqlite_utils
from pydantic import ValidationError

from store.db import (
    COUNT_TRIGGER_NAMES,
    COUNT_TRIGGERS,
    RECORD_TABLES,
    StoreError,
    record_columns,
    record_to_row,
    recount_campaigncalls,
)
from store.errors import describe_validation_error
from store.models import Bundle
from store.targets import refresh_retry_plans, targets_of_outplans

# Above this many campaigncalls, the count triggers are set aside and the counts rebuilt once.
BULK_CAMPAIGNCALLS = 5_000


@contextmanager
def gc_paused() -> Iterator[None]:
    """Many small objects at once: the collector would walk them again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class LoadReport:
    source: str
    counts: dict[str, int]


def bundled_fixture(name: str) -> Path | None:
    """The bundled fixture of that name (`demo` or `demo.json`), if there is one."""
    stem = name.removesuffix(".json")
    candidate = resources.files("fixtures").joinpath(f"{stem}.json")
    return Path(str(candidate)) if candidate.is_file() else None


def bundled_fixture_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".json")
        for p in resources.files("fixtures").iterdir()
        if p.name.endswith(".json")
    )


def resolve_bundle(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = bundled_fixture(name_or_path) if "/" not in name_or_path else None
    if bundled is not None:
        return bundled
    if path.exists():
        raise StoreError(f"{name_or_path} is not a file")
    names = ", ".join(bundled_fixture_names()) or "none"
    raise StoreError(f"there is no file or bundled fixture named {name_or_path} (bundled: {names})")


def read_bundle(path: Path) -> Bundle:
    """Read and check a bundle file; the error names the record (its index) and the field."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise StoreError(f"{path} cannot be read: {error.strerror}") from None
    with gc_paused():
        try:
            return Bundle.model_validate_json(raw)  # the fast path: parsed and checked in Rust
        except ValidationError as error:
            if not any(e["type"] == "json_invalid" for e in error.errors()):
                if not raw.lstrip().startswith(b"{"):
                    pass  # not an object: the plain reading below says what it is
                else:
                    raise StoreError(
                        f"{path} has a bad record: {describe_validation_error(error)}"
                    ) from None
    # Not JSON, or not an object: read it the plain way, for a message that says why.
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise StoreError(f"{path} is not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise StoreError(
            f"{path} is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise StoreError(f"{path} is nested too deeply to be a bundle") from None
    if not isinstance(data, dict):
        raise StoreError(
            f"{path} is not a bundle: expected an object with lists "
            f"{', '.join(RECORD_TABLES)}, got {type(data).__name__}"
        )
    try:
        return Bundle.model_validate(data)
    except ValidationError as error:
        raise StoreError(f"{path} has a bad record: {describe_validation_error(error)}") from None


def load_bundle(db: sqlite_utils.Database, name_or_path: str) -> LoadReport:
    """Upsert one bundle; nothing is written unless every record in it is good."""
    path = resolve_bundle(name_or_path)
    bundle = read_bundle(path)
    with gc_paused():
        return _upsert(db, path, bundle)


def _upsert(db: sqlite_utils.Database, path: Path, bundle: Bundle) -> LoadReport:
    conn = db.conn
    counts: dict[str, int] = {}
    bulk = len(bundle.campaigncalls) > BULK_CAMPAIGNCALLS
    conn.execute("BEGIN IMMEDIATE")
    try:
        if bulk:
            for trigger in COUNT_TRIGGER_NAMES:
                conn.execute(f"DROP TRIGGER {trigger}")
        for table, model in RECORD_TABLES.items():
            records = getattr(bundle, table)
            counts[table] = len(records)
            if not records:
                continue
            columns = record_columns(model)
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))}) ON CONFLICT(id) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
            )
            conn.executemany(
                sql, ([row[c] for c in columns] for row in map(record_to_row, records))
            )
        touched = [t.id for t in bundle.outdialtargets]
        touched += [c.outdial_target_id for c in bundle.campaigncalls]
        touched += targets_of_outplans(conn, [p.id for p in bundle.outplans])
        if bundle.campaigns:
            outdials = [c.outdial_id for c in bundle.campaigns]
            marks = ",".join("?" * len(outdials))
            touched += [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM outdialtargets WHERE outdial_id IN ({marks})", outdials
                )
            ]
        refresh_retry_plans(conn, touched)
        if bulk:
            recount_campaigncalls(conn)
            for statement in COUNT_TRIGGERS.split("END;")[:-1]:
                conn.execute(statement + "END;")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return LoadReport(str(path), counts)
