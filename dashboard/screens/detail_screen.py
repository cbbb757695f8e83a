"""The full detail screen: the pane's sections with room, plus the raw JSON of each record."""

from __future__ import annotations

from collections.abc import Callable

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
        Binding("p", "toggle_pause", "Pause", tooltip="Hold this screen still, or go live again"),
        Binding("up,k", "scroll('up')", "Scroll", show=False),
        Binding("down,j", "scroll('down')", "Scroll", show=False),
    ]

    DEFAULT_CSS = """
    DetailScreen VerticalScroll { padding: 0 1; border: round $accent; }
    DetailScreen #raw { margin-top: 1; }
    """

    def __init__(
        self,
        detail: CampaigncallDetail,
        *,
        raw: bool = True,
        at_raw: bool = False,
        toggle_pause: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.detail = detail
        # the main screen's p: it reads for this screen too, so holding it holds this one
        self._toggle_pause = toggle_pause
        self.raw = raw
        self.at_raw = at_raw and raw  # opened by r: the view starts at the raw JSON

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            ident = str(self.detail.campaigncall.get("id", ""))
            scroll.border_title = f"Campaigncall {ident}"
            scroll.border_subtitle = "Esc: back  r: raw JSON on/off  p: pause"
            yield Static(detail_rich(self.detail), id="formatted")
            yield Static(raw_json_rich(self.detail), id="raw")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#raw").display = self.raw
        if self.at_raw:
            self._scroll_to_raw()

    def update_detail(self, detail: CampaigncallDetail) -> None:
        if detail == self.detail:
            return  # nothing new: a long raw JSON is not laid out again on every refresh
        self.detail = detail
        self.query_one("#formatted", Static).update(detail_rich(detail))
        self.query_one("#raw", Static).update(raw_json_rich(detail))

    def action_toggle_pause(self) -> None:
        if self._toggle_pause is not None:
            self._toggle_pause()

    def action_toggle_raw(self) -> None:
        self.raw = not self.raw
        raw = self.query_one("#raw")
        raw.display = self.raw
        if self.raw:
            self._scroll_to_raw()

    def _scroll_to_raw(self) -> None:
        """Once the raw JSON is laid out (it was hidden until now), bring its top into view."""
        raw = self.query_one("#raw")
        scroll = self.query_one(VerticalScroll)
        self.call_after_refresh(scroll.scroll_to_widget, raw, top=True, animate=False)

    def action_scroll(self, direction: str) -> None:
        scroll = self.query_one(VerticalScroll)
        if direction == "up":
            scroll.scroll_up(animate=False)
        else:
            scroll.scroll_down(animate=False)
