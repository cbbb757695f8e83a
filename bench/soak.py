"""Soak: files dropped at a steady rate for minutes into a watched folder, the dashboard open.

    python -m bench.soak --minutes 10 --rate 100     # the full run
    python -m bench.soak --minutes 1                 # the quick one

Reports whether every event applied, the dashboard's RSS at the start and the end (and its
samples), and the drop-to-screen latency of probe files at the start and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import data
from bench._probe import ScreenProbe, full_screen, rows_in_view
from bench.report import Figure, percentile
from bench.watch import drop
from store.dropfolder import ensure_drop_dir, waiting_drop_files

SIZE = (160, 50)
PROBE_EVERY_S = 5.0


def rss_mib() -> float:
    """This process's resident set size now, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def newest_dialing(db_path: Path, limit: int) -> dict[str, tuple[str, str]]:
    """id -> (reference_id, tm_create) of the newest dialing call campaigncalls."""
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT id, reference_id, tm_create FROM campaigncalls WHERE status = 'dialing'"
            " AND reference_type = 'call' ORDER BY tm_create DESC, id DESC LIMIT ?",
            (limit,),
        ).fetchall()
    finally:
        conn.close()
    return {ident: (ref, tm) for ident, ref, tm in rows}


class Flood(threading.Thread):
    """Drops one hangup file after another at `rate` a second, each for a call nobody else uses."""

    def __init__(self, drop_dir: Path, calls: list[tuple[str, str, str]], rate: float,
                 seconds: float, used: set[str], lock: threading.Lock) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.drop_dir, self.calls, self.rate, self.seconds = drop_dir, calls, rate, seconds
        self.used, self.lock = used, lock
        self.written = 0
        self.behind_s = 0.0  # the most the writer fell behind its schedule
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(3)
        started = time.monotonic()
        total = int(self.rate * self.seconds)
        calls = iter(self.calls)
        for n in range(total):
            due = started + n / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                if self.stop.wait(wait):
                    return
            else:
                self.behind_s = max(self.behind_s, -wait)
            with self.lock:
                for ident, ref, tm_create in calls:  # noqa: B007 (used after the break)
                    if ident not in self.used:
                        self.used.add(ident)
                        break
                else:
                    raise RuntimeError("the database has too few active calls for this soak")
            event = data.hangup_event(ref, rng.choice(data.HANGUP_REASONS), tm_create, rng)
            drop(self.drop_dir, f"flood-{n:07d}.json", json.dumps(event).encode())
            self.written += 1


async def soak(db_path: Path, drop_dir: Path, minutes: float, rate: float) -> dict[str, Any]:
    from dashboard.app import CampaigncallsApp
    from dashboard.widgets.status_table import StatusTable

    seconds = minutes * 60
    # The probes hang up the newest dialing calls (the top of the table), the flood the others,
    # so there is always a probe row in view however long the soak runs.
    by_id = newest_dialing(db_path, int(seconds / PROBE_EVERY_S) + 100)
    needed = int(rate * seconds) + 1000
    active = [a for a in data.active_calls(db_path, needed + len(by_id)) if a[0] not in by_id]
    used: set[str] = set()
    lock = threading.Lock()
    app = CampaigncallsApp(db_path, drop_dir)
    probes: list[tuple[float, float]] = []  # (seconds into the soak, latency)
    rss: list[tuple[float, float]] = []
    rng_probe = 0
    async with app.run_test(size=SIZE) as pilot:
        probe = ScreenProbe(app)
        await probe.until(lambda: full_screen(app), timeout=120)
        await pilot.pause(0.5)  # the watcher's backlog pass and awatch's start
        table = app.query_one("#table-dialing", StatusTable)
        rss.append((0.0, rss_mib()))
        flood = Flood(drop_dir, active, rate, seconds, used, lock)
        started = time.monotonic()
        flood.start()
        next_probe = started + 1.0
        while flood.is_alive():
            await asyncio.sleep(max(0.0, next_probe - time.monotonic()))
            if not flood.is_alive():
                break
            next_probe += PROBE_EVERY_S
            with lock:  # a dialing row in view that the flood has not taken
                ids = rows_in_view(table) or []
                chosen = next((i for i in ids if i in by_id and i not in used), None)
                if chosen is not None:
                    used.add(chosen)
            if chosen is None:
                continue
            ref, tm_create = by_id[chosen]
            event = data.hangup_event(ref, "normal", tm_create, random.Random(rng_probe))
            rng_probe += 1

            def gone(ident: str = chosen) -> bool:
                shown = rows_in_view(table)
                return shown is not None and ident not in shown

            t0 = time.monotonic()
            drop(drop_dir, f"probe-{rng_probe:05d}.json", json.dumps(event).encode())
            shown_at = await probe.until(gone, timeout=60)
            probes.append((t0 - started, shown_at - t0))
            rss.append((time.monotonic() - started, rss_mib()))
        flood.join()
        written = flood.written + rng_probe
        deadline = time.monotonic() + 120
        while waiting_drop_files(drop_dir) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await pilot.pause(1.0)
        rss.append((time.monotonic() - started, rss_mib()))
        left = len(waiting_drop_files(drop_dir))
    conn = sqlite3.connect(db_path)
    outcomes = dict(conn.execute("SELECT outcome, count(*) FROM events GROUP BY 1").fetchall())
    conn.close()
    return {
        "minutes": minutes, "rate": rate, "written": written, "left_in_folder": left,
        "outcomes": outcomes, "writer_behind_s": flood.behind_s,
        "processed": len(list((drop_dir / "processed").glob("*.json"))),
        "rejected_files": len(list((drop_dir / "rejected").glob("*.json"))),
        "rss_mib": rss, "probes": probes,
    }  # fmt: skip


def summary(result: dict[str, Any]) -> list[str]:
    probes = [latency * 1000 for _at, latency in result["probes"]]
    third = max(1, len(probes) // 3)
    start_ms, end_ms = probes[:third], probes[-third:]
    rss = [r for _t, r in result["rss_mib"]]
    lines = [
        f"soak: {result['minutes']:g} min at {result['rate']:g} files/s:"
        f" {result['written']:,} files written (writer at most {result['writer_behind_s']:.2f} s"
        " behind schedule)",
        f"events: {result['outcomes']}; files processed {result['processed']:,}, rejected"
        f" {result['rejected_files']:,}, left in the folder {result['left_in_folder']:,}",
        f"RSS: start {rss[0]:.0f} MiB, end {rss[-1]:.0f} MiB, max {max(rss):.0f} MiB",
        f"drop to screen (probe files, {len(probes)}): first third p50"
        f" {percentile(start_ms, 50):.0f} ms / max {max(start_ms):.0f} ms, last third p50"
        f" {percentile(end_ms, 50):.0f} ms / max {max(end_ms):.0f} ms",
    ]
    return lines


def ok(result: dict[str, Any]) -> bool:
    applied = result["outcomes"].get("applied", 0)
    return (
        applied == result["written"]
        and result["left_in_folder"] == 0
        and result["rejected_files"] == 0
        and len(result["outcomes"]) == 1
    )


def run_soak(minutes: float, rate: float, calls: int | None, seed: int) -> dict[str, Any]:
    needed = int(rate * minutes * 60) + 1000
    calls = calls or (100_000 if needed <= 7_000 else 1_000_000)
    source = data.database(seed, calls)
    with tempfile.TemporaryDirectory(prefix="campaigncalls-soak-") as folder:
        root = Path(folder)
        drop_dir = root / "drop"
        ensure_drop_dir(drop_dir)
        db_path = data.copy_database(source, root)
        result = asyncio.run(soak(db_path, drop_dir, minutes, rate))
    result["calls"] = calls
    return result


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    """`python -m bench --only soak`: the quick soak, as figures."""
    result = run_soak(1, 100, None, seed)
    for line in summary(result):
        data.log(line)
    rss = [r for _t, r in result["rss_mib"]]
    probes = [latency * 1000 for _at, latency in result["probes"]]
    third = max(1, len(probes) // 3)
    return [
        Figure("soak 1 min @ 100 files/s: RSS growth", rss[-1] - rss[0], "MiB", "lower",
               note="dashboard open (run_test), real watcher; RSS end minus start",
               extra={"rss_mib": result["rss_mib"], "outcomes": result["outcomes"]}),
        Figure("soak drop to screen p50, last third", percentile(probes[-third:], 50), "ms",
               "lower", baseline=percentile(probes[:third], 50), baseline_name="first third",
               extra={"probes": result["probes"], "all_applied": ok(result)}),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=100, help="files a second")
    parser.add_argument("--calls", type=int, default=None, help="campaigncalls in the database")
    parser.add_argument("--seed", type=int, default=data.SEED)
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = parser.parse_args(argv)
    result = run_soak(args.minutes, args.rate, args.calls, args.seed)
    for line in summary(result):
        print(line)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    print("OK: every event applied" if ok(result) else "FAILED: not every event applied")
    return 0 if ok(result) else 1


if __name__ == "__main__":
    sys.exit(main())
