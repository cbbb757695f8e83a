"""Child process: start the dashboard (or a bare Textual app) headless, time the first full
screen from the parent's spawn, then key presses to repaint; prints one JSON line."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

SIZE = (160, 50)
# A common name (many thousands of hits at a million rows); the rare text (a phone number,
# as an on-call engineer would look one up) is picked from the database by the parent.
COMMON_TEXT = "müller"


async def _keys(pilot: Any, probe: Any, table: Any, loaded: Any) -> dict[str, float]:
    """Milliseconds from each key press to the first frame showing its result."""

    async def press(key: str, condition: Any) -> float:
        await pilot.pause(0.2)
        started = time.monotonic()
        future = asyncio.ensure_future(probe.until(condition, timeout=60))
        await pilot.press(key)
        return (await future - started) * 1000

    timings: dict[str, float] = {}
    start = table.cursor
    timings["down"] = await press("down", lambda: table.cursor == start + 1 and loaded(table))
    start = table.cursor
    page = min(table.total - 1, start + table.rows_in_view)
    timings["page down"] = await press("pagedown", lambda: table.cursor == page and loaded(table))
    timings["end"] = await press("end", lambda: table.cursor == table.total - 1 and loaded(table))
    return timings


async def _filter(app: Any, pilot: Any, probe: Any, text: str, expected: dict[str, int]) -> float:
    from bench._probe import full_screen
    from dashboard.widgets.status_table import StatusTable

    await pilot.press("slash")
    await pilot.pause(0.2)
    await pilot.press(*text)
    await pilot.pause(0.2)

    def filtered() -> bool:
        if app.screen is not app.screen_stack[0] or not full_screen(app):
            return False
        return all(
            t.flt.text == text and t.total == expected[t.status] for t in app.query(StatusTable)
        )

    started = time.monotonic()
    future = asyncio.ensure_future(probe.until(filtered, timeout=120))
    await pilot.press("enter")
    return (await future - started) * 1000


async def run_app(
    spawned: float, db_path: Path, drop_dir: Path, texts: list[str]
) -> dict[str, Any]:
    from bench._probe import ScreenProbe, full_screen, rows_in_view
    from dashboard.app import CampaigncallsApp
    from dashboard.widgets.status_table import StatusTable
    from store.queries import Filter, Queries

    app = CampaigncallsApp(db_path, drop_dir)
    probe = ScreenProbe(app)
    first = asyncio.ensure_future(probe.until(lambda: full_screen(app), timeout=120))
    result: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        result["open_s"] = await first - spawned
        done = app.query_one("#table-done", StatusTable)
        done.focus()
        result["rows"] = done.total
        result.update(await _keys(pilot, probe, done, lambda t: rows_in_view(t) is not None))
        for text in texts:
            queries = Queries(db_path)
            flt = Filter(None, text)
            statuses = ("dialing", "progressing", "done")
            expected = {s: queries.count_in_status(s, flt) for s in statuses}  # type: ignore[arg-type]
            queries.close()
            if app.query_one("#table-done", StatusTable).flt.text:
                await pilot.press("escape")  # the last filter cleared
                await pilot.pause(0.3)
            result[f"filter:{text}"] = await _filter(app, pilot, probe, text, expected)
            result[f"filter_rows:{text}"] = sum(expected.values())
    return result


async def run_bare(spawned: float, rows: int) -> dict[str, Any]:
    """The floor: a bare Textual app whose ScrollView renders lines from a list in memory."""
    from rich.segment import Segment
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.geometry import Size
    from textual.scroll_view import ScrollView
    from textual.strip import Strip

    from bench._probe import ScreenProbe

    class Lines(ScrollView, can_focus=True):
        BINDINGS = [
            Binding("down", "move(1)"),
            Binding("pagedown", f"move({SIZE[1] - 2})"),
            Binding("end", "move(10000000000)"),
        ]
        cursor = 0
        total = rows
        rows_in_view = SIZE[1] - 2
        painted = False

        def on_mount(self) -> None:
            self.virtual_size = Size(SIZE[0], rows)

        def action_move(self, step: int) -> None:
            self.cursor = min(rows - 1, self.cursor + step)
            if self.cursor >= self.scroll_y + self.rows_in_view:
                self.scroll_to(y=self.cursor - self.rows_in_view + 1, animate=False, immediate=True)
            self.refresh()

        def render_line(self, y: int) -> Strip:
            self.painted = True
            index = int(self.scroll_y) + y
            mark = ">" if index == self.cursor else " "
            return Strip([Segment(f"{mark} row {index:>10,}  " + "x" * 100)])

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Lines()

    app = Bare()
    probe = ScreenProbe(app)
    lines: list[Lines] = []

    def ready() -> bool:
        found = list(app.query(Lines))
        lines[:] = found
        return bool(found) and found[0].painted

    first = asyncio.ensure_future(probe.until(ready, timeout=60))
    result: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        result["open_s"] = await first - spawned
        table = lines[0]
        table.focus()
        result["rows"] = rows
        result.update(await _keys(pilot, probe, table, lambda t: True))
    return result


def main() -> None:
    spawned = float(sys.argv[1])
    mode = sys.argv[2]
    if mode == "app":
        texts = sys.argv[5:]
        result = asyncio.run(run_app(spawned, Path(sys.argv[3]), Path(sys.argv[4]), texts))
    else:
        result = asyncio.run(run_bare(spawned, int(sys.argv[3])))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
