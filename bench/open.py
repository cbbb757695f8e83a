"""Open and move: process start to first full screen, key press to repaint, peak RSS."""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data
from bench._open_child import COMMON_TEXT, END_RUNS, FILTER_RUNS, KEY_GAP_S
from bench.load import spawn_rss
from bench.report import Figure, percentile
from store.dropfolder import ensure_drop_dir
from store.models import CampaigncallStatus
from store.queries import FILTER_COUNT_CAP, Filter, Queries

KEYS = ("down", "page down", "end")
STATUSES: tuple[CampaigncallStatus, ...] = ("dialing", "progressing", "done")


def _child(argv: list[str]) -> tuple[dict[str, float], int]:
    spawned = time.monotonic()
    _s, rss, out = spawn_rss([sys.executable, "-m", "bench._open_child", repr(spawned), *argv])
    return json.loads(out.strip().splitlines()[-1]), rss


def raw_filter_ms(db_path: Path, text: str, window: int = 48) -> float:
    """The SQL of a filter alone (store.queries, no screen): the capped count and the first
    window of each status table, on a fresh read connection."""
    queries = Queries(db_path)
    started = time.perf_counter()
    flt = Filter(None, text)
    for status in STATUSES:
        queries.count_in_status(status, flt)
        queries.rows_in_status(status, 0, window, flt)
    seconds = time.perf_counter() - started
    queries.close()
    return seconds * 1000


def scan_filter(db_path: Path, text: str, window: int = 48) -> tuple[float, dict[str, Any]]:
    """The same filter without the text index: every row of each group read and matched.
    Milliseconds, and what it found (each group's capped count and first window's ids)."""
    match = "instr(lower(c.destination), ?)"
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    found: dict[str, Any] = {}
    started = time.perf_counter()
    for status in STATUSES:
        where = f"c.status = ? AND {match}"
        params = [status, text.lower()]
        (count,) = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM campaigncalls c WHERE {where} LIMIT ?)",
            [*params, FILTER_COUNT_CAP],
        ).fetchone()
        ids = conn.execute(
            f"SELECT c.id FROM campaigncalls c WHERE {where}"
            " ORDER BY c.tm_order DESC, c.id DESC LIMIT ?",
            [*params, window],
        ).fetchall()
        found[status] = (count, [i for (i,) in ids])
    seconds = time.perf_counter() - started
    conn.close()
    return seconds * 1000, found


def check_filter(db_path: Path, text: str, scanned: dict[str, Any], window: int = 48) -> None:
    """The store's filter (text index) finds what reading every row found, or the run fails:
    a figure for wrong answers is no figure."""
    queries = Queries(db_path)
    try:
        flt = Filter(None, text)
        for status in STATUSES:
            count = queries.count_in_status(status, flt)
            ids = [r.id for r in queries.rows_in_status(status, 0, window, flt)]
            if (count, ids) != scanned[status]:
                raise RuntimeError(f"the filter {text!r} in {status} differs from a scan")
    finally:
        queries.close()


def rare_text(db_path: Path) -> str:
    """A phone number few campaigncalls have: the destination of one done call, halfway down."""
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        total = conn.execute("SELECT count(*) FROM campaigncalls WHERE status = 'done'").fetchone()
        for (destination,) in conn.execute(
            "SELECT destination FROM campaigncalls WHERE status = 'done'"
            " ORDER BY tm_create DESC, id DESC LIMIT 200 OFFSET ?",
            (total[0] // 2,),
        ):
            target = json.loads(destination)["target"]
            if target.startswith("+"):
                return str(target)
    finally:
        conn.close()
    return "+0000000000"


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    source = data.database(seed, calls)
    data.log(f"open: a bare Textual app, then the dashboard on {calls:,} campaigncalls")
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        db_path = data.copy_database(source, root)
        drop_dir = root / "drop"
        ensure_drop_dir(drop_dir)
        rare = rare_text(db_path)
        texts = {"a common name": COMMON_TEXT, "a rare number": rare}
        argv = ["app", str(db_path), str(drop_dir), *texts.values()]
        _child(argv)  # warm the page cache and .pyc files
        app, app_rss = _child(argv)
        bare, bare_rss = _child(["bare", str(int(app["rows"]))])
        sql = {
            text: [raw_filter_ms(db_path, text) for _ in range(FILTER_RUNS)]
            for text in texts.values()
        }
        scans = {}
        for text in texts.values():
            scans[text], scanned = scan_filter(db_path, text)
            check_filter(db_path, text, scanned)
    at = f"@ {calls:,}"
    big = calls >= 1_000_000
    figures = [
        Figure(
            f"open to full screen {at}", app["open_s"], "s", "lower",
            baseline=bare["open_s"], baseline_name="bare Textual app",
            target="< 1.5 s" if big else "", at_most=1.5 if big else None,
            note=(
                "from spawning a child to the first repaint with the header counts and"
                " every status table's rows in view (run_test 160x50, warm page cache);"
                " baseline: a bare Textual app with a ScrollView of lines from memory"
            ),
        ),
    ]  # fmt: skip
    for key in KEYS:
        figures.append(
            Figure(
                f"{key} to repaint {at}", app[key], "ms", "lower",
                baseline=bare[key], baseline_name="bare Textual app",
                target="< 50 ms" if big else "", at_most=50 if big else None,
                note=(
                    f"on the done table ({int(app['rows']):,} rows); the median of {END_RUNS}"
                    " presses (of page down too), each from the key press to the first repaint"
                    " with the cursor moved and every row in view fetched (the app's"
                    " screen_refreshed signal, or Textual's wait_for_refresh for a move alone)"
                ) if key == "down" else (
                    f"the median of {END_RUNS} presses, each from the top after a refresh"
                    " (Home, then a change read, as a live screen's are: no End finds the"
                    " rows of the one before)"
                    if key == "end" else ""
                ),
            )
        )  # fmt: skip
    for label, text in texts.items():
        typed, alone = app[f"filter:{text}"], sql[text]
        for pct in (50, 95):
            figures.append(
                Figure(
                    f"filter, {label}, typed, to repaint p{pct} {at}",
                    percentile(typed, pct), "ms", "lower",
                    baseline=percentile(alone, pct), baseline_name="its SQL alone",
                    target="< 50 ms" if big and pct == 50 else "",
                    at_most=50 if big and pct == 50 else None,
                    note=(
                        f"'/' then {text!r} typed into the main screen's filter bar, a key every"
                        f" {KEY_GAP_S * 1000:.0f} ms (each key updates the tables), {FILTER_RUNS}"
                        " times, each as a new text (its hits looked up afresh); timed from the"
                        " last key to the first frame with every table's filtered count and rows"
                        f" ({int(app[f'filter_rows:{text}']):,} shown, counts capped at"
                        f" {FILTER_COUNT_CAP:,}); baseline: the same queries (store.queries) with"
                        " no screen, on a fresh connection each time; without the text index,"
                        f" reading every row takes {scans[text]:,.0f} ms for the same counts and"
                        " windows"
                    ) if pct == 50 else "",
                    extra={"samples_ms": typed, "sql_ms": alone, "scan_ms": scans[text]},
                )
            )  # fmt: skip
    figures += [
        Figure(
            f"open and move: peak RSS {at}", app_rss / 2**20, "MiB", "lower",
            baseline=bare_rss / 2**20, baseline_name="bare Textual app",
            target="< 200 MiB" if big else "", at_most=200 if big else None,
            note="VmHWM of the child (from /proc), through opening, moving and filtering",
        ),
    ]  # fmt: skip
    return figures
