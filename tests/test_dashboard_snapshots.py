"""Snapshots of whole screens on the bundled demo data (pytest-textual-snapshot).

The app runs with relative paths from a tmp folder so the header reads the same on every run;
no events are dropped, so no time-of-reading shows. Update with `--snapshot-update`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from dashboard.app import CampaigncallsApp
from dashboard.screens.detail_screen import DetailScreen
from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import ensure_drop_dir
from store.scenarios import load_scenario


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    ensure_drop_dir(tmp_path / "drop")
    return tmp_path


def demo_app(*, empty: bool = False, scenario: bool = False) -> CampaigncallsApp:
    db = connect(Path("demo.db"), create=True)
    if not empty:
        load_bundle(db, "demo")
    db.conn.close()
    chosen = load_scenario("busy-retry") if scenario else None
    return CampaigncallsApp(Path("demo.db"), Path("drop"), scenario=chosen, watch=False)


async def settled(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, CampaigncallsApp)
    deadline = time.monotonic() + 5
    while (
        app.refresh_count == 0
        or app.refresh_pending
        or any(t.display and t.total and t.cursor_row is None for t in app.tables)
    ):
        assert time.monotonic() < deadline
        await pilot.pause(0.02)
    await pilot.pause()


def test_main_screen_on_the_demo(here: Path, snap_compare) -> None:
    assert snap_compare(demo_app(scenario=True), terminal_size=(160, 45), run_before=settled)


def test_main_screen_at_200x50(here: Path, snap_compare) -> None:
    async def on_done(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("tab", "tab", "j")
        await settled(pilot)

    assert snap_compare(demo_app(), terminal_size=(200, 50), run_before=on_done)


def test_80x24_layout(here: Path, snap_compare) -> None:
    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=settled)


def test_detail_screen(here: Path, snap_compare) -> None:
    async def open_detail(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("tab", "tab", "enter")
        deadline = time.monotonic() + 5
        while not isinstance(pilot.app.screen, DetailScreen):
            assert time.monotonic() < deadline
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 60), run_before=open_detail)


def test_help_screen(here: Path, snap_compare) -> None:
    async def open_help(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(demo_app(scenario=True), terminal_size=(120, 40), run_before=open_help)


def test_empty_database(here: Path, snap_compare) -> None:
    assert snap_compare(demo_app(empty=True), terminal_size=(120, 30), run_before=settled)


def test_filter_typed_on_the_main_screen(here: Path, snap_compare) -> None:
    """The filter bar above the footer while "josé" is typed (no Enter): the tables follow."""

    async def type_a_name(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("slash", *"josé")
        app = pilot.app
        assert isinstance(app, CampaigncallsApp)
        deadline = time.monotonic() + 5
        while not all(t.shown_flt.text == "josé" and not t.filtering for t in app.tables):
            assert time.monotonic() < deadline
            await pilot.pause(0.02)
        await settled(pilot)

    assert snap_compare(demo_app(), terminal_size=(160, 45), run_before=type_a_name)
