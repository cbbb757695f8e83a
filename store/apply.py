"""Applies drop-file events by the rules: one file, one transaction, every event recorded."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import sqlite3
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlite_utils
from pydantic import ValidationError

from store.db import record_columns, record_to_row, sqlite_text
from store.errors import describe_validation_error
from store.models import (
    EVENT_TYPES,
    CallHangup,
    CallProgressing,
    Campaigncall,
    CampaigncallCreated,
    DropEvent,
    ShorthandHangup,
)
from store.rules import RuleViolation, result_for_hangup, target_status_after
from store.targets import refresh_retry_plans
from store.timefmt import add_ms, now_tm

MAX_FILE_BYTES = 32 * 1024 * 1024  # 10,000 real hangup webhooks are about 15 MB
Outcome = Literal["applied", "duplicate", "parked", "rejected"]
PROCESSED = "processed"
REJECTED = "rejected"


@dataclass(frozen=True)
class EventOutcome:
    """What became of one event: the row written to `events`."""

    file: str
    position: int | None
    type: str | None
    campaigncall_id: str | None
    reason: str | None
    outcome: Outcome
    error: str | None
    raw: str

    def line(self) -> str:
        """One line for a terminal or a log: position, type, campaigncall, outcome, reason."""
        where = self.file if self.position is None else f"{self.file}#{self.position + 1}"
        what = " ".join(p for p in (self.type, self.campaigncall_id, self.reason) if p)
        text = f"{where}: {self.outcome}"
        if what:
            text += f" {what}"
        if self.error:
            text += f": {self.error}"
        return text


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
        lines = [f"{display_name(self.path)} was rejected:"]
        for o in self.outcomes:
            label = "the file" if o.position is None else f"event {o.position + 1}"
            if o.outcome == "rejected":
                lines.append(f"- {label}: rejected: {o.error}")
            else:
                lines.append(f"- {label}: {o.outcome}")
        lines.append(
            "Fix the file and drop it into the folder again; events that applied will be "
            "recorded as duplicates."
        )
        return "\n".join(lines) + "\n"


class FileNotReady(Exception):
    """The file is still being written (or is claimed by another watcher): try again later."""


# ---- reading a drop file -----------------------------------------------------------------


def content_hash(event: object) -> str:
    """The identity of an event's content: same JSON, same hash, whatever the key order."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def decode_drop_bytes(data: bytes) -> list[Any]:
    """The events a drop file holds, in order; ValueError says why the file is unreadable."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"the file is not UTF-8 text (bad byte at offset {error.start})") from None
    if not text.strip():
        raise ValueError("the file is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"the file is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise ValueError("the file is JSON nested too deeply to be an event") from None
    if isinstance(document, list):
        if not document:
            raise ValueError("the file holds an empty array: no events")
        return document
    if isinstance(document, dict):
        return [document]
    raise ValueError(
        f"the file holds a JSON {_json_kind(document)}, not an event object or an array of events"
    )


def parse_event(event: object) -> DropEvent:
    """One event in one of the drop-file forms; RuleViolation names what is wrong."""
    if not isinstance(event, dict):
        raise RuleViolation(f"an event must be a JSON object, not a {_json_kind(event)}")
    model: type[DropEvent]
    if "type" in event:
        kind = event["type"]
        models: dict[object, type[DropEvent]] = {
            "call_hangup": CallHangup,
            "call_progressing": CallProgressing,
            "campaigncall_created": CampaigncallCreated,
        }
        if not isinstance(kind, str) or kind not in models:
            raise RuleViolation(
                f"unknown event type {str(kind)[:60]!r} (known: {', '.join(EVENT_TYPES)})"
            )
        model = models[kind]
    elif {"campaigncall_id", "reference_id", "hangup_reason"} & event.keys():
        model = ShorthandHangup
    else:
        raise RuleViolation(
            'not an event: expected {"type": ..., "data": {...}} or '
            '{"campaigncall_id": ..., "hangup_reason": ...}'
        )
    try:
        return model.model_validate(event)
    except ValidationError as error:
        raise RuleViolation(describe_validation_error(error)) from None
    except RecursionError:
        raise RuleViolation("the event is nested too deeply") from None


def _json_kind(value: object) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def event_type_of(event: object) -> str | None:
    if isinstance(event, dict):
        kind = event.get("type")
        if isinstance(kind, str):
            return kind[:60]
        if "hangup_reason" in event:
            return "call_hangup"
    return None


# ---- the rules, applied inside a transaction ----------------------------------------------


@dataclass(frozen=True)
class _Applied:
    campaigncall_id: str | None
    reason: str | None


class CampaigncallNotYet(RuleViolation):
    """The event's campaigncall is not known (yet): the event is parked until it arrives."""

    def __init__(self, lookup: str, by_reference: bool) -> None:
        what = "id or reference_id" if by_reference else "id"
        super().__init__(f"waiting for a campaigncall with {what} {lookup}")
        self.lookup = lookup
        self.by_reference = by_reference


@dataclass
class _Batch:
    """One transaction's work: the targets whose retry plan must be redone, released events."""

    conn: sqlite3.Connection
    refresh: set[str] = field(default_factory=set)
    released: list[EventOutcome] = field(default_factory=list)


def _find_campaigncall(
    conn: sqlite3.Connection, *, call_id: str | None = None, campaigncall_id: str | None = None
) -> tuple[str, str, str, str]:
    """(id, status, result, outdial_target_id) of the campaigncall a call or id points at."""
    if call_id is not None:
        row = conn.execute(
            "SELECT id, status, result, outdial_target_id FROM campaigncalls"
            " WHERE reference_id = ? ORDER BY tm_create DESC LIMIT 1",
            (call_id,),
        ).fetchone()
        if row is not None:
            return row  # type: ignore[no-any-return]
    row = conn.execute(
        "SELECT id, status, result, outdial_target_id FROM campaigncalls WHERE id = ?",
        (call_id or campaigncall_id,),
    ).fetchone()
    if row is None:
        raise CampaigncallNotYet(str(call_id or campaigncall_id), call_id is not None)
    return row  # type: ignore[no-any-return]


def _apply_hangup(
    batch: _Batch, *, call_id: str | None, campaigncall_id: str | None, reason: str, tm: str | None
) -> _Applied:
    new_result = result_for_hangup(reason)
    conn = batch.conn
    cc_id, status, result, target_id = _find_campaigncall(
        conn, call_id=call_id, campaigncall_id=campaigncall_id
    )
    if status == "done":
        raise RuleViolation(
            f"campaigncall {cc_id} is already done (result {result}); a second hangup is refused"
        )
    tm = tm or now_tm()
    conn.execute(
        "UPDATE campaigncalls SET status = 'done', result = ?, tm_update = ? WHERE id = ?",
        (new_result, tm, cc_id),
    )
    # a target that succeeded stays done, whatever an older call's late hangup says
    conn.execute(
        "UPDATE outdialtargets SET status = ?, tm_update = ? WHERE id = ? AND status != 'done'",
        (target_status_after(new_result), tm, target_id),
    )
    batch.refresh.add(target_id)
    return _Applied(cc_id, reason)


def _apply_progressing(batch: _Batch, event: CallProgressing) -> _Applied:
    call = event.data
    cc_id, status, result, _target = _find_campaigncall(batch.conn, call_id=call.id)
    if status == "done":
        raise RuleViolation(
            f"campaigncall {cc_id} is already done (result {result}); it cannot be answered now"
        )
    if status == "dialing":
        batch.conn.execute(
            "UPDATE campaigncalls SET status = 'progressing', tm_update = ? WHERE id = ?",
            (call.tm_progressing or call.tm_update or now_tm(), cc_id),
        )
    return _Applied(cc_id, None)


_CAMPAIGNCALL_COLUMNS = record_columns(Campaigncall)
_INSERT_CAMPAIGNCALL = (
    f"INSERT INTO campaigncalls ({', '.join(_CAMPAIGNCALL_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_CAMPAIGNCALL_COLUMNS))})"
)


def _apply_created(batch: _Batch, event: CampaigncallCreated) -> _Applied:
    record = event.data
    conn = batch.conn
    existing = conn.execute(
        "SELECT status, result FROM campaigncalls WHERE id = ?", (record.id,)
    ).fetchone()
    if existing is not None:
        status, result = existing
        shown = f"{status}, result {result}" if result else status
        raise RuleViolation(f"campaigncall {record.id} already exists ({shown})")
    if record.status != "dialing":
        raise RuleViolation(f"a new campaigncall starts dialing, not {record.status}")
    target = conn.execute(
        "SELECT status FROM outdialtargets WHERE id = ?", (record.outdial_target_id,)
    ).fetchone()
    if target is None:
        raise RuleViolation(
            f"outdialtarget {record.outdial_target_id} is not known; load it before its calls"
        )
    if target[0] == "done":
        raise RuleViolation(
            f"outdialtarget {record.outdial_target_id} is already done (a call succeeded); "
            "it is not dialled again"
        )
    row = record_to_row(record)
    conn.execute(_INSERT_CAMPAIGNCALL, [row[c] for c in _CAMPAIGNCALL_COLUMNS])
    slot = record.destination_index
    conn.execute(
        f"UPDATE outdialtargets SET try_count_{slot} = try_count_{slot} + 1, "
        "status = 'progressing', tm_update = ?, retry_outplan_id = ? WHERE id = ?",
        (record.tm_update or record.tm_create, record.outplan_id, record.outdial_target_id),
    )
    batch.refresh.add(record.outdial_target_id)
    _release_parked(batch, record)
    return _Applied(record.id, None)


def _campaigncall_called(conn: sqlite3.Connection, ident: str | None) -> str | None:
    """The campaigncall a call id points at (so `show` lists the refused event), else the id."""
    if ident is None:
        return None
    row = conn.execute(
        "SELECT id FROM campaigncalls WHERE reference_id = ? ORDER BY tm_create DESC LIMIT 1",
        (sqlite_text(ident),),  # any text a file held, lone surrogates too
    ).fetchone()
    return str(row[0]) if row else ident


def _apply_described(
    batch: _Batch, event: object, file: str, position: int | None, kind: str | None, raw: str
) -> EventOutcome:
    """Apply one event; applied, or rejected with the rule's reason (parking is the caller's)."""
    try:
        applied = apply_one(batch, parse_event(event))
    except CampaigncallNotYet:
        raise
    except RuleViolation as violation:
        ident, reason = _hint_ids(event)
        ident = _campaigncall_called(batch.conn, ident)
        return EventOutcome(file, position, kind, ident, reason, "rejected", str(violation), raw)
    return EventOutcome(
        file, position, kind, applied.campaigncall_id, applied.reason, "applied", None, raw
    )


def apply_one(batch: _Batch, event: DropEvent) -> _Applied:
    """Apply one parsed event by rules 1-6; RuleViolation leaves the database untouched."""
    if isinstance(event, CallHangup):
        call = event.data
        return _apply_hangup(
            batch,
            call_id=call.id,
            campaigncall_id=None,
            reason=call.hangup_reason,
            tm=call.tm_hangup or call.tm_update,
        )
    if isinstance(event, ShorthandHangup):
        return _apply_hangup(
            batch,
            call_id=event.reference_id,
            campaigncall_id=event.campaigncall_id,
            reason=event.hangup_reason,
            tm=event.tm,
        )
    if isinstance(event, CallProgressing):
        return _apply_progressing(batch, event)
    return _apply_created(batch, event)


# ---- out of order: events parked until their campaigncall arrives ------------------------


def _release_parked(batch: _Batch, record: Campaigncall) -> None:
    """Apply, in the order they were read, the events that waited for this campaigncall."""
    conn = batch.conn
    parked = conn.execute(
        "SELECT e.id, e.file, e.position, e.type, e.raw FROM parked_events p"
        " JOIN events e ON e.id = p.event_id"
        " WHERE (p.lookup = ? AND p.by_reference = 1) OR p.lookup = ? ORDER BY e.id",
        (record.reference_id, record.id),
    ).fetchall()
    for event_id, file, position, kind, raw in parked:
        conn.execute("DELETE FROM parked_events WHERE event_id = ?", (event_id,))
        outcome = _apply_described(batch, json.loads(raw), file, position, kind, raw)
        conn.execute(
            "UPDATE events SET outcome = ?, error = ?, campaigncall_id = ?, tm_resolved = ?,"
            " content_hash = CASE WHEN ? = 'applied' THEN content_hash END WHERE id = ?",
            (outcome.outcome, outcome.error, outcome.campaigncall_id, now_tm(), outcome.outcome,
             event_id),
        )  # fmt: skip
        batch.released.append(outcome)


def expire_parked(conn: sqlite3.Connection, older_than_seconds: float) -> list[EventOutcome]:
    """Reject the events parked longer than allowed (inside the caller's transaction)."""
    cutoff = add_ms(now_tm(), -int(older_than_seconds * 1000))
    rows = conn.execute(
        "SELECT e.id, e.file, e.position, e.type, e.campaigncall_id, e.reason, e.raw, p.lookup"
        " FROM parked_events p JOIN events e ON e.id = p.event_id"
        " WHERE p.tm_parked <= ? ORDER BY e.id",
        (cutoff,),
    ).fetchall()
    expired = []
    for event_id, file, position, kind, ident, reason, raw, lookup in rows:
        error = (
            f"no campaigncall with id or reference_id {lookup} arrived within "
            f"{older_than_seconds:g} s of this event"
        )
        conn.execute("DELETE FROM parked_events WHERE event_id = ?", (event_id,))
        conn.execute(
            "UPDATE events SET outcome = 'rejected', error = ?, content_hash = NULL,"
            " tm_resolved = ? WHERE id = ?",
            (error, now_tm(), event_id),
        )
        expired.append(EventOutcome(file, position, kind, ident, reason, "rejected", error, raw))
    return expired


def has_parked(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM parked_events LIMIT 1").fetchone() is not None


_INSERT_EVENT = (
    "INSERT INTO events (tm, file, position, type, campaigncall_id, reason, outcome, error,"
    " raw, content_hash, drop_file_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _event_row(
    outcome: EventOutcome, digest: str | None, tm: str, drop_file_id: int | None
) -> tuple[Any, ...]:
    texts = (outcome.file, outcome.type, outcome.campaigncall_id, outcome.reason, outcome.error)
    file, kind, ident, reason, error = (None if t is None else sqlite_text(t) for t in texts)
    return (
        tm,
        file,
        outcome.position,
        kind,
        ident,
        reason,
        outcome.outcome,
        error,
        sqlite_text(outcome.raw),
        digest,
        drop_file_id,
    )


def _raw_json(event: object) -> str:
    return json.dumps(event, ensure_ascii=False)


def _hint_ids(event: object) -> tuple[str | None, str | None]:
    """Best-effort campaigncall id and reason of an event, for the record of a rejected one."""
    if not isinstance(event, dict):
        return None, None
    data = event.get("data") if isinstance(event.get("data"), dict) else event
    assert isinstance(data, dict)
    ident = data.get("campaigncall_id") or data.get("reference_id") or data.get("id")
    reason = data.get("hangup_reason")
    return (
        ident[:60] if isinstance(ident, str) else None,
        reason[:60] if isinstance(reason, str) else None,
    )


def _seen_before(conn: sqlite3.Connection, digests: list[str]) -> dict[str, tuple[Any, Any]]:
    """(campaigncall_id, reason) of each digest already applied or parked, in one look-up."""
    seen: dict[str, tuple[Any, Any]] = {}
    for start in range(0, len(digests), 500):
        chunk = digests[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for digest, ident, reason in conn.execute(
            f"SELECT content_hash, campaigncall_id, reason FROM events"
            f" WHERE content_hash IN ({marks}) AND outcome IN ('applied', 'parked')",
            chunk,
        ):
            seen.setdefault(digest, (ident, reason))
    return seen


def apply_events_in_transaction(
    conn: sqlite3.Connection,
    file: str,
    events: list[Any],
    drop_file_id: int | None = None,
    released: list[EventOutcome] | None = None,
) -> list[EventOutcome]:
    """Apply and record each event of one file; the caller owns the transaction.

    The rules check everything before they write, so a refused event leaves no trace but
    its `events` row; anything else raised aborts the caller's whole transaction. Events
    that waited for a campaigncall this file creates are applied too and added to `released`.
    """
    outcomes: list[EventOutcome] = []
    batch = _Batch(conn)
    tm = now_tm()
    digests = [content_hash(event) for event in events]
    seen = _seen_before(conn, digests)
    rows: list[tuple[Any, ...]] = []
    for position, (event, digest) in enumerate(zip(events, digests, strict=True)):
        raw = _raw_json(event)
        kind = event_type_of(event)
        parked_on: CampaigncallNotYet | None = None
        if digest in seen:
            ident, reason = seen[digest]
            outcome = EventOutcome(file, position, kind, ident, reason, "duplicate", None, raw)
        else:
            try:
                outcome = _apply_described(batch, event, file, position, kind, raw)
            except CampaigncallNotYet as waiting:
                ident, reason = _hint_ids(event)
                outcome = EventOutcome(
                    file, position, kind, ident, reason, "parked", str(waiting), raw
                )
                parked_on = waiting
            if outcome.outcome != "rejected":
                seen[digest] = (outcome.campaigncall_id, outcome.reason)
        keep_digest = outcome.outcome in ("applied", "parked")
        rows.append(_event_row(outcome, digest if keep_digest else None, tm, drop_file_id))
        outcomes.append(outcome)
        if parked_on is not None:
            # its events row must exist before a later event of this file can release it
            conn.executemany(_INSERT_EVENT, rows)
            rows = []
            event_id = conn.execute("SELECT max(id) FROM events").fetchone()[0]
            conn.execute(
                "INSERT INTO parked_events (event_id, lookup, by_reference, tm_parked)"
                " VALUES (?, ?, ?, ?)",
                (event_id, parked_on.lookup, int(parked_on.by_reference), tm),
            )
    conn.executemany(_INSERT_EVENT, rows)
    refresh_retry_plans(conn, batch.refresh, find_outplan=False)
    if released is not None:
        released.extend(batch.released)
    return outcomes


def reject_whole_file(
    conn: sqlite3.Connection, file: str, error: str, raw: str, drop_file_id: int | None = None
) -> EventOutcome:
    outcome = EventOutcome(file, None, None, None, None, "rejected", error, raw)
    conn.execute(_INSERT_EVENT, _event_row(outcome, None, now_tm(), drop_file_id))
    return outcome


class transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


def apply_bytes(
    db: sqlite_utils.Database, file: str, data: bytes, released: list[EventOutcome] | None = None
) -> list[EventOutcome]:
    """Apply a file's content as one transaction (the headless `apply` path: nothing moves)."""
    with transaction(db.conn) as conn:
        return _apply_content(conn, file, data, released=released)


def _apply_content(
    conn: sqlite3.Connection,
    file: str,
    data: bytes,
    drop_file_id: int | None = None,
    released: list[EventOutcome] | None = None,
) -> list[EventOutcome]:
    try:
        events = decode_drop_bytes(data)
    except ValueError as error:
        preview = data[:2000].decode("utf-8", "replace")
        return [reject_whole_file(conn, file, str(error), preview, drop_file_id)]
    return apply_events_in_transaction(conn, file, events, drop_file_id, released)


# ---- drop files: claim, read, apply, move -------------------------------------------------


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
                report.outcomes = _apply_content(conn, name, data, drop_file_id, report.released)
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
        "SELECT file, position, type, campaigncall_id, reason, outcome, error, raw FROM events"
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
