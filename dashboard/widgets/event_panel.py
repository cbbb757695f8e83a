"""The event panel: each event read from the drop folder, as it is applied, newest at the bottom."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from dashboard.render import OUTCOME_STYLES, clean, short_id
from store.queries import EventRow

MAX_EVENT_LINES = 500


def event_line(event: EventRow) -> Text:
    """time, file, campaigncall, reason, outcome; a rejected event with its reason, in red."""
    where = event.file if event.position is None else f"{event.file}#{event.position + 1}"
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(clean(event.tm[11:19]), "dim")
    line.append(" ")
    line.append(f"{event.outcome:<9}", OUTCOME_STYLES.get(event.outcome, ""))
    line.append(" ")
    line.append(clean(where))
    line.append(" ")
    line.append(short_id(event.campaigncall_id) or "-", "cyan")
    line.append(" ")
    line.append(clean(event.type or "?"), "dim")
    if event.reason:
        line.append(" ")
        line.append(clean(event.reason), "italic")
    if event.error:
        line.append(": ")
        line.append(clean(event.error), "bold red")
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
        height: 8;
        background: $surface;
    }
    EventPanel:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=MAX_EVENT_LINES, wrap=False, auto_scroll=True, id=id)
        self.last_event_id = 0
        self.seen = 0
        self.border_title = "Events"
        self._update_title()

    def add_events(self, new: list[EventRow], *, restart: bool = False) -> None:
        if restart:
            self.clear()
        if not new:
            if restart:
                self._update_title()
            return
        follow = self.is_vertical_scroll_end or self.max_scroll_y == 0
        for event in new:
            self.write(event_line(event), scroll_end=follow)
        self.last_event_id = new[-1].id
        self.seen += len(new)
        self._update_title()

    def _update_title(self) -> None:
        if self.last_event_id == 0:
            self.border_title = "Events: none yet; drop a JSON file into the folder"
        else:
            self.border_title = f"Events (newest at the bottom; {self.last_event_id:,} in all)"
