"""The filter, typed on the main screen: a one-line input that reports its text as it is typed."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label

# Keys closer together than this are a burst (a paste, a fast typist, tmux send-keys): their
# text is reported once, this long after the last of them. A key after a pause is reported at
# once, so typing at a person's pace updates the tables with every key, without a wait.
BURST_GATHER_S = 0.03


class FilterInput(Input):
    """The filter's text. Enter and Esc are priority bindings: they run in the order the keys
    came, so a key typed right after them already goes where they send the focus."""

    BINDINGS: list[BindingType] = [
        Binding("enter", "screen.keep_filter", "Keep", tooltip="Keep the filter, back to the table",
                priority=True),
        Binding("escape", "screen.clear_filter", "Clear",
                tooltip="Clear the filter, back to the table", priority=True),
    ]  # fmt: skip


class FilterBar(Horizontal):
    """`/` shows it with the focus in its input; what is typed is posted as `Typed`."""

    DEFAULT_CSS = """
    FilterBar {
        height: 1;
        background: $panel;
        display: none;
        & > Label { width: auto; padding: 0 1; color: $accent; text-style: bold; }
        & > FilterInput {
            width: 1fr; height: 1; border: none; padding: 0; background: $panel;
            &:focus { border: none; background: $panel-lighten-1; }
        }
    }
    """

    @dataclass
    class Typed(Message):
        """The text in the bar changed (a burst of keys once, at its end)."""

        bar: FilterBar
        text: str

        @property
        def control(self) -> FilterBar:
            return self.bar

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last_key_at = 0.0
        self._gather: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label(Text("Filter"))
        yield FilterInput(
            placeholder="an id (its start), a target or a name; Enter keeps it, Esc clears it",
            id="filter-input",
            select_on_focus=False,  # / again edits the filter kept; it does not replace it
        )

    @property
    def input(self) -> FilterInput:
        return self.query_one(FilterInput)

    @property
    def text(self) -> str:
        return self.input.value.strip()

    @on(Input.Changed)
    def report_typed(self, event: Input.Changed) -> None:
        event.stop()
        now = time.monotonic()
        in_burst = now - self._last_key_at < BURST_GATHER_S or self._gather is not None
        self._last_key_at = now
        self.settle()
        if in_burst:
            self._gather = self.set_timer(BURST_GATHER_S, self._report)
        else:
            self._report()

    def _report(self) -> None:
        self._gather = None
        self.post_message(self.Typed(self, self.text))

    def settle(self) -> None:
        """Forget a burst still being gathered: its text is about to be read as it stands."""
        if self._gather is not None:
            self._gather.stop()
            self._gather = None

    def clear(self) -> None:
        """Empty the input without reporting it (the caller clears the filter itself)."""
        with self.prevent(Input.Changed):
            self.input.value = ""
        self.settle()
