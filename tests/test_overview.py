"""The campaign overview's numbers (store.overview) on real SQLite files: targets by state,
success rate, hangup reasons, attempts per minute, the forecast; loaded, then after events,
and the same as counting the rows afresh; every read an index range, never a scan."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from store.apply import apply_bytes
from store.bundle import load_bundle
from store.db import SCHEMA_VERSION, connect, recount_overview
from store.overview import (
    CampaignOverview,
    TargetStates,
    forecast_text,
    read_overview,
)
from store.queries import Queries
from tests import feeds
from tests.helpers import (
    CAMPAIGN,
    bundle,
    campaigncall,
    created,
    hangup,
    target,
    write_json,
)

NOW = datetime(2026, 11, 20, 10, 0, 30, tzinfo=UTC)
T = [f"7a000000-0000-4000-8000-0000000001{n:02d}" for n in range(8)]
OTHER_CAMPAIGN = "c0000000-0000-4000-8000-000000000002"
OTHER_OUTDIAL = "0d000000-0000-4000-8000-000000000002"


def at(minutes_ago: float) -> str:
    moment = NOW - timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def rfc(minutes_ago: float) -> str:
    """The same moment as VoIPbin writes it (RFC 3339)."""
    return at(minutes_ago).replace(" ", "T") + "Z"


def call(n: int, *, target_id: str, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    ident = f"ca000000-0000-4000-8000-0000000002{n:02d}"
    ref = f"ee000000-0000-4000-8000-0000000002{n:02d}"
    return campaigncall(ident, ref=ref, target=target_id, tm_create=at(minutes_ago), **fields)


def known_bundle() -> dict[str, Any]:
    """One running campaign (outplan: slot 0 twice, slot 1 once) with a target in each state,
    and a stopped campaign on another outdial with two untried targets.

    T0, T1: untried. T2: progressing, its call dialing (2 min ago). T3: failed once 20 min
    ago, retry scheduled. T4: every slot used up, exhausted. T5: done (success 5 min ago).
    Attempts: 2 min, 5 min (twice in that minute), 20 min, 30 min and 90 min ago.
    """
    data = bundle(
        call(1, target_id=T[2], minutes_ago=2),
        call(2, target_id=T[3], minutes_ago=20, status="done", result="fail",
             tm_update=at(19)),
        call(3, target_id=T[4], minutes_ago=90, status="done", result="fail",
             tm_update=at(89)),
        call(4, target_id=T[4], minutes_ago=30, status="done", result="fail", tries=2,
             tm_update=at(29)),
        call(5, target_id=T[4], minutes_ago=5.2, status="done", result="fail", index=1,
             tm_update=at(5)),
        call(6, target_id=T[5], minutes_ago=5.5, status="done", result="success",
             tm_update=at(5)),
        targets=[
            target(T[0]),
            target(T[1]),
            target(T[2], status="progressing", tries=(1, 0)),
            {**target(T[3], tries=(1, 0)), "tm_update": at(19)},
            {**target(T[4], tries=(2, 1)), "tm_update": at(5)},
            {**target(T[5], status="done", tries=(1, 0)), "tm_update": at(5)},
            {**target(T[6]), "outdial_id": OTHER_OUTDIAL},
            {**target(T[7]), "outdial_id": OTHER_OUTDIAL},
        ],
    )  # fmt: skip
    data["campaigns"].append(
        {**data["campaigns"][0], "id": OTHER_CAMPAIGN, "name": "Autumn [b]list[/b]",
         "status": "stop", "outdial_id": OTHER_OUTDIAL}
    )  # fmt: skip
    data["outdials"].append({"id": OTHER_OUTDIAL, "name": "Autumn"})
    return data


@pytest.fixture
def known(tmp_path: Path) -> sqlite_utils.Database:
    db = connect(tmp_path / "known.db", create=True)
    load_bundle(db, str(write_json(tmp_path / "known.json", known_bundle())))
    yield db
    db.conn.close()


def line(db: sqlite_utils.Database, ident: str = CAMPAIGN) -> CampaignOverview:
    lines = {c.id: c for c in read_overview(db.conn, NOW).campaigns}
    return lines[ident]


def apply(db: sqlite_utils.Database, *events: Any) -> None:
    outcomes = apply_bytes(db, "f.json", json.dumps(list(events)).encode())
    assert all(o.outcome != "rejected" for o in outcomes), [o.line() for o in outcomes]


def test_a_loaded_campaign_by_target_state_rate_and_attempts(known: sqlite_utils.Database) -> None:
    running = line(known)
    assert (running.name, running.status) == ("Renewals", "run")
    assert running.targets == TargetStates(
        untried=2, progressing=1, retrying=1, exhausted=1, done=1
    )
    assert (running.dialing, running.progressing, running.done) == (1, 0, 5)
    assert (running.success, running.fail, running.success_rate) == (1, 4, 0.2)
    # loaded campaigncalls carry no hangup reason: their reason is unknown
    assert running.reasons == [("unknown", 5)]
    # the last hour ends with NOW's minute (10:00); 90 minutes ago is outside it
    assert len(running.attempts) == 60
    assert running.attempts[-1] == 0
    assert running.attempts[-3] == 1  # 2 min ago
    assert running.attempts[-6] == 2  # 5.2 and 5.5 min ago: both in 09:55
    assert running.attempts[-21] == 1 and running.attempts[-31] == 1
    assert running.attempts_last_hour == 5
    # finished in the last 15 minutes: T4 exhausted and T5 done, 5 min ago; 4 targets left
    assert running.finished_recently == 2
    assert running.forecast == "about 30 min left at the last 15 minutes' pace"

    stopped = line(known, OTHER_CAMPAIGN)
    assert stopped.name == "Autumn [b]list[/b]"  # as stored; the screen shows it as plain text
    assert stopped.targets == TargetStates(untried=2)
    assert (stopped.done, stopped.success_rate, stopped.reasons) == (0, None, [])
    assert stopped.attempts == [0] * 60
    assert stopped.forecast == "stopped, 2 targets left"


def test_events_move_every_number(known: sqlite_utils.Database) -> None:
    t2_call = "ee000000-0000-4000-8000-000000000201"
    # T2's call is busy: fail, T2 waits for its retry
    apply(known, hangup(t2_call, "busy", rfc(1)))
    running = line(known)
    assert running.targets == TargetStates(untried=2, retrying=2, exhausted=1, done=1)
    assert (running.dialing, running.done, running.fail) == (0, 6, 5)
    assert running.reasons == [("unknown", 5), ("busy", 1)]
    # T0's first dial, answered and hung up normally: T0 done
    first = call(10, target_id=T[0], minutes_ago=0.5)
    apply(known, created(first))
    running = line(known)
    assert running.targets == TargetStates(untried=1, progressing=1, retrying=2, exhausted=1,
                                           done=1)  # fmt: skip
    assert running.attempts[-1] == 1 and running.attempts_last_hour == 6
    apply(known, hangup(first["reference_id"], "normal", rfc(0.1)))
    # T3's retry (slot 0, try 2) with no answer; then its slot 1, failed: exhausted
    retry = call(11, target_id=T[3], minutes_ago=0.4, tries=2)
    last = call(12, target_id=T[3], minutes_ago=0.3, index=1)
    apply(known, created(retry), hangup(retry["reference_id"], "no_answer", rfc(0.35)))
    apply(known, created(last), hangup(last["reference_id"], "failed", rfc(0.2)))
    running = line(known)
    assert running.targets == TargetStates(untried=1, retrying=1, exhausted=2, done=2)
    assert (running.done, running.success, running.fail) == (9, 2, 7)
    assert running.success_rate == pytest.approx(2 / 9)
    assert running.reasons == [("unknown", 5), ("busy", 1), ("failed", 1), ("noanswer", 1),
                               ("normal", 1)]  # fmt: skip
    assert running.attempts_last_hour == 8
    # 4 finished in 15 minutes (2 loaded, T0 done, T3 exhausted), 2 left: 7.5 minutes
    assert running.finished_recently == 4
    assert running.forecast == "about 8 min left at the last 15 minutes' pace"
    # the other campaign is untouched
    assert line(known, OTHER_CAMPAIGN).targets == TargetStates(untried=2)


def feed_db(tmp_path: Path, events: list[dict[str, Any]]) -> sqlite_utils.Database:
    db = connect(tmp_path / "feed.db", create=True)
    load_bundle(db, str(write_json(tmp_path / "feed.json", feeds.bundle())))
    for n, event in enumerate(events):
        outcomes = apply_bytes(db, f"{n:04d}.json", json.dumps(event).encode())
        assert outcomes[0].outcome != "rejected", outcomes[0].line()
    return db


FEED_REASONS = Counter(reason for _attempt, reason in feeds.ATTEMPTS)


@pytest.mark.parametrize("order", ["as sent", "neighbours swapped"])
def test_voipbins_feed_counts_each_reason_once_in_either_order(tmp_path: Path, order: str) -> None:
    # swapped, some campaigncall_updated (done, no reason) come before their call_hangup
    events = feeds.webhook_envelopes()
    if order == "neighbours swapped":
        for i in range(0, len(events) - 1, 2):
            events[i], events[i + 1] = events[i + 1], events[i]
    db = feed_db(tmp_path, events)
    now = feeds.STOPPED_AT + timedelta(minutes=1)
    campaign = read_overview(db.conn, now).campaigns[0]
    assert campaign.status == "stop"
    assert campaign.targets == TargetStates(done=3, exhausted=2)
    assert dict(campaign.reasons) == dict(FEED_REASONS)
    assert sum(n for _r, n in campaign.reasons) == campaign.done == 10
    assert campaign.success_rate == pytest.approx(3 / 10)
    assert campaign.attempts_last_hour == 10
    assert campaign.forecast == "finished"
    assert db.conn.execute("SELECT count(*) FROM reasons_pending").fetchone()[0] == 0
    # a hangup seen again (its file dropped twice) counts nothing more
    again = next(e for e in events if e["type"] == "call_hangup")
    apply_bytes(db, "again.json", json.dumps(again).encode())
    assert dict(read_overview(db.conn, now).campaigns[0].reasons) == dict(FEED_REASONS)


def test_done_by_voipbin_without_its_hangup_is_unknown_until_the_hangup_comes(
    known: sqlite_utils.Database,
) -> None:
    record = call(1, target_id=T[2], minutes_ago=2, status="done", result="fail",
                  tm_update=at(1))  # fmt: skip
    apply(known, {"type": "campaigncall_updated", "data": record})
    assert line(known).reasons == [("unknown", 6)]
    assert line(known).targets.retrying == 2
    apply(known, hangup(record["reference_id"], "busy", rfc(1)))
    assert line(known).reasons == [("unknown", 5), ("busy", 1)]
    # a later hangup with another fail reason is late news: still counted once
    apply(known, hangup(record["reference_id"], "noanswer", rfc(0.5)))
    assert line(known).reasons == [("unknown", 5), ("busy", 1)]


def test_the_maintained_counts_equal_counting_the_rows_afresh(tmp_path: Path) -> None:
    db = feed_db(tmp_path, feeds.webhook_envelopes())
    tables = ("target_counts", "target_finishes", "hangup_reason_counts")
    kept = {t: db.conn.execute(f"SELECT * FROM {t} WHERE n != 0 ORDER BY 1, 2").fetchall()
            for t in tables}  # fmt: skip
    db.conn.execute("BEGIN")
    recount_overview(db.conn)
    db.conn.execute("COMMIT")
    fresh = {t: db.conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
    assert kept == fresh
    assert kept["target_finishes"]  # the finishes really were counted


def test_an_older_database_gets_its_overview_counts_on_upgrade(tmp_path: Path) -> None:
    db = feed_db(tmp_path, feeds.webhook_envelopes())
    now = feeds.STOPPED_AT + timedelta(minutes=1)
    before = read_overview(db.conn, now)
    # what a schema 5 file holds: none of the overview's tables
    for name in ("target_counts", "target_finishes", "hangup_reason_counts", "reasons_pending"):
        db.conn.execute(f"DROP TABLE {name}")
    for trigger in ("insert", "delete", "update"):
        db.conn.execute(f"DROP TRIGGER outdialtargets_state_{trigger}")
    db.conn.execute("DROP INDEX campaigncalls_campaign_created")
    db.conn.execute("PRAGMA user_version = 5")
    db.conn.close()
    upgraded = connect(tmp_path / "feed.db")
    assert upgraded.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert read_overview(upgraded.conn, now) == before
    upgraded.conn.close()


def test_every_read_is_an_index_range_never_a_scan(known: sqlite_utils.Database) -> None:
    statements: list[str] = []
    known.conn.set_trace_callback(statements.append)
    read_overview(known.conn, NOW)
    known.conn.set_trace_callback(None)
    assert statements
    for sql in statements:
        plan = " / ".join(
            row[3] for row in known.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        )
        for big in ("campaigncalls", "outdialtargets", "events", "calls"):
            assert f"SCAN {big}" not in plan, (sql, plan)
        if "FROM campaigncalls" in sql:
            assert "USING" in plan and "INDEX" in plan, (sql, plan)


def test_the_forecast_in_words() -> None:
    assert forecast_text(40, 15, "run") == "about 40 min left at the last 15 minutes' pace"
    assert forecast_text(1, 30, "run") == "about a minute left at the last 15 minutes' pace"
    assert forecast_text(600, 15, "run") == "about 10 h left at the last 15 minutes' pace"
    assert forecast_text(100_000, 15, "run").startswith("about 69 days left")
    assert forecast_text(5, 0, "run") == "no pace yet"
    assert forecast_text(5, 0, "stop") == "stopped, 5 targets left"
    assert forecast_text(1, 9, "stop") == "stopped, 1 target left"
    assert forecast_text(5, 0, "stopping") == "no pace yet"
    assert forecast_text(0, 0, "stop") == "finished"


def test_the_overview_follows_a_feed_running_ahead_of_the_clock(
    known: sqlite_utils.Database,
) -> None:
    # a simulated feed (--speed 60) an hour ahead: the last hour is the feed's
    ahead = call(20, target_id=T[0], minutes_ago=-60)
    apply(known, created(ahead))
    overview = read_overview(known.conn, NOW)
    assert overview.now == at(-60)
    assert [c.attempts[-1] for c in overview.campaigns if c.id == CAMPAIGN] == [1]


def test_queries_reads_the_overview_read_only(tmp_path: Path, known: sqlite_utils.Database) -> None:
    queries = Queries(tmp_path / "known.db")
    try:
        names = [c.name for c in queries.overview(NOW).campaigns]
    finally:
        queries.close()
    assert names == ["Autumn [b]list[/b]", "Renewals"]


def test_a_campaign_with_no_targets_and_no_calls(tmp_path: Path) -> None:
    db = connect(tmp_path / "empty.db", create=True)
    data = {"campaigns": known_bundle()["campaigns"][:1], "outdials": [],
            "outplans": [], "outdialtargets": [], "campaigncalls": []}  # fmt: skip
    load_bundle(db, str(write_json(tmp_path / "c.json", data)))
    only = read_overview(db.conn, NOW).campaigns
    assert [(c.targets.total, c.done, c.forecast) for c in only] == [(0, 0, "no targets")]
    db.conn.close()
