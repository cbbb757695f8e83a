"""One status group as a windowed table: only the rows in view are fetched and rendered."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.worker import get_current_worker

from dashboard.data import TableData, TableState, page_of, read_page, row_in_pages
from dashboard.render import age_text, short_id
from store import timefmt
from store.models import CampaigncallStatus
from store.queries import (
    FILTER_COUNT_CAP,
    NO_FILTER,
    CampaigncallRow,
    Counts,
    Filter,
    Queries,
)
from store.text import visible

# A filter that takes longer than this says "filtering…" in the titles; a quicker one repaints
# the tables once, when its rows come, not also to say it is on its way.
FILTERING_SHOWN_AFTER_S = 0.15
MAX_PAGES = 32  # the cache of fetched windows: at most 2,048 rows per table

STATUS_TITLES: dict[CampaigncallStatus, str] = {
    "dialing": "Dialing",
    "progressing": "Progressing",
    "done": "Done",
}
RESULT_STYLES = {"success": Style(color="green"), "fail": Style(color="red")}
STALE_STYLE = Style(color="yellow", bold=True)  # and ⚠ before its age: never colour alone
AGE_REPAINT_S = 1.0  # ages move with the clock, not with the database
CELL_CHARS = 400  # a cell shows less than this; a huge name is cut before it is escaped


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    grow: int = 0  # share of the width left over
    least: int = 0  # shortened to this before any column goes (0: never shortened)
    drops: int = 0  # when even shortened columns do not fit, the order they go in (0: never)


# Narrow screens: the destination is shortened first, then the campaign; then the columns of
# least worth go, the id last; the destination and the result (text, never colour alone) stay.
COLUMNS = (
    Column("campaign", 16, grow=1, least=8, drops=3),
    Column("destination", 26, grow=3, least=14),
    Column("idx", 3, drops=1),
    Column("try", 3, drops=2),
    Column("result", 7),
    Column("updated", 14, drops=4),
    Column("id", 13, drops=5),
)
SHORTENED_FIRST = ("destination", "campaign")


@lru_cache(maxsize=64)
def column_layout(total: int, one_campaign: bool = False) -> tuple[tuple[int, int], ...]:
    """The columns shown in `total` cells, as (index in COLUMNS, width), in their order.
    With `one_campaign` chosen, the campaign column says nothing: it is left out."""
    kept = [i for i, c in enumerate(COLUMNS) if not (one_campaign and c.title == "campaign")]

    def needed(widths: dict[int, int]) -> int:
        return sum(widths.values()) + len(widths) - 1

    def narrowest() -> dict[int, int]:
        return {i: COLUMNS[i].least or COLUMNS[i].width for i in kept}

    while needed(narrowest()) > total and any(COLUMNS[i].drops for i in kept):
        kept.remove(min((i for i in kept if COLUMNS[i].drops), key=lambda i: COLUMNS[i].drops))
    widths = narrowest()
    by_title = {COLUMNS[i].title: i for i in kept}
    spare = total - needed(widths)
    # room given back in the order it was taken away: the destination is shortened first
    for title in reversed(SHORTENED_FIRST):
        if (i := by_title.get(title)) is not None and spare > 0:
            back = min(spare, COLUMNS[i].width - widths[i])
            widths[i] += back
            spare -= back
    if spare < 0:  # narrower than the narrowest: the destination takes what is left
        i = by_title["destination"]
        widths[i] = max(1, widths[i] + spare)
    elif spare > 0:
        grow = sum(COLUMNS[i].grow for i in kept) or 1
        widths = {i: w + spare * COLUMNS[i].grow // grow for i, w in widths.items()}
    return tuple(widths.items())


@dataclass(frozen=True)
class _Frame:
    """What the lines of one frame share."""

    style: Style
    now: datetime


def _fit(text: str, width: int) -> str:
    """`text` in exactly `width` cells: cut with "…" (as Rich's Text.truncate), or padded."""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…"
    return text + " " * (width - length)


def cell(value: object) -> str:
    return visible(str(value)[:CELL_CHARS]) if value is not None else ""


def row_cells(row: CampaigncallRow, now: datetime | None = None) -> list[str]:
    """A row's cells; in Dialing and Progressing the result's place shows the call's age,
    marked ⚠ when it dials past its dial timeout (store.rules.is_stale)."""
    destination = row.destination
    target = " ".join(p for p in (cell(destination.target), cell(destination.target_name)) if p)
    updated = row.tm_update or row.tm_create
    if row.status == "done" or now is None:
        result = cell(row.result) or "-"
    else:
        age = age_text(row.age_ms(now))
        result = f"⚠{age}" if row.stale(now) else age
    return [
        cell(row.campaign_name) or short_id(row.campaign_id),
        target,
        cell(row.destination_index),
        cell(row.try_count),
        result,
        cell(updated[5:19]),  # MM-DD HH:MM:SS of the stored form
        short_id(row.id),
    ]


class StatusTable(ScrollView, can_focus=True):
    """Campaigncalls of one status, newest first, read from SQLite one window at a time."""

    BINDINGS: list[BindingType] = [
        Binding("up,k", "cursor_up", "Up", show=False, tooltip="Move up"),
        Binding("down,j", "cursor_down", "Down", show=False, tooltip="Move down"),
        Binding("tab", "screen.next_group", "Group", tooltip="Next status group"),
        Binding("shift+tab", "screen.previous_group", "Previous group", show=False),
        Binding("enter", "choose", "Detail", tooltip="Open the full detail screen"),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    COMPONENT_CLASSES = {
        "status-table--header",
        "status-table--cursor",
        "status-table--placeholder",
    }

    DEFAULT_CSS = """
    StatusTable {
        border: round $panel-lighten-2;
        border-title-style: bold;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
        scrollbar-gutter: stable;  /* the same columns in every group, scrollbar or not */
        & > .status-table--header { text-style: bold; color: $text-muted; }
        & > .status-table--cursor { background: $panel-lighten-1; text-style: bold; }
        & > .status-table--placeholder { color: $text-disabled; }
        &:focus {
            border: round $accent;
            & > .status-table--cursor { background: $accent 40%; }
        }
    }
    """

    cursor: reactive[int] = reactive(0, repaint=False, init=False)
    """The highlighted row's place in the group: a move draws again only the two lines it
    changed (a scroll, or new rows, draw the rest)."""

    @dataclass
    class CursorMoved(Message):
        """The highlighted row of a table changed (or its row was read)."""

        table: StatusTable
        row: CampaigncallRow | None

        @property
        def control(self) -> StatusTable:
            return self.table

    @dataclass
    class RowsFetched(Message):
        """Windows the table asked for as it scrolled have arrived (and are drawn next)."""

        table: StatusTable

        @property
        def control(self) -> StatusTable:
            return self.table

    @dataclass
    class RowChosen(Message):
        """Enter was pressed on a row (or it was double-clicked)."""

        table: StatusTable
        row: CampaigncallRow

        @property
        def control(self) -> StatusTable:
            return self.table

    def __init__(
        self,
        status: CampaigncallStatus,
        *,
        queries: Queries,
        filter_queries: Queries | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id or f"table-{status}")
        self.status: CampaigncallStatus = status
        self.queries = queries  # where it reads the windows it scrolls to
        self.filter_queries = filter_queries or queries  # text filters scan: their own connection
        self.flt: Filter = NO_FILTER
        self.shown_flt: Filter = NO_FILTER  # the filter of the rows on screen (flt once they come)
        self.filtering = False
        self._filtering_shown = False
        self._filtering_timer: Timer | None = None
        self.total = 0
        self.loaded = False
        self.counts = Counts()
        self._pages: OrderedDict[int, list[CampaigncallRow]] = OrderedDict()
        self._missing: set[int] = set()
        self._generation = 0
        self._token = 0  # bumped by every user move, so a refresh never undoes one
        self._last_reported: str | None = "?"
        self._frame: _Frame | None = None  # while a frame's lines are drawn
        self._update_title()

    def on_mount(self) -> None:
        if self.status != "done":
            self.set_interval(AGE_REPAINT_S, self.refresh)

    # ---- data in ------------------------------------------------------------------------

    def state(self) -> TableState:
        if self.shown_flt != self.flt:  # a new filter's rows are asked for: from the top
            return TableState(self.status, self.flt, 0, None, 0, self.rows_in_view, self._token)
        row = self.row_at(self.cursor)
        return TableState(
            self.status,
            self.flt,
            self.cursor,
            row.id if row is not None else None,
            int(self.scroll_y),
            self.rows_in_view,
            self._token,
        )

    def apply(self, data: TableData, counts: Counts) -> None:
        """Take a refresh's result; if the user moved meanwhile, keep their place instead."""
        self._generation += 1
        self._pages = OrderedDict(data.pages)
        self._missing.clear()
        self.total = data.total
        self.counts = counts
        self.loaded = True
        self.shown_flt = data.state.flt
        user_moved = data.state.token != self._token or data.state.flt != self.flt
        self.virtual_size = Size(self.size.width, self.total + 1)
        if user_moved:
            self.cursor = max(0, min(self.cursor, self.total - 1))
        else:
            self.cursor = data.cursor
            self.scroll_to(y=data.scroll, animate=False, immediate=True)
        self._update_title()
        self.refresh()
        self._report_cursor()

    def set_counts(self, counts: Counts) -> None:
        """New totals for the title (under a text filter the rows come separately)."""
        self.counts = counts
        self._update_title()

    def set_filtering(self, filtering: bool) -> None:
        """A text filter's rows are being read: said in the title if they are slow to come."""
        if filtering == self.filtering:
            return
        self.filtering = filtering
        if filtering:
            self._filtering_timer = self.set_timer(FILTERING_SHOWN_AFTER_S, self._show_filtering)
            return
        if self._filtering_timer is not None:
            self._filtering_timer.stop()
            self._filtering_timer = None
        if self._filtering_shown:
            self._filtering_shown = False
            self._update_title()
        if self._missing:
            self.call_later(self._load_missing)

    def _show_filtering(self) -> None:
        self._filtering_timer = None
        if self.filtering:
            self._filtering_shown = True
            self._update_title()

    def set_filter(self, flt: Filter, *, keep_rows: bool = False) -> None:
        """A new filter: back to the top; the next refresh fills the table. With `keep_rows`
        (a text typed on), the rows and title shown stay, untouched, until the new ones come:
        one repaint per key, not two."""
        self.flt = flt
        self._token += 1
        self._generation += 1
        if keep_rows:
            if self._filtering_shown:
                self._update_title()  # "filtering …" names the text now on its way
            return
        self.shown_flt = flt
        self.cursor = 0
        self._pages.clear()
        self.scroll_to(y=0, animate=False, immediate=True)
        self._update_title()
        self.refresh()

    # ---- geometry and cursor ---------------------------------------------------------------

    @property
    def rows_in_view(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def row_at(self, index: int) -> CampaigncallRow | None:
        return row_in_pages(self._pages, index)

    @property
    def cursor_row(self) -> CampaigncallRow | None:
        return self.row_at(self.cursor) if self.total else None

    def move_cursor(self, index: int) -> None:
        if not self.total:
            return
        self._token += 1
        self.cursor = max(0, min(index, self.total - 1))
        top = int(self.scroll_y)
        rows = self.rows_in_view
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False, immediate=True)
        self._report_cursor()

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_y)
        width = self.size.width
        for index in (old, new):
            line = index - top + 1  # the header is line 0
            if 1 <= line <= self.rows_in_view:
                self.refresh(Region(0, line, width, 1))

    def _report_cursor(self) -> None:
        row = self.cursor_row
        key = row.id if row is not None else None
        if key != self._last_reported or row is None:
            self._last_reported = key
            self.post_message(self.CursorMoved(self, row))

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self.rows_in_view)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self.rows_in_view)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.total - 1)

    def action_choose(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RowChosen(self, row))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= index < self.total:
            self.move_cursor(index)
            if event.chain == 2 and (row := self.cursor_row) is not None:
                self.post_message(self.RowChosen(self, row))

    def on_focus(self) -> None:
        self._last_reported = "?"
        self._report_cursor()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.total + 1)

    # ---- fetching windows that are not cached ---------------------------------------------------

    def _want(self, page: int) -> None:
        if page in self._missing:
            return
        self._missing.add(page)
        if len(self._missing) == 1:
            self.call_later(self._load_missing)

    def _load_missing(self) -> None:
        if not self._missing:
            return
        if self.filtering or self.shown_flt != self.flt:
            return  # the filter's own fetch brings the first rows; the rest are asked for after
        self._load_pages(sorted(self._missing), self.flt, self._generation)

    @work(thread=True, exclusive=True, group="pages")
    def _load_pages(self, pages: list[int], flt: Filter, generation: int) -> None:
        queries = self.filter_queries if flt.text else self.queries
        try:
            fetched: dict[int, list[CampaigncallRow] | None] = {
                page: read_page(queries, self.status, page, flt) for page in pages
            }
        except sqlite3.OperationalError:
            # locked, or interrupted by a new filter: asked for again when next drawn
            fetched = dict.fromkeys(pages)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._pages_loaded, fetched, generation)

    def _pages_loaded(
        self, fetched: dict[int, list[CampaigncallRow] | None], generation: int
    ) -> None:
        self._missing.difference_update(fetched)
        if generation != self._generation:
            return
        self._pages.update({page: rows for page, rows in fetched.items() if rows is not None})
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        self.refresh()
        self._report_cursor()
        self.post_message(self.RowsFetched(self))
        if self._missing:
            self.call_later(self._load_missing)

    # ---- drawing ---------------------------------------------------------------------------

    def _update_title(self) -> None:
        """The count and filter of the rows shown; a filter on its way, once it is slow."""
        text = self.shown_flt.text
        capped = bool(text) and self.total >= FILTER_COUNT_CAP
        title = f"{STATUS_TITLES[self.status]} {self.total:,}{'+' if capped else ''}"
        if self.status == "done" and not text:
            title += f"  [✓ {self.counts.success:,} success · ✗ {self.counts.fail:,} fail]"
        if text:
            title += f"  filter: {cell(text[:60])}"
        if self._filtering_shown:
            coming = self.flt.text
            title += f"  filtering {cell(coming[:60])}…" if coming != text else "  filtering…"
        # border titles are markup: escape anything that came from the user
        self.border_title = title.replace("[", r"\[")

    def render_lines(self, crop: Region) -> list[Strip]:
        # what every line of this frame shares, worked out once for all of them (a widget's
        # rich_style walks its ancestors: most of a line's cost, were it asked for each line)
        self._frame = _Frame(self.rich_style, timefmt.utc_now())
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _frame_now(self) -> _Frame:
        return self._frame or _Frame(self.rich_style, timefmt.utc_now())

    def render_line(self, y: int) -> Strip:
        frame = self._frame_now()
        width = self.scrollable_content_region.width
        layout = column_layout(width, self.shown_flt.campaign_id is not None)
        widths = [w for _, w in layout]
        if y == 0:
            # Dialing and Progressing have no result yet: their age stands in its place
            cells = [
                "age" if COLUMNS[i].title == "result" and self.status != "done"
                else COLUMNS[i].title
                for i, _ in layout
            ]  # fmt: skip
            style = self.get_component_rich_style("status-table--header")
            return self._strip(cells, widths, width, style)
        index = int(self.scroll_y) + y - 1
        if index >= self.total:
            if index == 0 and y == 1 and self.loaded:
                return self._message(self._empty_text(), width)
            return Strip.blank(width, frame.style)
        row = self.row_at(index)
        if row is None:
            self._want(page_of(index))
            style = self.get_component_rich_style("status-table--placeholder")
            return self._strip(["…"], [width], width, style)
        style = frame.style
        now = frame.now
        if row.status == "done" and row.result in RESULT_STYLES:
            style = style + RESULT_STYLES[row.result]
        elif row.stale(now):
            style = style + STALE_STYLE
        if index == self.cursor:
            style = style + self.get_component_rich_style("status-table--cursor")
        cells = row_cells(row, now)
        return self._strip([cells[i] for i, _ in layout], widths, width, style)

    def _empty_text(self) -> str:
        name = STATUS_TITLES[self.status].lower()
        if self.shown_flt.text or self.shown_flt.campaign_id:
            return f"No {name} campaigncalls match (Esc clears the filter, c chooses a campaign)"
        return f"No campaigncalls are {name} right now."

    def _message(self, message: str, width: int) -> Strip:
        style = self.get_component_rich_style("status-table--placeholder")
        return self._strip([message], [width], width, style)

    def _strip(self, cells: list[str], widths: Sequence[int], width: int, style: Style) -> Strip:
        """One line of cells, each cut ("…") or padded to its width, as plain text: a cell is
        never read as markup. Cut as Rich's Text.truncate cuts, without a Text per cell."""
        line = " ".join(
            _fit(text, cell_width) for text, cell_width in zip(cells, widths, strict=False)
        )
        return Strip([Segment(line, style)]).adjust_cell_length(width, style)
