"""The dashboard's reads: windows of a group from either end, positions, filters, counts."""

from __future__ import annotations

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


def all_ids(queries: Queries, status: str, flt: Filter = NO_FILTER) -> list[str]:
    where, params = queries._where(status, flt)
    sql = f"SELECT c.id FROM campaigncalls c WHERE {where} ORDER BY c.tm_create DESC, c.id DESC"
    return [r[0] for r in queries._all(sql, params)]


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
    by_middle = big.rows_in_status("done", 0, 64, Filter(text=row.id[10:20]))
    assert row.id in [r.id for r in by_middle]
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
