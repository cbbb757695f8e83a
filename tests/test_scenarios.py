"""Every bundled scenario, applied file by file on the demo, gives the outcomes it promises."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import apply_drop_file, ensure_drop_dir
from store.queries import Queries
from store.scenarios import bundled_scenario_names, load_scenario


@pytest.mark.parametrize("name", bundled_scenario_names())
def test_scenario_keeps_its_promises(tmp_path: Path, name: str) -> None:
    db = connect(tmp_path / "x.db", create=True)
    load_bundle(db, "demo")
    queries = Queries(tmp_path / "x.db")
    drop = tmp_path / "drop"
    ensure_drop_dir(drop)
    scenario = load_scenario(name)
    assert scenario.summary and len(scenario.steps) >= 3
    for step in scenario.steps:
        expect = step.expect
        path = drop / step.file.name
        shutil.copyfile(step.file, path)
        report = apply_drop_file(db, path, drop)
        assert report is not None, step.file.name
        assert [o.outcome for o in report.outcomes] == expect["outcomes"], (
            step.file.name,
            report.error_text(),
        )
        assert report.moved_to is not None and report.moved_to.parent.name == expect["file"]
        if "campaigncall" not in expect:
            continue
        detail = queries.detail(expect["campaigncall"])
        assert detail is not None
        assert detail.campaigncall["status"] == expect["status"], step.file.name
        assert detail.campaigncall["result"] == expect["result"], step.file.name
        assert detail.outdialtarget is not None
        assert detail.outdialtarget["status"] == expect["target_status"], step.file.name
        assert detail.retry.state == expect["retry_state"], step.file.name
        if "retry_index" in expect:
            assert (detail.retry.destination_index, detail.retry.try_count) == (
                expect["retry_index"],
                expect["retry_try"],
            )
        if "retry_due" in expect:
            assert detail.retry.due == expect["retry_due"]
    # every event of every step has its row, with the outcome the scenario promised
    promised = [o for step in scenario.steps for o in step.expect["outcomes"]]
    recorded = [r[0] for r in db.conn.execute("SELECT outcome FROM events ORDER BY id")]
    assert sorted(recorded) == sorted(promised)
    # and no file is left in the folder: each went where its step said
    assert sorted(p.name for p in drop.glob("*.json")) == []
    moved = sorted(p.name for p in (drop / "processed").iterdir()) + sorted(
        p.name for p in (drop / "rejected").glob("*.json")
    )
    assert sorted(moved) == sorted(step.file.name for step in scenario.steps)
