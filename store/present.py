"""Fixture data moved to the present: calls in flight seconds old, histories hours old.

Recorded data (the bundled demo, a scenario's files) carries the times it was made with.
`bundle_at_present` moves each target's history as one piece, so everything the rules read
within it (a retry's interval after the hangup before it, a call's length) stays as it was,
while the histories are laid out to end now: those with a call still in flight a few
seconds ago, the finished ones spread over the last hours, in the order they ended. What
belongs to no history (campaigns, outplans, targets never dialled) moves by the same step,
the newest of it to now. `shift_times` moves the times of drop-file events (a scenario).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from store.timefmt import BadTimestamp, format_tm, parse_tm, to_datetime

# How long ago the histories end: with a call in flight, and finished.
IN_FLIGHT_AGES = (timedelta(seconds=2), timedelta(seconds=50))
FINISHED_AGES = (timedelta(minutes=1), timedelta(hours=6))

Bundle = dict[str, list[dict[str, Any]]]


def _is_time_key(key: str) -> bool:
    return key == "tm" or key.startswith("tm_")


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stored = parse_tm(value)
    except BadTimestamp:
        return None
    return None if stored is None else to_datetime(stored)


def _record_times(record: Mapping[str, Any]) -> Iterable[datetime]:
    for key, value in record.items():
        moment = _moment(value) if _is_time_key(key) else None
        if moment is not None:
            yield moment


def _shifted_time(value: str, delta: timedelta) -> str:
    moment = _moment(value)
    if moment is None:
        return value  # null, the unset sentinel, or not a time: left as it is
    stored = format_tm(moment + delta)
    if "T" in value or "t" in value:
        return stored.replace(" ", "T") + "Z"  # RFC 3339 stays RFC 3339
    return stored


def shift_times(value: Any, delta: timedelta) -> Any:
    """`value` (a record, an event, a list of them) with every `tm`/`tm_*` time moved."""
    if isinstance(value, list):
        return [shift_times(item, delta) for item in value]
    if isinstance(value, dict):
        return {
            key: (
                _shifted_time(item, delta)
                if _is_time_key(key) and isinstance(item, str)
                else shift_times(item, delta)
            )
            for key, item in value.items()
        }
    return value


def _spread(rank: int, count: int, ages: tuple[timedelta, timedelta]) -> timedelta:
    youngest, oldest = ages
    return youngest + (oldest - youngest) * (rank / max(count - 1, 1))


def bundle_at_present(bundle: Mapping[str, list[dict[str, Any]]], now: datetime) -> Bundle:
    """The bundle with its times moved to end at `now` (see the module's docstring)."""
    calls: dict[str, list[dict[str, Any]]] = {}
    for call in bundle.get("campaigncalls", []):
        calls.setdefault(str(call.get("outdial_target_id")), []).append(call)
    targets = {str(t.get("id")): t for t in bundle.get("outdialtargets", [])}
    everything = [record for records in bundle.values() for record in records]
    newest = max((t for record in everything for t in _record_times(record)), default=now)
    step = now - newest
    # each dialled target's history: when it ends, and whether a call is still in flight
    ends: dict[str, tuple[datetime, bool]] = {}
    for target_id, history in calls.items():
        records = [*history, *([targets[target_id]] if target_id in targets else [])]
        last = max((t for record in records for t in _record_times(record)), default=newest)
        live = any(call.get("status") in ("dialing", "progressing") for call in history)
        ends[target_id] = (last, live)
    steps: dict[str, timedelta] = {}
    for live, ages in ((True, IN_FLIGHT_AGES), (False, FINISHED_AGES)):
        group = sorted(
            (t for t, (_last, is_live) in ends.items() if is_live == live),
            key=lambda t: (ends[t][0], t),
            reverse=True,
        )
        for rank, target_id in enumerate(group):
            steps[target_id] = now - _spread(rank, len(group), ages) - ends[target_id][0]
    out: Bundle = {}
    for table, records in bundle.items():
        key = {"outdialtargets": "id", "campaigncalls": "outdial_target_id"}.get(table)
        out[table] = [
            shift_times(record, steps.get(str(record.get(key)), step) if key else step)
            for record in records
        ]
    return out


def earliest_time(values: Iterable[Any]) -> datetime | None:
    """The earliest `tm`/`tm_*` time anywhere in these values (events, records)."""
    found: list[datetime] = []

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                moment = _moment(item) if _is_time_key(key) else None
                if moment is not None:
                    found.append(moment)
                else:
                    walk(item)

    for value in values:
        walk(value)
    return min(found, default=None)


def write_bundle_at_present(source: Path, target: Path, now: datetime) -> Path:
    """Write the bundle at `source` with its times moved to end at `now` (for `load`)."""
    bundle = json.loads(source.read_text(encoding="utf-8"))
    target.write_text(json.dumps(bundle_at_present(bundle, now), ensure_ascii=False), "utf-8")
    return target
