"""A filter whose matches are all in other groups moves the focus to the first group that has
one; the real app on the demo data."""

from __future__ import annotations

from pathlib import Path

from dashboard.app import CampaigncallsApp
from store.queries import Queries
from tests.test_dashboard import SIZE, loaded, pane_id, table, until


def a_done_call(demo_db: Path) -> str:
    queries = Queries(demo_db)
    try:
        return queries.rows_in_status("done", 0, 1)[0].id
    finally:
        queries.close()


async def test_the_filter_moves_the_focus_off_an_empty_group(demo_db: Path, drop: Path) -> None:
    ident = a_done_call(demo_db)
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        dialing, done = table(app, "dialing"), table(app, "done")
        assert app.focused is dialing
        await pilot.press("slash", *ident[:8], "enter")  # matches one done call only
        await until(pilot, lambda: done.loaded and not done.filtering and done.total == 1)
        assert dialing.total == 0 and table(app, "progressing").total == 0
        await until(pilot, lambda: app.focused is done)
        assert app.active_table is done
        await until(pilot, lambda: pane_id(app) == ident)

        # a later refresh does not pull the focus back and forth: the user may go where they like
        await pilot.press("tab")
        await until(pilot, lambda: app.focused is dialing)
        app.request_refresh()
        count = app.refresh_count
        await until(pilot, lambda: app.refresh_count > count and not app.refresh_pending)
        assert app.focused is dialing


async def test_a_group_with_matches_keeps_the_focus(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        progressing = table(app, "progressing")
        progressing.focus()
        await until(pilot, lambda: app.active_table is progressing)
        await pilot.press("slash", *"+49", "enter")  # numbers in every group
        await until(pilot, lambda: not app.refresh_pending and progressing.flt.text == "+49")
        await until(pilot, lambda: progressing.loaded and not progressing.filtering)
        assert progressing.total > 0 and table(app, "dialing").total > 0
        await pilot.pause()
        assert app.focused is progressing
