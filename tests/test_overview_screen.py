"""The campaign overview screen (`o`) in the real app: its rows, Enter shows a campaign on the
main screen, Esc goes back, and it follows a file dropped into the real watcher; a snapshot."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Sparkline

from dashboard.app import CampaigncallsApp
from dashboard.screens.overview import OverviewScreen, reason_bars, spark_text
from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import ensure_drop_dir
from store.overview import read_overview
from tests.helpers import CAMPAIGN, hangup, write_json
from tests.test_dashboard import SIZE, loaded, until
from tests.test_overview import NOW, OTHER_CAMPAIGN, known_bundle, rfc

T2_CALL = "ee000000-0000-4000-8000-000000000201"  # known_bundle's call dialing


def known_db(folder: Path) -> Path:
    path = folder / "known.db"
    db = connect(path, create=True)
    load_bundle(db, str(write_json(folder / "known.json", known_bundle())))
    db.conn.close()
    return path


def overview(app: CampaigncallsApp, after: int = 0) -> OverviewScreen | None:
    """The overview, once it has painted data more than `after` times."""
    screen = app.screen
    return screen if isinstance(screen, OverviewScreen) and screen.painted > after else None


def painted(app: CampaigncallsApp) -> int:
    """How often the app's overview has painted its data so far (it is kept between opens)."""
    if not app.is_screen_installed("overview"):
        return 0
    screen = app.get_screen("overview")
    assert isinstance(screen, OverviewScreen)
    return screen.painted


def flat(widget: Widget) -> str:
    """What a widget shows in its area now, its lines joined by spaces."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return " ".join(strip.text.rstrip() for strip in strips)


def cell(screen: OverviewScreen, campaign_id: str, column: str) -> str:
    table = screen.query_one(DataTable)
    return str(table.get_cell(campaign_id, column))


async def test_o_enter_shows_the_campaign_and_esc_goes_back(tmp_path: Path, drop: Path) -> None:
    app = CampaigncallsApp(known_db(tmp_path), drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app) and not app.refresh_pending)
        await pilot.press("o")
        await until(pilot, lambda: overview(app) is not None)
        screen = overview(app)
        assert screen is not None
        # by name; record data as typed, never markup
        table = screen.query_one(DataTable)
        assert [row.key.value for row in table.ordered_rows] == [OTHER_CAMPAIGN, CAMPAIGN]
        assert cell(screen, OTHER_CAMPAIGN, "campaign") == "Autumn [b]list[/b]"
        assert [cell(screen, CAMPAIGN, c) for c in ("status", "untried", "progressing",
                "retrying", "exhausted", "done", "success")] == [
            "run", "2", "1", "1", "1", "1", "20%"]  # fmt: skip
        # Esc: back, nothing chosen
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, OverviewScreen))
        assert app.flt.campaign_id is None
        # Enter on the second row: the main screen shows that campaign only
        before = painted(app)
        await pilot.press("o")
        await until(pilot, lambda: overview(app, before) is not None)
        await pilot.press("down")
        await until(pilot, lambda: "Renewals" in str(app.screen.query_one("#overview-campaign",
                                                                          ).render()))  # fmt: skip
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, OverviewScreen))
        assert app.flt.campaign_id == CAMPAIGN
        assert app.campaign_name == "Renewals"
        await until(pilot, lambda: not app.refresh_pending)
        # the main screen's own keys are not the overview's: / there does not open the filter
        before = painted(app)
        await pilot.press("o")
        await until(pilot, lambda: overview(app, before) is not None)
        await pilot.press("slash")
        await pilot.pause(0.1)
        assert isinstance(app.screen, OverviewScreen)


def labels(screen: OverviewScreen) -> list[str]:
    return [str(column.label) for column in screen.query_one(DataTable).ordered_columns]


async def test_on_a_narrow_screen_the_columns_give_way_in_order_of_worth(
    tmp_path: Path, drop: Path
) -> None:
    """The campaign, its status, forecast and success stay; the counts go, the least worth
    first (dashboard.screens.overview.WORTH), and come back when the screen is wide again."""
    every = ["Campaign", "Status", "Not tried", "In progress", "Retry due", "Exhausted",
             "Done", "Success", "Last hour", "Forecast"]  # fmt: skip
    app = CampaigncallsApp(known_db(tmp_path), drop, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: loaded(app) and not app.refresh_pending)
        await pilot.press("o")
        await until(pilot, lambda: overview(app) is not None)
        screen = overview(app)
        assert screen is not None
        narrow = labels(screen)
        assert narrow[:2] == ["Campaign", "Status"] and "Forecast" in narrow
        assert "Last hour" not in narrow and len(narrow) < len(every)
        assert narrow == [label for label in every if label in narrow]  # in the table's order
        table = screen.query_one(DataTable)
        assert table.virtual_size.width <= table.size.width  # nothing off to the right
        assert cell(screen, CAMPAIGN, "status") == "run"
        # the attempts' label wraps rather than losing its count (it was cut at one line)
        await pilot.press("down")  # Renewals: the campaign with calls
        await until(pilot, lambda: "UTC: " in flat(screen.query_one("#overview-attempts")))
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: labels(screen) == every)
        assert cell(screen, CAMPAIGN, "success") == "20%"
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: labels(screen) != every)
        assert set(narrow) < set(labels(screen))  # more room: more columns back


async def test_the_overview_follows_a_dropped_file(tmp_path: Path, drop: Path) -> None:
    app = CampaigncallsApp(known_db(tmp_path), drop)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app) and not app.refresh_pending)
        await pilot.press("o")
        await until(pilot, lambda: overview(app) is not None)
        screen = overview(app)
        assert screen is not None
        painted = screen.painted
        event = hangup(T2_CALL, "busy", rfc(1))
        (drop / ".hangup.tmp").write_text(json.dumps(event))
        (drop / ".hangup.tmp").rename(drop / "01-hangup.json")

        def moved() -> bool:
            return (
                screen.painted > painted
                and cell(screen, CAMPAIGN, "progressing") == "0"
                and cell(screen, CAMPAIGN, "retrying") == "2"
            )

        await until(pilot, moved, timeout=15)
        assert cell(screen, CAMPAIGN, "success") == "17%"  # 1 of 6
        await pilot.press("down")  # Renewals: its reasons below the table
        await until(pilot, lambda: "busy" in str(screen.query_one("#overview-reasons").render()))
        assert "unknown" in str(screen.query_one("#overview-reasons").render())
        assert isinstance(app.screen, OverviewScreen)  # still open, live


async def test_help_lists_the_overview_keys(tmp_path: Path, drop: Path) -> None:
    app = CampaigncallsApp(known_db(tmp_path), drop, watch=False)
    sections = dict(app.help_sections())
    assert "o" in [b.key for b in sections["Everywhere"]]
    assert {"escape,q", "enter"} <= {b.key for b in sections["Overview"]}


def test_bars_and_sparkline_text(tmp_path: Path) -> None:
    assert str(spark_text([0] * 60)) == "·" * 20
    blocks = str(spark_text([0] * 57 + [1, 2, 3]))
    assert blocks[:-1] == " " * 19 and blocks[-1] == "█"
    db = connect(known_db(tmp_path))
    line = next(c for c in read_overview(db.conn, NOW).campaigns if c.id == CAMPAIGN)
    db.conn.close()
    text = str(reason_bars(line))
    assert text.startswith("unknown ████") and text.endswith(" 5 (100%)")


# ---- the snapshot: known data on a fixed clock -----------------------------------------------


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    ensure_drop_dir(tmp_path / "drop")
    return tmp_path


def test_overview_snapshot(here: Path, snap_compare) -> None:
    known_db(here)
    app = CampaigncallsApp(Path("known.db"), Path("drop"), watch=False)

    async def open_overview(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: loaded(app) and not app.refresh_pending)
        app.push_screen(OverviewScreen(Path("known.db"), clock=lambda: NOW))
        await until(pilot, lambda: overview(app) is not None)
        await pilot.press("down")  # Renewals: the campaign with calls
        screen = overview(app)
        assert screen is not None
        await until(pilot, lambda: sum(screen.query_one(Sparkline).data or []) > 0)
        deadline = time.monotonic() + 5
        while screen._fetching:
            assert time.monotonic() < deadline
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 45), run_before=open_overview)


async def test_a_paused_screen_holds_the_overview_still(tmp_path: Path, drop: Path) -> None:
    app = CampaigncallsApp(known_db(tmp_path), drop)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app) and not app.refresh_pending)
        await pilot.press("p", "o")  # held still (p), then the overview: read once, as it opens
        await until(pilot, lambda: overview(app) is not None)
        screen = overview(app)
        assert screen is not None and app.paused
        painted = screen.painted
        assert cell(screen, CAMPAIGN, "progressing") == "1"
        event = hangup(T2_CALL, "busy", rfc(1))
        (drop / ".hangup.tmp").write_text(json.dumps(event))
        (drop / ".hangup.tmp").rename(drop / "01-hangup.json")
        # the file is applied (files keep being applied while the screen is held still) ...
        await until(pilot, lambda: (drop / "processed" / "01-hangup.json").exists(), timeout=15)
        await pilot.pause(0.5)  # ... and the overview, which would follow it within 0.1 s, holds
        assert screen.painted == painted and cell(screen, CAMPAIGN, "progressing") == "1"
        await pilot.press("escape", "p", "o")  # live again: the overview opens on the change
        await until(pilot, lambda: overview(app, painted) is not None)
        await until(pilot, lambda: cell(screen, CAMPAIGN, "progressing") == "0")
