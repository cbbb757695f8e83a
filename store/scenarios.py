"""Trainer scenarios: numbered drop files with a manifest, dropped as a writer would."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from store.db import StoreError
from store.present import earliest_time, shift_times

MANIFEST = "scenario.toml"


@dataclass(frozen=True)
class Step:
    file: Path
    caption: str
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    summary: str
    steps: list[Step]
    targets: tuple[str, ...] = ()  # the targets its files dial (the manifest's `targets`)

    def shift_to(self, now: datetime) -> timedelta:
        """How far to move the scenario's times for it to begin at `now`."""
        values = []
        for step in self.steps:
            try:
                values.append(json.loads(step.file.read_bytes()))
            except (OSError, ValueError):
                continue  # a broken file on purpose: it has no times to go by
        earliest = earliest_time(values)
        return timedelta(0) if earliest is None else now - earliest

    def step_label(self, done: int) -> str:
        """'step 2 of 5: busy, retried' after `done` steps were dropped."""
        if done == 0:
            return f"{self.title}: {len(self.steps)} steps, press n for the first"
        caption = self.steps[done - 1].caption
        return f"step {done} of {len(self.steps)}: {caption}"


def _bundled_root() -> Path:
    return Path(str(resources.files("fixtures").joinpath("scenarios")))


def bundled_scenario_names() -> list[str]:
    root = _bundled_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file())


def load_scenario(name_or_path: str) -> Scenario:
    """A bundled scenario by name, or a scenario folder by path."""
    folder = Path(name_or_path)
    if not (folder / MANIFEST).is_file():
        folder = _bundled_root() / name_or_path
    if "/" in name_or_path and not (folder / MANIFEST).is_file():
        raise StoreError(f"{name_or_path} is not a scenario folder (it has no {MANIFEST})")
    if not (folder / MANIFEST).is_file():
        names = ", ".join(bundled_scenario_names()) or "none"
        raise StoreError(f"there is no scenario named {name_or_path} (bundled: {names})")
    try:
        manifest = tomllib.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        steps = [
            Step(folder / s["file"], str(s.get("caption", s["file"])), dict(s.get("expect", {})))
            for s in manifest.get("steps", [])
        ]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise StoreError(f"{folder / MANIFEST} is not a valid scenario manifest: {error}") from None
    if not steps:
        steps = [Step(p, p.stem) for p in sorted(folder.glob("*.json"))]
    return Scenario(
        name=folder.name,
        title=str(manifest.get("title", folder.name)),
        summary=str(manifest.get("summary", "")),
        steps=steps,
        targets=tuple(str(t) for t in manifest.get("targets", [])),
    )


def drop_file(source: Path, drop_dir: Path, shift: timedelta | None = None) -> Path:
    """Copy a file into the folder as a writer should: write a `.tmp`, then rename.

    With `shift`, the events' times are moved by it (a file that is not JSON is copied as is).
    """
    drop_dir.mkdir(parents=True, exist_ok=True)
    target = drop_dir / source.name
    temporary = drop_dir / f".{source.name}.tmp"
    content = source.read_bytes()
    if shift:
        try:
            moved = shift_times(json.loads(content), shift)
            content = (json.dumps(moved, ensure_ascii=False, indent=2) + "\n").encode()
        except ValueError:
            pass
    temporary.write_bytes(content)
    os.replace(temporary, target)
    return target
