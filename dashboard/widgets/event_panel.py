"""The event panel: each event read from the drop folder, as it is applied, newest at the bottom."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import RichLog

from dashboard.render import ERROR_STYLES, OUTCOME_STYLES, short_id
from store.queries import EventRow
from store.text import visible

MAX_EVENT_LINES = 500
TEXT_CHARS = 400  # a line shows less than this; a huge field is cut before it is escaped


def _cut(value: object) -> str:
    return visible(str(value)[:TEXT_CHARS])


def event_line(event: EventRow) -> Text:
    """time, outcome, file, campaigncall, type, reason; a rejected event in red with its reason,
    a parked one in magenta with what it waits for."""
    where = event.file if event.position is None else f"{event.file}#{event.position + 1}"
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(_cut(event.tm[11:19]), "dim")
    line.append(" ")
    line.append(f"{_cut(event.outcome):<9}", OUTCOME_STYLES.get(event.outcome, ""))
    line.append(" ")
    line.append(_cut(where))
    line.append(" ")
    line.append(short_id(event.campaigncall_id) or "-", "cyan")
    line.append(" ")
    line.append(_cut(event.type or "?"), "dim")
    if event.reason and not (event.summary or "").startswith(event.reason):
        line.append(" ")
        line.append(_cut(event.reason), "italic")
    if event.outcome == "parked":
        # the id it waits for is the one shown; the full sentence is in the detail
        line.append(": ")
        line.append("waiting for its campaigncall", ERROR_STYLES["parked"])
    elif event.error:
        line.append(": ")
        line.append(_cut(event.error), ERROR_STYLES.get(event.outcome, "bold red"))
    elif event.summary:
        # what it did, in the store's words (busy → fail · target idle · retry slot 0 try 2 ...)
        line.append(": ")
        line.append(_cut(event.summary), "dim" if event.outcome == "ignored" else "")
    if event.outcome == "rejected":
        line.stylize("on #3a0000")
    return line


class EventPanel(RichLog, can_focus=False):
    """Follows the newest event until the user scrolls up."""

    DEFAULT_CSS = """
    EventPanel {
        border: round $panel-lighten-2;
        border-title-style: bold;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;  /* lines end in … at the panel's width: no scrollbar takes a line */
        height: 8;
        background: $surface;
    }
    EventPanel:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=MAX_EVENT_LINES, wrap=False, auto_scroll=True, id=id)
        self.last_event_id = 0
        self.seen = 0
        self.ignored = 0  # ignored events read (hidden unless show_ignored)
        self.show_ignored = False
        self.shown: deque[EventRow] = deque(maxlen=MAX_EVENT_LINES)
        self._written_width: int | None = None
        self.border_title = "Events"
        self._update_title()

    def on_mount(self) -> None:
        # anchored, Textual keeps the view at its end (through resizes too) until the user
        # scrolls up, and anchors it again when they scroll back to the end, as toolong does
        self.anchor()

    @property
    def following(self) -> bool:
        """At the newest event: anchored, and the user has not scrolled away (Textual's own
        anchor state; the scroll offset alone is stale between a resize and its layout)."""
        return self.is_anchored and not getattr(self, "_anchor_released", False)

    def on_resize(self) -> None:
        """A new width: the lines are drawn again, to end in … at it."""
        if self.shown and self._line_width() != self._written_width:
            self._rewrite(list(self.shown))

    def parked_ids(self) -> list[int]:
        """Events shown as parked: re-read on each refresh to see them released or expired."""
        return [e.id for e in self.shown if e.outcome == "parked"]

    def _listed(self, event: EventRow) -> bool:
        return self.show_ignored or event.outcome != "ignored"

    def toggle_ignored(self) -> None:
        """Show or hide the ignored events (VoIPbin's traffic the dashboard has no use for)."""
        self.show_ignored = not self.show_ignored
        self._rewrite(list(self.shown))
        self._update_title()

    def add_events(self, new: list[EventRow], *, restart: bool = False) -> None:
        if restart:
            self.clear()
            self.shown.clear()
            self.ignored = 0
        if not new:
            if restart:
                self._update_title()
            return
        follow = self.following
        width = self._written_width = self._line_width()
        for event in new:
            if event.outcome == "ignored":
                self.ignored += 1
            if self._listed(event):
                self.write(event_line(event), width=width, scroll_end=follow)
        self.shown.extend(new)
        self.last_event_id = new[-1].id
        self.seen += len(new)
        self._update_title()

    def update_events(self, changed: list[EventRow]) -> None:
        """Events whose outcome changed since shown (a parked one released or expired)."""
        by_id = {e.id: e for e in changed}
        if not any(e.id in by_id and by_id[e.id] != e for e in self.shown):
            return
        shown = [by_id.get(e.id, e) for e in self.shown]
        # a parked event that ended ignored is counted as such now
        self.ignored += sum(
            1 for e in self.shown if e.id in by_id and by_id[e.id].outcome == "ignored"
            and e.outcome != "ignored"
        )  # fmt: skip
        self._rewrite(shown)
        self._update_title()

    def _rewrite(self, shown: list[EventRow]) -> None:
        """Every line drawn again, the view kept at the newest or where the user left it."""
        follow = self.following
        scroll_y = self.scroll_y
        self.clear()
        width = self._written_width = self._line_width()
        for event in shown:
            if self._listed(event):
                self.write(event_line(event), width=width, scroll_end=False)
        self.shown = deque(shown, maxlen=MAX_EVENT_LINES)
        if follow:
            self.scroll_end(animate=False, immediate=True)
        else:
            self.scroll_to(y=scroll_y, animate=False, immediate=True)

    def _line_width(self) -> int | None:
        """The panel's width: a line ends in … there (RichLog alone measures at most 80)."""
        width = self.scrollable_content_region.width
        return width if width > 0 else None

    def _update_title(self) -> None:
        if self.last_event_id == 0:
            self.border_title = "Events: none yet; drop a JSON file into the folder"
            return
        parked = len(self.parked_ids())
        title = f"Events {self.last_event_id:,}"
        if parked == 1:
            title += " · 1 parked, waiting for its campaigncall"
        elif parked:
            title += f" · {parked:,} parked, waiting for their campaigncalls"
        if self.ignored:
            shown = "shown, i hides" if self.show_ignored else "hidden, i shows"
            title += f" · {self.ignored:,} ignored ({shown})"
        self.border_title = title + " (newest at the bottom)"
