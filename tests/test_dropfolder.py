"""Drop files in a real folder: moved to processed/ or rejected/, nothing lost, crashes healed."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from store.dropfolder import (
    MAX_FILE_BYTES,
    FileNotReady,
    apply_drop_file,
    is_drop_file_name,
    waiting_drop_files,
)
from tests.helpers import CALL, hangup, progressing, write_json


def table_state(db: sqlite_utils.Database) -> list[object]:
    return [
        db.conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        for t in ("campaigncalls", "outdialtargets")
    ]


def test_a_good_file_moves_to_processed(db: sqlite_utils.Database, drop_dir: Path) -> None:
    path = write_json(drop_dir / "01.json", [progressing(), hangup(reason="normal")])
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and not report.rejected
    assert report.moved_to == drop_dir / "processed" / "01.json"
    assert not path.exists() and report.moved_to.exists()
    assert not list((drop_dir / "rejected").iterdir())


def test_a_file_with_a_bad_event_moves_to_rejected_with_its_reasons(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    path = write_json(drop_dir / "02.json", [progressing(), hangup(reason="hungup")])
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and report.rejected
    moved = drop_dir / "rejected" / "02.json"
    assert moved.exists() and json.loads(moved.read_text())[1]["data"]["hangup_reason"] == "hungup"
    error = (drop_dir / "rejected" / "02.json.error.txt").read_text()
    assert "02.json was rejected:" in error
    assert "- event 1: applied" in error
    assert "- event 2: rejected: unknown hangup reason 'hungup'" in error
    # the good event applied; the fixed file dropped again brings it back as a duplicate
    assert db["campaigncalls"].get(CALL)["status"] == "progressing"
    fixed = write_json(drop_dir / "02.json", [progressing(), hangup(reason="busy")])
    again = apply_drop_file(db, fixed, drop_dir)
    assert again is not None and [o.outcome for o in again.outcomes] == ["duplicate", "applied"]
    assert again.moved_to == drop_dir / "processed" / "02.json"


def test_broken_json_is_rejected_whole_and_kept(db: sqlite_utils.Database, drop_dir: Path) -> None:
    path = drop_dir / "03.json"
    path.write_bytes(b'{"type": "call_hangup", "data": {')
    before = table_state(db)
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and report.rejected
    assert (drop_dir / "rejected" / "03.json").read_bytes() == b'{"type": "call_hangup", "data": {'
    assert (
        "the file: rejected: the file ends before its JSON does"
        in (drop_dir / "rejected" / "03.json.error.txt").read_text()
    )
    assert table_state(db) == before


def test_the_same_name_twice_keeps_both_files(db: sqlite_utils.Database, drop_dir: Path) -> None:
    for _ in range(3):
        path = write_json(drop_dir / "same.json", hangup(reason="busy"))
        apply_drop_file(db, path, drop_dir)
    names = sorted(p.name for p in (drop_dir / "processed").iterdir())
    assert names == ["same.2.json", "same.3.json", "same.json"]
    outcomes = [r[0] for r in db.conn.execute("SELECT outcome FROM events ORDER BY id")]
    assert outcomes == ["applied", "duplicate", "duplicate"]


def test_a_huge_file_is_refused_without_being_read(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    path = drop_dir / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and report.rejected
    assert f"more than the {MAX_FILE_BYTES:,} a drop file may hold" in (
        report.outcomes[0].error or ""
    )
    assert (drop_dir / "rejected" / "huge.json").stat().st_size == MAX_FILE_BYTES + 1


def test_a_folder_named_like_a_drop_file_is_reported_and_left_alone(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    folder = drop_dir / "x.json"
    folder.mkdir()
    report = apply_drop_file(db, folder, drop_dir)
    assert report is not None and report.outcomes[0].error == "this is a folder, not a file"
    assert folder.is_dir() and report.moved_to is None


def test_a_symlink_is_not_followed(
    db: sqlite_utils.Database, drop_dir: Path, tmp_path: Path
) -> None:
    secret = write_json(tmp_path / "elsewhere.json", hangup(reason="normal"))
    link = drop_dir / "link.json"
    link.symlink_to(secret)
    report = apply_drop_file(db, link, drop_dir)
    assert report is not None and report.rejected
    assert "symbolic link" in (report.outcomes[0].error or "")
    assert db["campaigncalls"].get(CALL)["status"] == "dialing"
    assert secret.exists() and (drop_dir / "rejected" / "link.json").is_symlink()


def test_a_file_that_vanished_is_skipped(db: sqlite_utils.Database, drop_dir: Path) -> None:
    assert apply_drop_file(db, drop_dir / "gone.json", drop_dir) is None


def test_a_half_written_file_is_waited_for_not_rejected(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    path = drop_dir / "slow.json"
    path.write_bytes(b'[{"campaigncall_id": "')
    with pytest.raises(FileNotReady):
        apply_drop_file(db, path, drop_dir, settle_seconds=30)
    assert path.exists()
    assert db.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    path.write_text(json.dumps([{"campaigncall_id": CALL, "hangup_reason": "busy"}]))
    report = apply_drop_file(db, path, drop_dir, settle_seconds=30)
    assert report is not None and not report.rejected


def test_a_stale_broken_file_is_rejected_after_settling(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    path = drop_dir / "stale.json"
    path.write_bytes(b"[{")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    report = apply_drop_file(db, path, drop_dir, settle_seconds=30)
    assert report is not None and report.rejected


def test_only_json_names_are_read_in_name_order(drop_dir: Path) -> None:
    for name in [
        "b.json",
        "a.json",
        ".hidden.json",
        "c.json.tmp",
        "d.json.part",
        "e.txt",
        "10.json",
        "2.json",
    ]:
        (drop_dir / name).write_text("{}")
    assert [p.name for p in waiting_drop_files(drop_dir)] == [
        "10.json",
        "2.json",
        "a.json",
        "b.json",
    ]
    assert not is_drop_file_name("x.tmp") and not is_drop_file_name(".x.json")


def test_names_with_spaces_newlines_and_odd_bytes(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    odd = os.fsdecode(b"odd \n name \xff.json")
    path = write_json(drop_dir / odd, hangup(reason="busy"))
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and not report.rejected
    assert (drop_dir / "processed" / odd).exists()


def test_a_failed_transaction_applies_nothing_and_the_file_stays(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    path = write_json(drop_dir / "04.json", [progressing(), hangup(reason="normal")])
    before = table_state(db)
    # make the real transaction fail part-way: the second event's record cannot be written
    db.conn.execute(
        "CREATE TRIGGER fail_midway BEFORE INSERT ON events WHEN new.position = 1"
        " BEGIN SELECT RAISE(ABORT, 'simulated crash'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="simulated crash"):
        apply_drop_file(db, path, drop_dir)
    assert path.exists() and table_state(db) == before
    assert db.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    db.conn.execute("DROP TRIGGER fail_midway")
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and [o.outcome for o in report.outcomes] == ["applied", "applied"]
    assert db["campaigncalls"].get(CALL)["result"] == "success"


def test_a_crash_between_commit_and_move_is_healed_without_applying_twice(
    db: sqlite_utils.Database, drop_dir: Path
) -> None:
    path = write_json(drop_dir / "05.json", hangup(reason="busy"))
    # the move fails (as if the process died right after the commit)
    (drop_dir / "processed").rmdir()
    (drop_dir / "processed").write_text("not a folder")
    with pytest.raises(OSError):
        apply_drop_file(db, path, drop_dir)
    assert path.exists()
    (drop_dir / "processed").unlink()
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and [o.outcome for o in report.outcomes] == ["applied"]
    assert report.moved_to == drop_dir / "processed" / "05.json"
    assert db.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1


def test_each_drop_file_commit_is_durable_before_the_move(tmp_path: Path) -> None:
    # WAL with synchronous NORMAL can lose the last commits to a power cut while the rename
    # into processed/ survives; FULL syncs each commit (SPEC: "Drop files")
    from store.db import connect

    db = connect(tmp_path / "x.db", create=True)
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    db.conn.close()
