"""The rules applied to a real SQLite file: hangups, answers, attempts, duplicates, conflicts."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlite_utils

from store.apply import apply_bytes
from store.queries import Queries
from tests.helpers import (
    CALL,
    REF,
    TARGET,
    TARGET_2,
    campaigncall,
    created,
    hangup,
    progressing,
)


def apply(db: sqlite_utils.Database, *events: Any, name: str = "f.json") -> list[str]:
    data = json.dumps(list(events) if len(events) != 1 else events[0]).encode()
    return [o.outcome for o in apply_bytes(db, name, data)]


def row(db: sqlite_utils.Database, table: str, ident: str) -> dict[str, Any]:
    return dict(db[table].get(ident))


def snapshot(db: sqlite_utils.Database) -> dict[str, list[tuple[Any, ...]]]:
    """Everything but the events log, to prove a rejected event changed nothing."""
    return {
        t: db.conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        for t in ("campaigncalls", "outdialtargets", "campaigncall_counts")
    }


def test_hangup_busy_fails_the_call_and_schedules_a_retry(
    db: sqlite_utils.Database, queries: Queries
) -> None:
    assert apply(db, hangup(reason="busy", tm="2026-11-20T09:01:00Z")) == ["applied"]
    call = row(db, "campaigncalls", CALL)
    assert (call["status"], call["result"], call["tm_update"]) == (
        "done",
        "fail",
        "2026-11-20 09:01:00.000000",
    )
    target = row(db, "outdialtargets", TARGET)
    assert (target["status"], target["tm_update"]) == ("idle", "2026-11-20 09:01:00.000000")
    assert target["try_count_0"] == 1  # a hangup does not count a dial
    detail = queries.detail(CALL)
    assert detail is not None
    assert detail.retry.as_json() == {
        "state": "scheduled",
        "destination_index": 0,
        "try_count": 2,
        "due": "2026-11-20 09:02:00.000000",  # tm_update + try_interval (60 s)
    }


def test_hangup_normal_succeeds_and_ends_the_target(
    db: sqlite_utils.Database, queries: Queries
) -> None:
    assert apply(db, progressing(), hangup(reason="normal")) == ["applied", "applied"]
    assert row(db, "campaigncalls", CALL)["result"] == "success"
    assert row(db, "outdialtargets", TARGET)["status"] == "done"
    detail = queries.detail(REF)  # found by its reference_id too
    assert detail is not None and detail.retry.state == "none"


def test_hangup_time_falls_back_to_tm_update_then_now(db: sqlite_utils.Database) -> None:
    event = hangup(tm="9999-01-01 00:00:00.000000", tm_update="2026-11-20T09:05:00.5Z")
    assert apply(db, event) == ["applied"]
    assert row(db, "campaigncalls", CALL)["tm_update"] == "2026-11-20 09:05:00.500000"


def test_shorthand_by_campaigncall_id_and_reference_id(db: sqlite_utils.Database) -> None:
    assert apply(
        db, {"campaigncall_id": CALL, "hangup_reason": "no_answer", "tm": "2026-11-20 09:03:00"}
    ) == ["applied"]
    assert row(db, "campaigncalls", CALL)["result"] == "fail"


def test_shorthand_by_reference_id(db: sqlite_utils.Database) -> None:
    assert apply(db, {"reference_id": REF, "hangup_reason": "normal"}) == ["applied"]
    assert row(db, "campaigncalls", CALL)["result"] == "success"


def test_call_progressing_answers_a_dialing_call(db: sqlite_utils.Database) -> None:
    assert apply(db, progressing(tm="2026-11-20T09:00:20Z")) == ["applied"]
    call = row(db, "campaigncalls", CALL)
    assert (call["status"], call["tm_update"]) == ("progressing", "2026-11-20 09:00:20.000000")


def test_new_attempt_counts_a_dial_and_the_old_call_stays_done(
    db: sqlite_utils.Database, queries: Queries
) -> None:
    apply(db, hangup(reason="busy"))
    retry = campaigncall(
        "ca000000-0000-4000-8000-000000000002",
        ref="ee000000-0000-4000-8000-000000000002",
        tries=2,
        tm_create="2026-11-20 09:02:00.000000",
    )
    assert apply(db, created(retry)) == ["applied"]
    target = row(db, "outdialtargets", TARGET)
    assert (target["status"], target["try_count_0"]) == ("progressing", 2)
    assert row(db, "campaigncalls", CALL)["status"] == "done"
    assert row(db, "campaigncalls", retry["id"])["status"] == "dialing"
    # slot 0 is out of tries (2 of 2): a fail now moves the plan to slot 1
    apply(
        db,
        hangup(
            "ee000000-0000-4000-8000-000000000002", reason="noanswer", tm="2026-11-20T09:03:00Z"
        ),
    )
    detail = queries.detail(retry["id"])
    assert detail is not None
    assert (detail.retry.state, detail.retry.destination_index, detail.retry.try_count) == (
        "scheduled",
        1,
        1,
    )


def test_out_of_tries_everywhere_is_exhausted(db: sqlite_utils.Database, queries: Queries) -> None:
    calls = [
        ("ca000000-0000-4000-8000-0000000000a1", "ee000000-0000-4000-8000-0000000000a1", 0, 1),
        ("ca000000-0000-4000-8000-0000000000a2", "ee000000-0000-4000-8000-0000000000a2", 0, 2),
        ("ca000000-0000-4000-8000-0000000000a3", "ee000000-0000-4000-8000-0000000000a3", 1, 1),
    ]
    for minute, (ident, ref, index, tries) in enumerate(calls):
        record = campaigncall(ident, ref=ref, target=TARGET_2, index=index, tries=tries,
                              tm_create=f"2026-11-20 10:0{minute}:00.000000")  # fmt: skip
        assert (
            apply(db, created(record), hangup(ref, "busy", f"2026-11-20T10:0{minute}:30Z"))
            == ["applied"] * 2
        )
    detail = queries.detail(calls[-1][0])
    assert detail is not None and detail.retry.state == "exhausted"
    assert queries.counts().exhausted == 1


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (hangup(reason="hungup"), "unknown hangup reason 'hungup'"),
        (hangup(reason=""), "the hangup reason is empty"),
        (hangup("not-a-uuid"), "data.id: 'not-a-uuid' is not a UUID"),
        (hangup(tm="tomorrow"), "data.tm_hangup"),
        ({"type": "call_hangup"}, "data: Field required"),
        ({"type": "call_hangup", "data": []}, "data must be an object, not an array"),
        ({"type": "call_hangup", "data": {"id": REF, "hangup_reason": 7}}, "data.hangup_reason"),
        ({"type": "call_exploded", "data": {}}, "unknown event type 'call_exploded'"),
        ({"type": "call_ringing", "data": {}}, "data.id: Field required"),
        ({"type": 5}, "an event's type must be a string, not a number"),
        ({"hello": "world"}, "not an event"),
        ({"campaigncall_id": CALL}, "hangup_reason: Field required"),
        ({"hangup_reason": "busy"}, "give exactly one of campaigncall_id and reference_id"),
        ({"campaigncall_id": CALL, "reference_id": REF, "hangup_reason": "busy"}, "exactly one"),
        ("call_hangup", "an event must be a JSON object, not a string"),
        (42, "not a number"),
        (None, "not null"),
        (
            created(
                {**campaigncall("ca000000-0000-4000-8000-0000000000b3"), "destination_index": 7}
            ),
            "data.destination_index",
        ),
    ],
)
def test_bad_events_are_rejected_with_a_reason_and_change_nothing(
    db: sqlite_utils.Database, event: Any, message: str
) -> None:
    before = snapshot(db)
    outcomes = apply_bytes(db, "bad.json", json.dumps([event]).encode())
    assert [o.outcome for o in outcomes] == ["rejected"]
    assert message in (outcomes[0].error or "")
    assert snapshot(db) == before
    recorded = db.conn.execute("SELECT outcome, error, raw, position FROM events").fetchall()
    assert [(o, e, json.loads(r), p) for o, e, r, p in recorded] == [
        ("rejected", outcomes[0].error, event, 0)
    ]


def test_a_second_hangup_is_a_conflict_naming_status_and_result(db: sqlite_utils.Database) -> None:
    apply(db, hangup(reason="normal"))
    before = snapshot(db)
    outcomes = apply_bytes(db, "again.json", json.dumps(hangup(reason="busy")).encode())
    assert outcomes[0].outcome == "rejected"
    assert outcomes[0].error == (
        f"campaigncall {CALL} is already done with result success; this hangup (busy) means"
        " fail, so it is refused"
    )
    assert snapshot(db) == before


def test_a_hangup_that_agrees_with_done_is_late_news(db: sqlite_utils.Database) -> None:
    apply(db, hangup(reason="busy"))
    before = snapshot(db)
    late = hangup(reason="noanswer", tm="2026-11-20T09:05:00Z")  # another reason, the same fail
    outcomes = apply_bytes(db, "late.json", json.dumps(late).encode())
    assert [(o.outcome, o.error, o.summary) for o in outcomes] == [
        ("ignored", None, "late news: already done (fail)")
    ]
    assert snapshot(db) == before


def test_the_same_event_again_is_a_duplicate(db: sqlite_utils.Database) -> None:
    event = hangup(reason="busy")
    assert apply(db, event) == ["applied"]
    before = snapshot(db)
    reordered = {"data": dict(reversed(list(event["data"].items()))), "type": "call_hangup"}
    assert apply(db, reordered, name="again.json") == ["duplicate"]  # same content, other key order
    assert snapshot(db) == before
    assert apply(db, event, event, name="twice.json") == ["duplicate", "duplicate"]


def test_a_file_with_good_and_bad_events_applies_the_good_ones(db: sqlite_utils.Database) -> None:
    outcomes = apply(db, progressing(), hangup(reason="nope"), hangup(reason="normal"))
    assert outcomes == ["applied", "rejected", "applied"]
    assert row(db, "campaigncalls", CALL)["result"] == "success"


def test_an_answer_after_done_is_late_news(db: sqlite_utils.Database) -> None:
    apply(db, hangup(reason="busy"))
    before = snapshot(db)
    outcomes = apply_bytes(db, "late.json", json.dumps(progressing()).encode())
    assert [(o.outcome, o.summary) for o in outcomes] == [
        ("ignored", "late news: already done (fail)")
    ]
    assert snapshot(db) == before


def test_counts_follow_every_change(db: sqlite_utils.Database, queries: Queries) -> None:
    assert (queries.counts().dialing, queries.counts().done) == (1, 0)
    apply(db, progressing())
    assert (queries.counts().dialing, queries.counts().progressing) == (0, 1)
    apply(db, hangup(reason="normal"))
    counts = queries.counts()
    assert (counts.progressing, counts.done, counts.success, counts.fail) == (0, 1, 1, 0)
    fresh = db.conn.execute("SELECT count(*) FROM campaigncalls WHERE status='done'").fetchone()[0]
    assert counts.done == fresh


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"   \n", "the file is empty"),
        (b"{", "the file ends before its JSON does"),
        (b'{"type": "call_hangup", "data": {"id": ', "the file ends before its JSON does"),
        (b'{"type" "call_hangup"}', "the file is not JSON: Expecting ':' delimiter at line 1"),
        (b"\xff\xfe{}", "the file is not UTF-8 text (bad byte at offset 0)"),
        (b"[]", "the file holds an empty array: no events"),
        (b"12", "the file's JSON is a number, not an event object"),
        (b'"hangup"', "the file's JSON is a string"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_unreadable_files_are_rejected_whole(
    db: sqlite_utils.Database, data: bytes, message: str
) -> None:
    before = snapshot(db)
    outcomes = apply_bytes(db, "x.json", data)
    assert len(outcomes) == 1 and outcomes[0].position is None
    assert message in (outcomes[0].error or "")
    assert snapshot(db) == before


def test_a_bom_is_accepted(db: sqlite_utils.Database) -> None:
    data = b"\xef\xbb\xbf" + json.dumps(hangup(reason="busy")).encode()
    assert [o.outcome for o in apply_bytes(db, "bom.json", data)] == ["applied"]


def test_markup_and_escape_codes_are_stored_as_they_are(db: sqlite_utils.Database) -> None:
    record = campaigncall(
        "ca000000-0000-4000-8000-0000000000c1", ref="ee000000-0000-4000-8000-0000000000c1"
    )
    record["destination"] = {
        "type": "tel",
        "target": "+1\x1b[31m",
        "name": "[bold]VIP[/]",
        "target_name": "",
        "detail": "\x07",
    }
    record["outdial_target_id"] = TARGET_2
    assert apply(db, created(record)) == ["applied"]
    stored = json.loads(row(db, "campaigncalls", record["id"])["destination"])
    assert stored["name"] == "[bold]VIP[/]" and stored["target"] == "+1\x1b[31m"


def test_lone_surrogates_in_json_do_not_break_the_record(db: sqlite_utils.Database) -> None:
    data = b'[{"campaigncall_id": "' + CALL.encode() + b'", "hangup_reason": "\\ud800"}]'
    outcomes = apply_bytes(db, "surrogate.json", data)
    assert outcomes[0].outcome == "rejected" and "unknown hangup reason" in (
        outcomes[0].error or ""
    )
    assert db.conn.execute("SELECT raw FROM events").fetchone()[0].endswith('"\\ud800"}')


def test_a_refused_hangup_is_listed_with_its_campaigncall(
    db: sqlite_utils.Database, queries: Queries
) -> None:
    outcomes = apply_bytes(db, "bad.json", json.dumps(hangup(REF, reason="hungup")).encode())
    assert outcomes[0].campaigncall_id == CALL  # the call's id resolved to its campaigncall
    detail = queries.detail(CALL)
    assert detail is not None
    assert [(e.outcome, e.reason) for e in detail.events] == [("rejected", "hungup")]
