"""Loading bundles: every record checked first, upserts, counts and retry plans kept right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlite_utils

from fixtures.generate import generate_bundle
from store.bundle import load_bundle
from store.db import COUNT_TRIGGER_NAMES, StoreError, connect
from store.queries import Queries
from tests.helpers import bundle, write_json


def fresh_counts(db: sqlite_utils.Database) -> dict[tuple[str, str, str], int]:
    rows = db.conn.execute(
        "SELECT campaign_id, status, result, count(*) FROM campaigncalls GROUP BY 1, 2, 3"
    )
    return {(c, s, r): n for c, s, r, n in rows}


def kept_counts(db: sqlite_utils.Database) -> dict[tuple[str, str, str], int]:
    rows = db.conn.execute(
        "SELECT campaign_id, status, result, n FROM campaigncall_counts WHERE n > 0"
    )
    return {(c, s, r): n for c, s, r, n in rows}


@pytest.mark.parametrize("calls", [300, 6_000])  # the second takes the bulk path
def test_counts_and_retry_plans_after_a_load(tmp_path: Path, calls: int) -> None:
    path = write_json(
        tmp_path / "b.json", generate_bundle(seed=5, campaigns=3, targets=calls // 2, calls=calls)
    )
    db = connect(tmp_path / "x.db", create=True)
    load_bundle(db, str(path))
    assert kept_counts(db) == fresh_counts(db)
    triggers = {
        r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    }
    assert set(COUNT_TRIGGER_NAMES) <= triggers
    states = dict(
        db.conn.execute("SELECT retry_state, count(*) FROM outdialtargets GROUP BY 1").fetchall()
    )
    assert states.get("exhausted", 0) > 0 and states.get("scheduled", 0) > 0
    # loading the same bundle again changes nothing (upsert)
    load_bundle(db, str(path))
    assert kept_counts(db) == fresh_counts(db)
    assert db["campaigncalls"].count == calls


def test_the_demo_counts_match_a_fresh_count(tmp_path: Path) -> None:
    db = connect(tmp_path / "x.db", create=True)
    load_bundle(db, "demo")
    queries = Queries(tmp_path / "x.db")
    counts = queries.counts()
    assert counts.total == db["campaigncalls"].count
    assert counts.done == counts.success + counts.fail
    exhausted = db.conn.execute(
        "SELECT count(*) FROM outdialtargets WHERE retry_state = 'exhausted'"
    ).fetchone()[0]
    assert counts.exhausted == exhausted > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "is not a bundle: expected an object"),
        ('{"campaigncalls": [{"id": "x"}]}', "campaigncalls[0].id: 'x' is not a UUID"),
        ('{"campaigncalls": {"id": "x"}}', "campaigncalls: Input should be a valid array"),
        ('{"calls": []}', "calls: Extra inputs are not permitted"),
        (
            '{"outplans": [{"id": "0a000000-0000-4000-8000-000000000001", "try_interval": -5}]}',
            "outplans[0].try_interval",
        ),
        ('{"outdialtargets": [{"id": ""}]}', "outdialtargets[0].id: an id is required here"),
        ("{", "is not JSON"),
        ("", "is not JSON"),
    ],
)
def test_a_bad_bundle_says_where_and_loads_nothing(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    db = connect(tmp_path / "x.db", create=True)
    load_bundle(db, str(write_json(tmp_path / "good.json", bundle())))
    before = {t: db[t].count for t in db.table_names()}
    with pytest.raises(StoreError) as raised:
        load_bundle(db, str(path))
    assert message in str(raised.value)
    assert {t: db[t].count for t in db.table_names()} == before


def test_a_bad_record_late_in_a_big_bundle_loads_nothing(tmp_path: Path) -> None:
    data = generate_bundle(seed=2, campaigns=2, targets=3_000, calls=6_000)
    data["campaigncalls"][5_999]["try_count"] = 0
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data))
    db = connect(tmp_path / "x.db", create=True)
    with pytest.raises(StoreError, match=r"campaigncalls\[5999\]\.try_count"):
        load_bundle(db, str(path))
    assert db["campaigncalls"].count == 0 and db["outdialtargets"].count == 0
