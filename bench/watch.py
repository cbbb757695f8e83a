"""1,000 single-event files dropped one after another into a folder the real watcher watches."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data
from bench.apply import raw_apply_file, raw_connect
from bench.report import Figure
from store.dropfolder import FileReport, ensure_drop_dir
from store.watcher import DropFolderWatcher

FILES = 1_000


def drop(drop_dir: Path, name: str, content: bytes) -> None:
    """Write as a writer should: a dot-file first, then rename it into place."""
    part = drop_dir / f".{name}.part"
    part.write_bytes(content)
    os.replace(part, drop_dir / name)


async def _watch_all(db_path: Path, drop_dir: Path, contents: list[bytes]) -> float:
    reports: list[FileReport] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_report(report: FileReport) -> None:
        reports.append(report)
        if len(reports) == len(contents):
            loop.call_soon_threadsafe(done.set)

    watcher = DropFolderWatcher(db_path, drop_dir, on_report)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.sleep(0.5)  # the backlog pass and awatch's start
    started = time.perf_counter()
    for n, content in enumerate(contents):
        drop(drop_dir, f"{n:06d}-hangup.json", content)
        if n % 50 == 0:
            await asyncio.sleep(0)
    await asyncio.wait_for(done.wait(), timeout=600)
    seconds = time.perf_counter() - started
    stop.set()
    await task
    watcher.close()
    rejected = [r for r in reports if r.rejected]
    assert not rejected, rejected[0].error_text()
    return seconds


def raw_files(db_path: Path, drop_dir: Path, contents: list[bytes]) -> float:
    """Baseline: the same files, each read and applied by raw_apply in its own transaction."""
    processed = drop_dir / "processed"
    conn = raw_connect(db_path)
    started = time.perf_counter()
    for n, content in enumerate(contents):
        path = drop_dir / f"{n:06d}-hangup.json"
        drop(drop_dir, path.name, content)
        raw_apply_file(conn, path)
        os.replace(path, processed / path.name)
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    source = data.database(seed, calls)
    events: list[Any] = data.hangup_events(source, FILES, seed + 1)
    contents = [json.dumps([e], ensure_ascii=False).encode() for e in events]
    n = len(contents)
    data.log(f"watch: {n:,} single-event files into a watched folder")
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        raw_dir = root / "raw-drop"
        ensure_drop_dir(raw_dir)
        raw_s = raw_files(data.copy_database(source, root, "raw.db"), raw_dir, contents)
        drop_dir = root / "drop"
        ensure_drop_dir(drop_dir)
        db_path = data.copy_database(source, root, "real.db")
        real_s = asyncio.run(_watch_all(db_path, drop_dir, contents))
        conn = sqlite3.connect(db_path)
        applied = conn.execute("SELECT count(*) FROM events WHERE outcome = 'applied'").fetchone()
        conn.close()
        assert applied[0] == n, applied
    return [
        Figure(
            f"watch {n:,} one-event files",
            n / real_s,
            "files/s",
            "higher",
            baseline=n / raw_s,
            baseline_name="raw, txn per file",
            note=(
                "files written (.part, then rename) as fast as one writer can; timed from the"
                " first rename to the watcher's last report (DropFolderWatcher, watchfiles);"
                " baseline: each file read, applied by the raw-sqlite3 minimum, committed and"
                " moved, in a loop"
            ),
            extra={"real_s": real_s, "raw_s": raw_s},
        )
    ]
