"""The detail pane: the highlighted campaigncall, formatted or as raw JSON."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from dashboard.render import detail_rich, raw_json_rich
from store.queries import CampaigncallDetail


def detail_content(detail: CampaigncallDetail | None, raw: bool, missing: str) -> Text:
    if detail is None:
        return Text(missing, style="dim")
    return raw_json_rich(detail) if raw else detail_rich(detail)


class DetailPane(VerticalScroll, can_focus=False):
    """Every field of the highlighted campaigncall, its target's slots, retry plan and events."""

    DEFAULT_CSS = """
    DetailPane {
        border: round $panel-lighten-2;
        border-title-style: bold;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: CampaigncallDetail | None = None
        self.raw = False
        self.border_title = "Detail"

    def compose(self) -> ComposeResult:
        yield Static(Text("Move to a row to see its campaigncall here.", style="dim"))

    def show(self, detail: CampaigncallDetail | None, *, raw: bool | None = None) -> None:
        if raw is not None:
            self.raw = raw
        keep_place = (
            detail is not None
            and self.detail is not None
            and (detail.campaigncall.get("id") == self.detail.campaigncall.get("id"))
        )
        self.detail = detail
        self.border_title = "Detail (raw JSON, r: formatted)" if self.raw else "Detail"
        message = "No campaigncall is highlighted."
        self.query_one(Static).update(detail_content(detail, self.raw, message))
        if not keep_place:
            self.scroll_home(animate=False)
