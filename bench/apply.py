"""Apply throughput: a 10,000-event drop file through the real path, against raw sqlite3."""

from __future__ import annotations

import gc
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data
from bench.report import Figure
from store.apply import apply_bytes
from store.db import BUSY_TIMEOUT_MS, connect
from store.dropfolder import MAX_FILE_BYTES
from store.rules import HANGUP_REASON_ALIASES, HANGUP_RESULTS
from store.timefmt import now_tm, parse_tm

EVENTS = 10_000
ROUNDS = 3


def raw_connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def raw_apply_file(conn: sqlite3.Connection, drop_file: Path) -> int:
    """The minimum the same hangups need, by hand: one transaction, prepared statements."""
    events = json.loads(drop_file.read_bytes())
    tm = now_tm()
    conn.execute("BEGIN IMMEDIATE")
    for position, event in enumerate(events):
        call = event["data"]
        reason = call["hangup_reason"]
        result = HANGUP_RESULTS[HANGUP_REASON_ALIASES.get(reason, reason)]
        when = parse_tm(call.get("tm_hangup") or call.get("tm_update")) or tm
        cc_id, target_id = conn.execute(
            "SELECT id, outdial_target_id FROM campaigncalls WHERE reference_id = ?",
            (call["id"],),
        ).fetchone()
        conn.execute(
            "UPDATE campaigncalls SET status = 'done', result = ?, tm_update = ? WHERE id = ?",
            (result, when, cc_id),
        )
        conn.execute(
            "UPDATE outdialtargets SET status = ?, tm_update = ? WHERE id = ?",
            ("done" if result == "success" else "idle", when, target_id),
        )
        conn.execute(
            "INSERT INTO events (tm, file, position, type, campaigncall_id, reason, outcome,"
            " raw) VALUES (?, ?, ?, 'call_hangup', ?, ?, 'applied', ?)",
            (tm, drop_file.name, position, cc_id, reason, json.dumps(event)),
        )
    conn.execute("COMMIT")
    return len(events)


def raw_apply(db_path: Path, drop_file: Path) -> int:
    conn = raw_connect(db_path)
    try:
        return raw_apply_file(conn, drop_file)
    finally:
        conn.close()


def real_apply(db_path: Path, drop_file: Path) -> int:
    """store.apply.apply_bytes: the rules, the records and the retry plans, one transaction."""
    db = connect(db_path)
    try:
        outcomes = apply_bytes(db, drop_file.name, drop_file.read_bytes())
    finally:
        db.conn.close()
    rejected = [o.line() for o in outcomes if o.outcome != "applied"]
    assert not rejected, rejected[:3]
    return len(outcomes)


def _timed(fn: Any, *args: Any) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - started, n


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    source = data.database(seed, calls)
    events = data.hangup_events(source, EVENTS, seed)
    if not events:
        return []
    content = json.dumps(events, ensure_ascii=False, separators=(",", ":")).encode()
    data.log(f"apply: {len(events):,} hangups in one {len(content) / 1e6:.1f} MB drop file")
    real_times: list[float] = []
    raw_times: list[float] = []
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        for _round in range(ROUNDS):
            db_path = data.copy_database(source, root, "raw.db")
            path = root / "hangups.json"
            path.write_bytes(content)
            seconds, n = _timed(raw_apply, db_path, path)
            raw_times.append(seconds)
            assert n == len(events)
            db_path = data.copy_database(source, root, "real.db")
            seconds, n = _timed(real_apply, db_path, path)
            real_times.append(seconds)
            assert n == len(events)
    n = len(events)
    real = n / statistics.median(real_times)
    raw = n / statistics.median(raw_times)
    return [
        Figure(
            f"apply {n:,}-event drop file",
            real,
            "events/s",
            "higher",
            baseline=raw,
            baseline_name="raw sqlite3",
            target=">= 10,000/s and >= 0.5x",
            at_least=10_000,
            ratio_at_least=0.5,
            note=(
                f"store.apply.apply_bytes on a copy of the {calls:,}-call database, median of"
                f" {ROUNDS}; the file is {len(content) / 1e6:.1f} MB"
                + (
                    f", over the drop folder's {MAX_FILE_BYTES / 2**20:.0f} MiB cap, so"
                    " apply_drop_file would reject it"
                    if len(content) > MAX_FILE_BYTES
                    else ""
                )
                + ";"
                " baseline: json.loads, then per event SELECT by reference_id, UPDATE"
                " campaigncall, UPDATE target, INSERT event, one transaction"
            ),
            extra={"events": n, "real_s": real_times, "raw_s": raw_times},
        )
    ]
