"""Writes drop files durably (temp name, fsync, rename, fsync the folder), in arrival order."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

# A file holds at most this many bodies or frames: big enough to save files, small enough to
# apply in one short transaction.
MAX_BATCH = 500


class DropWriter:
    """Names and writes drop files for one writer (`kind`: webhook, ws, rest) into one folder.

    Names are `<UTC time with microseconds>-<sequence>-<kind>.json`: they sort in the order the
    files were written, even if the clock steps back (the time never goes below the last one).
    """

    def __init__(self, drop_dir: Path | str, kind: str) -> None:
        self.drop_dir = Path(drop_dir)
        self.kind = kind
        self._lock = threading.Lock()
        self._last = datetime.min.replace(tzinfo=UTC)
        self._seq = 0

    def _next_name(self) -> str:
        with self._lock:
            now = max(datetime.now(UTC), self._last)
            self._last = now
            self._seq += 1
            return f"{now:%Y%m%dT%H%M%S.%fZ}-{self._seq:09d}-{self.kind}.json"

    def write(self, payload: bytes) -> Path:
        """Write one drop file and return its path; on return it is on disk (OSError if not)."""
        name = self._next_name()
        final = self.drop_dir / name
        temp = self.drop_dir / f".{name}.tmp"  # the watcher reads neither dot-files nor .tmp
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temp, final)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
        fsync_dir(self.drop_dir)
        return final


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def joined(items: list[bytes]) -> bytes:
    """One item as it came; several as a JSON array of them, in order, each kept raw."""
    if len(items) == 1:
        return items[0]
    return b"[\n" + b",\n".join(items) + b"\n]\n"


def is_json_object(text: bytes) -> bool:
    """A UTF-8 JSON object: what may share a file with others (an array or junk goes alone)."""
    try:
        return isinstance(json.loads(text.decode("utf-8")), dict)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
