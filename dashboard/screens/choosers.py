"""The campaign chooser, a small modal screen (the filter is typed on the main screen)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from dashboard.render import shorten
from dashboard.widgets.header import CAMPAIGN_STATUS_STYLES
from store.text import visible

ALL_CAMPAIGNS = "__all__"


class CampaignScreen(ModalScreen[str | None]):
    """Choose one campaign, or all; returns a campaign id, ALL_CAMPAIGNS, or None (cancelled)."""

    BINDINGS: list[BindingType] = [Binding("escape", "dismiss(None)", "Cancel")]

    DEFAULT_CSS = """
    CampaignScreen { align: center middle; }
    CampaignScreen > OptionList {
        width: 70; max-width: 100%; height: auto; max-height: 80%;
        border: round $accent; background: $panel;
    }
    """

    def __init__(
        self,
        campaigns: list[tuple[str, str]],
        current: str | None,
        statuses: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.campaigns = campaigns
        self.current = current
        self.statuses = statuses or {}

    def compose(self) -> ComposeResult:
        options = [Option(Text("All campaigns", style="bold"), id=ALL_CAMPAIGNS)]
        for ident, name in self.campaigns:
            label = Text(visible(shorten(name, 200)) or "(no name)")
            status = self.statuses.get(ident, "")
            if status:
                label.append(f"  {visible(status)}", CAMPAIGN_STATUS_STYLES.get(status, "dim"))
            label.append(f"  {ident[:8]}", "dim")
            options.append(Option(label, id=ident))
        chooser = OptionList(*options)
        chooser.border_title = "Campaign"
        chooser.border_subtitle = "Enter chooses, Esc cancels"
        yield chooser

    def on_mount(self) -> None:
        chooser = self.query_one(OptionList)
        ids = [ALL_CAMPAIGNS, *(ident for ident, _ in self.campaigns)]
        current = self.current or ALL_CAMPAIGNS
        chooser.highlighted = ids.index(current) if current in ids else 0

    @on(OptionList.OptionSelected)
    def choose_campaign(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
