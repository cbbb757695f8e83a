"""A name holding bidi controls (U+202E and friends) shows them escaped, in the table, the
detail pane and the detail screen: the terminal never gets one to reorder the line."""

from __future__ import annotations

from pathlib import Path

from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static

from dashboard.app import CampaigncallsApp
from dashboard.screens.detail_screen import DetailScreen
from dashboard.widgets.detail_pane import DetailPane
from store.bundle import load_bundle
from store.db import connect
from tests.helpers import CALL, address, bundle, campaigncall, write_json
from tests.test_dashboard import SIZE, loaded, pane_id, table, until

# "Alice" then RIGHT-TO-LEFT OVERRIDE: a terminal would draw what follows backwards
NAME = "Alice\u202etxt.exe\u2066x\u2069\u200f"
BIDI = "\u202e\u2066\u2069\u200f\u061c"


def drawn(widget: Widget) -> str:
    width, height = widget.outer_size
    return "\n".join(s.text for s in widget.render_lines(Region(0, 0, width, height)))


async def test_bidi_controls_show_escaped_in_the_table_and_the_detail(
    tmp_path: Path, drop: Path
) -> None:
    call = campaigncall()
    call["destination"] = address("+821012345678", name=NAME)
    data = bundle(call)
    data["campaigns"][0]["name"] = "Renewals\u202e"
    path = tmp_path / "bidi.db"
    db = connect(path, create=True)
    load_bundle(db, str(write_json(tmp_path / "b.json", data)))
    db.conn.close()
    app = CampaigncallsApp(path, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        dialing = table(app, "dialing")
        await until(pilot, lambda: loaded(app) and dialing.row_at(0) is not None)
        await until(pilot, lambda: pane_id(app) == CALL)
        await pilot.pause()
        rows = drawn(dialing)
        pane = drawn(app.query_one(DetailPane).query_one(Static))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.pause()
        screen = "\n".join(drawn(w) for w in app.screen.query("Static"))
        svg = app.export_screenshot()
    assert r"Alice\u202etxt.e" in rows and r"Renewals\u202e" in rows
    assert r"Alice\u202etxt.exe\u2066x\u2069\u200f" in pane
    assert r"Alice\u202etxt.exe\u2066x\u2069\u200f" in screen and r"Renewals\u202e" in screen
    for text in (rows, pane, screen, svg):
        assert not any(c in text for c in BIDI)
