"""What the main screen reads from the store, and when: built without Textual, tested alone.

The screen hands over what it shows now (each table's place, the last event it has, the
parked events it shows, the filter, an open detail); these functions read what it shows
next, on a worker thread. `Scheduler` decides when a read starts: at once when none runs,
folded into one more when asks come while one runs, held while the screen is paused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from store.models import CampaigncallStatus
from store.queries import (
    CampaigncallDetail,
    CampaigncallRow,
    Counts,
    EventRow,
    Filter,
    Queries,
)

PAGE_SIZE = 64  # a table reads its rows in windows of this many
EVENT_BACKLOG = 200  # events shown when the panel starts, or after a burst bigger than a fetch
EVENT_FETCH = 1000


@dataclass
class TableState:
    """What a read needs to know of a table, taken on the UI thread."""

    status: CampaigncallStatus
    flt: Filter
    cursor: int
    cursor_id: str | None
    scroll: int
    rows_in_view: int
    token: int


@dataclass
class TableData:
    """A table's fresh count, cursor, scroll and the windows in view."""

    state: TableState
    total: int
    cursor: int
    scroll: int
    pages: dict[int, list[CampaigncallRow]] = field(default_factory=dict)

    def row_at(self, index: int) -> CampaigncallRow | None:
        return row_in_pages(self.pages, index)


def page_of(index: int) -> int:
    """The window that holds row `index` of a group."""
    return index // PAGE_SIZE


def read_page(
    queries: Queries, status: CampaigncallStatus, page: int, flt: Filter
) -> list[CampaigncallRow]:
    """Blocking: one window of a group's rows."""
    return queries.rows_in_status(status, page * PAGE_SIZE, PAGE_SIZE, flt)


def row_in_pages(pages: Mapping[int, list[CampaigncallRow]], index: int) -> CampaigncallRow | None:
    """The row at `index` of a group, if the window that holds it has been read."""
    page = pages.get(index // PAGE_SIZE)
    offset = index % PAGE_SIZE
    return page[offset] if page is not None and offset < len(page) else None


def read_table(queries: Queries, state: TableState, counts: Counts | None) -> TableData:
    """Blocking: a table's new count, where its cursor's row now stands, and the rows in view."""
    if counts is not None and not state.flt.text:
        total = counts.of(state.status)
    else:
        total = queries.count_in_status(state.status, state.flt)
    cursor = state.cursor
    scroll = state.scroll
    moved_to = None
    if state.cursor_id is not None:
        moved_to = queries.position_in_status(
            state.cursor_id, state.status, state.flt, near=state.cursor
        )
    if moved_to is not None:
        # keep the row where it is on screen, unless the view is at the top (then new rows show)
        if scroll > 0:
            scroll += moved_to - cursor
        cursor = moved_to
    cursor = max(0, min(cursor, total - 1))
    rows = max(1, state.rows_in_view)
    scroll = max(0, min(scroll, total - rows))
    if cursor < scroll:
        scroll = cursor
    elif cursor >= scroll + rows:
        scroll = cursor - rows + 1
    data = TableData(state, total, cursor, scroll)
    if total:
        pages = set(range(page_of(scroll), page_of(min(total - 1, scroll + rows)) + 1))
        if not state.flt.text:
            # Home and End land on rows already read: a group's first and last windows come
            # with every refresh (the far end is read from its own end of the order index, as
            # cheap as the first; a text filter's group is counted only so far, its end unknown)
            pages |= {0, page_of(total - 1)}
        for page in sorted(pages):
            data.pages[page] = read_page(queries, state.status, page, state.flt)
    return data


def read_filtered(
    queries: Queries, states: list[TableState], cancelled: Callable[[], bool]
) -> list[TableData] | None:
    """Blocking: the tables of a text filter, or None once a newer filter made it moot."""
    tables = []
    for state in states:
        if cancelled():
            return None
        tables.append(read_table(queries, state, None))
    return tables


@dataclass(frozen=True)
class ScreenRequest:
    """What one refresh must read: each table's place, the events shown, the open detail."""

    states: list[TableState]
    active: int
    last_event_id: int
    parked_ids: list[int]
    flt: Filter
    screen_id: str | None = None  # the campaigncall of an open detail screen


@dataclass
class ScreenData:
    """Everything one refresh shows, read together."""

    counts: Counts
    tables: list[TableData] | None  # None under a text filter: those come from read_filtered
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

    @property
    def empty(self) -> bool:
        """Nothing loaded at all (not merely nothing matching): the screen says how to load."""
        return self.counts.total == 0 and self.campaigns == 0 and self.flt == Filter()

    @property
    def campaign_status(self) -> str:
        return campaign_status_label(self.campaign_statuses, self.flt)


def read_screen(
    queries: Queries, version: int, request: ScreenRequest, now: datetime
) -> ScreenData:
    """Blocking: one refresh's reads at database `version` (a text filter's tables are read
    by read_filtered)."""
    states, active, flt = request.states, request.active, request.flt
    counts = queries.counts(flt.campaign_id)
    tables = None
    if flt.text:
        row_id = states[active].cursor_id
    else:
        tables = [read_table(queries, state, counts) for state in states]
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
        stale=queries.stale_count(now),
    )


def campaign_status_label(statuses: dict[str, str], flt: Filter) -> str:
    """The chosen campaign's VoIPbin status (run, stopping, stop), or how many of all run."""
    if flt.campaign_id is not None:
        return statuses.get(flt.campaign_id, "")
    running = sum(1 for status in statuses.values() if status == "run")
    return f"{running:,} of {len(statuses):,} running" if statuses else ""


# ---- when to read ---------------------------------------------------------------------------


class Cancellable(Protocol):
    def stop(self) -> None: ...


SetTimer = Callable[[float, Callable[[], None]], Cancellable]


class Lane:
    """One kind of read, at most one at a time. An ask while one runs is folded into one more
    read, `throttle` seconds after it is shown: a burst of a thousand changes costs a dozen
    reads, not a thousand. A read that found the database locked is asked again after `retry`.

    `start` begins a read (on a worker) and says False when there is nothing to read; the
    screen tells the lane `shown()` when the read is on screen, `failed()` when it could not be
    read, `dropped()` when it was read but not shown (the screen paused meanwhile).
    """

    def __init__(
        self,
        start: Callable[[], bool],
        set_timer: SetTimer,
        *,
        throttle: float,
        retry: float,
        interrupt: Callable[[], None] | None = None,
    ) -> None:
        self._start = start
        self._set_timer = set_timer
        self._interrupt = interrupt
        self.throttle = throttle
        self.retry = retry
        self.running = False
        self.again = False
        self._timer: Cancellable | None = None

    @property
    def pending(self) -> bool:
        """A read runs, or waits to run."""
        return self.running or self._timer is not None

    def ask(self, *, restart: bool = False) -> None:
        """Read now, or once more after the read that runs; `restart` stops that one instead
        (a new filter text: the old one's rows are of no use)."""
        if self._timer is not None:
            if not restart:
                return  # waiting to run again: that read takes this ask too
            self._stop_timer()
        elif self.running:
            if not restart:
                self.again = True
                return
            if self._interrupt is not None:
                self._interrupt()
        self._run()

    def shown(self) -> None:
        """The read is on screen: the asks that came meanwhile make one more, a moment later."""
        if self.again:
            self.again = False
            self.running = False
            self._timer = self._set_timer(self.throttle, self._run_later)
        else:
            self.running = False

    def failed(self, *, busy: bool) -> None:
        """Not read: the database was locked (tried again after `retry`) or the read was
        interrupted (tried again at once)."""
        self.running = False
        self.again = False
        if busy:
            self._timer = self._set_timer(self.retry, self._run_later)
        else:
            self._run()

    def dropped(self) -> None:
        self.running = False

    def cancel(self) -> None:
        """No read wanted any more: a running one is interrupted, a waiting one forgotten."""
        self._stop_timer()
        if self.running and self._interrupt is not None:
            self._interrupt()
        self.running = False
        self.again = False

    def _run(self) -> None:
        self.again = False
        self.running = self._start()

    def _run_later(self) -> None:
        self._timer = None
        self._run()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None


class Scheduler:
    """The screen's reads: the refresh (counts, tables, detail, events) and a text filter's
    tables, each in its own lane. While paused, no read starts: the screen holds still, and
    one refresh catches up on resume if anything changed meanwhile."""

    def __init__(
        self,
        set_timer: SetTimer,
        *,
        start_refresh: Callable[[], bool],
        start_filtered: Callable[[], bool],
        interrupt_filtered: Callable[[], None],
        throttle: float,
        retry: float,
    ) -> None:
        self.paused = False
        self.stale = False  # something changed while paused
        self.refresh = Lane(
            self._unless_paused(start_refresh), set_timer, throttle=throttle, retry=retry
        )
        self.filtered = Lane(
            self._unless_paused(start_filtered),
            set_timer,
            throttle=throttle,
            retry=retry,
            interrupt=interrupt_filtered,
        )

    def _unless_paused(self, start: Callable[[], bool]) -> Callable[[], bool]:
        def run() -> bool:
            if self.paused:
                self.stale = True
                return False
            return start()

        return run

    @property
    def pending(self) -> bool:
        return self.refresh.pending or self.filtered.pending

    def held(self, lane: Lane) -> bool:
        """A read came back while paused: it is not shown, and the screen catches up later."""
        if self.paused:
            self.stale = True
            lane.dropped()
        return self.paused

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> bool:
        """Live again: True when something changed meanwhile (the caller asks for it)."""
        self.paused = False
        stale, self.stale = self.stale, False
        return stale
