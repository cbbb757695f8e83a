"""Applies events to records by VoIPbin's rules: one file's events in one transaction, each
recorded in `events` with its outcome and, in words, what it changed."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlite_utils

from store.db import transaction
from store.events import (
    ReadEvent,
    decode_drop_bytes,
    encode_event,
    event_type_of,
    hint_ids,
    read_event,
)
from store.models import (
    NIL_UUID,
    Activeflow,
    Call,
    Campaign,
    Campaigncall,
    Outdial,
    Outdialtarget,
    Outplan,
    Record,
    ShorthandHangup,
)
from store.rows import record_columns, record_to_row, sqlite_text, stored_columns, upsert_sql
from store.rules import (
    HANGUP_REASON_ALIASES,
    RuleViolation,
    result_for_hangup,
    target_status_after,
)
from store.targets import (
    TARGET_PLAN_COLUMNS,
    TargetPlanRow,
    refresh_retry_plans,
    settle_target,
    targets_of_outplans,
)
from store.text import visible
from store.timefmt import add_ms, now_tm

Outcome = Literal["applied", "duplicate", "parked", "ignored", "rejected"]
# the parked lookup's key: the campaigncall's id, its reference_id (a call) or its activeflow_id
BY_ID, BY_REFERENCE, BY_ACTIVEFLOW = 0, 1, 2
_KEY_WORDS = {BY_ID: "id", BY_REFERENCE: "id or reference_id", BY_ACTIVEFLOW: "activeflow_id"}


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
    summary: str | None = None

    def line(self) -> str:
        """One line for a terminal or a log, record data escaped: where, outcome, type,
        campaigncall, reason, then what it did or why it was refused."""
        where = self.file if self.position is None else f"{self.file}#{self.position + 1}"
        what = " ".join(p for p in (self.type, self.campaigncall_id, self.reason) if p)
        text = f"{where}: {self.outcome}"
        if what:
            text += f" {what}"
        if self.error:
            text += f": {self.error}"
        elif self.summary:
            text += f" ({self.summary})"
        return visible(text)


class CampaigncallNotYet(RuleViolation):
    """The event's campaigncall is not known (yet): the event is parked until it arrives."""

    def __init__(self, lookup: str, key: int) -> None:
        super().__init__(f"waiting for a campaigncall with {_KEY_WORDS[key]} {lookup}")
        self.lookup = lookup
        self.key = key


@dataclass(frozen=True)
class Effect:
    """What applying one event did: applied (something changed) or ignored (nothing to do)."""

    outcome: Literal["applied", "ignored"]
    campaigncall_id: str | None
    summary: str
    reason: str | None = None


@dataclass
class Changes:
    """One transaction's work: targets whose retry plan must be redone, events released."""

    conn: sqlite3.Connection
    refresh: set[str] = field(default_factory=set)
    released: list[EventOutcome] = field(default_factory=list)
    # outplan limits read during this transaction, by outplan id
    limits: dict[str | None, tuple[list[int] | None, int]] = field(default_factory=dict)
    # calls timeline upserts, in event order, written in one executemany by write_timelines
    # (nothing reads `calls` while a file is applied)
    timelines: list[tuple[Any, ...]] = field(default_factory=list)

    def write_timelines(self) -> None:
        if self.timelines:
            self.conn.executemany(_KEEP_TIMELINE, self.timelines)
            self.timelines.clear()


_STATUS_RANK = {"dialing": 0, "progressing": 1, "done": 2}


# ---- campaigncalls and their targets (rules 2 and 4) -----------------------------------


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
        lookup = str(call_id or campaigncall_id)
        raise CampaigncallNotYet(lookup, BY_REFERENCE if call_id is not None else BY_ID)
    return row  # type: ignore[no-any-return]


_HANGUP_LOOKUP = (
    "SELECT c.id, c.status, c.result, c.outdial_target_id, "
    + ", ".join(f"t.{column}" for column in TARGET_PLAN_COLUMNS)
    + " FROM campaigncalls c LEFT JOIN outdialtargets t ON t.id = c.outdial_target_id"
)


def _find_for_hangup(
    conn: sqlite3.Connection, *, call_id: str | None, campaigncall_id: str | None
) -> tuple[tuple[str, str, str, str], TargetPlanRow | None]:
    """_find_campaigncall's answer, and the plan columns of its target (None if there is
    none) read in the same SELECT, for settle_target."""
    row = None
    if call_id is not None:
        row = conn.execute(
            f"{_HANGUP_LOOKUP} WHERE c.reference_id = ? ORDER BY c.tm_create DESC LIMIT 1",
            (call_id,),
        ).fetchone()
    if row is None:
        row = conn.execute(f"{_HANGUP_LOOKUP} WHERE c.id = ?", (call_id or campaigncall_id,)
                           ).fetchone()  # fmt: skip
    if row is None:
        lookup = str(call_id or campaigncall_id)
        raise CampaigncallNotYet(lookup, BY_REFERENCE if call_id is not None else BY_ID)
    target: TargetPlanRow | None = None if row[4] is None else row[4:]
    return row[:4], target


def _target_words(
    changes: Changes, target_id: str, status: str, tm: str, target: TargetPlanRow | None = None
) -> str:
    """Rule 2 on the target of a campaigncall that has just become done, in words."""
    settled, plan = settle_target(changes.conn, target_id, status, tm, changes.limits, target)
    if settled == "done":
        return "target done"
    if plan.state == "exhausted":
        return "target exhausted"
    if plan.state == "scheduled":
        due = f" at {plan.due[11:19]}" if plan.due else ""
        return f"target {settled} · retry slot {plan.destination_index} try {plan.try_count}{due}"
    if plan.state == "unknown":
        return f"target {settled} · retry unknown (outplan not known yet)"
    return f"target {settled}"


def _mark_done(
    changes: Changes,
    cc_id: str,
    target_id: str,
    result: str,
    tm: str,
    words: str,
    target: TargetPlanRow | None = None,
) -> str:
    """The campaigncall done with its result, then rule 2 on its target; `target`: its plan
    columns, if the caller has read them (see _find_for_hangup)."""
    changes.conn.execute(
        "UPDATE campaigncalls SET status = 'done', result = ?, tm_update = ?, tm_order = ?"
        " WHERE id = ?",
        (result, tm, tm, cc_id),
    )
    settled = target_status_after(result)  # type: ignore[arg-type]
    return f"{words} · {_target_words(changes, target_id, settled, tm, target)}"


def _hangup(
    changes: Changes,
    *,
    call_id: str | None,
    campaigncall_id: str | None,
    reason: str,
    tm: str | None,
) -> Effect:
    """Rules 1, 2 and 6: the campaigncall is done with the reason's result, or the hangup is
    late news (ignored) or a contradiction (refused)."""
    new_result = result_for_hangup(reason)
    (cc_id, status, result, target_id), target = _find_for_hangup(
        changes.conn, call_id=call_id, campaigncall_id=campaigncall_id
    )
    if status == "done":
        if result == new_result:
            _count_late_reason(changes.conn, cc_id, reason)
            return Effect("ignored", cc_id, f"late news: already done ({result})", reason)
        raise RuleViolation(
            f"campaigncall {cc_id} is already done with result {result}; this hangup "
            f"({reason}) means {new_result}, so it is refused"
        )
    words = _mark_done(changes, cc_id, target_id, new_result, tm or now_tm(),
                       f"{reason} → {new_result}", target)  # fmt: skip
    _count_reason(changes.conn, cc_id, reason)
    return Effect("applied", cc_id, words, reason)


# ---- the overview's hangup reasons: each done campaigncall counted once, by its reason ----

FLOW_ENDED = "flow ended"  # a flow campaign's campaigncall is done when its flow ends


def _count_reason(conn: sqlite3.Connection, cc_id: str, reason: str) -> None:
    """One more done campaigncall of its campaign decided by this reason."""
    conn.execute(
        "INSERT INTO hangup_reason_counts (campaign_id, reason, n)"
        " SELECT campaign_id, ?, 1 FROM campaigncalls WHERE id = ?"
        " ON CONFLICT DO UPDATE SET n = n + 1",
        (HANGUP_REASON_ALIASES.get(reason, reason), cc_id),
    )


def _await_reason(conn: sqlite3.Connection, cc_id: str) -> None:
    """Done without a reason (VoIPbin's campaigncall_updated came first): counted as unknown
    until its hangup, if it comes, tells the reason."""
    conn.execute("INSERT OR IGNORE INTO reasons_pending VALUES (?)", (cc_id,))


def _count_late_reason(conn: sqlite3.Connection, cc_id: str, reason: str) -> None:
    """A hangup that agrees with a done campaigncall: its reason is counted if none was."""
    if conn.execute("DELETE FROM reasons_pending WHERE campaigncall_id = ?", (cc_id,)).rowcount:
        _count_reason(conn, cc_id, reason)


_CAMPAIGNCALL_COLUMNS = stored_columns(Campaigncall)
_INSERT_CAMPAIGNCALL = (
    f"INSERT INTO campaigncalls ({', '.join(_CAMPAIGNCALL_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_CAMPAIGNCALL_COLUMNS))})"
)
_UPDATE_CAMPAIGNCALL = (
    "UPDATE campaigncalls SET "
    + ", ".join(f"{c} = ?" for c in _CAMPAIGNCALL_COLUMNS if c != "id")
    + " WHERE id = ?"
)


def _ensure_stubs(changes: Changes, record: Campaigncall) -> str:
    """Create what a new campaigncall names but the database lacks, marked partial (SPEC:
    "Records not seen yet"); returns the target's status."""
    conn = changes.conn
    row = conn.execute(
        "SELECT status FROM outdialtargets WHERE id = ?", (record.outdial_target_id,)
    ).fetchone()
    if row is not None:
        target_status: str = row[0]
    else:
        slot = record.destination_index
        destination = json.dumps(record.destination.model_dump(), ensure_ascii=False)
        tries = [0] * 5
        tries[slot] = record.try_count - 1  # the tries before this one; rule 4 adds this dial
        conn.execute(
            f"INSERT INTO outdialtargets (id, outdial_id, name, detail, data, status,"
            f" destination_{slot}, try_count_0, try_count_1, try_count_2, try_count_3,"
            f" try_count_4, tm_create, tm_update, retry_outplan_id, partial)"
            f" VALUES (?, ?, '', '', '', 'idle', ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (record.outdial_target_id, record.outdial_id, sqlite_text(destination), *tries,
             record.tm_create, record.tm_create, record.outplan_id),
        )  # fmt: skip
        target_status = "idle"
    if record.outplan_id != NIL_UUID:
        conn.execute(
            "INSERT OR IGNORE INTO outplans (id, name, detail, source, dial_timeout,"
            " try_interval, max_try_count_0, max_try_count_1, max_try_count_2,"
            " max_try_count_3, max_try_count_4, tm_create, tm_update, partial)"
            " VALUES (?, '', '', NULL, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, 1)",
            (record.outplan_id,),
        )
    if record.outdial_id != NIL_UUID:
        conn.execute(
            "INSERT OR IGNORE INTO outdials (id, name, detail, partial) VALUES (?, '', '', 1)",
            (record.outdial_id,),
        )
    if record.campaign_id != NIL_UUID:
        kind = "flow" if record.reference_type == "flow" else "call"
        conn.execute(
            "INSERT OR IGNORE INTO campaigns (id, name, detail, type, status, end_handle,"
            " service_level, outplan_id, outdial_id, queue_id, next_campaign_id, tm_create,"
            " tm_update, partial) VALUES (?, '', '', ?, 'run', 'stop', 0, ?, ?, ?, ?, NULL,"
            " NULL, 1)",
            (record.campaign_id, kind, record.outplan_id, record.outdial_id, record.queue_id,
             NIL_UUID),
        )  # fmt: skip
    return target_status


def _store_new_campaigncall(changes: Changes, record: Campaigncall) -> Effect:
    """Rule 4 (and 2, should it already be done): a campaigncall the database has not seen."""
    conn = changes.conn
    target_status = _ensure_stubs(changes, record)
    row = record_to_row(record)
    conn.execute(_INSERT_CAMPAIGNCALL, [row[c] for c in _CAMPAIGNCALL_COLUMNS])
    slot = record.destination_index
    tm = record.tm_update or record.tm_create
    # rule 4: the dial counts once, when the campaigncall is first seen (created or not)
    conn.execute(
        f"UPDATE outdialtargets SET try_count_{slot} = try_count_{slot} + 1,"
        " status = CASE WHEN status = 'done' THEN status ELSE 'progressing' END,"
        " tm_update = ?, retry_outplan_id = ?, retry_state = 'none', retry_index = NULL,"
        " retry_try = NULL, retry_due = NULL WHERE id = ?",
        (tm, record.outplan_id, record.outdial_target_id),
    )
    where = record.destination.target[:24]  # shown escaped, as all record data
    words = f"created · slot {slot} try {record.try_count}" + (f" · {where}" if where else "")
    if target_status == "done":
        words += " · its target is already done"
    if record.status == "done":
        _await_reason(conn, record.id)  # before the parked hangup that may tell it
    _release_parked(changes, record)
    if record.status == "done":
        words += " · done " + record.result
        words += " · " + _target_words(
            changes, record.outdial_target_id, target_status_after(record.result),
            record.tm_update or record.tm_create,
        )  # fmt: skip
    return Effect("applied", record.id, words)


def _upsert_campaigncall(changes: Changes, record: Campaigncall, event_type: str) -> Effect:
    """VoIPbin's campaigncall is the truth, but never an older version over a newer one; it
    becoming done has rule 2's effects on its target once, whether its hangup came first."""
    conn = changes.conn
    stored = conn.execute(
        "SELECT status, result, tm_update FROM campaigncalls WHERE id = ?", (record.id,)
    ).fetchone()
    if stored is None:
        return _store_new_campaigncall(changes, record)
    status, result, tm_update = stored
    if status == "done" and record.status == "done" and record.result != result:
        raise RuleViolation(
            f"campaigncall {record.id} is already done with result {result}; this "
            f"{event_type} says {record.result}, so it is refused"
        )
    newer = record.tm_update is not None and (tm_update is None or record.tm_update > tm_update)
    if _STATUS_RANK[record.status] < _STATUS_RANK[status] or (
        not newer and record.status == status
    ):
        if status == "done":
            return Effect("ignored", record.id, f"late news: already done ({result})")
        return Effect("ignored", record.id, f"older news: the campaigncall is {status}")
    if status == "done":
        # the same result, later fields: VoIPbin's record is kept, but it is no news
        _write_campaigncall(conn, record)
        return Effect("ignored", record.id, f"late news: already done ({result})")
    _write_campaigncall(conn, record)
    if record.status == "done":
        row = conn.execute(
            "SELECT outdial_target_id FROM campaigncalls WHERE id = ?", (record.id,)
        ).fetchone()
        tm = record.tm_update or now_tm()
        _await_reason(conn, record.id)
        words = f"done {record.result} · " + _target_words(
            changes,
            row[0],
            target_status_after(record.result),
            tm,
        )
        return Effect("applied", record.id, words)
    if record.status != status:
        return Effect("applied", record.id, record.status)
    return Effect("applied", record.id, "updated")


def _write_campaigncall(conn: sqlite3.Connection, record: Campaigncall) -> None:
    row = record_to_row(record)
    conn.execute(_UPDATE_CAMPAIGNCALL, [row[c] for c in _CAMPAIGNCALL_COLUMNS if c != "id"]
                 + [record.id])  # fmt: skip


# ---- calls: answered, hung up, and the timeline of each ---------------------------------

_CALL_RANK_SQL = (
    "CASE {s} WHEN 'dialing' THEN 0 WHEN 'ringing' THEN 1 WHEN 'progressing' THEN 2"
    " WHEN 'terminating' THEN 3 WHEN 'canceling' THEN 3 WHEN 'hangup' THEN 4 ELSE -1 END"
)
_KEEP_TIMELINE = """
INSERT INTO calls (id, campaigncall_id, direction, status, hangup_by, hangup_reason, tm_create,
    tm_ringing, tm_progressing, tm_hangup, tm_update)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    direction = CASE WHEN excluded.direction != '' THEN excluded.direction ELSE direction END,
    status = CASE WHEN {new} >= {old} THEN excluded.status ELSE status END,
    hangup_by = CASE WHEN excluded.hangup_by != '' THEN excluded.hangup_by ELSE hangup_by END,
    hangup_reason = CASE WHEN excluded.hangup_reason != '' THEN excluded.hangup_reason
        ELSE hangup_reason END,
    tm_create = coalesce(tm_create, excluded.tm_create),
    tm_ringing = coalesce(tm_ringing, excluded.tm_ringing),
    tm_progressing = coalesce(tm_progressing, excluded.tm_progressing),
    tm_hangup = coalesce(tm_hangup, excluded.tm_hangup),
    tm_update = max(coalesce(tm_update, ''), coalesce(excluded.tm_update, '')),
    campaigncall_id = excluded.campaigncall_id
""".format(new=_CALL_RANK_SQL.format(s="excluded.status"), old=_CALL_RANK_SQL.format(s="status"))


def _keep_timeline(changes: Changes, call: Call, cc_id: str, event_type: str) -> None:
    status = call.status or {"call_hangup": "hangup", "call_progressing": "progressing"}.get(
        event_type, ""
    )
    changes.timelines.append(
        (call.id, cc_id, call.direction, status, call.hangup_by or "", call.hangup_reason,
         call.tm_create, call.tm_ringing, call.tm_progressing,
         call.tm_hangup or (call.tm_update if status == "hangup" else None), call.tm_update)
    )  # fmt: skip


def _call_event(changes: Changes, event_type: str, call: Call) -> Effect:
    """A call's event: an incoming call is no campaign's; an outgoing one's waits for its
    campaigncall; answered is rule 5, hung up rules 1, 2 and 6; the rest keep the timeline."""
    if call.direction == "incoming":
        return Effect(
            "ignored", None, "an incoming call: no campaign's", call.hangup_reason or None
        )
    if event_type == "call_hangup" or call.status == "hangup":
        effect = _hangup(
            changes,
            call_id=call.id,
            campaigncall_id=None,
            reason=call.hangup_reason,
            tm=call.tm_hangup or call.tm_update,
        )
        _keep_timeline(changes, call, effect.campaigncall_id or "", "call_hangup")
        return effect
    cc_id, status, result, _target = _find_campaigncall(changes.conn, call_id=call.id)
    _keep_timeline(changes, call, cc_id, event_type)
    if event_type == "call_progressing" or call.status == "progressing":
        if status == "dialing":
            changes.conn.execute(
                "UPDATE campaigncalls SET status = 'progressing', tm_update = ? WHERE id = ?",
                (call.tm_progressing or call.tm_update or now_tm(), cc_id),
            )
            return Effect("applied", cc_id, "answered")
        if status == "done":
            return Effect("ignored", cc_id, f"late news: already done ({result})")
        return Effect("applied", cc_id, "answered (timeline)")
    return Effect("applied", cc_id, f"call {call.status or event_type.removeprefix('call_')}")


def _activeflow_event(changes: Changes, event_type: str, flow: Activeflow) -> Effect:
    """A flow campaign's campaigncall is done, always a success, when its activeflow ends
    (bin-campaign-manager/pkg/subscribehandler/flowmanager.go: looked up by activeflow id)."""
    conn = changes.conn
    if event_type != "activeflow_deleted":
        return Effect("ignored", None, "no use: an activeflow's progress")
    row = conn.execute(
        "SELECT id, status, result, outdial_target_id, reference_type FROM campaigncalls"
        " WHERE activeflow_id = ? ORDER BY tm_create DESC LIMIT 1",
        (flow.id,),
    ).fetchone()
    if row is None and flow.reference_type == "campaign" and flow.reference_id != NIL_UUID:
        row = conn.execute(
            "SELECT id, status, result, outdial_target_id, reference_type FROM campaigncalls"
            " WHERE id = ?",
            (flow.reference_id,),
        ).fetchone()
    if row is None:
        if flow.reference_type == "campaign":
            raise CampaigncallNotYet(flow.id, BY_ACTIVEFLOW)
        return Effect("ignored", None, f"an activeflow of {flow.reference_type or 'nothing'}")
    cc_id, status, result, target_id, reference_type = row
    if reference_type != "flow":
        return Effect("ignored", cc_id, "a call campaign's activeflow: its hangup decides")
    if status == "done":
        if result == "success":
            _count_late_reason(conn, cc_id, FLOW_ENDED)
        return Effect("ignored", cc_id, f"late news: already done ({result})")
    tm = flow.tm_delete or flow.tm_update or now_tm()
    words = _mark_done(changes, cc_id, target_id, "success", tm, "flow ended → success")
    _count_reason(conn, cc_id, FLOW_ENDED)
    return Effect("applied", cc_id, words)


# ---- the other records VoIPbin sends: campaigns, outplans, outdials, targets ------------


def _upsert_record(changes: Changes, table: str, record: Record, event_type: str) -> Effect:
    """Upsert a record from VoIPbin, never an older version over a newer one."""
    conn = changes.conn
    ident: str = getattr(record, "id")  # noqa: B009
    newer_than = getattr(record, "tm_update", None)
    stored = conn.execute(
        f"SELECT {'tm_update' if table != 'outdials' else 'NULL'}, partial FROM {table}"
        " WHERE id = ?",
        (ident,),
    ).fetchone()
    if stored is not None and not stored[1] and stored[0] is not None:
        if newer_than is None or newer_than <= stored[0]:
            return Effect("ignored", None, f"older news: the stored {table[:-1]} is as new")
    columns = record_columns(type(record))
    row = record_to_row(record)
    conn.execute(upsert_sql(table, columns), [row[c] for c in columns])
    if table == "outdialtargets":
        changes.refresh.add(ident)
    elif table == "outplans":
        changes.limits.clear()
        changes.refresh.update(targets_of_outplans(conn, [ident]))
    if isinstance(record, Campaign):
        return Effect("applied", None, f"campaign {record.status}")
    return Effect("applied", None, f"{table[:-1]} {event_type.rsplit('_', 1)[-1]}")


_RECORD_TABLES: dict[type[Record], str] = {
    Campaign: "campaigns",
    Outplan: "outplans",
    Outdial: "outdials",
    Outdialtarget: "outdialtargets",
}


def apply_read_event(changes: Changes, event: ReadEvent) -> Effect:
    """Apply one event by the rules; RuleViolation leaves the database untouched."""
    record = event.record
    if isinstance(record, Call):
        return _call_event(changes, event.type, record)
    if isinstance(record, ShorthandHangup):
        return _hangup(
            changes,
            call_id=record.reference_id,
            campaigncall_id=record.campaigncall_id,
            reason=record.hangup_reason,
            tm=record.tm,
        )
    if isinstance(record, Campaigncall):
        return _upsert_campaigncall(changes, record, event.type)
    if isinstance(record, Activeflow):
        return _activeflow_event(changes, event.type, record)
    if record is not None:
        return _upsert_record(changes, _RECORD_TABLES[type(record)], record, event.type)
    return Effect("ignored", None, f"no use: {event.type}")


# ---- out of order: events parked until their campaigncall arrives ------------------------


def _release_parked(changes: Changes, record: Campaigncall) -> None:
    """Apply, in the order they were read, the events that waited for this campaigncall."""
    conn = changes.conn
    parked = conn.execute(
        "SELECT e.id, e.file, e.position, e.type, e.raw FROM parked_events p"
        " JOIN events e ON e.id = p.event_id"
        " WHERE (p.lookup = ? AND p.by_reference = 1) OR (p.lookup = ? AND p.by_reference = 2)"
        " OR p.lookup = ? ORDER BY e.id",
        (record.reference_id, record.activeflow_id, record.id),
    ).fetchall()
    for event_id, file, position, kind, raw in parked:
        conn.execute("DELETE FROM parked_events WHERE event_id = ?", (event_id,))
        outcome = _apply_described(changes, json.loads(raw), file, position, kind, raw)
        conn.execute(
            "UPDATE events SET outcome = ?, error = ?, campaigncall_id = ?, tm_resolved = ?,"
            " summary = ?, raw = CASE WHEN ? = 'ignored' THEN '' ELSE raw END,"
            " content_hash = CASE WHEN ? = 'applied' THEN content_hash END WHERE id = ?",
            (outcome.outcome, outcome.error, outcome.campaigncall_id, now_tm(), outcome.summary,
             outcome.outcome, outcome.outcome, event_id),
        )  # fmt: skip
        changes.released.append(outcome)


def expire_parked(conn: sqlite3.Connection, older_than_seconds: float) -> list[EventOutcome]:
    """End the events parked longer than allowed (inside the caller's transaction): VoIPbin's
    call events were no campaign's, so they end ignored; a hand-written one ends rejected."""
    cutoff = add_ms(now_tm(), -int(older_than_seconds * 1000))
    rows = conn.execute(
        "SELECT e.id, e.file, e.position, e.type, e.campaigncall_id, e.reason, e.raw,"
        " p.lookup, p.by_reference FROM parked_events p JOIN events e ON e.id = p.event_id"
        " WHERE p.tm_parked <= ? ORDER BY e.id",
        (cutoff,),
    ).fetchall()
    expired = []
    for event_id, file, position, kind, ident, reason, raw, lookup, key in rows:
        conn.execute("DELETE FROM parked_events WHERE event_id = ?", (event_id,))
        shorthand = _is_shorthand(raw)
        if shorthand:
            error: str | None = (
                f"no campaigncall with {_KEY_WORDS[key]} {lookup} arrived within "
                f"{older_than_seconds:g} s of this event"
            )
            summary = None
        else:
            error = None
            summary = (
                f"no campaigncall claimed it within {older_than_seconds:g} s: not a campaign's"
            )
        outcome: Outcome = "rejected" if shorthand else "ignored"
        conn.execute(
            "UPDATE events SET outcome = ?, error = ?, summary = ?, content_hash = NULL,"
            " tm_resolved = ?, raw = CASE WHEN ? = 'ignored' THEN '' ELSE raw END WHERE id = ?",
            (outcome, error, summary, now_tm(), outcome, event_id),
        )
        expired.append(
            EventOutcome(file, position, kind, ident, reason, outcome, error, raw, summary)
        )
    return expired


def _is_shorthand(raw: str) -> bool:
    """A parked event written by hand (store.events tells the shapes apart)."""
    try:
        return read_event(json.loads(raw)).shape == "shorthand"
    except (ValueError, RuleViolation):
        return True


def has_parked(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM parked_events LIMIT 1").fetchone() is not None


# ---- recording each event -----------------------------------------------------------------

_INSERT_EVENT = (
    "INSERT INTO events (tm, file, position, type, campaigncall_id, reason, outcome, error,"
    " raw, content_hash, drop_file_id, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _event_row(
    outcome: EventOutcome, digest: str | None, tm: str, drop_file_id: int | None
) -> tuple[Any, ...]:
    # an ignored event keeps its time, file, type, ids and outcome, not its raw JSON
    raw = "" if outcome.outcome == "ignored" else sqlite_text(outcome.raw)
    return (tm, _text(outcome.file), outcome.position, _text(outcome.type),
            _text(outcome.campaigncall_id), _text(outcome.reason), outcome.outcome,
            _text(outcome.error), raw, digest, drop_file_id, _text(outcome.summary))  # fmt: skip


def _text(text: str | None) -> str | None:
    return text if text is None or text.isascii() else sqlite_text(text)


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
    changes: Changes, event: object, file: str, position: int | None, kind: str | None, raw: str
) -> EventOutcome:
    """Apply one event: applied, ignored, or rejected with the rule's reason (parking is the
    caller's)."""
    try:
        read = read_event(event)
        kind = read.type
        effect = apply_read_event(changes, read)
    except CampaigncallNotYet:
        raise
    except RuleViolation as violation:
        kind = kind or event_type_of(event)
        ident, reason = hint_ids(event)
        ident = _campaigncall_called(changes.conn, ident)
        return EventOutcome(file, position, kind, ident, reason, "rejected", str(violation), raw)
    ident = effect.campaigncall_id
    reason = effect.reason
    if effect.outcome == "ignored" and ident is None:
        ident, reason = hint_ids(event)
    return EventOutcome(
        file, position, kind, ident, reason, effect.outcome, None, raw, effect.summary
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
    changes = Changes(conn)
    tm = now_tm()
    encoded = [encode_event(event) for event in events]
    seen = _seen_before(conn, [digest for _raw, digest in encoded])
    rows: list[tuple[Any, ...]] = []
    for position, (event, (raw, digest)) in enumerate(zip(events, encoded, strict=True)):
        parked_on: CampaigncallNotYet | None = None
        if digest in seen:
            ident, reason = seen[digest]
            kind = event_type_of(event)
            outcome = EventOutcome(
                file, position, kind, ident, reason, "duplicate", None, raw, "seen before"
            )
        else:
            try:
                outcome = _apply_described(changes, event, file, position, None, raw)
            except CampaigncallNotYet as waiting:
                ident, reason = hint_ids(event)
                outcome = EventOutcome(
                    file, position, event_type_of(event), ident, reason, "parked", str(waiting),
                    raw,
                )  # fmt: skip
                parked_on = waiting
            if outcome.outcome in ("applied", "parked"):
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
                (event_id, parked_on.lookup, parked_on.key, tm),
            )
    conn.executemany(_INSERT_EVENT, rows)
    changes.write_timelines()
    if changes.refresh:
        refresh_retry_plans(conn, changes.refresh, find_outplan=False)
    if released is not None:
        released.extend(changes.released)
    return outcomes


def reject_whole_file(
    conn: sqlite3.Connection, file: str, error: str, raw: str, drop_file_id: int | None = None
) -> EventOutcome:
    outcome = EventOutcome(file, None, None, None, None, "rejected", error, raw)
    conn.execute(_INSERT_EVENT, _event_row(outcome, None, now_tm(), drop_file_id))
    return outcome


def apply_content(
    conn: sqlite3.Connection,
    file: str,
    data: bytes,
    drop_file_id: int | None = None,
    released: list[EventOutcome] | None = None,
) -> list[EventOutcome]:
    """A file's bytes applied inside the caller's transaction (a bad file is one rejection)."""
    try:
        events = decode_drop_bytes(data)
    except ValueError as error:
        preview = data[:2000].decode("utf-8", "replace")
        return [reject_whole_file(conn, file, str(error), preview, drop_file_id)]
    return apply_events_in_transaction(conn, file, events, drop_file_id, released)


def apply_bytes(
    db: sqlite_utils.Database, file: str, data: bytes, released: list[EventOutcome] | None = None
) -> list[EventOutcome]:
    """Apply a file's content as one transaction (the headless `apply` path: nothing moves)."""
    with transaction(db.conn) as conn:
        return apply_content(conn, file, data, released=released)
