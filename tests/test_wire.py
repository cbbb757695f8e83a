"""store/wire.py against the facts of VoIPbin's Go structs, and tests/feeds.py against itself."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from store import wire
from tests import feeds

T = datetime(2026, 8, 18, 9, 0, 1, 343930, tzinfo=UTC)
NIL = wire.NIL_UUID


# --- times and JSON, as encoding/json writes them ---------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 8, 18, 9, 0, 1, 343930, tzinfo=UTC), "2026-08-18T09:00:01.34393Z"),
        (datetime(2026, 8, 18, 9, 0, 1, tzinfo=UTC), "2026-08-18T09:00:01Z"),
        (datetime(2026, 8, 18, 9, 0, 1, 100000, tzinfo=UTC), "2026-08-18T09:00:01.1Z"),
        (datetime(2026, 8, 18, 9, 0, 1, 808944, tzinfo=UTC), "2026-08-18T09:00:01.808944Z"),
        (datetime(2026, 8, 18, 9, 0, 1, 5), "2026-08-18T09:00:01.000005Z"),  # naive = UTC
        (
            datetime(2026, 8, 18, 18, 0, 1, 500000, tzinfo=timezone(timedelta(hours=9))),
            "2026-08-18T09:00:01.5Z",
        ),
    ],
)
def test_wire_time_trims_the_fraction_like_rfc3339nano(value: datetime, text: str) -> None:
    assert wire.wire_time(value) == text


def test_wire_time_of_nil_is_null() -> None:
    assert wire.wire_time(None) is None


def test_wire_times_do_not_sort_as_strings() -> None:
    early, late = (wire.wire_time(T.replace(microsecond=m)) for m in (120000, 121000))
    assert (early, late) == ("2026-08-18T09:00:01.12Z", "2026-08-18T09:00:01.121Z")
    assert early is not None and late is not None and early > late  # parse before comparing


def test_compact_writes_go_json() -> None:
    text = wire.compact({"b": 1, "a": ["x y", None], "t": "<b>&é\u2028"})
    assert text == '{"b":1,"a":["x y",null],"t":"\\u003cb\\u003e\\u0026é\\u2028"}'
    assert json.loads(text)["t"] == "<b>&é\u2028"


def test_envelope_and_signature() -> None:
    body = wire.compact(wire.envelope("call_hangup", {"id": "x"})).encode()
    assert body == b'{"type":"call_hangup","data":{"id":"x"}}'
    # HMAC-SHA256's published test value for this key and message
    assert wire.webhook_signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
    assert wire.SIGNATURE_HEADER == "X-VoIPBIN-Signature"


# --- the builders, field by field (bin-*-manager/models/*/webhook.go) -------------------


def test_address_leaves_empty_fields_out() -> None:
    assert wire.address(target="+15550100002") == {"type": "tel", "target": "+15550100002"}
    assert wire.address(type_="", target="") == {}
    assert list(wire.address("sip", "a@b", "T", "N", "D")) == [
        "type",
        "target",
        "target_name",
        "name",
        "detail",
    ]


def test_action_keeps_its_uuids_and_a_null_tm_execute() -> None:
    assert wire.action() == {"id": NIL, "next_id": NIL, "tm_execute": None}
    a = wire.action(type_="talk", option={"z": 1, "a": 2}, tm_execute=T)
    assert list(a) == ["id", "next_id", "type", "option", "tm_execute"]
    assert list(a["option"]) == ["a", "z"]  # Go sorts map keys


CALL_FIELDS = [
    "id", "customer_id", "owner_type", "owner_id", "flow_id", "activeflow_id", "type",
    "master_call_id", "chained_call_ids", "recording_id", "recording_ids", "groupcall_id",
    "source", "destination", "status", "action", "metadata", "direction", "mute_direction",
    "hangup_by", "hangup_reason", "tm_progressing", "tm_ringing", "tm_hangup", "tm_create",
    "tm_update", "tm_delete",
]  # fmt: skip


def test_call_field_order_when_everything_is_set() -> None:
    full = wire.call(
        id="c", customer_id="u", status="hangup", source=wire.address(target="1"),
        destination=wire.address(target="2"), chained_call_ids=["x"], recording_ids=["r"],
        metadata={"k": "v"}, mute_direction="both", hangup_by="remote",
        hangup_reason="normal", tm_progressing=T, tm_ringing=T, tm_hangup=T, tm_create=T,
        tm_update=T, tm_delete=T,
    )  # fmt: skip
    assert list(full) == CALL_FIELDS


def test_call_omits_empty_omitempty_fields_but_never_uuids_or_structs() -> None:
    c = wire.call(id="c", customer_id="u", status="dialing", source={}, destination={},
                  direction="", type_="")  # fmt: skip
    assert list(c) == [
        "id", "customer_id", "owner_type", "owner_id", "flow_id", "activeflow_id",
        "master_call_id", "recording_id", "groupcall_id", "source", "destination", "status",
        "action",
    ]  # fmt: skip
    assert c["owner_type"] == "" and c["flow_id"] == NIL and c["groupcall_id"] == NIL
    assert "tm_hangup" not in c and "hangup_reason" not in c and "tm_update" not in c


def test_campaigncall_sends_every_field_and_null_times() -> None:
    cc = wire.campaigncall(
        id="i", customer_id="u", campaign_id="c", outplan_id="p", outdial_id="o",
        outdial_target_id="t", destination=wire.address(target="1"), destination_index=0,
        try_count=1, tm_create=T,
    )  # fmt: skip
    assert list(cc) == [
        "id", "customer_id", "campaign_id", "outplan_id", "outdial_id", "outdial_target_id",
        "queue_id", "activeflow_id", "flow_id", "reference_type", "reference_id", "status",
        "result", "source", "destination", "destination_index", "try_count", "tm_create",
        "tm_update", "tm_delete",
    ]  # fmt: skip
    assert cc["status"] == "dialing" and cc["result"] == "" and cc["source"] is None
    assert cc["tm_create"] == "2026-08-18T09:00:01.34393Z"
    assert cc["tm_update"] is None and cc["tm_delete"] is None
    assert cc["queue_id"] == NIL


def test_campaign_outplan_outdial_target_activeflow_fields() -> None:
    assert list(wire.campaign(id="i", customer_id="u", outplan_id="p", outdial_id="o",
                              tm_create=T)) == [
        "id", "customer_id", "type", "name", "detail", "status", "service_level",
        "end_handle", "actions", "outplan_id", "outdial_id", "queue_id", "next_campaign_id",
        "tm_create", "tm_update", "tm_delete",
    ]  # fmt: skip
    plan = wire.outplan(id="i", customer_id="u", tm_create=T, max_try_counts=(2, 1))
    assert [plan[f"max_try_count_{i}"] for i in range(5)] == [2, 1, 0, 0, 0]
    assert list(plan)[:7] == ["id", "customer_id", "name", "detail", "source", "dial_timeout",
                              "try_interval"]  # fmt: skip
    assert list(wire.outdial(id="i", customer_id="u", tm_create=T)) == [
        "id", "customer_id", "campaign_id", "name", "detail", "data", "tm_create", "tm_update",
        "tm_delete",
    ]  # fmt: skip
    target = wire.outdialtarget(id="i", outdial_id="o", destinations=[None, {}], tm_create=T)
    assert "customer_id" not in target
    assert target["destination_0"] is None and target["destination_1"] == {}
    assert target["destination_4"] is None and target["try_count_4"] == 0
    assert target["tm_update"] == target["tm_create"]  # a new target: never tried
    flow = wire.activeflow(id="a", customer_id="u", reference_type="", reference_id=NIL,
                           tm_create=T, status="")  # fmt: skip
    assert list(flow) == [
        "id", "customer_id", "flow_id", "reference_id", "reference_activeflow_id",
        "on_complete_flow_id", "current_action", "forward_action_id", "tm_create",
        "tm_update", "tm_delete",
    ]  # fmt: skip
    assert flow["current_action"]["id"] == wire.ACTION_START_ID and flow["tm_update"] is None


# --- feeds ------------------------------------------------------------------------------


def _attempt(**kw: object) -> wire.Attempt:
    fields: dict[str, object] = dict(
        customer_id="u", campaign_id="c", outplan_id="p", outdial_id="o",
        outdial_target_id="t", campaigncall_id="cc", call_id="call", activeflow_id="af",
        destination=wire.address(target="2"), destination_index=0, try_count=1, start=T,
    )  # fmt: skip
    fields.update(kw)
    return wire.Attempt(**fields)  # type: ignore[arg-type]


def _types(events: list[wire.WireEvent]) -> list[str]:
    return [e.type for e in events]


def test_attempt_feed_answered_then_hung_up_by_the_callee() -> None:
    events = list(wire.attempt_feed(_attempt(), "normal"))
    assert _types(events) == [
        "campaigncall_created", "activeflow_created", "call_created", "call_ringing",
        "call_progressing", "activeflow_updated", "call_updated", "call_hangup",
        "activeflow_updated", "campaigncall_updated",
    ]  # fmt: skip
    assert [e.at for e in events] == sorted(e.at for e in events)
    created, hangup, done = events[0].data, events[7].data, events[-1].data
    assert created["status"] == "dialing" and created["tm_update"] is None
    assert created["reference_type"] == "call" and created["reference_id"] == "call"
    assert hangup["status"] == "hangup" and hangup["hangup_by"] == "remote"
    assert hangup["tm_hangup"] == wire.wire_time(events[7].at)
    assert (done["status"], done["result"]) == ("done", "success")
    assert events[1].data["reference_type"] == "call"  # the call's activeflow, not campaign
    assert events[-2].data["status"] == "ended"


def test_attempt_feed_busy_never_rings_nor_answers() -> None:
    types = _types(list(wire.attempt_feed(_attempt(), "busy")))
    assert "call_ringing" not in types and "call_progressing" not in types
    assert types[-1] == "campaigncall_updated"


def test_voipbin_hanging_up_sends_terminating_or_canceling() -> None:
    amd = list(wire.attempt_feed(_attempt(), "amd"))
    assert "call_terminating" in _types(amd) and "call_canceling" not in _types(amd)
    assert amd[-3].data["hangup_by"] == "local"
    cancel = list(wire.attempt_feed(_attempt(), "cancel"))
    assert "call_canceling" in _types(cancel) and "call_progressing" not in _types(cancel)
    assert cancel[-1].data["result"] == "fail"


def test_attempt_feed_for_an_unknown_reason_never_finishes_the_campaigncall() -> None:
    types = _types(list(wire.attempt_feed(_attempt(), "weird")))
    assert types[-1] == "activeflow_updated" and "campaigncall_updated" not in types


def test_flow_attempt_feed() -> None:
    events = list(wire.flow_attempt_feed(_attempt()))
    assert _types(events) == [
        "campaigncall_created", "campaigncall_updated", "activeflow_created",
        "activeflow_updated", "activeflow_deleted", "campaigncall_updated",
    ]  # fmt: skip
    assert events[0].data["reference_type"] == "flow" and events[0].data["reference_id"] == NIL
    assert events[1].data["status"] == "progressing"
    flow = events[2].data
    assert (flow["reference_type"], flow["reference_id"]) == ("campaign", "cc")
    assert flow["id"] == events[0].data["activeflow_id"]  # GetByActiveflowID finds it
    assert (events[-1].data["status"], events[-1].data["result"]) == ("done", "success")
    never = _types(list(wire.flow_attempt_feed(_attempt(), deleted_after=None)))
    assert never[-1] == "activeflow_updated" and never.count("campaigncall_updated") == 1


# --- tests/feeds.py: a worked campaign, consistent with itself -------------------------


def test_the_dialer_model_ends_where_voipbin_does() -> None:
    assert feeds.end_targets() == feeds.EXPECTED_TARGETS
    assert sum(len(v) for v in feeds.EXPECTED_CAMPAIGNCALLS.values()) == len(feeds.ATTEMPTS)


def test_expected_try_counts_are_the_dials_per_slot() -> None:
    for target, calls in feeds.EXPECTED_CAMPAIGNCALLS.items():
        per_slot = Counter(index for index, _try, _result in calls)
        assert feeds.EXPECTED_TARGETS[target]["try_counts"] == [per_slot[i] for i in range(5)]
        for index, try_count, _result in calls:
            assert try_count <= feeds.MAX_TRY_COUNTS[index]
            assert feeds.DESTINATIONS[target][index] is not None
        last = calls[-1][2]
        assert feeds.EXPECTED_TARGETS[target]["status"] == ("done" if last == "success" else "idle")
        assert all(result == "fail" for _i, _t, result in calls[:-1])  # done stops the dialling


def test_expected_slots_follow_get_target_destination() -> None:
    for target, calls in feeds.EXPECTED_CAMPAIGNCALLS.items():
        counts = [0] * 5
        for index, try_count, _result in calls:
            first_free = next(
                i
                for i in range(5)
                if i < len(feeds.DESTINATIONS[target])
                and feeds.DESTINATIONS[target][i] is not None
                and counts[i] < feeds.MAX_TRY_COUNTS[i]
            )
            assert (index, try_count) == (first_free, counts[first_free] + 1)
            counts[index] += 1


def test_the_feed_carries_each_attempt_and_its_result() -> None:
    events = feeds.events()
    assert [e.at for e in events] == sorted(e.at for e in events)
    created = [e.data for e in events if e.type == "campaigncall_created"]
    done = {e.data["id"]: e.data for e in events if e.type == "campaigncall_updated"}
    expected = feeds.expected_campaigncalls()
    assert [c["id"] for c in created] == list(expected)
    for c in created:
        want = expected[c["id"]]
        assert (c["status"], c["result"], c["tm_update"]) == ("dialing", "", None)
        assert (c["destination_index"], c["try_count"]) == (
            want["destination_index"],
            want["try_count"],
        )
        assert c["reference_id"] == want["reference_id"]
        assert (done[c["id"]]["status"], done[c["id"]]["result"]) == ("done", want["result"])
    assert not [e for e in events if e.type.startswith(("outdialtarget_", "outplan_"))]


def test_retries_wait_for_the_try_interval() -> None:
    events = feeds.events()
    done_at: dict[str, datetime] = {}
    by_call = {a.campaigncall_id: a for a, _reason in feeds.ATTEMPTS}
    interval = timedelta(milliseconds=feeds.TRY_INTERVAL_MS)
    for e in events:
        if e.type == "campaigncall_updated":
            done_at[e.data["outdial_target_id"]] = e.at
        elif e.type == "campaigncall_created":
            target = by_call[e.data["id"]].outdial_target_id
            if target in done_at:
                assert e.at >= done_at[target] + interval


def test_campaign_status_and_unrelated_traffic() -> None:
    events = feeds.events()
    statuses = [e.data["status"] for e in events if e.type.startswith("campaign_status_")]
    assert statuses == feeds.EXPECTED_CAMPAIGN_STATUSES
    last_done = max(e.at for e in events if e.type == "campaigncall_updated")
    assert events[-1].type == "campaign_status_stop" and events[-1].at > last_done
    incoming = [e for e in events if e.data.get("direction") == "incoming"]
    assert incoming and all(e.type.startswith("call_") for e in incoming)
    assert [e.type for e in events].count("message_created") == 1


def test_envelopes_and_frames_are_the_same_feed() -> None:
    envelopes = feeds.webhook_envelopes()
    frames = feeds.websocket_frames()
    assert len(envelopes) == len(frames) == len(feeds.events())
    for env, frame in zip(envelopes, frames, strict=True):
        assert set(env) == {"type", "data"}
        assert json.loads(frame) == env["data"]  # the resource itself, no wrapper
        assert frame == wire.compact(env["data"])
    assert feeds.websocket_frames(twice=True)[::2] == frames


def test_bundle_is_the_rest_lists_before_the_run() -> None:
    bundle = feeds.bundle()
    assert set(bundle) == {"campaigns", "outplans", "outdials", "outdialtargets", "campaigncalls"}
    targets = bundle["outdialtargets"]
    assert sorted(t["id"] for t in targets) == sorted(feeds.TARGETS)
    # newest first; compared as times: trimmed fractions do not sort as strings (.12Z > .121Z)
    created = [datetime.fromisoformat(t["tm_create"]) for t in targets]
    assert created == sorted(created, reverse=True)
    for t in targets:
        assert t["status"] == "idle" and t["tm_update"] == t["tm_create"]
        assert [t[f"try_count_{i}"] for i in range(5)] == [0] * 5
    plan = bundle["outplans"][0]
    assert [plan[f"max_try_count_{i}"] for i in range(5)] == list(feeds.MAX_TRY_COUNTS)
    assert bundle["campaigns"][0]["status"] == "stop" and bundle["campaigncalls"] == []
