"""VoIPbin's dialer, simulated on the database's campaigns: the feed VoIPbin would send.

The model follows `bin-campaign-manager/pkg/campaignhandler/execute.go` (docs/voipbin.md,
section 3): each running campaign executes on its own clock; a run takes the oldest idle
target of its outdial that has a slot with tries left (`outdialTargetSelectAvailable`),
waits while that target's `try_interval` since its last hangup has not passed
(`isDialableTarget`, head of line), dials the lowest slot with tries left
(`getTargetDestination`) and runs again 500 ms later, or 5 s later when nothing was dialled.
With `end_handle` stop and no target left the campaign stops: `stopping` while calls are in
flight, `stop` when the last one is done. Each dial is sent as VoIPbin sends it (every event
of the attempt, `store.wire.attempt_feed`), stamped with simulated time.

The simulator reads the database once, at start, and never writes it: its own model of the
targets moves on as VoIPbin's tables would, and what it sends reaches the database only
through the drop folder and the watcher, as a real feed does.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from store import wire
from store.db import StoreError
from store.dropwrite import DropWriter
from store.models import Address, Campaign, Campaigncall, Outdialtarget, Outplan
from store.readonly import reading_rows
from store.rows import row_to_record
from store.rules import HANGUP_REASON_ALIASES, first_slot_with_tries
from store.text import visible
from store.timefmt import to_datetime

# The customer the simulated events belong to (the database keeps no customer id).
SIM_CUSTOMER_ID = "5e4a0680-804e-11ec-8477-2fea5968d85b"

# execute.go: the next run after a dial, after a run that dialled nothing; status_run.go:
# the first run after the campaign is set running.
TICK_AFTER_DIAL = timedelta(milliseconds=500)
TICK_WHEN_IDLE = timedelta(milliseconds=5000)
FIRST_TICK = timedelta(milliseconds=1000)
# outdial-manager writes the target a few ms after campaign-manager's own write.
TARGET_WRITE_LAG = timedelta(milliseconds=4)

# Events due in the same real-time window go into one drop file; a file holds at most
# MAX_EVENTS_PER_FILE events (one short transaction for the watcher).
BATCH_WINDOW_S = 0.1
MAX_EVENTS_PER_FILE = 500

DEFAULT_REASONS: Mapping[str, float] = {"normal": 60, "busy": 15, "noanswer": 20, "failed": 5}
# The reasons of a call that was answered (what an adopted call already answered may end with).
ANSWERED_REASONS = frozenset(["normal", "timeout", "amd"])


class SimulationError(StoreError):
    """A problem with what the simulator was given; the text says what, in one sentence."""


# ---- the hangup reasons ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonMix:
    """How often each hangup reason comes, by weight (VoIPbin's own spellings)."""

    weights: Mapping[str, float]

    @classmethod
    def parse(cls, text: str) -> ReasonMix:
        """`normal=60,busy=15,noanswer=20,failed=5`: reasons VoIPbin sends, with weights."""
        weights: dict[str, float] = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            reason, sep, number = part.partition("=")
            reason = HANGUP_REASON_ALIASES.get(reason.strip(), reason.strip())
            if reason not in wire.CAMPAIGNCALL_RESULT_BY_REASON:
                known = ", ".join(wire.CAMPAIGNCALL_RESULT_BY_REASON)
                raise SimulationError(
                    f"{reason[:40]!r} is not a hangup reason VoIPbin sends (known: {known})"
                )
            try:
                weight = float(number) if sep else math.nan
            except ValueError:
                weight = math.nan
            if not math.isfinite(weight) or weight < 0:
                raise SimulationError(
                    f"the reason {reason} needs a weight of 0 or more, as in {reason}=20"
                )
            weights[reason] = weights.get(reason, 0.0) + weight
        if not any(w > 0 for w in weights.values()):
            raise SimulationError(
                "the reasons need at least one weight above 0, as in normal=60,busy=15"
            )
        return cls(weights)

    def draw(self, rng: random.Random, *, answered: bool = False) -> str:
        """One reason by weight; `answered`: only those of a call that was answered."""
        pairs = [
            (r, w)
            for r, w in self.weights.items()
            if w > 0 and (not answered or r in ANSWERED_REASONS)
        ]
        if not pairs:
            return "normal"
        reasons = [r for r, _w in pairs]
        chosen: str = rng.choices(reasons, weights=[w for _r, w in pairs])[0]
        return chosen

    def __str__(self) -> str:
        return ",".join(f"{r}={w:g}" for r, w in self.weights.items())


DEFAULT_REASON_MIX = ReasonMix(DEFAULT_REASONS)


@dataclass(frozen=True)
class Timeline:
    """Seconds from the dial to ringing and to the answer (None: never), and to the hangup."""

    ring: float | None
    answer: float | None
    hangup: float


def draw_timeline(reason: str, rng: random.Random) -> Timeline:
    """Realistic times for a call that ends with `reason`.

    Ringing starts 1 to 4 s after the dial; an answered call is picked up after 3 to 18 s of
    ringing and talks for about 45 s (log-normal, 5 s to 15 min); busy and failed end before
    ringing; no answer gives up after 20 to 45 s of ringing; dialout is call-manager's 60 s
    dial timeout; timeout its one-hour call limit; an answering machine is detected in 2 to 6 s.
    """
    ring = rng.uniform(1.0, 4.0)
    if reason == "busy":
        return Timeline(None, None, rng.uniform(1.5, 5.0))
    if reason == "failed":
        return Timeline(None, None, rng.uniform(0.3, 3.0))
    if reason == "noanswer":
        return Timeline(ring, None, ring + rng.uniform(20.0, 45.0))
    if reason == "dialout":
        return Timeline(ring, None, float(wire.DEFAULT_DIAL_TIMEOUT_S))
    if reason == "cancel":
        return Timeline(ring, None, ring + rng.uniform(5.0, 25.0))
    answer = ring + rng.uniform(3.0, 18.0)
    if reason == "timeout":
        return Timeline(ring, answer, answer + wire.DEFAULT_CALL_DURATION_S)
    if reason == "amd":
        return Timeline(ring, answer, answer + rng.uniform(2.0, 6.0))
    talk = min(max(rng.lognormvariate(math.log(45.0), 0.7), 5.0), 900.0)
    return Timeline(ring, answer, answer + talk)


# ---- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationSettings:
    """What the user asked for.

    `speed`: simulated seconds per real second; `rate`: at most this many dials per simulated
    second, over all campaigns (None: VoIPbin's own pace); `seconds`: stop after this many
    real seconds; `dials`: dial no more than this many, then let the calls in flight end;
    `seed`: the same seed and database give the same feed.
    """

    speed: float = 1.0
    rate: float | None = None
    seconds: float | None = None
    dials: int | None = None
    reasons: ReasonMix = DEFAULT_REASON_MIX
    seed: int | None = None
    start: datetime | None = None  # simulated time starts here (default: now)


# ---- the model ----------------------------------------------------------------------------------


def _wire_address(value: Address | None) -> wire.JSONObject | None:
    if value is None:
        return None
    return wire.address(value.type, value.target, value.target_name, value.name, value.detail)


def _moment(stored: str | None) -> datetime | None:
    return None if stored is None else to_datetime(stored)


@dataclass
class SimTarget:
    """An outdialtarget as outdial-manager's table holds it while the simulation runs."""

    id: str
    name: str
    outdial_id: str
    destinations: list[wire.JSONObject | None]
    try_counts: list[int]
    status: str
    tm_create: datetime | None
    tm_update: datetime | None
    version: int = 0

    @classmethod
    def from_record(cls, record: Outdialtarget) -> SimTarget:
        return cls(
            id=record.id,
            name=record.name,
            outdial_id=record.outdial_id,
            destinations=[_wire_address(record.destination(i)) for i in range(5)],
            try_counts=[record.try_count(i) for i in range(5)],
            status=record.status,
            tm_create=_moment(record.tm_create),
            tm_update=_moment(record.tm_update),
        )

    def order_key(self) -> tuple[datetime, datetime, str]:
        """outdialTargetSelectAvailable's `order by tm_update asc` (nulls first, as MySQL)."""
        oldest = datetime.min.replace(tzinfo=UTC)
        updated = self.tm_update or self.tm_create or oldest
        return updated, self.tm_create or oldest, self.id

    def next_slot(self, maxima: Sequence[int]) -> tuple[int, int] | None:
        """getTargetDestination: (slot, try) of the lowest slot with a destination and tries."""
        return first_slot_with_tries(
            [d is not None for d in self.destinations], self.try_counts, maxima
        )

    def never_tried(self) -> bool:
        """isDialableTarget's first case: created and never written since.

        A missing tm_update (a stub, a bundle) counts as never written.
        """
        return self.tm_update is None or self.tm_create == self.tm_update


_QueueEntry = tuple[datetime, datetime, str, int]


def _queue_entry(target: SimTarget) -> _QueueEntry:
    updated, created, ident = target.order_key()
    return updated, created, ident, target.version


def max_try_counts(outplan: Outplan) -> list[int]:
    return [outplan.max_try_count(i) for i in range(5)]


@dataclass
class SimCampaign:
    """A campaign with campaign-manager's hidden `execute` flag and its calls in flight."""

    record: Campaign
    outplan: Outplan | None
    status: str
    executing: bool
    in_flight: int = 0

    def wire_record(self) -> wire.JSONObject:
        c = self.record
        return wire.campaign(
            id=c.id,
            customer_id=SIM_CUSTOMER_ID,
            outplan_id=c.outplan_id,
            outdial_id=c.outdial_id,
            tm_create=_moment(c.tm_create) or datetime.now(UTC),
            type_=c.type,
            name=c.name,
            detail=c.detail,
            status=self.status,
            service_level=c.service_level,
            end_handle=c.end_handle,
            queue_id=c.queue_id,
            next_campaign_id=c.next_campaign_id,
            tm_update=_moment(c.tm_update),
        )


@dataclass(frozen=True)
class DialNote:
    """One dial, for the line a person reads (the reason is already drawn)."""

    at: datetime
    campaign: str
    target: str
    destination: str
    slot: int
    try_count: int
    reason: str
    adopted: bool = False

    def line(self) -> str:
        """`16:29:49 dial Renewals · Kim · slot 0 try 2 · +4915… -> busy`, record data escaped."""
        what = "in flight" if self.adopted else "dial"
        return (
            f"{self.at:%H:%M:%S} {what} {visible(self.campaign)} · {visible(self.target)} · "
            f"slot {self.slot} try {self.try_count} · {visible(self.destination)} -> {self.reason}"
        )


_CREATION = frozenset(["campaigncall_created", "activeflow_created", "call_created"])


@dataclass(frozen=True)
class _Tick:
    campaign_id: str


@dataclass(frozen=True)
class _Done:
    """Campaign-manager's Done for one attempt: the target written, the campaign checked."""

    campaign_id: str
    target_id: str
    result: str


@dataclass(order=True)
class _Scheduled:
    at: datetime
    seq: int
    item: wire.WireEvent | _Tick | _Done = field(compare=False)


@dataclass
class Tally:
    """What the simulation has done so far."""

    dials: int = 0
    adopted: int = 0
    events: int = 0
    files: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One sentence: what was dialled and sent."""
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.by_reason.items()))
        taken = f" (and {self.adopted} calls in flight taken over)" if self.adopted else ""
        return f"{self.dials} dials{taken}, {self.events} events in {self.files} files" + (
            f"; hangups drawn: {reasons}" if reasons else ""
        )


class Dialer:
    """VoIPbin's campaign execution over a model of its tables, on a simulated clock."""

    def __init__(
        self,
        campaigns: Sequence[SimCampaign],
        targets: Sequence[SimTarget],
        in_flight: Sequence[Campaigncall],
        settings: SimulationSettings,
        start: datetime,
        on_dial: Callable[[DialNote], None] | None = None,
    ) -> None:
        self.settings = settings
        self.start = start
        self.rng = random.Random(settings.seed)
        # its own copies: the model moves on, what it was given stays as read
        campaigns = [dataclasses.replace(c) for c in campaigns]
        targets = [dataclasses.replace(t, try_counts=list(t.try_counts)) for t in targets]
        self.campaigns = {c.record.id: c for c in campaigns}
        self.targets = {t.id: t for t in targets}
        self.tally = Tally()
        self.on_dial = on_dial
        self._heap: list[_Scheduled] = []
        self._seq = 0
        self._pending = 0  # events and Done items waiting in the heap
        self._next_dial_at = start
        # per (outdial, outplan): a lazy heap of targets by order_key; stale entries are skipped
        self._queues: dict[tuple[str, str], list[_QueueEntry]] = {}
        self._outdial_targets: dict[str, list[SimTarget]] = {}
        for target in targets:
            self._outdial_targets.setdefault(target.outdial_id, []).append(target)
        for campaign in campaigns:
            self._schedule(start + FIRST_TICK, _Tick(campaign.record.id))
        for record in in_flight:
            self._adopt(record)

    # ---- the clock -------------------------------------------------------------------------

    def _schedule(self, at: datetime, item: wire.WireEvent | _Tick | _Done) -> None:
        self._seq += 1
        heapq.heappush(self._heap, _Scheduled(at, self._seq, item))
        if not isinstance(item, _Tick):
            self._pending += 1

    def next_time(self) -> datetime | None:
        return self._heap[0].at if self._heap else None

    def advance(self, until: datetime) -> list[wire.WireEvent]:
        """Run everything due up to `until`; the events VoIPbin published meanwhile, in order."""
        published: list[wire.WireEvent] = []
        while self._heap and self._heap[0].at <= until:
            scheduled = heapq.heappop(self._heap)
            item = scheduled.item
            if isinstance(item, _Tick):
                self._execute(self.campaigns[item.campaign_id], scheduled.at)
                continue
            self._pending -= 1
            if isinstance(item, _Done):
                self._done(item, scheduled.at)
            else:
                published.append(item)
        self.tally.events += len(published)
        return published

    @property
    def finished(self) -> bool:
        """Nothing is left to send, and no campaign will dial again."""
        if self._pending:
            return False
        if self.dial_limit_reached:
            return True
        return all(self._idle_for_good(c) for c in self.campaigns.values())

    def _idle_for_good(self, campaign: SimCampaign) -> bool:
        """With nothing left to send: will this campaign never send or dial again?"""
        if campaign.status == "stop":
            return True
        if not campaign.executing:
            return campaign.in_flight > 0  # stopping, waiting for calls that never end
        if campaign.outplan is None or campaign.record.end_handle == "stop":
            return False  # its next run stops it
        return not self._has_candidate(campaign)

    @property
    def dial_limit_reached(self) -> bool:
        limit = self.settings.dials
        return limit is not None and self.tally.dials >= limit

    # ---- Execute ------------------------------------------------------------------------------

    def _candidate(self, campaign: SimCampaign) -> SimTarget | None:
        """outdialTargetSelectAvailable(limit 1): idle, a slot with tries left, oldest first."""
        if campaign.outplan is None:
            return None
        key = (campaign.record.outdial_id, campaign.outplan.id)
        queue = self._queues.get(key)
        if queue is None:
            queue = [
                _queue_entry(t) for t in self._outdial_targets.get(campaign.record.outdial_id, [])
            ]
            heapq.heapify(queue)
            self._queues[key] = queue
        maxima = max_try_counts(campaign.outplan)
        while queue:
            _updated, _created, target_id, version = queue[0]
            target = self.targets[target_id]
            if version != target.version:
                heapq.heappop(queue)  # written since: its newer entry is in the queue
            elif target.status != "idle" or target.next_slot(maxima) is None:
                heapq.heappop(queue)  # being dialled or done (back when written), or used up
            else:
                return target
        return None

    def _has_candidate(self, campaign: SimCampaign) -> bool:
        return self._candidate(campaign) is not None

    def _write_target(self, target: SimTarget, status: str, at: datetime) -> None:
        """OutdialTargetUpdate*: the target's status and tm_update, put back in the queues."""
        target.status = status
        target.tm_update = at
        target.version += 1
        for (outdial_id, _outplan_id), queue in self._queues.items():
            if outdial_id == target.outdial_id:
                heapq.heappush(queue, _queue_entry(target))

    def _execute(self, campaign: SimCampaign, now: datetime) -> None:
        """One campaignhandler.Execute run at `now`."""
        if campaign.status != "run" or campaign.outplan is None:
            self._update_execute_stop(campaign, now)
            return
        if self.dial_limit_reached:
            return  # the user's bound, not VoIPbin's: the campaign is left as it is
        target = self._candidate(campaign)
        if target is None:
            if campaign.record.end_handle == "stop":
                self._update_execute_stop(campaign, now)
            else:
                self._schedule(now + TICK_WHEN_IDLE, _Tick(campaign.record.id))
            return
        # isDialable: a queue's agent capacity is not modelled; every campaign is dialable.
        interval = timedelta(milliseconds=campaign.outplan.try_interval)
        due = target.never_tried() or (
            target.tm_update is not None and target.tm_update <= now - interval
        )
        if not due:
            self._schedule(now + TICK_WHEN_IDLE, _Tick(campaign.record.id))
            return
        if now < self._next_dial_at:  # --rate: not VoIPbin's, the user's cap
            self._schedule(self._next_dial_at, _Tick(campaign.record.id))
            return
        self._dial(campaign, campaign.outplan, target, now)
        if self.settings.rate is not None:
            self._next_dial_at = now + timedelta(seconds=1 / self.settings.rate)
        self._schedule(now + TICK_AFTER_DIAL, _Tick(campaign.record.id))

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _dial(
        self, campaign: SimCampaign, outplan: Outplan, target: SimTarget, now: datetime
    ) -> None:
        """executeCall / executeFlow: the campaigncall, the target progressing, the call."""
        slot = target.next_slot(max_try_counts(outplan))
        assert slot is not None  # _candidate checked it
        index, try_count = slot
        destination = target.destinations[index] or {}
        attempt = wire.Attempt(
            customer_id=SIM_CUSTOMER_ID,
            campaign_id=campaign.record.id,
            outplan_id=outplan.id,
            outdial_id=campaign.record.outdial_id,
            outdial_target_id=target.id,
            campaigncall_id=self._new_id(),
            call_id=self._new_id(),
            activeflow_id=self._new_id(),
            destination=destination,
            destination_index=index,
            try_count=try_count,
            start=now,
            source=_wire_address(outplan.source),
            queue_id=campaign.record.queue_id,
        )
        # OutdialTargetUpdateProgressing: the only place a try count rises
        target.try_counts[index] += 1
        self._write_target(target, "progressing", now + TARGET_WRITE_LAG)
        campaign.in_flight += 1
        self.tally.dials += 1
        if campaign.record.type == "flow":
            # VoIPbin's default: nobody deletes the activeflow, so it stays progressing
            reason = "flow"
            for event in wire.flow_attempt_feed(attempt, deleted_after=None):
                self._schedule(event.at, event)
        else:
            reason = self.settings.reasons.draw(self.rng)
            self._schedule_call(attempt, campaign, reason, draw_timeline(reason, self.rng))
        self._tell(campaign, target, attempt, reason, adopted=False)

    def _schedule_call(
        self,
        attempt: wire.Attempt,
        campaign: SimCampaign,
        reason: str,
        timeline: Timeline,
        *,
        adopted_at: datetime | None = None,
    ) -> None:
        """Every event of the call's attempt, and campaign-manager's Done after its hangup."""
        hangup_by = "local" if reason in ("cancel", "amd", "timeout") else "remote"
        feed = list(
            wire.attempt_feed(
                attempt,
                reason,
                hangup_by,
                ring_after=timeline.ring,
                answer_after=timeline.answer,
                hangup_after=timeline.hangup,
            )
        )
        for event in feed:
            # an adopted call: what happened before the start was sent then, not now
            if adopted_at is None or (event.at > adopted_at and event.type not in _CREATION):
                self._schedule(event.at, event)
        result = wire.CAMPAIGNCALL_RESULT_BY_REASON[reason]
        self._schedule(
            feed[-1].at + TARGET_WRITE_LAG,
            _Done(campaign.record.id, attempt.outdial_target_id, result),
        )
        self.tally.by_reason[reason] = self.tally.by_reason.get(reason, 0) + 1

    def _adopt(self, record: Campaigncall) -> None:
        """A call the database has in flight: the rest of it happens from the start on.

        A dialing call rings, is answered or not, and hangs up after the start; one already
        progressing (answered) talks on and ends with a reason of an answered call. Its
        creation was sent long ago, so only what comes after the start is sent.
        """
        campaign = self.campaigns.get(record.campaign_id)
        if campaign is None or record.reference_type != "call":
            if campaign is not None:
                campaign.in_flight += 1  # a flow's campaigncall: in flight for good
            return
        created = to_datetime(record.tm_create)
        age = max((self.start - created).total_seconds(), 0.0)
        answered = record.status == "progressing"
        reason = self.settings.reasons.draw(self.rng, answered=answered)
        drawn = draw_timeline(reason, self.rng)
        if answered:
            talk = drawn.hangup - (drawn.answer or 0.0)
            timeline = Timeline(age * 0.3, age * 0.6, age + max(talk, 1.0))
        else:
            timeline = Timeline(
                None if drawn.ring is None else age + drawn.ring,
                None if drawn.answer is None else age + drawn.answer,
                age + drawn.hangup,
            )
        attempt = wire.Attempt(
            customer_id=SIM_CUSTOMER_ID,
            campaign_id=record.campaign_id,
            outplan_id=record.outplan_id,
            outdial_id=record.outdial_id,
            outdial_target_id=record.outdial_target_id,
            campaigncall_id=record.id,
            call_id=record.reference_id,
            activeflow_id=record.activeflow_id,
            destination=_wire_address(record.destination) or {},
            destination_index=record.destination_index,
            try_count=record.try_count,
            start=created,
            source=_wire_address(record.source),
            queue_id=record.queue_id,
        )
        campaign.in_flight += 1
        self.tally.adopted += 1
        self._schedule_call(attempt, campaign, reason, timeline, adopted_at=self.start)
        target = self.targets.get(record.outdial_target_id)
        if target is not None:
            self._tell(campaign, target, attempt, reason, adopted=True)

    def _tell(
        self,
        campaign: SimCampaign,
        target: SimTarget,
        attempt: wire.Attempt,
        reason: str,
        *,
        adopted: bool,
    ) -> None:
        if self.on_dial is None:
            return
        self.on_dial(
            DialNote(
                at=attempt.start if not adopted else self.start,
                campaign=campaign.record.name,
                target=target.name,
                destination=str(attempt.destination.get("target", "")),
                slot=attempt.destination_index,
                try_count=attempt.try_count,
                reason=reason,
                adopted=adopted,
            )
        )

    # ---- Done and stopping -----------------------------------------------------------------

    def _done(self, done: _Done, at: datetime) -> None:
        """calcDialtargetStatus, OutdialTargetUpdate, then EventHandleReferenceCallHungup."""
        target = self.targets.get(done.target_id)
        if target is not None:
            self._write_target(target, wire.TARGET_STATUS_BY_RESULT[done.result], at)
        campaign = self.campaigns[done.campaign_id]
        campaign.in_flight -= 1
        if not campaign.executing and campaign.in_flight == 0:
            self._set_status(campaign, "stop", at)

    def _update_execute_stop(self, campaign: SimCampaign, now: datetime) -> None:
        """updateExecuteStop -> campaignStop: stop now if nothing is in flight, else stopping."""
        campaign.executing = False
        self._set_status(campaign, "stop" if campaign.in_flight == 0 else "stopping", now)

    def _set_status(self, campaign: SimCampaign, status: str, at: datetime) -> None:
        """campaignStopping / campaignStopNow: nothing is sent when the status is already so."""
        if campaign.status == status or (status == "stopping" and campaign.status == "stop"):
            return
        campaign.status = status
        self._schedule(at, wire.campaign_status_event(campaign.wire_record(), status, at))


# ---- reading the database -------------------------------------------------------------------


def _rows(
    conn: sqlite3.Connection, sql: str, params: Sequence[object] = ()
) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, tuple(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


@dataclass(frozen=True)
class SimulationSeed:
    """What the database holds for the simulation: its campaigns, targets and calls in flight."""

    campaigns: list[SimCampaign]
    targets: list[SimTarget]
    in_flight: list[Campaigncall]

    def without_targets(self, target_ids: Iterable[str]) -> SimulationSeed:
        """The same, with these targets (and their calls in flight) left to someone else."""
        left_out = set(target_ids)
        return SimulationSeed(
            self.campaigns,
            [t for t in self.targets if t.id not in left_out],
            [c for c in self.in_flight if c.outdial_target_id not in left_out],
        )


def read_seed(db_path: Path | str) -> SimulationSeed:
    """Read the running (and stopping) campaigns, their outplans, targets and calls in flight.

    The file is only read (store.readonly): a missing file is not created, and the disk is
    left as it was. A stopping campaign is read so that its calls in flight end and it comes
    to stop, as VoIPbin's would.
    """
    with reading_rows(db_path) as conn:
        try:
            return _read_seed(conn)
        except sqlite3.DatabaseError as error:
            raise SimulationError(f"{db_path} cannot be read: {error}") from None


def _read_seed(conn: sqlite3.Connection) -> SimulationSeed:
    campaigns = [
        row_to_record(Campaign, row)
        for row in _rows(
            conn,
            "SELECT * FROM campaigns WHERE status IN ('run', 'stopping') ORDER BY tm_create, id",
        )
    ]
    outplan_ids = sorted({c.outplan_id for c in campaigns})
    outplans = {
        row["id"]: row_to_record(Outplan, row)
        for row in _rows(
            conn, f"SELECT * FROM outplans WHERE id IN ({_marks(outplan_ids)})", outplan_ids
        )
    }
    outdial_ids = sorted({c.outdial_id for c in campaigns})
    targets = [
        SimTarget.from_record(row_to_record(Outdialtarget, row))
        for row in _rows(
            conn,
            f"SELECT * FROM outdialtargets WHERE outdial_id IN ({_marks(outdial_ids)})",
            outdial_ids,
        )
    ]
    campaign_ids = [c.id for c in campaigns]
    in_flight = [
        row_to_record(Campaigncall, row)
        for row in _rows(
            conn,
            "SELECT * FROM campaigncalls WHERE status IN ('dialing', 'progressing')"
            f" AND campaign_id IN ({_marks(campaign_ids)}) ORDER BY tm_create, id",
            campaign_ids,
        )
    ]
    return SimulationSeed(
        [
            SimCampaign(c, outplans.get(c.outplan_id), c.status, executing=c.status == "run")
            for c in campaigns
        ],
        targets,
        in_flight,
    )


# ---- running it in real time ------------------------------------------------------------------


def feed_bytes(events: Sequence[wire.WireEvent]) -> bytes:
    """Webhook bodies as VoIPbin writes them (Go's compact JSON); several as one JSON array."""
    bodies = [wire.compact(event.webhook()) for event in events]
    if len(bodies) == 1:
        return bodies[0].encode()
    return ("[\n" + ",\n".join(bodies) + "\n]\n").encode()


def _chunks(events: list[wire.WireEvent]) -> Iterator[list[wire.WireEvent]]:
    for first in range(0, len(events), MAX_EVENTS_PER_FILE):
        yield events[first : first + MAX_EVENTS_PER_FILE]


class Simulation:
    """The dialer on the real clock: simulated time runs `speed` times as fast from the start."""

    def __init__(
        self,
        seed: SimulationSeed,
        settings: SimulationSettings,
        on_dial: Callable[[DialNote], None] | None = None,
    ) -> None:
        if not settings.speed > 0 or not math.isfinite(settings.speed):
            raise SimulationError("the speed must be a number above 0, as in --speed 60")
        if settings.rate is not None and not (settings.rate > 0 and math.isfinite(settings.rate)):
            raise SimulationError("the rate must be a number of dials per second above 0")
        self.settings = settings
        self.start = settings.start or datetime.now(UTC)
        self.dialer = Dialer(
            seed.campaigns, seed.targets, seed.in_flight, settings, self.start, on_dial
        )

    @property
    def tally(self) -> Tally:
        return self.dialer.tally

    def simulated_time(self, real_elapsed: float) -> datetime:
        return self.start + timedelta(seconds=real_elapsed * self.settings.speed)

    def run(
        self,
        write: Callable[[bytes], object],
        stop: threading.Event,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> Tally:
        """Send the feed through `write` (one call per drop file) until done, the time is up
        or `stop` is set; a file being written is always finished."""
        began = clock()
        deadline = None if self.settings.seconds is None else began + self.settings.seconds
        while not stop.is_set():
            now = clock()
            if deadline is not None and now >= deadline:
                break
            published = self.dialer.advance(self.simulated_time(now - began))
            for chunk in _chunks(published):
                write(feed_bytes(chunk))
                self.tally.files += 1
            if self.dialer.finished:
                break
            wake = now + BATCH_WINDOW_S
            upcoming = self.dialer.next_time()
            if upcoming is not None:
                due = began + (upcoming - self.start).total_seconds() / self.settings.speed
                wake = max(wake, due)
            if deadline is not None:
                wake = min(wake, deadline)
            stop.wait(max(wake - clock(), 0.0))
        return self.tally


class SimulationThread:
    """A simulation in a thread of its own, writing into a drop folder (the demo's)."""

    def __init__(self, simulation: Simulation, drop_dir: Path) -> None:
        self.simulation = simulation
        self.drop_dir = drop_dir
        self.error: OSError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulate", daemon=True)

    def _run(self) -> None:
        try:
            self.simulation.run(DropWriter(self.drop_dir, "sim").write, self._stop)
        except OSError as error:  # the folder went away: the demo goes on without it
            self.error = error

    def start(self) -> SimulationThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop it (the file being written is finished) and wait for the thread to end."""
        self._stop.set()
        self._thread.join(timeout)
