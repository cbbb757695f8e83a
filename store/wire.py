"""VoIPbin's payloads exactly as its Go code puts them on the wire, and the feeds it sends.

Each builder returns a dict whose keys come in the Go struct's order, with `omitempty` fields
left out when empty and the others kept (nil UUIDs as the nil UUID, nil times as null), as
`encoding/json` does; `compact` writes it as Go does. `docs/voipbin.md` says where each fact
comes from. Pure standard library: used by `simulate`, by tests and by a fake VoIPbin server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from store.rules import HANGUP_RESULTS, target_status_after

JSONObject = dict[str, Any]

NIL_UUID = "00000000-0000-0000-0000-000000000000"
# bin-flow-manager/models/action/action.go: the reserved id of a flow's start action.
ACTION_START_ID = "00000000-0000-0000-0000-000000000001"
# The id of the one action the simulated campaign flow runs once the call is answered.
FLOW_ACTION_ID = "a0000000-0000-4000-8000-000000000001"
# bin-call-manager/pkg/callhandler/main.go: defaultDialTimeout (seconds); the outplan's
# dial_timeout is never passed to the call.
DEFAULT_DIAL_TIMEOUT_S = 60
# bin-call-manager/pkg/callhandler/main.go: defaultTimeoutCallDuration (ms) -> reason timeout.
DEFAULT_CALL_DURATION_S = 3600

# bin-webhook-manager/pkg/webhookhandler/message.go: signatureHeader.
SIGNATURE_HEADER = "X-VoIPBIN-Signature"

# bin-campaign-manager/pkg/campaigncallhandler/eventhandle.go:
# calcCampaigncallResultByCallHangupReason (VoIPbin's spellings; the one copy is store.rules).
CAMPAIGNCALL_RESULT_BY_REASON: Mapping[str, str] = HANGUP_RESULTS
# bin-campaign-manager/pkg/campaigncallhandler/status.go: calcDialtargetStatus.
TARGET_STATUS_BY_RESULT: Mapping[str, str] = {
    "": "idle",
    **{result: target_status_after(result) for result in ("success", "fail")},
}


def wire_time(value: datetime | None) -> str | None:
    """`value` as Go's json writes a time.Time: RFC 3339 in UTC, fraction zeros trimmed.

    `2026-08-18T09:00:01.343930Z` -> `2026-08-18T09:00:01.34393Z`; a whole second has no
    fraction at all (time.RFC3339Nano). None (a nil *time.Time) stays None, i.e. null.
    A naive datetime is taken as UTC.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{value.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


# encoding/json escapes these even with no HTML around (json.Marshal's default).
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def compact(obj: object) -> str:
    """`obj` as Go's json.Marshal writes it: no spaces, UTF-8 kept, `<>&` escaped.

    Key order is the dict's own (the builders keep Go's struct order; Go sorts map keys,
    which the builders do for map-typed fields).
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def _omit_empty(pairs: Sequence[tuple[str, Any, bool]]) -> JSONObject:
    """Build an object from (key, value, omitempty) in order, dropping empty omitempty ones."""
    out: JSONObject = {}
    for key, value, omitempty in pairs:
        if omitempty and (
            value is None
            or value == ""
            or value == 0
            or value is False
            or (isinstance(value, list | dict) and not value)
        ):
            continue
        out[key] = value
    return out


def _sorted_map(value: Mapping[str, Any] | None) -> JSONObject | None:
    return None if value is None else {k: value[k] for k in sorted(value)}


def address(
    type_: str = "tel",
    target: str = "",
    target_name: str = "",
    name: str = "",
    detail: str = "",
) -> JSONObject:
    """An Address: every field omitempty (bin-common-handler/models/address/main.go)."""
    return _omit_empty(
        [
            ("type", type_, True),
            ("target", target, True),
            ("target_name", target_name, True),
            ("name", name, True),
            ("detail", detail, True),
        ]
    )


def action(
    id: str = NIL_UUID,
    next_id: str = NIL_UUID,
    type_: str = "",
    option: Mapping[str, Any] | None = None,
    tm_execute: datetime | None = None,
) -> JSONObject:
    """A flow Action (bin-flow-manager/models/action/action.go); `tm_execute` is null unset."""
    return _omit_empty(
        [
            ("id", id, False),
            ("next_id", next_id, False),
            ("type", type_, True),
            ("option", _sorted_map(option), True),
            ("tm_execute", wire_time(tm_execute), False),
        ]
    )


def call(
    *,
    id: str,
    customer_id: str,
    status: str,
    source: JSONObject,
    destination: JSONObject,
    direction: str = "outgoing",
    type_: str = "flow",
    owner_type: str = "",
    owner_id: str = NIL_UUID,
    flow_id: str = NIL_UUID,
    activeflow_id: str = NIL_UUID,
    master_call_id: str = NIL_UUID,
    chained_call_ids: Sequence[str] = (),
    recording_id: str = NIL_UUID,
    recording_ids: Sequence[str] = (),
    current_action: JSONObject | None = None,
    metadata: Mapping[str, Any] | None = None,
    mute_direction: str = "",
    hangup_by: str = "",
    hangup_reason: str = "",
    tm_progressing: datetime | None = None,
    tm_ringing: datetime | None = None,
    tm_hangup: datetime | None = None,
    tm_create: datetime | None = None,
    tm_update: datetime | None = None,
    tm_delete: datetime | None = None,
) -> JSONObject:
    """A call's WebhookMessage (bin-call-manager/models/call/webhook.go).

    Most fields are omitempty: empty strings, lists, maps and nil times are left out; UUIDs,
    `source`, `destination` and `action` always come. `groupcall_id` is never copied by
    ConvertWebhookMessage, so it is always the nil UUID.
    """
    return _omit_empty(
        [
            ("id", id, False),
            ("customer_id", customer_id, False),
            ("owner_type", owner_type, False),
            ("owner_id", owner_id, False),
            ("flow_id", flow_id, False),
            ("activeflow_id", activeflow_id, False),
            ("type", type_, True),
            ("master_call_id", master_call_id, False),
            ("chained_call_ids", list(chained_call_ids), True),
            ("recording_id", recording_id, False),
            ("recording_ids", list(recording_ids), True),
            ("groupcall_id", NIL_UUID, False),
            ("source", source, False),
            ("destination", destination, False),
            ("status", status, True),
            ("action", current_action if current_action is not None else action(), False),
            ("metadata", _sorted_map(metadata), True),
            ("direction", direction, True),
            ("mute_direction", mute_direction, True),
            ("hangup_by", hangup_by, True),
            ("hangup_reason", hangup_reason, True),
            ("tm_progressing", wire_time(tm_progressing), True),
            ("tm_ringing", wire_time(tm_ringing), True),
            ("tm_hangup", wire_time(tm_hangup), True),
            ("tm_create", wire_time(tm_create), True),
            ("tm_update", wire_time(tm_update), True),
            ("tm_delete", wire_time(tm_delete), True),
        ]
    )


def campaigncall(
    *,
    id: str,
    customer_id: str,
    campaign_id: str,
    outplan_id: str,
    outdial_id: str,
    outdial_target_id: str,
    destination: JSONObject | None,
    destination_index: int,
    try_count: int,
    tm_create: datetime,
    queue_id: str = NIL_UUID,
    activeflow_id: str = NIL_UUID,
    flow_id: str = NIL_UUID,
    reference_type: str = "call",
    reference_id: str = NIL_UUID,
    status: str = "dialing",
    result: str = "",
    source: JSONObject | None = None,
    tm_update: datetime | None = None,
    tm_delete: datetime | None = None,
) -> JSONObject:
    """A campaigncall's WebhookMessage (bin-campaign-manager/models/campaigncall/webhook.go).

    No omitempty: every field comes, nil times as null (a new one has `tm_update` null).
    """
    return {
        "id": id,
        "customer_id": customer_id,
        "campaign_id": campaign_id,
        "outplan_id": outplan_id,
        "outdial_id": outdial_id,
        "outdial_target_id": outdial_target_id,
        "queue_id": queue_id,
        "activeflow_id": activeflow_id,
        "flow_id": flow_id,
        "reference_type": reference_type,
        "reference_id": reference_id,
        "status": status,
        "result": result,
        "source": source,
        "destination": destination,
        "destination_index": destination_index,
        "try_count": try_count,
        "tm_create": wire_time(tm_create),
        "tm_update": wire_time(tm_update),
        "tm_delete": wire_time(tm_delete),
    }


def campaign(
    *,
    id: str,
    customer_id: str,
    outplan_id: str,
    outdial_id: str,
    tm_create: datetime,
    type_: str = "call",
    name: str = "",
    detail: str = "",
    status: str = "stop",
    service_level: int = 100,
    end_handle: str = "stop",
    actions: Sequence[JSONObject] | None = None,
    queue_id: str = NIL_UUID,
    next_campaign_id: str = NIL_UUID,
    tm_update: datetime | None = None,
    tm_delete: datetime | None = None,
) -> JSONObject:
    """A campaign's WebhookMessage (bin-campaign-manager/models/campaign/webhook.go).

    No omitempty; `actions` is null when nil; `execute` and `flow_id` are not on the wire.
    """
    return {
        "id": id,
        "customer_id": customer_id,
        "type": type_,
        "name": name,
        "detail": detail,
        "status": status,
        "service_level": service_level,
        "end_handle": end_handle,
        "actions": None if actions is None else list(actions),
        "outplan_id": outplan_id,
        "outdial_id": outdial_id,
        "queue_id": queue_id,
        "next_campaign_id": next_campaign_id,
        "tm_create": wire_time(tm_create),
        "tm_update": wire_time(tm_update),
        "tm_delete": wire_time(tm_delete),
    }


def outplan(
    *,
    id: str,
    customer_id: str,
    tm_create: datetime,
    name: str = "",
    detail: str = "",
    source: JSONObject | None = None,
    dial_timeout: int = 30000,
    try_interval: int = 60000,
    max_try_counts: Sequence[int] = (1, 0, 0, 0, 0),
    tm_update: datetime | None = None,
    tm_delete: datetime | None = None,
) -> JSONObject:
    """An outplan's WebhookMessage (bin-campaign-manager/models/outplan/webhook.go).

    No omitempty; `dial_timeout` and `try_interval` in milliseconds; `max_try_counts` gives
    `max_try_count_0` .. `_4` (padded with 0).
    """
    counts = _five(max_try_counts, 0)
    out: JSONObject = {
        "id": id,
        "customer_id": customer_id,
        "name": name,
        "detail": detail,
        "source": source,
        "dial_timeout": dial_timeout,
        "try_interval": try_interval,
    }
    out.update({f"max_try_count_{i}": counts[i] for i in range(5)})
    out.update(
        {
            "tm_create": wire_time(tm_create),
            "tm_update": wire_time(tm_update),
            "tm_delete": wire_time(tm_delete),
        }
    )
    return out


def outdial(
    *,
    id: str,
    customer_id: str,
    tm_create: datetime,
    campaign_id: str = NIL_UUID,
    name: str = "",
    detail: str = "",
    data: str = "",
    tm_update: datetime | None = None,
    tm_delete: datetime | None = None,
) -> JSONObject:
    """An outdial's WebhookMessage (bin-outdial-manager/models/outdial/webhook.go)."""
    return {
        "id": id,
        "customer_id": customer_id,
        "campaign_id": campaign_id,
        "name": name,
        "detail": detail,
        "data": data,
        "tm_create": wire_time(tm_create),
        "tm_update": wire_time(tm_update),
        "tm_delete": wire_time(tm_delete),
    }


def outdialtarget(
    *,
    id: str,
    outdial_id: str,
    destinations: Sequence[JSONObject | None],
    tm_create: datetime,
    name: str = "",
    detail: str = "",
    data: str = "",
    status: str = "idle",
    try_counts: Sequence[int] = (0, 0, 0, 0, 0),
    tm_update: datetime | None = None,
    tm_delete: datetime | None = None,
) -> JSONObject:
    """An outdialtarget's WebhookMessage (bin-outdial-manager/models/outdialtarget/webhook.go).

    No omitempty and no `customer_id`; unset destinations are null. A new target has
    `tm_update` equal to `tm_create` (outdialtargethandler.Create), the default here.
    """
    dests = _five(destinations, None)
    counts = _five(try_counts, 0)
    out: JSONObject = {
        "id": id,
        "outdial_id": outdial_id,
        "name": name,
        "detail": detail,
        "data": data,
        "status": status,
    }
    out.update({f"destination_{i}": dests[i] for i in range(5)})
    out.update({f"try_count_{i}": counts[i] for i in range(5)})
    out.update(
        {
            "tm_create": wire_time(tm_create),
            "tm_update": wire_time(tm_update if tm_update is not None else tm_create),
            "tm_delete": wire_time(tm_delete),
        }
    )
    return out


def activeflow(
    *,
    id: str,
    customer_id: str,
    reference_type: str,
    reference_id: str,
    tm_create: datetime,
    flow_id: str = NIL_UUID,
    status: str = "running",
    reference_activeflow_id: str = NIL_UUID,
    on_complete_flow_id: str = NIL_UUID,
    webhook_uri: str = "",
    webhook_method: str = "",
    current_action: JSONObject | None = None,
    forward_action_id: str = NIL_UUID,
    executed_actions: Sequence[JSONObject] = (),
    tm_update: datetime | None = None,
    tm_delete: datetime | None = None,
) -> JSONObject:
    """An activeflow's WebhookMessage (bin-flow-manager/models/activeflow/webhook.go).

    `status`, `reference_type`, `webhook_*` and `executed_actions` are omitempty; the times
    are not (null). A new one runs its start action (activeflowhandler Create).
    """
    return _omit_empty(
        [
            ("id", id, False),
            ("customer_id", customer_id, False),
            ("flow_id", flow_id, False),
            ("status", status, True),
            ("reference_type", reference_type, True),
            ("reference_id", reference_id, False),
            ("reference_activeflow_id", reference_activeflow_id, False),
            ("on_complete_flow_id", on_complete_flow_id, False),
            ("webhook_uri", webhook_uri, True),
            ("webhook_method", webhook_method, True),
            (
                "current_action",
                current_action if current_action is not None else action(id=ACTION_START_ID),
                False,
            ),
            ("forward_action_id", forward_action_id, False),
            ("executed_actions", list(executed_actions), True),
            ("tm_create", wire_time(tm_create), False),
            ("tm_update", wire_time(tm_update), False),
            ("tm_delete", wire_time(tm_delete), False),
        ]
    )


def message(
    *,
    id: str,
    customer_id: str,
    source: JSONObject,
    destinations: Sequence[JSONObject],
    text: str,
    tm_create: datetime,
    direction: str = "inbound",
    target_status: str = "received",
    tm_update: datetime | None = None,
) -> JSONObject:
    """An SMS message's WebhookMessage (bin-message-manager/models/message/webhook.go)."""
    targets = [
        {
            "destination": d,
            "status": target_status,
            "parts": 1,
            "tm_update": wire_time(tm_update or tm_create),
        }
        for d in destinations
    ]
    return {
        "id": id,
        "customer_id": customer_id,
        "type": "sms",
        "source": source,
        "targets": targets,
        "text": text,
        "direction": direction,
        "tm_create": wire_time(tm_create),
        "tm_update": wire_time(tm_update),
        "tm_delete": None,
    }


def envelope(type_: str, data: JSONObject) -> JSONObject:
    """A webhook body: `{"type", "data"}` (bin-webhook-manager/models/webhook/webhook.go Data)."""
    return {"type": type_, "data": data}


def webhook_signature(secret: str, body: bytes) -> str:
    """The `X-VoIPBIN-Signature` value: `sha256=` + hex HMAC-SHA256 of the raw body.

    bin-webhook-manager/pkg/webhookhandler/message.go computeSignature; sent only when the
    account has a webhook secret.
    """
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _five(values: Sequence[Any], fill: Any) -> list[Any]:
    if len(values) > 5:
        raise ValueError("VoIPbin has five destination slots")
    return [*values, *[fill] * (5 - len(values))]


class WireEvent(NamedTuple):
    """One event as VoIPbin publishes it: when, its type, and its WebhookMessage."""

    at: datetime
    type: str
    data: JSONObject

    def webhook(self) -> JSONObject:
        """The webhook body for this event."""
        return envelope(self.type, self.data)


@dataclass(frozen=True)
class Attempt:
    """The ids and plan of one dial of one target, as the campaign manager makes it."""

    customer_id: str
    campaign_id: str
    outplan_id: str
    outdial_id: str
    outdial_target_id: str
    campaigncall_id: str
    call_id: str
    activeflow_id: str
    destination: JSONObject
    destination_index: int
    try_count: int
    start: datetime
    source: JSONObject | None = None
    flow_id: str = NIL_UUID
    queue_id: str = NIL_UUID

    def campaigncall(
        self,
        *,
        reference_type: str = "call",
        status: str = "dialing",
        result: str = "",
        tm_update: datetime | None = None,
    ) -> JSONObject:
        """This attempt's campaigncall as it stands."""
        return campaigncall(
            id=self.campaigncall_id,
            customer_id=self.customer_id,
            campaign_id=self.campaign_id,
            outplan_id=self.outplan_id,
            outdial_id=self.outdial_id,
            outdial_target_id=self.outdial_target_id,
            queue_id=self.queue_id,
            activeflow_id=self.activeflow_id,
            flow_id=self.flow_id,
            reference_type=reference_type,
            reference_id=self.call_id if reference_type == "call" else NIL_UUID,
            status=status,
            result=result,
            source=self.source,
            destination=self.destination,
            destination_index=self.destination_index,
            try_count=self.try_count,
            tm_create=self.start,
            tm_update=tm_update,
        )


# Seconds from the dial to hangup (and to ringing, to answer) by reason; None: never.
# Busy and failed end before ringing; dialout is call-manager's 60 s dial timeout.
_TIMELINE: Mapping[str, tuple[float | None, float | None, float]] = {
    "normal": (1.9, 7.4, 49.2),
    "busy": (None, None, 2.6),
    "noanswer": (1.8, None, 27.5),
    "dialout": (1.7, None, float(DEFAULT_DIAL_TIMEOUT_S)),
    "failed": (None, None, 0.7),
    "cancel": (1.8, None, 14.3),
    "timeout": (2.1, 6.8, 6.8 + DEFAULT_CALL_DURATION_S),
    "amd": (2.0, 6.1, 10.4),
}
_MS = timedelta(milliseconds=1)


def attempt_feed(
    attempt: Attempt,
    hangup_reason: str,
    hangup_by: str | None = None,
    *,
    ring_after: float | None = None,
    answer_after: float | None = None,
    hangup_after: float | None = None,
    flow_action: str = "talk",
) -> Iterator[WireEvent]:
    """Every customer-facing event of one dial of a `call` campaign, in publish order.

    `campaigncall_created`, `activeflow_created`, `call_created`, `call_ringing` (if it
    rang), `call_progressing` + `activeflow_updated` + `call_updated` (if answered: the
    flow's action), `call_terminating` (answered) or `call_canceling` (not answered) when
    VoIPbin hangs up (`hangup_by` `local`), `call_hangup`, `activeflow_updated` (ended) and
    `campaigncall_updated` (done, VoIPbin's result) — the last missing for a reason VoIPbin
    does not map, as its campaign manager then fails. Times default by reason (_TIMELINE);
    `*_after` are seconds from `attempt.start`. Target changes are never published.
    """
    default_ring, default_answer, default_hangup = _TIMELINE.get(hangup_reason, (1.8, None, 20.0))
    ring = ring_after if ring_after is not None else default_ring
    answer = answer_after if answer_after is not None else default_answer
    end = hangup_after if hangup_after is not None else default_hangup
    if hangup_by is None:
        hangup_by = "local" if hangup_reason in ("cancel", "amd") else "remote"
    t0 = attempt.start

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    yield WireEvent(t0, "campaigncall_created", attempt.campaigncall())
    flow: dict[str, Any] = {
        "id": attempt.activeflow_id,
        "customer_id": attempt.customer_id,
        "flow_id": attempt.flow_id,
        "reference_type": "call",
        "reference_id": attempt.call_id,
    }
    t_flow = t0 + 9 * _MS
    yield WireEvent(t_flow, "activeflow_created", activeflow(**flow, tm_create=t_flow))
    start_action = action(id=ACTION_START_ID)
    t_call = t0 + 23 * _MS
    base: dict[str, Any] = {
        "id": attempt.call_id,
        "customer_id": attempt.customer_id,
        "flow_id": attempt.flow_id,
        "activeflow_id": attempt.activeflow_id,
        "source": attempt.source or {},
        "destination": attempt.destination,
        "tm_create": t_call,
    }
    times: dict[str, Any] = {}
    yield WireEvent(
        t_call, "call_created", call(**base, status="dialing", current_action=start_action)
    )
    current = start_action
    if ring is not None and ring < end:
        times["tm_ringing"] = at(ring)
        yield WireEvent(
            at(ring),
            "call_ringing",
            call(**base, **times, status="ringing", current_action=current, tm_update=at(ring)),
        )
    answered = answer is not None and answer <= end
    if answer is not None and answered:
        times["tm_progressing"] = at(answer)
        yield WireEvent(
            at(answer),
            "call_progressing",
            call(
                **base, **times, status="progressing", current_action=current, tm_update=at(answer)
            ),
        )
        t_act = at(answer) + 14 * _MS
        current = action(
            id=FLOW_ACTION_ID,
            type_=flow_action,
            option={"text": "Hello from VoIPbin."},
            tm_execute=t_act,
        )
        yield WireEvent(
            t_act,
            "activeflow_updated",
            activeflow(**flow, tm_create=t_flow, current_action=current, tm_update=t_act),
        )
        yield WireEvent(
            t_act + 6 * _MS,
            "call_updated",
            call(
                **base,
                **times,
                status="progressing",
                current_action=current,
                tm_update=t_act + 6 * _MS,
            ),
        )
    t_end = at(end)
    if hangup_by == "local":
        closing = "terminating" if answered else "canceling"
        yield WireEvent(
            t_end - 180 * _MS,
            f"call_{closing}",
            call(
                **base, **times, status=closing, current_action=current, tm_update=t_end - 180 * _MS
            ),
        )
    times["tm_hangup"] = t_end
    yield WireEvent(
        t_end,
        "call_hangup",
        call(
            **base,
            **times,
            status="hangup",
            current_action=current,
            hangup_by=hangup_by,
            hangup_reason=hangup_reason,
            tm_update=t_end,
        ),
    )
    t_ended = t_end + 11 * _MS
    yield WireEvent(
        t_ended,
        "activeflow_updated",
        activeflow(
            **flow, tm_create=t_flow, status="ended", current_action=current, tm_update=t_ended
        ),
    )
    result = CAMPAIGNCALL_RESULT_BY_REASON.get(hangup_reason)
    if result is not None:
        t_done = t_end + 19 * _MS
        yield WireEvent(
            t_done,
            "campaigncall_updated",
            attempt.campaigncall(status="done", result=result, tm_update=t_done),
        )


def flow_attempt_feed(
    attempt: Attempt, *, deleted_after: float | None = 95.0
) -> Iterator[WireEvent]:
    """Every customer-facing event of one dial of a `flow` campaign.

    `campaigncall_created`, at once `campaigncall_updated` progressing, `activeflow_created`
    (reference `campaign`, id = the campaigncall's id), and, only if someone deletes the
    activeflow (`deleted_after` seconds; None: never, VoIPbin's default), `activeflow_deleted`
    and `campaigncall_updated` done `success` (subscribehandler/flowmanager.go). Without the
    delete VoIPbin sends `activeflow_updated` ended and the campaigncall stays progressing.
    """
    t0 = attempt.start
    yield WireEvent(t0, "campaigncall_created", attempt.campaigncall(reference_type="flow"))
    t_prog = t0 + 8 * _MS
    yield WireEvent(
        t_prog,
        "campaigncall_updated",
        attempt.campaigncall(reference_type="flow", status="progressing", tm_update=t_prog),
    )
    t_flow = t0 + 17 * _MS
    flow: dict[str, Any] = {
        "id": attempt.activeflow_id,
        "customer_id": attempt.customer_id,
        "flow_id": attempt.flow_id,
        "reference_type": "campaign",
        "reference_id": attempt.campaigncall_id,
    }
    yield WireEvent(t_flow, "activeflow_created", activeflow(**flow, tm_create=t_flow))
    t_ended = t0 + timedelta(seconds=3.2)
    yield WireEvent(
        t_ended,
        "activeflow_updated",
        activeflow(**flow, tm_create=t_flow, status="ended", tm_update=t_ended),
    )
    if deleted_after is None:
        return
    t_del = t0 + timedelta(seconds=deleted_after)
    yield WireEvent(
        t_del,
        "activeflow_deleted",
        activeflow(**flow, tm_create=t_flow, status="ended", tm_update=t_del, tm_delete=t_del),
    )
    t_done = t_del + 15 * _MS
    yield WireEvent(
        t_done,
        "campaigncall_updated",
        attempt.campaigncall(
            reference_type="flow", status="done", result="success", tm_update=t_done
        ),
    )


def incoming_call_feed(
    *,
    customer_id: str,
    call_id: str,
    activeflow_id: str,
    source: JSONObject,
    destination: JSONObject,
    start: datetime,
    talk_seconds: float = 31.0,
    flow_id: str = NIL_UUID,
) -> Iterator[WireEvent]:
    """An incoming call's events, answered and hung up by the caller: unrelated traffic."""
    flow: dict[str, Any] = {
        "id": activeflow_id,
        "customer_id": customer_id,
        "flow_id": flow_id,
        "reference_type": "call",
        "reference_id": call_id,
    }
    yield WireEvent(start, "activeflow_created", activeflow(**flow, tm_create=start))
    t_call = start + 12 * _MS
    base: dict[str, Any] = {
        "id": call_id,
        "customer_id": customer_id,
        "flow_id": flow_id,
        "activeflow_id": activeflow_id,
        "source": source,
        "destination": destination,
        "direction": "incoming",
        "tm_create": t_call,
    }
    yield WireEvent(
        t_call,
        "call_created",
        call(**base, status="ringing", current_action=action(id=ACTION_START_ID)),
    )
    t_ans = t_call + timedelta(seconds=0.4)
    answer = action(id="a0000000-0000-4000-8000-0000000000a1", type_="answer", tm_execute=t_ans)
    yield WireEvent(
        t_ans,
        "call_progressing",
        call(
            **base,
            status="progressing",
            current_action=answer,
            tm_progressing=t_ans,
            tm_update=t_ans,
        ),
    )
    t_end = t_ans + timedelta(seconds=talk_seconds)
    yield WireEvent(
        t_end,
        "call_hangup",
        call(
            **base,
            status="hangup",
            current_action=answer,
            tm_progressing=t_ans,
            hangup_by="remote",
            hangup_reason="normal",
            tm_hangup=t_end,
            tm_update=t_end,
        ),
    )
    t_ended = t_end + 10 * _MS
    yield WireEvent(
        t_ended,
        "activeflow_updated",
        activeflow(
            **flow, tm_create=start, status="ended", current_action=answer, tm_update=t_ended
        ),
    )


def sms_received(
    *,
    customer_id: str,
    message_id: str,
    source: JSONObject,
    destination: JSONObject,
    text: str,
    at: datetime,
) -> WireEvent:
    """An inbound SMS (`message_created`): unrelated traffic."""
    return WireEvent(
        at,
        "message_created",
        message(
            id=message_id,
            customer_id=customer_id,
            source=source,
            destinations=[destination],
            text=text,
            tm_create=at,
        ),
    )


def campaign_status_event(campaign_data: JSONObject, status: str, at: datetime) -> WireEvent:
    """`campaign_status_<status>`: the campaign with its new status (status_run/_stop.go)."""
    data = dict(campaign_data)
    data["status"] = status
    data["tm_update"] = wire_time(at)
    return WireEvent(at, f"campaign_status_{status}", data)


def in_order(*feeds: Iterator[WireEvent] | Sequence[WireEvent]) -> list[WireEvent]:
    """Feeds merged by publish time (stable for equal times)."""
    merged = [event for feed in feeds for event in feed]
    return sorted(merged, key=lambda event: event.at)
