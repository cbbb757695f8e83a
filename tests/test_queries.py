"""The dashboard's reads: windows of a group from either end, positions, filters, counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.generate import generate_bundle
from store.bundle import load_bundle
from store.db import connect
from store.queries import NO_FILTER, Filter, Queries
from tests.helpers import write_json


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Queries:
    folder = tmp_path_factory.mktemp("big")
    db = connect(folder / "x.db", create=True)
    load_bundle(
        db,
        str(
            write_json(
                folder / "b.json", generate_bundle(seed=9, campaigns=3, targets=1_500, calls=3_000)
            )
        ),
    )
    db.conn.close()
    return Queries(folder / "x.db")


def group_order(status: str, tm_create: str, tm_update: str | None) -> str:
    """The groups' order, worked out here: Done by when a call finished, the others by when
    they started (the defect was Done ordered by tm_create under an "updated" column)."""
    return (tm_update or tm_create) if status == "done" else tm_create


def all_ids(queries: Queries, status: str, flt: Filter = NO_FILTER) -> list[str]:
    where, params = queries._where(status, flt)
    sql = f"SELECT c.id, c.tm_create, c.tm_update FROM campaigncalls c WHERE {where}"
    rows = queries._all(sql, params)
    rows.sort(key=lambda r: (group_order(status, r[1], r[2]), r[0]), reverse=True)
    return [r[0] for r in rows]


@pytest.mark.parametrize("status", ["done", "dialing"])
def test_every_window_matches_the_full_order(big: Queries, status: str) -> None:
    expected = all_ids(big, status)
    total = big.count_in_status(status)  # type: ignore[arg-type]
    assert total == len(expected)
    for offset in (
        0,
        7,
        total // 2 - 3,
        total // 2 + 5,
        total - 64,
        total - 10,
        total - 1,
        total + 5,
    ):
        window = big.rows_in_status(status, offset, 64)  # type: ignore[arg-type]
        assert [r.id for r in window] == expected[max(0, offset) : offset + 64]


def test_windows_with_a_campaign(big: Queries) -> None:
    campaign_id = big.campaigns()[0][0]
    flt = Filter(campaign_id=campaign_id)
    expected = all_ids(big, "done", flt)
    assert len(expected) == big.count_in_status("done", flt)
    near_end = big.rows_in_status("done", len(expected) - 20, 64, flt)
    assert [r.id for r in near_end] == expected[-20:]
    assert all(r.campaign_id == campaign_id for r in near_end)


def test_positions_from_either_end(big: Queries) -> None:
    expected = all_ids(big, "done")
    for index in (0, 1, len(expected) // 2, len(expected) - 2, len(expected) - 1):
        ident = expected[index]
        assert big.position_in_status(ident, "done") == index
        assert big.position_in_status(ident, "done", near=len(expected) - 1) == index
        assert big.position_in_status(ident, "done", near=0) == index
    assert big.position_in_status(expected[0], "dialing") is None


def test_filters_by_id_prefix_and_by_text(big: Queries) -> None:
    row = big.rows_in_status("done", 100, 1)[0]
    by_prefix = big.rows_in_status("done", 0, 64, Filter(text=row.id[:13].upper()))
    assert row.id in [r.id for r in by_prefix]
    assert all(
        any(
            getattr(r, c).startswith(row.id[:13])
            for c in ("id", "reference_id", "outdial_target_id", "campaign_id")
        )
        for r in by_prefix
    )
    # ids are matched by their start only
    by_middle = big.rows_in_status("done", 0, 64, Filter(text=row.id[10:20]))
    assert row.id not in [r.id for r in by_middle]
    target = row.destination.target
    by_target = big.rows_in_status("done", 0, 64, Filter(text=target))
    assert by_target and all(
        target in r.destination.target or target in r.destination.name or True for r in by_target
    )
    assert row.id in [r.id for r in big.rows_in_status("done", 0, 10_000, Filter(text=target))]
    assert big.count_in_status("done", Filter(text="no such thing anywhere")) == 0


def test_a_text_filter_count_is_capped(big: Queries, monkeypatch: pytest.MonkeyPatch) -> None:
    import store.queries

    monkeypatch.setattr(store.queries, "FILTER_COUNT_CAP", 10)
    assert big.count_in_status("done", Filter(text="-")) == 10


def test_a_row_outside_the_filter_has_no_position(big: Queries) -> None:
    row = big.rows_in_status("done", 0, 1)[0]
    assert big.position_in_status(row.id, "done", Filter(text=row.id[:13])) == 0
    assert big.position_in_status(row.id, "done", Filter(text="no such thing anywhere")) is None


# ---- the text index: rare texts looked up, common ones read in order, the same answer --------


def scanned_ids(queries: Queries, status: str, text: str) -> list[str]:
    """What a filter must find, worked out here by hand from every row of the group."""
    folded = text.lower()
    rows = queries._all(
        "SELECT id, reference_id, outdial_target_id, campaign_id, destination, tm_create"
        " FROM campaigncalls WHERE status = ? ORDER BY tm_order DESC, id DESC",
        (status,),
    )
    found = []
    for ident, ref, target, campaign, destination, _tm in rows:
        address = json.loads(destination)
        text_of = " ".join([address["target"], address["target_name"], address["name"]])
        by_id = any(i.startswith(folded) for i in (ident, ref, target, campaign))
        if folded in text_of.lower() or (by_id and len(folded) >= 4):
            found.append(ident)
    return found


def rare_texts(queries: Queries) -> list[str]:
    """Targets and names that few rows have: the text index leads for these."""
    row = queries.rows_in_status("done", 40, 1)[0]
    return [row.destination.target, row.destination.target[3:9], row.destination.target_name]


@pytest.mark.parametrize("status", ["done", "dialing", "progressing"])
@pytest.mark.parametrize("leads_below", [2_000, 30])  # the second makes most texts common
def test_the_text_index_and_reading_the_rows_find_the_same(
    big: Queries, status: str, leads_below: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.queries

    monkeypatch.setattr(store.queries, "TEXT_INDEX_LEADS_BELOW", leads_below)
    texts = [*rare_texts(big), "José", "JOSÉ", "MÜLLER", "ÅNGSTRÖM", "김민준", "+49", "@example"]
    rare = []
    for text in texts:
        expected = scanned_ids(big, status, text)
        flt = Filter(text=text)
        found = [r.id for r in big.rows_in_status(status, 0, 5_000, flt)]  # type: ignore[arg-type]
        assert found == expected[: len(found)], text
        count = big.count_in_status(status, flt)  # type: ignore[arg-type]
        assert count == min(len(expected), 1_000), text
        hits = big._hits(text)
        assert hits is not None
        rare.append(hits.count < leads_below)
    assert any(rare) and (leads_below > 100 or not all(rare))


def test_a_rare_text_is_looked_up_not_read_row_by_row(big: Queries) -> None:
    text = rare_texts(big)[0]
    where, params = big._where("done", Filter(text=text))
    plan = " ".join(
        str(r[3])
        for r in big._all(
            f"EXPLAIN QUERY PLAN SELECT c.id FROM campaigncalls c WHERE {where}", params
        )
    )
    assert "filter_hits" in plan and "campaigncalls_group_order" not in plan


def test_a_common_text_is_checked_as_the_order_index_is_read(
    big: Queries, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.queries

    monkeypatch.setattr(store.queries, "TEXT_INDEX_LEADS_BELOW", 10)
    where, params = big._where("done", Filter(text="José"))
    sql = (
        f"EXPLAIN QUERY PLAN SELECT c.id FROM campaigncalls c WHERE {where}"
        " ORDER BY c.tm_order DESC, c.id DESC"
    )
    plan = " ".join(str(r[3]) for r in big._all(sql, params))
    assert "COVERING INDEX campaigncalls_group_order" in plan
    assert "ROWID SEARCH ON TABLE filter_hits" in plan  # each entry checked, no row read
    assert "TEMP B-TREE" not in plan  # read in order, no sort


def test_the_text_index_follows_inserts_upserts_and_deletes(tmp_path: Path) -> None:
    data = generate_bundle(seed=3, campaigns=1, targets=20, calls=40)
    data["campaigncalls"][0]["destination"]["target_name"] = "Ödön Quuxley"
    path = write_json(tmp_path / "b.json", data)
    db = connect(tmp_path / "x.db", create=True)
    load_bundle(db, str(path))
    call = data["campaigncalls"][0]
    queries = Queries(tmp_path / "x.db")

    def found(text: str) -> list[str]:
        return [r.id for r in queries.rows_in_status(call["status"], 0, 100, Filter(text=text))]

    assert found("ödön quux") == found("ÖDÖN QUUX") == [call["id"]]
    assert not queries._conn.in_transaction  # its hits are kept, but no read is left open
    # the same record loaded again under another name: the old name is gone from the index
    call["destination"]["target_name"] = "Zebedee Quuxley"
    load_bundle(db, str(write_json(path, data)))
    assert found("ödön quux") == [] and found("zebedee") == [call["id"]]
    db.conn.execute("DELETE FROM campaigncalls WHERE id = ?", (call["id"],))
    assert found("zebedee") == []
    integrity = db.conn.execute(
        "INSERT INTO campaigncall_text(campaigncall_text, rank) VALUES ('integrity-check', 1)"
    )
    assert integrity is not None  # raises if the index and the rows disagree


def test_without_the_text_index_the_filter_reads_the_rows(tmp_path: Path) -> None:
    data = generate_bundle(seed=3, campaigns=1, targets=20, calls=40)
    db = connect(tmp_path / "x.db", create=True)
    load_bundle(db, str(write_json(tmp_path / "b.json", data)))
    call = data["campaigncalls"][5]
    name = call["destination"]["target"]
    # as SQLite without FTS5 leaves it: no text index, no triggers for it
    for trigger in ("insert", "delete", "update"):
        db.conn.execute(f"DROP TRIGGER campaigncalls_text_{trigger}")
    db.conn.execute("DROP TABLE campaigncall_text")
    queries = Queries(tmp_path / "x.db")
    assert not queries._has_text_index
    found = queries.rows_in_status(call["status"], 0, 100, Filter(text=name))
    assert call["id"] in [r.id for r in found]


@pytest.mark.parametrize(
    "text",
    ['"', '""', 'a"b', "\x00abc", "\ud800abc", "NEAR(a b)", "*", "abc*", "-abc", "^ab",
     "a AND b", "x" * 5_000, "[bold]", "\x1b[31m", "\n\t", "%", "_", "\\"],
)  # fmt: skip
def test_any_text_filters_without_error(big: Queries, text: str) -> None:
    for status in ("dialing", "progressing", "done"):
        expected = scanned_ids(big, status, text.replace("\x00", "").strip())
        flt = Filter(text=text)
        found = [r.id for r in big.rows_in_status(status, 0, 2_000, flt)]  # type: ignore[arg-type]
        assert found == expected[: len(found)]
        cap = 1_000 if text.strip() else len(expected)  # white space alone is no filter
        assert big.count_in_status(status, flt) == min(len(expected), cap)  # type: ignore[arg-type]


def test_a_name_with_a_lone_surrogate_is_found_by_its_letters(tmp_path: Path) -> None:
    data = generate_bundle(seed=3, campaigns=1, targets=20, calls=40)
    call = data["campaigncalls"][3]
    call["destination"]["target_name"] = "Broken\ud800Name"
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data))  # the surrogate as JSON writes it: \ud800
    db = connect(tmp_path / "x.db", create=True)
    load_bundle(db, str(path))
    queries = Queries(tmp_path / "x.db")
    for text in ("BROKEN", "name"):
        found = queries.rows_in_status(call["status"], 0, 100, Filter(text=text))
        assert call["id"] in [r.id for r in found], repr(text)
    shown = [r for r in found if r.id == call["id"]][0]
    assert shown.destination.target_name == "Broken\ud800Name"
    # the surrogate itself is only asked for, not promised: it must not fail
    for text in ("\ud800name", "Broken\ud800"):
        queries.rows_in_status(call["status"], 0, 100, Filter(text=text))


def test_the_filter_in_use_keeps_its_hits_while_others_are_typed(big: Queries) -> None:
    in_use = big._hits("José")
    assert in_use is not None
    for text in ("+49", "+81", "+82", "+33", "+1555", "김민", "Zoë", "Renée", "@exa", "sip:"):
        big.prepare_filter(text)
        big.rows_in_status("done", 0, 10, Filter(text="José"))  # the shown filter, refreshed
    again = big._hits("José")
    assert again is not None and again.name == in_use.name  # kept, not filled again
    assert len(big._hit_tables) <= 8
    tables = big._all("SELECT count(*) FROM temp.sqlite_master WHERE type = 'table'")[0][0]
    assert tables == len(big._hit_tables)  # the dropped ones are gone from memory too


def test_done_is_ordered_by_when_it_finished(tmp_path: Path) -> None:
    from store.apply import apply_bytes
    from store.bundle import load_bundle
    from store.db import connect

    db = connect(tmp_path / "o.db", create=True)
    load_bundle(db, "demo")
    queries = Queries(tmp_path / "o.db")
    oldest = queries._all("SELECT id FROM campaigncalls WHERE status = 'dialing'"
                          " ORDER BY tm_create LIMIT 1")[0][0]  # fmt: skip
    hangup = {"campaigncall_id": oldest, "hangup_reason": "busy", "tm": "2030-01-01T00:00:00Z"}
    apply_bytes(db, "x.json", json.dumps(hangup).encode())
    # the call that just finished leads Done, though it was created before all the others
    assert queries.rows_in_status("done", 0, 1)[0].id == oldest
    assert queries.position_in_status(oldest, "done") == 0
    queries.close()
    db.conn.close()


def test_stale_calls_are_those_dialing_past_their_dial_timeout(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from store.bundle import load_bundle
    from store.db import connect
    from store.rules import VOIPBIN_DIAL_TIMEOUT_MS, dial_timeout_ms, is_stale
    from store.timefmt import to_datetime

    db = connect(tmp_path / "s.db", create=True)
    load_bundle(db, "demo")
    db.conn.close()
    queries = Queries(tmp_path / "s.db")
    rows = queries._all(
        "SELECT c.status, c.tm_create, o.dial_timeout FROM campaigncalls c"
        " LEFT JOIN outplans o ON o.id = c.outplan_id WHERE c.status != 'done'"
    )
    newest = max(to_datetime(r[1]) for r in rows if r[0] == "dialing")
    # the demo's outplans dial for 30, 45 and 60 s: the newest call crosses them one by one
    seconds = (0, 30, 40, 46, 50, 59, 61)
    for now in [newest + timedelta(seconds=s) for s in seconds] + [
        datetime(2030, 1, 1, tzinfo=UTC)
    ]:
        by_hand = sum(
            is_stale(status, (now - to_datetime(tm)).total_seconds() * 1000, dial_timeout_ms(t))
            for status, tm, t in rows
        )
        assert queries.stale_count(now) == by_hand
    # progressing calls are never stale, and a timeout of 0 means VoIPbin's own 60 s
    assert not is_stale("progressing", 10**9, 1)
    assert dial_timeout_ms(0) == dial_timeout_ms(None) == VOIPBIN_DIAL_TIMEOUT_MS
    window = queries.rows_in_status("dialing", 0, 64)
    assert all(r.stale(datetime(2030, 1, 1, tzinfo=UTC)) for r in window)
    assert not any(r.stale(to_datetime(r.tm_create)) for r in window)
    queries.close()
