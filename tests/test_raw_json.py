"""`r` in the detail screen shows the real JSON (long values whole, wrapped, hidden characters
escaped) and scrolls to it; the real app on a real database file."""

from __future__ import annotations

import json
from pathlib import Path

from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widgets import Static

from dashboard.app import CampaigncallsApp
from dashboard.screens.detail_screen import DetailScreen
from store.apply import apply_bytes
from store.bundle import load_bundle
from store.db import connect
from store.queries import Queries
from tests.helpers import CALL, REF, address, bundle, campaigncall, hangup, write_json
from tests.test_dashboard import loaded, table, until

LONG_NAME = "José " + "x" * 3000 + " END-OF-NAME \u202e\x1b[31m"
LONG_NOTE = "y" * 5000 + " END-OF-NOTE"


def long_valued_db(tmp_path: Path) -> Path:
    call = campaigncall()
    call["destination"] = address("+821012345678", name=LONG_NAME)
    path = tmp_path / "long.db"
    db = connect(path, create=True)
    load_bundle(db, str(write_json(tmp_path / "b.json", bundle(call))))
    event = hangup(REF, "busy", note=LONG_NOTE)
    apply_bytes(db, "01-busy.json", json.dumps(event).encode())
    db.conn.close()
    return path


def blocks(raw: Static) -> list[str]:
    """The raw view's JSON blocks: the campaigncall first, then each event."""
    text = str(raw.render())
    parts = text.split("\n\nevent ")
    first = parts[0].split("\n", 1)[1]
    return [first, *(part.split("\n", 1)[1] for part in parts[1:])]


async def test_r_shows_the_real_json_whole_and_scrolls_to_it(tmp_path: Path, drop: Path) -> None:
    path = long_valued_db(tmp_path)
    queries = Queries(path)
    stored = queries.detail(CALL)
    queries.close()
    assert stored is not None
    app = CampaigncallsApp(path, drop, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        done = table(app, "done")
        await until(pilot, lambda: loaded(app) and done.row_at(0) is not None)
        done.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        screen = app.screen
        scroll = screen.query_one(VerticalScroll)
        raw = screen.query_one("#raw", Static)
        assert not raw.display and scroll.scroll_y == 0
        await pilot.press("r")
        # the view moves to the raw JSON: its first line at the top
        await until(pilot, lambda: raw.display and scroll.scroll_y > 0)
        await until(pilot, lambda: abs(scroll.scroll_y - raw.virtual_region.y) <= 1)

        record, event = blocks(raw)
        # real JSON: it reads back as the record stored (hidden characters as JSON escapes)
        assert json.loads(record) == stored.campaigncall
        assert json.loads(record)["destination"]["name"] == LONG_NAME
        assert json.loads(event)["data"]["note"] == LONG_NOTE
        text = str(raw.render())
        assert "\x1b" not in text and "\u202e" not in text and r"\u202e" in text
        # wrapped, not cut: every character is drawn, on lines as wide as the screen
        width, height = raw.outer_size
        drawn = [s.text for s in raw.render_lines(Region(0, 0, width, height))]
        assert all(len(line.rstrip()) <= width for line in drawn)
        on_screen = "".join(line.rstrip() for line in drawn)
        assert "END-OF-NAME" in on_screen and "END-OF-NOTE" in on_screen
        assert on_screen.count("x") >= 3000 and on_screen.count("y") >= 5000

        # off and on again: back to where the raw JSON starts
        await pilot.press("r")
        await until(pilot, lambda: not raw.display)
        scroll.scroll_home(animate=False)
        await until(pilot, lambda: scroll.scroll_y == 0)
        await pilot.press("r")
        await until(pilot, lambda: abs(scroll.scroll_y - raw.virtual_region.y) <= 1)
        assert scroll.scroll_y > 0


async def test_r_on_a_narrow_screen_opens_the_detail_at_the_raw_json(
    tmp_path: Path, drop: Path
) -> None:
    app = CampaigncallsApp(long_valued_db(tmp_path), drop, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        done = table(app, "done")
        await until(pilot, lambda: loaded(app) and done.row_at(0) is not None)
        done.focus()
        await pilot.press("r")  # no pane at 80 columns: the detail screen opens, at the JSON
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        scroll = app.screen.query_one(VerticalScroll)
        raw = app.screen.query_one("#raw", Static)
        await until(pilot, lambda: raw.display and scroll.scroll_y > 0)
        await until(pilot, lambda: abs(scroll.scroll_y - raw.virtual_region.y) <= 1)


def test_only_a_hostile_size_ends_a_block_early(tmp_path: Path) -> None:
    from dashboard.render import RAW_BLOCK_CHARS, raw_json_rich

    path = long_valued_db(tmp_path)
    queries = Queries(path)
    detail = queries.detail(CALL)
    queries.close()
    assert detail is not None
    assert "more characters" not in str(raw_json_rich(detail))
    huge = {**detail.campaigncall, "destination": {"name": "z" * (2 * RAW_BLOCK_CHARS)}}
    text = str(raw_json_rich(type(detail)(**{**detail.__dict__, "campaigncall": huge})))
    assert len(text) < 2 * RAW_BLOCK_CHARS
    assert "more characters: campaigncalls show --db PATH" in text
