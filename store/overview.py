"""The campaign overview: per campaign, its targets by state, success rate, hangup reasons,
attempts per minute over the last hour and a finish forecast, from maintained counts and
index ranges only (never a scan of campaigncalls or targets)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from store.timefmt import UNSET_SENTINEL_YEAR, format_tm

# A target's state in the overview (store.db.target_state_sql), in the order shown
TARGET_STATES = ("untried", "progressing", "retrying", "exhausted", "done", "unknown")
SPARK_MINUTES = 60  # attempts per minute over the last hour
PACE_MINUTES = 15  # the forecast's pace: targets finished over the last 15 minutes
UNKNOWN_REASON = "unknown"  # done with no hangup seen: loaded, synced, or done by VoIPbin first


@dataclass(frozen=True)
class TargetStates:
    """A campaign's targets (those of its outdial) by state."""

    untried: int = 0  # idle, never dialled
    progressing: int = 0  # being dialled
    retrying: int = 0  # idle after a fail, a retry scheduled
    exhausted: int = 0  # idle after a fail, no tries left
    done: int = 0  # succeeded
    unknown: int = 0  # idle after a fail, its retry plan not known (the outplan is not known)

    @property
    def total(self) -> int:
        return sum(getattr(self, state) for state in TARGET_STATES)

    @property
    def left(self) -> int:
        """Targets not finished: still to be dialled, being dialled or waiting for a retry."""
        return self.untried + self.progressing + self.retrying + self.unknown


@dataclass(frozen=True)
class CampaignOverview:
    """One campaign's line of the overview."""

    id: str
    name: str
    status: str  # VoIPbin's: run, stopping, stop
    type: str
    targets: TargetStates
    dialing: int  # its campaigncalls by status, done split by result
    progressing: int
    done: int
    success: int
    fail: int
    reasons: list[tuple[str, int]]  # done campaigncalls by hangup reason, most first
    attempts: list[int]  # campaigncalls created per minute, the last SPARK_MINUTES, oldest first
    finished_recently: int  # targets finished over the last PACE_MINUTES
    forecast: str = ""

    @property
    def success_rate(self) -> float | None:
        """Successes of the done campaigncalls, 0 to 1; None before any is done."""
        return self.success / self.done if self.done else None

    @property
    def attempts_last_hour(self) -> int:
        return sum(self.attempts)


@dataclass(frozen=True)
class Overview:
    """Every campaign's line, by name, and the moment the last hour ends at."""

    campaigns: list[CampaignOverview] = field(default_factory=list)
    now: str = ""


def forecast_text(left: int, finished: int, status: str, minutes: int = PACE_MINUTES) -> str:
    """How long the campaign's targets left take at the pace of the last `minutes`."""
    if left == 0:
        return "finished"
    if status == "stop":
        return f"stopped, {left:,} target{'s' if left != 1 else ''} left"
    if finished == 0:
        return "no pace yet"
    remaining = left / (finished / minutes)
    return f"about {_duration(remaining)} left at the last {minutes} minutes' pace"


def _duration(minutes: float) -> str:
    if minutes < 1:
        return "a minute"
    if minutes < 90:
        return f"{round(minutes)} min"
    if minutes < 48 * 60:
        return f"{round(minutes / 60)} h"
    return f"{round(minutes / 1440):,} days"


def _minute(moment: datetime) -> str:
    return format_tm(moment)[:16]  # '2026-11-27 13:05', how target_finishes keys its minutes


def overview_clock(conn: sqlite3.Connection, now: datetime) -> datetime:
    """The moment the overview's last hour ends: now, or the newest attempt if it is later (a
    simulated feed, --speed 60, runs ahead of the clock and is shown on its own time)."""
    newest = _naive_utc(now)
    for (campaign_id,) in conn.execute("SELECT id FROM campaigns").fetchall():
        row = conn.execute(
            "SELECT max(tm_create) FROM campaigncalls WHERE campaign_id = ? AND tm_create < ?",
            (campaign_id, str(UNSET_SENTINEL_YEAR)),
        ).fetchone()
        if row[0] is not None:
            newest = max(newest, datetime.fromisoformat(row[0]))
    return newest


def _naive_utc(moment: datetime) -> datetime:
    return datetime.fromisoformat(format_tm(moment))


def read_overview(conn: sqlite3.Connection, now: datetime) -> Overview:
    """Each campaign's overview at `now` (UTC; see overview_clock for the hour it ends)."""
    clock = overview_clock(conn, now)
    end = clock.replace(second=0, microsecond=0) + timedelta(minutes=1)
    spark_start = end - timedelta(minutes=SPARK_MINUTES)
    minutes = [_minute(spark_start + timedelta(minutes=i)) for i in range(SPARK_MINUTES)]
    pace_start = _minute(end - timedelta(minutes=PACE_MINUTES))

    targets: dict[str, dict[str, int]] = {}
    for outdial_id, state, n in conn.execute("SELECT outdial_id, state, n FROM target_counts"):
        targets.setdefault(outdial_id, {})[state] = n
    calls: dict[str, dict[str, int]] = {}
    for campaign_id, status, result, n in conn.execute(
        "SELECT campaign_id, status, result, n FROM campaigncall_counts"
    ):
        counts = calls.setdefault(campaign_id, {})
        counts[status] = counts.get(status, 0) + n
        if status == "done":
            counts[result] = counts.get(result, 0) + n
    reasons: dict[str, dict[str, int]] = {}
    for campaign_id, reason, n in conn.execute(
        "SELECT campaign_id, reason, n FROM hangup_reason_counts WHERE n > 0"
    ):
        reasons.setdefault(campaign_id, {})[reason] = n

    lines = []
    for ident, name, status, kind, outdial_id in conn.execute(
        "SELECT id, name, status, type, outdial_id FROM campaigns ORDER BY name, id"
    ).fetchall():
        states = TargetStates(**targets.get(outdial_id, {}))
        counts = calls.get(ident, {})
        done = counts.get("done", 0)
        by_reason = dict(reasons.get(ident, {}))
        unknown = done - sum(by_reason.values())
        if unknown > 0:
            by_reason[UNKNOWN_REASON] = unknown
        per_minute = dict(
            conn.execute(
                "SELECT substr(tm_create, 1, 16), count(*) FROM campaigncalls"
                " WHERE campaign_id = ? AND tm_create >= ? AND tm_create < ? GROUP BY 1",
                (ident, minutes[0], _minute(end)),
            ).fetchall()
        )
        finished = conn.execute(
            "SELECT coalesce(sum(n), 0) FROM target_finishes"
            " WHERE outdial_id = ? AND minute >= ? AND minute < ?",
            (outdial_id, pace_start, _minute(end)),
        ).fetchone()[0]
        lines.append(
            CampaignOverview(
                id=ident,
                name=name,
                status=status,
                type=kind,
                targets=states,
                dialing=counts.get("dialing", 0),
                progressing=counts.get("progressing", 0),
                done=done,
                success=counts.get("success", 0),
                fail=counts.get("fail", 0),
                reasons=sorted(by_reason.items(), key=lambda item: (-item[1], item[0])),
                attempts=[per_minute.get(minute, 0) for minute in minutes],
                finished_recently=finished,
                forecast=forecast_text(states.left, finished, status)
                if states.total
                else "no targets",
            )
        )
    return Overview(lines, format_tm(clock))
