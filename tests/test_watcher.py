"""The real watcher on a real folder: backlog first in name order, then files as they land."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import sqlite_utils

from store.dropfolder import FileReport
from store.queries import Queries, data_changes
from store.scenarios import drop_file
from store.watcher import DropFolderWatcher, WatcherProblem
from tests.helpers import CALL, hangup, progressing, write_json


async def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_backlog_first_in_name_order_then_new_files(
    db_path: Path, drop_dir: Path, tmp_path: Path
) -> None:
    write_json(drop_dir / "02-hangup.json", hangup(reason="normal"))
    write_json(drop_dir / "01-answer.json", progressing())
    reports: list[FileReport] = []
    watcher = DropFolderWatcher(db_path, drop_dir, reports.append)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await wait_for(lambda: len(reports) == 2)
        assert [r.path.name for r in reports] == ["01-answer.json", "02-hangup.json"]
        assert all(not r.rejected for r in reports)
        # a new file, written elsewhere and renamed in, as a writer should
        source = write_json(tmp_path / "03-again.json", hangup(reason="busy"))
        drop_file(source, drop_dir)
        await wait_for(lambda: len(reports) == 3)
        assert reports[2].outcomes[0].error is not None
        assert "already done with result success" in reports[2].outcomes[0].error
        assert (drop_dir / "rejected" / "03-again.json.error.txt").exists()
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        watcher.close()
    db = sqlite_utils.Database(db_path)
    assert db["campaigncalls"].get(CALL)["result"] == "success"


async def test_ignored_names_stay_and_half_written_files_wait(
    db_path: Path, drop_dir: Path
) -> None:
    reports: list[FileReport] = []
    watcher = DropFolderWatcher(db_path, drop_dir, reports.append, settle_seconds=30)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        for name in (".hidden.json", "a.json.tmp", "b.json.part", "notes.txt"):
            write_json(drop_dir / name, hangup(reason="normal"))
        slow = drop_dir / "slow.json"
        slow.write_text('[{"campaigncall_id": "' + CALL)  # the writer is not done yet
        await asyncio.sleep(0.8)
        assert reports == [] and slow.exists()
        slow.write_text(f'[{{"campaigncall_id": "{CALL}", "hangup_reason": "busy"}}]')
        await wait_for(lambda: len(reports) == 1)
        assert not reports[0].rejected
        for name in (".hidden.json", "a.json.tmp", "b.json.part", "notes.txt"):
            assert (drop_dir / name).exists()
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        watcher.close()


async def test_a_locked_database_delays_but_rejects_nothing(db_path: Path, drop_dir: Path) -> None:
    reports: list[FileReport] = []
    problems: list[WatcherProblem] = []
    watcher = DropFolderWatcher(
        db_path, drop_dir, reports.append, on_problem=problems.append, busy_timeout_ms=200
    )
    blocker = sqlite_utils.Database(db_path)
    blocker.conn.isolation_level = None
    blocker.conn.execute("BEGIN IMMEDIATE")
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        write_json(drop_dir / "01.json", hangup(reason="busy"))
        await wait_for(lambda: problems)
        assert "database is locked" in problems[0] and "stays in the folder" in problems[0]
        assert problems[0].busy  # told as such, so the screen says "database busy"
        assert (drop_dir / "01.json").exists() and reports == []
        blocker.conn.execute("ROLLBACK")
        await wait_for(lambda: len(reports) == 1)
        assert not reports[0].rejected
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        watcher.close()
        blocker.conn.close()


async def test_data_changes_sees_writes_from_another_connection(
    db_path: Path, queries: Queries, db: sqlite_utils.Database
) -> None:
    changes = data_changes(queries, interval=0.01)
    waiter = asyncio.ensure_future(anext(changes))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    from store.apply import apply_bytes

    apply_bytes(
        db, "x.json", b'{"campaigncall_id": "' + CALL.encode() + b'", "hangup_reason": "busy"}'
    )
    await asyncio.wait_for(waiter, 5)
    assert queries.counts().done == 1
    await changes.aclose()
