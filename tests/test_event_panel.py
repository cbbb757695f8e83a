"""The event panel follows the newest event, through resizes, until the user scrolls up."""

from __future__ import annotations

from pathlib import Path

from textual import events

from dashboard.app import CampaigncallsApp
from dashboard.widgets.event_panel import EventPanel
from store.scenarios import drop_file, load_scenario
from tests.test_dashboard import SIZE, loaded, until

BUSY = load_scenario("busy-retry")
ANSWERED = load_scenario("answered")


def on_screen(app: CampaigncallsApp) -> list[str]:
    """The panel's lines as a person sees them: what is drawn inside its border."""
    panel = app.query_one(EventPanel)
    height = panel.scrollable_content_region.height
    return [panel.render_line(y).text.rstrip() for y in range(height)]


async def test_the_panel_follows_the_tail_after_the_terminal_shrinks(
    demo_db: Path, drop: Path
) -> None:
    app = CampaigncallsApp(demo_db, drop, scenario=BUSY)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(EventPanel)
        await until(pilot, lambda: loaded(app))
        for count in range(1, 5):
            await pilot.press("n")
            await until(pilot, lambda count=count: panel.last_event_id == count)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: panel.scrollable_content_region.height == 2)
        for step in ANSWERED.steps:
            drop_file(step.file, drop)
        await until(pilot, lambda: panel.last_event_id == 7)
        await until(pilot, lambda: "03-hangup-normal.json" in on_screen(app)[-1])
        assert "02-answered.json" in on_screen(app)[0]
        assert "Events 7" in str(panel.border_title)
        # the lines drawn before the resize are drawn again to end in … at the new width
        assert panel.virtual_size.width <= panel.scrollable_content_region.width
        assert not panel.horizontal_scrollbar.display

        # scrolled up, it stays where the user put it while events come
        await pilot.pause()
        panel.post_message(events.MouseScrollUp(panel, 0, 0, 0, 0, 0, False, False, False))
        await until(pilot, lambda: "02-answered.json" not in on_screen(app)[0])
        held = on_screen(app)
        drop_file(BUSY.steps[4].file, drop)
        await until(pilot, lambda: panel.last_event_id == 8)
        await pilot.pause()
        assert on_screen(app) == held

        # back at the bottom, it follows again, and through a resize that makes it taller
        panel.scroll_end(animate=False, immediate=True)
        await until(pilot, lambda: BUSY.steps[4].file.name in on_screen(app)[-1])
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: panel.scrollable_content_region.height > 2)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: panel.scrollable_content_region.height == 2)
        await pilot.pause()
        assert BUSY.steps[4].file.name in on_screen(app)[-1]
