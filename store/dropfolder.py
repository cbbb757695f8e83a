"""The drop folder: which files are read, claiming one, applying it, moving it out, and the
error files beside the rejected ones."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import sqlite3
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from store.apply import (
    EventOutcome,
    apply_bytes,
    apply_content,
    expire_parked,
    has_parked,
    reject_whole_file,
)
from store.db import transaction
from store.events import decode_drop_bytes
from store.text import visible
from store.timefmt import now_tm

MAX_FILE_BYTES = 32 * 1024 * 1024  # 10,000 real hangup webhooks are about 15 MB
PROCESSED = "processed"
# How long a hangup may wait for its campaigncall before it is rejected.
PARK_SECONDS = 600.0
REJECTED = "rejected"


@dataclass
class FileReport:
    """What became of one drop file."""

    path: Path
    outcomes: list[EventOutcome] = field(default_factory=list)
    moved_to: Path | None = None
    # events of earlier files that waited for a campaigncall this file created
    released: list[EventOutcome] = field(default_factory=list)
    # a parked event that waited too long, kept in rejected/ as a file of its own
    expired: bool = False

    @property
    def rejected(self) -> bool:
        return any(o.outcome == "rejected" for o in self.outcomes)

    def error_text(self) -> str:
        """What a person reads in NAME.error.txt: each event's outcome, and what to do next."""
        lines = [visible(f"{display_name(self.path)} was rejected:")]
        for o in self.outcomes:
            label = "the file" if o.position is None else f"event {o.position + 1}"
            if o.outcome == "rejected":
                lines.append(visible(f"- {label}: rejected: {o.error}"))
            else:
                lines.append(visible(f"- {label}: {o.outcome}"))
        if self.expired:
            lines.append("Its campaigncall never arrived; drop it again once that is known.")
        elif any(o.outcome in ("applied", "parked") for o in self.outcomes):
            lines.append(
                "Fix the rejected events and drop the file again; the events that applied "
                "will be recorded as duplicates."
            )
        else:
            lines.append("Nothing in it was applied: fix the file and drop it again.")
        return "\n".join(lines) + "\n"


class FileNotReady(Exception):
    """The file is still being written (or is claimed by another watcher): try again later."""


def is_drop_file_name(name: str) -> bool:
    """Only `*.json` is read; dot-files and `.tmp`/`.part` files are being written or hidden."""
    return (
        name.endswith(".json") and not name.startswith(".") and not name.endswith((".tmp", ".part"))
    )


def waiting_drop_files(drop_dir: Path) -> list[Path]:
    """The drop files waiting in the folder, in name order."""
    try:
        names = sorted(e.name for e in os.scandir(drop_dir) if is_drop_file_name(e.name))
    except FileNotFoundError:
        return []
    return [drop_dir / name for name in names]


def ensure_drop_dir(drop_dir: Path) -> None:
    for sub in (drop_dir, drop_dir / PROCESSED, drop_dir / REJECTED):
        sub.mkdir(parents=True, exist_ok=True)


def _free_name(folder: Path, name: str) -> Path:
    """`name` in folder, or `name` with a number before `.json` if that is taken.

    An error file alone does not take a name: it is what a crash before the move left.
    """
    target = folder / name
    stem, dot, ext = name.rpartition(".")
    number = 1
    while target.exists() or target.is_symlink():
        number += 1
        target = folder / (f"{stem}.{number}.{ext}" if dot else f"{name}.{number}")
    return target


class FileNotMoved(OSError):
    """The file's events are recorded, but the file could not be moved out of the folder."""


def _move_out(path: Path, drop_dir: Path, report: FileReport) -> None:
    """Move the file to processed/ or rejected/ (its reasons written beside it first)."""
    folder = drop_dir / (REJECTED if report.rejected else PROCESSED)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = _free_name(folder, path.name)
        if report.rejected:
            error_file = folder / f"{target.name}.error.txt"
            error_file.write_text(report.error_text(), encoding="utf-8")
        os.replace(path, target)
    except OSError as error:
        reason = error.strerror or str(error)
        raise FileNotMoved(
            f"{display_name(path)} is applied but cannot be moved to {folder.name}/ ({reason});"
            " it stays in the folder and is moved, not applied again, when it can be"
        ) from None
    report.moved_to = target


@dataclass
class _Opened:
    fd: int
    info: os.stat_result


def _open_claimed(path: Path) -> _Opened:
    """Open without following links and take the file's lock; FileNotReady if someone has it."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileNotReady(f"{path.name} is being applied by another process") from None
        info = os.fstat(fd)
        try:
            current = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            raise FileNotReady(f"{path.name} was taken by another process") from None
        if (current.st_ino, current.st_dev) != (info.st_ino, info.st_dev):
            raise FileNotReady(f"{path.name} was replaced while it was opened")
        return _Opened(fd, info)
    except BaseException:
        os.close(fd)
        raise


def _read_limited(fd: int, size: int) -> bytes:
    chunks = []
    left = size + 1
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def apply_drop_file(
    db: sqlite_utils.Database,
    path: Path,
    drop_dir: Path,
    *,
    settle_seconds: float = 0.0,
) -> FileReport | None:
    """Apply one file of the drop folder and move it to processed/ or rejected/.

    Returns None when the file is gone or claimed by another process. Raises FileNotReady
    when it looks half-written and changed less than `settle_seconds` ago.
    """
    report = FileReport(path)
    name = display_name(path)
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return _reject_unread(
            db,
            path,
            drop_dir,
            report,
            "the file is a symbolic link, which is not followed; "
            "copy the file itself into the folder",
        )
    if stat.S_ISDIR(info.st_mode):
        return _reject_unread(
            db, path, drop_dir, report, "this is a folder, not a file", move=False
        )
    if not stat.S_ISREG(info.st_mode):
        return _reject_unread(db, path, drop_dir, report, "this is not a regular file", move=False)
    try:
        opened = _open_claimed(path)
    except FileNotFoundError:
        return None
    except FileNotReady:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return _reject_unread(
                db, path, drop_dir, report, "the file is a symbolic link, which is not followed"
            )
        raise
    try:
        size = opened.info.st_size
        if size > MAX_FILE_BYTES:
            return _reject_unread(
                db,
                path,
                drop_dir,
                report,
                f"the file is {size:,} bytes, "
                f"more than the {MAX_FILE_BYTES:,} a drop file may hold",
            )
        data = _read_limited(opened.fd, MAX_FILE_BYTES)
        if len(data) > MAX_FILE_BYTES:
            return _reject_unread(
                db,
                path,
                drop_dir,
                report,
                f"the file grew past the {MAX_FILE_BYTES:,} bytes a drop file may hold",
            )
        young = time.time() - opened.info.st_mtime < settle_seconds
        if young:
            try:
                decode_drop_bytes(data)
            except ValueError:
                raise FileNotReady(f"{name} looks half-written; waiting for it") from None
        digest = hashlib.sha256(data).hexdigest()
        identity = (name, digest, opened.info.st_ino, opened.info.st_mtime_ns)
        with transaction(db.conn) as conn:
            done = conn.execute(
                "SELECT id FROM drop_files WHERE name = ? AND sha256 = ? AND inode = ?"
                " AND mtime_ns = ?",
                identity,
            ).fetchone()
            if done is None:
                drop_file_id = conn.execute(
                    "INSERT INTO drop_files (name, sha256, inode, mtime_ns, size, outcome, tm)"
                    " VALUES (?, ?, ?, ?, ?, '', ?)",
                    (*identity, size, now_tm()),
                ).lastrowid
                report.outcomes = apply_content(conn, name, data, drop_file_id, report.released)
                conn.execute(
                    "UPDATE drop_files SET outcome = ? WHERE id = ?",
                    (REJECTED if report.rejected else PROCESSED, drop_file_id),
                )
            else:
                # Applied before a crash that came between the commit and the move: move it now.
                report.outcomes = _recorded_outcomes(conn, done[0])
        _move_out(path, drop_dir, report)
        return report
    finally:
        os.close(opened.fd)


def _recorded_outcomes(conn: sqlite3.Connection, drop_file_id: int) -> list[EventOutcome]:
    rows = conn.execute(
        "SELECT file, position, type, campaigncall_id, reason, outcome, error, raw, summary"
        " FROM events"
        " WHERE drop_file_id = ? ORDER BY id",
        (drop_file_id,),
    ).fetchall()
    return [EventOutcome(*row) for row in rows]


def display_name(path: Path) -> str:
    """A file's name as text, with bytes that are not UTF-8 shown as \\xNN."""
    return os.fsencode(path.name).decode("utf-8", "backslashreplace")


def _reject_unread(
    db: sqlite_utils.Database,
    path: Path,
    drop_dir: Path,
    report: FileReport,
    error: str,
    *,
    move: bool = True,
) -> FileReport:
    if not move:
        # It cannot be moved out of the way, so it is reported, not recorded on every scan.
        report.outcomes = [
            EventOutcome(display_name(path), None, None, None, None, "rejected", error, "")
        ]
        return report
    with transaction(db.conn) as conn:
        report.outcomes = [reject_whole_file(conn, display_name(path), error, "")]
    _move_out(path, drop_dir, report)
    return report


def expire_parked_to_folder(
    db: sqlite_utils.Database, drop_dir: Path, older_than_seconds: float
) -> list[FileReport]:
    """Reject events parked too long; each is kept in rejected/ as a file of its own."""
    if not has_parked(db.conn):
        return []
    with transaction(db.conn) as conn:
        expired = expire_parked(conn, older_than_seconds)
    reports = []
    for outcome in expired:
        if outcome.outcome != "rejected":
            continue  # VoIPbin's event that no campaigncall claimed: ignored, nothing to keep
        stem = outcome.file.removesuffix(".json")
        position = 0 if outcome.position is None else outcome.position + 1
        folder = drop_dir / REJECTED
        folder.mkdir(parents=True, exist_ok=True)
        path = _free_name(folder, f"{stem}.event{position}.json")
        report = FileReport(path, [outcome], moved_to=path, expired=True)
        (folder / f"{path.name}.error.txt").write_text(report.error_text(), encoding="utf-8")
        path.write_text(outcome.raw + "\n", encoding="utf-8")
        reports.append(report)
    return reports


def apply_path(
    db: sqlite_utils.Database, path: Path, released: list[EventOutcome] | None = None
) -> list[EventOutcome]:
    """Apply one file where it lies (headless `apply`), refusing what the folder would refuse.

    OSError (missing, unreadable) is left to the caller: nothing was applied.
    """
    name = str(path)
    if path.is_dir():
        error = "this is a folder, not a file"
    else:
        size = path.stat().st_size
        error = (
            f"the file is {size:,} bytes, more than the {MAX_FILE_BYTES:,} a drop file may hold"
            if size > MAX_FILE_BYTES
            else ""
        )
    if error:
        with transaction(db.conn) as conn:
            return [reject_whole_file(conn, name, error, "")]
    return apply_bytes(db, name, path.read_bytes(), released)
