"""Screens that know when the frame showing their new data has been composed."""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.screen import Screen

ResultT = TypeVar("ResultT")

# Textual's method that composes a screen's frame, overridden below; should a release rename
# it, frames are told after the repaint as before, rather than never
_FRAMES_SEEN = hasattr(Screen, "_compositor_refresh")
# Textual's own idle step and the update its timer runs, used below to compose a frame with new
# data at once; should a release rename them, the frame waits for the timer's tick as before
_PAINTS_AT_ONCE = _FRAMES_SEEN and all(
    hasattr(Screen, name) for name in ("_on_idle", "_on_timer_update")
)


class PaintTimedScreen(Screen[ResultT]):
    """A screen that tells when the first frame showing data it was given is composed and
    handed to the terminal: `paint_pending(kind)` as the data goes into the widgets, then
    `frame_painted(kind)` once per kind, right after that frame.

    Not by `call_after_refresh`: Textual runs those once the screen is idle, which may be a
    frame or more later (a row's detail still coming, a table measuring its columns); a
    benchmark or a test waiting on them waited for those frames too.
    """

    def __init__(
        self, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._unpainted: list[str] = []

    def paint_pending(self, kind: str) -> None:
        if self.is_current and _FRAMES_SEEN:
            self._unpainted.append(kind)
        else:  # covered by another screen: after that screen's next repaint, as before
            self.call_after_refresh(self.frame_painted, kind)

    async def _on_idle(self, event: events.Idle) -> None:
        # Data given to the widgets is composed as soon as the screen is idle, not at the update
        # timer's next tick: after a frame (the key's own, an echo in an input) that tick comes
        # 17 to 33 ms later (Textual skips to the next-but-one tick once its timer was paused).
        # The update is the one the timer runs, as Textual's own Pilot.pause runs it.
        if (
            self._unpainted
            and _PAINTS_AT_ONCE
            and self.is_current
            and not getattr(self.app, "_batch_count", 0)
            and getattr(self, "_dirty_widgets", None)
        ):
            self._on_timer_update()
        await super()._on_idle(event)

    def _compositor_refresh(self) -> None:
        super()._compositor_refresh()
        # a frame is output only for the screen on top, and not within a batch of updates
        if self._unpainted and self.is_current and not getattr(self.app, "_batch_count", 0):
            kinds = list(dict.fromkeys(self._unpainted))
            self._unpainted.clear()
            for kind in kinds:
                self.frame_painted(kind)

    def frame_painted(self, kind: str) -> None:
        """The frame with the data of `kind` is composed (what the screen then tells)."""
