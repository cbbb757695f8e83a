"""Out of order: a hangup that comes before its campaigncall waits, parked, and is applied then."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from store.apply import EventOutcome, apply_bytes
from store.dropfolder import FileReport, apply_drop_file, expire_parked_to_folder
from store.watcher import DropFolderWatcher
from tests.helpers import TARGET_2, campaigncall, created, hangup, progressing, write_json
from tests.test_apply import snapshot

LATE = "ca000000-0000-4000-8000-00000000a001"
LATE_REF = "ee000000-0000-4000-8000-00000000a001"


def late_call() -> dict[str, Any]:
    return campaigncall(LATE, ref=LATE_REF, target=TARGET_2, tm_create="2026-11-20 10:00:00.000000")


def outcomes_of(db: sqlite_utils.Database) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in db.conn.execute("SELECT outcome, file FROM events ORDER BY id")]


def test_a_hangup_before_its_campaigncall_is_parked_then_applied(db: sqlite_utils.Database) -> None:
    before = snapshot(db)
    early = apply_bytes(
        db,
        "01-hangup.json",
        json.dumps([progressing(LATE_REF), hangup(LATE_REF, "normal")]).encode(),
    )
    assert [o.outcome for o in early] == ["parked", "parked"]
    assert f"waiting for a campaigncall with id or reference_id {LATE_REF}" in (
        early[1].error or ""
    )
    assert snapshot(db) == before  # nothing applied yet
    released: list[EventOutcome] = []
    arrived = apply_bytes(
        db, "02-created.json", json.dumps(created(late_call())).encode(), released
    )
    assert [o.outcome for o in arrived] == ["applied"]
    assert [(o.file, o.position, o.outcome) for o in released] == [
        ("01-hangup.json", 0, "applied"),
        ("01-hangup.json", 1, "applied"),
    ]
    call = db["campaigncalls"].get(LATE)
    assert (call["status"], call["result"]) == ("done", "success")
    assert db["outdialtargets"].get(TARGET_2)["status"] == "done"
    # the parked rows now say what became of them; nothing is parked any more
    assert outcomes_of(db) == [
        ("applied", "01-hangup.json"),
        ("applied", "01-hangup.json"),
        ("applied", "02-created.json"),
    ]
    assert db["parked_events"].count == 0
    # dropped again, they are duplicates
    again = apply_bytes(db, "01-again.json", json.dumps(hangup(LATE_REF, "normal")).encode())
    assert [o.outcome for o in again] == ["duplicate"]


def test_the_same_parked_event_twice_is_a_duplicate(db: sqlite_utils.Database) -> None:
    event = json.dumps(hangup(LATE_REF, "busy")).encode()
    assert [o.outcome for o in apply_bytes(db, "a.json", event)] == ["parked"]
    assert [o.outcome for o in apply_bytes(db, "b.json", event)] == ["duplicate"]
    assert db["parked_events"].count == 1


def test_a_bad_reason_is_rejected_at_once_not_parked(db: sqlite_utils.Database) -> None:
    outcomes = apply_bytes(db, "a.json", json.dumps(hangup(LATE_REF, "alien")).encode())
    assert outcomes[0].outcome == "rejected" and "unknown hangup reason" in (
        outcomes[0].error or ""
    )


def test_created_and_hangup_in_one_file_in_the_wrong_order(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    path = write_json(drop_dir / "mixed.json", [hangup(LATE_REF, "busy"), created(late_call())])
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and not report.rejected
    assert [o.outcome for o in report.outcomes] == ["parked", "applied"]
    assert [o.outcome for o in report.released] == ["applied"]
    assert report.moved_to == drop_dir / "processed" / "mixed.json"
    assert db["campaigncalls"].get(LATE)["result"] == "fail"


def test_a_parked_shorthand_hangup_expires_into_rejected_with_its_reason(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    # written by hand: a campaigncall that never comes is a mistake to show
    shorthand = {"reference_id": LATE_REF, "hangup_reason": "busy"}
    path = write_json(drop_dir / "early.json", [shorthand])
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and report.moved_to == drop_dir / "processed" / "early.json"
    assert expire_parked_to_folder(db, drop_dir, 3600) == []  # not old enough
    time.sleep(0.01)
    [expired] = expire_parked_to_folder(db, drop_dir, 0)
    kept = drop_dir / "rejected" / "early.event1.json"
    assert expired.moved_to == kept
    assert json.loads(kept.read_text()) == shorthand
    error = (drop_dir / "rejected" / "early.event1.json.error.txt").read_text()
    assert f"no campaigncall with id or reference_id {LATE_REF} arrived within 0 s" in error
    assert "Its campaigncall never arrived" in error
    assert outcomes_of(db) == [("rejected", "early.json")]
    assert db["parked_events"].count == 0
    # the campaigncall arriving now changes nothing for the expired hangup
    apply_bytes(db, "late.json", json.dumps(created(late_call())).encode())
    assert db["campaigncalls"].get(LATE)["status"] == "dialing"
    # and the expired hangup, dropped again, applies
    again = apply_bytes(db, "retry.json", kept.read_bytes())
    assert [o.outcome for o in again] == ["applied"]


def test_a_call_no_campaigncall_claims_ends_ignored(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    # VoIPbin's outgoing call that no campaigncall claims was not a campaign's call
    path = write_json(drop_dir / "early.json", [hangup(LATE_REF, "busy")])
    apply_drop_file(db, path, drop_dir)
    time.sleep(0.01)
    assert expire_parked_to_folder(db, drop_dir, 0) == []  # nothing for rejected/
    assert list((drop_dir / "rejected").iterdir()) == []
    row = db.conn.execute("SELECT outcome, error, summary, raw FROM events").fetchone()
    assert row == ("ignored", None, "no campaigncall claimed it within 0 s: not a campaign's", "")
    assert db["parked_events"].count == 0


async def test_the_watcher_expires_parked_events(db_path: Path, drop_dir: Path) -> None:
    reports: list[FileReport] = []
    watcher = DropFolderWatcher(db_path, drop_dir, reports.append, park_seconds=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        write_json(drop_dir / "early.json", {"reference_id": LATE_REF, "hangup_reason": "busy"})
        deadline = time.monotonic() + 10
        while len(reports) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert reports[0].outcomes[0].outcome == "parked"
        assert reports[1].outcomes[0].outcome == "rejected"
        assert (drop_dir / "rejected" / "early.event1.json").exists()
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        watcher.close()


def test_a_schema_1_database_is_migrated_and_can_park(db_path: Path) -> None:
    import sqlite3

    from store.db import SCHEMA_VERSION, connect

    # make the file look as schema 1 wrote it: no parked_events, no tm_resolved, old indexes
    conn = sqlite3.connect(db_path)
    conn.executescript(
        "DROP TABLE parked_events; DROP INDEX events_seen_content;"
        " DROP INDEX campaigncalls_reference_time; ALTER TABLE events DROP COLUMN tm_resolved;"
        " CREATE INDEX campaigncalls_reference ON campaigncalls(reference_id);"
        " CREATE INDEX events_applied_content ON events(content_hash) WHERE outcome = 'applied';"
        " PRAGMA user_version = 1;"
    )
    conn.close()
    db = connect(db_path)
    indexes = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"campaigncalls_reference_time", "events_seen_content"} <= indexes
    assert not {"campaigncalls_reference", "events_applied_content"} & indexes
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [
        o.outcome for o in apply_bytes(db, "a.json", json.dumps(hangup(LATE_REF)).encode())
    ] == ["parked"]
    assert [
        o.outcome for o in apply_bytes(db, "b.json", json.dumps(created(late_call())).encode())
    ] == ["applied"]
    assert db["campaigncalls"].get(LATE)["status"] == "done"
