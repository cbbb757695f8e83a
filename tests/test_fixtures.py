"""The bundled fixtures: demo.json, the generator and the trainer scenarios keep VoIPbin's rules."""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from fixtures import demo as demo_module
from fixtures.check import bundle_problems
from fixtures.generate import (
    generate_bundle,
    iter_campaigncalls,
    main,
    stream_bundle,
    uuid4_text,
)
from store.models import (
    Bundle,
    Campaigncall,
    Outdialtarget,
    Outplan,
)
from store.rules import next_attempt
from store.timefmt import parse_tm

FIXTURES = Path(demo_module.__file__).resolve().parent
DEMO = FIXTURES / "demo.json"
SCENARIOS = FIXTURES / "scenarios"
SCENARIO_NAMES = ["answered", "busy-retry", "noanswer-next-slot", "exhausted", "bad-input"]
BROKEN_FILES = {("bad-input", "03-truncated.json")}


@pytest.fixture(scope="module")
def demo() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(DEMO.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def model(demo: dict[str, list[dict[str, Any]]]) -> Bundle:
    return Bundle.model_validate(demo)


def _calls_by_target(model: Bundle) -> dict[str, list[Campaigncall]]:
    calls: dict[str, list[Campaigncall]] = defaultdict(list)
    for call in model.campaigncalls:
        calls[call.outdial_target_id].append(call)
    return calls


def _outplan_of(model: Bundle, target: Outdialtarget) -> Outplan:
    campaign = next(c for c in model.campaigns if c.outdial_id == target.outdial_id)
    return next(o for o in model.outplans if o.id == campaign.outplan_id)


# ---- demo.json ---------------------------------------------------------------------------


def test_demo_is_small_and_matches_the_generator(demo: dict[str, Any]) -> None:
    assert DEMO.stat().st_size < 400_000
    assert demo == json.loads(json.dumps(demo_module.demo_bundle())), (
        "demo.json is stale: run python -m fixtures.demo"
    )


def test_demo_keeps_every_rule(demo: dict[str, Any], model: Bundle) -> None:
    assert bundle_problems(demo) == []
    keys = {"campaigns", "outplans", "outdials", "outdialtargets", "campaigncalls"}
    assert set(demo) == keys


def test_demo_records_use_voipbin_field_names(demo: dict[str, Any]) -> None:
    call_fields = {
        "id",
        "campaign_id",
        "outplan_id",
        "outdial_id",
        "outdial_target_id",
        "queue_id",
        "activeflow_id",
        "reference_type",
        "reference_id",
        "status",
        "result",
        "source",
        "destination",
        "destination_index",
        "try_count",
        "tm_create",
        "tm_update",
    }
    address_fields = {"type", "target", "target_name", "name", "detail"}
    for call in demo["campaigncalls"]:
        assert set(call) == call_fields
        assert set(call["source"]) == address_fields
        assert set(call["destination"]) == address_fields
    for target in demo["outdialtargets"]:
        for slot in range(5):
            assert f"try_count_{slot}" in target and f"destination_{slot}" in target
    timestamp = re.compile(r"^2026-11-\d\d \d\d:\d\d:\d\d\.\d{6}$")
    for records in demo.values():
        for record in records:
            for key, value in record.items():
                if key.startswith("tm_") and value is not None:
                    assert timestamp.match(value), (key, value)


def test_demo_has_the_variety_asked_for(model: Bundle) -> None:
    assert len(model.campaigns) >= 3
    assert len({c.name for c in model.campaigns}) == len(model.campaigns)
    assert len({c.type for c in model.campaigns}) >= 2
    assert len({c.status for c in model.campaigns}) >= 3
    assert len(model.outplans) >= 3
    maxes = {tuple(o.max_try_count(i) for i in range(5)) for o in model.outplans}
    assert {(3, 1, 0, 0, 0), (2, 2, 1, 0, 0), (1, 1, 1, 1, 1)} <= maxes
    assert len({o.try_interval for o in model.outplans}) >= 3
    assert len({o.dial_timeout for o in model.outplans}) >= 3
    assert all(o.name for o in model.outdials)
    assert len(model.outdialtargets) >= 60
    assert len(model.campaigncalls) >= 200

    kinds = {
        t.destination(i).type  # type: ignore[union-attr]
        for t in model.outdialtargets
        for i in range(5)
        if t.destination(i) is not None
    }
    assert {"tel", "sip", "agent", "email", "extension"} <= kinds
    slots_used = Counter(
        sum(t.destination(i) is not None for i in range(5)) for t in model.outdialtargets
    )
    assert len(slots_used) >= 4
    assert len({c.destination_index for c in model.campaigncalls}) >= 3
    tels = [
        t.destination(0).target  # type: ignore[union-attr]
        for t in model.outdialtargets
        if t.destination(0) is not None and t.destination(0).type == "tel"  # type: ignore[union-attr]
    ]
    assert all(re.fullmatch(r"\+\d{10,14}", tel) for tel in tels)

    pairs = Counter((c.status, c.result) for c in model.campaigncalls)
    for pair in [("dialing", ""), ("progressing", ""), ("done", "success"), ("done", "fail")]:
        assert pairs[pair] >= 2, pair
    assert {t.status for t in model.outdialtargets} == {"idle", "progressing", "done"}

    calls = _calls_by_target(model)
    retried = [t for t in model.outdialtargets if len(calls[t.id]) > 1]
    never = [t for t in model.outdialtargets if not calls[t.id]]
    exhausted = []
    scheduled = []
    for target in model.outdialtargets:
        plan = next_attempt(target, _outplan_of(model, target))
        if calls[target.id] and plan.state == "exhausted":
            exhausted.append(target)
        if calls[target.id] and plan.state == "scheduled":
            scheduled.append(target)
    assert len(retried) >= 5
    assert len(exhausted) >= 3
    assert len(scheduled) >= 3
    assert len(never) >= 5
    assert all(t.status == "idle" and t.try_count(0) == 0 for t in never)


def test_demo_names_in_several_scripts_and_markup(demo: dict[str, Any]) -> None:
    names: list[str] = []
    for campaign in demo["campaigns"]:
        names.append(campaign["name"])
    for target in demo["outdialtargets"]:
        names.append(target["name"])
        for slot in range(5):
            address = target[f"destination_{slot}"]
            if address:
                names += [address["name"], address["target_name"]]
    text = "\n".join(names)
    assert "김민준" in text
    assert re.search(r"[\uac00-\ud7a3]", text)  # Hangul
    assert re.search(r"[\u3040-\u30ff]", text)  # kana
    assert re.search(r"[\u4e00-\u9fff]", text)  # kanji
    assert "José Müller" in text and "Zoë" in text
    assert "[bold]VIP[/]" in text
    assert "[link=https://example.com]click[/link]" in text
    assert any(n.startswith("[bold]VIP[/]") for n in (c["name"] for c in demo["campaigns"]))


def test_demo_reserves_fresh_targets_for_the_scenarios(model: Bundle) -> None:
    targets = {t.id: t for t in model.outdialtargets}
    calls = _calls_by_target(model)
    for n, (scenario, campaign_index, _name, _dests) in demo_module.RESERVED_TARGETS.items():
        assert scenario in SCENARIO_NAMES
        target = targets[demo_module.reserved_target_id(n)]
        assert target.status == "idle"
        assert all(target.try_count(i) == 0 for i in range(5))
        assert not calls[target.id]
        assert target.outdial_id == model.campaigns[campaign_index].outdial_id


# ---- the generator -------------------------------------------------------------------------


def test_uuid4_text_is_uuid_version_4() -> None:
    import random

    a, b = random.Random(3), random.Random(3)
    for _ in range(200):
        assert uuid4_text(a) == str(uuid.UUID(int=b.getrandbits(128), version=4))


def test_generator_is_deterministic() -> None:
    first = generate_bundle(seed=11)
    assert first == generate_bundle(seed=11)
    assert first != generate_bundle(seed=12)
    records, stream = stream_bundle(seed=11)
    assert list(stream) == first["campaigncalls"]
    assert {k: v for k, v in first.items() if k != "campaigncalls"} == records
    assert list(iter_campaigncalls(seed=11)) == first["campaigncalls"]


@pytest.mark.parametrize(
    ("seed", "campaigns", "targets", "calls"),
    [
        (7, 3, 60, 220),
        (1, 1, 0, 40),
        (2, 5, 10, 600),
        (3, 4, 100, 12),
        (4, 2, 8, 0),
        (5, 7, 30, 1500),
    ],
)
def test_generator_is_consistent_at_any_size(
    seed: int, campaigns: int, targets: int, calls: int
) -> None:
    bundle = generate_bundle(seed, campaigns, targets, calls)
    assert len(bundle["campaigncalls"]) == calls
    assert len(bundle["campaigns"]) == campaigns
    assert len(bundle["outdialtargets"]) >= max(targets, calls // 2)
    assert bundle_problems(bundle) == []


def test_generator_command_line(tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    assert (
        main(
            [
                "--out",
                str(out),
                "--seed",
                "5",
                "--campaigns",
                "2",
                "--targets",
                "9",
                "--calls",
                "30",
            ]
        )
        == 0
    )
    assert json.loads(out.read_text(encoding="utf-8")) == generate_bundle(5, 2, 9, 30)


# ---- scenarios ----------------------------------------------------------------------------


def _manifest(name: str) -> dict[str, Any]:
    with open(SCENARIOS / name / "scenario.toml", "rb") as handle:
        return tomllib.load(handle)


def test_scenario_folders_and_readme() -> None:
    folders = sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir())
    assert folders == sorted(SCENARIO_NAMES)
    readme = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    for name in SCENARIO_NAMES:
        assert f"`{name}`" in readme


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_scenario_manifest(name: str) -> None:
    manifest = _manifest(name)
    assert manifest["title"] and manifest["summary"] and "\n" not in manifest["summary"]
    files = [step["file"] for step in manifest["steps"]]
    assert files == sorted(files)
    on_disk = sorted(p.name for p in (SCENARIOS / name).iterdir() if p.suffix == ".json")
    assert files == on_disk
    for step in manifest["steps"]:
        assert re.fullmatch(r"\d\d-[a-z0-9-]+\.json", step["file"])
        assert step["caption"] and len(step["caption"]) <= 40
        expect = step["expect"]
        assert expect["outcomes"]
        assert set(expect["outcomes"]) <= {"applied", "duplicate", "parked", "rejected"}
        assert expect["retry_state"] in {"none", "scheduled", "exhausted"}


def test_scenarios_use_every_event_form_and_realistic_calls() -> None:
    forms: Counter[str] = Counter()
    reasons: set[str] = set()
    for name in SCENARIO_NAMES:
        for path in sorted((SCENARIOS / name).glob("*.json")):
            if (name, path.name) in BROKEN_FILES:
                continue
            payload = json.loads(path.read_text(encoding="utf-8"))
            for raw in payload if isinstance(payload, list) else [payload]:
                forms[raw.get("type", "shorthand")] += 1
                if raw.get("type") in ("call_hangup", "call_progressing"):
                    call = raw["data"]
                    for key in (
                        "customer_id",
                        "owner_type",
                        "flow_id",
                        "action",
                        "recording_ids",
                        "source",
                        "destination",
                        "tm_create",
                        "tm_ringing",
                        "tm_progressing",
                        "tm_hangup",
                        "tm_update",
                    ):
                        assert key in call, key
                    assert call["type"] == "flow" and call["direction"] == "outgoing"
                    assert call["tm_update"].endswith("Z")
                    assert parse_tm(call["tm_update"]) is not None
                    reasons.add(call["hangup_reason"])
                elif "hangup_reason" in raw:
                    reasons.add(raw["hangup_reason"])
    assert set(forms) == {"campaigncall_created", "call_progressing", "call_hangup", "shorthand"}
    assert {"normal", "busy", "noanswer", "no_answer", ""} <= reasons
