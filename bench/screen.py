"""Drop to screen: a file's rename into the folder until the running dashboard paints the change."""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from pathlib import Path

import watchfiles

from bench import data
from bench._probe import ScreenProbe, full_screen, rows_in_view
from bench.report import Figure, percentile
from bench.watch import drop
from store.dropfolder import ensure_drop_dir, is_drop_file_name
from store.watcher import DEBOUNCE_MS, RECHECK_MS, STEP_MS

DROPS = 100
SIZE = (160, 50)
# store.watcher's awatch settings, so the bare figure is the floor the watcher stands on
RUST_TIMEOUT_MS = RECHECK_MS  # the watcher's own settings, so the baseline matches


def _filter(change: watchfiles.Change, path: str) -> bool:
    return change != watchfiles.Change.deleted and is_drop_file_name(Path(path).name)


async def bare_watchfiles(folder: Path, drops: int) -> list[float]:
    """Seconds from each rename to watchfiles.awatch yielding it, same settings as the watcher."""
    folder.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    seen: asyncio.Queue[float] = asyncio.Queue()

    async def watch() -> None:
        async for changes in watchfiles.awatch(
            folder, watch_filter=_filter, recursive=False, debounce=DEBOUNCE_MS, step=STEP_MS,
            stop_event=stop, rust_timeout=RUST_TIMEOUT_MS, yield_on_timeout=True,
        ):  # fmt: skip
            if any(c == watchfiles.Change.added for c, _ in changes):
                seen.put_nowait(time.perf_counter())

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    latencies = []
    for n in range(drops):
        started = time.perf_counter()
        drop(folder, f"{n:06d}.json", b"{}")
        latencies.append(await asyncio.wait_for(seen.get(), 10) - started)
        await asyncio.sleep(0.02 + random.random() * 0.03)
    stop.set()
    await task
    return latencies


async def drops_to_screen(db_path: Path, drop_dir: Path, drops: int) -> tuple[list[float], float]:
    """Hang up the top row of the dialing table, file by file; time until it leaves the screen."""
    from dashboard.app import CampaigncallsApp
    from dashboard.widgets.header import DashboardHeader
    from dashboard.widgets.status_table import StatusTable

    rng = random.Random(11)
    app = CampaigncallsApp(db_path, drop_dir)
    latencies: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        probe = ScreenProbe(app)
        started = time.perf_counter()
        await probe.until(lambda: full_screen(app), timeout=120)
        first = time.perf_counter() - started
        await pilot.pause(0.5)  # let the watcher finish its backlog pass and start awatch
        header = app.query_one(DashboardHeader)
        table = app.query_one("#table-dialing", StatusTable)
        for n in range(drops):
            ids = rows_in_view(table)
            assert ids, "the dialing table shows no rows"
            row = table.row_at(int(table.scroll_y))
            assert row is not None
            before = header.counts.dialing
            event = data.hangup_event(row.reference_id, "normal", row.tm_create, rng)
            content = json.dumps(event, ensure_ascii=False).encode()

            def changed(gone: str = row.id, before: int = before) -> bool:
                shown = rows_in_view(table)
                return shown is not None and gone not in shown and header.counts.dialing != before

            t0 = time.monotonic()
            drop(drop_dir, f"{n:06d}-hangup.json", content)
            latencies.append(await probe.until(changed, timeout=30) - t0)
            await asyncio.sleep(0.02 + rng.random() * 0.03)
    return latencies, first


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    source = data.database(seed, calls)
    data.log(f"screen: bare watchfiles, then {DROPS} drops into a running dashboard")
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        bare = asyncio.run(bare_watchfiles(root / "bare", DROPS))
        drop_dir = root / "drop"
        ensure_drop_dir(drop_dir)
        db_path = data.copy_database(source, root)
        os.sync()
        shown, _first = asyncio.run(drops_to_screen(db_path, drop_dir, DROPS))
    ms = [s * 1000 for s in shown]
    bare_ms = [s * 1000 for s in bare]
    note = (
        f"{DROPS} hangups of the dialing table's top row, one file each, into the real app"
        f" (run_test {SIZE[0]}x{SIZE[1]}, real watcher and folder); timed from the rename to"
        " the first repaint without the row and with the new count (the app's public"
        " screen_refreshed signal, after the frame is painted); baseline: bare"
        f" watchfiles.awatch (debounce {DEBOUNCE_MS}, step {STEP_MS} ms, as the watcher) in the"
        " same run"
    )
    return [
        Figure(
            f"drop to screen p50 @ {calls:,}", percentile(ms, 50), "ms", "lower",
            baseline=percentile(bare_ms, 50), baseline_name="bare watchfiles",
            target="< 100 ms", at_most=100, note=note,
            extra={"samples_ms": ms, "bare_ms": bare_ms},
        ),
        Figure(
            f"drop to screen p95 @ {calls:,}", percentile(ms, 95), "ms", "lower",
            baseline=percentile(bare_ms, 95), baseline_name="bare watchfiles",
            target="< 250 ms", at_most=250,
        ),
    ]  # fmt: skip
