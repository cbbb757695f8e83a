"""The full detail screen: the pane's sections with room, plus the raw JSON of each record."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from dashboard.render import detail_rich, raw_json_rich
from store.queries import CampaigncallDetail


class DetailScreen(Screen[None]):
    """One campaigncall, everything about it; Esc goes back."""

    BINDINGS: list[BindingType] = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("r", "toggle_raw", "Raw JSON"),
        Binding("up,k", "scroll('up')", "Scroll", show=False),
        Binding("down,j", "scroll('down')", "Scroll", show=False),
    ]

    DEFAULT_CSS = """
    DetailScreen VerticalScroll { padding: 0 1; border: round $accent; }
    DetailScreen #raw { margin-top: 1; }
    """

    def __init__(self, detail: CampaigncallDetail, *, raw: bool = True) -> None:
        super().__init__()
        self.detail = detail
        self.raw = raw

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            ident = str(self.detail.campaigncall.get("id", ""))
            scroll.border_title = f"Campaigncall {ident}"
            scroll.border_subtitle = "Esc: back  r: raw JSON on/off"
            yield Static(detail_rich(self.detail), id="formatted")
            yield Static(raw_json_rich(self.detail), id="raw")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#raw").display = self.raw

    def update_detail(self, detail: CampaigncallDetail) -> None:
        self.detail = detail
        self.query_one("#formatted", Static).update(detail_rich(detail))
        self.query_one("#raw", Static).update(raw_json_rich(detail))

    def action_toggle_raw(self) -> None:
        self.raw = not self.raw
        raw = self.query_one("#raw")
        raw.display = self.raw
        if self.raw:
            self.query_one(VerticalScroll).scroll_to_widget(raw, top=True, animate=False)

    def action_scroll(self, direction: str) -> None:
        scroll = self.query_one(VerticalScroll)
        if direction == "up":
            scroll.scroll_up(animate=False)
        else:
            scroll.scroll_down(animate=False)
