"""A watcher killed with SIGKILL at random moments loses nothing and applies nothing twice."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlite_utils

from store.bundle import load_bundle
from store.db import connect
from tests.helpers import TARGET_2, bundle, campaigncall, write_json

CALLS = 400
FILES = 40


def make_world(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    ids = [f"ca000000-0000-4000-8000-{n:012x}" for n in range(1, CALLS + 1)]
    calls = [
        campaigncall(
            i,
            ref=i.replace("ca", "ee", 1),
            target=TARGET_2,
            tm_create=f"2026-11-20 09:{n // 60:02d}:{n % 60:02d}.000000",
        )
        for n, i in enumerate(ids)
    ]
    db_path = tmp_path / "x.db"
    db = connect(db_path, create=True)
    load_bundle(db, str(write_json(tmp_path / "b.json", bundle(*calls))))
    db.conn.close()
    drop = tmp_path / "drop"
    drop.mkdir()
    per_file = CALLS // FILES
    for f in range(FILES):
        chunk = ids[f * per_file : (f + 1) * per_file]
        events = [
            {"campaigncall_id": i, "hangup_reason": random.choice(["normal", "busy"])}
            for i in chunk
        ]
        write_json(drop / f"{f:03d}.json", events)
    return db_path, drop, ids


def start_watch(db_path: Path, drop: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard", "watch", "--db", str(db_path), "--drop-dir", str(drop)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_at_random_moments_then_restart(tmp_path: Path) -> None:
    random.seed(11)
    db_path, drop, ids = make_world(tmp_path)
    for _ in range(6):
        process = start_watch(db_path, drop)
        time.sleep(random.uniform(0.3, 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
    process = start_watch(db_path, drop)
    try:
        deadline = time.monotonic() + 60
        while list(drop.glob("*.json")):
            assert time.monotonic() < deadline, "files left in the folder"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    db = sqlite_utils.Database(db_path)
    # every file ended in processed/, every event applied exactly once
    assert len(list((drop / "processed").glob("*.json"))) == FILES
    assert not list((drop / "rejected").glob("*.json"))
    applied = db.conn.execute(
        "SELECT campaigncall_id, count(*) FROM events WHERE outcome = 'applied' GROUP BY 1"
    ).fetchall()
    assert len(applied) == CALLS and all(n == 1 for _, n in applied)
    assert (
        db.conn.execute("SELECT count(*) FROM campaigncalls WHERE status = 'done'").fetchone()[0]
        == CALLS
    )
    counts = dict(
        db.conn.execute("SELECT status, sum(n) FROM campaigncall_counts GROUP BY status").fetchall()
    )
    assert counts.get("done") == CALLS and counts.get("dialing", 0) == 0
    first_outcome = {
        json.loads(raw)["campaigncall_id"]: outcome
        for raw, outcome in db.conn.execute("SELECT raw, outcome FROM events ORDER BY id DESC")
    }
    assert set(first_outcome) == set(ids)
