"""The header: where the data comes from, live or paused, the totals and the scenario's step."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from dashboard.render import shorten
from store.follower import LinkState
from store.queries import Counts
from store.text import visible

# VoIPbin's campaign statuses
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
        counts = self.counts
        line = Text(no_wrap=True, overflow="ellipsis")
        if not self.loaded:
            line.append("reading the database…", "dim")
            return self._join(top, line)
        line.append("dialing ", "dim")
        line.append(f"{counts.dialing:,}", "bold yellow")
        line.append("  progressing ", "dim")
        line.append(f"{counts.progressing:,}", "bold cyan")
        line.append("  done ", "dim")
        line.append(f"{counts.done:,}", "bold")
        line.append(" (")
        line.append(f"{counts.success:,} success", "green")
        line.append(" / ")
        line.append(f"{counts.fail:,} fail", "red")
        line.append(")  exhausted targets ", "dim")
        line.append(f"{counts.exhausted:,}", "bold red" if counts.exhausted else "bold")
        line.append("  campaign ", "dim")
        line.append(visible(shorten(self.campaign_name, 200)) or "all", "italic")
        if self.campaign_status:
            line.append(" · ", "dim")
            line.append(visible(self.campaign_status), CAMPAIGN_STATUS_STYLES.get(
                self.campaign_status, "dim"))  # fmt: skip
        return self._join(top, line)

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
