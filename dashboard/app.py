"""The live dashboard: the main screen on the store, with the drop folder's watcher, a link to
VoIPbin and the change poll beside it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import queue
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.screen import Screen
from textual.signal import Signal
from textual.timer import Timer

from dashboard.screens.detail_screen import DetailScreen
from dashboard.screens.help_screen import HelpScreen
from dashboard.screens.main_screen import MainScreen, ScreenRefreshed
from dashboard.screens.overview import OverviewScreen
from dashboard.widgets.filter_bar import FilterInput
from dashboard.widgets.status_table import StatusTable
from store.dropfolder import FileReport
from store.follower import LinkState
from store.queries import Filter, Queries, data_changes
from store.scenarios import Scenario, drop_file
from store.text import visible
from store.watcher import PARK_SECONDS, DropFolderWatcher, WatcherProblem

__all__ = ["CampaigncallsApp", "DropFileApplied", "ScreenRefreshed"]

# The in-app watcher waits this long for another writer's lock before it says "database busy"
# (and tries the file again on its next look, a quarter second later).
WATCHER_BUSY_TIMEOUT_MS = 500
# The screen's process keeps its memory flat: a smaller page cache for its own watcher.
WATCHER_CACHE_MIB = 16
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


@dataclass
class DropFileApplied(Message):
    """The watcher applied (or rejected) one drop file, or expired a parked event."""

    report: FileReport


@dataclass
class WatcherProblemReported(Message):
    """The watcher could not apply a file yet (database locked, disk full): it will retry."""

    problem: WatcherProblem


@dataclass
class DatabaseChanged(Message):
    """Someone (the watcher, another process) committed to the database."""

    version: int


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
    """The standard streams onto /dev/null, and a new screen writer onto it too.

    The old writer's last write failed or soon will (EIO), and a thread dying of that still
    says it is alive for a moment: the driver's stop would then wait forever to hand it its
    last write. So a new writer always takes over, and the old one is let go."""
    nowhere = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(nowhere, fd)
    os.close(nowhere)
    driver = app._driver
    old = getattr(driver, "_writer_thread", None)
    if old is None:
        return
    from textual.drivers._writer_thread import WriterThread

    fresh = WriterThread(open(os.devnull, "w"))  # noqa: SIM115 (open until the process ends)
    fresh.start()
    driver._writer_thread = fresh  # type: ignore[union-attr]
    with contextlib.suppress(queue.Full):
        old._queue.put_nowait(None)  # if it lives, it ends once it has written what it holds


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
    `screen_refreshed` signal (any read data painted).
    """

    CSS_PATH = "app.tcss"
    TITLE = "campaigncalls"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (180, "-very-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    # keys of every screen; the main screen's own are on MainScreen
    BINDINGS: list[BindingType] = [
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
        self.changes = Queries(self.db_path)  # the change poll's own connection
        self.main = MainScreen(self.db_path, self.drop_dir)
        self.steps_done = 0
        self._stop_watching = asyncio.Event()
        self._signals_replaced: dict[int, object] = {}
        self._rejections = RejectionToast()
        self._rejection_timer: Timer | None = None
        self._frozen = False  # gc.freeze() done

    def get_default_screen(self) -> Screen[None]:
        return self.main

    # what tests and benchmarks watch, read off the main screen
    @property
    def tables(self) -> list[StatusTable]:
        return self.main.tables

    @property
    def active_table(self) -> StatusTable:
        return self.main.active_table

    @property
    def flt(self) -> Filter:
        return self.main.flt

    @property
    def paused(self) -> bool:
        return self.main.paused

    @property
    def campaign_name(self) -> str:
        return self.main.campaign_name

    @property
    def refresh_pending(self) -> bool:
        return self.main.refresh_pending

    @property
    def refresh_count(self) -> int:
        return self.main.refresh_count

    @property
    def last_refresh(self) -> float:
        return self.main.last_refresh

    @property
    def screen_refreshed(self) -> Signal[ScreenRefreshed]:
        return self.main.screen_refreshed

    @property
    def filter_queries(self) -> Queries:
        return self.main.filter_queries

    @property
    def database_busy(self) -> bool:
        return self.main.database_busy

    def request_refresh(self) -> None:
        self.main.request_refresh()

    def on_mount(self) -> None:
        self._end_on_signals()
        self._update_step_label()
        if self.watch_folder:
            self._watch_drop_folder()
        if self.link is not None:
            self._run_link()
            self.set_interval(1.0, self.main.header.refresh)  # "N s ago" ticks
        self._follow_changes()

    @on(ScreenRefreshed)
    def _freeze_what_stays(self, message: ScreenRefreshed) -> None:
        """Once the first screen is painted, what the app holds from then on (modules,
        widgets, styles: most of its objects) is left out of Python's garbage collections.
        A full collection walks every object it tracks; with them it took 100 ms and more
        now and then, in the middle of a key's repaint."""
        if message.kind == "refresh" and not self._frozen:
            self._frozen = True
            gc.collect()  # what is garbage already is not kept for good
            gc.freeze()

    def on_unmount(self) -> None:
        if self._frozen:
            gc.unfreeze()  # collectable again: an app ended is not kept (tests run many)
        self._stop_watching.set()
        self._restore_signals()

    def close_connections(self) -> None:
        """The app's own connections to the database, once it has ended."""
        self.main.close_connections()
        self.changes.close()

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

    # ---- workers: the drop folder, the link, the change signal --------------------------------

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
        header = self.main.header

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
        """Read at once (no wait for the change poll), and tell of anything rejected."""
        main = self.main
        if main.watcher_busy:
            main.watcher_busy = False
            main.show_busy()
        main.data_changed()
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
            self.main.watcher_busy = True
            self.main.show_busy()
            return
        self.notify(
            visible(str(message.problem)), title="Drop folder", severity="warning", markup=False
        )

    @on(DatabaseChanged)
    def refresh_after_change(self, message: DatabaseChanged) -> None:
        if message.version != self.main.fetched_version:
            self.main.data_changed()  # unless a refresh already read this commit

    # ---- keys of every screen ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_step":
            return self.scenario is not None
        return True

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[Binding]]]:
        def shown(bindings: list[BindingType]) -> list[Binding]:
            return [b for b in bindings if isinstance(b, Binding)]

        everywhere = shown(self.BINDINGS)
        if self.scenario is None:
            everywhere = [b for b in everywhere if b.action != "next_step"]
        return [
            ("Tables", shown(StatusTable.BINDINGS)),
            ("Everywhere", shown(MainScreen.BINDINGS) + everywhere),
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
            self.main.header.step_label = self.scenario.step_label(self.steps_done)
