"""Child process: start the dashboard (or a bare Textual app) headless, time the first full
screen from the parent's spawn, then key presses to repaint; prints one JSON line."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SIZE = (160, 50)
# A common name (many thousands of hits at a million rows); the rare text (a phone number,
# as an on-call engineer would look one up) is picked from the database by the parent.
COMMON_TEXT = "müller"
FILTER_RUNS = 20
# Between two keys of a filter typed at a person's pace (about 80 words a minute): each key
# updates the tables, as the bar reports a key after a pause at once.
KEY_GAP_S = 0.15
END_RUNS = 7


async def _keys(
    pilot: Any, probe: Any, table: Any, loaded: Any, a_change: Any = None
) -> dict[str, float]:
    """Milliseconds from each key press to the first frame showing its result; `a_change`, a
    change committed and read before each End (a live screen's refreshes renew its rows)."""

    async def press(key: str, condition: Any) -> float:
        await pilot.pause(0.2)
        started = time.monotonic()
        future = asyncio.ensure_future(probe.until(condition, timeout=60))
        await pilot.press(key)
        return (await future - started) * 1000

    timings: dict[str, float] = {}

    # each key END_RUNS times, the median: one press is one noisy sample (the first, right
    # after opening, once took 40 ms beside 5 to 8 for the next eleven)
    def at(row: int) -> Any:
        return lambda: table.cursor == row and loaded(table)

    downs = [await press("down", at(table.cursor + 1)) for _ in range(END_RUNS)]
    timings["down"] = statistics.median(downs)
    pages = [
        await press("pagedown", at(min(table.total - 1, table.cursor + table.rows_in_view)))
        for _ in range(END_RUNS)
    ]
    timings["page down"] = statistics.median(pages)
    # End from the top, END_RUNS times: the median, as one press is noisy. Before each, Home
    # and a refresh (as a change on a live screen brings), so that no End finds the rows the
    # one before it read
    ends = []
    for _ in range(END_RUNS):
        ends.append(await press("end", lambda: table.cursor == table.total - 1 and loaded(table)))
        await press("home", lambda: table.cursor == 0 and loaded(table))
        if a_change is not None:
            await a_change()
    timings["end"] = statistics.median(ends)
    return timings


async def _filter(
    app: Any, pilot: Any, probe: Any, text: str, expected: dict[str, int]
) -> list[float]:
    """Milliseconds from the last key of `text`, typed into the main screen's filter at a
    person's pace, to the first frame with every table's filtered count and rows; FILTER_RUNS
    times, each typed as a new filter (its hits looked up afresh)."""
    from bench._probe import full_screen
    from dashboard.widgets.status_table import StatusTable

    def filtered() -> bool:
        if app.screen is not app.screen_stack[0] or not full_screen(app):
            return False
        return all(
            t.shown_flt.text == text and not t.filtering and t.total == expected[t.status]
            for t in app.query(StatusTable)
        )

    def cleared() -> bool:
        return not app.flt.text and not app.refresh_pending and full_screen(app)

    samples = []
    for _ in range(FILTER_RUNS):
        app.filter_queries.forget_filter_hits()
        await pilot.press("slash")
        for key in text[:-1]:
            await pilot.press(key)
            await asyncio.sleep(KEY_GAP_S)
        started = time.monotonic()
        future = asyncio.ensure_future(probe.until(filtered, timeout=120))
        await pilot.press(text[-1])
        samples.append((await future - started) * 1000)
        await pilot.press("escape")
        await probe.until(cleared, timeout=120)
        await pilot.pause(0.2)
    return samples


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

        async def a_change() -> None:
            count = app.refresh_count
            app.main.data_changed()
            await probe.until(lambda: app.refresh_count > count and not app.refresh_pending, 60)

        result.update(
            await _keys(pilot, probe, done, lambda t: rows_in_view(t) is not None, a_change)
        )
        for text in texts:
            queries = Queries(db_path)
            flt = Filter(None, text)
            statuses = ("dialing", "progressing", "done")
            expected = {s: queries.count_in_status(s, flt) for s in statuses}  # type: ignore[arg-type]
            queries.close()
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
            Binding("home", "move(-10000000000)"),
        ]
        cursor = 0
        total = rows
        rows_in_view = SIZE[1] - 2
        painted = False

        def on_mount(self) -> None:
            self.virtual_size = Size(SIZE[0], rows)

        def action_move(self, step: int) -> None:
            self.cursor = max(0, min(rows - 1, self.cursor + step))
            if self.cursor >= self.scroll_y + self.rows_in_view:
                self.scroll_to(y=self.cursor - self.rows_in_view + 1, animate=False, immediate=True)
            elif self.cursor < self.scroll_y:
                self.scroll_to(y=self.cursor, animate=False, immediate=True)
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
