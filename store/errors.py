"""Turns pydantic's validation errors into one sentence a person can act on."""

from __future__ import annotations

from pydantic import ValidationError


def location(loc: tuple[int | str, ...]) -> str:
    """('campaigncalls', 3, 'status') -> 'campaigncalls[3].status'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.startswith(("function-", "tagged-union")) or part in ("", "str", "int"):
            continue
        else:
            text += f".{part}" if text else part
    return text


def describe_validation_error(
    error: ValidationError, *, most: int = 3, within: tuple[str, int] | None = None
) -> str:
    """The first `most` complaints, each with its place. `within` = (list, index of the first
    item) when the error is of a slice of a list that was checked on its own."""
    parts = []
    for detail in error.errors(include_url=False)[:most]:
        message = detail["msg"].removeprefix("Value error, ")
        loc = tuple(detail["loc"])
        if within is not None and loc and isinstance(loc[0], int):
            loc = (within[0], within[1] + loc[0], *loc[1:])
        where = location(loc)
        parts.append(f"{where}: {message}" if where else message)
    more = error.error_count() - most
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
