"""dashboard.data without Textual: what the main screen reads (on a real SQLite file) and when
its reads start (the scheduler, driven by a clock of the test's own)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dashboard.data import (
    PAGE_SIZE,
    Lane,
    Scheduler,
    ScreenRequest,
    TableState,
    campaign_status_label,
    read_filtered,
    read_screen,
    read_table,
)
from store.apply import apply_bytes
from store.bundle import load_bundle
from store.db import connect
from store.queries import NO_FILTER, Filter, Queries
from tests.conftest import FROZEN_NOW
from tests.helpers import CALL, CAMPAIGN, REF, bundle, campaigncall, hangup, write_json

CALLS = 330  # more than five pages of a table


def test_the_data_module_does_not_import_textual() -> None:
    code = "import sys, dashboard.data; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture
def many(tmp_path: Path) -> Queries:
    calls = [
        campaigncall(
            f"ca000000-0000-4000-8000-{i:012d}",
            ref=f"ee000000-0000-4000-8000-{i:012d}",
            tm_create=f"2026-11-20 09:{i // 60:02d}:{i % 60:02d}.000000",
        )
        for i in range(1, CALLS + 1)
    ]
    path = tmp_path / "many.db"
    db = connect(path, create=True)
    load_bundle(db, str(write_json(tmp_path / "b.json", bundle(*calls))))
    db.conn.close()
    queries = Queries(path)
    yield queries
    queries.close()


def ids_in_order(queries: Queries) -> list[str]:
    return [row.id for row in queries.rows_in_status("dialing", 0, CALLS, NO_FILTER)]


def state(
    *, cursor: int = 0, cursor_id: str | None = None, scroll: int = 0, rows: int = 10
) -> TableState:
    return TableState("dialing", NO_FILTER, cursor, cursor_id, scroll, rows, token=1)


def test_a_table_reads_the_windows_in_view_and_its_two_ends(many: Queries) -> None:
    order = ids_in_order(many)
    data = read_table(many, state(cursor=130, scroll=124, rows=10), many.counts())
    assert data.total == CALLS
    assert (data.cursor, data.scroll) == (130, 124)
    # rows 124..134 straddle windows 1 and 2; the first and the last come too, so that Home
    # and End land on rows already read
    last = (CALLS - 1) // PAGE_SIZE
    assert sorted(data.pages) == [0, 1, 2, last]
    assert [data.row_at(i).id for i in range(124, 134)] == order[124:134]  # type: ignore[union-attr]
    assert [data.row_at(i).id for i in range(CALLS - 3, CALLS)] == order[-3:]  # type: ignore[union-attr]
    assert data.row_at(0).id == order[0]  # type: ignore[union-attr]
    assert data.row_at(3 * PAGE_SIZE + 1) is None  # not read


def test_a_text_filter_reads_the_windows_in_view_only(many: Queries) -> None:
    # a text filter's group is counted up to FILTER_COUNT_CAP only: its end is not known
    flt = Filter(text="ca000000-0000-4000-8000-000000000")  # the first 999 ids: all of them
    data = read_table(many, TableState("dialing", flt, 130, None, 124, 10, 1), None)
    assert sorted(data.pages) == [1, 2]


def test_the_cursor_follows_its_row_and_the_view_keeps_it_in_place(many: Queries) -> None:
    order = ids_in_order(many)
    # the row under the cursor was at 20 and now stands at 30: the cursor and view move with it
    data = read_table(many, state(cursor=20, cursor_id=order[30], scroll=15), None)
    assert (data.cursor, data.scroll) == (30, 25)
    # at the top, the view stays at the top (new rows show) and still holds the cursor
    data = read_table(many, state(cursor=2, cursor_id=order[5], scroll=0), None)
    assert (data.cursor, data.scroll) == (5, 0)
    # a row gone from the group: the cursor stays where it was, clamped to the group
    data = read_table(many, state(cursor=400, cursor_id="gone", scroll=395), None)
    assert (data.cursor, data.scroll) == (CALLS - 1, CALLS - 10)


def test_a_text_filter_reads_until_it_is_cancelled(many: Queries) -> None:
    flt = Filter(text="ca000000-0000-4000-8000-00000000012")  # ids ...120 to ...129
    states = [TableState(s, flt, 0, None, 0, 10, 1) for s in ("dialing", "progressing", "done")]
    tables = read_filtered(many, states, lambda: False)
    assert tables is not None
    assert [t.total for t in tables] == [10, 0, 0]
    asked = iter([False, True])
    assert read_filtered(many, states, lambda: next(asked)) is None  # moot after the first


def test_one_refresh_reads_the_counts_the_tables_the_detail_and_the_new_events(
    db_path: Path, queries: Queries
) -> None:
    request = ScreenRequest([state()], active=0, last_event_id=0, parked_ids=[], flt=NO_FILTER)
    first = read_screen(queries, 1, request, FROZEN_NOW)
    assert first.counts.of("dialing") == 1 and not first.empty
    assert first.tables is not None and first.tables[0].total == 1
    assert first.detail_id == CALL and first.detail is not None
    assert first.events == [] and first.events_restart
    assert first.campaign_status == "1 of 1 running"
    assert first.stale == 1  # dialing since 2026-11-20, far past its 30 s dial timeout

    db = connect(db_path)
    apply_bytes(db, "h.json", json.dumps(hangup(REF, "busy")).encode())
    db.conn.close()
    later = ScreenRequest([state()], 0, last_event_id=0, parked_ids=[], flt=NO_FILTER)
    after = read_screen(queries, 2, later, FROZEN_NOW)
    assert [e.outcome for e in after.events] == ["applied"]
    assert after.counts.of("dialing") == 0 and after.counts.of("done") == 1
    assert after.detail is None  # the dialing group it points at is empty now
    following = ScreenRequest(
        [state()], 0, after.events[-1].id, parked_ids=[], flt=NO_FILTER, screen_id=CALL
    )
    nothing_new = read_screen(queries, 3, following, FROZEN_NOW)
    assert nothing_new.events == [] and not nothing_new.events_restart
    assert (
        nothing_new.detail_screen is not None
        and nothing_new.detail_screen.campaigncall["status"] == "done"
    )


def test_the_campaign_label() -> None:
    statuses = {CAMPAIGN: "stopping", "other": "run"}
    assert campaign_status_label(statuses, Filter(campaign_id=CAMPAIGN)) == "stopping"
    assert campaign_status_label(statuses, NO_FILTER) == "1 of 2 running"
    assert campaign_status_label({}, NO_FILTER) == ""


# ---- when reads start ----------------------------------------------------------------------


class Clock:
    """Timers of the test's own: they fire when the test moves time on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[Clock.Timer] = []

    class Timer:
        def __init__(self, clock: Clock, at: float, callback: Callable[[], None]) -> None:
            self.clock, self.at, self.callback = clock, at, callback

        def stop(self) -> None:
            if self in self.clock.timers:
                self.clock.timers.remove(self)

    def set_timer(self, delay: float, callback: Callable[[], None]) -> Clock.Timer:
        timer = Clock.Timer(self, self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for timer in [t for t in self.timers if t.at <= self.now]:
            self.timers.remove(timer)
            timer.callback()


class Reads:
    """Counts the reads a lane starts, and the interrupts it sends."""

    def __init__(self) -> None:
        self.started = 0
        self.interrupted = 0
        self.has_work = True

    def start(self) -> bool:
        self.started += 1
        return self.has_work

    def interrupt(self) -> None:
        self.interrupted += 1


@pytest.fixture
def clock() -> Clock:
    return Clock()


def lane(clock: Clock, reads: Reads) -> Lane:
    return Lane(reads.start, clock.set_timer, throttle=0.1, retry=0.5, interrupt=reads.interrupt)


def test_a_burst_of_asks_while_a_read_runs_makes_one_more_read(clock: Clock) -> None:
    reads = Reads()
    refresh = lane(clock, reads)
    refresh.ask()
    assert reads.started == 1 and refresh.pending
    for _ in range(1000):
        refresh.ask()
    assert reads.started == 1  # folded
    refresh.shown()
    assert reads.started == 1 and refresh.pending  # the one more waits out the throttle
    refresh.ask()
    assert reads.started == 1  # a waiting read takes this ask too
    clock.advance(0.05)
    assert reads.started == 1
    clock.advance(0.05)
    assert reads.started == 2
    refresh.shown()
    assert not refresh.pending and clock.timers == []


def test_an_ask_when_idle_reads_at_once_and_nothing_to_read_leaves_it_idle(clock: Clock) -> None:
    reads = Reads()
    reads.has_work = False
    refresh = lane(clock, reads)
    refresh.ask()
    assert reads.started == 1 and not refresh.pending
    refresh.ask()
    assert reads.started == 2


def test_a_restart_interrupts_the_running_read(clock: Clock) -> None:
    reads = Reads()
    filtered = lane(clock, reads)
    filtered.ask()
    filtered.ask(restart=True)
    assert (reads.started, reads.interrupted) == (2, 1)
    filtered.failed(busy=False)  # the interrupted read says so: it is read again at once
    assert reads.started == 3


def test_a_locked_database_is_tried_again_after_the_retry(clock: Clock) -> None:
    reads = Reads()
    refresh = lane(clock, reads)
    refresh.ask()
    refresh.ask()  # would make one more, but a failed read retries instead
    refresh.failed(busy=True)
    assert reads.started == 1 and refresh.pending
    clock.advance(0.4)
    assert reads.started == 1
    clock.advance(0.1)
    assert reads.started == 2


def test_cancel_forgets_a_waiting_read_and_interrupts_a_running_one(clock: Clock) -> None:
    reads = Reads()
    filtered = lane(clock, reads)
    filtered.ask()
    filtered.cancel()
    assert reads.interrupted == 1 and not filtered.pending
    filtered.ask()
    filtered.failed(busy=True)
    filtered.cancel()
    clock.advance(1)
    assert reads.started == 2 and not filtered.pending


def test_a_paused_screen_starts_no_read_and_catches_up_once_on_resume(clock: Clock) -> None:
    refreshes, filters = Reads(), Reads()
    reads = Scheduler(
        clock.set_timer,
        start_refresh=refreshes.start,
        start_filtered=filters.start,
        interrupt_filtered=filters.interrupt,
        throttle=0.1,
        retry=0.5,
    )
    assert not reads.resume()  # nothing changed: nothing to catch up on
    reads.refresh.ask()
    reads.pause()
    assert reads.held(reads.refresh)  # the read that was running comes back: not shown
    assert not reads.refresh.pending
    for _ in range(5):
        reads.refresh.ask()
        reads.filtered.ask()
    assert (refreshes.started, filters.started) == (1, 0)
    assert not reads.pending
    assert reads.resume()  # something changed meanwhile: the caller asks once
    assert not reads.resume()
    assert not reads.held(reads.refresh)
