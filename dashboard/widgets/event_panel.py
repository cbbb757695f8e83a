"""The event panel: each event read from the drop folder, as it is applied, newest at the bottom."""

from __future__ import annotations

from collections import deque

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dashboard.render import ERROR_STYLES, OUTCOME_STYLES, short_id, tail
from store.queries import EventRow
from store.text import visible

MAX_EVENT_LINES = 500
STRIP_CACHE = 256  # lines drawn, kept: the panel shows a handful, scrolling brings a few more
TEXT_CHARS = 400  # a line shows less than this; a huge field is cut before it is escaped
FILE_CHARS = 32  # a longer file name (VoIPbin's, the simulator's) shows its end
NARROW_LINE = 118  # a panel narrower than this (a terminal under 120 columns): parts give way
NARROW_FILE_CHARS = 24


def _cut(value: object) -> str:
    return visible(str(value)[:TEXT_CHARS])


def _what_it_did(event: EventRow) -> Text | None:
    """What became of the event, in the store's words (busy → fail · target idle · retry
    slot 0 try 2 ...), why it was rejected, or what it waits for; None when nothing says."""
    if event.outcome == "parked":
        # the id it waits for is the one shown; the full sentence is in the detail
        return Text("waiting for its campaigncall", ERROR_STYLES["parked"])
    if event.error:
        return Text(_cut(event.error), ERROR_STYLES.get(event.outcome, "bold red"))
    if event.summary:
        return Text(_cut(event.summary), "dim" if event.outcome == "ignored" else "")
    return None


def event_line(event: EventRow, width: int | None = None) -> Text:
    """time, outcome, file, campaigncall, type, reason, then what it did; a rejected event in
    red with its reason, a parked one in magenta with what it waits for.

    Narrower than NARROW_LINE (a terminal under 120 columns), what it did comes right after
    the outcome, then where it came from (the file name's end, the campaigncall), and the
    type, which what it did already tells, is left out: the line still says what happened."""
    narrow = width is not None and width < NARROW_LINE
    where = event.file if event.position is None else f"{event.file}#{event.position + 1}"
    where = tail(where[-TEXT_CHARS:], NARROW_FILE_CHARS if narrow else FILE_CHARS)
    source = Text(visible(where))
    if event.campaigncall_id or not narrow:
        source.append(" ")
        source.append(short_id(event.campaigncall_id) or "-", "cyan")
    what = _what_it_did(event)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(_cut(event.tm[11:19]), "dim")
    line.append(" ")
    line.append(f"{_cut(event.outcome):<9}", OUTCOME_STYLES.get(event.outcome, ""))
    line.append(" ")
    if narrow and what is not None:
        line.append_text(what)
        line.append(" · ", "dim")
        line.append_text(source)
    else:
        line.append_text(source)
        line.append(" ")
        line.append(_cut(event.type or "?"), "dim")
        if event.reason and not (event.summary or "").startswith(event.reason):
            line.append(" ")
            line.append(_cut(event.reason), "italic")
        if what is not None:
            line.append(": ")
            line.append_text(what)
    if event.outcome == "rejected":
        line.stylize("on #3a0000")
    return line


class EventPanel(ScrollView, can_focus=False):
    """The events read, newest at the bottom, on Textual's Line API: each line is drawn from its
    event when it comes into view, at the panel's width, so a resize draws the lines in view
    at the new width and nothing is written twice. Follows the newest event until the user
    scrolls up."""

    DEFAULT_CSS = """
    EventPanel {
        border: round $panel-lighten-2;
        border-title-style: bold;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;  /* lines end in … at the panel's width: no scrollbar takes a line */
        overflow-y: scroll;  /* the scrollbar's column is always there: lines keep their width */
        height: 8;
        background: $surface;
        color: $foreground;
    }
    EventPanel:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.last_event_id = 0
        self.seen = 0
        self.ignored = 0  # ignored events read (hidden unless show_ignored)
        self.show_ignored = False
        self.shown: deque[EventRow] = deque(maxlen=MAX_EVENT_LINES)  # every event kept
        self._listed: list[EventRow] = []  # those of them with a line: shown, less the ignored
        self._strips: LRUCache[tuple[EventRow, int, Style], Strip] = LRUCache(STRIP_CACHE)
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
        return self.is_anchored and not self._anchor_released

    @property
    def lines(self) -> list[Strip]:
        """Every listed line as drawn at the panel's width now (for a look at all of them)."""
        width = self._width
        return [self._strip(event, width) for event in self._listed]

    def parked_ids(self) -> list[int]:
        """Events shown as parked: re-read on each refresh to see them released or expired."""
        return [e.id for e in self.shown if e.outcome == "parked"]

    def toggle_ignored(self) -> None:
        """Show or hide the ignored events (VoIPbin's traffic the dashboard has no use for)."""
        self.show_ignored = not self.show_ignored
        self._relist(keep_place=True)
        self._update_title()

    def add_events(self, new: list[EventRow], *, restart: bool = False) -> None:
        if restart:
            self.shown.clear()
            self.ignored = 0
        if not new:
            if restart:
                self._relist()
                self._update_title()
            return
        self.ignored += sum(1 for event in new if event.outcome == "ignored")
        self.shown.extend(new)
        self.last_event_id = new[-1].id
        self.seen += len(new)
        self._relist()
        self._update_title()

    def update_events(self, changed: list[EventRow]) -> None:
        """Events whose outcome changed since shown (a parked one released or expired)."""
        by_id = {e.id: e for e in changed}
        if not any(e.id in by_id and by_id[e.id] != e for e in self.shown):
            return
        # a parked event that ended ignored is counted as such now
        self.ignored += sum(
            1 for e in self.shown if e.id in by_id and by_id[e.id].outcome == "ignored"
            and e.outcome != "ignored"
        )  # fmt: skip
        self.shown = deque((by_id.get(e.id, e) for e in self.shown), maxlen=MAX_EVENT_LINES)
        self._relist(keep_place=True)
        self._update_title()

    def _relist(self, *, keep_place: bool = False) -> None:
        """The lines to draw, from the events kept; the view stays at the newest, or (asked
        to keep its place, or scrolled up by the user) where it was."""
        follow = self.following
        top = self.scroll_y
        if self.show_ignored:
            self._listed = list(self.shown)
        else:
            self._listed = [e for e in self.shown if e.outcome != "ignored"]
        self.virtual_size = Size(self._width, len(self._listed))
        if follow:
            self.scroll_end(animate=False, immediate=True)
        elif keep_place:
            self.scroll_to(y=top, animate=False, immediate=True)
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(self._width, len(self._listed))

    @property
    def _width(self) -> int:
        return max(0, self.scrollable_content_region.width)

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_y) + y
        width = self._width
        if index >= len(self._listed):
            return Strip.blank(width, self.rich_style)
        return self._strip(self._listed[index], width)

    def _strip(self, event: EventRow, width: int) -> Strip:
        """One event's line, ending in … at `width`; kept while it is likely to be drawn again."""
        style = self.rich_style
        key = (event, width, style)
        strip = self._strips.get(key)
        if strip is None:
            console = self.app.console
            options = console.options.update(overflow="ignore", no_wrap=True)
            line = event_line(event, width)
            segments = console.render(line, options.update_width(max(1, width)))
            first = next(iter(Segment.split_lines(segments)), [])
            strip = Strip(first).adjust_cell_length(width, style).apply_style(style)
            self._strips[key] = strip
        return strip

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
