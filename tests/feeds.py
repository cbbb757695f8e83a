"""A small call campaign as VoIPbin would run it and send it, with the state its code ends in.

One campaign, one outplan (`max_try_count_0` 2, `max_try_count_1` 1, `try_interval` 60 s),
five targets and ten dials: answered; busy then answered on the same slot; no answer twice
then answered on slot 1; every slot used up (busy, no answer, failed); and a target with only
slot 1 whose one dial VoIPbin cancels. The dials are laid out by a model of VoIPbin's dialer
(`_dial_schedule`), and the end state is written out by hand below from VoIPbin's code, not
from this project's rules. Unrelated traffic (an incoming call, an SMS) is mixed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from store import wire

CUSTOMER = "c5000000-0000-4000-8000-000000000001"
CAMPAIGN = "ca000000-0000-4000-8000-0000000000c1"
OUTPLAN = "0b000000-0000-4000-8000-0000000000b1"
OUTDIAL = "0d000000-0000-4000-8000-0000000000d1"
FLOW = "f1000000-0000-4000-8000-0000000000f1"
TARGETS = [f"7a000000-0000-4000-8000-0000000000{n:02x}" for n in range(1, 6)]
T_ANSWERED, T_BUSY_RETRY, T_NEXT_SLOT, T_EXHAUSTED, T_CANCELED = TARGETS

MAX_TRY_COUNTS = (2, 1, 0, 0, 0)
TRY_INTERVAL_MS = 60000
SOURCE = wire.address(target="+15550100000")
# The campaign is set running at RUN_AT; VoIPbin's first Execute comes 1 s later.
CREATED_AT = datetime(2026, 8, 18, 8, 30, 0, 120000, tzinfo=UTC)
RUN_AT = datetime(2026, 8, 18, 9, 0, 0, tzinfo=UTC)


def _dest(n: int, slot: int) -> dict[str, Any]:
    return wire.address(target=f"+1555010{n}{slot:02d}", target_name=f"Target {n}")


# The destinations of each target (None: slot unset) and the hangup reason of each dial, in
# dial order.
DESTINATIONS: dict[str, list[dict[str, Any] | None]] = {
    T_ANSWERED: [_dest(1, 0), _dest(1, 1)],
    T_BUSY_RETRY: [_dest(2, 0), _dest(2, 1)],
    T_NEXT_SLOT: [_dest(3, 0), _dest(3, 1)],
    T_EXHAUSTED: [_dest(4, 0), _dest(4, 1)],
    T_CANCELED: [None, _dest(5, 1)],
}
REASONS: dict[str, list[str]] = {
    T_ANSWERED: ["normal"],
    T_BUSY_RETRY: ["busy", "normal"],
    T_NEXT_SLOT: ["noanswer", "noanswer", "normal"],
    T_EXHAUSTED: ["busy", "noanswer", "failed"],
    T_CANCELED: ["cancel"],
}

# The end state VoIPbin's database holds, worked out from its code:
# - try counts rise only when a campaigncall is created: campaigncallHandler.Create calls
#   outdial-manager's OutdialTargetUpdateProgressing (try_count_<i> + 1, status progressing);
# - the slot and try of each dial are getTargetDestination's: the lowest slot with a
#   destination and try_count_i < max_try_count_i;
# - at hangup calcCampaigncallResultByCallHangupReason gives the result, and Done ->
#   calcDialtargetStatus sets the target done on success, idle on fail.
# A target out of tries is left idle with its counts: nothing in VoIPbin marks it done or
# exhausted; the available-target query (outdialTargetSelectAvailable) just never picks it.
# ("exhausted" is ours, not a VoIPbin field: idle with no slot left.)
EXPECTED_TARGETS: dict[str, dict[str, Any]] = {
    T_ANSWERED: {"status": "done", "try_counts": [1, 0, 0, 0, 0], "exhausted": False},
    T_BUSY_RETRY: {"status": "done", "try_counts": [2, 0, 0, 0, 0], "exhausted": False},
    T_NEXT_SLOT: {"status": "done", "try_counts": [2, 1, 0, 0, 0], "exhausted": False},
    T_EXHAUSTED: {"status": "idle", "try_counts": [2, 1, 0, 0, 0], "exhausted": True},
    T_CANCELED: {"status": "idle", "try_counts": [0, 1, 0, 0, 0], "exhausted": True},
}
# Every campaigncall, per target in dial order: (destination_index, try_count, result); all
# end done (Done -> updateStatusDone). A call campaign's campaigncall is never progressing.
EXPECTED_CAMPAIGNCALLS: dict[str, list[tuple[int, int, str]]] = {
    T_ANSWERED: [(0, 1, "success")],
    T_BUSY_RETRY: [(0, 1, "fail"), (0, 2, "success")],
    T_NEXT_SLOT: [(0, 1, "fail"), (0, 2, "fail"), (1, 1, "success")],
    T_EXHAUSTED: [(0, 1, "fail"), (0, 2, "fail"), (1, 1, "fail")],
    T_CANCELED: [(1, 1, "fail")],
}
# The campaign: run, then stopped by its user while the last dial is in flight, so stopping
# (campaignStopping) and, once that call is done, stop (EventHandleReferenceCallHungup ->
# campaignStopNow). end_handle is continue: with stop, VoIPbin would stop the campaign the
# first time every target is busy being dialled (Execute: no target -> updateExecuteStop).
EXPECTED_CAMPAIGN_STATUSES = ["run", "stopping", "stop"]


def _uuid(prefix: str, n: int) -> str:
    return f"{prefix}-0000-4000-8000-{n:012x}"


@dataclass
class _Target:
    """A target as outdial-manager's table holds it, while the dialer model runs."""

    id: str
    destinations: list[dict[str, Any] | None]
    tm_create: datetime
    tm_update: datetime
    status: str = "idle"
    try_counts: list[int] = field(default_factory=lambda: [0] * 5)
    dialled: int = 0

    def next_slot(self) -> int | None:
        """getTargetDestination: the lowest slot with a destination and tries left."""
        for i, dest in enumerate(self.destinations):
            if dest is not None and self.try_counts[i] < MAX_TRY_COUNTS[i]:
                return i
        return None


def _initial_targets() -> list[_Target]:
    return [
        _Target(
            tid,
            list(DESTINATIONS[tid]),
            CREATED_AT + timedelta(milliseconds=n),
            CREATED_AT + timedelta(milliseconds=n),
        )
        for n, tid in enumerate(TARGETS)
    ]


def _dial_schedule() -> tuple[list[tuple[wire.Attempt, str]], list[_Target], datetime, datetime]:
    """Lay the dials out as VoIPbin's campaignhandler.Execute would, tick by tick.

    The user stops the campaign 1 s after its last scripted dial. Returns each dial with its
    reason, the targets as they end, when the user stops and when the campaign is stopped.
    """
    targets = _initial_targets()
    total = sum(len(r) for r in REASONS.values())
    pending: list[tuple[datetime, _Target, str]] = []  # (target written at hangup, ..., result)
    attempts: list[tuple[wire.Attempt, str]] = []
    now = RUN_AT + timedelta(seconds=1)  # campaignRun: execute with 1000 ms of delay
    interval = timedelta(milliseconds=TRY_INTERVAL_MS)
    stop_requested: datetime | None = None
    executing = True

    def settle(until: datetime) -> None:
        for done in sorted((p for p in pending if p[0] <= until), key=lambda p: p[0]):
            pending.remove(done)
            at, target, result = done
            target.status = wire.TARGET_STATUS_BY_RESULT[result]
            target.tm_update = at

    while executing:
        settle(now)
        if stop_requested is not None and now >= stop_requested:
            # Execute: status is stopping -> updateExecuteStop; campaignStop stops now when
            # nothing is in flight (isStoppable), else the last hangup stops it.
            executing = False
            break
        # outdialTargetSelectAvailable: idle, a slot left, oldest tm_update first, limit 1
        available = sorted(
            (t for t in targets if t.status == "idle" and t.next_slot() is not None),
            key=lambda t: t.tm_update,
        )
        target = available[0] if available else None
        never_tried = target is not None and target.tm_create == target.tm_update
        if target is None or (not never_tried and target.tm_update > now - interval):
            now += timedelta(milliseconds=5000)  # none, or not due (isDialableTarget): 5 s
            continue
        slot = target.next_slot()
        assert slot is not None
        reason = REASONS[target.id][target.dialled]
        n = len(attempts) + 1
        attempt = wire.Attempt(
            customer_id=CUSTOMER,
            campaign_id=CAMPAIGN,
            outplan_id=OUTPLAN,
            outdial_id=OUTDIAL,
            outdial_target_id=target.id,
            campaigncall_id=_uuid("cc000000", n),
            call_id=_uuid("ca110000", n),
            activeflow_id=_uuid("af000000", n),
            destination=DESTINATIONS[target.id][slot] or {},
            destination_index=slot,
            try_count=target.try_counts[slot] + 1,
            start=now,
            source=SOURCE,
            flow_id=FLOW,
        )
        attempts.append((attempt, reason))
        # OutdialTargetUpdateProgressing, a few ms after the campaigncall is written
        target.try_counts[slot] += 1
        target.status = "progressing"
        target.tm_update = now + timedelta(milliseconds=4)
        target.dialled += 1
        done_at = list(wire.attempt_feed(attempt, reason))[-1].at
        pending.append((done_at + timedelta(milliseconds=4), target, reason_result(reason)))
        if len(attempts) == total:
            stop_requested = now + timedelta(seconds=1)
        now += timedelta(milliseconds=500)  # a dial made: execute again in 500 ms
    last_done = max(p[0] for p in pending) if pending else now
    settle(last_done)
    assert stop_requested is not None
    return attempts, targets, stop_requested, max(now, last_done) + timedelta(milliseconds=5)


def reason_result(reason: str) -> str:
    """VoIPbin's campaigncall result for a hangup reason (the fixture uses known ones only)."""
    return wire.CAMPAIGNCALL_RESULT_BY_REASON[reason]


ATTEMPTS, _END_TARGETS, STOP_REQUESTED_AT, STOPPED_AT = _dial_schedule()


def campaign_record(status: str = "stop", tm_update: datetime | None = None) -> dict[str, Any]:
    """The campaign's WebhookMessage."""
    return wire.campaign(
        id=CAMPAIGN,
        customer_id=CUSTOMER,
        outplan_id=OUTPLAN,
        outdial_id=OUTDIAL,
        tm_create=CREATED_AT - timedelta(minutes=5),
        type_="call",
        name="Renewals August",
        detail="five targets, two slots",
        status=status,
        service_level=100,
        end_handle="continue",
        actions=[wire.action(type_="talk", option={"text": "Hello from VoIPbin."})],
        tm_update=tm_update,
    )


def bundle() -> dict[str, list[dict[str, Any]]]:
    """The REST lists as `sync` would read them before the campaign runs: targets untried."""
    return {
        "campaigns": [campaign_record()],
        "outplans": [
            wire.outplan(
                id=OUTPLAN,
                customer_id=CUSTOMER,
                tm_create=CREATED_AT - timedelta(minutes=9),
                name="two slots",
                source=SOURCE,
                dial_timeout=30000,
                try_interval=TRY_INTERVAL_MS,
                max_try_counts=MAX_TRY_COUNTS,
            )
        ],
        "outdials": [
            wire.outdial(
                id=OUTDIAL,
                customer_id=CUSTOMER,
                tm_create=CREATED_AT - timedelta(minutes=7),
                campaign_id=CAMPAIGN,
                name="August list",
            )
        ],
        # REST order: newest tm_create first
        "outdialtargets": [
            wire.outdialtarget(
                id=t.id,
                outdial_id=OUTDIAL,
                destinations=t.destinations,
                tm_create=t.tm_create,
                name=f"Target {n + 1}",
            )
            for n, t in reversed(list(enumerate(_initial_targets())))
        ],
        "campaigncalls": [],
    }


def events() -> list[wire.WireEvent]:
    """Every event VoIPbin publishes for this run, in publish order."""
    campaign_feed = [
        wire.campaign_status_event(campaign_record(), "run", RUN_AT),
        wire.campaign_status_event(campaign_record(), "stopping", STOP_REQUESTED_AT),
        wire.campaign_status_event(campaign_record(), "stop", STOPPED_AT),
    ]
    unrelated = [
        *wire.incoming_call_feed(
            customer_id=CUSTOMER,
            call_id=_uuid("1c000000", 1),
            activeflow_id=_uuid("1f000000", 1),
            source=wire.address(target="+15550199001"),
            destination=SOURCE,
            start=RUN_AT + timedelta(seconds=20, microseconds=250000),
        ),
        wire.sms_received(
            customer_id=CUSTOMER,
            message_id=_uuid("5e000000", 1),
            source=wire.address(target="+15550199002"),
            destination=SOURCE,
            text="Call me back after 5 & <not> before",
            at=RUN_AT + timedelta(seconds=41.5),
        ),
    ]
    attempts = [wire.attempt_feed(attempt, reason) for attempt, reason in ATTEMPTS]
    return wire.in_order(campaign_feed, unrelated, *attempts)


def webhook_envelopes() -> list[dict[str, Any]]:
    """The feed as webhook bodies: `{"type", "data"}`, one per event."""
    return [event.webhook() for event in events()]


def websocket_frames(*, twice: bool = False) -> list[str]:
    """The feed as a `customer_id:<id>` websocket subscriber gets it: raw resources, no wrapper.

    With `twice`, each frame comes twice, as api-manager publishes every event to two topics
    that both start with the customer prefix (createTopics in its webhookmanager.go).
    """
    frames = [wire.compact(event.data) for event in events()]
    return [f for frame in frames for f in ([frame, frame] if twice else [frame])]


def end_targets() -> dict[str, dict[str, Any]]:
    """The targets as the dialer model leaves them (compare with EXPECTED_TARGETS)."""
    return {
        t.id: {
            "status": t.status,
            "try_counts": list(t.try_counts),
            "exhausted": t.status == "idle" and t.next_slot() is None,
        }
        for t in _END_TARGETS
    }


def expected_campaigncalls() -> dict[str, dict[str, Any]]:
    """Each campaigncall id with its target, slot, try and end state (EXPECTED_CAMPAIGNCALLS)."""
    seen: dict[str, int] = {}
    out: dict[str, dict[str, Any]] = {}
    for attempt, _reason in ATTEMPTS:
        target = attempt.outdial_target_id
        index, try_count, result = EXPECTED_CAMPAIGNCALLS[target][seen.get(target, 0)]
        seen[target] = seen.get(target, 0) + 1
        out[attempt.campaigncall_id] = {
            "outdial_target_id": target,
            "reference_id": attempt.call_id,
            "destination_index": index,
            "try_count": try_count,
            "status": "done",
            "result": result,
        }
    return out
