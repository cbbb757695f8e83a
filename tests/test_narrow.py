"""Narrow terminals: columns give way in order of worth, the result stays text, the chosen
campaign stays in the header. The real app on the demo data, read as it is drawn."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot

from dashboard.app import CampaigncallsApp
from dashboard.screens.choosers import CampaignScreen
from dashboard.widgets.header import DashboardHeader
from dashboard.widgets.status_table import COLUMNS, StatusTable, column_layout
from tests.test_dashboard import loaded, table, until
from tests.test_dashboard_snapshots import demo_app, here, settled

__all__ = ["here"]  # the snapshot tests' fixture: the app runs from a tmp folder

TITLES = [c.title for c in COLUMNS]


def drawn(widget: StatusTable | DashboardHeader) -> list[str]:
    """The widget's lines as the terminal gets them (cut at its width), inside any border."""
    width, height = widget.outer_size
    lines = [strip.text for strip in widget.render_lines(Region(0, 0, width, height))]
    if isinstance(widget, StatusTable):
        lines = [line[1:-1] for line in lines[1:-1]]
    return lines


def natural() -> int:
    return sum(c.width for c in COLUMNS) + len(COLUMNS) - 1


def shown_titles(layout: tuple[tuple[int, int], ...]) -> list[str]:
    return [TITLES[index] for index, _ in layout]


def test_the_destination_is_shortened_before_any_column_goes() -> None:
    full = dict(column_layout(natural()))
    assert shown_titles(column_layout(natural())) == TITLES
    destination = TITLES.index("destination")
    for total in range(natural() - 1, 0, -1):
        layout = column_layout(total)
        assert sum(width + 1 for _, width in layout) - 1 <= max(total, len(layout) * 2)
        if shown_titles(layout) != TITLES:
            break
        assert dict(layout)[destination] < full[destination]  # it gave the room first
    else:
        raise AssertionError("no column ever went")


def test_columns_go_in_order_of_worth_and_the_id_goes_last() -> None:
    gone: list[str] = []
    for total in range(natural(), 9, -1):
        titles = shown_titles(column_layout(total))
        went = [t for t in TITLES if t not in titles and t not in gone]
        gone += went
        # once a column went it stays gone on narrower screens
        assert all(t not in titles for t in gone)
    assert gone.index("id") == len(gone) - 1, gone  # the id is the last to go
    assert gone[0] != "destination" and "result" not in gone  # the result is never colour alone
    assert shown_titles(column_layout(10)) == ["destination", "result"]


def test_at_120_columns_the_tables_keep_result_updated_and_id() -> None:
    for name in ("destination", "result", "updated", "id"):
        assert name in shown_titles(column_layout(55)), name  # 120 less the pane and borders


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_a_narrow_screen_shows_the_result_as_text(
    demo_db: Path, drop: Path, size: tuple[int, int]
) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=size) as pilot:
        done = table(app, "done")
        await until(pilot, lambda: loaded(app) and done.row_at(0) is not None)
        await pilot.pause()
        lines = drawn(done)
        header = lines[0].split()
        for name in ("destination", "result", "updated", "id"):
            assert name in header, (name, lines[0])
        rows = lines[1 : done.rows_in_view + 1]
        for index, line in enumerate(rows):
            row = done.row_at(index)
            assert row is not None and row.result in ("success", "fail")
            assert f" {row.result} " in line, line
            assert row.id[:8] in line, line  # the id's start, to filter or `show` by


async def test_at_80_columns_the_chosen_campaign_stays_in_the_header(
    demo_db: Path, drop: Path
) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("c")
        assert isinstance(app.screen, CampaignScreen)
        _, name = app.screen.campaigns[0]
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.flt.campaign_id is not None and not app.refresh_pending)
        await pilot.pause()
        header = app.query_one(DashboardHeader)
        text = "\n".join(drawn(header))
        assert name[:10] in text, text  # shortened to leave the totals room, never dropped
        assert "exhausted" in text, text
        for words in ("dialing", "progressing", "done"):
            assert words in text, text
        # one campaign: its column says nothing and gives its room to the others
        titles = drawn(table(app, "done"))[0].split()
        assert titles == ["destination", "idx", "try", "result", "updated", "id"], titles


def test_one_campaign_leaves_the_campaign_column_out() -> None:
    assert "campaign" in shown_titles(column_layout(natural()))
    assert "campaign" not in shown_titles(column_layout(natural(), one_campaign=True))
    assert shown_titles(column_layout(77, one_campaign=True)) == TITLES[1:]


# ---- pictures: 120 columns with the pane, 80 columns with one campaign chosen ----------------


def test_120x40_keeps_result_updated_and_id_beside_the_pane(here: Path, snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=settled)


def test_80x24_with_one_campaign_chosen(here: Path, snap_compare) -> None:
    async def choose(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("c", "down", "enter")
        await until(pilot, lambda: pilot.app.flt.campaign_id is not None)  # type: ignore[attr-defined]
        await settled(pilot)

    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=choose)


async def test_at_80_columns_all_campaigns_keep_their_totals(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: loaded(app) and not app.refresh_pending)
        await pilot.pause()
        line = drawn(app.query_one(DashboardHeader))[1]
        assert "running" in line and "dialing" in line, line
        header = app.query_one(DashboardHeader)
        counts = header.counts
        # the stale calls (all of the demo's dialing ones, on the tests' clock) come last
        assert header.stale == counts.dialing
        assert line.rstrip().endswith(f"exhausted {counts.exhausted:,} ⚠{header.stale}"), line
