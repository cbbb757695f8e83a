"""The main screen: the status tables beside the detail pane, the event panel, the filter bar.

It owns its keys and what it shows. What it reads is built by `dashboard.data` (no Textual
there); when it reads is the `Scheduler`'s call. The app around it runs the drop folder, the
link to VoIPbin and the change poll, and tells this screen when the database changed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.signal import Signal
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from dashboard.data import (
    Scheduler,
    ScreenData,
    ScreenRequest,
    TableData,
    TableState,
    read_filtered,
    read_screen,
)
from dashboard.screens.choosers import ALL_CAMPAIGNS, CampaignScreen
from dashboard.screens.detail_screen import DetailScreen
from dashboard.screens.overview import OverviewScreen
from dashboard.screens.painted import PaintTimedScreen
from dashboard.widgets.detail_pane import DetailPane
from dashboard.widgets.event_panel import EventPanel
from dashboard.widgets.filter_bar import FilterBar, FilterInput
from dashboard.widgets.header import DashboardHeader
from dashboard.widgets.status_table import StatusTable
from store import timefmt
from store.db import StoreError, is_busy_error
from store.export import export_view
from store.models import CAMPAIGNCALL_STATUSES, CampaigncallStatus
from store.queries import NO_FILTER, CampaigncallDetail, Filter, Queries
from store.text import visible

if TYPE_CHECKING:
    from dashboard.app import CampaigncallsApp

# A change when no read runs is read at once; changes that arrive while one runs are folded
# into one more, this long after it (a burst of a thousand files: a dozen redraws).
REFRESH_THROTTLE_S = 0.08
# After a query found the database locked, the screen tries again this soon.
BUSY_RETRY_S = 1.0
# Calls go stale with the clock, not with the database: counted again this often.
STALE_RECOUNT_S = 5.0


@dataclass
class ScreenRefreshed(Message):
    """Data read from the store is on screen: sent once the frame showing it is painted.

    `kind` is "refresh" (counts, tables, detail and events of one refresh), "filter" (the
    tables of a text filter) or "rows" (windows a table read as it scrolled).
    """

    kind: str
    count: int
    at: float


class MainScreen(PaintTimedScreen[None]):
    """Campaigncalls grouped by status, live; the screen the dashboard opens on."""

    BINDINGS: list[BindingType] = [
        # a priority binding: the focus is in the filter before the next key is read, so keys
        # typed right after / (a paste, tmux send-keys) all land in it
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="Filter by an id (its start), a target or a name, as you type",
            priority=True,
        ),
        Binding("escape", "clear_filter", "Clear filter", tooltip="Clear the filter"),
        Binding("c", "choose_campaign", "Campaign", tooltip="Show one campaign, or all"),
        Binding(
            "o",
            "overview",
            "Overview",
            tooltip="Every campaign at a glance: targets, success, reasons, forecast",
        ),
        Binding(
            "p",
            "toggle_pause",
            "Pause",
            tooltip="Pause or resume live updates (files are still applied)",
        ),
        Binding("r", "toggle_raw", "Raw", tooltip="Raw JSON of the record and its events"),
        Binding(
            "i",
            "toggle_ignored",
            "Ignored",
            tooltip="Show or hide the events VoIPbin sends that change nothing here",
        ),
        Binding(
            "e",
            "export_view",
            "Export",
            tooltip="The focused group, as filtered, into a CSV file here",
            show=False,
        ),
    ]

    app: CampaigncallsApp  # type: ignore[assignment]

    def __init__(self, db_path: Path, drop_dir: Path) -> None:
        super().__init__(id="main")
        self.db_path = db_path
        self.drop_dir = drop_dir
        self.queries = Queries(db_path)
        # text filters scan: their own connection, so a slow one can be interrupted alone
        self.filter_queries = Queries(db_path)
        self.flt: Filter = NO_FILTER
        self.raw = False
        self.campaign_name = ""
        self.refresh_count = 0
        self.last_refresh = 0.0
        self.screen_refreshed: Signal[ScreenRefreshed] = Signal(self, "screen-refreshed")
        self.reads = Scheduler(
            lambda delay, callback: self.set_timer(delay, callback),
            start_refresh=self._start_refresh,
            start_filtered=self._start_filtered,
            interrupt_filtered=self.filter_queries.interrupt,
            throttle=REFRESH_THROTTLE_S,
            retry=BUSY_RETRY_S,
        )
        self.fetched_version = -1  # the database version the last refresh read
        self.watcher_busy = False
        self._queries_busy = False
        self._detail_id: str | None = None
        self._land_on_matches = False  # a new filter: its first rows move the focus if need be
        self._behind = False  # a change came while another screen covered this one
        self.tables = [
            StatusTable(status, queries=self.queries, filter_queries=self.filter_queries)
            for status in CAMPAIGNCALL_STATUSES
        ]
        self.active_table = self.tables[0]  # the group the user is in (focus moves a frame later)
        self.header = DashboardHeader(db_path, drop_dir)  # the app sets its step and link

    # ---- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal(id="body"):
            with Vertical(id="tables"):
                yield from self.tables
                yield Static(self._empty_text(), id="empty")
            yield DetailPane(id="detail")
        yield EventPanel(id="events")
        yield FilterBar(id="filter-bar")
        yield Footer(show_command_palette=False)

    def _empty_text(self) -> Text:
        db, drop = visible(str(self.db_path)), visible(str(self.drop_dir))
        text = Text()
        text.append("The database is empty.\n\n", "bold")
        text.append("Load the bundled demo data:\n")
        text.append(f"    campaigncalls load --db {db} demo\n", "cyan")
        text.append("or a bundle of your own (campaigns, outplans, targets, campaigncalls):\n")
        text.append(f"    campaigncalls load --db {db} FILE.json\n", "cyan")
        text.append("or try everything at once on a throwaway database:\n")
        text.append("    campaigncalls demo\n\n", "cyan")
        text.append(f"Files dropped into {drop} are applied as they land; ", "dim")
        text.append("this screen updates by itself.", "dim")
        return text

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    @property
    def paused(self) -> bool:
        return self.reads.paused

    @property
    def refresh_pending(self) -> bool:
        """A refresh or a text filter is being read, or waits to be."""
        return self.reads.pending

    @property
    def database_busy(self) -> bool:
        return self.watcher_busy or self._queries_busy

    @on(events.DescendantFocus)
    def remember_active_table(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, StatusTable):
            self.active_table = event.widget

    def on_mount(self) -> None:
        self.query_one("#empty").display = False
        self.active_table.focus()
        self.set_interval(STALE_RECOUNT_S, self.request_refresh)
        self.call_after_refresh(self.request_refresh)

    @property
    def _covered(self) -> bool:
        """Under a screen that shows none of this one's data (the overview reads its own)."""
        top = self.app.screen
        return top is not self and not isinstance(top, (DetailScreen, ModalScreen))

    def on_screen_resume(self) -> None:
        if self._behind:
            self._behind = False
            self.data_changed()

    def on_unmount(self) -> None:
        self.filter_queries.interrupt()

    def close_connections(self) -> None:
        for queries in (self.queries, self.filter_queries):
            queries.close()

    def show_busy(self) -> None:
        self.header.busy = self.database_busy

    # ---- reading from the store -------------------------------------------------------------

    @property
    def _ending(self) -> bool:
        """The app is ending: its screens may already be off the stack, their widgets gone."""
        return not (self.app.is_running and self.is_attached)

    def data_changed(self) -> None:
        """Someone committed: read what the screen shows again."""
        if self._ending:
            return  # a file the watcher applied as the app ends
        if self._covered:
            self._behind = True
            return
        self.request_refresh()
        if self.flt.text:
            self.reads.filtered.ask()

    def request_refresh(self) -> None:
        self.reads.refresh.ask()

    def _start_refresh(self) -> bool:
        if self._ending:
            return False  # a live feed still reports
        if self._covered:
            self._behind = True  # caught up when the screen is shown again
            return False
        panel = self.query_one(EventPanel)
        screen_id = None
        if isinstance(self.app.screen, DetailScreen):
            screen_id = str(self.app.screen.detail.campaigncall.get("id"))
        self._read_screen(
            ScreenRequest(
                [t.state() for t in self.tables],
                self.tables.index(self.active_table),
                panel.last_event_id,
                panel.parked_ids(),
                self.flt,
                screen_id,
            )
        )
        return True

    @work(thread=True, exclusive=True, group="refresh")
    def _read_screen(self, request: ScreenRequest) -> None:
        try:
            version = self.app.changes.data_version()
            self.fetched_version = version
            data = read_screen(self.queries, version, request, timefmt.utc_now())
        except sqlite3.OperationalError as error:
            if not is_busy_error(error):
                raise
            self._from_worker(self._refresh_failed)
            return
        if not get_current_worker().is_cancelled:
            self._from_worker(self._show_screen, data)

    def _from_worker(self, callback: Callable[..., None], *args: object) -> None:
        """A worker's read handed to the screen, on the UI thread; dropped if the app is
        closing (the screen's widgets go before its workers are cancelled)."""

        def land() -> None:
            if not self._ending:
                callback(*args)

        self.app.call_from_thread(land)

    def _refresh_failed(self) -> None:
        """A query found the database locked: say so, and try again in a moment."""
        self._queries_busy = True
        self.show_busy()
        self.reads.refresh.failed(busy=True)

    def _show_screen(self, data: ScreenData) -> None:
        if self._queries_busy:
            self._queries_busy = False
            self.show_busy()
        if self.reads.held(self.reads.refresh):
            return
        with self.app.batch_update():
            header = self.header
            header.counts = data.counts
            header.campaign_status = data.campaign_status
            header.stale = data.stale
            header.loaded = True
            empty = data.empty
            self.query_one("#empty").display = empty
            current = data.tables is not None and data.flt == self.flt
            for number, table in enumerate(self.tables):
                table.display = not empty
                if current:
                    assert data.tables is not None
                    table.apply(data.tables[number], data.counts)
                else:  # a text filter's rows come from its worker; a stale filter's go unseen
                    table.set_counts(data.counts)
            if current:
                self._land_on_a_group_with_matches()
            self._show_refreshed_detail(data)
            panel = self.query_one(EventPanel)
            panel.add_events(data.events, restart=data.events_restart)
            panel.update_events(data.resolved)
            screen = self.app.screen
            if data.detail_screen is not None and isinstance(screen, DetailScreen):
                screen.update_detail(data.detail_screen)
        self.paint_pending("refresh")
        if data.flt != self.flt:
            self.reads.refresh.again = True  # read under an older filter: once more
        self.reads.refresh.shown()

    def frame_painted(self, kind: str) -> None:
        """Runs once the frame showing read data is painted: the public signal of it."""
        now = time.monotonic()
        if kind == "refresh":
            self.refresh_count += 1
            self.last_refresh = now
        message = ScreenRefreshed(kind, self.refresh_count, now)
        self.screen_refreshed.publish(message)
        self.app.post_message(message)

    # ---- a text filter: its tables come from their own worker, which a new filter cancels ----

    def _start_filtered(self) -> bool:
        if not self.flt.text:
            return False
        for table in self.tables:
            table.set_filtering(True)
        self._read_filtered([t.state() for t in self.tables], self.flt)
        return True

    @work(thread=True, exclusive=True, group="filter")
    def _read_filtered(self, states: list[TableState], flt: Filter) -> None:
        worker = get_current_worker()
        try:
            # a newer filter that came while this one waited its turn wins
            tables = read_filtered(self.filter_queries, states, lambda: worker.is_cancelled)
        except sqlite3.OperationalError as error:
            if worker.is_cancelled:
                return  # interrupted for a newer filter, which has its own worker
            if not is_busy_error(error) and "interrupted" not in str(error):
                raise
            self._from_worker(self._filtered_failed, flt, is_busy_error(error))
            return
        if tables is not None and not worker.is_cancelled:
            self._from_worker(self._show_filtered, tables, flt)

    def _filtered_failed(self, flt: Filter, busy: bool) -> None:
        if flt != self.flt:
            return
        if busy:
            self._queries_busy = True
            self.show_busy()
        self.reads.filtered.failed(busy=busy)

    def _show_filtered(self, tables: list[TableData], flt: Filter) -> None:
        if flt != self.flt:
            return  # a newer filter is on its way
        if self.reads.held(self.reads.filtered):
            return
        with self.app.batch_update():
            for table, table_data in zip(self.tables, tables, strict=True):
                table.apply(table_data, self.header.counts)
                table.set_filtering(False)
            self._land_on_a_group_with_matches()
        self.paint_pending("filter")
        self.reads.filtered.shown()

    def _cancel_filtered(self) -> None:
        self.reads.filtered.cancel()
        self.workers.cancel_group(self, "filter")
        for table in self.tables:
            table.set_filtering(False)

    def _land_on_a_group_with_matches(self) -> None:
        """The first rows of a new filter: if the focused group has none, the first group that
        has some takes the focus (later refreshes leave the focus where the user put it)."""
        if not self._land_on_matches:
            return
        self._land_on_matches = False
        if self.active_table.total:
            return
        for table in self.tables:
            if table.display and table.total:
                self.active_table = table
                if not self._typing_filter:  # Enter or Esc gives the focus to it
                    table.focus()
                return

    # ---- the detail of the highlighted row ------------------------------------------------

    def _show_refreshed_detail(self, data: ScreenData) -> None:
        """The refresh's detail, unless the highlighted row changed since it was read (a text
        filter's rows, which come from their own worker, may have come first)."""
        table = self.active_table
        row = table.row_at(table.cursor) if table.total else None
        if row is not None and row.id != data.detail_id:
            if row.id != self._detail_id:
                self._detail_id = row.id
                self._fetch_detail(row.id)
            return
        if row is None and table.total and data.detail_id is None:
            return  # the rows are on their way; the highlighted one brings its detail
        self._detail_id = data.detail_id
        self.query_one(DetailPane).show(data.detail, raw=self.raw)

    @on(StatusTable.RowsFetched)
    def tell_rows_on_screen(self) -> None:
        self.paint_pending("rows")

    @on(StatusTable.CursorMoved)
    def show_highlighted_detail(self, message: StatusTable.CursorMoved) -> None:
        if message.table is not self.active_table:
            return
        row = message.row
        if row is None:
            if message.table.total == 0 and message.table.loaded:
                self._detail_id = None
                self.query_one(DetailPane).show(None)
            return
        if row.id == self._detail_id:
            return
        self._detail_id = row.id
        self._fetch_detail(row.id)

    def _read_detail(self, ident: str) -> CampaigncallDetail | None | Literal[False]:
        """Blocking: one campaigncall's detail, or False when the database is locked."""
        try:
            return self.queries.detail(ident)
        except sqlite3.OperationalError as error:
            if not is_busy_error(error):
                raise
            self._from_worker(self._detail_failed)
            return False

    @work(thread=True, exclusive=True, group="detail")
    def _fetch_detail(self, ident: str) -> None:
        detail = self._read_detail(ident)
        if detail is not False and not get_current_worker().is_cancelled:
            self._from_worker(self._show_detail, ident, detail)

    def _detail_failed(self) -> None:
        self._queries_busy = True
        self.show_busy()
        self._detail_id = None  # read again by the next refresh

    def _show_detail(self, ident: str, detail: CampaigncallDetail | None) -> None:
        if ident == self._detail_id:
            self.query_one(DetailPane).show(detail, raw=self.raw)

    @on(StatusTable.RowChosen)
    def open_detail_screen(self, message: StatusTable.RowChosen) -> None:
        self._fetch_for_screen(message.row.id, self.raw)

    @work(thread=True, exclusive=True, group="detail-screen")
    def _fetch_for_screen(self, ident: str, raw: bool, at_raw: bool = False) -> None:
        detail = self._read_detail(ident)
        if detail:
            screen = DetailScreen(
                detail, raw=raw, at_raw=at_raw, toggle_pause=self.action_toggle_pause
            )
            self.app.call_from_thread(self.app.push_screen, screen)

    # ---- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            return not self._typing_filter  # there, / is a character of the filter
        if action == "clear_filter":
            return bool(self.flt.text) or self._typing_filter
        if action == "keep_filter":
            return self._typing_filter
        return True

    def action_next_group(self, step: int = 1) -> None:
        tables = [t for t in self.tables if t.display]
        if not tables:
            return
        current = self.active_table
        index = tables.index(current) if current in tables else -1
        self.active_table = tables[(index + step) % len(tables)]
        self.active_table.focus()

    def action_previous_group(self) -> None:
        self.action_next_group(-1)

    @property
    def _typing_filter(self) -> bool:
        return isinstance(self.focused, FilterInput)

    def action_filter(self) -> None:
        """The filter bar, with the focus in it now (not a frame later, as focus() would)."""
        bar = self.filter_bar
        bar.display = True
        self.set_focus(bar.input)
        bar.input.cursor_position = len(bar.input.value)

    @on(FilterBar.Typed)
    def filter_as_typed(self, message: FilterBar.Typed) -> None:
        if message.text != self.flt.text:
            self.set_filter(Filter(self.flt.campaign_id, message.text), typed=True)

    def action_keep_filter(self) -> None:
        """Enter in the filter bar: the focus back to the table at once; the text is read once
        the input has taken every key typed before the Enter."""
        self._leave_filter_bar()
        self.filter_bar.input.call_later(self._keep_typed_filter)

    def _keep_typed_filter(self) -> None:
        bar = self.filter_bar
        bar.settle()
        text = bar.text
        bar.display = bool(text)
        if text != self.flt.text:
            self.set_filter(Filter(self.flt.campaign_id, text))
        elif self.paused and text:
            self._tell_paused()

    def action_clear_filter(self) -> None:
        if self._typing_filter:
            self._leave_filter_bar()
            self.filter_bar.input.call_later(self._clear_typed_filter)
        else:
            self._clear_typed_filter()

    def _clear_typed_filter(self) -> None:
        bar = self.filter_bar
        bar.clear()
        bar.display = False
        if self.flt.text:
            self.set_filter(Filter(self.flt.campaign_id, ""))

    def _leave_filter_bar(self) -> None:
        table = self.active_table
        self.set_focus(table if table.display else None)

    def _tell_paused(self) -> None:
        self.notify("Paused: the new filter shows when you resume (p).", markup=False)

    def set_filter(self, flt: Filter, *, typed: bool = False) -> None:
        """Show a new filter. A new text's rows come from the filter's worker, and the rows
        shown stay until they do (no blank frame between two keys); the refresh is asked for
        only when what it reads changes (a campaign, or the text gone)."""
        before, self.flt = self.flt, flt
        self._land_on_matches = flt != NO_FILTER
        for table in self.tables:
            table.set_filter(flt, keep_rows=bool(flt.text))
        self._detail_id = None
        if bool(flt.text) != bool(before.text):
            self.app.refresh_bindings()  # Esc clears it, or has nothing to clear
        if self.paused:
            self.reads.stale = True
            if not typed:
                self._tell_paused()
            return
        if flt.text:
            self.reads.filtered.ask(restart=True)
        else:
            self._cancel_filtered()
        if not flt.text or flt.campaign_id != before.campaign_id:
            self.request_refresh()

    def action_choose_campaign(self) -> None:
        chooser = CampaignScreen(
            self.queries.campaigns(), self.flt.campaign_id, self.queries.campaign_statuses()
        )
        self.app.push_screen(chooser, self._set_campaign)

    def action_overview(self) -> None:
        # installed once: opened again, it is only read and painted, not composed
        if not self.app.is_screen_installed("overview"):
            overview = OverviewScreen(self.db_path, paused=lambda: self.paused)
            self.app.install_screen(overview, "overview")
        self.app.push_screen("overview", self._set_campaign)

    def _set_campaign(self, choice: str | None) -> None:
        if choice is None:
            return
        campaign_id = None if choice == ALL_CAMPAIGNS else choice
        names = dict(self.queries.campaigns())
        self.campaign_name = names.get(campaign_id, "") if campaign_id else ""
        self.header.campaign_name = self.campaign_name
        self.set_filter(Filter(campaign_id, self.flt.text))

    def action_toggle_pause(self) -> None:
        if not self.reads.paused:
            self.reads.pause()
            self.header.paused = True
            self.notify(
                "Paused: the screen holds still while files keep being applied. p resumes.",
                markup=False,
            )
            return
        stale = self.reads.resume()
        self.header.paused = False
        self.notify("Live again: catching up.", markup=False)
        if stale:
            self.data_changed()

    def action_toggle_ignored(self) -> None:
        self.query_one(EventPanel).toggle_ignored()

    def action_toggle_raw(self) -> None:
        self.raw = not self.raw
        pane = self.query_one(DetailPane)
        if pane.display:
            pane.show(pane.detail, raw=self.raw)
        elif (row := self.active_table.cursor_row) is not None:
            self._fetch_for_screen(row.id, True, at_raw=True)

    def action_export_view(self) -> None:
        status = self.active_table.status
        self.notify(f"Exporting {status.capitalize()}…", markup=False)
        self._export_view(status, self.flt)

    @work(thread=True, group="export")
    def _export_view(self, status: CampaigncallStatus, flt: Filter) -> None:
        try:
            done = export_view(self.db_path, Path.cwd(), status, flt, datetime.now())
        except (OSError, sqlite3.Error, StoreError) as error:
            self.app.call_from_thread(self._tell, f"Export failed: {error}", "error")
        else:
            self.app.call_from_thread(self._tell, f"{done.rows:,} campaigncalls in {done.path}")

    def _tell(self, text: str, severity: SeverityLevel = "information") -> None:
        title = "Export" if severity == "error" else "Exported"
        self.notify(visible(text), title=title, severity=severity, timeout=10, markup=False)
