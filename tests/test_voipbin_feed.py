"""A whole campaign's feed as VoIPbin's code sends it (tests/feeds.py, built from the Go structs
by store/wire.py) ends where VoIPbin's own database would, however it arrives.

The expected end states (tests/feeds.py EXPECTED_*) were worked out from VoIPbin's code:
try counts rise in campaigncallHandler.Create (outdial-manager OutdialTargetUpdateProgressing),
the target ends done or idle in campaigncallHandler.Done (calcDialtargetStatus), and the slot
choice is campaignhandler/execute.go getTargetDestination; not from this project's rules.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.apply import apply_bytes
from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import apply_drop_file, ensure_drop_dir
from tests import feeds
from tests.helpers import write_json


def fresh_db(tmp_path: Path, name: str = "feed.db", *, with_bundle: bool = True) -> Any:
    db = connect(tmp_path / name, create=True)
    if with_bundle:
        load_bundle(db, str(write_json(tmp_path / f"{name}.bundle.json", feeds.bundle())))
    return db


def end_state(db: sqlite_utils.Database) -> dict[str, Any]:
    targets = {
        row[0]: {"status": row[1], "try_counts": list(row[2:7]), "exhausted": row[7] == "exhausted"}
        for row in db.conn.execute(
            "SELECT id, status, try_count_0, try_count_1, try_count_2, try_count_3, try_count_4,"
            " retry_state FROM outdialtargets"
        )
    }
    calls: dict[str, list[tuple[int, int, str]]] = {}
    for target, index, tries, result in db.conn.execute(
        "SELECT outdial_target_id, destination_index, try_count, result FROM campaigncalls"
        " WHERE status = 'done' ORDER BY tm_create"
    ):
        calls.setdefault(target, []).append((index, tries, result))
    not_done = db.conn.execute("SELECT count(*) FROM campaigncalls WHERE status != 'done'")
    campaign = db.conn.execute("SELECT status FROM campaigns").fetchall()
    return {
        "targets": targets,
        "campaigncalls": calls,
        "not_done": not_done.fetchone()[0],
        "campaigns": campaign,
    }


EXPECTED = {
    "targets": feeds.EXPECTED_TARGETS,
    "campaigncalls": feeds.EXPECTED_CAMPAIGNCALLS,
    "not_done": 0,
    "campaigns": [(feeds.EXPECTED_CAMPAIGN_STATUSES[-1],)],
}


def outcomes(db: sqlite_utils.Database) -> dict[str, int]:
    return dict(db.conn.execute("SELECT outcome, count(*) FROM events GROUP BY 1"))


def test_the_webhook_feed_one_file_per_webhook_ends_as_voipbin_does(tmp_path: Path) -> None:
    db = fresh_db(tmp_path)
    drop = tmp_path / "drop"
    ensure_drop_dir(drop)
    for n, event in enumerate(feeds.webhook_envelopes()):
        path = write_json(drop / f"{n:04d}-webhook.json", event)
        report = apply_drop_file(db, path, drop)
        assert report is not None and not report.rejected, report.error_text()
    assert end_state(db) == EXPECTED
    counts = outcomes(db)
    assert "rejected" not in counts and "parked" not in counts
    # the unrelated traffic (an incoming call, an SMS) and activeflows of a call campaign
    assert counts["ignored"] > 0
    assert list((drop / "rejected").iterdir()) == []
    # every event read has its row
    assert sum(counts.values()) == len(feeds.webhook_envelopes())


def test_raw_websocket_frames_each_twice_end_the_same(tmp_path: Path) -> None:
    db = fresh_db(tmp_path)
    frames = feeds.websocket_frames(twice=True)
    for n in range(0, len(frames), 2):
        # each frame twice in a row, in one file (a follower batches what arrives together)
        outcomes_now = apply_bytes(db, f"ws-{n}.json", f"[{frames[n]},{frames[n + 1]}]".encode())
        assert [o.outcome for o in outcomes_now if o.outcome == "rejected"] == [], [
            o.line() for o in outcomes_now
        ]
        assert outcomes_now[1].outcome in ("duplicate", "ignored"), outcomes_now[1].line()
    assert end_state(db) == EXPECTED


def test_neighbours_swapped_end_the_same(tmp_path: Path) -> None:
    events = feeds.webhook_envelopes()
    swapped = list(events)
    for i in range(0, len(swapped) - 1, 2):
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    db = fresh_db(tmp_path)
    for n, event in enumerate(swapped):
        result = apply_bytes(db, f"{n:04d}.json", json.dumps(event).encode())
        assert result[0].outcome != "rejected", result[0].line()
    assert end_state(db) == EXPECTED
    assert "parked" not in outcomes(db)


def test_a_database_that_never_saw_the_targets_keeps_every_call(tmp_path: Path) -> None:
    # a follower started before any sync: no campaign, outplan, outdial or target is known
    db = fresh_db(tmp_path, with_bundle=False)
    outcomes_now = apply_bytes(db, "all.json", json.dumps(feeds.webhook_envelopes()).encode())
    assert [o.line() for o in outcomes_now if o.outcome in ("rejected", "parked")] == []
    state = end_state(db)
    assert state["campaigncalls"] == feeds.EXPECTED_CAMPAIGNCALLS
    for target, expected in feeds.EXPECTED_TARGETS.items():
        got = state["targets"][target]
        # stubs: the status and the tries of the slots dialled are known
        assert got["status"] == expected["status"]
        assert got["try_counts"] == expected["try_counts"]
    partial = db.conn.execute("SELECT count(*) FROM outdialtargets WHERE partial").fetchone()[0]
    assert partial == len(feeds.TARGETS)
    # the outplan is a stub: an idle target's plan is unknown, not guessed exhausted
    idle_plans = {
        r[0]
        for r in db.conn.execute("SELECT retry_state FROM outdialtargets WHERE status = 'idle'")
    }
    assert idle_plans == {"unknown"}
    # the campaign came in its own events, in full
    assert db.conn.execute("SELECT status, partial FROM campaigns").fetchall() == [("stop", 0)]
    # a load (or a sync) completes the stubs, and the plans are worked out
    end_bundle = feeds.bundle()
    end = feeds.EXPECTED_TARGETS
    end_bundle["outdialtargets"] = [
        {**t, "status": end[t["id"]]["status"],
         **{f"try_count_{i}": n for i, n in enumerate(end[t["id"]]["try_counts"])}}
        for t in end_bundle["outdialtargets"]
    ]  # fmt: skip
    end_bundle.pop("campaigns")
    load_bundle(db, str(write_json(tmp_path / "end.json", end_bundle)))
    assert db.conn.execute("SELECT count(*) FROM outdialtargets WHERE partial").fetchone()[0] == 0
    assert db.conn.execute("SELECT count(*) FROM outplans WHERE partial").fetchone()[0] == 0
    assert end_state(db)["targets"] == feeds.EXPECTED_TARGETS


def test_the_campaign_status_follows_its_events(tmp_path: Path) -> None:
    db = fresh_db(tmp_path)
    seen = []
    for n, event in enumerate(feeds.webhook_envelopes()):
        apply_bytes(db, f"{n}.json", json.dumps(event).encode())
        status = db.conn.execute("SELECT status FROM campaigns").fetchone()[0]
        if not seen or seen[-1] != status:
            seen.append(status)
    assert seen == ["run", "stopping", "stop"]


def window_shuffle(events: list[Any], window: int, rng: random.Random) -> list[Any]:
    """Each event moved at most `window - 1` places: delivery reorders only near neighbours."""
    keyed = [(i + rng.uniform(0, window), i) for i in range(len(events))]
    return [events[i] for _key, i in sorted(keyed)]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), window=st.integers(2, 4), raw=st.booleans())
def test_any_reordering_within_a_small_window_ends_the_same(
    tmp_path_factory: pytest.TempPathFactory, seed: int, window: int, raw: bool
) -> None:
    tmp_path = tmp_path_factory.mktemp("reordered")
    events: list[Any] = (
        [json.loads(f) for f in feeds.websocket_frames()] if raw else feeds.webhook_envelopes()
    )
    shuffled = window_shuffle(events, window, random.Random(seed))
    db = fresh_db(tmp_path)
    result = apply_bytes(db, "reordered.json", json.dumps(shuffled).encode())
    assert [o.line() for o in result if o.outcome == "rejected"] == []
    assert end_state(db) == EXPECTED
    db.conn.close()
