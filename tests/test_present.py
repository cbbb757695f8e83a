"""The demo at present: its histories moved to end now, the scenario moved to play now, and
`demo --simulate` a live campaign on screen."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboard.app import CampaigncallsApp
from dashboard.cli import prepare_demo, start_demo_dialer
from store.bundle import resolve_bundle
from store.db import connect
from store.dropfolder import apply_drop_file
from store.present import bundle_at_present, shift_times
from store.scenarios import drop_file, load_scenario
from store.simulate import SimulationSettings
from store.timefmt import parse_tm, to_datetime
from tests.test_dashboard import SIZE, loaded, table, until

NOW = datetime(2027, 3, 4, 12, 0, tzinfo=UTC)


def _time(value: Any) -> datetime:
    stored = parse_tm(value)
    assert stored is not None
    return to_datetime(stored)


def _times(record: dict[str, Any]) -> list[datetime]:
    return [_time(v) for k, v in record.items() if k.startswith("tm_") and v is not None]


@pytest.fixture(scope="module")
def demo() -> dict[str, list[dict[str, Any]]]:
    return json.loads(resolve_bundle("demo").read_text(encoding="utf-8"))


def _histories(bundle: dict[str, list[dict[str, Any]]]) -> dict[str, list[datetime]]:
    """Each dialled target's times, its own and its campaigncalls', in a fixed order."""
    out: dict[str, list[datetime]] = {}
    targets = {t["id"]: t for t in bundle["outdialtargets"]}
    for call in bundle["campaigncalls"]:
        out.setdefault(call["outdial_target_id"], []).extend(_times(call))
    for target_id in out:
        out[target_id].extend(_times(targets[target_id]))
    return out


def test_calls_in_flight_are_seconds_old_and_done_ones_hours(demo: dict[str, Any]) -> None:
    moved = bundle_at_present(demo, NOW)
    every = [t for records in moved.values() for r in records for t in _times(r)]
    assert max(every) <= NOW
    in_flight = [c for c in moved["campaigncalls"] if c["status"] != "done"]
    assert in_flight
    for call in in_flight:
        assert NOW - max(_times(call)) <= timedelta(minutes=1)
    done = sorted(
        NOW - _time(c["tm_update"]) for c in moved["campaigncalls"] if c["status"] == "done"
    )
    assert done[len(done) // 2] < timedelta(hours=6)
    assert done[0] >= timedelta(minutes=1)


def test_each_history_moves_as_one_piece(demo: dict[str, Any]) -> None:
    """A retry's interval after its hangup, a call's length: every gap within a target's
    history is as it was."""
    before, after = _histories(demo), _histories(bundle_at_present(demo, NOW))
    assert before.keys() == after.keys()
    for target_id, times in before.items():
        moved = after[target_id]
        steps = {b - a for a, b in zip(times, moved, strict=True)}
        assert len(steps) == 1, target_id


def test_the_rest_moves_by_one_step_and_nulls_stay_null(demo: dict[str, Any]) -> None:
    moved = bundle_at_present(demo, NOW)
    steps = {
        _time(b[key]) - _time(a[key])
        for table in ("campaigns", "outplans")
        for a, b in zip(demo[table], moved[table], strict=True)
        for key in ("tm_create", "tm_update")
    }
    assert len(steps) == 1
    never_dialled = [t for t in moved["outdialtargets"] if t["id"].startswith("5ce0a210")]
    assert never_dialled and all(t["tm_update"] is None for t in never_dialled)


def test_a_scenario_moved_to_now_plays_as_before(tmp_path: Path) -> None:
    """The same outcomes step by step; a file that is not JSON is dropped as it is; the same
    file twice is still the same content (the duplicate step)."""
    scenario = load_scenario("bad-input")
    now = datetime.now(UTC)
    shift = scenario.shift_to(now)
    assert shift > timedelta(0)
    outcomes = []
    for moved in (False, True):
        folder = tmp_path / f"run-{moved}"
        folder.mkdir()
        db_path, drop = prepare_demo(folder, now)
        db = connect(db_path)
        steps = []
        for step in scenario.steps:
            path = drop_file(step.file, drop, shift if moved else None)
            report = apply_drop_file(db, path, drop)
            assert report is not None
            steps.append([o.outcome for o in report.outcomes])
        outcomes.append(steps)
        db.conn.close()
    assert outcomes[0] == outcomes[1]
    first = json.loads((scenario.steps[0].file).read_text(encoding="utf-8"))
    assert shift_times(first, shift) != first


async def test_demo_simulate_is_a_live_campaign(tmp_path: Path) -> None:
    """`demo --simulate`: the simulated dialer's calls reach the screen, nothing is rejected,
    and the scenario's own targets are left to `n`."""
    now = datetime.now(UTC)
    scenario = load_scenario("busy-retry")
    db_path, drop = prepare_demo(tmp_path, now)
    dialer = start_demo_dialer(
        db_path, drop, scenario, SimulationSettings(speed=50, rate=1, seed=2)
    )
    app = CampaigncallsApp(db_path, drop, scenario=scenario, scenario_shift=scenario.shift_to(now))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: loaded(app))
            done = table(app, "done").total

            def simulated(kind: str) -> int:
                with sqlite3.connect(db_path) as conn:
                    return int(
                        conn.execute(
                            "SELECT count(*) FROM events WHERE file LIKE '%-sim.json'"
                            " AND outcome = ?",
                            (kind,),
                        ).fetchone()[0]
                    )

            await until(pilot, lambda: simulated("applied") >= 30, 60)
            await until(pilot, lambda: table(app, "done").total > done, 30)
    finally:
        dialer.stop()
    assert dialer.error is None
    assert simulated("rejected") == 0
    with sqlite3.connect(db_path) as conn:
        marks = ",".join("?" * len(scenario.targets))
        touched = conn.execute(
            f"SELECT count(*) FROM campaigncalls WHERE outdial_target_id IN ({marks})",
            scenario.targets,
        ).fetchone()[0]
    assert touched == 0
