"""One place that turns a campaigncall's detail into display sections: Rich Text or plain text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from store.models import NIL_UUID, Address, Campaigncall
from store.queries import CampaigncallDetail, EventRow
from store.text import visible
from store.timefmt import to_datetime

ADDRESS_FIELDS = tuple(Address.model_fields)
# every field of the record but the two addresses, which get blocks of their own
CAMPAIGNCALL_FIELDS = tuple(
    f for f in Campaigncall.model_fields if f not in ("source", "destination")
)

LABEL_STYLE = "bold"
DIM_STYLE = "dim"
RESULT_STYLES = {"success": "green", "fail": "red"}
OUTCOME_STYLES = {
    "applied": "green",
    "duplicate": "yellow",
    "parked": "bold magenta",
    "ignored": "dim",
    "rejected": "bold red",
}
# an event's error, by outcome: a parked event's says what it waits for
ERROR_STYLES = {"parked": "magenta"}
RETRY_STYLES = {"scheduled": "cyan", "exhausted": "bold red", "none": "dim", "unknown": "yellow"}


# A field longer than this is cut on screen (`show --json` prints it whole): a megabyte
# name would otherwise wrap into tens of thousands of lines.
FIELD_CHARS = 1000


def shorten(value: object, limit: int = FIELD_CHARS) -> str:
    """Text cut to `limit` characters, saying how many more there are."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def tail(text: str, limit: int) -> str:
    """The end of `text` in `limit` characters, "…" standing for the start cut off (a file
    name's end tells one file from the next: the sequence number, the position)."""
    return text if len(text) <= limit else "…" + text[len(text) - limit + 1 :]


def age_text(ms: float) -> str:
    """A call's age in a few characters: 42s, 3m04s, 2h05m, 16d."""
    seconds = max(0, int(ms // 1000))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"


def short_id(ident: str | None) -> str:
    """A UUID's first and last few digits: enough to tell rows apart and to find one by filter."""
    if not ident:
        return ""
    text = visible(ident)
    return text if len(text) <= 13 else f"{text[:8]}…{text[-4:]}"


Span = tuple[str, str]  # (text, style); style "" for plain


@dataclass
class Section:
    """A titled block of lines; each line is a list of styled spans."""

    title: str
    lines: list[list[Span]] = field(default_factory=list)

    def add(self, *spans: Span) -> None:
        self.lines.append(list(spans))

    def field(self, label: str, value: object, style: str = "", width: int = 18) -> None:
        self.add((f"{label:<{width}}", LABEL_STYLE), (visible(shorten(value)), style))


def _uuid_value(value: object) -> tuple[str, str]:
    text = visible(shorten(value, 100))
    return (text, DIM_STYLE) if text == NIL_UUID else (text, "")


def _address_section(title: str, address: dict[str, Any] | None) -> Section:
    section = Section(title)
    if not address:
        section.add(("(none)", DIM_STYLE))
        return section
    for name in ADDRESS_FIELDS:
        section.field(name, address.get(name, ""), width=12)
    return section


def _address_line(address: dict[str, Any]) -> str:
    parts = [visible(shorten(address.get("type", ""))), visible(shorten(address.get("target", "")))]
    label = visible(shorten(address.get("target_name", "")))
    name = visible(shorten(address.get("name", "")))
    if label:
        parts.append(label)
    if name:
        parts.append(f"({name})")
    return " ".join(p for p in parts if p)


def _campaigncall_section(detail: CampaigncallDetail) -> Section:
    call = detail.campaigncall
    section = Section("Campaigncall")
    campaign_name = shorten((detail.campaign or {}).get("name", ""))
    for name in CAMPAIGNCALL_FIELDS:
        value = call.get(name)
        if name == "campaign_id" and campaign_name:
            section.field(name, value)
            section.field("  (campaign name)", campaign_name, "italic")
            continue
        if name == "result":
            section.field(name, value or "(none yet)", RESULT_STYLES.get(str(value), DIM_STYLE))
        elif name == "tm_update" and value is None:
            section.field(name, "(never)", DIM_STYLE)
        elif name.endswith("_id") or name == "id":
            text, style = _uuid_value(value)
            section.field(name, text, style)
        else:
            section.field(name, value)
    return section


def _target_section(detail: CampaigncallDetail) -> Section:
    target = detail.outdialtarget
    section = Section("Target")
    if target is None:
        section.add(("the target is not in the database", DIM_STYLE))
        return section
    section.field("name", target.get("name", ""), width=8)
    section.field("status", target.get("status", ""), width=8)
    if "outdialtarget" in detail.partial:
        section.add(
            ("partial ", "yellow"),
            ("known only from its calls; a sync or a load completes it", DIM_STYLE),
        )
    outplan = detail.outplan
    current = detail.campaigncall.get("destination_index")
    for index in range(5):
        address = target.get(f"destination_{index}")
        tries = target.get(f"try_count_{index}", 0)
        maximum = outplan.get(f"max_try_count_{index}") if outplan else None
        marker = "▶ " if index == current else "  "
        used = f"{tries}/{maximum if maximum is not None else '?'}"
        if address is None:
            section.add(
                (marker, ""), (f"slot {index}  ", LABEL_STYLE), ("(empty)", DIM_STYLE),
            )  # fmt: skip
            continue
        spent = maximum is not None and tries >= maximum
        section.add(
            (marker, "bold"),
            (f"slot {index}  ", LABEL_STYLE),
            (f"tries {used:<5} ", "red" if spent else "cyan"),
            (_address_line(address), ""),
        )
    return section


def _retry_section(detail: CampaigncallDetail) -> Section:
    retry = detail.retry
    section = Section("Retry plan")
    style = RETRY_STYLES.get(retry.state, "")
    if retry.state == "scheduled":
        section.add(
            ("next attempt: ", LABEL_STYLE),
            (f"slot {retry.destination_index}, try {retry.try_count}", style),
        )
        section.add(("due           ", LABEL_STYLE), (visible(shorten(retry.due or "now")), style))
    elif retry.state == "exhausted":
        section.add(("exhausted: ", style), ("no slot has tries left", ""))
    elif retry.state == "unknown":
        why = (
            "its outplan is not known yet"
            if detail.outplan is None or "outplan" in detail.partial
            else "the target is known only from its calls"
        )
        section.add(("unknown: ", style), (f"{why}; a sync or a load tells", DIM_STYLE))
    else:
        status = (detail.outdialtarget or {}).get("status", "")
        why = {"done": "the target is done", "progressing": "the target is being dialled"}
        section.add(("none", style), (f" ({why.get(status, 'nothing to plan')})", DIM_STYLE))
    return section


def event_spans(event: EventRow) -> list[Span]:
    """One event on one line: time, outcome, type, reason, file, error."""
    where = event.file if event.position is None else f"{event.file}#{event.position + 1}"
    spans: list[Span] = [
        (visible(shorten(event.tm)), DIM_STYLE),
        (" ", ""),
        (f"{visible(shorten(event.outcome)):<9}", OUTCOME_STYLES.get(event.outcome, "")),
        (" ", ""),
        (visible(shorten(event.type or "?")), ""),
    ]
    if event.reason:
        spans += [(" ", ""), (visible(shorten(event.reason)), "italic")]
    spans += [("  ", ""), (visible(shorten(where)), DIM_STYLE)]
    if event.error:
        error = visible(shorten(event.error))
        spans += [("  ", ""), (error, ERROR_STYLES.get(event.outcome, "red"))]
    elif event.summary:
        spans += [("  ", ""), (visible(shorten(event.summary)), "")]
    return spans


def _attempts_section(detail: CampaigncallDetail) -> Section:
    """Every campaigncall of the target, oldest first: slot, try, reason, result, time."""
    section = Section(f"Attempts of the target ({len(detail.attempts)}, oldest first)")
    current = detail.campaigncall.get("id")
    for attempt in detail.attempts:
        result = attempt["result"] or attempt["status"]
        section.add(
            ("▶ " if attempt["id"] == current else "  ", "bold"),
            (f"slot {attempt['destination_index']} try {attempt['try_count']:<3} ", LABEL_STYLE),
            (f"{visible(shorten(result, 20)):<12}", RESULT_STYLES.get(attempt["result"], "")),
            (f"{visible(shorten(attempt['hangup_reason'] or '-', 20)):<10} ", "italic"),
            (visible(shorten(attempt["tm_update"] or attempt["tm_create"], 40)), DIM_STYLE),
        )
    if not detail.attempts:
        section.add(("none", DIM_STYLE))
    return section


def _took(start: str | None, end: str | None) -> str:
    if not start or not end:
        return ""
    seconds = (to_datetime(end) - to_datetime(start)).total_seconds()
    return f"  (+{seconds:,.1f} s)"


def _call_section(detail: CampaigncallDetail) -> Section:
    """The call's timeline from its events: rang, answered, hung up by whom and why."""
    section = Section("Call timeline")
    call = detail.call
    if call is None:
        section.add(("no event of its call has come", DIM_STYLE))
        return section
    section.field("direction", call["direction"] or "?", width=12)
    section.field("status", call["status"] or "?", width=12)
    created = call["tm_create"]
    steps = (("created", created, None), ("rang", call["tm_ringing"], created),
             ("answered", call["tm_progressing"], created),
             ("hung up", call["tm_hangup"], call["tm_progressing"] or created))  # fmt: skip
    for label, moment, since in steps:
        if moment:
            section.add((f"{label:<12}", LABEL_STYLE), (visible(moment), ""),
                        (_took(since, moment), DIM_STYLE))  # fmt: skip
    if call["hangup_reason"] or call["hangup_by"]:
        by = visible(shorten(call["hangup_by"] or "?", 40))
        section.add(("hung up by  ", LABEL_STYLE), (by, ""), ("  because ", DIM_STYLE),
                    (visible(shorten(call["hangup_reason"] or "?", 40)), "italic"))  # fmt: skip
    return section


def _events_section(detail: CampaigncallDetail) -> Section:
    section = Section(f"Events ({len(detail.events)}, newest first)")
    if not detail.events:
        section.add(("no event has touched it yet", DIM_STYLE))
    for event in reversed(detail.events):
        section.add(*event_spans(event))
    return section


def detail_sections(detail: CampaigncallDetail) -> list[Section]:
    """The sections every view of a campaigncall shows, in order."""
    call = detail.campaigncall
    return [
        _campaigncall_section(detail),
        _address_section("Source", call.get("source")),
        _address_section("Destination", call.get("destination")),
        _target_section(detail),
        _retry_section(detail),
        _attempts_section(detail),
        _call_section(detail),
        _events_section(detail),
    ]


def sections_rich(sections: list[Section]) -> Text:
    text = Text(no_wrap=False, overflow="fold")
    for number, section in enumerate(sections):
        if number:
            text.append("\n")
        text.append(section.title, "bold underline")
        text.append("\n")
        for spans in section.lines:
            for value, style in spans:
                text.append(value, style or None)
            text.append("\n")
    text.rstrip()
    return text


def detail_rich(detail: CampaigncallDetail) -> Text:
    """The detail as Rich Text: data is never parsed as markup."""
    return sections_rich(detail_sections(detail))


def detail_text(detail: CampaigncallDetail) -> str:
    """The detail as plain text for `campaigncalls show`: no colour, no markup."""
    blocks = []
    for section in detail_sections(detail):
        lines = [section.title, "-" * len(section.title)]
        lines += ["".join(value for value, _ in spans).rstrip() for spans in section.lines]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# The raw view shows each record and event whole; only past this many characters (a hostile
# payload, not a real one) is a block ended early, at a line's end, saying where the rest is.
RAW_BLOCK_CHARS = 1_000_000


def raw_json_rich(detail: CampaigncallDetail) -> Text:
    """The record and each event as their real JSON: values whole (the text wraps), hidden
    characters escaped (JSON's own escapes, or `visible`'s, which JSON reads the same)."""
    text = Text(overflow="fold")
    ident = visible(shorten(detail.campaigncall.get("id"), 100))
    text.append("campaigncall (as stored)\n", "bold underline")
    text.append(_raw_block(json.dumps(detail.campaigncall, ensure_ascii=False, indent=2), ident))
    for event in reversed(detail.events):
        where = event.file if event.position is None else f"{event.file}#{event.position + 1}"
        where = shorten(where)
        title = f"\n\nevent {event.id}: {visible(where)} ({visible(event.outcome)})\n"
        text.append(title, "bold underline")
        text.append(_raw_block(_pretty_json(event.raw), ident))
    return text


def _raw_block(value: str, ident: str) -> Text:
    block = Text(overflow="fold")
    if len(value) > RAW_BLOCK_CHARS:
        cut = value.rfind("\n", 0, RAW_BLOCK_CHARS)
        cut = cut if cut > 0 else RAW_BLOCK_CHARS
        block.append(clean_block(value[:cut]))
        more = f"{len(value) - cut:,} more characters"
        block.append(f"\n… {more}: campaigncalls show --db PATH {ident} --json", DIM_STYLE)
        return block
    block.append(clean_block(value))
    return block


def clean_block(value: str) -> str:
    """Several lines of text: newlines kept, every other control character escaped."""
    return "\n".join(visible(line) for line in value.split("\n"))


def _pretty_json(raw: str) -> str:
    """An event's JSON, indented; as it was stored if it does not read as JSON."""
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False, indent=2)
    except (ValueError, TypeError, RecursionError):
        return raw
