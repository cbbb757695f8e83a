"""The header: where the data comes from, live or paused, the totals and the scenario's step."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from dashboard.render import shorten
from store.follower import LinkState
from store.queries import FILTER_COUNT_CAP, Counts
from store.text import visible

# VoIPbin's campaign statuses
# a chosen campaign's name keeps at least this many cells on a narrow screen
NAME_CELLS = 12
CAMPAIGN_STATUS_STYLES = {"run": "bold green", "stopping": "bold yellow", "stop": "bold red"}


class DashboardHeader(Widget):
    """Two lines: the source and state, then the totals (and the campaign and scenario step)."""

    DEFAULT_CSS = """
    DashboardHeader {
        height: 2;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        padding: 0 1;
    }
    """

    counts: reactive[Counts] = reactive(Counts)
    paused: reactive[bool] = reactive(False)
    campaign_name: reactive[str] = reactive("")
    campaign_status: reactive[str] = reactive("")
    step_label: reactive[str] = reactive("")
    loaded: reactive[bool] = reactive(False)
    busy: reactive[bool] = reactive(False)
    link: reactive[LinkState | None] = reactive(None)
    stale: reactive[int] = reactive(0)  # calls dialing past their dial timeout

    def __init__(self, db_path: Path, drop_dir: Path) -> None:
        super().__init__()
        self.db_path = db_path
        self.drop_dir = drop_dir

    def render(self) -> Text:
        top = Text(no_wrap=True, overflow="ellipsis")
        top.append("campaigncalls ", "bold")
        if self.paused:
            top.append(" ❚❚ PAUSED ", "bold black on yellow")
            top.append(" p resumes", "dim")
        else:
            top.append(" ● LIVE ", "bold black on green")
        if self.busy:
            top.append(" ")
            top.append(" database busy ", "bold white on dark_red")
            top.append(" another writer holds the lock; files wait", "dim")
        if self.link is not None:
            top.append(" ")
            top.append_text(link_text(self.link, time.time()))
        if self.step_label:
            top.append("  ")
            top.append(visible(shorten(self.step_label, 200)), "bold magenta")
        top.append("  db ", "dim")
        top.append(visible(str(self.db_path)))
        top.append("  drop ", "dim")
        top.append(visible(str(self.drop_dir)))
        if not self.loaded:
            return self._join(top, Text("reading the database…", "dim"))
        return self._join(top, self._totals_line(max(1, self.content_region.width)))

    def _totals_line(self, width: int) -> Text:
        """The chosen campaign first, then the totals; on a narrow screen in fewer words, with
        the name shortened to leave them room (it never falls off the end)."""
        for compact in (False, True):
            line = self._campaign_label(compact)
            line.append(" " if compact else "  ")
            line.append_text(self._totals(compact))
            if line.cell_len <= width:
                return line
        totals = self._totals(compact=True)
        line = self._campaign_label(compact=True, room=width - totals.cell_len - 1)
        line.append(" ")
        line.append_text(totals)
        return line

    def _campaign_label(self, compact: bool, room: int | None = None) -> Text:
        """The campaign chosen and its VoIPbin status, or (all) how many run; in `room` cells
        the name is shortened (to no fewer than NAME_CELLS) and the status kept."""
        label = Text(no_wrap=True, overflow="ellipsis")
        status = Text(no_wrap=True)
        if self.campaign_status:
            style = CAMPAIGN_STATUS_STYLES.get(self.campaign_status, "dim")
            status.append(visible(self.campaign_status), style)
        if not self.campaign_name:
            if compact and status:  # "2 of 4 running" says it is all of them
                return status
            name = Text("all campaigns", "italic", no_wrap=True)
        else:
            if not compact:
                label.append("campaign ", "dim")
            name = Text(visible(shorten(self.campaign_name, 200)), "bold italic", no_wrap=True)
        if status:
            status = Text(" · ", "dim", no_wrap=True).append_text(status)
        if room is not None:
            cells = max(NAME_CELLS, room - label.cell_len - status.cell_len)
            name.truncate(cells, overflow="ellipsis")
        label.append_text(name)
        label.append_text(status)
        return label

    def _totals(self, compact: bool) -> Text:
        counts = self.counts
        gap = " " if compact else "  "  # a narrow screen gets the same words, closer
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("dialing ", "dim")
        line.append(f"{counts.dialing:,}", "bold yellow")
        line.append(f"{gap}progressing ", "dim")
        line.append(f"{counts.progressing:,}", "bold cyan")
        line.append(f"{gap}done ", "dim")
        line.append(f"{counts.done:,}", "bold")
        line.append(" (")
        line.append(f"{counts.success:,} {'✓' if compact else 'success'}", "green")
        line.append(" " if compact else " / ")
        line.append(f"{counts.fail:,} {'✗' if compact else 'fail'}", "red")
        line.append(f"){gap}exhausted " if compact else ")  exhausted targets ", "dim")
        line.append(f"{counts.exhausted:,}", "bold red" if counts.exhausted else "bold")
        if self.stale:
            line.append(f"{gap}⚠" if compact else "  ⚠ stale ", "bold yellow")
            line.append(f"{self.stale:,}{'+' if self.stale >= FILTER_COUNT_CAP else ''}",
                        "bold yellow")  # fmt: skip
        return line

    @staticmethod
    def _join(top: Text, line: Text) -> Text:
        text = Text("\n", no_wrap=True, overflow="ellipsis").join([top, line])
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text


def link_text(state: LinkState, now: float) -> Text:
    """The VoIPbin link's state: live (and the last event's age), reconnecting in N s, ..."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if state.kind == "live":
        text.append(" VoIPbin live ", "bold black on green")
        if state.last_event_at is None:
            text.append(" no event yet", "dim")
        else:
            text.append(f" last event {max(0, now - state.last_event_at):.0f} s ago", "dim")
    elif state.kind == "reconnecting":
        wait = max(0.0, (state.retry_at or now) - now)
        text.append(f" VoIPbin reconnecting in {wait:.0f} s ", "bold black on yellow")
        if state.last_event_at is not None:
            text.append(f" last event {max(0, now - state.last_event_at):.0f} s ago", "dim")
    elif state.kind == "refused":
        text.append(" VoIPbin token refused ", "bold white on dark_red")
        text.append(" set a valid VOIPBIN_TOKEN and start again", "dim")
    elif state.kind == "syncing":
        text.append(" VoIPbin syncing… ", "bold black on cyan")
    elif state.kind == "connecting":
        text.append(" VoIPbin connecting… ", "bold black on cyan")
    else:
        text.append(" VoIPbin link stopped ", "bold white on dark_red")
    if (state.detail and state.kind != "live") or state.detail.startswith("receiving"):
        text.append(" " + visible(shorten(state.detail, 120)), "dim")
    return text
