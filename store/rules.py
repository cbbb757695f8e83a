"""VoIPbin's campaign rules, each in one place: hangup result, target status, retry plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from store.models import CampaigncallResult, Outdialtarget, Outplan, TargetStatus
from store.timefmt import add_ms

# VoIPbin's calcCampaigncallResultByCallHangupReason, with the documentation's spellings.
HANGUP_RESULTS: dict[str, CampaigncallResult] = {
    "normal": "success",
    "failed": "fail",
    "busy": "fail",
    "cancel": "fail",
    "timeout": "fail",
    "noanswer": "fail",
    "dialout": "fail",
    "amd": "fail",
}
HANGUP_REASON_ALIASES = {"no_answer": "noanswer", "canceled": "cancel"}
KNOWN_HANGUP_REASONS = tuple(HANGUP_RESULTS) + tuple(HANGUP_REASON_ALIASES)


class RuleViolation(ValueError):
    """An event the rules refuse; its text is the reason a person reads."""


def result_for_hangup(reason: str) -> CampaigncallResult:
    """Rule 1: the campaigncall's result for a call's hangup reason; refuses unknown reasons."""
    canonical = HANGUP_REASON_ALIASES.get(reason, reason)
    try:
        return HANGUP_RESULTS[canonical]
    except KeyError:
        known = ", ".join(KNOWN_HANGUP_REASONS)
        if reason == "":
            raise RuleViolation(f"the hangup reason is empty (known reasons: {known})") from None
        raise RuleViolation(
            f"unknown hangup reason {reason[:60]!r} (known reasons: {known})"
        ) from None


def target_status_after(result: CampaigncallResult) -> TargetStatus:
    """Rule 2: a success ends the target, a fail leaves it idle for a retry."""
    return "done" if result == "success" else "idle"


# unknown: the outplan is not known (or the target is a stub), so the plan is not guessed
RetryState = Literal["none", "scheduled", "exhausted", "unknown"]


@dataclass(frozen=True)
class RetryPlan:
    """The target's next attempt: which slot, which try, when; or none, or exhausted."""

    state: RetryState
    destination_index: int | None = None
    try_count: int | None = None
    due: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "destination_index": self.destination_index,
            "try_count": self.try_count,
            "due": self.due,
        }


NO_RETRY = RetryPlan("none")
EXHAUSTED = RetryPlan("exhausted")
UNKNOWN = RetryPlan("unknown")


def first_slot_with_tries(
    has_destination: Sequence[bool], tries: Sequence[int], maxima: Sequence[int]
) -> tuple[int, int] | None:
    """VoIPbin's getTargetDestination: the lowest slot with a destination and tries left.

    Returns (slot, the try it would be), or None when every slot is used up.
    """
    for index in range(5):
        if has_destination[index] and tries[index] < maxima[index]:
            return index, tries[index] + 1
    return None


def plan_retry(
    status: str,
    tm_update: str | None,
    has_destination: Sequence[bool],
    tries: Sequence[int],
    maxima: Sequence[int] | None,
    try_interval: int,
    *,
    partial: bool = False,
) -> RetryPlan:
    """Rule 3 on plain values: none while done or being dialled, else the next slot or exhausted.

    `maxima` None: the outplan is not known, so the plan is unknown. A `partial` target (a stub
    made from one campaigncall) knows only that call's slot; VoIPbin dials the lowest slot with
    tries left, so a slot with tries left is the plan, but none left is unknown, not exhausted.
    """
    if status != "idle":
        return NO_RETRY
    if maxima is None:
        return UNKNOWN
    slot = first_slot_with_tries(has_destination, tries, maxima)
    if slot is None:
        return UNKNOWN if partial else EXHAUSTED
    index, attempt = slot
    due = add_ms(tm_update, try_interval) if tm_update else None
    return RetryPlan("scheduled", index, attempt, due)


def next_slot(target: Outdialtarget, outplan: Outplan) -> tuple[int, int] | None:
    """The next slot and try of a target under an outplan (see first_slot_with_tries)."""
    return first_slot_with_tries(
        [target.destination(i) is not None for i in range(5)],
        [target.try_count(i) for i in range(5)],
        [outplan.max_try_count(i) for i in range(5)],
    )


def next_attempt(
    target: Outdialtarget, outplan: Outplan | None, *, partial: bool = False
) -> RetryPlan:
    """Rule 3: the target's retry plan; none while it is done or being dialled."""
    return plan_retry(
        target.status,
        target.tm_update,
        [target.destination(i) is not None for i in range(5)],
        [target.try_count(i) for i in range(5)],
        None if outplan is None else [outplan.max_try_count(i) for i in range(5)],
        0 if outplan is None else outplan.try_interval,
        partial=partial,
    )


# VoIPbin's call-manager gives up dialing after a fixed 60 s (it never reads the outplan's
# dial_timeout; docs/voipbin.md). A call dialing longer than its outplan's dial_timeout, or
# than these 60 s when the outplan sets none, is stale: its end was lost or is late.
VOIPBIN_DIAL_TIMEOUT_MS = 60_000


def dial_timeout_ms(outplan_dial_timeout: int | None) -> int:
    """How long a call may dial before it is stale."""
    return outplan_dial_timeout or VOIPBIN_DIAL_TIMEOUT_MS


def is_stale(status: str, age_ms: float, timeout_ms: int) -> bool:
    """A campaigncall still dialing after its dial timeout."""
    return status == "dialing" and age_ms > timeout_ms


def stale_before(now: datetime, timeout_ms: int) -> datetime:
    """A call dialing at `now` with this dial timeout is stale (is_stale) if it started before
    this moment."""
    return now - timedelta(milliseconds=timeout_ms)
