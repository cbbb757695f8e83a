"""Export: `campaigncalls export` of every campaigncall, against the sqlite3 shell's own output."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench import data
from bench.load import _peak_rss
from bench.report import Figure
from store.models import CAMPAIGNCALL_STATUSES

ROUNDS = 3  # each command this often, taking turns; the best of each (a shared machine)


def _same_rows_sql() -> str:
    """What the export reads, as the shell is given it: every group, newest first."""
    return " ".join(
        f"SELECT * FROM campaigncalls c WHERE c.status = '{status}'"
        " ORDER BY c.tm_create DESC, c.id DESC;"
        for status in CAMPAIGNCALL_STATUSES
    )


def run_child(argv: list[str], stdout: Path) -> tuple[float, float, int]:
    """Run a child to the end, its output into a file: (wall s, CPU s, peak RSS bytes)."""
    started = time.perf_counter()
    peak = 0
    with open(stdout, "wb") as out:
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _peak_rss(child.pid) or 0)
            time.sleep(0.01)
    wall = time.perf_counter() - started
    assert child.stderr is not None
    errors = child.stderr.read().decode(errors="replace")
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed: {errors[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, peak or usage.ru_maxrss * 1024


def python_baseline_main(db_path: str) -> None:
    """Without the sqlite3 shell: the standard library's sqlite3 and csv, the same rows."""
    import csv

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    out = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False)
    writer = csv.writer(out)
    for statement in _same_rows_sql().split(";")[:-1]:
        cursor = conn.execute(statement)
        writer.writerow([d[0] for d in cursor.description])
        writer.writerows(cursor)
    out.close()


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    db = data.database(seed, calls)
    with open(db, "rb") as warm:  # the page cache warm for both, as for the screen benches
        while warm.read(1 << 24):
            pass
    shell = shutil.which("sqlite3")
    if shell:
        csv_baseline = [shell, "-readonly", "-csv", "-header", str(db), _same_rows_sql()]
        json_baseline = [shell, "-readonly", "-json", str(db), _same_rows_sql()]
        baseline_name = "sqlite3 shell"
    else:
        data.log("export: no sqlite3 shell; the baseline is Python's sqlite3 + csv")
        csv_baseline = [sys.executable, "-m", "bench.export", str(db)]
        json_baseline = []
        baseline_name = "python sqlite3 + csv"
    export = [sys.executable, "-m", "dashboard", "export", "--db", str(db)]
    turns: dict[str, list[tuple[float, float, int]]] = {}
    best: dict[str, tuple[float, float, int]] = {}

    def measure(name: str, argv: list[str], out: Path) -> None:
        wall, cpu, rss = run_child(argv, out)
        data.log(f"export: {name} {wall:.1f} s (CPU {cpu:.1f} s, {rss / 2**20:.0f} MiB)")
        turns.setdefault(name, []).append((wall, cpu, rss))
        # the least disturbed wall and CPU time; the highest peak
        walls, cpus, peaks = zip(*turns[name], strict=True)
        best[name] = (min(walls), min(cpus), max(peaks))
        out.unlink()

    load_before = os.getloadavg()[0]
    for _ in range(ROUNDS):
        measure("csv", export, work / "real.csv")
        measure("csv baseline", csv_baseline, work / "shell.csv")
    measure("json", [*export, "--format", "json"], work / "real.json")
    if json_baseline:
        measure("json baseline", json_baseline, work / "shell.json")

    load_after = os.getloadavg()[0]

    def per_second(name: str) -> float:
        return calls / best[name][0]

    cpu_ratio = best["csv baseline"][1] / best["csv"][1]
    note = (
        f"`campaigncalls export` of all {calls:,} campaigncalls (the three groups, newest first)"
        f" in a child, stdout to a file; baseline: the `{baseline_name}`'s `.mode csv` of the"
        f" same rows in the same order (`SELECT *`, Addresses as their JSON text), to a file;"
        f" best wall time of {ROUNDS} turns each, page cache warm. By CPU time (user + system,"
        f" less sensitive to other load) the ratio is {cpu_ratio:.2f}x"
        f" ({best['csv'][1]:.1f} s against {best['csv baseline'][1]:.1f} s); load average"
        f" {load_before:.1f} before, {load_after:.1f} after"
    )
    figures = [
        Figure(
            f"export {calls:,} as CSV",
            per_second("csv"),
            "rows/s",
            "higher",
            baseline=per_second("csv baseline"),
            baseline_name=baseline_name,
            target=">= 0.5x",
            ratio_at_least=0.5,
            note=note,
            extra={
                "seconds": best["csv"][0],
                "cpu_s": best["csv"][1],
                "baseline_seconds": best["csv baseline"][0],
                "baseline_cpu_s": best["csv baseline"][1],
            },  # fmt: skip
        ),
        Figure(
            f"export {calls:,} as CSV: peak RSS",
            best["csv"][2] / 2**20,
            "MiB",
            "lower",
            baseline=best["csv baseline"][2] / 2**20,
            baseline_name=baseline_name,
            target="< 100 MiB",
            at_most=100,
            note="VmHWM of each child, read from /proc while it runs",
        ),
        Figure(
            f"export {calls:,} as JSON",
            per_second("json"),
            "rows/s",
            "higher",
            baseline=per_second("json baseline") if json_baseline else None,
            baseline_name=f"{baseline_name} .mode json" if json_baseline else "",
            note="one turn each, stdout to a file; each item built by SQLite (json_object),"
            f" Addresses as objects; peak RSS {best['json'][2] / 2**20:.0f} MiB, CPU"
            f" {best['json'][1]:.1f} s"
            + (f" against {best['json baseline'][1]:.1f} s" if json_baseline else ""),
        ),
    ]
    return figures


if __name__ == "__main__":
    python_baseline_main(sys.argv[1])
