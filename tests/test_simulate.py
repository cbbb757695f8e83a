"""`campaigncalls simulate`: VoIPbin's dialer on a real database, its feed in a real folder.

The feed is checked against VoIPbin's rules by its own simulated times (tries per slot, the
lowest slot first, the try interval since the previous hangup, end_handle stop), then applied
with the real `campaigncalls apply`.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from store import wire
from store.bundle import load_bundle
from store.db import connect
from store.simulate import (
    Dialer,
    ReasonMix,
    SimulationError,
    SimulationSettings,
    read_seed,
)
from store.timefmt import parse_tm, to_datetime
from tests.helpers import write_json

CUSTOMER = "c5000000-0000-4000-8000-000000000001"
RETRY_CAMPAIGN = "ca000000-0000-4000-8000-0000000000c1"  # end_handle continue
STOP_CAMPAIGN = "ca000000-0000-4000-8000-0000000000c2"  # end_handle stop
IDLE_CAMPAIGN = "ca000000-0000-4000-8000-0000000000c3"  # status stop: never dialled
OUTPLANS = {
    "0b000000-0000-4000-8000-0000000000b1": ((2, 1, 0, 0, 0), 60_000),
    "0b000000-0000-4000-8000-0000000000b2": ((1, 0, 2, 0, 0), 30_000),
}
OUTPLAN_1, OUTPLAN_2 = OUTPLANS
OUTDIALS = [f"0d000000-0000-4000-8000-0000000000d{n}" for n in (1, 2, 3)]
CREATED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
# many fails, so that targets are retried and run out of tries
FAILING = "normal=25,busy=25,noanswer=30,failed=10,cancel=5,dialout=5"


def _dest(n: int, slot: int) -> dict[str, Any]:
    return wire.address(target=f"+1555020{n:02d}{slot}", target_name=f"Target {n}")


def _target(
    n: int,
    outdial: str,
    slots: tuple[int, ...],
    *,
    status: str = "idle",
    tries: tuple[int, ...] = (0, 0, 0, 0, 0),
    updated: datetime | None = None,
) -> dict[str, Any]:
    return wire.outdialtarget(
        id=f"7a000000-0000-4000-8000-{n:012d}",
        outdial_id=outdial,
        destinations=[_dest(n, s) if s in slots else None for s in range(5)],
        tm_create=CREATED + timedelta(seconds=n),
        tm_update=updated,
        name=f"Target {n} [bold]x[/]",
        status=status,
        try_counts=tries,
    )


def small_bundle(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Two running call campaigns (continue and stop) and a stopped one, eleven targets; one
    target already dialled twice, one used up, one done, one in flight since a few seconds."""
    campaigns = [
        (RETRY_CAMPAIGN, "Retries", OUTPLAN_1, OUTDIALS[0], "run", "continue"),
        (STOP_CAMPAIGN, "Stops", OUTPLAN_2, OUTDIALS[1], "run", "stop"),
        (IDLE_CAMPAIGN, "Stopped", OUTPLAN_1, OUTDIALS[2], "stop", "stop"),
    ]
    targets = [
        *(_target(n, OUTDIALS[0], (0, 1)) for n in range(1, 5)),
        _target(5, OUTDIALS[0], (0, 1), tries=(2, 0, 0, 0, 0), updated=now - timedelta(seconds=20)),
        _target(6, OUTDIALS[0], (0, 1), tries=(2, 1, 0, 0, 0), updated=now - timedelta(hours=1)),
        _target(7, OUTDIALS[0], (0,), status="done", tries=(1, 0, 0, 0, 0), updated=now),
        _target(8, OUTDIALS[1], (0, 2)),
        _target(9, OUTDIALS[1], (2,)),
        _target(10, OUTDIALS[1], (0, 2), status="progressing", tries=(1, 0, 0, 0, 0), updated=now),
        _target(11, OUTDIALS[2], (0,)),
    ]
    in_flight = wire.Attempt(
        customer_id=CUSTOMER,
        campaign_id=STOP_CAMPAIGN,
        outplan_id=OUTPLAN_2,
        outdial_id=OUTDIALS[1],
        outdial_target_id=targets[9]["id"],
        campaigncall_id="cc000000-0000-4000-8000-000000000010",
        call_id="ca110000-0000-4000-8000-000000000010",
        activeflow_id="af000000-0000-4000-8000-000000000010",
        destination=_dest(10, 0),
        destination_index=0,
        try_count=1,
        start=now - timedelta(seconds=3),
        source=wire.address(target="+15550200000"),
    )
    return {
        "campaigns": [
            wire.campaign(
                id=ident,
                customer_id=CUSTOMER,
                outplan_id=outplan,
                outdial_id=outdial,
                tm_create=CREATED - timedelta(hours=1),
                name=name,
                status=status,
                end_handle=end_handle,
            )
            for ident, name, outplan, outdial, status, end_handle in campaigns
        ],
        "outplans": [
            wire.outplan(
                id=ident,
                customer_id=CUSTOMER,
                tm_create=CREATED - timedelta(hours=2),
                source=wire.address(target="+15550200000"),
                try_interval=interval,
                max_try_counts=maxima,
            )
            for ident, (maxima, interval) in OUTPLANS.items()
        ],
        "outdials": [
            wire.outdial(id=o, customer_id=CUSTOMER, tm_create=CREATED, name=o[-2:])
            for o in OUTDIALS
        ],
        "outdialtargets": targets,
        "campaigncalls": [in_flight.campaigncall()],
    }


@pytest.fixture
def small_db(tmp_path: Path) -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    path = tmp_path / "sim.db"
    data = small_bundle(datetime.now(UTC))
    db = connect(path, create=True)
    load_bundle(db, str(write_json(tmp_path / "bundle.json", data)))
    db.conn.close()
    return path, data


def run_cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_feed(drop: Path) -> list[dict[str, Any]]:
    """Every event of the drop files, in name order (the order the watcher applies them)."""
    events: list[dict[str, Any]] = []
    for path in sorted(drop.glob("*.json")):
        value = json.loads(path.read_text(encoding="utf-8"))
        events += value if isinstance(value, list) else [value]
    return events


def _time(value: str) -> datetime:
    stored = parse_tm(value)
    assert stored is not None
    return to_datetime(stored)


def event_time(event: dict[str, Any]) -> datetime:
    """When VoIPbin published it, by the record's own times."""
    data = event["data"]
    if event["type"] == "campaigncall_created":
        return _time(data["tm_create"])
    if event["type"] == "call_created":
        return _time(data["tm_create"])
    if event["type"] == "activeflow_created":
        return _time(data["tm_create"])
    return _time(data["tm_update"])


def check_feed(events: list[dict[str, Any]], data: dict[str, list[dict[str, Any]]]) -> None:
    """VoIPbin's dialer rules, checked on the feed by its simulated times."""
    plans = {o["id"]: o for o in data["outplans"]}
    campaigns = {c["id"]: c for c in data["campaigns"]}
    targets = {t["id"]: t for t in data["outdialtargets"]}
    tries = {t: [targets[t][f"try_count_{i}"] for i in range(5)] for t in targets}
    last_hangup: dict[str, datetime] = {}
    busy: dict[str, str] = {}  # target -> the campaigncall being dialled
    call_target: dict[str, str] = {}
    stopped: set[str] = set()
    times = [event_time(e) for e in events]
    assert times == sorted(times), "the feed is not in publish order"
    for event in events:
        kind, record = event["type"], event["data"]
        assert set(event) == {"type", "data"}
        if kind == "campaigncall_created":
            target_id = record["outdial_target_id"]
            plan = plans[record["outplan_id"]]
            maxima = [plan[f"max_try_count_{i}"] for i in range(5)]
            target = targets[target_id]
            assert record["campaign_id"] not in stopped, "dialled after the campaign stopped"
            assert campaigns[record["campaign_id"]]["status"] == "run"
            assert target_id not in busy, "a target dialled twice at once"
            slots = [
                i
                for i in range(5)
                if target[f"destination_{i}"] is not None and tries[target_id][i] < maxima[i]
            ]
            assert slots, f"{target_id} dialled with no tries left"
            index = record["destination_index"]
            assert index == slots[0], "not the lowest slot with tries left"
            tries[target_id][index] += 1
            assert tries[target_id][index] <= maxima[index]
            assert record["try_count"] == tries[target_id][index]
            assert record["destination"] == target[f"destination_{index}"]
            if target_id in last_hangup:
                gap = _time(record["tm_create"]) - last_hangup[target_id]
                assert gap >= timedelta(milliseconds=plan["try_interval"]), (
                    f"retried {gap} after the hangup, before its try_interval"
                )
            busy[target_id] = record["id"]
            call_target[record["reference_id"]] = target_id
        elif kind == "call_hangup":
            assert record["hangup_reason"] in wire.CAMPAIGNCALL_RESULT_BY_REASON
            target_id = call_target.get(record["id"], "")
            if target_id:
                last_hangup[target_id] = _time(record["tm_hangup"])
        elif kind == "campaigncall_updated" and record["status"] == "done":
            busy.pop(record["outdial_target_id"], None)
        elif kind in ("campaign_status_stopping", "campaign_status_stop"):
            stopped.add(record["id"])


def simulate(db: Path, drop: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli("simulate", "--db", db, "--drop-dir", drop, *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def _file_digest(path: Path) -> str:
    """The database's content: the file and its write-ahead log (missing or empty: none)."""
    wal = path.with_name(path.name + "-wal")
    logged = wal.read_bytes() if wal.exists() else b""
    return hashlib.sha256(path.read_bytes()).hexdigest() + hashlib.sha256(logged).hexdigest()


def test_the_feed_keeps_voipbins_dialer_rules(
    small_db: tuple[Path, dict[str, list[dict[str, Any]]]], tmp_path: Path
) -> None:
    db, data = small_db
    drop = tmp_path / "drop"
    before = _file_digest(db)
    beside = sorted(p.name for p in db.parent.glob(f"{db.name}*"))
    result = simulate(db, drop, "--speed", "3000", "--seed", "7", "--reasons", FAILING)
    assert _file_digest(db) == before, "the simulator wrote the database"
    assert sorted(p.name for p in db.parent.glob(f"{db.name}*")) == beside
    events = read_feed(drop)
    check_feed(events, data)
    created = [e["data"] for e in events if e["type"] == "campaigncall_created"]
    by_target: dict[str, list[tuple[int, int]]] = {}
    for record in created:
        by_target.setdefault(record["outdial_target_id"], []).append(
            (record["destination_index"], record["try_count"])
        )
    # retried targets, a move to the next slot, nothing for the done, the used-up, the
    # stopped campaign's target
    assert any(len(attempts) > 1 for attempts in by_target.values())
    assert any(index == 1 for attempts in by_target.values() for index, _try in attempts)
    for untouched in (6, 7, 11):
        assert f"7a000000-0000-4000-8000-{untouched:012d}" not in by_target
    # the target already tried twice on slot 0 goes on with slot 1
    assert by_target["7a000000-0000-4000-8000-000000000005"][0] == (1, 1)
    # the call in flight was ended: its hangup and its done campaigncall
    done = {e["data"]["id"] for e in events if e["type"] == "campaigncall_updated"}
    assert "cc000000-0000-4000-8000-000000000010" in done
    assert "calls in flight taken over" in result.stderr
    # one line per dial on stderr, record data escaped as it is shown
    dial_lines = [line for line in result.stderr.splitlines() if " dial " in line]
    assert len(dial_lines) == len(created)
    assert "Target 1 [bold]x[/]" in result.stderr


def test_end_handle_stop_goes_stopping_then_stop_after_the_last_call(
    small_db: tuple[Path, dict[str, list[dict[str, Any]]]], tmp_path: Path
) -> None:
    db, _data = small_db
    drop = tmp_path / "drop"
    simulate(db, drop, "--speed", "3000", "--seed", "3")
    events = read_feed(drop)
    mine = [e for e in events if e["data"].get("campaign_id", e["data"].get("id")) == STOP_CAMPAIGN]
    statuses = [e["type"] for e in mine if e["type"].startswith("campaign_status_")]
    assert statuses in (
        ["campaign_status_stopping", "campaign_status_stop"],
        ["campaign_status_stop"],
    )
    stop_at = max(i for i, e in enumerate(mine) if e["type"] == "campaign_status_stop")
    assert mine[stop_at]["data"]["status"] == "stop"
    # stop comes once nothing of the campaign is in flight: after its last done campaigncall
    last_done = max(i for i, e in enumerate(mine) if e["type"] == "campaigncall_updated")
    assert stop_at > last_done
    assert not any(
        e["type"] == "campaign_status_stop" for e in events if e["data"].get("id") == RETRY_CAMPAIGN
    )


def test_the_feed_applies_with_no_rejected_event(
    small_db: tuple[Path, dict[str, list[dict[str, Any]]]], tmp_path: Path
) -> None:
    db, data = small_db
    drop = tmp_path / "drop"
    simulate(db, drop, "--speed", "3000", "--seed", "11", "--reasons", FAILING)
    files = sorted(drop.glob("*.json"))
    assert files
    applied = run_cli("apply", "--db", db, *files)
    assert applied.returncode == 0, applied.stderr[-2000:]
    assert "rejected" not in applied.stdout + applied.stderr
    # the database ends where the feed says VoIPbin's tables are
    events = read_feed(drop)
    dials: dict[str, list[int]] = {}
    for event in events:
        if event["type"] == "campaigncall_created":
            record = event["data"]
            dials.setdefault(record["outdial_target_id"], [0] * 5)[record["destination_index"]] += 1
    rows = sqlite_utils.Database(db)
    for target in data["outdialtargets"]:
        row = rows["outdialtargets"].get(target["id"])
        seeded = [target[f"try_count_{i}"] for i in range(5)]
        expected = [a + b for a, b in zip(seeded, dials.get(target["id"], [0] * 5), strict=True)]
        assert [row[f"try_count_{i}"] for i in range(5)] == expected
    statuses = {r["status"] for r in rows["campaigncalls"].rows}
    assert statuses == {"done"}
    campaign = rows["campaigns"].get(STOP_CAMPAIGN)
    assert campaign["status"] == "stop"


def test_dials_and_rate_bound_a_run(
    small_db: tuple[Path, dict[str, list[dict[str, Any]]]], tmp_path: Path
) -> None:
    db, _data = small_db
    drop = tmp_path / "drop"
    simulate(db, drop, "--speed", "5000", "--seed", "5", "--dials", "3", "--rate", "0.05")
    events = read_feed(drop)
    created = [e for e in events if e["type"] == "campaigncall_created"]
    assert len(created) == 3
    starts = [event_time(e) for e in created]
    assert all(b - a >= timedelta(seconds=20) for a, b in zip(starts, starts[1:], strict=False))
    # every call dialled ends, and the one taken over too
    done = [e for e in events if e["type"] == "campaigncall_updated"]
    assert len(done) == 4


def _dialer(db: Path, start: datetime, **settings: Any) -> Dialer:
    seed = read_seed(db)
    return Dialer(
        seed.campaigns, seed.targets, seed.in_flight, SimulationSettings(**settings), start
    )


def test_the_same_seed_gives_the_same_feed(
    small_db: tuple[Path, dict[str, list[dict[str, Any]]]],
) -> None:
    db, _data = small_db
    start = datetime.now(UTC)
    end = start + timedelta(days=1)
    one = _dialer(db, start, seed=42).advance(end)
    two = _dialer(db, start, seed=42).advance(end)
    other = _dialer(db, start, seed=43).advance(end)
    assert [wire.compact(e.webhook()) for e in one] == [wire.compact(e.webhook()) for e in two]
    assert [e.data for e in one] != [e.data for e in other]


def test_ticks_follow_execute_go(small_db: tuple[Path, dict[str, list[dict[str, Any]]]]) -> None:
    """First run 1 s after the start, a dial then 500 ms to the next, 5 s while the oldest
    target is not due (head of line), the user's rate cap aside."""
    db, data = small_db
    start = datetime.now(UTC)
    dialer = _dialer(db, start, seed=1, reasons=ReasonMix.parse("busy=1"))
    events = dialer.advance(start + timedelta(minutes=10))
    created = [
        e for e in events
        if e.type == "campaigncall_created" and e.data["campaign_id"] == RETRY_CAMPAIGN
    ]  # fmt: skip
    offsets = [e.at - start for e in created]
    # targets 1-4, never tried, one dial every 500 ms from the first run
    assert offsets[:4] == [timedelta(seconds=1 + n / 2) for n in range(4)]
    assert all(offset % timedelta(milliseconds=500) == timedelta(0) for offset in offsets)
    # then the oldest idle target is 5, tried 20 s before the start: the dialer waits for it
    # (5 s at a time) and dials its slot 1 on the first run after its minute has passed
    fifth = created[4].data
    assert fifth["outdial_target_id"].endswith("000000000005")
    assert (fifth["destination_index"], fifth["try_count"]) == (1, 1)
    target_5 = next(t for t in data["outdialtargets"] if t["id"] == fifth["outdial_target_id"])
    due = _time(target_5["tm_update"]) + timedelta(minutes=1)
    assert due <= created[4].at < due + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("normal=60,alien=3", "'alien' is not a hangup reason"),
        ("normal=-1", "needs a weight of 0 or more"),
        ("normal", "needs a weight"),
        ("normal=0", "at least one weight above 0"),
    ],
)
def test_a_bad_reason_mix_says_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(SimulationError, match=words):
        ReasonMix.parse(text)


def test_reason_mix_takes_the_documented_spellings() -> None:
    mix = ReasonMix.parse("no_answer=1, canceled=1")
    assert dict(mix.weights) == {"noanswer": 1.0, "cancel": 1.0}


def test_usage_errors_exit_2_in_one_sentence_and_create_nothing(
    tmp_path: Path, small_db: tuple[Path, dict[str, list[dict[str, Any]]]]
) -> None:
    db, _data = small_db
    missing = tmp_path / "nope.db"
    for args in (
        ["--db", missing, "--drop-dir", tmp_path / "d1"],
        ["--db", db, "--drop-dir", tmp_path / "d2", "--reasons", "normal=1,alien=2"],
        ["--db", db, "--drop-dir", tmp_path / "d3", "--speed", "0"],
        ["--db", db, "--drop-dir", tmp_path / "d4", "--rate", "-1"],
    ):
        result = run_cli("simulate", *args)
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("campaigncalls: "), result.stderr
    assert not missing.exists()
    assert not any((tmp_path / d).exists() for d in ("d1", "d2", "d3", "d4"))
    empty = tmp_path / "empty.db"
    connect(empty, create=True).conn.close()
    result = run_cli("simulate", "--db", empty, "--drop-dir", tmp_path / "d5")
    assert result.returncode == 2
    assert "no running campaign" in result.stderr


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, f"the simulator ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly(
    small_db: tuple[Path, dict[str, list[dict[str, Any]]]], tmp_path: Path, signum: int
) -> None:
    db, _data = small_db
    drop = tmp_path / "drop"
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "simulate", "--db", str(db), "--drop-dir", str(drop),
         "--speed", "2", "--seconds", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(process.stderr or []), daemon=True)
    reader.start()
    try:
        _wait_for(lambda: len(list(drop.glob("*.json"))) >= 2, process, "two drop files")
    finally:
        process.send_signal(signum)
        process.wait(timeout=30)
        reader.join(timeout=5)
    stderr = "".join(err)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "simulated " in stderr
    # every file whole, none left half-written
    assert not [p for p in drop.iterdir() if p.name.startswith(".")]
    read_feed(drop)
