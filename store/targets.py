"""Keeps each outdialtarget's derived retry plan (store.rules.next_attempt) up to date in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from store.models import Outdialtarget, Outplan
from store.rows import row_to_record
from store.rules import NO_RETRY, RetryPlan, next_attempt, plan_retry

# The outplan that plans a target's retries: that of its latest campaigncall, else that of a
# campaign dialling its outdial.
_SET_RETRY_OUTPLAN = """
UPDATE outdialtargets SET retry_outplan_id = coalesce(
    (SELECT c.outplan_id FROM campaigncalls c WHERE c.outdial_target_id = outdialtargets.id
     ORDER BY c.tm_create DESC LIMIT 1),
    (SELECT p.outplan_id FROM campaigns p WHERE p.outdial_id = outdialtargets.outdial_id
     ORDER BY p.tm_create LIMIT 1),
    retry_outplan_id)
WHERE id = ?
"""


def _rows(
    conn: sqlite3.Connection, sql: str, params: Iterable[object] = ()
) -> list[dict[str, object]]:
    cursor = conn.execute(sql, tuple(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def load_outplan(conn: sqlite3.Connection, outplan_id: str | None) -> Outplan | None:
    if outplan_id is None:
        return None
    rows = _rows(conn, "SELECT * FROM outplans WHERE id = ? AND NOT partial", [outplan_id])
    return row_to_record(Outplan, rows[0]) if rows else None


def retry_plan_for(conn: sqlite3.Connection, target_id: str) -> RetryPlan | None:
    """The target's retry plan, worked out afresh from the target and its outplan."""
    rows = _rows(conn, "SELECT * FROM outdialtargets WHERE id = ?", [target_id])
    if not rows:
        return None
    target = row_to_record(Outdialtarget, rows[0])
    outplan = load_outplan(conn, rows[0]["retry_outplan_id"])  # type: ignore[arg-type]
    return next_attempt(target, outplan, partial=bool(rows[0]["partial"]))


# What a retry plan is worked out from, in this order (TargetPlanRow): its id, status,
# tm_update, outplan, partial, whether each slot has a destination, each slot's tries; then
# the plan stored now.
TARGET_PLAN_COLUMNS = (
    ["id", "status", "tm_update", "retry_outplan_id", "partial"]
    + [f"destination_{i} IS NOT NULL" for i in range(5)]
    + [f"try_count_{i}" for i in range(5)]
    + ["retry_state", "retry_index", "retry_try", "retry_due"]
)
_TARGET_PLAN_COLUMNS = ", ".join(TARGET_PLAN_COLUMNS)
TargetPlanRow = tuple[Any, ...]


def _outplan_limits(
    conn: sqlite3.Connection, outplan_id: str | None
) -> tuple[list[int] | None, int]:
    row = conn.execute(
        "SELECT try_interval, "
        + ", ".join(f"max_try_count_{i}" for i in range(5))
        + " FROM outplans WHERE id = ? AND NOT partial",
        (outplan_id,),
    ).fetchone()
    return (None, 0) if row is None else (list(row[1:]), row[0])


Limits = dict[str | None, tuple[list[int] | None, int]]


def settle_target(
    conn: sqlite3.Connection,
    target_id: str,
    status: str,
    tm: str,
    limits: Limits,
    row: TargetPlanRow | None = None,
) -> tuple[str, RetryPlan]:
    """Rule 2 on one target with its retry plan (rule 3), in one write; a target that has
    succeeded stays done. `limits` caches outplans for the caller's transaction. `row`: the
    target's TARGET_PLAN_COLUMNS, read by the caller in this transaction, else read here."""
    if row is None:
        row = conn.execute(
            f"SELECT {_TARGET_PLAN_COLUMNS} FROM outdialtargets WHERE id = ?", (target_id,)
        ).fetchone()
    if row is None or row[1] == "done":
        return "done" if row is not None else status, NO_RETRY
    outplan_id, partial = row[3], row[4]
    if outplan_id not in limits:
        limits[outplan_id] = _outplan_limits(conn, outplan_id)
    maxima, interval = limits[outplan_id]
    plan = plan_retry(status, tm, row[5:10], row[10:15], maxima, interval, partial=bool(partial))
    if (plan.state, plan.destination_index, plan.try_count, plan.due) == tuple(row[15:19]):
        # the stored plan stands (a success ends a target whose plan was already none): its
        # columns are left out of the write, and so are the two indexes on retry_state
        conn.execute(
            "UPDATE outdialtargets SET status = ?, tm_update = ? WHERE id = ?",
            (status, tm, target_id),
        )
    else:
        conn.execute(
            "UPDATE outdialtargets SET status = ?, tm_update = ?, retry_state = ?,"
            " retry_index = ?, retry_try = ?, retry_due = ? WHERE id = ?",
            (status, tm, plan.state, plan.destination_index, plan.try_count, plan.due, target_id),
        )
    return status, plan


def refresh_retry_plans(
    conn: sqlite3.Connection, target_ids: Iterable[str], *, find_outplan: bool = True
) -> dict[str, RetryPlan]:
    """Work out and store the retry plan of each target (inside the caller's transaction);
    returns the plans by target id."""
    ids = list(dict.fromkeys(target_ids))
    if find_outplan:
        conn.executemany(_SET_RETRY_OUTPLAN, [(i,) for i in ids])
    limits: Limits = {}
    updates = []
    plans: dict[str, RetryPlan] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT {_TARGET_PLAN_COLUMNS} FROM outdialtargets WHERE id IN ({marks})", chunk
        ):
            ident, status, tm_update, outplan_id, partial = row[:5]
            if outplan_id not in limits:
                limits[outplan_id] = _outplan_limits(conn, outplan_id)
            maxima, interval = limits[outplan_id]
            plan = plan_retry(
                status, tm_update, row[5:10], row[10:15], maxima, interval, partial=bool(partial)
            )
            plans[ident] = plan
            updates.append((plan.state, plan.destination_index, plan.try_count, plan.due, ident))
    conn.executemany(
        "UPDATE outdialtargets SET retry_state = ?, retry_index = ?, retry_try = ?, retry_due = ?"
        " WHERE id = ?",
        updates,
    )
    return plans


def targets_of_outplans(conn: sqlite3.Connection, outplan_ids: Iterable[str]) -> list[str]:
    ids = list(outplan_ids)
    found: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found += [
            r[0]
            for r in conn.execute(
                f"SELECT id FROM outdialtargets WHERE retry_outplan_id IN ({marks})", chunk
            )
        ]
    return found
