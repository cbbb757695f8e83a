"""The campaign overview (`o`): one row per campaign, live, with the highlighted campaign's
attempts per minute and hangup reasons below; Enter shows that campaign on the main screen."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Sparkline, Static
from textual.worker import get_current_worker

from dashboard.screens.painted import PaintTimedScreen
from dashboard.widgets.header import CAMPAIGN_STATUS_STYLES
from store.db import is_busy_error
from store.overview import SPARK_MINUTES, UNKNOWN_REASON, CampaignOverview, Overview
from store.queries import Queries, data_changes
from store.text import visible

# The clock moves the last hour on even when nothing is written: read again this often.
CLOCK_REFRESH_S = 5.0
BUSY_RETRY_S = 1.0
NAME_CHARS = 32  # a campaign's name in the table, cut after this many characters
SPARK_CHARS = 20  # the table's sparkline: the last hour in 3-minute steps
BAR_CHARS = 32
BLOCKS = " ▁▂▃▄▅▆▇█"
REASON_STYLES = {"normal": "green", "flow ended": "green", UNKNOWN_REASON: "dim"}
COLUMNS = (
    ("campaign", "Campaign"),
    ("status", "Status"),
    ("untried", "Not tried"),
    ("progressing", "In progress"),
    ("retrying", "Retry due"),
    ("exhausted", "Exhausted"),
    ("done", "Done"),
    ("success", "Success"),
    ("hour", "Last hour"),
    ("forecast", "Forecast"),
)


# On a narrow screen the columns give way in this order of worth, the last first: the
# campaign and its status always stay; the box below the table tells the rest of the
# highlighted campaign.
WORTH = ("campaign", "status", "forecast", "success", "untried", "done", "exhausted",
         "retrying", "progressing", "hour")  # fmt: skip
CELL_PADDING = 2  # DataTable's one cell of padding on either side of a column
SCROLLBAR = 2


def columns_that_fit(width: int, rows: list[list[Text]]) -> list[int]:
    """The columns shown in `width` cells (indexes into COLUMNS, in their order): in order of
    worth, each as wide as its label or widest cell, until one does not fit."""
    keys = [key for key, _label in COLUMNS]
    room = width - SCROLLBAR
    shown: list[int] = []
    for key in WORTH:
        index = keys.index(key)
        cells = [Text(COLUMNS[index][1]), *(row[index] for row in rows)]
        need = max(cell.cell_len for cell in cells) + CELL_PADDING
        if len(shown) >= 2 and need > room:
            break
        room -= need
        shown.append(index)
    return sorted(shown)


def spark_text(values: list[int], width: int = SPARK_CHARS) -> Text:
    """Unicode blocks, one per equal share of `values`, scaled to the largest share."""
    step = max(1, len(values) // width)
    sums = [sum(values[i : i + step]) for i in range(0, len(values), step)]
    top = max(sums, default=0)
    if top == 0:
        return Text("·" * len(sums), "dim")
    blocks = "".join(BLOCKS[0 if n == 0 else max(1, round(n / top * 8))] for n in sums)
    return Text(blocks, "cyan")


def rate_text(line: CampaignOverview) -> Text:
    rate = line.success_rate
    if rate is None:
        return Text("–", "dim")
    return Text(f"{rate:.0%}")


def count_text(n: int, style: str = "") -> Text:
    return Text(f"{n:,}", style if n else "dim")


def row_cells(line: CampaignOverview) -> list[Text]:
    """A campaign's cells, record data as plain text (never markup)."""
    name = visible(line.name)
    if len(name) > NAME_CHARS:
        name = name[: NAME_CHARS - 1] + "…"
    states = line.targets
    return [
        Text(name),
        Text(visible(line.status), CAMPAIGN_STATUS_STYLES.get(line.status, "dim")),
        count_text(states.untried),
        count_text(states.progressing, "yellow"),
        count_text(states.retrying + states.unknown, "cyan"),
        count_text(states.exhausted, "red"),
        count_text(states.done, "green"),
        rate_text(line),
        spark_text(line.attempts),
        Text(line.forecast.removesuffix(" at the last 15 minutes' pace")),
    ]


def reason_bars(line: CampaignOverview, width: int = BAR_CHARS) -> Text:
    """Each hangup reason with a bar and its count, most first."""
    text = Text()
    if not line.reasons:
        text.append("No campaigncall is done yet.", "dim")
        return text
    top = max(n for _reason, n in line.reasons)
    label_width = max(len(reason) for reason, _n in line.reasons)
    for number, (reason, n) in enumerate(line.reasons):
        if number:
            text.append("\n")
        style = REASON_STYLES.get(reason, "red")
        filled = max(1, round(n / top * width))
        text.append(f"{reason:<{label_width}} ", "bold" if reason != UNKNOWN_REASON else "dim")
        text.append("█" * filled, style)
        text.append("░" * (width - filled), "dim")
        text.append(f" {n:,}")
        if line.done:
            text.append(f" ({n / line.done:.0%})", "dim")
    return text


def attempts_label(line: CampaignOverview, now: str) -> Text:
    total = line.attempts_last_hour
    text = Text()
    text.append("Attempts per minute, last hour", "bold")
    text.append(f" to {now[11:16]} UTC: {total:,}", "")
    if total:
        text.append(f" (peak {max(line.attempts):,}/min)", "dim")
    return text


def detail_title(line: CampaignOverview) -> Text:
    text = Text()
    text.append(visible(line.name), "bold")
    text.append("  ")
    text.append(visible(line.status), CAMPAIGN_STATUS_STYLES.get(line.status, "dim"))
    states = line.targets
    text.append(f"  ·  {states.total:,} targets, {states.left:,} left", "")
    if states.unknown:
        text.append(f" ({states.unknown:,} with no retry plan known)", "dim")
    text.append(f"  ·  {line.done:,} calls done, ")
    text.append(f"{line.success:,} success", "green")
    text.append("  ·  ")
    text.append(line.forecast, "bold")
    return text


class CampaignTable(DataTable[Text]):
    """The campaigns' table: its column widths are measured as its rows are set, not on the
    next idle (DataTable's way), so that the screen's first frame is also its settled one."""

    def settle(self) -> None:
        # DataTable measures new rows in its _on_idle: a frame with label-wide columns, then a
        # second layout. The same measuring, done now (skipped if a Textual release renames
        # it: the idle pass still comes).
        new_rows = getattr(self, "_new_rows", None)
        if getattr(self, "_require_update_dimensions", False) and isinstance(new_rows, set):
            self._require_update_dimensions = False
            rows = new_rows.copy()
            new_rows.clear()
            self._update_dimensions(rows)


class OverviewScreen(PaintTimedScreen[str | None]):
    """Every campaign at a glance; dismisses with the campaign chosen by Enter, or None."""

    BINDINGS: list[BindingType] = [
        Binding("escape,q", "dismiss(None)", "Back", tooltip="Back to the campaigncalls"),
        Binding("enter", "choose", "Show campaign", tooltip="Show this campaign's campaigncalls"),
    ]

    DEFAULT_CSS = """
    OverviewScreen #overview-title { height: 1; padding: 0 1; background: $panel; }
    OverviewScreen DataTable { height: auto; max-height: 70%; min-height: 4; }
    OverviewScreen #overview-detail { height: auto; max-height: 60%; border: round $accent;
        padding: 0 1; }
    OverviewScreen #overview-campaign { height: auto; }
    OverviewScreen #overview-detail > Horizontal { height: auto; }
    OverviewScreen #overview-attempts-box { width: 1fr; height: auto; margin-right: 2; }
    OverviewScreen #overview-attempts { height: auto; }  /* wraps on a narrow screen, never cut */
    OverviewScreen Sparkline { height: 4; margin-top: 1; }
    OverviewScreen Sparkline > .sparkline--max-color { color: $accent; }
    OverviewScreen #overview-reasons { width: auto; max-width: 60%; height: auto; }
    """

    def __init__(
        self,
        db_path: Path,
        clock: Callable[[], datetime] | None = None,
        paused: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__()
        self.db_path = db_path
        self.clock = clock or (lambda: datetime.now(UTC))
        self.paused = paused or (lambda: False)  # the screen is held still (p): read nothing
        self.overview: Overview | None = None
        self.painted = 0  # frames painted with fetched data (benchmarks and tests wait on it)
        self.painted_at = 0.0  # time.monotonic() of the last of them
        self._queries: Queries | None = None
        self._changes: Queries | None = None
        self._fetching = False
        self._fetch_again = False
        self._columns = list(range(len(COLUMNS)))  # those in the table (all, until data comes)

    def compose(self) -> ComposeResult:
        yield Static(Text("Campaign overview", "bold"), id="overview-title")
        table = CampaignTable(cursor_type="row", zebra_stripes=True, id="campaigns")
        for key, label in COLUMNS:
            table.add_column(Text(label, "bold"), key=key)
        yield table
        with Vertical(id="overview-detail"):
            yield Static(id="overview-campaign")
            with Horizontal():
                with Vertical(id="overview-attempts-box"):
                    yield Static(id="overview-attempts")
                    yield Sparkline([0] * SPARK_MINUTES, summary_function=max)
                yield Static(id="overview-reasons")

    def on_mount(self) -> None:
        self._queries = Queries(self.db_path)
        self._changes = Queries(self.db_path)
        self.query_one(DataTable).focus()
        self.set_interval(CLOCK_REFRESH_S, self.request_fetch)

    def on_screen_resume(self) -> None:
        """Shown (again: the app keeps this screen installed, so it is composed once)."""
        self._show_first()
        self._follow_changes()

    def on_screen_suspend(self) -> None:
        self.workers.cancel_group(self, "overview-changes")

    def on_unmount(self) -> None:
        self.workers.cancel_node(self)
        for queries in (self._queries, self._changes):
            if queries is not None:
                queries.interrupt()
                queries.close()

    @work(exclusive=True, group="overview-changes")
    async def _follow_changes(self) -> None:
        assert self._changes is not None
        async for _version in data_changes(self._changes):
            self.request_fetch()

    def _show_first(self) -> None:
        """The first read is done here, before the screen's first frame (a few ms at a million
        campaigncalls): the screen is laid out and painted once, with its data."""
        assert self._queries is not None
        try:
            overview = self._queries.overview(self.clock())
        except sqlite3.OperationalError as error:
            if not is_busy_error(error):
                raise
            self.request_fetch()  # a locked file: the worker tries, and says so if it must
            return
        self._show(overview)

    # ---- fetching: one at a time, changes meanwhile folded into one more ---------------------

    def request_fetch(self) -> None:
        if not self.is_current or self.paused():
            return  # hidden, or held still (p): the next showing, or the clock, catches up
        if self._fetching:
            self._fetch_again = True
            return
        self._fetching = True
        self._fetch_again = False
        self._fetch(self.clock())

    @work(thread=True, exclusive=True, group="overview")
    def _fetch(self, now: datetime) -> None:
        assert self._queries is not None
        try:
            overview = self._queries.overview(now)
        except sqlite3.OperationalError as error:
            if get_current_worker().is_cancelled:
                return
            if not is_busy_error(error):
                raise
            self.app.call_from_thread(self._fetch_failed)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, overview)

    def _fetch_failed(self) -> None:
        self._fetching = False
        self.set_timer(BUSY_RETRY_S, self.request_fetch)

    def _show(self, overview: Overview) -> None:
        if not (self.app.is_running and self.is_attached):
            return  # closing: the widgets may be gone before this screen's workers are
        self.overview = overview
        with self.app.batch_update():
            self._show_table(overview)
            self._show_highlighted()
            count = len(overview.campaigns)
            title = Text("Campaign overview", "bold")
            title.append(f"  ·  {count:,} campaign{'s' if count != 1 else ''}", "")
            title.append("  ·  Enter shows a campaign's calls · Esc goes back · ? help", "dim")
            self.query_one("#overview-title", Static).update(title)
        self.paint_pending("overview")
        self._fetching = False
        if self._fetch_again:
            self.request_fetch()

    def frame_painted(self, kind: str) -> None:
        self.painted += 1
        self.painted_at = time.monotonic()

    def _show_table(self, overview: Overview) -> None:
        """Rows keyed by campaign: only changed cells are written, the cursor keeps its row;
        the columns that fit the screen's width (a new set when it changes)."""
        table = self.query_one(CampaignTable)
        keys = [line.id for line in overview.campaigns]
        cells = [row_cells(line) for line in overview.campaigns]
        columns = columns_that_fit(self.size.width or self.app.size.width, cells)
        rows = [[row[index] for index in columns] for row in cells]
        shown = [row.key.value for row in table.ordered_rows]
        if keys == shown and columns == self._columns:
            for number, row in enumerate(rows):
                for column, value in enumerate(row):
                    if table.get_cell_at(Coordinate(number, column)) != value:
                        table.update_cell_at(Coordinate(number, column), value)
            return
        chosen = shown[table.cursor_row] if 0 <= table.cursor_row < len(shown) else None
        table.clear(columns=columns != self._columns)
        if columns != self._columns:
            self._columns = columns
            for index in columns:
                key, label = COLUMNS[index]
                table.add_column(Text(label, "bold"), key=key)
        for key, row in zip(keys, rows, strict=True):
            table.add_row(*row, key=key)
        table.settle()
        if chosen in keys:
            table.move_cursor(row=keys.index(chosen))

    def on_resize(self) -> None:
        if self.overview is not None:
            self._show_table(self.overview)

    def highlighted(self) -> CampaignOverview | None:
        table: DataTable[Text] = self.query_one(DataTable)
        if self.overview is None or not self.overview.campaigns:
            return None
        row = min(max(table.cursor_row, 0), len(self.overview.campaigns) - 1)
        return self.overview.campaigns[row]

    @on(DataTable.RowHighlighted)
    def _show_highlighted(self) -> None:
        line = self.highlighted()
        campaign = self.query_one("#overview-campaign", Static)
        if line is None or self.overview is None:
            campaign.update(Text("No campaign yet: load or sync one.", "dim"))
            return
        campaign.update(detail_title(line))
        self.query_one("#overview-attempts", Static).update(attempts_label(line, self.overview.now))
        self.query_one(Sparkline).data = [float(n) for n in line.attempts]
        self.query_one("#overview-reasons", Static).update(reason_bars(line))

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        line = self.highlighted()
        if line is not None:
            self.dismiss(line.id)
