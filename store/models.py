"""Pydantic models of VoIPbin's records and of the drop-file event forms, in VoIPbin's names."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from store.timefmt import parse_tm

NIL_UUID = "00000000-0000-0000-0000-000000000000"

AddressType = Literal[
    "",
    "tel",
    "sip",
    "agent",
    "conference",
    "email",
    "extension",
    "line",
    "ai",
    "ai_team",
    "webchat",
    "web_session",
    "whatsapp",
]
CampaigncallStatus = Literal["dialing", "progressing", "done"]
CampaigncallResult = Literal["", "success", "fail"]
ReferenceType = Literal["none", "call", "flow"]
TargetStatus = Literal["idle", "progressing", "done"]
CampaignType = Literal["call", "flow"]
CampaignStatus = Literal["stop", "stopping", "run"]
EndHandle = Literal["stop", "continue"]

CAMPAIGNCALL_STATUSES: tuple[CampaigncallStatus, ...] = ("dialing", "progressing", "done")
SLOTS = range(5)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_text(value: object) -> object:
    """Accept a UUID in any of its spellings; keep the canonical lowercase text."""
    if isinstance(value, str):
        if _CANONICAL_UUID.fullmatch(value):  # the common case, without building a UUID
            return value
        if value == "":
            raise ValueError("an id is required here (the nil UUID means none)")
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"{value[:60]!r} is not a UUID") from None
    return value


def _reference_uuid(value: object) -> object:
    """A reference to another record: null or "" mean none (the nil UUID)."""
    if value is None or value == "":
        return NIL_UUID
    return _uuid_text(value)


def _timestamp(value: object) -> object:
    return parse_tm(value)


def _required_timestamp(value: object) -> object:
    stored = parse_tm(value)
    if stored is None:
        raise ValueError("a time is required here (null and the unset 9999-01-01 are not)")
    return stored


def _reason_text(value: object) -> object:
    return "" if value is None else value  # a null reason is an empty one (rule 1 names it)


Uuid = Annotated[str, BeforeValidator(_uuid_text)]
ReferenceUuid = Annotated[str, BeforeValidator(_reference_uuid)]
Timestamp = Annotated[str | None, BeforeValidator(_timestamp)]
RequiredTimestamp = Annotated[str, BeforeValidator(_required_timestamp)]
Count = Annotated[int, Field(ge=0, strict=True)]


class Record(BaseModel):
    """A VoIPbin record: unknown fields are ignored, known ones are checked."""

    # defer_build: each model is built when first used, so a command that reads only calls
    # does not build the other nine at start-up
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class Address(Record):
    type: AddressType = ""
    target: str = ""
    target_name: str = ""
    name: str = ""
    detail: str = ""


class Campaigncall(Record):
    id: Uuid
    campaign_id: ReferenceUuid = NIL_UUID
    outplan_id: ReferenceUuid = NIL_UUID
    outdial_id: ReferenceUuid = NIL_UUID
    outdial_target_id: Uuid
    queue_id: ReferenceUuid = NIL_UUID
    activeflow_id: ReferenceUuid = NIL_UUID
    reference_type: ReferenceType = "none"
    reference_id: ReferenceUuid = NIL_UUID
    status: CampaigncallStatus
    result: CampaigncallResult = ""
    source: Address = Address()
    destination: Address = Address()
    destination_index: Annotated[int, Field(ge=0, le=4, strict=True)]
    try_count: Annotated[int, Field(ge=1, strict=True)]
    tm_create: RequiredTimestamp
    tm_update: Timestamp = None

    @model_validator(mode="after")
    def _result_matches_status(self) -> Campaigncall:
        if self.status == "done" and self.result == "":
            raise ValueError("a done campaigncall needs a result (success or fail)")
        if self.status != "done" and self.result != "":
            raise ValueError(f"a {self.status} campaigncall has no result yet, not {self.result!r}")
        return self


class Outdialtarget(Record):
    id: Uuid
    outdial_id: ReferenceUuid = NIL_UUID
    name: str = ""
    detail: str = ""
    data: Any = ""
    status: TargetStatus = "idle"
    destination_0: Address | None = None
    destination_1: Address | None = None
    destination_2: Address | None = None
    destination_3: Address | None = None
    destination_4: Address | None = None
    try_count_0: Count = 0
    try_count_1: Count = 0
    try_count_2: Count = 0
    try_count_3: Count = 0
    try_count_4: Count = 0
    tm_create: Timestamp = None
    tm_update: Timestamp = None

    def destination(self, index: int) -> Address | None:
        value: Address | None = getattr(self, f"destination_{index}")
        return value

    def try_count(self, index: int) -> int:
        value: int = getattr(self, f"try_count_{index}")
        return value


class Outplan(Record):
    id: Uuid
    name: str = ""
    detail: str = ""
    source: Address | None = None
    dial_timeout: Count = 0
    try_interval: Count = 0
    max_try_count_0: Count = 0
    max_try_count_1: Count = 0
    max_try_count_2: Count = 0
    max_try_count_3: Count = 0
    max_try_count_4: Count = 0
    tm_create: Timestamp = None
    tm_update: Timestamp = None

    def max_try_count(self, index: int) -> int:
        value: int = getattr(self, f"max_try_count_{index}")
        return value


class Campaign(Record):
    id: Uuid
    name: str = ""
    detail: str = ""
    type: CampaignType = "call"
    status: CampaignStatus = "stop"
    end_handle: EndHandle = "stop"
    service_level: Annotated[int, Field(strict=True)] = 0
    outplan_id: ReferenceUuid = NIL_UUID
    outdial_id: ReferenceUuid = NIL_UUID
    queue_id: ReferenceUuid = NIL_UUID
    next_campaign_id: ReferenceUuid = NIL_UUID
    tm_create: Timestamp = None
    tm_update: Timestamp = None


class Outdial(Record):
    id: Uuid
    name: str = ""
    detail: str = ""


class Bundle(BaseModel):
    """A fixture bundle: lists of records keyed by their table's name."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    campaigns: list[Campaign] = []
    outplans: list[Outplan] = []
    outdials: list[Outdial] = []
    outdialtargets: list[Outdialtarget] = []
    campaigncalls: list[Campaigncall] = []


# ---- drop-file event forms -------------------------------------------------------------


class Call(Record):
    """The part of a VoIPbin call that the rules and the timeline read; a real call carries
    much more (bin-call-manager/models/call/webhook.go, WebhookMessage)."""

    id: Uuid
    status: Annotated[str, Field(strict=True)] = ""
    direction: Annotated[str, Field(strict=True)] = ""
    hangup_reason: Annotated[str, BeforeValidator(_reason_text), Field(strict=True)] = ""
    hangup_by: Annotated[str, BeforeValidator(_reason_text), Field(strict=True)] = ""
    tm_create: Timestamp = None
    tm_ringing: Timestamp = None
    tm_progressing: Timestamp = None
    tm_hangup: Timestamp = None
    tm_update: Timestamp = None


class Activeflow(Record):
    """The part of a VoIPbin activeflow that completes a flow campaign's campaigncall
    (bin-flow-manager/models/activeflow/webhook.go, WebhookMessage)."""

    id: Uuid
    status: Annotated[str, Field(strict=True)] = ""
    reference_type: Annotated[str, Field(strict=True)] = ""
    reference_id: ReferenceUuid = NIL_UUID
    tm_update: Timestamp = None
    tm_delete: Timestamp = None


class ShorthandHangup(Record):
    """The hand-written form: {"campaigncall_id" | "reference_id": ..., "hangup_reason": ...}."""

    campaigncall_id: Uuid | None = None
    reference_id: Uuid | None = None
    hangup_reason: Annotated[str, BeforeValidator(_reason_text), Field(strict=True)]
    tm: Timestamp = None

    @model_validator(mode="after")
    def _one_id(self) -> ShorthandHangup:
        if (self.campaigncall_id is None) == (self.reference_id is None):
            raise ValueError("give exactly one of campaigncall_id and reference_id")
        return self
