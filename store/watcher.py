"""Watches the drop folder: the backlog first in name order, then each file as it lands."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from store.db import WRITE_CACHE_MIB, connect, is_busy_error
from store.dropfolder import (
    PARK_SECONDS,
    FileNotMoved,
    FileNotReady,
    FileReport,
    apply_drop_file,
    ensure_drop_dir,
    expire_parked_to_folder,
    is_drop_file_name,
    waiting_drop_files,
)

log = logging.getLogger(__name__)

# A file that is not valid JSON yet and changed less than this long ago is waited for.
SETTLE_SECONDS = 1.0
# watchfiles waits for a pause of STEP_MS in the changes, but never more than DEBOUNCE_MS: a
# steady stream of files (one every 10 ms) must not hold a file back for long.
DEBOUNCE_MS = 50
STEP_MS = 10
# How often the folder is looked at again while a half-written file is waited for.
RECHECK_MS = 250


@dataclass(frozen=True)
class WatcherProblem:
    """Why files wait in the folder; `busy` when another writer holds the database."""

    text: str
    busy: bool = False

    def __str__(self) -> str:
        return self.text

    def __contains__(self, words: str) -> bool:
        return words in self.text


def _drop_file_filter(change: watchfiles.Change, path: str) -> bool:
    return change != watchfiles.Change.deleted and is_drop_file_name(Path(path).name)


class DropFolderWatcher:
    """Applies every drop file of one folder to one database, reporting each file applied."""

    def __init__(
        self,
        db_path: Path | str,
        drop_dir: Path | str,
        on_report: Callable[[FileReport], None],
        *,
        on_problem: Callable[[WatcherProblem], None] | None = None,
        settle_seconds: float = SETTLE_SECONDS,
        park_seconds: float = PARK_SECONDS,
        busy_timeout_ms: int | None = None,
        cache_mib: int = WRITE_CACHE_MIB,
    ) -> None:
        self.db_path = Path(db_path)
        self.drop_dir = Path(drop_dir)
        self.on_report = on_report
        self.on_problem = on_problem or (lambda problem: log.warning("%s", problem))
        self._problems: set[WatcherProblem] = set()
        self.settle_seconds = settle_seconds
        self.park_seconds = park_seconds
        self._db = connect(self.db_path, cache_mib=cache_mib)
        if busy_timeout_ms is not None:
            # how long a locked database is waited for before the problem is told (and retried)
            self._db.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._seen_unmovable: set[tuple[str, str | None]] = set()
        # held while files are applied: close() waits for the file in hand, then stops
        self._applying = threading.Lock()
        self._closing = threading.Event()

    def close(self) -> None:
        """Finish the file in hand (later ones stay in the folder), then close the database."""
        self._closing.set()
        with self._applying:
            self._db.conn.close()

    def apply_waiting(self) -> int:
        """Apply what is in the folder now (blocking); returns how many files were applied.

        A file that cannot be applied now (database locked, disk full) stays in the folder and
        is tried again on the next look; the problem is told once.
        """
        with self._applying:
            if self._closing.is_set():
                return 0
            return self._apply_waiting()

    def _apply_waiting(self) -> int:
        count = 0
        if not self.drop_dir.is_dir():
            self._tell(f"the drop folder {self.drop_dir} is gone; waiting for it to come back")
            return 0
        for path in waiting_drop_files(self.drop_dir):
            if self._closing.is_set():
                return count  # closing: the files left wait for the next start
            try:
                report = apply_drop_file(
                    self._db, path, self.drop_dir, settle_seconds=self.settle_seconds
                )
            except FileNotReady:
                continue
            except FileNotMoved as error:
                self._tell(str(error))
                break  # keep name order: later files wait for this one
            except (sqlite3.Error, OSError) as error:
                self._tell(
                    f"{path.name} is not applied yet ({error}); it stays in the folder",
                    busy=is_busy_error(error),
                )
                break
            if report is None:
                continue
            if report.moved_to is None:
                key = (report.path.name, report.outcomes[0].error if report.outcomes else None)
                if key in self._seen_unmovable:
                    continue
                self._seen_unmovable.add(key)
            self._problems.clear()
            count += 1
            self.on_report(report)
        if self._closing.is_set():
            return count
        try:
            expired = expire_parked_to_folder(self._db, self.drop_dir, self.park_seconds)
        except (sqlite3.Error, OSError) as error:
            expired = []
            self._tell(f"parked events could not be expired yet ({error})")
        for report in expired:
            count += 1
            self.on_report(report)
        return count

    def _tell(self, text: str, *, busy: bool = False) -> None:
        """Report a problem once, until something applies again."""
        problem = WatcherProblem(text, busy)
        if problem not in self._problems:
            self._problems.add(problem)
            self.on_problem(problem)

    async def run(
        self,
        stop_event: asyncio.Event | None = None,
        *,
        on_watching: Callable[[], None] | None = None,
    ) -> None:
        """Run until `stop_event` is set: backlog first, then new files as they land.

        `on_watching` is called once the folder is in place and looked after: from then on,
        anything that happens to it (a file, or the folder going away) is noticed and told.
        """
        stop_event = stop_event or asyncio.Event()
        ensure_drop_dir(self.drop_dir)
        if on_watching is not None:
            on_watching()
        await asyncio.to_thread(self.apply_waiting)
        while not stop_event.is_set():
            try:
                async for _changes in watchfiles.awatch(
                    self.drop_dir,
                    watch_filter=_drop_file_filter,
                    recursive=False,
                    debounce=DEBOUNCE_MS,
                    step=STEP_MS,
                    stop_event=stop_event,
                    rust_timeout=RECHECK_MS,
                    yield_on_timeout=True,
                ):
                    # A change, or a quiet tick (half-written or parked): apply what waits.
                    await asyncio.to_thread(self.apply_waiting)
                    if not self.drop_dir.is_dir():
                        break  # the folder went away: watch it again once it is back
            except (OSError, RuntimeError) as error:
                self._tell(f"the drop folder {self.drop_dir} cannot be watched ({error})")
                await asyncio.sleep(RECHECK_MS / 1000)
            # Without a folder to watch, look for it (and for files) a few times a second.
            while not stop_event.is_set() and not self.drop_dir.is_dir():
                await asyncio.to_thread(self.apply_waiting)
                try:
                    await asyncio.wait_for(stop_event.wait(), RECHECK_MS / 1000)
                except TimeoutError:
                    pass
