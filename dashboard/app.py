"""The live dashboard: status tables, detail pane and event panel on the store, with a watcher."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from dashboard.render import clean
from dashboard.screens.choosers import ALL_CAMPAIGNS, CampaignScreen, FilterScreen
from dashboard.screens.detail_screen import DetailScreen
from dashboard.screens.help_screen import HelpScreen
from dashboard.widgets.detail_pane import DetailPane
from dashboard.widgets.event_panel import EventPanel
from dashboard.widgets.header import DashboardHeader
from dashboard.widgets.status_table import StatusTable, TableData, TableState, fetch_table
from store.apply import FileReport
from store.models import CAMPAIGNCALL_STATUSES
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
from store.watcher import DropFolderWatcher

# A refresh starts at most this often; changes in between are folded into the next one.
REFRESH_THROTTLE_S = 0.08
EVENT_BACKLOG = 200  # events shown when the panel starts, or after a burst bigger than a fetch
EVENT_FETCH = 1000


MAIN_SCREEN_ONLY = frozenset({"filter", "clear_filter", "choose_campaign", "toggle_raw"})


class DropFileApplied(Message):
    """The watcher applied (or rejected) one drop file."""

    def __init__(self, report: FileReport) -> None:
        super().__init__()
        self.report = report


class DatabaseChanged(Message):
    """Someone (the watcher, another process) committed to the database."""

    def __init__(self, version: int) -> None:
        super().__init__()
        self.version = version


@dataclass
class ScreenData:
    """Everything one refresh shows, fetched together in a thread."""

    counts: Counts
    tables: list[TableData]
    detail: CampaigncallDetail | None
    detail_id: str | None
    events: list[EventRow]
    events_restart: bool
    detail_screen: CampaigncallDetail | None = None
    campaigns: int = 0
    flt: Filter = field(default_factory=Filter)


class CampaigncallsApp(App[None]):
    """Campaigncalls grouped by status, live from SQLite and a drop folder."""

    CSS_PATH = "app.tcss"
    TITLE = "campaigncalls"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (180, "-very-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    BINDINGS: list[BindingType] = [
        Binding("slash", "filter", "Filter", tooltip="Filter by any id, target or name"),
        Binding("escape", "clear_filter", "Clear filter", tooltip="Clear the filter"),
        Binding("c", "choose_campaign", "Campaign", tooltip="Show one campaign, or all"),
        Binding(
            "p",
            "toggle_pause",
            "Pause",
            tooltip="Pause or resume live updates (files are still applied)",
        ),
        Binding("r", "toggle_raw", "Raw", tooltip="Raw JSON of the record and its events"),
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
    ) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.drop_dir = Path(drop_dir)
        self.scenario = scenario
        self.watch_folder = watch
        self.queries = Queries(self.db_path)
        self.flt: Filter = NO_FILTER
        self.paused = False
        self.raw = False
        self.steps_done = 0
        self.campaign_name = ""
        self._stale = False
        self._refreshing = False
        self._refresh_again = False
        self._last_refresh = 0.0
        self._refresh_count = 0
        self._detail_id: str | None = None
        self._stop_watching = asyncio.Event()

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
        yield Footer(show_command_palette=False)

    def _empty_text(self) -> Text:
        db, drop = clean(str(self.db_path)), clean(str(self.drop_dir))
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

    @on(events.DescendantFocus)
    def remember_active_table(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, StatusTable):
            self._active = event.widget

    def on_mount(self) -> None:
        for table in self.tables:
            table.queries = self.queries
        self.query_one("#empty").display = False
        self._active = self.tables[0]
        self._active.focus()
        self._update_step_label()
        if self.watch_folder:
            self._watch_drop_folder()
        self._follow_changes()
        self.call_after_refresh(self.request_refresh)

    def on_unmount(self) -> None:
        self._stop_watching.set()

    # ---- workers: the drop folder, the change signal -------------------------------------------

    @work(exclusive=True, group="watcher")
    async def _watch_drop_folder(self) -> None:
        watcher = await asyncio.to_thread(
            DropFolderWatcher,
            self.db_path,
            self.drop_dir,
            lambda report: self.post_message(DropFileApplied(report)),
        )
        try:
            await watcher.run(self._stop_watching)
        finally:
            watcher.close()

    @work(exclusive=True, group="changes")
    async def _follow_changes(self) -> None:
        # its own connection, so polling never waits behind a long query
        changes = await asyncio.to_thread(Queries, self.db_path)
        try:
            async for version in data_changes(changes):
                self.post_message(DatabaseChanged(version))
        finally:
            changes.close()

    @on(DropFileApplied)
    def tell_of_rejected_file(self, message: DropFileApplied) -> None:
        report = message.report
        if not report.rejected:
            return
        errors = [o.error for o in report.outcomes if o.outcome == "rejected" and o.error]
        first = errors[0] if errors else "rejected"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        self.notify(
            f"{report.path.name}: {first}{more}",
            title="File rejected",
            severity="error",
            timeout=8,
            markup=False,
        )

    @on(DatabaseChanged)
    def refresh_after_change(self) -> None:
        self.request_refresh()

    # ---- refreshing the screen from the store -----------------------------------------------

    def request_refresh(self) -> None:
        """Fetch what the screen shows, in a thread; bursts are folded into one refresh."""
        if self.paused:
            self._stale = True
            return
        if self._refreshing:
            self._refresh_again = True
            return
        wait = self._last_refresh + REFRESH_THROTTLE_S - time.monotonic()
        if wait > 0:
            self._refreshing = True
            self.set_timer(wait, self._start_refresh)
            return
        self._refreshing = True
        self._start_refresh()

    def _start_refresh(self) -> None:
        self._refreshing = True
        self._refresh_again = False
        tables = self.tables
        active = tables.index(self.active_table)
        events = self.query_one(EventPanel)
        screen_id = None
        if isinstance(self.screen, DetailScreen):
            screen_id = str(self.screen.detail.campaigncall.get("id"))
        self._fetch_screen(
            [t.state() for t in tables], active, events.last_event_id, self.flt, screen_id
        )

    @work(thread=True, exclusive=True, group="refresh")
    def _fetch_screen(
        self,
        states: list[TableState],
        active: int,
        last_event_id: int,
        flt: Filter,
        screen_id: str | None,
    ) -> None:
        queries = self.queries
        counts = queries.counts(flt.campaign_id)
        tables = [fetch_table(queries, state, counts) for state in states]
        chosen = tables[active]
        row = chosen.row_at(chosen.cursor) if chosen.total else None
        detail = queries.detail(row.id) if row is not None else None
        restart = last_event_id == 0
        if restart:
            events = queries.latest_events(EVENT_BACKLOG)
        else:
            events = queries.events_after(last_event_id, EVENT_FETCH)
            if len(events) == EVENT_FETCH:  # a burst: show the newest, not the first thousand
                events, restart = queries.latest_events(EVENT_BACKLOG), True
        campaigns = len(queries.campaigns()) if counts.total == 0 else 1
        data = ScreenData(
            counts,
            tables,
            detail,
            row.id if row is not None else None,
            events,
            restart,
            detail_screen=queries.detail(screen_id) if screen_id else None,
            campaigns=campaigns,
            flt=flt,
        )
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self._show_screen, data)

    def _show_screen(self, data: ScreenData) -> None:
        self._refreshing = False
        self._last_refresh = time.monotonic()
        self._refresh_count += 1
        if self.paused:  # paused while the fetch ran: hold the screen still
            self._stale = True
            return
        with self.batch_update():
            header = self.query_one(DashboardHeader)
            header.counts = data.counts
            header.loaded = True
            empty = data.counts.total == 0 and data.campaigns == 0 and data.flt == NO_FILTER
            self.query_one("#empty").display = empty
            for table, table_data in zip(self.tables, data.tables, strict=True):
                table.display = not empty
                table.apply(table_data, data.counts)
            self._detail_id = data.detail_id
            self.query_one(DetailPane).show(data.detail, raw=self.raw)
            self.query_one(EventPanel).add_events(data.events, restart=data.events_restart)
            if data.detail_screen is not None and isinstance(self.screen, DetailScreen):
                self.screen.update_detail(data.detail_screen)
        if self._refresh_again or data.flt != self.flt:
            self.request_refresh()

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

    @work(thread=True, exclusive=True, group="detail")
    def _fetch_detail(self, ident: str) -> None:
        detail = self.queries.detail(ident)
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self._show_detail, ident, detail)

    def _show_detail(self, ident: str, detail: CampaigncallDetail | None) -> None:
        if ident == self._detail_id:
            self.query_one(DetailPane).show(detail, raw=self.raw)

    @on(StatusTable.RowChosen)
    def open_detail_screen(self, message: StatusTable.RowChosen) -> None:
        self._fetch_for_screen(message.row.id, self.raw)

    @work(thread=True, exclusive=True, group="detail-screen")
    def _fetch_for_screen(self, ident: str, raw: bool) -> None:
        detail = self.queries.detail(ident)
        if detail is not None:
            self.call_from_thread(self.push_screen, DetailScreen(detail, raw=raw))

    # ---- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if isinstance(self.screen, DetailScreen) and action in MAIN_SCREEN_ONLY:
            return False
        if action == "next_step":
            return self.scenario is not None
        if action == "clear_filter":
            return bool(self.flt.text)
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

    def action_filter(self) -> None:
        self.push_screen(FilterScreen(self.flt.text), self._set_filter_text)

    def _set_filter_text(self, text: str | None) -> None:
        if text is None:
            return
        self._set_filter(Filter(self.flt.campaign_id, text))

    def action_clear_filter(self) -> None:
        if self.flt.text:
            self._set_filter(Filter(self.flt.campaign_id, ""))

    def _set_filter(self, flt: Filter) -> None:
        self.flt = flt
        for table in self.tables:
            table.set_filter(flt)
        self._detail_id = None
        self.refresh_bindings()
        if self.paused:
            self._stale = True
            self.notify("Paused: the new filter shows when you resume (p).", markup=False)
            return
        self.request_refresh()

    def action_choose_campaign(self) -> None:
        self.push_screen(
            CampaignScreen(self.queries.campaigns(), self.flt.campaign_id), self._set_campaign
        )

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
                self.request_refresh()

    def action_toggle_raw(self) -> None:
        self.raw = not self.raw
        pane = self.query_one(DetailPane)
        if pane.display:
            pane.show(pane.detail, raw=self.raw)
        elif (row := self.active_table.cursor_row) is not None:
            self._fetch_for_screen(row.id, True)

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
            ("Detail screen", shown(DetailScreen.BINDINGS)),
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
        drop_file(source, self.drop_dir)

    def _update_step_label(self) -> None:
        if self.scenario is not None:
            label = self.scenario.step_label(self.steps_done)
            self.query_one(DashboardHeader).step_label = label
