"""Record data as visible text: control, bidi and lone-surrogate characters shown escaped."""

from __future__ import annotations

import re

# C0 and C1 control characters (ESC, BEL, CR, ...), DEL, the bidi controls (U+061C, U+200E/F,
# U+202A-U+202E, U+2066-U+2069) that reorder what a terminal shows, and lone surrogates
# (a terminal cannot be sent one).
_HIDDEN = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


# json.dumps escapes C0 controls inside strings itself; its newlines and indents stay
_HIDDEN_IN_JSON = re.compile(
    r"[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def visible(value: object) -> str:
    """Record data as one line of visible text: hidden characters appear escaped (`\\x1b`)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return _HIDDEN.sub(_escaped, text)


def _json_escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def visible_json(text: str) -> str:
    """JSON text (json.dumps with ensure_ascii=False) with the hidden characters it leaves raw
    (C1 controls, bidi controls, lone surrogates) written as \\uXXXX escapes: the same JSON."""
    return _HIDDEN_IN_JSON.sub(_json_escaped, text)
