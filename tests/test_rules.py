"""Table tests of the rules: hangup result, target status, VoIPbin's getTargetDestination."""

from __future__ import annotations

import pytest

from store.models import Address, Outdialtarget, Outplan
from store.rules import (
    KNOWN_HANGUP_REASONS,
    RuleViolation,
    next_attempt,
    next_slot,
    result_for_hangup,
    target_status_after,
)

ID = "7a000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("reason", "result"),
    [
        ("normal", "success"),
        ("failed", "fail"),
        ("busy", "fail"),
        ("cancel", "fail"),
        ("timeout", "fail"),
        ("noanswer", "fail"),
        ("dialout", "fail"),
        ("amd", "fail"),
        ("no_answer", "fail"),  # the documentation's spelling of noanswer
        ("canceled", "fail"),  # the documentation's spelling of cancel
    ],
)
def test_result_for_every_known_hangup_reason(reason: str, result: str) -> None:
    assert result_for_hangup(reason) == result


def test_every_known_reason_is_in_the_table() -> None:
    assert len(KNOWN_HANGUP_REASONS) == 10


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "the hangup reason is empty"),
        ("hangup", "unknown hangup reason 'hangup'"),
        ("Normal", "unknown hangup reason 'Normal'"),
        ("no answer", "unknown hangup reason 'no answer'"),
        ("x" * 500, "unknown hangup reason 'xxxx"),
    ],
)
def test_empty_or_unknown_reason_is_refused_and_named(reason: str, message: str) -> None:
    with pytest.raises(RuleViolation) as raised:
        result_for_hangup(reason)
    assert message in str(raised.value)
    assert "known reasons: normal, failed" in str(raised.value)
    assert len(str(raised.value)) < 300


def test_target_status_after_result() -> None:
    assert target_status_after("success") == "done"
    assert target_status_after("fail") == "idle"


def make_target(
    tries: dict[int, int], slots: tuple[int, ...] = (0,), status: str = "idle"
) -> Outdialtarget:
    fields: dict[str, object] = {
        "id": ID,
        "status": status,
        "tm_update": "2026-11-20 09:00:00.000000",
    }
    for slot in slots:
        fields[f"destination_{slot}"] = Address(type="tel", target=f"+8210000000{slot}")
    for slot, count in tries.items():
        fields[f"try_count_{slot}"] = count
    return Outdialtarget.model_validate(fields)


def make_outplan(*maxima: int, interval: int = 60_000) -> Outplan:
    fields: dict[str, object] = {"id": ID, "try_interval": interval}
    for slot, most in enumerate(maxima):
        fields[f"max_try_count_{slot}"] = most
    return Outplan.model_validate(fields)


@pytest.mark.parametrize(
    ("tries", "slots", "maxima", "expected"),
    [
        # VoIPbin's getTargetDestination cases
        ({0: 0}, (0,), (3,), (0, 1)),
        ({0: 3, 1: 0}, (0, 1), (3, 1), (1, 1)),
        ({0: 3}, (0,), (2,), None),
        # more
        ({0: 1}, (0,), (3,), (0, 2)),
        ({0: 2, 1: 1}, (0, 1), (2, 1), None),
        ({0: 0}, (1,), (0, 2), (1, 1)),  # slot 0 has no destination
        ({0: 0, 2: 0}, (0, 2), (0, 0, 1), (2, 1)),  # slot 0 allows no tries
        ({4: 4}, (4,), (0, 0, 0, 0, 5), (4, 5)),
        ({}, (), (3, 3, 3, 3, 3), None),  # no destinations at all
    ],
)
def test_next_slot_follows_get_target_destination(
    tries: dict[int, int],
    slots: tuple[int, ...],
    maxima: tuple[int, ...],
    expected: tuple[int, int] | None,
) -> None:
    assert next_slot(make_target(tries, slots), make_outplan(*maxima)) == expected


def test_next_attempt_is_due_after_the_try_interval() -> None:
    plan = next_attempt(make_target({0: 1}), make_outplan(3, interval=90_500))
    assert (plan.state, plan.destination_index, plan.try_count) == ("scheduled", 0, 2)
    assert plan.due == "2026-11-20 09:01:30.500000"


def test_next_attempt_exhausted_none_and_unknown() -> None:
    assert next_attempt(make_target({0: 3}), make_outplan(3)).state == "exhausted"
    assert next_attempt(make_target({0: 1}, status="done"), make_outplan(3)).state == "none"
    assert next_attempt(make_target({0: 1}, status="progressing"), make_outplan(3)).state == "none"
    # no outplan known: the plan is unknown, not guessed
    assert next_attempt(make_target({0: 1}), None).state == "unknown"
    # a stub target knows one slot: none left there may still leave a higher slot
    assert next_attempt(make_target({0: 3}), make_outplan(3), partial=True).state == "unknown"
    assert next_attempt(make_target({0: 1}), make_outplan(3), partial=True).state == "scheduled"
