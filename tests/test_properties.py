"""Hostile input, generated: random JSON, random bytes and mutated events never break the store."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.apply import apply_bytes
from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import apply_drop_file, ensure_drop_dir
from store.queries import Queries
from store.targets import retry_plan_for
from tests.helpers import bundle, campaigncall, created, hangup, progressing, target, write_json

# A fail hangup of a second call on a target whose other call succeeded sets it back to idle.
CHECK_SUCCESS_TARGET_DONE = True
OUTCOMES = {"applied", "duplicate", "rejected", "parked", "ignored"}
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CALLS = [f"ca000000-0000-4000-8000-{n:012x}" for n in range(1, 7)]
REFS = [c.replace("ca", "ee", 1) for c in CALLS]
TARGETS = [f"7a000000-0000-4000-8000-{n:012x}" for n in range(1, 4)]
NEW_CALLS = [f"cb000000-0000-4000-8000-{n:012x}" for n in range(1, 5)]


class World:
    """A real SQLite file shared by the examples of one test: invariants must hold throughout."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "w.db"
        self.drop = folder / "drop"
        ensure_drop_dir(self.drop)
        calls = [
            campaigncall(c, ref=r, target=TARGETS[n % 3], tm_create=f"2026-11-20 09:00:0{n}.000000")
            for n, (c, r) in enumerate(zip(CALLS, REFS, strict=True))
        ]
        targets = [target(t, status="progressing", tries=(2, 0)) for t in TARGETS]
        db = connect(self.path, create=True)
        load_bundle(db, str(write_json(folder / "b.json", bundle(*calls, targets=targets))))
        self.db: sqlite_utils.Database = db
        self.queries = Queries(self.path)
        self.initial_tries = self._tries()
        self.files = 0

    def _tries(self) -> dict[tuple[str, int], int]:
        return {
            (row[0], slot): row[1 + slot]
            for row in self.db.conn.execute(
                "SELECT id, try_count_0, try_count_1, try_count_2, try_count_3, try_count_4"
                " FROM outdialtargets"
            )
            for slot in range(5)
        }

    def close(self) -> None:
        self.queries.close()
        self.db.conn.close()

    def apply(self, data: bytes, through_folder: bool) -> None:
        """Apply `data` by one of the two paths; nothing may escape, every event is recorded."""
        conn = self.db.conn
        before = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        self.files += 1
        if through_folder:
            path = self.drop / f"{self.files:06d}.json"
            path.write_bytes(data)
            report = apply_drop_file(self.db, path, self.drop)
            assert report is not None and report.moved_to is not None
            assert not path.exists() and report.moved_to.exists()
            assert report.moved_to.parent.name == ("rejected" if report.rejected else "processed")
            outcomes = report.outcomes
        else:
            outcomes = apply_bytes(self.db, "x.json", data)
        assert outcomes and {o.outcome for o in outcomes} <= OUTCOMES
        assert all(
            (o.outcome == "rejected") == bool(o.error) for o in outcomes if o.outcome != "parked"
        )
        after = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        assert after - before == len(outcomes)
        self.check()

    def check(self) -> None:
        """The invariants the rules keep, whatever came in."""
        conn = self.db.conn

        def one(sql: str) -> Any:
            return conn.execute(sql).fetchone()[0]

        # a done campaigncall has a result, the others none
        assert one("SELECT count(*) FROM campaigncalls WHERE result NOT IN ('', 'success', 'fail')"
                   " OR (status = 'done') != (result != '')") == 0  # fmt: skip
        # a successful call's target is done (off until the lead fixes the bug that
        # test_a_fail_after_a_success_on_the_same_target_keeps_the_target_done shows)
        success_not_done = one(
            "SELECT count(*) FROM campaigncalls c JOIN outdialtargets t"
            " ON t.id = c.outdial_target_id WHERE c.result = 'success' AND t.status != 'done'"
        )
        assert not CHECK_SUCCESS_TARGET_DONE or success_not_done == 0
        # try counts: what the bundle said plus one per campaigncall created by an applied event
        dialled: dict[tuple[str, int], int] = {}
        for target_id, slot in conn.execute(
            "SELECT c.outdial_target_id, c.destination_index FROM campaigncalls c WHERE c.id IN"
            " (SELECT campaigncall_id FROM events WHERE outcome = 'applied'"
            " AND type = 'campaigncall_created')"
        ):
            dialled[(target_id, slot)] = dialled.get((target_id, slot), 0) + 1
        tries = self._tries()
        for key, count in tries.items():
            assert count == self.initial_tries.get(key, 0) + dialled.get(key, 0), key
        # one applied record per content; the stored retry plans are what the rule says now
        assert one("SELECT count(*) FROM (SELECT content_hash FROM events WHERE outcome ="
                   " 'applied' GROUP BY 1 HAVING count(*) > 1)") == 0  # fmt: skip
        for (target_id,) in conn.execute("SELECT id FROM outdialtargets"):
            plan = retry_plan_for(conn, target_id)
            stored = conn.execute(
                "SELECT retry_state, retry_index, retry_try, retry_due FROM outdialtargets"
                " WHERE id = ?",
                (target_id,),
            ).fetchone()
            assert plan is not None
            assert stored == (plan.state, plan.destination_index, plan.try_count, plan.due)
        # the dashboard's counts equal a fresh count of the rows
        counts = self.queries.counts()
        fresh = dict(conn.execute("SELECT status, count(*) FROM campaigncalls GROUP BY 1"))
        results = dict(conn.execute("SELECT result, count(*) FROM campaigncalls GROUP BY 1"))
        assert (counts.dialing, counts.progressing, counts.done) == (
            fresh.get("dialing", 0), fresh.get("progressing", 0), fresh.get("done", 0))  # fmt: skip
        assert (counts.success, counts.fail) == (results.get("success", 0), results.get("fail", 0))
        assert counts.exhausted == one(
            "SELECT count(*) FROM outdialtargets WHERE retry_state = 'exhausted'"
        )


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path / "world")
    yield w
    w.close()


# ---- strategies ------------------------------------------------------------------------------

HOSTILE_TEXT = st.sampled_from(
    ["", " ", "\ud800", "\udfff x", "[bold]x[/]", "[/]", "\x1b[31mred", "\x00", "\x07\x08\r\n",
     "김민준", "🦜" * 3, "9999-01-01 00:00:00.000000", "2026-13-45 99:99:99", "normal", "busy",
     "NORMAL", " normal", "no_answer", "canceled", "x" * 5000, *CALLS, *REFS, *TARGETS,
     "00000000-0000-0000-0000-000000000000"]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | HOSTILE_TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
HOSTILE_VALUE = st.one_of(
    HOSTILE_TEXT,
    st.sampled_from([10**30, -1, 0, 5, 2**63, 1.5, True, None, [], {}, {"a": {"b": [1]}}]),
    JSON,
)


def base_events() -> st.SearchStrategy[dict[str, Any]]:
    new_call = st.builds(
        lambda ident, n, slot: created(
            campaigncall(ident, ref=ident.replace("cb", "ed", 1), target=TARGETS[n],
                         index=slot, tm_create="2026-11-20 10:00:00.000000")
        ),
        st.sampled_from(NEW_CALLS), st.integers(0, 2), st.integers(0, 1),
    )  # fmt: skip
    return st.one_of(
        st.builds(
            hangup,
            st.sampled_from(REFS + NEW_CALLS),
            st.sampled_from(["normal", "busy", "noanswer", "x"]),
        ),
        st.builds(progressing, st.sampled_from(REFS)),
        st.builds(
            lambda c, r: {"campaigncall_id": c, "hangup_reason": r},
            st.sampled_from(CALLS), st.sampled_from(["normal", "busy", "cancel"]),
        ),
        new_call,
    )  # fmt: skip


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


@st.composite
def mutated_event(draw: st.DrawFn) -> Any:
    """A valid event with a few fields replaced by hostile values, removed, or added."""
    event = copy.deepcopy(draw(base_events()))
    for _ in range(draw(st.integers(0, 3))):
        where = paths(event)
        if not where:
            break
        path = draw(st.sampled_from(where))
        parent = event
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(HOSTILE_TEXT)] = copy.deepcopy(draw(HOSTILE_VALUE))
        else:
            parent[path[-1]] = copy.deepcopy(draw(HOSTILE_VALUE))
    return event


def encode(value: Any) -> bytes:
    # ensure_ascii writes lone surrogates as \\udxxx escapes, as a JSON writer may
    return json.dumps(value, ensure_ascii=True).encode()


# ---- the properties --------------------------------------------------------------------------


@SETTINGS
@given(document=JSON, through_folder=st.booleans())
def test_random_json_is_recorded_and_breaks_nothing(
    world: World, document: Any, through_folder: bool
) -> None:
    world.apply(encode(document), through_folder)


@SETTINGS
@given(data=st.binary(max_size=300), through_folder=st.booleans())
def test_random_bytes_are_recorded_and_break_nothing(
    world: World, data: bytes, through_folder: bool
) -> None:
    world.apply(data, through_folder)


@settings(SETTINGS, max_examples=400)
@given(
    events=st.lists(mutated_event(), min_size=1, max_size=5),
    as_array=st.booleans(),
    through_folder=st.booleans(),
)
def test_mutated_events_keep_the_invariants(
    world: World, events: list[Any], as_array: bool, through_folder: bool
) -> None:
    document = events if as_array or len(events) > 1 else events[0]
    world.apply(encode(document), through_folder)


@settings(SETTINGS, max_examples=100)
@given(name=st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b))
def test_any_file_name_is_applied_and_moved(world: World, name: bytes) -> None:
    path = world.drop / os.fsdecode(name + b".json")
    if path.name.startswith("."):
        return
    path.write_bytes(encode(hangup(REFS[0], "busy")))
    report = apply_drop_file(world.db, path, world.drop)
    assert report is not None and report.moved_to is not None and report.moved_to.exists()
    assert not path.exists()
    world.check()


def test_a_fail_after_a_success_on_the_same_target_keeps_the_target_done(world: World) -> None:
    # CALLS[0] and CALLS[3] both dial TARGETS[0]
    world.apply(encode({"campaigncall_id": CALLS[0], "hangup_reason": "normal"}), False)
    world.apply(encode({"campaigncall_id": CALLS[3], "hangup_reason": "busy"}), False)
    status, retry = world.db.conn.execute(
        "SELECT status, retry_state FROM outdialtargets WHERE id = ?", (TARGETS[0],)
    ).fetchone()
    assert (status, retry) == ("done", "none")
