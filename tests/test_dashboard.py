"""The dashboard driven by keys through Pilot, on a real database file and a real drop folder."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from dashboard import data
from dashboard.app import CampaigncallsApp
from dashboard.render import detail_text
from dashboard.screens.choosers import CampaignScreen
from dashboard.screens.detail_screen import DetailScreen
from dashboard.screens.help_screen import HelpScreen
from dashboard.screens.overview import OverviewScreen
from dashboard.widgets.detail_pane import DetailPane
from dashboard.widgets.event_panel import EventPanel
from dashboard.widgets.filter_bar import FilterInput
from dashboard.widgets.header import DashboardHeader
from dashboard.widgets.status_table import StatusTable
from store.apply import apply_bytes
from store.db import connect
from store.queries import Queries
from store.scenarios import drop_file, load_scenario
from store.text import visible

SIZE = (160, 45)
BUSY = load_scenario("busy-retry")
FIRST_CALL = "5ce2ca01-0000-4000-8000-000200000001"  # created by busy-retry step 1


def apply_file(db_path: Path, source: Path) -> None:
    """Write to the database as another process would (the headless apply path)."""
    db = connect(db_path)
    try:
        apply_bytes(db, source.name, source.read_bytes())
    finally:
        db.conn.close()


async def until(pilot: Pilot[None], check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the screen did not get there in time")
        await pilot.pause(0.02)


def table(app: CampaigncallsApp, status: str) -> StatusTable:
    return app.query_one(f"#table-{status}", StatusTable)


def loaded(app: CampaigncallsApp) -> bool:
    return app.refresh_count > 0 and all(t.loaded for t in app.tables)


def panel_text(app: CampaigncallsApp) -> str:
    return "\n".join(line.text for line in app.query_one(EventPanel).lines)


def pane_id(app: CampaigncallsApp) -> str | None:
    detail = app.query_one(DetailPane).detail
    return None if detail is None else str(detail.campaigncall["id"])


async def test_dropped_files_move_a_row_from_dialing_to_done(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, scenario=BUSY)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        dialing, done = table(app, "dialing").total, table(app, "done").total
        await pilot.press("n")  # step 1: a new campaigncall, dialing
        await until(pilot, lambda: table(app, "dialing").total == dialing + 1)
        assert table(app, "dialing").row_at(0).id == FIRST_CALL  # newest first
        await pilot.press("home")
        await until(pilot, lambda: pane_id(app) == FIRST_CALL)
        await pilot.press("n")  # step 2: busy, a fail with a retry planned
        await until(pilot, lambda: table(app, "done").total == done + 1)
        assert table(app, "dialing").total == dialing
        assert table(app, "done").row_at(0).id == FIRST_CALL
        header = app.query_one(DashboardHeader)
        assert header.counts.done == done + 1
        assert "step 2 of 5" in header.step_label
        await until(pilot, lambda: "02-busy.json" in panel_text(app))
        assert "applied" in panel_text(app)
        # the pane follows the neighbour that took the cursor's place in Dialing
        assert table(app, "dialing").cursor == 0
        assert pane_id(app) == table(app, "dialing").row_at(0).id
        await pilot.press("tab", "tab", "home")  # to Done, onto the moved row
        await until(pilot, lambda: pane_id(app) == FIRST_CALL)
        pane = app.query_one(DetailPane).detail
        assert pane is not None and pane.campaigncall["result"] == "fail"
        assert pane.retry.state == "scheduled"
        assert (drop / "processed" / "02-busy.json").is_file()


async def test_new_data_is_painted_without_waiting_for_the_frame_timer(
    demo_db: Path, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Textual paints what changed at its update timer's ticks, the first at once after a
    # pause, the next a period on; here periods are 5 s, and the key's own frame (the cursor
    # moved) has just been painted, so a refresh told within 2 s was composed as the
    # screen went idle (dashboard/screens/painted.py), not at a tick
    import textual.screen

    monkeypatch.setattr(textual.screen, "UPDATE_PERIOD", 5.0)
    app = CampaigncallsApp(demo_db, drop, scenario=BUSY)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app), timeout=10)
        await pilot.pause(0.3)
        count = app.refresh_count
        await pilot.press("down")  # a frame (Pilot composes one itself): the next tick 5 s away
        started = time.monotonic()
        await pilot.press("n")  # a new campaigncall, dialing: a refresh brings it
        # waited for by the clock alone: Pilot.pause would compose a frame itself
        while app.refresh_count == count or app.refresh_pending:
            assert time.monotonic() - started < 2.0, "the refresh waited for the frame timer"
            await asyncio.sleep(0.02)
        assert table(app, "dialing").row_at(0).id == FIRST_CALL


async def test_a_rejected_file_shows_in_the_panel_with_a_toast(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        bad = drop.parent / "bad-reason\x1b[31m.json"  # an escape code in the file's name
        bad.write_text(json.dumps({"campaigncall_id": FIRST_CALL, "hangup_reason": "[red]x"}))
        drop_file(bad, drop)
        await until(pilot, lambda: "rejected" in panel_text(app))
        assert "bad-reason\\x1b[31m.json" in panel_text(app)  # escaped, never sent raw
        assert "[red]x" in panel_text(app)  # shown literally, not as markup
        await until(pilot, lambda: bool(app._notifications))
        toast = list(app._notifications)[0]
        assert toast.severity == "error" and "bad-reason\\x1b[31m.json" in toast.message
        assert "\x1b" not in toast.message
        assert (drop / "rejected" / bad.name).is_file()


async def test_pause_holds_the_screen_and_resume_catches_up(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        dialing = table(app, "dialing").total
        await pilot.press("p")
        assert app.query_one(DashboardHeader).paused
        apply_file(demo_db, BUSY.steps[0].file)  # another process writes
        await pilot.pause(0.5)
        assert table(app, "dialing").total == dialing
        assert "01-created.json" not in panel_text(app)
        await pilot.press("p")
        await until(pilot, lambda: table(app, "dialing").total == dialing + 1)
        await until(pilot, lambda: "01-created.json" in panel_text(app))
        assert not app.query_one(DashboardHeader).paused


async def test_cursor_keeps_its_row_when_rows_arrive_above(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        dialing = table(app, "dialing")
        await pilot.press("j", "j")
        assert dialing.cursor == 2
        kept = dialing.cursor_row.id
        apply_file(demo_db, BUSY.steps[0].file)  # a new newest row on top of Dialing
        await until(pilot, lambda: dialing.total > 0 and dialing.row_at(0).id == FIRST_CALL)
        assert dialing.cursor == 3 and dialing.cursor_row.id == kept
        await pilot.press("k")
        assert dialing.cursor == 2


async def test_moves_tab_and_enter_open_the_detail_screen(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        assert app.focused is table(app, "dialing")
        await pilot.press("down", "j", "up")
        assert table(app, "dialing").cursor == 1
        await pilot.press("tab")
        assert app.focused is table(app, "progressing")
        await pilot.press("tab")
        done = table(app, "done")
        assert app.focused is done
        await pilot.press("end")
        assert done.cursor == done.total - 1
        await until(pilot, lambda: done.cursor_row is not None)
        await pilot.press("pageup")
        assert done.cursor == done.total - 1 - done.rows_in_view
        await pilot.press("home", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.detail.campaigncall["id"] == done.row_at(0).id
        assert app.screen.query_one("#raw").display is False
        await pilot.press("r")
        assert app.screen.query_one("#raw").display is True
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)
        await pilot.press("shift+tab")
        assert app.focused is table(app, "progressing")


async def test_raw_help_and_quit_keys(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app) and pane_id(app) is not None)
        await pilot.press("r")
        pane = app.query_one(DetailPane)
        assert pane.raw and "raw JSON" in str(pane.border_title)
        await pilot.press("r")
        assert not pane.raw
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = [b.key for _, bindings in app.help_sections() for b in bindings]
        for key in ("slash", "c", "p", "r", "q", "question_mark", "tab", "up,k", "down,j"):
            assert key in keys
        assert "n" not in keys  # only in demo, with a scenario
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
    assert app.return_code == 0


async def test_filter_narrows_the_tables_and_esc_clears_it(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        before = {t.status: t.total for t in app.tables}
        await pilot.press("slash")
        assert isinstance(app.focused, FilterInput) and app.screen is app.screen_stack[0]
        await pilot.press(*"josé", "enter")
        done = table(app, "done")
        await until(pilot, lambda: done.loaded and done.total < before["done"] and done.total > 0)
        assert "filter: josé" in str(done.border_title)
        # the pane shows the highlighted row of the filtered group, without a key pressed
        active = app.active_table
        await until(pilot, lambda: active.row_at(active.cursor) is not None)
        highlighted = active.row_at(active.cursor)
        assert highlighted is not None and "josé" in highlighted.destination.target_name.lower()
        await until(pilot, lambda: pane_id(app) == highlighted.id)
        await pilot.pause(0.5)
        assert pane_id(app) == highlighted.id  # and a refresh that comes after keeps it
        queries = Queries(demo_db)
        for t in app.tables:
            assert t.total == queries.count_in_status(t.status, app.flt)
        queries.close()
        await pilot.press("escape")
        await until(pilot, lambda: {t.status: t.total for t in app.tables} == before)
        assert "filter" not in str(done.border_title)


async def test_a_filtered_group_scrolls_to_its_end(
    demo_db: Path, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the filter's own fetch brings the first rows; rows further down are fetched as reached
    monkeypatch.setattr(data, "PAGE_SIZE", 16)
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("slash", *"example", "enter")  # e-mail and SIP targets: text index
        done = table(app, "done")
        await until(pilot, lambda: done.loaded and not done.filtering and done.total > 0)
        queries = Queries(demo_db)
        expected = queries.rows_in_status("done", 0, 1_000, app.flt)
        queries.close()
        assert done.total == len(expected) > 3 * 16
        done.focus()
        await pilot.press("end")
        last = done.total - 1
        await until(pilot, lambda: done.cursor == last and done.row_at(last) is not None)
        assert done.row_at(last).id == expected[-1].id  # type: ignore[union-attr]


async def test_home_and_end_land_on_rows_already_read(
    demo_db: Path, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a million rows' far end costs a window read as the key is pressed, and a frame more:
    # each refresh brings a group's first and last windows, so End shows its rows at once
    monkeypatch.setattr(data, "PAGE_SIZE", 16)
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        done = table(app, "done")
        assert done.total > 4 * 16
        done.focus()
        # End's own action, then at once (no frame, no worker in between): its rows are there
        done.action_last()
        assert done.cursor == done.total - 1 and done.cursor_row is not None
        assert done.row_at(done.total - 1) is not None
        done.action_first()
        assert done.cursor == 0 and done.cursor_row is not None
        assert done.row_at(3 * 16) is None  # a window in the middle is read when reached


async def test_choosing_a_campaign_narrows_the_tables(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        total = sum(t.total for t in app.tables)
        await pilot.press("c")
        assert isinstance(app.screen, CampaignScreen)
        campaign_id, name = app.screen.campaigns[0]
        await pilot.press("down", "enter")
        await until(pilot, lambda: sum(t.total for t in app.tables) < total)
        assert app.flt.campaign_id == campaign_id
        assert app.query_one(DashboardHeader).campaign_name == name
        for t in app.tables:
            assert all(t.row_at(i).campaign_id == campaign_id for i in range(min(t.total, 5)))
        await pilot.press("c", "home", "enter")  # all campaigns again
        await until(pilot, lambda: sum(t.total for t in app.tables) == total)


async def test_the_empty_database_says_how_to_load_data(tmp_path: Path, drop: Path) -> None:
    path = tmp_path / "empty.db"
    connect(path, create=True).conn.close()
    app = CampaigncallsApp(path, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.refresh_count > 0)
        empty = app.query_one("#empty")
        assert empty.display
        assert "campaigncalls load --db" in str(empty.render())
        assert not any(t.display for t in app.tables)


async def test_narrow_screen_hides_the_pane_and_enter_still_shows_detail(
    demo_db: Path, drop: Path
) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: loaded(app))
        assert not app.query_one(DetailPane).display
        assert all(t.rows_in_view >= 1 for t in app.tables)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))


def test_detail_text_is_plain_and_shows_escape_codes_literally(demo_db: Path) -> None:
    queries = Queries(demo_db)
    ident = queries.rows_in_status("done", 0, 1)[0].id
    detail = queries.detail(ident)
    queries.close()
    assert detail is not None
    text = detail_text(detail)
    assert ident in text and "Retry plan" in text and "slot 0" in text
    assert "\x1b" not in text
    assert visible("red \x1b[31mX\x07") == "red \\x1b[31mX\\x07"
    assert visible("[bold]VIP[/]") == "[bold]VIP[/]"


async def test_what_the_app_holds_once_painted_is_left_out_of_full_collections(
    demo_db: Path, drop: Path
) -> None:
    """gc.freeze() after the first paint (a full collection walking the whole app cost a key
    100 ms now and then), undone when the app ends so that an ended app can be collected."""
    import gc

    assert gc.get_freeze_count() == 0
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        await until(pilot, lambda: gc.get_freeze_count() > 10_000)
    assert gc.get_freeze_count() == 0


async def detail_of_a_new_call(app: CampaigncallsApp, pilot: Pilot[None]) -> DetailScreen:
    """Step 1 of the busy-retry scenario dropped (a new campaigncall, dialing) and its detail
    screen open."""
    await until(pilot, lambda: loaded(app))
    await pilot.press("n")
    await until(pilot, lambda: table(app, "dialing").row_at(0).id == FIRST_CALL)
    await pilot.press("home", "enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    return screen


async def test_the_detail_screen_follows_its_call_as_events_land(demo_db: Path, drop: Path) -> None:
    """The main screen keeps reading under the detail screen (it shows the same data)."""
    app = CampaigncallsApp(demo_db, drop, scenario=BUSY)
    async with app.run_test(size=SIZE) as pilot:
        screen = await detail_of_a_new_call(app, pilot)
        assert screen.detail.campaigncall["status"] == "dialing"
        await pilot.press("n")  # step 2, pressed on the detail screen: busy, a fail
        await until(pilot, lambda: screen.detail.campaigncall["status"] == "done")
        assert screen.detail.campaigncall["result"] == "fail"
        assert "fail" in str(screen.query_one("#formatted").render())


async def test_p_on_the_detail_screen_holds_it_still(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, scenario=BUSY)
    async with app.run_test(size=SIZE) as pilot:
        screen = await detail_of_a_new_call(app, pilot)
        assert "p: pause" in str(screen.query_one("VerticalScroll").border_subtitle)
        await pilot.press("p")
        assert app.paused
        apply_file(demo_db, BUSY.steps[1].file)  # busy, a fail: applied (another process)
        await pilot.pause(0.5)  # the screen, which follows a change within 0.1 s, holds
        assert screen.detail.campaigncall["status"] == "dialing"
        await pilot.press("p")
        assert not app.paused
        await until(pilot, lambda: screen.detail.campaigncall["status"] == "done")
        assert screen.detail.campaigncall["result"] == "fail"


async def test_data_shown_just_before_a_screen_covers_the_main_one_is_still_told(
    demo_db: Path, drop: Path
) -> None:
    # the main screen tells a frame with new data once composed (dashboard/screens/painted.py);
    # a screen pushed at once takes the screen only once mounted: the main one's frame comes
    # first (seen: so no flush on suspend is needed), and its data is told
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app) and not app.refresh_pending)
        count = app.refresh_count
        app.main.paint_pending("refresh")
        app.main.action_overview()  # at once: no frame of the main screen between
        await until(pilot, lambda: app.refresh_count > count)
        assert isinstance(app.screen, OverviewScreen)
