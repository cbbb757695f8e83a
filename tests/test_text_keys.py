"""The text index keyed by the group's order (schema 7, store.db text_key_sql): a common
text's counts, windows and positions read from the index itself give what reading every row
gives, through minutes crowded with calls, exact ties, hangups, renames, deletes, a bulk
load and the upgrade of a schema 6 file; and the index holds exactly one entry per row."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest

import store.queries
from fixtures.generate import generate_bundle
from store.bundle import load_bundle
from store.db import (
    TEXT_INDEX,
    connect,
    destination_text_sql,
    text_key_rowid,
    text_key_sql,
)
from store.queries import FILTER_COUNT_CAP, Filter, Queries
from tests.helpers import write_json
from tests.test_cli import run

STATUSES = ("dialing", "progressing", "done")


def assert_index_mirrors_rows(conn: sqlite3.Connection) -> None:
    """Every campaigncall is in the text index once, under its text key and with its text, and
    nothing else is: a contentless index keeps no text, so what it holds is read back from
    its terms (fts5vocab) and each row's own text is looked up under its key."""
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.text_terms"
        f" USING fts5vocab(main, {TEXT_INDEX}, 'instance')"
    )
    held = dict(conn.execute("SELECT doc, count(*) FROM temp.text_terms GROUP BY doc"))
    rows = conn.execute(
        f"SELECT {text_key_sql('c')}, {destination_text_sql('c.destination')} FROM campaigncalls c"
    ).fetchall()
    expected = {key: max(0, len(text) - 2) for key, text in rows}
    assert held == {key: n for key, n in expected.items() if n}
    for key, text in rows:
        phrase = '"' + text.replace('"', '""') + '"'
        found = conn.execute(
            f"SELECT rowid FROM {TEXT_INDEX} WHERE {TEXT_INDEX} MATCH ? AND rowid = ?",
            (phrase, key),
        ).fetchall()
        assert found == [(key,)], text


def ordered_matches(conn: sqlite3.Connection, status: str, text: str) -> list[str]:
    """The group's rows whose text holds `text`, in the group's order, worked out by hand."""
    rows = conn.execute(
        "SELECT id, destination, tm_order FROM campaigncalls WHERE status = ?", (status,)
    ).fetchall()
    found = []
    for ident, destination, tm_order in rows:
        address = json.loads(destination)
        words = " ".join([address["target"], address["target_name"], address["name"]])
        if text.lower() in words.lower():
            found.append((tm_order, ident))
    return [ident for _tm, ident in sorted(found, reverse=True)]


@pytest.fixture()
def crowded(tmp_path: Path) -> Path:
    """Calls named alike, crowded into a few minutes, many at the very same microsecond."""
    data = generate_bundle(seed=5, campaigns=2, targets=300, calls=600)
    rng = random.Random(5)
    for number, call in enumerate(data["campaigncalls"]):
        call["destination"]["target_name"] = rng.choice(["Anna Quist", "Bo Quist", "Cy Lund"])
        minute = rng.choice(["10:00", "10:01", "10:07"])
        second = rng.choice(["00.000000", "00.000000", f"{number % 60:02d}.{number:06d}"])
        call["tm_create"] = f"2026-11-30 {minute}:{second}"
        if call["status"] == "done":
            call["tm_update"] = f"2026-11-30 11:{rng.choice(['00', '01'])}:{second}"
    db_path = tmp_path / "crowded.db"
    load_bundle(connect(db_path, create=True), str(write_json(tmp_path / "b.json", data)))
    return db_path


def keyed_queries(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Queries:
    # few hits make a text common here: the text index leads, in the group's order
    monkeypatch.setattr(store.queries, "TEXT_INDEX_LEADS_BELOW", 5)
    return Queries(db_path)


def check_against_the_rows(
    db_path: Path, queries: Queries, texts: list[str], cap: int = FILTER_COUNT_CAP
) -> None:
    conn = sqlite3.connect(db_path)
    try:
        for status in STATUSES:
            for text in texts:
                flt = Filter(text=text)
                expected = ordered_matches(conn, status, text)
                assert queries._keyed(flt) is not None, text  # read by its keys
                count = queries.count_in_status(status, flt)  # type: ignore[arg-type]
                assert count == min(len(expected), cap), (status, text)
                windows = [(0, 64), (0, 1), (3, 7), (60, 64), (len(expected) - 5, 64)]
                windows += [(cap - 3, 6), (cap - 1, 2), (cap, 5)]  # about the count's cap
                for offset, limit in windows:
                    window = queries.rows_in_status(status, offset, limit, flt)  # type: ignore[arg-type]
                    assert [r.id for r in window] == expected[max(0, offset) : offset + limit]
                step = 1 if cap < FILTER_COUNT_CAP else 17
                for position, ident in list(enumerate(expected))[::step]:
                    found = queries.position_in_status(ident, status, flt)  # type: ignore[arg-type]
                    assert found == min(position, cap), (status, text, position)
        assert_index_mirrors_rows(conn)
    finally:
        conn.close()


def test_a_common_text_read_by_its_keys_finds_what_the_rows_hold(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = keyed_queries(crowded, monkeypatch)
    check_against_the_rows(crowded, queries, ["quist", "ANNA QUIST", "Lund", "Qui"])
    # a row outside the group or the text has no position
    conn = sqlite3.connect(crowded)
    ident = ordered_matches(conn, "done", "Cy Lund")[0]
    conn.close()
    assert queries.position_in_status(ident, "done", Filter(text="quist")) is None
    assert queries.position_in_status(ident, "dialing", Filter(text="lund")) is None


def test_the_count_cap_ends_a_minute_the_rows_go_on_in(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a common text's first keys end inside a crowded minute: its rows past the cap still
    # take their places by tm_order and id, and a row there is counted to the cap
    monkeypatch.setattr(store.queries, "FILTER_COUNT_CAP", 25)
    queries = keyed_queries(crowded, monkeypatch)
    check_against_the_rows(crowded, queries, ["quist", "Lund"], cap=25)


def test_the_keys_follow_hangups_renames_and_deletes(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = connect(crowded)
    conn = db.conn
    live = [r[0] for r in conn.execute("SELECT id FROM campaigncalls WHERE status != 'done'")]
    assert len(live) >= 20
    third = len(live) // 3
    with conn:
        # hung up: done, ordered by when they finished (some in a minute other rows are in)
        for number, ident in enumerate(live[:third]):
            conn.execute(
                "UPDATE campaigncalls SET status = 'done', result = 'fail', tm_update = ?,"
                " tm_order = ? WHERE id = ?",
                (f"2026-11-30 11:00:0{number % 3}.5", f"2026-11-30 11:00:0{number % 3}.5", ident),
            )
        # answered: progressing, still ordered by when it started
        for ident in live[third : 2 * third]:
            conn.execute(
                "UPDATE campaigncalls SET status = 'progressing' WHERE id = ?"
                " AND status = 'dialing'",
                (ident,),
            )
        # renamed, and set to what it already was (no change to the index)
        conn.execute(
            "UPDATE campaigncalls SET destination = json_set(destination, '$.target_name',"
            " 'Dee Quist') WHERE id = ?",
            (live[-1],),
        )
        conn.execute("UPDATE campaigncalls SET status = status, tm_order = tm_order")
        conn.execute("DELETE FROM campaigncalls WHERE id IN (?, ?)", (live[-2], live[0]))
    conn.close()
    check_against_the_rows(crowded, keyed_queries(crowded, monkeypatch), ["quist", "lund"])


def as_schema_6(db_path: Path) -> None:
    """The file as schema 6 left it: its text index keyed by each campaigncall's rowid."""
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(f"INSERT INTO {TEXT_INDEX}({TEXT_INDEX}) VALUES ('delete-all')")
        conn.execute(
            f"INSERT INTO {TEXT_INDEX}(rowid, text) SELECT rowid,"
            f" {destination_text_sql('destination')} FROM campaigncalls"
        )
        conn.execute("DROP TRIGGER campaigncalls_text_update")
        conn.execute(
            "CREATE TRIGGER campaigncalls_text_update AFTER UPDATE OF destination"
            " ON campaigncalls BEGIN SELECT 1; END"
        )
        conn.execute("PRAGMA user_version = 6")
    conn.close()


def test_an_upgraded_schema_6_file_is_keyed_afresh(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_schema_6(crowded)
    told: list[str] = []
    connect(crowded, on_upgrade=told.append).conn.close()  # upgrades
    assert told == [f"upgrading {crowded} from schema 6 to 7: 600 campaigncalls, about 1 s"]
    conn = sqlite3.connect(crowded)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    trigger = conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'campaigncalls_text_update'"
    ).fetchone()[0]
    assert "status" in trigger and "tm_order" in trigger
    conn.close()
    check_against_the_rows(crowded, keyed_queries(crowded, monkeypatch), ["quist", "lund"])
    told.clear()
    connect(crowded, on_upgrade=told.append).conn.close()
    assert told == []  # upgraded once


def test_a_command_says_it_is_upgrading_a_file(crowded: Path, tmp_path: Path) -> None:
    as_schema_6(crowded)
    empty = write_json(tmp_path / "none.json", [])  # rejected: the upgrade is said before it
    done = run("apply", "--db", crowded, empty, timeout=120)
    assert done.returncode == 1, done.stderr
    first = done.stderr.splitlines()[0]
    assert first == f"upgrading {crowded} from schema 6 to 7: 600 campaigncalls, about 1 s"
    conn = sqlite3.connect(crowded)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    conn.close()


def test_a_key_gives_its_campaigncall_back(crowded: Path) -> None:
    conn = sqlite3.connect(crowded)
    rows = conn.execute(
        f"SELECT rowid, {text_key_sql('c')}, status FROM campaigncalls c"
    ).fetchall()
    conn.close()
    assert len({key for _r, key, _s in rows}) == len(rows)  # unique, even at one microsecond
    assert all(text_key_rowid(key) == rowid and key > 0 for rowid, key, _s in rows)


def test_a_common_text_with_a_campaign_or_that_may_be_an_id_is_read_as_before(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = keyed_queries(crowded, monkeypatch)
    campaign = queries._all("SELECT campaign_id FROM campaigncalls LIMIT 1")[0][0]
    assert queries._keyed(Filter(campaign, "quist")) is None
    assert queries._keyed(Filter(text="face")) is None  # hex: also the start of an id
    conn = sqlite3.connect(crowded)
    expected = [
        i
        for i in ordered_matches(conn, "done", "quist")
        if conn.execute("SELECT campaign_id FROM campaigncalls WHERE id = ?", (i,)).fetchone()[0]
        == campaign
    ]
    conn.close()
    found = queries.rows_in_status("done", 0, 1_000, Filter(campaign, "quist"))
    assert [r.id for r in found] == expected


def test_a_row_gone_between_two_reads_has_no_position(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a prune can delete the row after its key was read and before its minute is sorted
    queries = keyed_queries(crowded, monkeypatch)
    conn = sqlite3.connect(crowded)
    ident = ordered_matches(conn, "done", "quist")[0]
    conn.close()
    assert queries.position_in_status(ident, "done", Filter(text="quist")) == 0
    monkeypatch.setattr(queries, "_in_order", lambda keys: [])
    assert queries.position_in_status(ident, "done", Filter(text="quist")) is None
