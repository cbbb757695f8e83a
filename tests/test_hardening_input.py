"""Hostile input by hand: markup and escapes everywhere, huge strings and files, deep JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from store.apply import apply_bytes
from store.dropfolder import apply_drop_file
from store.watcher import DropFolderWatcher
from tests.helpers import CALL, TARGET_2, campaigncall, created, hangup, write_json

NASTY = "[bold red]x[/] [/] [link=http://e.x]l[/link] \x1b[2J\x1b]0;title\x07 \x9b31m \r\x08\x00 ok"


def test_markup_and_escapes_in_every_string_field_are_kept_and_shown_literally(
    db: sqlite_utils.Database, db_path: Path
) -> None:
    record = campaigncall("ca000000-0000-4000-8000-0000000000d1",
                          ref="ee000000-0000-4000-8000-0000000000d1", target=TARGET_2)  # fmt: skip
    for side in ("source", "destination"):
        record[side] = {
            "type": "tel",
            **{k: NASTY for k in ("target", "target_name", "name", "detail")},
        }
    outcomes = apply_bytes(db, "nasty.json", json.dumps(created(record)).encode())
    assert [o.outcome for o in outcomes] == ["applied"], outcomes[0].error
    event = hangup(record["reference_id"], "busy", hangup_by=NASTY, extra_text=NASTY)
    assert [o.outcome for o in apply_bytes(db, "h.json", json.dumps(event).encode())] == ["applied"]
    # stored exactly as sent
    stored = db["campaigncalls"].get(record["id"])
    assert json.loads(stored["destination"]) == record["destination"]
    assert json.loads(stored["source"]) == record["source"]
    # shown literally: `show` prints no control character; --json gives the values back exactly
    shown = subprocess.run(
        [sys.executable, "-m", "dashboard", "show", "--db", str(db_path), record["id"]],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "[bold red]x[/]" in shown.stdout and "[link=http://e.x]" in shown.stdout
    assert not any(ord(c) < 32 and c != "\n" or 0x7F <= ord(c) < 0xA0 for c in shown.stdout)
    as_json = subprocess.run(
        [sys.executable, "-m", "dashboard", "show", "--db", str(db_path), record["id"], "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    detail = json.loads(as_json.stdout)
    assert detail["campaigncall"]["destination"] == record["destination"]
    assert [e["outcome"] for e in detail["events"]] == ["applied", "applied"]


def test_a_one_megabyte_string_is_stored_whole(db: sqlite_utils.Database, drop_dir: Path) -> None:
    record = campaigncall("ca000000-0000-4000-8000-0000000000d2",
                          ref="ee000000-0000-4000-8000-0000000000d2", target=TARGET_2)  # fmt: skip
    record["destination"]["name"] = "김" * (1 << 20)
    path = write_json(drop_dir / "big.json", created(record))
    report = apply_drop_file(db, path, drop_dir)
    assert report is not None and not report.rejected
    stored = json.loads(db["campaigncalls"].get(record["id"])["destination"])
    assert stored["name"] == "김" * (1 << 20)


@pytest.mark.parametrize("depth", [100_000, 990, 500])
def test_deep_nesting_inside_an_event_never_escapes(
    db: sqlite_utils.Database, drop_dir: Path, depth: int
) -> None:
    deep = "[" * depth + "]" * depth
    text = json.dumps(hangup(reason="busy"))[:-2] + f', "extra": {deep}}}}}'
    path = drop_dir / f"deep-{depth}.json"
    path.write_text(text)
    report = apply_drop_file(db, path, drop_dir)  # must not raise RecursionError
    assert report is not None and report.moved_to is not None
    if depth > 1000:
        assert report.rejected and "nested too deeply" in (report.outcomes[0].error or "")
    else:
        assert [o.outcome for o in report.outcomes] in (["applied"], ["rejected"])


PEAK = """
import os, resource, sys
from pathlib import Path
from store.dropfolder import apply_drop_file
from store.db import connect
db = connect(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = apply_drop_file(db, Path(sys.argv[2]), Path(sys.argv[3]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(report.outcomes[0].error)
print((after - before) // 1024)
"""


def make_huge(path: Path) -> Path:
    with path.open("wb") as handle:
        handle.write(b'[{"campaigncall_id": "' + CALL.encode() + b'", "hangup_reason": "busy"}')
        handle.truncate(100 * 1024 * 1024)  # 100 MB, sparse: costs no disk
    return path


def test_a_100_mb_drop_file_is_refused_with_little_memory(db_path: Path, drop_dir: Path) -> None:
    path = make_huge(drop_dir / "huge.json")
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(db_path), str(path), str(drop_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    error, grown_mib = done.stdout.splitlines()
    assert "more than the" in error and int(grown_mib) < 20
    assert (drop_dir / "rejected" / "huge.json").stat().st_size == 100 * 1024 * 1024


def test_apply_refuses_a_100_mb_file_with_little_memory(db_path: Path, tmp_path: Path) -> None:
    path = make_huge(tmp_path / "huge.json")
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "apply", "--db", str(db_path), str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "more than the" in err, err


@pytest.mark.parametrize("kind", ["dangling", "folder", "device", "database"])
def test_symlinks_of_every_kind_are_not_followed_by_the_watcher(
    db_path: Path, drop_dir: Path, tmp_path: Path, kind: str
) -> None:
    targets: dict[str, Path] = {
        "dangling": tmp_path / "nowhere.json",
        "folder": tmp_path,
        "device": Path("/dev/zero"),
        "database": db_path,
    }
    link = drop_dir / "link.json"
    link.symlink_to(targets[kind])
    before = db_path.stat().st_size
    reports: list[Any] = []
    watcher = DropFolderWatcher(db_path, drop_dir, reports.append)
    try:
        assert watcher.apply_waiting() == 1
    finally:
        watcher.close()
    assert reports[0].rejected and "symbolic link" in reports[0].outcomes[0].error
    assert (drop_dir / "rejected" / "link.json").is_symlink()
    assert db_path.stat().st_size >= before and targets[kind].exists() == (kind != "dangling")


def test_watch_prints_odd_file_names_without_dying(db_path: Path, drop_dir: Path) -> None:
    odd = os.fsdecode(b"odd \n name \xff.json")
    write_json(drop_dir / odd, hangup(reason="busy"))
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "watch", "--db", str(db_path), "--drop-dir",
         str(drop_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while (drop_dir / odd).exists() and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
    finally:
        process.send_signal(2)
        out, err = process.communicate(timeout=20)
    assert b"Traceback" not in err, err.decode(errors="replace")
    assert (drop_dir / "processed" / odd).exists()
    assert f"applied call_hangup {CALL} busy".encode() in out
