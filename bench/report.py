"""The results table: each figure beside its same-run baseline, the ratio and the target."""

from __future__ import annotations

import json
import platform
import sqlite3
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Better = Literal["higher", "lower"]


@dataclass
class Figure:
    """One measured figure, its baseline from the same run, and the target it must meet."""

    name: str
    value: float
    unit: str
    better: Better
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    # target checks: a bound on the value and/or on value / baseline
    at_least: float | None = None
    at_most: float | None = None
    ratio_at_least: float | None = None
    note: str = ""
    bench: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]

    @property
    def met(self) -> bool | None:
        checks: list[bool] = []
        if self.at_least is not None:
            checks.append(self.value >= self.at_least)
        if self.at_most is not None:
            checks.append(self.value <= self.at_most)
        if self.ratio_at_least is not None and self.ratio is not None:
            checks.append(self.ratio >= self.ratio_at_least)
        return all(checks) if checks else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["met"] = self.met
        return data


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile by linear interpolation (statistics.quantiles, inclusive)."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[max(0, min(98, round(pct) - 1))]


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit in ("ms", "s") or abs(value) < 100:
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    else:
        text = f"{value:,.0f}"
    return text


def _ratio(figure: Figure) -> str:
    ratio = figure.ratio
    return "-" if ratio is None else f"{ratio:.2f}x"


def _met(figure: Figure) -> str:
    return {True: "met", False: "MISSED", None: "-"}[figure.met]


HEADERS = ("benchmark", "figure", "unit", "baseline", "ratio", "target", "met")


def rows(figures: list[Figure]) -> list[tuple[str, ...]]:
    out = []
    for f in figures:
        baseline = _number(f.baseline, f.unit)
        if f.baseline is not None and f.baseline_name:
            baseline += f" ({f.baseline_name})"
        out.append(
            (
                f.name,
                _number(f.value, f.unit),
                f.unit,
                baseline,
                _ratio(f),
                f.target or "-",
                _met(f),
            )
        )
    return out


def text_table(figures: list[Figure]) -> str:
    body = rows(figures)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(HEADERS)]  # fmt: skip
    numeric = {1, 3, 4}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    lines = [line(HEADERS), line(tuple("-" * w for w in widths))]
    lines += [line(r) for r in body]
    return "\n".join(lines)


def markdown_table(figures: list[Figure]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "| --- | ---: | --- | ---: | ---: | --- | --- |"]
    for r in rows(figures):
        cells = [c.replace("|", "\\|") for c in r]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import os

    return {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def write(figures: list[Figure], out: Path, run: dict[str, Any]) -> tuple[Path, Path]:
    """The JSON results and a README-ready markdown page beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"run": run, "machine": machine(), "figures": [f.as_json() for f in figures]}
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md = out.with_suffix(".md")
    notes = [f"- **{f.name}**: {f.note}" for f in figures if f.note]
    m = data["machine"]
    page = [
        f"Benchmarks at {run['calls']:,} campaigncalls (seed {run['seed']}), "
        f"{m['cpus']} CPUs, Python {m['python']}, SQLite {m['sqlite']}; "
        f"run {run['started']} in {run['seconds']:.0f} s.",
        "",
        markdown_table(figures),
        "",
        *notes,
    ]
    md.write_text("\n".join(page).rstrip() + "\n", encoding="utf-8")
    return out, md


def merge_previous(
    out: Path, figures: list[Figure], run: dict[str, Any], chosen: list[str]
) -> list[Figure]:
    """A partial run keeps the other benchmarks' figures of the same size from the last file."""
    try:
        previous = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return figures
    if (previous["run"]["calls"], previous["run"]["seed"]) != (run["calls"], run["seed"]):
        return figures
    names = set(Figure.__dataclass_fields__)
    kept = [
        Figure(**{k: v for k, v in f.items() if k in names})
        for f in previous["figures"]
        if f.get("bench") and f["bench"] not in chosen
    ]
    run["merged_from"] = previous["run"]["started"]
    order = {name: i for i, name in enumerate(("apply", "feed", "watch", "load", "screen", "open"))}
    return sorted(kept + figures, key=lambda f: order.get(f.bench, 99))
