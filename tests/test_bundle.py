"""Loading bundles: read piecewise, all or nothing, upserts, counts and retry plans kept right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlite_utils

from fixtures.generate import generate_bundle
from store.bundle import load_bundle
from store.db import COUNT_TRIGGER_NAMES, TEXT_TRIGGER_NAMES, StoreError, connect
from store.queries import Filter, Queries
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
    assert set(COUNT_TRIGGER_NAMES) | set(TEXT_TRIGGER_NAMES) <= triggers
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
        ('{"campaigncalls": [' + "[" * 100_000 + "]" * 100_000 + "]}", "nested too deeply"),
        ('{"campaigns": [], "campaigncalls": [{}, }', "is not JSON: Expecting value at line 1"),
    ],
)
def test_a_bad_bundle_says_where_and_loads_nothing(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    db = connect(tmp_path / "x.db", create=True)
    load_bundle(db, str(write_json(tmp_path / "good.json", bundle())))
    # every table's rows; the text index as its own tables hold it (it cannot be read whole)
    tables = [t for t in db.table_names() if t != "campaigncall_text"]
    before = {t: db[t].count for t in tables}
    with pytest.raises(StoreError) as raised:
        load_bundle(db, str(path))
    assert message in str(raised.value)
    assert {t: db[t].count for t in tables} == before


def test_a_bad_record_late_in_a_big_bundle_loads_nothing(tmp_path: Path) -> None:
    # past the first 5,000 campaigncalls the count triggers are set aside: the failure rolls
    # that back too
    data = generate_bundle(seed=2, campaigns=2, targets=3_000, calls=8_000)
    data["campaigncalls"][7_999]["try_count"] = 0
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data))
    db = connect(tmp_path / "x.db", create=True)
    with pytest.raises(StoreError, match=r"campaigncalls\[7999\]\.try_count"):
        load_bundle(db, str(path))
    assert db["campaigncalls"].count == 0 and db["outdialtargets"].count == 0
    # the count triggers the bulk path set aside are back, and still count
    triggers = {
        r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    }
    assert set(COUNT_TRIGGER_NAMES) | set(TEXT_TRIGGER_NAMES) <= triggers
    data["campaigncalls"][7_999]["try_count"] = 1
    load_bundle(db, str(write_json(path, data)))
    assert kept_counts(db) == fresh_counts(db) and db["campaigncalls"].count == 8_000
    calls = db.conn.execute("SELECT id FROM campaigncalls LIMIT 10").fetchall()
    db.conn.executemany("DELETE FROM campaigncalls WHERE id = ?", calls)
    assert kept_counts(db) == fresh_counts(db)


def test_the_lists_may_come_in_any_order(tmp_path: Path) -> None:
    data = generate_bundle(seed=4, campaigns=2, targets=40, calls=120)
    databases = []
    for name, order in (("usual", list(data)), ("reversed", list(reversed(data)))):
        db = connect(tmp_path / f"{name}.db", create=True)
        load_bundle(db, str(write_json(tmp_path / f"{name}.json", {k: data[k] for k in order})))
        databases.append(
            {t: db.conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in data}
            | {"counts": sorted(kept_counts(db).items())}
        )
    assert databases[0] == databases[1]
    assert databases[0]["outdialtargets"] and databases[0]["counts"]


def test_a_bulk_load_indexes_every_name_for_the_filter(tmp_path: Path) -> None:
    # into an empty table the text index is built once at the end; into a full one the
    # triggers keep it as rows change
    data = generate_bundle(seed=8, campaigns=2, targets=3_000, calls=6_000)
    first, last = data["campaigncalls"][0], data["campaigncalls"][5_999]
    first["destination"]["target_name"] = "Ignatius Firstrow"
    last["destination"]["target_name"] = "Zenobia Lastrow"
    path = write_json(tmp_path / "b.json", data)
    db = connect(tmp_path / "x.db", create=True)
    load_bundle(db, str(path))
    queries = Queries(tmp_path / "x.db")

    def found(call: dict[str, object], text: str) -> bool:
        rows = queries.rows_in_status(call["status"], 0, 50, Filter(text=text))  # type: ignore[arg-type]
        return call["id"] in [r.id for r in rows]

    assert found(first, "ignatius") and found(last, "ZENOBIA")
    last["destination"]["target_name"] = "Octavia Lastrow"
    load_bundle(db, str(write_json(path, data)))  # the same 6,000 again: the table is not empty
    assert found(last, "octavia") and not found(last, "zenobia")
    rows = db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    assert set(TEXT_TRIGGER_NAMES) <= {r[0] for r in rows}
    db.conn.execute(
        "INSERT INTO campaigncall_text(campaigncall_text, rank) VALUES ('integrity-check', 1)"
    )
