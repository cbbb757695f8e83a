"""Faults: watchers killed at random, two watchers on one folder, a lock held by another process."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import apply_drop_file, ensure_drop_dir, waiting_drop_files
from tests.helpers import bundle, campaigncall, target, write_json

# Columns that differ between two runs over the same files for reasons other than the data.
VOLATILE = {"events": {"tm"}, "drop_files": {"tm", "inode"}}
TABLES = ("campaigns", "outplans", "outdials", "outdialtargets", "campaigncalls",
          "campaigncall_counts", "events", "drop_files")  # fmt: skip


def ident(prefix: str, n: int) -> str:
    return f"{prefix}000000-0000-4000-8000-{n:012x}"


def make_world(tmp_path: Path, calls: int, targets: int = 50) -> Path:
    """A database with `calls` dialing campaigncalls spread over `targets` targets."""
    target_ids = [ident("7b", n) for n in range(targets)]
    records = [
        campaigncall(
            ident("ca", n),
            ref=ident("ee", n),
            target=target_ids[n % targets],
            tm_create=f"2026-11-20 {9 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000000",
        )
        for n in range(calls)
    ]
    world = bundle(
        *records, targets=[target(t, status="progressing", tries=(1, 0)) for t in target_ids]
    )
    db_path = tmp_path / "world.db"
    db = connect(db_path, create=True)
    load_bundle(db, str(write_json(tmp_path / "world.json", world)))
    db.conn.close()
    return db_path


def event_files(calls: int) -> dict[str, list[dict[str, Any]]]:
    """One small file per call: answered, then hung up with a fixed time; every 97th is bad."""
    rng = random.Random(5)
    files = {}
    for n in range(calls):
        reason = "hungup" if n % 97 == 13 else rng.choice(["normal", "busy", "noanswer"])
        tm = f"2026-11-20T10:{n // 60 % 60:02d}:{n % 60:02d}Z"
        files[f"{n:05d}.json"] = [
            {"type": "call_progressing", "data": {"id": ident("ee", n), "tm_progressing": tm}},
            {"campaigncall_id": ident("ca", n), "hangup_reason": reason, "tm": tm},
        ]
    return files


def write_files(folder: Path, files: dict[str, list[dict[str, Any]]], mtime: int) -> None:
    for name, events in files.items():
        write_json(folder / name, events)
        os.utime(folder / name, ns=(mtime, mtime))  # the same identity in both runs


def dump(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table, row by row, without the columns that depend on when or where it ran."""
    conn = sqlite3.connect(db_path)
    tables = {}
    for table in TABLES:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        keep = [c for c in columns if c not in VOLATILE.get(table, set())]
        tables[table] = conn.execute(
            f"SELECT {', '.join(keep)} FROM {table} ORDER BY {', '.join(keep)}"
        ).fetchall()
    conn.close()
    return tables


def start_watch(db_path: Path, drop: Path, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard", "watch", "--db", str(db_path), "--drop-dir", str(drop)],
        text=True,
        **{"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **kwargs},
    )


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    return out or "", err or ""


def wait_until_empty(drop: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while waiting_drop_files(drop):
        assert time.monotonic() < deadline, f"{len(waiting_drop_files(drop))} files left"
        time.sleep(0.05)


def test_a_thousand_files_killed_at_random_end_as_a_clean_run(tmp_path: Path) -> None:
    calls = 1_000
    source = make_world(tmp_path, calls)
    files = event_files(calls)
    mtime = 1_790_000_000 * 10**9

    # the clean run: every file applied once, in name order, nothing killed
    clean_db = tmp_path / "clean.db"
    shutil.copy(source, clean_db)
    clean_drop = tmp_path / "clean-drop"
    ensure_drop_dir(clean_drop)
    write_files(clean_drop, files, mtime)
    db = connect(clean_db)
    for path in waiting_drop_files(clean_drop):
        apply_drop_file(db, path, clean_drop)
    db.conn.close()

    # the same files into `campaigncalls watch`, killed with SIGKILL at random moments. The files
    # arrive in eight batches, in name order, and each batch gets a watcher that is killed while it
    # works, so the number of kills does not depend on how fast this machine happens to be.
    killed_db = tmp_path / "killed.db"
    shutil.copy(source, killed_db)
    drop = tmp_path / "drop"
    ensure_drop_dir(drop)
    rng = random.Random(23)
    names = list(files)
    batches = 8
    size = len(names) // batches
    interrupted = 0
    for start in range(0, len(names), size):
        write_files(drop, {name: files[name] for name in names[start : start + size]}, mtime)
        process = start_watch(killed_db, drop)
        # killed after it has taken a random number of the waiting files (or finished them all)
        left = len(waiting_drop_files(drop)) - rng.randint(1, size // 2)
        while len(waiting_drop_files(drop)) > left and process.poll() is None:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.01))
        process.send_signal(signal.SIGKILL)
        process.wait()
        interrupted += bool(waiting_drop_files(drop))
    assert interrupted >= 1, "every watcher had finished its files before it was killed"
    process = start_watch(killed_db, drop)
    try:
        wait_until_empty(drop)
    finally:
        stop(process)

    # every file ended in processed/ or rejected/ under its own name, and nowhere else
    for folder in ("processed", "rejected"):
        assert sorted(p.name for p in (drop / folder).glob("*.json")) == sorted(
            p.name for p in (clean_drop / folder).glob("*.json")
        ), folder
    assert len(list((drop / "processed").glob("*.json"))) > 900
    assert len(list((drop / "rejected").glob("*.json"))) == sum(
        1 for n in range(calls) if n % 97 == 13
    )
    # the database equals the clean run's, table by table: nothing lost, nothing applied twice
    clean, killed = dump(clean_db), dump(killed_db)
    for table in TABLES:
        assert killed[table] == clean[table], table


def test_two_watchers_on_one_folder_apply_each_file_once(tmp_path: Path) -> None:
    files = 300
    db_path = make_world(tmp_path, files)
    drop = tmp_path / "drop"
    ensure_drop_dir(drop)
    watchers = [start_watch(db_path, drop, stdout=subprocess.PIPE) for _ in range(2)]
    try:
        time.sleep(1.0)  # both started and watching
        for name, events in event_files(files).items():
            write_json(drop / f".{name}.part", events)
            os.replace(drop / f".{name}.part", drop / name)
        wait_until_empty(drop)
        time.sleep(0.5)
    finally:
        outputs = [stop(w)[0] for w in watchers]
    moved = [
        [line.split(":")[0] for line in out.splitlines() if line.endswith("moved to processed/")
         or line.endswith("moved to rejected/")]
        for out in outputs
    ]  # fmt: skip
    # each file was claimed by exactly one of them, and every file was taken
    assert sorted(moved[0] + moved[1]) == [f"{n:05d}.json" for n in range(files)]
    # and both watchers took files: the claim shared the work, not one watcher alone
    assert moved[0] and moved[1], (len(moved[0]), len(moved[1]))
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*), count(DISTINCT name) FROM drop_files").fetchone() == (
        files,
        files,
    )
    assert conn.execute(
        "SELECT count(*) FROM (SELECT file, position FROM events GROUP BY 1, 2 HAVING count(*) > 1)"
    ).fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM events WHERE outcome = 'duplicate'").fetchone() == (
        0,
    )
    assert conn.execute("SELECT count(*) FROM events").fetchone() == (2 * files,)
    conn.close()


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE outdials SET detail = detail")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", flush=True)
"""


def test_a_write_lock_held_by_another_process_delays_watch_and_rejects_nothing(
    tmp_path: Path,
) -> None:
    db_path = make_world(tmp_path, 20)
    drop = tmp_path / "drop"
    ensure_drop_dir(drop)
    watcher = start_watch(db_path, drop, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db_path), "3"], stdout=subprocess.PIPE, text=True
        )
        assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
        for name, events in list(event_files(20).items())[:5]:
            write_json(drop / name, events)
        time.sleep(1.5)
        # the lock is still held: the files wait in the folder, none is rejected for it
        assert len(waiting_drop_files(drop)) == 5
        assert locker.stdout.readline() == "released\n"
        released = time.monotonic()
        locker.wait(timeout=10)
        wait_until_empty(drop, timeout=15)
        assert time.monotonic() - released < 10
    finally:
        out, err = stop(watcher)
    assert sorted(p.name for p in (drop / "processed").iterdir()) == [
        f"{n:05d}.json" for n in range(5)
    ]
    assert not list((drop / "rejected").iterdir())
    assert "rejected" not in out and "Traceback" not in err
    assert watcher.returncode == 0
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM events WHERE outcome = 'applied'").fetchone() == (10,)
    conn.close()


def test_a_kill_between_the_error_file_and_the_move_keeps_the_name(tmp_path: Path) -> None:
    db_path = make_world(tmp_path, 5)
    drop = tmp_path / "drop"
    ensure_drop_dir(drop)
    write_json(drop / "bad.json", {"campaigncall_id": ident("ca", 1), "hangup_reason": "nope"})
    db = connect(db_path)
    apply_drop_file(db, drop / "bad.json", drop)
    # the state a kill right before os.replace leaves: committed, error file written, not moved
    os.replace(drop / "rejected" / "bad.json", drop / "bad.json")
    report = apply_drop_file(db, drop / "bad.json", drop)
    db.conn.close()
    assert report is not None and report.moved_to == drop / "rejected" / "bad.json"
    assert sorted(p.name for p in (drop / "rejected").iterdir()) == [
        "bad.json", "bad.json.error.txt"]  # fmt: skip
