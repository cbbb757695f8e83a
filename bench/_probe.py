"""Watching a running app through public hooks: when a condition first holds on screen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.app import App

from dashboard.widgets.header import DashboardHeader
from dashboard.widgets.status_table import StatusTable

# Between two looks at a quiet screen (nothing to repaint): the bias of a pure key-press figure.
IDLE_LOOK_S = 0.001


class ScreenProbe:
    """Checks conditions just after the screen is repainted, by two public hooks:

    - the dashboard's `screen_refreshed` signal, published once the frame that shows data
      fetched from the store (a refresh, a filter, a table's windows) has been painted;
    - Textual's `App.wait_for_refresh()`, which returns after the next repaint (at once when
      nothing is pending), for frames that need no fetch, like a cursor moved by a key.
    """

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.refreshes = 0
        self._subscribed = False
        self._waiting: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []

    def _subscribe(self) -> None:
        signal = getattr(self.app, "screen_refreshed", None)
        if self._subscribed or signal is None or not self.app.is_running:
            return
        signal.subscribe(self.app, self._refreshed, immediate=True)
        self._subscribed = True

    def _refreshed(self, message: Any) -> None:
        self.refreshes += 1
        self._check(message.at)

    def _check(self, at: float) -> None:
        for entry in list(self._waiting):
            condition, future = entry
            if not future.done() and condition():
                future.set_result(at)
                self._waiting.remove(entry)

    async def _look_after_repaints(self, future: asyncio.Future[float]) -> None:
        while not future.done():
            if not self.app.is_running:  # not started yet
                await asyncio.sleep(0.005)
                continue
            self._subscribe()
            await self.app.wait_for_refresh()
            self._check(time.monotonic())
            await asyncio.sleep(IDLE_LOOK_S)

    async def until(self, condition: Callable[[], bool], timeout: float = 30.0) -> float:
        """time.monotonic() of the first repaint after which `condition()` holds."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append((condition, future))
        looking = asyncio.ensure_future(self._look_after_repaints(future))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            looking.cancel()
            self._waiting = [w for w in self._waiting if w[1] is not future]


def rows_in_view(table: StatusTable) -> list[str] | None:
    """Ids of the rows the table shows now, or None while a row in view is not fetched yet."""
    top = int(table.scroll_y)
    last = min(table.total, top + table.rows_in_view)
    ids = []
    for index in range(top, last):
        row = table.row_at(index)
        if row is None:
            return None
        ids.append(row.id)
    return ids


def full_screen(app: App[Any]) -> bool:
    """The header has its counts and every status table shows the rows in its view."""
    try:
        header = app.query_one(DashboardHeader)
        tables = list(app.query(StatusTable))
    except Exception:
        return False
    if not header.loaded or not tables:
        return False
    return all(t.loaded and rows_in_view(t) is not None for t in tables)
