"""A whole VoIPbin feed through the watcher: every webhook of a campaign's attempts (built by
store/wire.py), with unrelated traffic, one file per webhook, against the folder's floor."""

from __future__ import annotations

import gc
import heapq
import json
import os
import random
import sqlite3
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import data
from bench.report import Figure
from fixtures.generate import uuid4_text
from store import wire
from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import FileReport, ensure_drop_dir
from store.watcher import DropFolderWatcher

TARGETS = 500
MAX_TRY_COUNTS = (2, 1)  # two slots: two tries on the first, one on the second
TRY_INTERVAL_MS = 60_000
DIAL_EVERY = timedelta(milliseconds=250)  # the dialer's pace
# VoIPbin's reasons, about as a real list ends its dials
REASONS = ("normal",) * 9 + ("busy",) * 3 + ("noanswer",) * 4 + ("failed", "cancel", "dialout")
# unrelated traffic per attempt: an incoming call's five events, an inbound SMS
INCOMING_PER_ATTEMPT = 0.5
SMS_PER_ATTEMPT = 0.5
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _ids(rng: random.Random) -> str:
    return uuid4_text(rng)


def build_feed(seed: int, targets: int = TARGETS) -> tuple[dict[str, Any], list[wire.WireEvent]]:
    """The bundle a sync would read before the run (targets untried), and every event VoIPbin
    publishes for it, in publish order: each target dialled by getTargetDestination's order
    until it succeeds or its slots are used up, retries `try_interval` after the hangup."""
    rng = random.Random(seed)
    customer, campaign, outplan, outdial, flow = (_ids(rng) for _ in range(5))
    source = wire.address(target="+15550100000")
    created = START - timedelta(hours=1)
    people = []
    for n in range(targets):
        people.append(
            {
                "id": _ids(rng),
                "destinations": [
                    wire.address(target=f"+1555{rng.randrange(10**7):07d}", target_name=f"P {n}"),
                    wire.address(target=f"+1555{rng.randrange(10**7):07d}"),
                ],
                "tries": [0, 0],
            }
        )
    bundle = {
        "campaigns": [
            wire.campaign(
                id=campaign,
                customer_id=customer,
                outplan_id=outplan,
                outdial_id=outdial,
                tm_create=created,
                name="Feed bench",
                status="run",
                end_handle="continue",
            )  # fmt: skip
        ],
        "outplans": [
            wire.outplan(
                id=outplan,
                customer_id=customer,
                tm_create=created,
                source=source,
                try_interval=TRY_INTERVAL_MS,
                max_try_counts=MAX_TRY_COUNTS,
            )  # fmt: skip
        ],
        "outdials": [wire.outdial(id=outdial, customer_id=customer, tm_create=created)],
        "outdialtargets": [
            wire.outdialtarget(
                id=p["id"],
                outdial_id=outdial,
                destinations=p["destinations"],
                tm_create=created,
                name=f"Target {n}",
            )  # fmt: skip
            for n, p in enumerate(people)
        ],
        "campaigncalls": [],
    }
    feeds: list[Any] = []
    due = [(START + n * DIAL_EVERY, n) for n in range(targets)]
    heapq.heapify(due)
    last_dial = START - DIAL_EVERY
    while due:
        when, n = heapq.heappop(due)
        person = people[n]
        slot = next(
            (i for i in range(2) if person["tries"][i] < MAX_TRY_COUNTS[i]), None
        )  # getTargetDestination
        if slot is None:
            continue  # exhausted
        start = max(when, last_dial + DIAL_EVERY)
        last_dial = start
        person["tries"][slot] += 1
        attempt = wire.Attempt(
            customer_id=customer, campaign_id=campaign, outplan_id=outplan, outdial_id=outdial,
            outdial_target_id=person["id"], campaigncall_id=_ids(rng), call_id=_ids(rng),
            activeflow_id=_ids(rng), destination=person["destinations"][slot],
            destination_index=slot, try_count=person["tries"][slot], start=start,
            source=source, flow_id=flow,
        )  # fmt: skip
        reason = rng.choice(REASONS)
        feed = list(wire.attempt_feed(attempt, reason))
        feeds.append(feed)
        if reason != "normal":
            heapq.heappush(due, (feed[-1].at + timedelta(milliseconds=TRY_INTERVAL_MS), n))
        if rng.random() < INCOMING_PER_ATTEMPT:
            feeds.append(
                list(
                    wire.incoming_call_feed(
                        customer_id=customer, call_id=_ids(rng), activeflow_id=_ids(rng),
                        source=wire.address(target=f"+1555{rng.randrange(10**7):07d}"),
                        destination=source, start=start + timedelta(seconds=rng.random() * 30),
                    )
                )
            )  # fmt: skip
        if rng.random() < SMS_PER_ATTEMPT:
            feeds.append(
                [
                    wire.sms_received(
                        customer_id=customer, message_id=_ids(rng),
                        source=wire.address(target=f"+1555{rng.randrange(10**7):07d}"),
                        destination=source, text="Call me back after 5",
                        at=start + timedelta(seconds=rng.random() * 30),
                    )
                ]
            )  # fmt: skip
    return bundle, wire.in_order(*feeds)


def _changes_a_record(outcome: Any) -> bool:
    """Applied, and more than a call's timeline: a campaigncall or target written."""
    summary = outcome.summary or ""
    return outcome.outcome == "applied" and not (
        summary.startswith("call ") or summary == "answered (timeline)"
    )


CHUNKS = 10


def _write(folder: Path, names: list[str], bodies: list[bytes]) -> list[Path]:
    paths = []
    for name, body in zip(names, bodies, strict=True):
        path = folder / name
        path.write_bytes(body)
        paths.append(path)
    return paths


class _Floor:
    """Baseline: each file read and parsed, one events row, its own commit (synchronous FULL,
    as the real path), moved to processed/: what the folder costs before any rule runs."""

    def __init__(self, db_path: Path, drop_dir: Path) -> None:
        self.conn = sqlite3.connect(db_path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.processed = drop_dir / "processed"

    def apply(self, paths: list[Path]) -> float:
        gc.collect()
        started = time.perf_counter()
        for path in paths:
            event = json.loads(path.read_bytes())
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                "INSERT INTO events (tm, file, position, type, outcome, raw) VALUES (?, ?, 0, ?,"
                " 'applied', ?)",
                ("2026-11-20 09:00:00.000000", path.name, event["type"], json.dumps(event)),
            )
            self.conn.execute("COMMIT")
            os.replace(path, self.processed / path.name)
        return time.perf_counter() - started


def _watcher_pass(watcher: DropFolderWatcher, reports: list[FileReport], count: int) -> float:
    """The watcher's own pass over a folder of waiting files (DropFolderWatcher.apply_waiting:
    claim, read, apply, commit, move, file by file in name order)."""
    gc.collect()
    started = time.perf_counter()
    while len(reports) < count:
        if not watcher.apply_waiting():
            break
    return time.perf_counter() - started


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    bundle, events = build_feed(seed)
    bodies = [wire.compact(event.webhook()).encode() for event in events]
    n = len(bodies)
    data.log(f"feed: {n:,} webhooks of {TARGETS:,} targets' dials and unrelated traffic")
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        bundle_path = root / "bundle.json"
        bundle_path.write_text(json.dumps(bundle), encoding="utf-8")
        source = root / "synced.db"
        db = connect(source, create=True)
        load_bundle(db, str(bundle_path))
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()

        raw_dir, drop_dir = root / "raw-drop", root / "drop"
        ensure_drop_dir(raw_dir)
        ensure_drop_dir(drop_dir)
        floor = _Floor(data.copy_database(source, root, "raw.db"), raw_dir)
        db_path = data.copy_database(source, root, "real.db")
        reports: list[FileReport] = []
        watcher = DropFolderWatcher(db_path, drop_dir, reports.append)
        names = [f"{i:07d}-webhook.json" for i in range(n)]  # arrival order, as receive names
        real_s = raw_s = 0.0
        step = -(-n // CHUNKS)
        # in turns, a tenth of the feed each, so both see the same machine over the run
        for start in range(0, n, step):
            part = slice(start, start + step)
            raw_s += floor.apply(_write(raw_dir, names[part], bodies[part]))
            _write(drop_dir, names[part], bodies[part])
            real_s += _watcher_pass(watcher, reports, min(start + step, n))
        floor.conn.close()
        watcher.close()
        assert len(reports) == n, (len(reports), n)
        outcomes = [o for r in reports for o in (*r.outcomes, *r.released)]
        assert not any(r.rejected for r in reports), [r.error_text() for r in reports][:1]
        conn = sqlite3.connect(db_path)
        states = dict(conn.execute("SELECT status, count(*) FROM outdialtargets GROUP BY 1"))
        conn.close()
    shares = Counter(o.outcome for o in outcomes)
    changed = sum(map(_changes_a_record, outcomes))
    share_text = ", ".join(f"{k} {v / n:.0%}" for k, v in shares.most_common())
    data.log(
        f"feed: {n / real_s:,.0f} events/s ({real_s:.1f} s), floor {n / raw_s:,.0f}/s;"
        f" {share_text}; {changed / n:.0%} change a record; targets {states}"
    )
    return [
        Figure(
            f"feed {n:,} webhooks, one file each",
            n / real_s,
            "events/s",
            "higher",
            baseline=n / raw_s,
            baseline_name="folder floor",
            note=(
                f"a call campaign over {TARGETS:,} synced targets (two slots, {MAX_TRY_COUNTS}"
                " tries), every webhook of each dial (store.wire.attempt_feed: created,"
                " activeflow, call created/ringing/progressing/updated/hangup, campaigncall"
                " updated), retries after the hangup, and unrelated traffic (incoming calls,"
                f" SMS); {share_text}; {changed / n:.0%} of events change a campaigncall or"
                " target. Each webhook is its own file, in arrival order, applied by the"
                " watcher's pass over the waiting files (DropFolderWatcher.apply_waiting:"
                " claim, apply, commit, move; no watchfiles latency). Floor: each file read,"
                " json.loads, one events row, its own commit (synchronous FULL, as the real"
                f" path), moved. The two take turns, {1 / CHUNKS:.0%} of the feed at a time"
            ),
            extra={
                "events": n,
                "real_s": real_s,
                "raw_s": raw_s,
                "outcomes": dict(shares),
                "changes_a_record": changed,
                "targets": states,
            },
        )
    ]
