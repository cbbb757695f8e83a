"""Timestamps in both forms, the unset sentinel, and the record models' checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from store.models import Address, Campaigncall
from store.timefmt import BadTimestamp, add_ms, parse_tm
from tests.helpers import campaigncall


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("2022-04-29 07:01:45.808944", "2022-04-29 07:01:45.808944"),
        ("2022-04-29T07:01:45.808944Z", "2022-04-29 07:01:45.808944"),
        ("2022-04-29T07:01:45Z", "2022-04-29 07:01:45.000000"),
        ("2022-04-29T07:01:45.808944123Z", "2022-04-29 07:01:45.808944"),  # nanoseconds
        ("2022-04-29T16:01:45.5+09:00", "2022-04-29 07:01:45.500000"),
        ("2022-04-29 07:01:45", "2022-04-29 07:01:45.000000"),
        ("9999-01-01 00:00:00.000000", None),  # VoIPbin's unset sentinel
        ("9999-01-01T00:00:00Z", None),
        (None, None),
        ("", None),
    ],
)
def test_timestamps_are_read_in_both_forms(text: str | None, stored: str | None) -> None:
    assert parse_tm(text) == stored


@pytest.mark.parametrize(
    "text", ["yesterday", "2022-13-01 00:00:00", "2022-02-30T00:00:00Z", "1651215705"]
)
def test_bad_timestamps_are_named(text: str) -> None:
    with pytest.raises(BadTimestamp) as raised:
        parse_tm(text)
    assert text[:10] in str(raised.value)


@given(
    stamp=st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?\Z")
)
def test_voipbin_utc_form_reads_as_the_long_way_does(stamp: str) -> None:
    """`...Z` is read by slicing; `+00:00` takes the long way (regex, datetime, strftime)."""

    def read(text: str) -> tuple[str, str | None]:
        try:
            return "ok", parse_tm(text)
        except BadTimestamp:
            return "bad", None

    assert read(stamp + "Z") == read(stamp + "+00:00")


def test_number_is_not_a_timestamp() -> None:
    with pytest.raises(BadTimestamp, match="must be a string"):
        parse_tm(1651215705)


def test_add_ms() -> None:
    assert add_ms("2026-11-20 23:59:59.999000", 2) == "2026-11-21 00:00:00.001000"


def test_campaigncall_keeps_voipbin_fields_and_ignores_extra() -> None:
    record = Campaigncall.model_validate({**campaigncall(), "customer_id": "x", "extra": [1]})
    assert record.model_dump().keys() == campaigncall().keys()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "ringing"}, "status"),
        ({"status": "done", "result": ""}, "needs a result"),
        ({"status": "dialing", "result": "success"}, "has no result yet"),
        ({"destination_index": 5}, "destination_index"),
        ({"try_count": 0}, "try_count"),
        ({"try_count": "1"}, "try_count"),
        ({"id": "not-a-uuid"}, "is not a UUID"),
        ({"reference_type": "sms"}, "reference_type"),
        ({"tm_create": "soon"}, "tm_create"),
        ({"destination": {"type": "fax"}}, "destination.type"),
    ],
)
def test_bad_campaigncall_fields_are_named(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Campaigncall.model_validate({**campaigncall(), **change})
    assert message in str(raised.value)


def test_uuids_are_stored_in_canonical_form() -> None:
    record = Campaigncall.model_validate(
        {**campaigncall(), "id": "CA000000000040008000000000000001"}
    )
    assert record.id == "ca000000-0000-4000-8000-000000000001"


def test_address_types() -> None:
    for kind in ("tel", "sip", "agent", "email", "extension", "ai_team", "web_session", ""):
        assert Address(type=kind).type == kind  # type: ignore[arg-type]
