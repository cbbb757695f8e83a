"""Loads fixture bundles: read a piece at a time, checked and upserted in one transaction."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, cast

import sqlite_utils
from pydantic import TypeAdapter, ValidationError

from store.db import (
    COUNT_TRIGGER_NAMES,
    COUNT_TRIGGERS,
    RECORD_TABLES,
    StoreError,
    has_text_index,
    rebuild_text_index,
    recount_campaigncalls,
    set_text_triggers_aside,
    transaction,
)
from store.errors import describe_validation_error
from store.jsonstream import JsonStreamError, ListItem, read_lists
from store.models import Campaign, Campaigncall, Outdialtarget, Outplan, Record
from store.rows import record_to_row, stored_columns, upsert_sql
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


# Records checked and written together: big enough to be quick, small enough to hold little.
BATCH = 2_000


def load_bundle(
    db: sqlite_utils.Database,
    name_or_path: str,
    progress: Callable[[dict[str, int]], None] | None = None,
) -> LoadReport:
    """Upsert one bundle; nothing is written unless every record in it is good.

    The file is read a piece at a time (store.jsonstream) and written batch by batch inside
    one transaction, so a bundle of any size costs little memory; a bad record anywhere rolls
    the whole load back, and the error names it (its list, its index, its field).
    `progress` is told the records written so far, per list, after each batch.
    """
    path = resolve_bundle(name_or_path)
    try:
        stream = path.open("rb")
    except OSError as error:
        raise StoreError(f"{path} cannot be read: {error.strerror}") from None
    with stream, gc_paused():
        try:
            return _load(db, path, stream, progress)
        except JsonStreamError as error:
            raise StoreError(f"{path} {error}") from None
        except OSError as error:
            raise StoreError(f"{path} cannot be read: {error.strerror}") from None


def _batches(items: Iterator[ListItem]) -> Iterator[tuple[str, int, list[Any]]]:
    """(list name, index of the first item, items) for runs of up to BATCH items of one list."""
    key, first = "", 0
    batch: list[Any] = []
    for item in items:
        if item.key != key or len(batch) >= BATCH:
            if batch:
                yield key, first, batch
            key, first, batch = item.key, item.index, []
        batch.append(item.value)
    if batch:
        yield key, first, batch


_ADAPTERS: dict[str, TypeAdapter[list[Record]]] = {
    table: TypeAdapter(list[model])  # type: ignore[valid-type]
    for table, model in RECORD_TABLES.items()
}


def _checked(path: Path, table: str, first: int, batch: list[Any]) -> list[Record]:
    try:
        records: list[Record] = _ADAPTERS[table].validate_python(batch)
    except ValidationError as error:
        where = (table, first)
        raise StoreError(
            f"{path} has a bad record: {describe_validation_error(error, within=where)}"
        ) from None
    return records


def _load(
    db: sqlite_utils.Database,
    path: Path,
    stream: BinaryIO,
    progress: Callable[[dict[str, int]], None] | None,
) -> LoadReport:
    conn = db.conn
    counts = dict.fromkeys(RECORD_TABLES, 0)
    columns = {table: stored_columns(model) for table, model in RECORD_TABLES.items()}
    touched: dict[str, None] = {}  # targets whose retry plan may change, in order, once each
    outplans: list[str] = []
    outdials: list[str] = []
    bulk = False
    with transaction(conn):
        # into an empty table, many rows are indexed for the filter once, at the end
        text_once = (
            has_text_index(conn)
            and not conn.execute("SELECT EXISTS (SELECT 1 FROM campaigncalls)").fetchone()[0]
        )
        for table, first, batch in _batches(read_lists(stream, tuple(RECORD_TABLES))):
            records = _checked(path, table, first, batch)
            if table == "campaigncalls" and not bulk:
                if counts[table] + len(records) > BULK_CAMPAIGNCALLS:
                    # many rows: the count triggers are set aside and the counts rebuilt once
                    bulk = True
                    for trigger in COUNT_TRIGGER_NAMES:
                        conn.execute(f"DROP TRIGGER {trigger}")
                    if text_once:
                        set_text_triggers_aside(conn)
            names = columns[table]
            conn.executemany(
                upsert_sql(table, names),
                ([row[c] for c in names] for row in map(record_to_row, records)),
            )
            counts[table] += len(records)
            if progress is not None:
                progress(dict(counts))
            if table == "outdialtargets":
                touched.update((t.id, None) for t in cast(list[Outdialtarget], records))
            elif table == "campaigncalls":
                calls = cast(list[Campaigncall], records)
                touched.update((c.outdial_target_id, None) for c in calls)
            elif table == "outplans":
                outplans += [o.id for o in cast(list[Outplan], records)]
            elif table == "campaigns":
                outdials += [c.outdial_id for c in cast(list[Campaign], records)]
        touched.update(dict.fromkeys(targets_of_outplans(conn, outplans)))
        for start in range(0, len(outdials), 500):
            chunk = outdials[start : start + 500]
            marks = ",".join("?" * len(chunk))
            touched.update(
                (r[0], None)
                for r in conn.execute(
                    f"SELECT id FROM outdialtargets WHERE outdial_id IN ({marks})", chunk
                )
            )
        refresh_retry_plans(conn, touched)
        if bulk:
            recount_campaigncalls(conn)
            for statement in COUNT_TRIGGERS.split("END;")[:-1]:
                conn.execute(statement + "END;")
            if text_once:
                rebuild_text_index(conn)
    return LoadReport(str(path), counts)
