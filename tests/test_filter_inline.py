"""The filter typed on the main screen: the tables follow each key, Enter keeps it, Esc clears
it, and no key typed in a burst after / is lost; the real app on the demo data."""

from __future__ import annotations

from pathlib import Path

from textual import events

from dashboard.app import CampaigncallsApp
from dashboard.screens.detail_screen import DetailScreen
from dashboard.widgets.filter_bar import FilterBar, FilterInput
from dashboard.widgets.status_table import StatusTable
from store.queries import Filter, Queries
from tests.test_dashboard import SIZE, loaded, pane_id, table, until
from tests.test_filter_focus import a_done_call


def expected_totals(db_path: Path, text: str) -> dict[str, int]:
    queries = Queries(db_path)
    try:
        flt = Filter(None, text)
        return {s: queries.count_in_status(s, flt) for s in ("dialing", "progressing", "done")}
    finally:
        queries.close()


def showing(app: CampaigncallsApp, text: str) -> bool:
    """Every table shows the rows of `text`, fetched and drawn."""
    return all(
        t.shown_flt.text == text and t.flt.text == text and not t.filtering and t.loaded
        for t in app.query(StatusTable)
    )


def totals(app: CampaigncallsApp) -> dict[str, int]:
    return {t.status: t.total for t in app.tables}


def bar(app: CampaigncallsApp) -> FilterBar:
    return app.query_one(FilterBar)


async def test_the_tables_follow_the_filter_as_it_is_typed(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        assert not bar(app).display  # no filter, nothing typed: the bar takes no room
        await pilot.press("slash")
        assert bar(app).display and isinstance(app.focused, FilterInput)
        await pilot.press(*"jos")
        await until(pilot, lambda: showing(app, "jos"))  # no Enter pressed
        assert totals(app) == expected_totals(demo_db, "jos")
        assert "filter: jos" in str(table(app, "done").border_title)
        assert isinstance(app.focused, FilterInput) and app.screen is app.screen_stack[0]
        await pilot.press("é")
        await until(pilot, lambda: showing(app, "josé"))
        narrower = expected_totals(demo_db, "josé")
        assert totals(app) == narrower and narrower["done"] > 0
        await pilot.press("backspace", "backspace")
        await until(pilot, lambda: showing(app, "jo"))  # under three letters: read from rows
        assert totals(app) == expected_totals(demo_db, "jo")
        assert isinstance(app.focused, FilterInput)


async def test_enter_keeps_the_filter_and_esc_clears_it(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        before = totals(app)
        dialing = table(app, "dialing")
        await pilot.press("slash", *"müller", "enter")
        assert app.focused is dialing  # at once: a key after Enter goes to the table
        await until(pilot, lambda: showing(app, "müller"))
        assert app.flt.text == "müller" and bar(app).display  # kept, and shown in the bar
        assert bar(app).input.value == "müller"

        # / again: the text is there to be edited, the cursor at its end
        await pilot.press("slash")
        assert isinstance(app.focused, FilterInput)
        assert bar(app).input.cursor_position == len("müller")
        await pilot.press("backspace", "backspace", "backspace")
        await until(pilot, lambda: showing(app, "mül"))
        await pilot.press("escape")
        assert app.focused is dialing
        await until(pilot, lambda: app.flt.text == "" and totals(app) == before)
        assert not bar(app).display and bar(app).input.value == ""
        assert "filter" not in str(table(app, "done").border_title)

        # Esc on a table clears a kept filter too
        await pilot.press("slash", *"josé", "enter")
        await until(pilot, lambda: showing(app, "josé"))
        await pilot.press("escape")
        await until(pilot, lambda: app.flt.text == "" and totals(app) == before)
        assert not bar(app).display and bar(app).input.value == ""


async def test_keys_typed_at_once_after_slash_are_all_kept(demo_db: Path, drop: Path) -> None:
    """tmux send-keys "/41bf3ae8" Enter: the keys arrive together, as the driver posts them."""
    ident = a_done_call(demo_db)
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        keys = [events.Key("slash", "/")] + [events.Key(c, c) for c in ident[:8]]
        for key in [*keys, events.Key("enter", "\r")]:
            app.post_message(key)  # all queued before the first is handled
        done = table(app, "done")
        await until(pilot, lambda: showing(app, ident[:8]) and done.total == 1)
        assert app.flt.text == ident[:8] and bar(app).input.value == ident[:8]
        assert not isinstance(app.screen, DetailScreen)  # the Enter did not reach a table
        await until(pilot, lambda: app.focused is done)  # the only group with a match
        await until(pilot, lambda: pane_id(app) == ident)


async def test_keys_pressed_by_pilot_after_slash_are_all_kept(demo_db: Path, drop: Path) -> None:
    ident = a_done_call(demo_db)
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("slash", *ident[:8], "enter")
        await until(pilot, lambda: showing(app, ident[:8]))
        assert app.flt.text == ident[:8] and table(app, "done").total == 1
        assert not isinstance(app.screen, DetailScreen)


async def test_typing_picks_the_group_enter_lands_on(demo_db: Path, drop: Path) -> None:
    """While the input has the focus it keeps it; the group with matches is where Enter goes."""
    ident = a_done_call(demo_db)
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        done = table(app, "done")
        assert app.focused is table(app, "dialing")
        await pilot.press("slash", *ident[:8])
        await until(pilot, lambda: showing(app, ident[:8]))
        assert isinstance(app.focused, FilterInput)  # typing goes on where it was
        assert app.active_table is done
        await pilot.press("enter")
        assert app.focused is done


async def test_a_slash_inside_the_filter_is_a_character(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("slash", *"a/b")
        await until(pilot, lambda: showing(app, "a/b"))
        assert bar(app).input.value == "a/b" and isinstance(app.focused, FilterInput)


async def test_a_filter_of_markup_is_shown_as_typed(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("slash", *"[bold]VIP[/]")
        await until(pilot, lambda: showing(app, "[bold]VIP[/]"))
        assert table(app, "dialing").total > 0  # a name in the demo holds that very text
        title = str(table(app, "dialing").border_title)
        assert r"filter: \[bold]VIP\[/]" in title  # escaped for the border, shown literally
        assert bar(app).input.value == "[bold]VIP[/]"


async def test_typing_while_paused_holds_the_tables(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        before = totals(app)
        await pilot.press("p", "slash", *"josé")
        await pilot.pause(0.3)
        assert totals(app) == before and app.flt.text == "josé"
        assert sum("new filter" in n.message for n in app._notifications) == 0  # not per key
        await pilot.press("enter")
        await until(pilot, lambda: any("new filter" in n.message for n in app._notifications))
        await pilot.press("p")
        await until(pilot, lambda: showing(app, "josé"))
        assert totals(app) == expected_totals(demo_db, "josé")
