"""Open and move: process start to first full screen, key press to repaint, peak RSS."""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bench import data
from bench._open_child import FILTER_TEXT
from bench.load import spawn_rss
from bench.report import Figure
from store.apply import ensure_drop_dir
from store.queries import FILTER_COUNT_CAP

KEYS = ("down", "page down", "end")


def _child(argv: list[str]) -> tuple[dict[str, float], int]:
    spawned = time.monotonic()
    _s, rss, out = spawn_rss([sys.executable, "-m", "bench._open_child", repr(spawned), *argv])
    return json.loads(out.strip().splitlines()[-1]), rss


def raw_filter_ms(db_path: Path, text: str, window: int = 48) -> float:
    """The floor of a filter: SQLite alone on the same capped count and first window per status."""
    match = (
        "(instr(lower(c.destination), ?) OR instr(c.id, ?) OR instr(c.reference_id, ?)"
        " OR instr(c.outdial_target_id, ?) OR instr(c.campaign_id, ?))"
    )
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    started = time.perf_counter()
    for status in ("dialing", "progressing", "done"):
        params = [status, *[text] * 5]
        where = f"c.status = ? AND {match}"
        conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM campaigncalls c WHERE {where} LIMIT ?)",
            [*params, FILTER_COUNT_CAP],
        ).fetchall()
        conn.execute(
            f"SELECT * FROM campaigncalls c WHERE {where} ORDER BY c.tm_create DESC, c.id DESC"
            " LIMIT ?",
            [*params, window],
        ).fetchall()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds * 1000


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    source = data.database(seed, calls)
    data.log(f"open: a bare Textual app, then the dashboard on {calls:,} campaigncalls")
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        db_path = data.copy_database(source, root)
        drop_dir = root / "drop"
        ensure_drop_dir(drop_dir)
        _child(["app", str(db_path), str(drop_dir)])  # warm the page cache and .pyc files
        app, app_rss = _child(["app", str(db_path), str(drop_dir)])
        bare, bare_rss = _child(["bare", str(int(app["rows"]))])
        raw_filter = raw_filter_ms(db_path, FILTER_TEXT)
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
                    f"on the done table ({int(app['rows']):,} rows); from the key press to the"
                    " first repaint with the cursor moved and every row in view fetched (the app's"
                    " screen_refreshed signal, or Textual's wait_for_refresh for a move alone)"
                ) if key == "down" else "",
            )
        )  # fmt: skip
    figures += [
        Figure(
            f"filter to repaint {at}", app["filter"], "ms", "lower",
            baseline=raw_filter, baseline_name="its SQL alone",
            target="< 50 ms" if big else "", at_most=50 if big else None,
            note=(
                f"'/' then 'müller' then Enter, timed from Enter to the first frame with every"
                f" table's filtered count and rows ({int(app['filter_rows']):,} match)"
            ),
        ),
        Figure(
            f"open and move: peak RSS {at}", app_rss / 2**20, "MiB", "lower",
            baseline=bare_rss / 2**20, baseline_name="bare Textual app",
            target="< 200 MiB" if big else "", at_most=200 if big else None,
            note="VmHWM of the child (from /proc), through opening, moving and filtering",
        ),
    ]  # fmt: skip
    return figures
