"""The live dashboard: status tables, detail pane and event panel on the store, with a watcher."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.notifications import Notification, Notify, SeverityLevel
from textual.signal import Signal
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from dashboard.screens.choosers import ALL_CAMPAIGNS, CampaignScreen
from dashboard.screens.detail_screen import DetailScreen
from dashboard.screens.help_screen import HelpScreen
from dashboard.screens.overview import OverviewScreen
from dashboard.widgets.detail_pane import DetailPane
from dashboard.widgets.event_panel import EventPanel
from dashboard.widgets.filter_bar import FilterBar, FilterInput
from dashboard.widgets.header import DashboardHeader
from dashboard.widgets.status_table import StatusTable, TableData, TableState, fetch_table
from store import timefmt
from store.db import StoreError, is_busy_error
from store.dropfolder import FileReport
from store.export import export_view
from store.follower import LinkState
from store.models import CAMPAIGNCALL_STATUSES, CampaigncallStatus
from store.queries import (
    NO_FILTER,
    CampaigncallDetail,
    Counts,
    EventRow,
    Filter,
    Queries,
    data_changes,
)
from store.scenarios import Scenario, drop_file
from store.text import visible
from store.watcher import PARK_SECONDS, DropFolderWatcher, WatcherProblem

# A change when no refresh runs is fetched at once; changes that arrive while one runs are
# folded into one more, this long after it (a burst of a thousand files: a dozen redraws).
REFRESH_THROTTLE_S = 0.08
# The in-app watcher waits this long for another writer's lock before it says "database busy"
# (and tries the file again on its next look, a quarter second later).
WATCHER_BUSY_TIMEOUT_MS = 500
STALE_RECOUNT_S = 5.0
# The screen's process keeps its memory flat: a smaller page cache for its own watcher.
WATCHER_CACHE_MIB = 16
# After a query found the database locked, the screen tries again this soon if nothing changes.
BUSY_RETRY_S = 1.0
EVENT_BACKLOG = 200  # events shown when the panel starts, or after a burst bigger than a fetch
EVENT_FETCH = 1000
# Rejections reported this close together make one toast; one still on screen is replaced by
# one that counts on, so a burst never stacks toasts up the screen.
REJECTION_GATHER_S = 0.25
REJECTION_TOAST_S = 8.0
# Textual leaves these to their default, which kills the process with the terminal still in
# the alternate screen and reporting the mouse: the dashboard ends on them as q ends it.
END_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Link(Protocol):
    """A way in from VoIPbin run beside the watcher (store/links.py: follow, or listen)."""

    async def run(self, stop: asyncio.Event, on_state: Callable[[LinkState], None]) -> None: ...


MAIN_SCREEN_ONLY = frozenset(
    {
        "filter",
        "clear_filter",
        "keep_filter",
        "choose_campaign",
        "toggle_raw",
        "export_view",
        "overview",
    }  # fmt: skip
)


class DropFileApplied(Message):
    """The watcher applied (or rejected) one drop file, or expired a parked event."""

    def __init__(self, report: FileReport) -> None:
        super().__init__()
        self.report = report


class WatcherProblemReported(Message):
    """The watcher could not apply a file yet (database locked, disk full): it will retry."""

    def __init__(self, problem: WatcherProblem) -> None:
        super().__init__()
        self.problem = problem


class DatabaseChanged(Message):
    """Someone (the watcher, another process) committed to the database."""

    def __init__(self, version: int) -> None:
        super().__init__()
        self.version = version


class ScreenRefreshed(Message):
    """Data fetched from the store is on screen: sent once the frame showing it is painted.

    `kind` is "refresh" (counts, tables, detail and events of one refresh), "filter" (the
    tables of a text filter) or "rows" (windows a table fetched as it scrolled).
    """

    def __init__(self, kind: str, count: int, at: float) -> None:
        super().__init__()
        self.kind = kind
        self.count = count
        self.at = at


@dataclass(frozen=True)
class ScreenRequest:
    """What one refresh must read: each table's place, the events shown, the open detail."""

    states: list[TableState]
    active: int
    last_event_id: int
    parked_ids: list[int]
    flt: Filter
    screen_id: str | None


@dataclass
class ScreenData:
    """Everything one refresh shows, fetched together in a thread."""

    counts: Counts
    tables: list[TableData] | None  # None under a text filter: those come from their own worker
    detail: CampaigncallDetail | None
    detail_id: str | None
    events: list[EventRow]
    events_restart: bool
    detail_screen: CampaigncallDetail | None = None
    campaigns: int = 0
    flt: Filter = field(default_factory=Filter)
    resolved: list[EventRow] = field(default_factory=list)  # parked events, as they are now
    version: int = 0
    campaign_statuses: dict[str, str] = field(default_factory=dict)  # VoIPbin's, by campaign id
    stale: int = 0  # calls dialing past their dial timeout (store.rules.is_stale)


def campaign_status_label(statuses: dict[str, str], flt: Filter) -> str:
    """The chosen campaign's VoIPbin status (run, stopping, stop), or how many of all run."""
    if flt.campaign_id is not None:
        return statuses.get(flt.campaign_id, "")
    running = sum(1 for status in statuses.values() if status == "run")
    return f"{running:,} of {len(statuses):,} running" if statuses else ""


def _terminal_alive() -> bool:
    """False once the terminal has hung up: then even a write of nothing fails."""
    screen = sys.__stderr__  # where Textual writes the screen
    if screen is None:
        return False
    try:
        os.write(screen.fileno(), b"")
    except (OSError, ValueError):
        return False
    return True


def _output_to_nowhere(app: App[None]) -> None:
    """The standard streams onto /dev/null, and a live screen writer if the old one died."""
    nowhere = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(nowhere, fd)
    os.close(nowhere)
    driver = app._driver
    writer = getattr(driver, "_writer_thread", None)
    if writer is not None and not writer.is_alive():
        from textual.drivers._writer_thread import WriterThread

        fresh = WriterThread(sys.__stderr__)  # type: ignore[arg-type]
        fresh.start()
        driver._writer_thread = fresh  # type: ignore[union-attr]


@dataclass
class RejectionToast:
    """What the one rejection toast tells of: files rejected, parked events expired, the
    latest reason; counted afresh once the toast showing them has gone."""

    files: int = 0
    expired: int = 0
    events: int = 0
    latest: str = ""
    shown: Notification | None = None

    def add(self, report: FileReport, errors: list[str]) -> None:
        if self.shown is not None and self.shown.has_expired:
            self.files, self.expired, self.events, self.shown = 0, 0, 0, None
        if report.expired:
            self.expired += 1
        else:
            self.files += 1
        self.events += len(errors)
        self.latest = visible(f"{report.path.name}: {errors[0]}")

    def title(self) -> str:
        files, expired = self.files, self.expired
        parts = []
        if files:
            parts.append("File rejected" if files == 1 else f"{files:,} files rejected")
        if expired:
            parts.append("Parked event expired" if expired == 1 else f"{expired:,} expired")
        return ", ".join(parts)

    def message(self) -> str:
        if self.events == 1:
            return self.latest
        return f"{self.latest} (and {self.events - 1:,} more; the event panel lists them)"


class CampaigncallsApp(App[None]):
    """Campaigncalls grouped by status, live from SQLite and a drop folder.

    Benchmarks and tests see data reach the screen through `refresh_count` and
    `last_refresh` (a full refresh painted), the `ScreenRefreshed` message and the
    `screen_refreshed` signal (any fetched data painted).
    """

    CSS_PATH = "app.tcss"
    TITLE = "campaigncalls"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (180, "-very-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

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
        Binding("n", "next_step", "Step", tooltip="Drop the scenario's next file"),
        Binding("question_mark", "help", "Help", tooltip="This list of keys"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        db_path: Path,
        drop_dir: Path,
        *,
        scenario: Scenario | None = None,
        watch: bool = True,
        park_seconds: float = PARK_SECONDS,
        link: Link | None = None,
        scenario_shift: timedelta | None = None,
    ) -> None:
        super().__init__()
        self.link = link
        self.db_path = Path(db_path)
        self.drop_dir = Path(drop_dir)
        self.scenario = scenario
        self.scenario_shift = scenario_shift  # the scenario's times moved to the present
        self.watch_folder = watch
        self.park_seconds = park_seconds
        self.queries = Queries(self.db_path)
        # text filters scan: their own connection, so a slow one can be interrupted alone
        self.filter_queries = Queries(self.db_path)
        self.changes = Queries(self.db_path)
        self.flt: Filter = NO_FILTER
        self.paused = False
        self.raw = False
        self.steps_done = 0
        self.campaign_name = ""
        self.refresh_count = 0
        self.last_refresh = 0.0
        self.screen_refreshed: Signal[ScreenRefreshed] = Signal(self, "screen-refreshed")
        self._stale = False
        self._refreshing = False
        self._refresh_again = False
        self._filtering = False
        self._filter_again = False
        self._filter_timer: Timer | None = None
        self._fetched_version = -1
        self._watcher_busy = False
        self._queries_busy = False
        self._detail_id: str | None = None
        self._land_on_matches = False  # a new filter: its first rows move the focus if need be
        self._stop_watching = asyncio.Event()
        self._signals_replaced: dict[int, object] = {}
        self._rejections = RejectionToast()
        self._rejection_timer: Timer | None = None

    # ---- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield DashboardHeader(self.db_path, self.drop_dir)
        with Horizontal(id="body"):
            with Vertical(id="tables"):
                for status in CAMPAIGNCALL_STATUSES:
                    yield StatusTable(status)
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
    def tables(self) -> list[StatusTable]:
        return list(self.query(StatusTable))

    @property
    def active_table(self) -> StatusTable:
        """The group the user is in: the one last focused (focus itself moves a frame later)."""
        return self._active if hasattr(self, "_active") else self.tables[0]

    @property
    def refresh_pending(self) -> bool:
        """A refresh or a text filter is being fetched, or waits to be."""
        return self._refreshing or self._filtering

    @property
    def database_busy(self) -> bool:
        return self._watcher_busy or self._queries_busy

    @on(events.DescendantFocus)
    def remember_active_table(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, StatusTable):
            self._active = event.widget

    def on_mount(self) -> None:
        self._end_on_signals()
        for table in self.tables:
            table.queries = self.queries
            table.filter_queries = self.filter_queries
        self.query_one("#empty").display = False
        self._active = self.tables[0]
        self._active.focus()
        self._update_step_label()
        # calls go stale with the clock, not with the database: count them again now and then
        self.set_interval(STALE_RECOUNT_S, self.request_refresh)
        if self.watch_folder:
            self._watch_drop_folder()
        if self.link is not None:
            self._run_link()
            self.set_interval(1.0, self.query_one(DashboardHeader).refresh)  # "N s ago" ticks
        self._follow_changes()
        self.call_after_refresh(self.request_refresh)

    def on_unmount(self) -> None:
        self._stop_watching.set()
        self.filter_queries.interrupt()
        self._restore_signals()

    def close_connections(self) -> None:
        """The screen's own connections to the database, once the app has ended."""
        for queries in (self.queries, self.filter_queries, self.changes):
            queries.close()

    def _end_on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in END_SIGNALS:
            previous = signal.getsignal(signum)
            try:
                loop.add_signal_handler(signum, self._end_by_signal, signum)
            except (RuntimeError, ValueError):
                return  # not the main thread: signals are not ours to take
            self._signals_replaced[signum] = previous

    def _end_by_signal(self, signum: int) -> None:
        """End as q does. A terminal that hung up takes no more writes (they fail, and
        Textual's writer thread dies of it and blocks the exit): its output goes nowhere."""
        if signum == signal.SIGHUP and not _terminal_alive():
            _output_to_nowhere(self)
        self.exit()

    def _restore_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum, previous in self._signals_replaced.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)  # type: ignore[arg-type]
        self._signals_replaced.clear()

    # ---- workers: the drop folder, the change signal -------------------------------------------

    @work(exclusive=True, group="watcher")
    async def _watch_drop_folder(self) -> None:
        watcher = await asyncio.to_thread(
            DropFolderWatcher,
            self.db_path,
            self.drop_dir,
            lambda report: self.post_message(DropFileApplied(report)),
            on_problem=lambda problem: self.post_message(WatcherProblemReported(problem)),
            park_seconds=self.park_seconds,
            # say "database busy" within half a second, not after the store's ten-second wait;
            # the file stays in the folder and is tried again on the watcher's next look
            busy_timeout_ms=WATCHER_BUSY_TIMEOUT_MS,
            cache_mib=WATCHER_CACHE_MIB,
        )
        try:
            await watcher.run(self._stop_watching)
        finally:
            watcher.close()

    @work(exclusive=True, group="link")
    async def _run_link(self) -> None:
        assert self.link is not None
        header = self.query_one(DashboardHeader)

        def show(state: LinkState) -> None:
            header.link = state

        await self.link.run(self._stop_watching, show)

    @work(exclusive=True, group="changes")
    async def _follow_changes(self) -> None:
        # its own connection, so polling never waits behind a long query
        async for version in data_changes(self.changes):
            self.post_message(DatabaseChanged(version))

    @on(DropFileApplied)
    def show_applied_file(self, message: DropFileApplied) -> None:
        """Fetch at once (no wait for the change poll), and tell of anything rejected."""
        if self._watcher_busy:
            self._watcher_busy = False
            self._show_busy()
        self._data_changed()
        report = message.report
        rejected = [o for o in (*report.outcomes, *report.released) if o.outcome == "rejected"]
        if not rejected:
            return
        self._rejections.add(report, [o.error or "rejected" for o in rejected])
        if self._rejection_timer is None:
            self._rejection_timer = self.set_timer(REJECTION_GATHER_S, self._show_rejections)

    def _show_rejections(self) -> None:
        """One toast for the rejections gathered, in place of the one still on screen."""
        self._rejection_timer = None
        toast = self._rejections
        if toast.shown is not None and not toast.shown.has_expired:
            self._unnotify(toast.shown)  # Textual's own removal of a toast
        toast.shown = Notification(
            toast.message(), toast.title(), "error", REJECTION_TOAST_S, markup=False
        )
        self.post_message(Notify(toast.shown))

    @on(WatcherProblemReported)
    def show_watcher_problem(self, message: WatcherProblemReported) -> None:
        if message.problem.busy:
            self._watcher_busy = True
            self._show_busy()
            return
        self.notify(
            visible(str(message.problem)), title="Drop folder", severity="warning", markup=False
        )

    @on(DatabaseChanged)
    def refresh_after_change(self, message: DatabaseChanged) -> None:
        if message.version == self._fetched_version:
            return  # a refresh already read this commit (a DropFileApplied started it)
        self._data_changed()

    def _show_busy(self) -> None:
        self.query_one(DashboardHeader).busy = self.database_busy

    # ---- refreshing the screen from the store -----------------------------------------------

    def _data_changed(self) -> None:
        self.request_refresh()
        if self.flt.text and not self.paused:
            self._request_filtered()

    def request_refresh(self) -> None:
        """Fetch what the screen shows, in a thread, at once when none is running.

        Changes that arrive while one runs are folded into one more refresh, started
        REFRESH_THROTTLE_S after it ends: a burst costs a few redraws, not one per file.
        """
        if self.paused:
            self._stale = True
            return
        if self._refreshing:
            self._refresh_again = True
            return
        self._start_refresh()

    def _start_refresh(self) -> None:
        tables = self.tables
        if self.active_table not in tables:
            return  # the app is closing and its tables are gone; a live feed still reports
        self._refreshing = True
        self._refresh_again = False
        active = tables.index(self.active_table)
        events = self.query_one(EventPanel)
        screen_id = None
        if isinstance(self.screen, DetailScreen):
            screen_id = str(self.screen.detail.campaigncall.get("id"))
        self._fetch_screen(
            ScreenRequest(
                [t.state() for t in tables],
                active,
                events.last_event_id,
                events.parked_ids(),
                self.flt,
                screen_id,
            )
        )

    @work(thread=True, exclusive=True, group="refresh")
    def _fetch_screen(self, request: ScreenRequest) -> None:
        try:
            data = self._read_screen(request)
        except sqlite3.OperationalError as error:
            if not is_busy_error(error):
                raise
            self.call_from_thread(self._refresh_failed)
            return
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self._show_screen, data)

    def _read_screen(self, request: ScreenRequest) -> ScreenData:
        """Blocking: one refresh's reads (a text filter's tables are read elsewhere)."""
        queries = self.queries
        states, active, flt = request.states, request.active, request.flt
        version = self.changes.data_version()
        self._fetched_version = version
        counts = queries.counts(flt.campaign_id)
        tables = None
        if flt.text:
            row_id = states[active].cursor_id
        else:
            tables = [fetch_table(queries, state, counts) for state in states]
            chosen = tables[active]
            row = chosen.row_at(chosen.cursor) if chosen.total else None
            row_id = row.id if row is not None else None
        detail = queries.detail(row_id) if row_id is not None else None
        restart = request.last_event_id == 0
        if restart:
            events = queries.latest_events(EVENT_BACKLOG)
        else:
            events = queries.events_after(request.last_event_id, EVENT_FETCH)
            if len(events) == EVENT_FETCH:  # a burst: show the newest, not the first thousand
                events, restart = queries.latest_events(EVENT_BACKLOG), True
        resolved = [e for e in queries.events_by_id(request.parked_ids) if e.outcome != "parked"]
        return ScreenData(
            counts,
            tables,
            detail,
            row_id,
            events,
            restart,
            detail_screen=queries.detail(request.screen_id) if request.screen_id else None,
            campaigns=len(queries.campaigns()) if counts.total == 0 else 1,
            flt=flt,
            resolved=resolved,
            version=version,
            campaign_statuses=queries.campaign_statuses(),
            stale=queries.stale_count(timefmt.utc_now()),
        )

    def _refresh_failed(self) -> None:
        """A query found the database locked: say so, and try again on the next change."""
        self._refreshing = False
        self._queries_busy = True
        self._show_busy()
        self.set_timer(BUSY_RETRY_S, self.request_refresh)

    def _refresh_done(self) -> None:
        if self._refresh_again:
            # changes came in while this one ran: a burst; gather it a moment, then once more
            self.set_timer(REFRESH_THROTTLE_S, self._start_refresh)
        else:
            self._refreshing = False

    def _show_screen(self, data: ScreenData) -> None:
        if self._queries_busy:
            self._queries_busy = False
            self._show_busy()
        if self.paused:  # paused while the fetch ran: hold the screen still
            self._refreshing = False
            self._stale = True
            return
        with self.batch_update():
            header = self.query_one(DashboardHeader)
            header.counts = data.counts
            header.campaign_status = campaign_status_label(data.campaign_statuses, data.flt)
            header.stale = data.stale
            header.loaded = True
            empty = data.counts.total == 0 and data.campaigns == 0 and data.flt == NO_FILTER
            self.query_one("#empty").display = empty
            for number, table in enumerate(self.tables):
                table.display = not empty
                if data.tables is not None and data.flt == self.flt:
                    table.apply(data.tables[number], data.counts)
                else:  # a text filter's rows come from its worker; a stale filter's go unseen
                    table.set_counts(data.counts)
            if data.tables is not None and data.flt == self.flt:
                self._land_on_a_group_with_matches()
            self._show_refreshed_detail(data)
            panel = self.query_one(EventPanel)
            panel.add_events(data.events, restart=data.events_restart)
            panel.update_events(data.resolved)
            if data.detail_screen is not None and isinstance(self.screen, DetailScreen):
                self.screen.update_detail(data.detail_screen)
        self.call_after_refresh(self._refreshed_on_screen, "refresh")
        if data.flt != self.flt:
            self._refresh_again = True
        self._refresh_done()

    def _refreshed_on_screen(self, kind: str) -> None:
        """Runs once the frame showing fetched data is painted: the public signal of it."""
        now = time.monotonic()
        if kind == "refresh":
            self.refresh_count += 1
            self.last_refresh = now
        message = ScreenRefreshed(kind, self.refresh_count, now)
        self.screen_refreshed.publish(message)
        self.post_message(message)

    # ---- a text filter: its tables come from their own worker, which a new filter cancels ----

    def _request_filtered(self, *, restart: bool = False) -> None:
        if self._filtering and not restart:
            self._filter_again = True
            return
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        if self._filtering:
            self.filter_queries.interrupt()  # the old filter's scan stops where it is
        self._filtering = True
        self._filter_again = False
        for table in self.tables:
            table.set_filtering(True)
        self._fetch_filtered([t.state() for t in self.tables], self.flt)

    @work(thread=True, exclusive=True, group="filter")
    def _fetch_filtered(self, states: list[TableState], flt: Filter) -> None:
        worker = get_current_worker()
        tables = []
        try:
            for state in states:
                if worker.is_cancelled:
                    return  # a newer filter came while this one waited its turn: latest wins
                tables.append(fetch_table(self.filter_queries, state, None))
        except sqlite3.OperationalError as error:
            if worker.is_cancelled:
                return  # interrupted for a newer filter, which has its own worker
            if not is_busy_error(error) and "interrupted" not in str(error):
                raise
            self.call_from_thread(self._filtered_failed, flt, is_busy_error(error))
            return
        if not worker.is_cancelled:
            self.call_from_thread(self._show_filtered, tables, flt)

    def _filtered_failed(self, flt: Filter, busy: bool) -> None:
        if flt != self.flt:
            return
        self._filtering = False
        if busy:
            self._queries_busy = True
            self._show_busy()
            self.set_timer(BUSY_RETRY_S, self._request_filtered)
        else:
            self._request_filtered()

    def _show_filtered(self, tables: list[TableData], flt: Filter) -> None:
        if flt != self.flt:
            return  # a newer filter is on its way
        again = self._filter_again
        self._filtering = False
        if self.paused:
            self._stale = True
            return
        with self.batch_update():
            header = self.query_one(DashboardHeader)
            for table, table_data in zip(self.tables, tables, strict=True):
                table.apply(table_data, header.counts)
                table.set_filtering(False)
            self._land_on_a_group_with_matches()
        self.call_after_refresh(self._refreshed_on_screen, "filter")
        if again:
            self._filtering = True
            self._filter_timer = self.set_timer(REFRESH_THROTTLE_S, self._filter_once_more)

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
                self._active = table
                if not self._typing_filter:  # Enter or Esc gives the focus to it
                    table.focus()
                return

    def _cancel_filtered(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        if self._filtering:
            self.filter_queries.interrupt()
        self.workers.cancel_group(self, "filter")
        self._filtering = False
        self._filter_again = False
        for table in self.tables:
            table.set_filtering(False)

    def _filter_once_more(self) -> None:
        self._filter_timer = None
        self._filtering = False
        if self.flt.text:
            self._request_filtered()

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
        self.call_after_refresh(self._refreshed_on_screen, "rows")

    @on(StatusTable.CursorMoved)
    def show_highlighted_detail(self, message: StatusTable.CursorMoved) -> None:
        if message.table is not self.active_table:
            return
        self._active = message.table
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
            self.call_from_thread(self._detail_failed)
            return False

    @work(thread=True, exclusive=True, group="detail")
    def _fetch_detail(self, ident: str) -> None:
        detail = self._read_detail(ident)
        if detail is not False and not get_current_worker().is_cancelled:
            self.call_from_thread(self._show_detail, ident, detail)

    def _detail_failed(self) -> None:
        self._queries_busy = True
        self._show_busy()
        self._detail_id = None  # fetched again by the next refresh

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
            screen = DetailScreen(detail, raw=raw, at_raw=at_raw)
            self.call_from_thread(self.push_screen, screen)

    # ---- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_SCREEN_ONLY and self.screen is not self.screen_stack[0]:
            return False
        if action == "next_step":
            return self.scenario is not None
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
        self._active = tables[(index + step) % len(tables)]
        self._active.focus()

    def action_previous_group(self) -> None:
        self.action_next_group(-1)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    @property
    def _typing_filter(self) -> bool:
        return isinstance(self.focused, FilterInput)

    def action_filter(self) -> None:
        """The filter bar, with the focus in it now (not a frame later, as focus() would)."""
        bar = self.filter_bar
        bar.display = True
        self.screen.set_focus(bar.input)
        bar.input.cursor_position = len(bar.input.value)

    @on(FilterBar.Typed)
    def filter_as_typed(self, message: FilterBar.Typed) -> None:
        if message.text != self.flt.text:
            self._set_filter(Filter(self.flt.campaign_id, message.text), typed=True)

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
            self._set_filter(Filter(self.flt.campaign_id, text))
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
            self._set_filter(Filter(self.flt.campaign_id, ""))

    def _leave_filter_bar(self) -> None:
        table = self.active_table
        self.screen.set_focus(table if table.display else None)

    def _tell_paused(self) -> None:
        self.notify("Paused: the new filter shows when you resume (p).", markup=False)

    def _set_filter(self, flt: Filter, *, typed: bool = False) -> None:
        """Show a new filter. A new text's rows come from the filter's worker, and the rows
        shown stay until they do (no blank frame between two keys); the refresh is asked for
        only when what it reads changes (a campaign, or the text gone)."""
        before, self.flt = self.flt, flt
        self._land_on_matches = flt != NO_FILTER
        for table in self.tables:
            table.set_filter(flt, keep_rows=bool(flt.text))
        self._detail_id = None
        if bool(flt.text) != bool(before.text):
            self.refresh_bindings()  # Esc clears it, or has nothing to clear
        if self.paused:
            self._stale = True
            if not typed:
                self._tell_paused()
            return
        if flt.text:
            self._request_filtered(restart=True)
        else:
            self._cancel_filtered()
        if not flt.text or flt.campaign_id != before.campaign_id:
            self.request_refresh()

    def action_choose_campaign(self) -> None:
        chooser = CampaignScreen(
            self.queries.campaigns(), self.flt.campaign_id, self.queries.campaign_statuses()
        )
        self.push_screen(chooser, self._set_campaign)

    def action_overview(self) -> None:
        # installed once: opened again, it is only read and painted, not composed
        if not self.is_screen_installed("overview"):
            self.install_screen(OverviewScreen(self.db_path), "overview")
        self.push_screen("overview", self._set_campaign)

    def _set_campaign(self, choice: str | None) -> None:
        if choice is None:
            return
        campaign_id = None if choice == ALL_CAMPAIGNS else choice
        names = dict(self.queries.campaigns())
        self.campaign_name = names.get(campaign_id, "") if campaign_id else ""
        self.query_one(DashboardHeader).campaign_name = self.campaign_name
        self._set_filter(Filter(campaign_id, self.flt.text))

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.query_one(DashboardHeader).paused = self.paused
        if self.paused:
            self.notify(
                "Paused: the screen holds still while files keep being applied. p resumes.",
                markup=False,
            )
        else:
            self.notify("Live again: catching up.", markup=False)
            if self._stale:
                self._stale = False
                self._data_changed()

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
            self.call_from_thread(self._tell, f"Export failed: {error}", "error")
        else:
            self.call_from_thread(self._tell, f"{done.rows:,} campaigncalls in {done.path}")

    def _tell(self, text: str, severity: SeverityLevel = "information") -> None:
        title = "Export" if severity == "error" else "Exported"
        self.notify(visible(text), title=title, severity=severity, timeout=10, markup=False)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[Binding]]]:
        def shown(bindings: list[BindingType]) -> list[Binding]:
            return [b for b in bindings if isinstance(b, Binding)]

        main = shown(self.BINDINGS)
        if self.scenario is None:
            main = [b for b in main if b.action != "next_step"]
        return [
            ("Tables", shown(StatusTable.BINDINGS)),
            ("Everywhere", main),
            ("Filter bar", shown(FilterInput.BINDINGS)),
            ("Detail screen", shown(DetailScreen.BINDINGS)),
            ("Overview", shown(OverviewScreen.BINDINGS)),
        ]

    def action_next_step(self) -> None:
        scenario = self.scenario
        if scenario is None:
            return
        if self.steps_done >= len(scenario.steps):
            self.notify(
                f"{scenario.title}: all {len(scenario.steps)} files are dropped.", markup=False
            )
            return
        step = scenario.steps[self.steps_done]
        self.steps_done += 1
        self._update_step_label()
        self._drop_step_file(step.file)

    @work(thread=True, group="drop")
    def _drop_step_file(self, source: Path) -> None:
        drop_file(source, self.drop_dir, self.scenario_shift)

    def _update_step_label(self) -> None:
        if self.scenario is not None:
            label = self.scenario.step_label(self.steps_done)
            self.query_one(DashboardHeader).step_label = label
