"""Prunes processed/ of the drop folder: files older than the keep time go, oldest first."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

from store.dropfolder import PROCESSED

# SPEC "Drop files": processed/ keeps files 7 days by default; rejected/ is never pruned.
KEEP_PROCESSED_SECONDS = 7 * 24 * 3600.0
# How often a long-running watch, receive or follow prunes.
PRUNE_EVERY_SECONDS = 600.0


def prune_processed(drop_dir: Path | str, keep_seconds: float, *, now: float | None = None) -> int:
    """Delete files in `drop_dir/processed/` that arrived there more than `keep_seconds` ago.

    A file's age is counted from when it was moved into processed/ (a rename sets its ctime),
    or from its mtime if that is later. Returns how many files were deleted. Only regular files
    directly in processed/ are touched; rejected/ never is.
    """
    folder = Path(drop_dir) / PROCESSED
    cutoff = (time.time() if now is None else now) - keep_seconds
    old: list[tuple[float, str]] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                arrived = max(info.st_ctime, info.st_mtime)
                if arrived < cutoff:
                    old.append((arrived, entry.name))
    except FileNotFoundError:
        return 0
    old.sort()  # oldest first: a prune cut short still took the oldest
    deleted = 0
    for _arrived, name in old:
        try:
            os.unlink(folder / name)
        except FileNotFoundError:
            continue
        deleted += 1
    return deleted


async def prune_every(
    drop_dir: Path | str,
    keep_seconds: float,
    stop: asyncio.Event,
    on_pruned: Callable[[int], None] | None = None,
    on_error: Callable[[OSError], None] | None = None,
) -> None:
    """Prune processed/ now and then until `stop`: every ten minutes, or a quarter of a short
    keep time (a soak keeping a minute prunes every 15 s)."""
    every = min(PRUNE_EVERY_SECONDS, max(1.0, keep_seconds / 4))
    while not stop.is_set():
        try:
            deleted = await asyncio.to_thread(prune_processed, drop_dir, keep_seconds)
        except OSError as error:
            if on_error is not None:
                on_error(error)
        else:
            if deleted and on_pruned is not None:
                on_pruned(deleted)
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
