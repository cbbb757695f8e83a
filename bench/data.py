"""Benchmark data: seeded databases and bundle files, built once per (seed, calls) and cached."""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fixtures.generate import stream_bundle, uuid4_text, write_bundle
from store.db import RECORD_TABLES, SCHEMA_VERSION, connect, fill_group_order
from store.rows import JSON_COLUMNS, record_columns
from store.targets import refresh_retry_plans

SEED = 7
CAMPAIGNS = 3
# Bump when the way the data is built changes, so stale caches are not reused.
DATA_VERSION = 1
HANGUP_REASONS = ("normal", "normal", "busy", "noanswer", "normal", "cancel", "timeout", "failed")


def cache_dir() -> Path:
    """Where built databases and bundles live between runs (BENCH_CACHE overrides)."""
    folder = Path(
        os.environ.get("BENCH_CACHE") or Path(tempfile.gettempdir()) / "campaigncalls-bench"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _key(seed: int, calls: int) -> str:
    return f"s{seed}-c{calls}-v{DATA_VERSION}-schema{SCHEMA_VERSION}"


def _cached(name: str, build: Callable[[Path, int, int], None], seed: int, calls: int) -> Path:
    """The cached file of that name, built first if it is not there. Looked for and built under
    a lock: a second run at once waits for the first to finish building, then takes it."""
    path = cache_dir() / name
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not path.is_file():
                build(path, seed, calls)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


def log(message: str) -> None:
    print(f"  · {message}", flush=True)


def _row_values(columns: list[str], record: dict[str, Any]) -> list[Any]:
    """A generator record as the values of a row, JSON columns as text (store.db's form)."""
    values = []
    for column in columns:
        value = record.get(column)
        if column in JSON_COLUMNS and value is not None and not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        values.append(value)
    return values


def _insert_sql(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def raw_insert(
    conn: sqlite3.Connection,
    records: dict[str, list[dict[str, Any]]],
    campaigncalls: Iterable[dict[str, Any]],
) -> int:
    """Plain executemany of every record in one transaction: the floor a bulk load stands on."""
    conn.execute("BEGIN IMMEDIATE")
    rows = 0
    for table, model in RECORD_TABLES.items():
        columns = record_columns(model)
        source = campaigncalls if table == "campaigncalls" else records.get(table, [])
        counted = _counting(source)
        conn.executemany(_insert_sql(table, columns), (_row_values(columns, r) for r in counted))
        rows += counted.n
    conn.execute("COMMIT")
    return rows


class _counting:
    def __init__(self, source: Iterable[dict[str, Any]]) -> None:
        self.source = source
        self.n = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for item in self.source:
            self.n += 1
            yield item


def database(seed: int, calls: int) -> Path:
    """A database holding the seeded bundle of `calls` campaigncalls (built on first use).

    Built the fast way (raw executemany, then the store's own retry-plan refresh), so the
    benchmarks that only read it or apply events to it do not wait for the load path.
    """
    return _cached(f"db-{_key(seed, calls)}.sqlite", _build_database, seed, calls)


def _build_database(path: Path, seed: int, calls: int) -> None:
    started = time.perf_counter()
    log(f"building the {calls:,}-campaigncall database (seed {seed}) at {path}")
    partial = path.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    db = connect(partial, create=True)
    conn = db.conn
    records, stream = stream_bundle(seed, CAMPAIGNS, 0, calls)
    raw_insert(conn, records, stream)
    target_ids = [t["id"] for t in records["outdialtargets"]]
    conn.execute("BEGIN IMMEDIATE")
    fill_group_order(conn)  # raw rows carry no tm_order
    refresh_retry_plans(conn, target_ids)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    os.replace(partial, path)
    log(f"built in {time.perf_counter() - started:.1f} s")


def live_database(seed: int, calls: int) -> Path:
    """A campaign in full swing: `calls` call campaigncalls, every one dialing, each the first
    dial of its own target (built on first use, cached).

    The seeded bundle's campaigns, outplans and outdials, with targets made by the same
    generator; each target of a call campaign gets one campaigncall on the first slot its
    outplan dials (try 1), and the target is progressing with that dial counted, as rule 4
    leaves it. So every hangup of it is applied, as in the apply benchmark's baseline.
    """
    return _cached(f"live-{_key(seed, calls)}.sqlite", _build_live_database, seed, calls)


def _build_live_database(path: Path, seed: int, calls: int) -> None:
    started = time.perf_counter()
    log(f"building the live {calls:,}-campaigncall database (seed {seed}) at {path}")
    partial = path.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    rng = random.Random(seed)
    # no calls: the generator leaves every target undialled (idle, no tries)
    records, _none = stream_bundle(seed, CAMPAIGNS, 2 * calls, 0)
    campaign_of = {c["outdial_id"]: c for c in records["campaigns"]}
    outplans = {o["id"]: o for o in records["outplans"]}
    base = datetime(2026, 11, 20, 9, 0)
    targets: list[dict[str, Any]] = []
    campaigncalls: list[dict[str, Any]] = []
    for target in records["outdialtargets"]:
        if len(campaigncalls) == calls:
            break
        campaign = campaign_of[target["outdial_id"]]
        outplan = outplans[campaign["outplan_id"]]
        slots = [
            i for i in range(5)
            if target[f"destination_{i}"] is not None and outplan[f"max_try_count_{i}"] > 0
        ]  # fmt: skip
        if campaign["type"] != "call" or not slots:
            continue
        slot = slots[0]
        created = (base + timedelta(microseconds=rng.randrange(3_600_000_000))).isoformat(
            sep=" ", timespec="microseconds"
        )
        target = {**target, "status": "progressing", f"try_count_{slot}": 1,
                  "tm_update": created}  # fmt: skip
        targets.append(target)
        campaigncalls.append(
            {
                "id": uuid4_text(rng),
                "campaign_id": campaign["id"],
                "outplan_id": outplan["id"],
                "outdial_id": target["outdial_id"],
                "outdial_target_id": target["id"],
                "queue_id": campaign["queue_id"],
                "activeflow_id": uuid4_text(rng),
                "reference_type": "call",
                "reference_id": uuid4_text(rng),
                "status": "dialing",
                "result": "",
                "source": dict(outplan["source"]),
                "destination": dict(target[f"destination_{slot}"]),
                "destination_index": slot,
                "try_count": 1,
                "tm_create": created,
                "tm_update": None,
            }
        )
    if len(campaigncalls) < calls:
        raise RuntimeError(f"only {len(campaigncalls):,} targets can be dialled, not {calls:,}")
    db = connect(partial, create=True)
    conn = db.conn
    raw_insert(conn, {**records, "outdialtargets": targets}, campaigncalls)
    conn.execute("BEGIN IMMEDIATE")
    fill_group_order(conn)  # raw rows carry no tm_order
    refresh_retry_plans(conn, [t["id"] for t in targets])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    os.replace(partial, path)
    log(f"built in {time.perf_counter() - started:.1f} s")


def bundle_file(seed: int, calls: int) -> Path:
    """The seeded bundle as one JSON file, what `campaigncalls load` reads."""
    return _cached(f"bundle-{_key(seed, calls)}.json", _write_bundle_file, seed, calls)


def _write_bundle_file(path: Path, seed: int, calls: int) -> None:
    started = time.perf_counter()
    log(f"writing the {calls:,}-campaigncall bundle file")
    records, stream = stream_bundle(seed, CAMPAIGNS, 0, calls)
    partial = path.with_suffix(".partial")
    write_bundle(partial, records, stream)
    os.replace(partial, path)
    log(f"written in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 1e6:,.0f} MB)")


def copy_database(source: Path, folder: Path, name: str = "bench.db") -> Path:
    """A private copy of a cached database, so a benchmark may write to it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def active_calls(db_path: Path, limit: int) -> list[tuple[str, str, str]]:
    """(id, reference_id, tm_create) of up to `limit` dialing or progressing call campaigncalls."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(
            "SELECT id, reference_id, tm_create FROM campaigncalls"
            " WHERE status IN ('dialing', 'progressing') AND reference_type = 'call'"
            " ORDER BY rowid LIMIT ?",
            (limit,),
        ).fetchall()
    finally:
        conn.close()


def hangup_event(call_id: str, reason: str, tm_create: str, rng: random.Random) -> dict[str, Any]:
    """A VoIPbin `call_hangup` webhook envelope with the many fields a real call carries."""
    created = datetime.fromisoformat(tm_create)
    stamp = created.isoformat(timespec="microseconds") + "Z"
    ended = created + timedelta(microseconds=rng.randrange(5_000_000, 600_000_000))
    hangup = ended.isoformat(timespec="microseconds") + "Z"
    return {
        "type": "call_hangup",
        "data": {
            "id": call_id,
            "customer_id": "5e4a0680-804e-11ec-8477-2fea5968d85b",
            "owner_type": "",
            "owner_id": "00000000-0000-0000-0000-000000000000",
            "channel_id": f"asterisk-call-{rng.randrange(10**6):06d}-{rng.randrange(10**10)}",
            "bridge_id": "",
            "flow_id": uuid4_text(rng),
            "activeflow_id": uuid4_text(rng),
            "confbridge_id": "00000000-0000-0000-0000-000000000000",
            "type": "flow",
            "master_call_id": "00000000-0000-0000-0000-000000000000",
            "chained_call_ids": [],
            "recording_id": "00000000-0000-0000-0000-000000000000",
            "recording_ids": [],
            "external_media_id": "00000000-0000-0000-0000-000000000000",
            "groupcall_id": "00000000-0000-0000-0000-000000000000",
            "source": {
                "type": "tel",
                "target": "+821022223333",
                "target_name": "",
                "name": "",
                "detail": "",
            },
            "destination": {
                "type": "tel",
                "target": f"+8210{rng.randrange(10**8):08d}",
                "target_name": "",
                "name": "",
                "detail": "",
            },
            "status": "hangup",
            "data": {},
            "action": {
                "id": uuid4_text(rng),
                "type": "talk",
                "option": {"text": "hello", "language": "en-US"},
            },
            "action_next_hold": False,
            "direction": "outgoing",
            "mute_direction": "",
            "hangup_by": "remote",
            "hangup_reason": reason,
            "dialroute_id": "00000000-0000-0000-0000-000000000000",
            "dialroutes": [],
            "tm_ringing": stamp,
            "tm_progressing": stamp,
            "tm_hangup": hangup,
            "tm_create": stamp,
            "tm_update": hangup,
            "tm_delete": "9999-01-01 00:00:00.000000",
            "tm_execute": 1_795_000_000_000_000_000 + rng.randrange(10**15),
        },
    }


def hangup_events(db_path: Path, count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """Hangups for `count` active campaigncalls of the database (fewer if it has fewer)."""
    rng = random.Random(seed)
    return [
        hangup_event(ref, rng.choice(HANGUP_REASONS), created, rng)
        for _id, ref, created in active_calls(db_path, count)
    ]
