"""Watching a running app: when a condition first holds in a frame the compositor paints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.app import App

from dashboard.widgets.header import DashboardHeader
from dashboard.widgets.status_table import StatusTable


class ScreenProbe:
    """Wraps `App._display`, called with each compositor update (also headless, where it draws
    nothing): a condition met at that moment is in the frame just painted."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.frames = 0
        self._waiting: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or app._batch_count:
                return
            self.frames += 1
            now = time.monotonic()
            for entry in list(self._waiting):
                condition, future = entry
                if not future.done() and condition():
                    future.set_result(now)
                    self._waiting.remove(entry)

        app._display = display  # type: ignore[method-assign]

    async def until(self, condition: Callable[[], bool], timeout: float = 30.0) -> float:
        """time.monotonic() of the first painted frame in which `condition()` holds."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append((condition, future))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
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
