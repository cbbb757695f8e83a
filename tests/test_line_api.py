"""What the screen draws again, and when: the tables and the event panel are drawn line by line
(Textual's Line API), so a cursor move draws two lines and a resize draws the lines in view."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.strip import Strip

from dashboard.app import CampaigncallsApp
from dashboard.widgets import event_panel
from dashboard.widgets.event_panel import EventPanel
from dashboard.widgets.status_table import StatusTable
from store.apply import apply_bytes
from store.db import connect
from tests.test_dashboard import BUSY, SIZE, loaded, table, until
from tests.test_event_panel import on_screen

EVENTS = 300  # more than the panel reads when it starts (dashboard.data.EVENT_BACKLOG)


def spy_on_lines(table: StatusTable) -> list[int]:
    """The lines the table draws from now on (y, the header being 0)."""
    drawn: list[int] = []
    draw: Callable[[int], Strip] = table.render_line

    def render_line(y: int) -> Strip:
        drawn.append(y)
        return draw(y)

    table.render_line = render_line  # type: ignore[method-assign]
    return drawn


async def in_done(pilot: Pilot[None], app: CampaigncallsApp) -> StatusTable:
    """The Done table, loaded, focused, its cursor on a row."""
    await until(pilot, lambda: loaded(app))
    done = table(app, "done")
    done.focus()
    await until(pilot, lambda: app.active_table is done and done.cursor_row is not None)
    return done


async def test_moving_the_cursor_draws_only_the_two_lines_it_changed(
    demo_db: Path, drop: Path
) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        done = await in_done(pilot, app)
        await pilot.pause()
        drawn = spy_on_lines(done)
        for _ in range(5):  # a refresh of the screen's own (each few seconds) draws all: again
            refreshes, drawn[:] = app.refresh_count, []
            start = done.cursor
            await pilot.press("down")
            await until(pilot, lambda: bool(drawn))
            await pilot.pause()
            if app.refresh_count == refreshes:
                break
        assert done.cursor == start + 1
        assert sorted(set(drawn)) == [start + 1, start + 2]  # the old line and the new


async def test_the_cursor_line_is_drawn_as_the_cursor(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        done = await in_done(pilot, app)
        cursor_style = done.get_component_rich_style("status-table--cursor")
        await pilot.press("down", "down")
        await pilot.pause()
        lines = [done.render_line(y) for y in range(1, 5)]
        marked = [any(s.style and s.style.bgcolor == cursor_style.bgcolor for s in line)
                  for line in lines]  # fmt: skip
        assert marked == [False, False, True, False]


@pytest.fixture
def many_events(demo_db: Path) -> Path:
    """The demo with EVENTS rejected events in one file: more lines than the panel shows."""
    db = connect(demo_db)
    bad = [{"type": "call_hangup", "data": {"note": f"no id {n}"}} for n in range(EVENTS)]
    apply_bytes(db, "bad-batch.json", json.dumps(bad).encode())
    db.conn.close()
    return demo_db


async def test_a_resize_draws_only_the_event_lines_in_view(
    many_events: Path, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []
    line = event_panel.event_line

    def counted(event: event_panel.EventRow, width: int | None = None) -> event_panel.Text:
        made.append(event.id)
        return line(event, width)

    monkeypatch.setattr(event_panel, "event_line", counted)
    app = CampaigncallsApp(many_events, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(EventPanel)
        await until(pilot, lambda: panel.last_event_id == EVENTS)
        await until(pilot, lambda: bool(made))
        await pilot.pause()
        tall = panel.scrollable_content_region.height
        assert len(panel.shown) == 200 and len(set(made)) <= tall  # only the lines in view
        made.clear()
        await pilot.resize_terminal(72, 24)
        await until(pilot, lambda: panel.scrollable_content_region.width < 72 and bool(made))
        await pilot.pause()
        height = panel.scrollable_content_region.height
        assert height < tall
        # the newest lines, at the new width, as the panel went from tall to short: no more
        assert 0 < len(set(made)) <= tall + 1 and min(made) > EVENTS - tall - 2
        bottom = panel.render_line(height - 1).text
        assert len(bottom) == panel.scrollable_content_region.width  # drawn at the new width
        # narrow, what happened comes first (dashboard.widgets.event_panel.NARROW_LINE)
        assert f"data.id: Field required · bad-batch.json#{EVENTS}" in bottom
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: "call_hangup" in on_screen(app)[-1])


async def test_the_panel_s_lines_are_the_events_less_the_ignored(demo_db: Path, drop: Path) -> None:
    db = connect(demo_db)
    noise = [{"type": "agent_status_updated", "data": {"id": f"a{n}"}} for n in range(3)]
    apply_bytes(db, "noise.json", json.dumps(noise).encode())
    db.conn.close()
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(EventPanel)
        await until(pilot, lambda: panel.last_event_id == 3)
        assert [e.outcome for e in panel.shown] == ["ignored"] * 3
        assert panel.lines == [] and "3 ignored (hidden, i shows)" in str(panel.border_title)
        await pilot.press("i")
        await until(pilot, lambda: len(panel.lines) == 3)
        assert all("noise.json" in strip.text for strip in panel.lines)
        assert panel.virtual_size.height == 3


async def test_at_80_columns_an_event_line_still_says_what_it_did(
    demo_db: Path, drop: Path
) -> None:
    app = CampaigncallsApp(demo_db, drop, scenario=BUSY)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(EventPanel)
        await until(pilot, lambda: loaded(app))
        await pilot.press("n")
        await until(pilot, lambda: panel.last_event_id == 1)
        await pilot.press("n")
        await until(pilot, lambda: panel.last_event_id == 2)
        await until(pilot, lambda: "busy → fail" in on_screen(app)[-1])
        line = on_screen(app)[-1]
        assert "call_hangup" not in line  # the type gives way, what it did comes first
        assert "applied   busy → fail · target idle · retry slot 0 try 2 at" in line


async def test_a_narrow_event_line_shows_hostile_text_literally(demo_db: Path, drop: Path) -> None:
    """The narrow layout's parts (what it did first, the file name's end) are plain text too."""
    from tests.test_dashboard_live import HOSTILE

    name = "e\x1b\u202e[b]x[/]\x07.json"
    call = "ee000000-0000-4000-8000-00000000beef"  # no campaigncall of it yet: parked
    events = [
        {"type": "call_hangup", "data": {"id": call, "hangup_reason": HOSTILE}},  # rejected
        {"type": "call_hangup", "data": {"id": call, "hangup_reason": "busy"}},
    ]
    db = connect(demo_db)
    apply_bytes(db, name, json.dumps(events).encode())
    db.conn.close()
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(EventPanel)
        await until(pilot, lambda: panel.last_event_id == 2 and len(on_screen(app)) == 2)
        await until(pilot, lambda: "waiting for its campaigncall · e" in on_screen(app)[1])
        rejected, parked = on_screen(app)
        svg = app.export_screenshot()
    assert r"unknown hangup reason '[bold]x[/] [link=https://e.com]y[/" in rejected
    assert r"· e\x1b\u202e[b]x[/]\x07.js" in parked
    for text in (rejected, parked, svg):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
