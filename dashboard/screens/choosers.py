"""Small modal screens: the filter prompt and the campaign chooser."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from dashboard.render import shorten
from dashboard.widgets.header import CAMPAIGN_STATUS_STYLES
from store.text import visible

ALL_CAMPAIGNS = "__all__"


# After typing stops this long, the text is handed to `prepare` (the store looks its hits up
# while the user is still deciding, so Enter has less to wait for).
PREPARE_AFTER_S = 0.15


class FilterScreen(ModalScreen[str | None]):
    """Asks for an id (its start: fast, on the indexes), a target or a name."""

    BINDINGS: list[BindingType] = [Binding("escape", "dismiss(None)", "Cancel")]

    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    FilterScreen > Vertical {
        width: 70; max-width: 100%; height: auto; border: round $accent;
        background: $panel; padding: 0 1;
    }
    """

    def __init__(self, current: str, prepare: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.current = current
        self.prepare = prepare
        self._prepare_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Filter"
            box.border_subtitle = "Enter applies, Esc cancels, empty clears"
            yield Label(Text("An id (its start), a target or a name:"))
            yield Input(value=self.current, placeholder="e.g. 5ce2ca01-0000, +8190, josé")

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if self.prepare is None:
            return
        if self._prepare_timer is not None:
            self._prepare_timer.stop()
        text = event.value.strip()
        self._prepare_timer = self.set_timer(PREPARE_AFTER_S, lambda: self._prepare(text))

    def _prepare(self, text: str) -> None:
        self._prepare_timer = None
        if text and self.prepare is not None:
            self.prepare(text)

    @on(Input.Submitted)
    def apply_filter(self, event: Input.Submitted) -> None:
        if self._prepare_timer is not None:
            self._prepare_timer.stop()
        self.dismiss(event.value.strip())


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
