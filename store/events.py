"""Events and their shapes: a drop file's bytes, VoIPbin's wrapped and raw events, shorthand.

A drop file holds one event or an array of them. Each is one of three shapes:
- wrapped: VoIPbin's webhook envelope `{"type": "call_hangup", "data": {<call>}}`;
- raw: a websocket frame, the resource itself, told by its fields (a campaigncall has
  `outdial_target_id`, a call `direction`, a campaign `end_handle`, an activeflow
  `current_action`, an outplan `max_try_count_0`, an outdialtarget `destination_0`);
- shorthand, written by hand: `{"campaigncall_id" | "reference_id": ..., "hangup_reason": ...}`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from store.errors import describe_validation_error
from store.models import (
    Activeflow,
    Call,
    Campaign,
    Campaigncall,
    Outdial,
    Outdialtarget,
    Outplan,
    Record,
    ShorthandHangup,
)
from store.rules import RuleViolation

# Every event type VoIPbin's code defines (`EventType...` constants in the models of every
# bin-*-manager of voipbin/monorepo, read 2026-12). The dashboard uses the families below;
# the rest are VoIPbin's normal traffic that it has no use for, and end `ignored`.
VOIPBIN_EVENT_TYPES = frozenset(
    """
    accesskey_created accesskey_deleted accesskey_updated account_created account_deleted
    account_updated activeflow_created activeflow_deleted activeflow_updated agent_created
    agent_deleted agent_status_updated agent_updated ai_created ai_deleted ai_updated
    aicall_status_initializing aicall_status_pausing aicall_status_progressing
    aicall_status_resuming aicall_status_terminated aicall_status_terminating aimessage_created
    aimessage_intermediate billing_created billing_deleted billing_updated call_canceling
    call_created call_deleted call_dialing call_hangup call_progressing call_ringing
    call_terminating call_updated campaign_created campaign_deleted campaign_status_run
    campaign_status_stop campaign_status_stopping campaign_updated campaigncall_created
    campaigncall_deleted campaigncall_updated chat_created chat_deleted chat_updated
    chatmessage_created chatmessage_deleted chatmessage_reaction_updated confbridge_created
    confbridge_deleted confbridge_joined confbridge_leaved confbridge_terminated
    confbridge_terminating conference_created conference_deleted conference_updated
    conferencecall_joined conferencecall_joining conferencecall_leaved conferencecall_leaving
    contact_created contact_deleted contact_updated conversation_created conversation_deleted
    conversation_message_created conversation_message_deleted conversation_message_updated
    conversation_updated customer_created customer_deleted customer_frozen
    customer_identity_verification_updated customer_recovered customer_updated direct_created
    direct_deleted direct_regenerated dtmf_received email_created email_deleted email_updated
    execution_failed execution_succeeded extension_created extension_deleted extension_updated
    file_created file_deleted file_updated flow_created flow_deleted flow_updated
    groupcall_created groupcall_deleted groupcall_hangup groupcall_progressing message_bot_llm
    message_bot_llm_intermediate message_bot_transcription message_created message_deleted
    message_initiated message_play_finished message_play_started message_updated
    message_user_llm message_user_transcription number_created number_deleted number_renewed
    number_updated outdial_created outdial_deleted outdial_updated outdialtarget_created
    outdialtarget_deleted outdialtarget_updated outplan_created outplan_deleted outplan_updated
    pipecatcall_created pipecatcall_deleted pipecatcall_initialized pipecatcall_terminated
    pod_added pod_deleted pod_updated provider_created provider_deleted provider_updated
    providercall_created providercall_deleted queue_created queue_deleted queue_updated
    queuecall_abandoned queuecall_connecting queuecall_created queuecall_deleted queuecall_done
    queuecall_serviced queuecall_waiting recording_finished recording_started route_created
    route_deleted route_updated schedule_created schedule_deleted schedule_updated
    speaking_started speaking_stopped streaming_created streaming_deleted streaming_finished
    streaming_play_finished streaming_play_started streaming_started streaming_stopped
    summary_created summary_deleted summary_updated tag_created tag_deleted tag_updated
    team_created team_deleted team_member_switched team_updated transcribe_created
    transcribe_deleted transcribe_done transcribe_progressing transcribe_speech_ended
    transcribe_speech_interim transcribe_speech_started transcript_created transcript_deleted
    trunk_created trunk_deleted trunk_updated webchat_message_created webchat_session_ended
    webhook_published
    """.split()
)

# What an event is about; "other" is VoIPbin's traffic the dashboard has no use for.
Family = Literal[
    "campaigncall", "campaign", "outplan", "outdial", "outdialtarget", "call", "activeflow",
    "shorthand", "other",
]  # fmt: skip
Shape = Literal["wrapped", "raw", "shorthand"]

# The family of each type prefix that the dashboard reads (longest prefix first).
_FAMILIES: tuple[tuple[str, Family], ...] = (
    ("campaigncall_", "campaigncall"),
    ("campaign_", "campaign"),
    ("outplan_", "outplan"),
    ("outdialtarget_", "outdialtarget"),
    ("outdial_", "outdial"),
    ("call_", "call"),
    ("activeflow_", "activeflow"),
)
RECORD_MODELS: dict[str, type[Record]] = {
    "campaigncall": Campaigncall,
    "campaign": Campaign,
    "outplan": Outplan,
    "outdial": Outdial,
    "outdialtarget": Outdialtarget,
    "call": Call,
    "activeflow": Activeflow,
}
# A raw frame's family, told by a field only that resource has (checked in this order).
_RAW_MARKERS: tuple[tuple[str, Family], ...] = (
    ("outdial_target_id", "campaigncall"),
    ("end_handle", "campaign"),
    ("max_try_count_0", "outplan"),
    ("destination_0", "outdialtarget"),
    ("current_action", "activeflow"),
    ("direction", "call"),
)
SHORTHAND_KEYS = frozenset(["campaigncall_id", "reference_id", "hangup_reason"])
# A raw call's type, by its status (bin-call-manager/models/call/call.go, Status).
_CALL_TYPE_BY_STATUS = {
    "dialing": "call_created",
    "ringing": "call_ringing",
    "progressing": "call_progressing",
    "terminating": "call_terminating",
    "canceling": "call_canceling",
    "hangup": "call_hangup",
}


def _family_by_prefix(event_type: str) -> Family:
    for prefix, family in _FAMILIES:
        if event_type.startswith(prefix):
            return family
    return "other"


_FAMILY_OF: dict[str, Family] = {kind: _family_by_prefix(kind) for kind in VOIPBIN_EVENT_TYPES}
# each type's JSON text, for the raw JSON of a wrapped event
_TYPE_JSON = {kind: json.dumps(kind) for kind in VOIPBIN_EVENT_TYPES}


def family_of(event_type: str) -> Family:
    family = _FAMILY_OF.get(event_type)
    return _family_by_prefix(event_type) if family is None else family


@dataclass(frozen=True)
class ReadEvent:
    """One event of a drop file, told apart: its type (a raw frame's inferred), its shape and
    its record, checked by the record's model."""

    type: str
    family: Family
    shape: Shape
    record: Record | None  # None for "other": nothing of it is read


def json_kind(value: object) -> str:
    """`a string`, `an array`, ...: what a JSON value is, with its article."""
    names = {list: "an array", str: "a string", int: "a number", float: "a number",
             bool: "a boolean", dict: "an object"}  # fmt: skip
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _checked(model: type[Record], data: object, where: str = "") -> Record:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        text = describe_validation_error(error)
        raise RuleViolation(f"{where}{text}" if where else text) from None
    except RecursionError:
        raise RuleViolation("the event is nested too deeply") from None


def _raw_family(event: dict[str, Any]) -> Family | None:
    for marker, family in _RAW_MARKERS:
        if marker in event:
            if family == "call" and event[marker] not in ("incoming", "outgoing"):
                continue  # a message's direction is inbound or outbound
            return family
    if {"id", "customer_id", "tm_create"} <= event.keys():
        return "other"  # another of VoIPbin's resources (a message, a queuecall, ...)
    return None


def _raw_type(family: Family, event: dict[str, Any]) -> str:
    """A raw frame's event type, from its status and times (only for the record of it)."""
    if family == "other":
        return "message_created" if "text" in event else "resource"
    if family == "call":
        status = event.get("status")
        return (
            _CALL_TYPE_BY_STATUS.get(status, "call_updated")
            if isinstance(status, str)
            else ("call_updated")
        )
    deleted = event.get("tm_delete")
    if isinstance(deleted, str) and deleted and not deleted.startswith("9999"):
        return f"{family}_deleted"
    if family in ("campaigncall", "activeflow") and event.get("tm_update") in (None, ""):
        return f"{family}_created"
    return f"{family}_updated"


def read_event(event: object) -> ReadEvent:
    """Tell an event's shape and type apart and check its record; RuleViolation says why not."""
    if not isinstance(event, dict):
        raise RuleViolation(f"an event must be a JSON object, not {json_kind(event)}")
    kind = event.get("type")
    data = event.get("data")
    if isinstance(kind, str) and (isinstance(data, dict) or kind in VOIPBIN_EVENT_TYPES):
        if kind not in VOIPBIN_EVENT_TYPES:
            raise RuleViolation(f"unknown event type {kind[:60]!r}: VoIPbin sends no such event")
        if "data" not in event:
            raise RuleViolation(f"{kind}: data: Field required (the event's record)")
        if not isinstance(data, dict):
            raise RuleViolation(f"{kind}: data must be an object, not {json_kind(data)}")
        family = family_of(kind)
        if family == "other":
            return ReadEvent(kind, family, "wrapped", None)
        return ReadEvent(kind, family, "wrapped", _checked(RECORD_MODELS[family], data, "data."))
    raw = _raw_family(event)
    if raw == "other":
        return ReadEvent(_raw_type(raw, event), raw, "raw", None)
    if raw is not None:
        return ReadEvent(_raw_type(raw, event), raw, "raw", _checked(RECORD_MODELS[raw], event))
    if SHORTHAND_KEYS & event.keys():
        return ReadEvent("call_hangup", "shorthand", "shorthand", _checked(ShorthandHangup, event))
    if "type" in event and not isinstance(kind, str):
        raise RuleViolation(f"an event's type must be a string, not {json_kind(kind)}")
    raise RuleViolation(
        'not an event: expected VoIPbin\'s {"type": ..., "data": {...}}, a raw resource, or '
        '{"campaigncall_id": ..., "hangup_reason": ...}'
    )


def event_type_of(event: object) -> str | None:
    """The type an event claims or is told by, for the record of one that was refused."""
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    if isinstance(kind, str) and (isinstance(event.get("data"), dict) or "data" in event):
        return kind[:60]
    raw = _raw_family(event)
    if raw is not None:
        return _raw_type(raw, event)
    if SHORTHAND_KEYS & event.keys():
        return "call_hangup"
    return kind[:60] if isinstance(kind, str) else None


def encode_event(event: object) -> tuple[str, str]:
    """(raw JSON, content hash) of an event, from one encoding.

    The hash is of the resource it carries, keys sorted: a webhook and the same websocket
    frame are the same event, whatever the key order. The raw JSON is kept in that form.
    """
    data = event
    wrapped = isinstance(event, dict) and isinstance(event.get("type"), str)
    if wrapped:
        assert isinstance(event, dict)
        if isinstance(event.get("data"), dict):
            data = event["data"]
        else:
            wrapped = False
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    if wrapped:
        assert isinstance(event, dict)
        kind = _TYPE_JSON.get(event["type"]) or json.dumps(event["type"], ensure_ascii=False)
        return f'{{"type":{kind},"data":{canonical}}}', digest
    return canonical, digest


def hint_ids(event: object) -> tuple[str | None, str | None]:
    """Best-effort campaigncall (or call) id and reason of an event, for the record of a
    refused or ignored one."""
    if not isinstance(event, dict):
        return None, None
    data = event.get("data") if isinstance(event.get("data"), dict) else event
    assert isinstance(data, dict)
    ident = data.get("campaigncall_id") or data.get("reference_id") or data.get("id")
    reason = data.get("hangup_reason")
    return (
        ident[:60] if isinstance(ident, str) else None,
        reason[:60] if isinstance(reason, str) and reason else None,
    )


def decode_drop_bytes(data: bytes) -> list[Any]:
    """The events a drop file holds, in order; ValueError says why the file is unreadable."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"the file is not UTF-8 text (bad byte at offset {error.start})") from None
    if not text.strip():
        raise ValueError("the file is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        if error.pos >= len(text.rstrip()):
            raise ValueError(
                "the file ends before its JSON does (cut off while it was written or copied?)"
            ) from None
        raise ValueError(
            f"the file is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise ValueError("the file is JSON nested too deeply to be an event") from None
    if isinstance(document, list):
        if not document:
            raise ValueError("the file holds an empty array: no events")
        return document
    if isinstance(document, dict):
        return [document]
    raise ValueError(
        f"the file's JSON is {json_kind(document)}, not an event object or an array of events"
    )
