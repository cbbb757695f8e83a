"""The environment: an older schema, a read-only database, a full disk, a folder gone or locked."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from store.bundle import load_bundle
from store.db import RECORD_TABLES, SCHEMA_VERSION, StoreError, connect
from store.models import Bundle
from store.queries import Queries
from store.rows import record_to_row
from tests.helpers import (
    CALL,
    REF,
    TARGET_2,
    WatchRun,
    bundle,
    campaigncall,
    hangup,
    progressing,
    target,
    watch_until,
    write_json,
)

# What the first build wrote (user_version 0): no retry plan on the targets, no drop_file_id on
# the events, no maintained counts, no drop_files.
SCHEMA_0 = """
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, detail TEXT NOT NULL, type TEXT NOT NULL,
    status TEXT NOT NULL, end_handle TEXT NOT NULL, service_level INTEGER NOT NULL,
    outplan_id TEXT NOT NULL, outdial_id TEXT NOT NULL, queue_id TEXT NOT NULL,
    next_campaign_id TEXT NOT NULL, tm_create TEXT, tm_update TEXT);
CREATE TABLE outplans (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, detail TEXT NOT NULL, source TEXT,
    dial_timeout INTEGER NOT NULL, try_interval INTEGER NOT NULL,
    max_try_count_0 INTEGER NOT NULL, max_try_count_1 INTEGER NOT NULL,
    max_try_count_2 INTEGER NOT NULL, max_try_count_3 INTEGER NOT NULL,
    max_try_count_4 INTEGER NOT NULL, tm_create TEXT, tm_update TEXT);
CREATE TABLE outdials (id TEXT PRIMARY KEY, name TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE outdialtargets (
    id TEXT PRIMARY KEY, outdial_id TEXT NOT NULL, name TEXT NOT NULL, detail TEXT NOT NULL,
    data TEXT, status TEXT NOT NULL,
    destination_0 TEXT, destination_1 TEXT, destination_2 TEXT, destination_3 TEXT,
    destination_4 TEXT, try_count_0 INTEGER NOT NULL, try_count_1 INTEGER NOT NULL,
    try_count_2 INTEGER NOT NULL, try_count_3 INTEGER NOT NULL, try_count_4 INTEGER NOT NULL,
    tm_create TEXT, tm_update TEXT);
CREATE TABLE campaigncalls (
    id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, outplan_id TEXT NOT NULL,
    outdial_id TEXT NOT NULL, outdial_target_id TEXT NOT NULL, queue_id TEXT NOT NULL,
    activeflow_id TEXT NOT NULL, reference_type TEXT NOT NULL, reference_id TEXT NOT NULL,
    status TEXT NOT NULL, result TEXT NOT NULL, source TEXT NOT NULL, destination TEXT NOT NULL,
    destination_index INTEGER NOT NULL, try_count INTEGER NOT NULL,
    tm_create TEXT NOT NULL, tm_update TEXT);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, tm TEXT NOT NULL, file TEXT NOT NULL, position INTEGER,
    type TEXT, campaigncall_id TEXT, reason TEXT, outcome TEXT NOT NULL, error TEXT,
    raw TEXT NOT NULL, content_hash TEXT);
"""
SECOND = "ca000000-0000-4000-8000-000000000002"
EXHAUSTED_TARGET = "7a000000-0000-4000-8000-0000000000e0"


def world() -> dict[str, Any]:
    """The helpers' bundle, with a done call, an exhausted target and a scheduled retry."""
    calls = [
        campaigncall(),
        campaigncall(SECOND, ref="ee000000-0000-4000-8000-000000000002", status="done",
                     result="fail", target="7a000000-0000-4000-8000-000000000002",
                     tm_update="2026-11-20 09:05:00.000000"),
        campaigncall("ca000000-0000-4000-8000-000000000003", ref="ee000000-0000-4000-8000-00000"
                     "0000003", status="done", result="fail", target=EXHAUSTED_TARGET),
    ]  # fmt: skip
    targets = [
        target(tries=(1, 0), status="progressing"),
        target("7a000000-0000-4000-8000-000000000002", tries=(1, 0)),
        target(EXHAUSTED_TARGET, tries=(2, 1)),
    ]
    return bundle(*calls, targets=targets)


def schema_0_database(path: Path, records: dict[str, Any]) -> Path:
    """A database as the first build wrote it, holding `records` (a bundle)."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_0)
    parsed = Bundle.model_validate(records)
    for table in RECORD_TABLES:
        for record in getattr(parsed, table):
            row = record_to_row(record)
            row.pop("tm_order", None)  # schema 5's, not the first build's
            marks = ", ".join("?" * len(row))
            conn.execute(
                f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", list(row.values())
            )
    conn.execute(
        "INSERT INTO events (tm, file, position, type, campaigncall_id, reason, outcome, error,"
        " raw, content_hash) VALUES ('2026-11-20 09:05:00.000000', 'old.json', 0, 'call_hangup',"
        f" '{SECOND}', 'busy', 'applied', NULL, '{{}}', 'abc')"
    )
    conn.commit()
    assert conn.execute("PRAGMA user_version").fetchone() == (0,)
    conn.close()
    return path


def dump(path: Path, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall() for t in tables}
    finally:
        conn.close()


def run(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *map(str, args)],
        capture_output=True, text=True, timeout=60, **kwargs,
    )  # fmt: skip


# ---- an older schema is migrated -----------------------------------------------------------


def test_a_schema_0_database_is_migrated_to_what_a_fresh_load_gives(tmp_path: Path) -> None:
    old = schema_0_database(tmp_path / "old.db", world())
    fresh_db = connect(tmp_path / "fresh.db", create=True)
    load_bundle(fresh_db, str(write_json(tmp_path / "w.json", world())))
    fresh_db.conn.close()

    connect(old).conn.close()
    conn = sqlite3.connect(old)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    # the same columns, in the same tables, as a database made today
    for table in ("outdialtargets", "events", "campaigncall_counts", "drop_files"):
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        assert have == {r[1] for r in sqlite3.connect(tmp_path / "fresh.db").execute(
            f"PRAGMA table_info({table})")}, table  # fmt: skip
    conn.close()
    # the derived data (retry plans, counts) recomputed from the rows
    tables = ("campaigns", "outplans", "outdials", "outdialtargets", "campaigncalls",
              "campaigncall_counts")  # fmt: skip
    assert dump(old, *tables) == dump(tmp_path / "fresh.db", *tables)
    states = dict(sqlite3.connect(old).execute("SELECT id, retry_state FROM outdialtargets"))
    assert states[EXHAUSTED_TARGET] == "exhausted"
    assert states["7a000000-0000-4000-8000-000000000002"] == "scheduled"
    # the old event rows are kept; the store works on the migrated file
    queries = Queries(old)
    assert queries.counts().done == 2 and queries.counts().exhausted == 1
    assert [e.campaigncall_id for e in queries.latest_events()] == [SECOND]
    queries.close()
    applied = run("apply", "--db", old, write_json(tmp_path / "e.json", [progressing(), hangup()]))
    assert applied.returncode == 0, applied.stderr
    shown = run("show", "--db", old, REF, "--json")
    assert shown.returncode == 0 and '"result": "fail"' in shown.stdout
    # opening it again changes nothing
    before = dump(old, *tables, "events")
    connect(old).conn.close()
    assert dump(old, *tables, "events") == before


def test_a_migration_that_fails_leaves_the_old_file_as_it_was(tmp_path: Path) -> None:
    old = schema_0_database(tmp_path / "old.db", world())
    conn = sqlite3.connect(old)
    # a row the recount cannot take: the migration must fail as a whole
    conn.execute("CREATE TABLE campaigncall_counts (campaign_id TEXT NOT NULL, status TEXT "
                 "NOT NULL, result TEXT NOT NULL, n INTEGER NOT NULL CHECK (n < 0),"
                 " PRIMARY KEY (campaign_id, status, result)) WITHOUT ROWID")  # fmt: skip
    conn.commit()
    before = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    with pytest.raises(StoreError, match="cannot be used as a campaigncalls database"):
        connect(old)
    conn = sqlite3.connect(old)
    assert conn.execute("PRAGMA user_version").fetchone() == (0,)
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before
    conn.close()


# ---- a database that is read-only, a disk that is full -------------------------------------


def immutable(path: Path) -> None:
    """Make a file or folder unwritable even for root (chattr +i), or skip the test."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i does not work here: {done.stderr.decode().strip()}")


def mutable(path: Path) -> None:
    subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def loaded(db_path: Path) -> Path:
    """The small bundle's database (conftest's db_path), by the name these tests use."""
    return db_path


def test_a_read_only_database_is_read_and_watch_warns_and_keeps_the_file(
    loaded: Path, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    write_json(drop / "01.json", hangup(reason="busy"))
    immutable(loaded)
    try:
        shown = run("show", "--db", loaded, CALL)
        assert shown.returncode == 0 and CALL in shown.stdout
        # a second of looks after the first warning shows that it is not repeated
        out, err = watch_until(loaded, drop, lambda e: "01.json is not applied yet" in e, 1.0)
    finally:
        mutable(loaded)
    assert "01.json is not applied yet (attempt to write a readonly database)" in err
    assert err.count("01.json is not applied yet") == 1  # told once, not on every look
    assert "Traceback" not in err and (drop / "01.json").exists()
    out, err = watch_until(loaded, drop, lambda e: (drop / "processed" / "01.json").exists())
    assert (drop / "processed" / "01.json").exists(), err


def test_apply_to_a_read_only_database_says_so_in_one_sentence(
    loaded: Path, tmp_path: Path
) -> None:
    event = write_json(tmp_path / "e.json", hangup(reason="busy"))
    immutable(loaded)
    try:
        result = run("apply", "--db", loaded, event)
    finally:
        mutable(loaded)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("campaigncalls: ") and "read" in result.stderr


# Runs the command line with a limit on the size of any file it writes (a full disk, for it).
FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv[0] = "campaigncalls"
from dashboard.cli import main
main()
"""


def test_a_full_disk_keeps_the_file_and_says_why(loaded: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    big = campaigncall("ca000000-0000-4000-8000-0000000000f1",
                       ref="ee000000-0000-4000-8000-0000000000f1", target=TARGET_2)  # fmt: skip
    big["destination"]["detail"] = "x" * 300_000  # more than the disk can take
    write_json(drop / "01.json", {"type": "campaigncall_created", "data": big})
    write_json(drop / "02.json", hangup(reason="busy"))
    before = dump(loaded, "campaigncalls", "outdialtargets", "events")
    full = ["-c", FULL_DISK, "200000"]
    out, err = watch_until(loaded, drop, lambda e: "01.json is not applied yet (" in e, prefix=full)
    # SQLite says "database or disk is full" or "disk I/O error" depending on what failed
    assert "01.json is not applied yet (" in err and "disk" in err, err
    assert "Traceback" not in err
    assert (drop / "01.json").exists() and (drop / "02.json").exists()  # name order kept
    assert dump(loaded, "campaigncalls", "outdialtargets", "events") == before
    # room again: both apply
    out, err = watch_until(loaded, drop, lambda e: (drop / "processed" / "02.json").exists())
    assert sorted(p.name for p in (drop / "processed").iterdir()) == ["01.json", "02.json"], err


# ---- the drop folder deleted while watched, or not writable --------------------------------


def test_a_drop_folder_deleted_while_watched_loses_no_file_once_it_is_back(
    loaded: Path, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    run = WatchRun(loaded, drop)
    try:
        run.ready()
        shutil.rmtree(drop)
        # the watcher notices (it says so) and keeps running
        run.wait(lambda e: str(drop) in e.split("stop with Ctrl-C", 1)[1])
        assert run.process.poll() is None, run.err
        drop.mkdir(exist_ok=True)  # put back (the watcher may have made it again already)
        write_json(drop / "01.json", hangup(reason="busy"))
        run.wait(lambda e: (drop / "processed" / "01.json").exists())
    finally:
        out, err = run.stop()
    assert "Traceback" not in err


def test_a_drop_folder_deleted_while_watched_is_warned_about(loaded: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    run = WatchRun(loaded, drop)
    try:
        run.ready()
        shutil.rmtree(drop)
        run.wait(lambda e: str(drop) in e.split("stop with Ctrl-C", 1)[1])
    finally:
        out, err = run.stop()
    assert "Traceback" not in err


def watch_unwritable(db_path: Path, drop: Path, event: dict[str, Any]) -> str:
    """Watch a folder holding 01.json that cannot be written; the watcher's stderr."""
    for sub in ("processed", "rejected"):
        (drop / sub).mkdir(parents=True)
    write_json(drop / "01.json", event)
    immutable(drop)
    try:
        # a second of looks after the first word about 01.json shows that it is not repeated
        _out, err = watch_until(db_path, drop, lambda e: "01.json" in e, 1.0)
    finally:
        mutable(drop)
    return err


def test_a_drop_folder_that_cannot_be_written_keeps_the_file_and_applies_it_once(
    loaded: Path, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    err = watch_unwritable(loaded, drop, hangup(reason="busy"))
    assert "Operation not permitted" in err and (drop / "01.json").exists()
    out, err = watch_until(loaded, drop, lambda e: (drop / "processed" / "01.json").exists())
    assert (drop / "processed" / "01.json").exists()
    conn = sqlite3.connect(loaded)
    assert conn.execute("SELECT outcome, count(*) FROM events GROUP BY 1").fetchall() == [
        ("applied", 1)
    ]
    conn.close()


def test_an_unwritable_drop_folder_does_not_pile_up_error_files(
    loaded: Path, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    err = watch_unwritable(loaded, drop, hangup(reason="nosuchreason"))
    assert err.count("01.json is applied but cannot be moved") == 1, err
    assert len(list((drop / "rejected").iterdir())) <= 1


def test_a_schema_2_database_gets_the_text_index_filled_from_its_rows(tmp_path: Path) -> None:
    from fixtures.generate import generate_bundle
    from store.queries import Filter

    data = generate_bundle(seed=6, campaigns=2, targets=30, calls=60)
    db_path = tmp_path / "x.db"
    db = connect(db_path, create=True)
    load_bundle(db, str(write_json(tmp_path / "b.json", data)))
    # as schema 2 left it: no text index, no triggers for it
    for trigger in ("insert", "delete", "update"):
        db.conn.execute(f"DROP TRIGGER campaigncalls_text_{trigger}")
    db.conn.execute("DROP TABLE campaigncall_text")
    db.conn.execute("PRAGMA user_version = 2")
    db.conn.close()
    call = data["campaigncalls"][7]
    db = connect(db_path)
    assert db.conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    queries = Queries(db_path)
    assert queries._has_text_index
    text = call["destination"]["target"]
    hits = queries._hits(text)
    assert hits is not None and hits.count > 0
    found = queries.rows_in_status(call["status"], 0, 100, Filter(text=text))
    assert call["id"] in [r.id for r in found]
    db.conn.execute(
        "INSERT INTO campaigncall_text(campaigncall_text, rank) VALUES ('integrity-check', 1)"
    )
