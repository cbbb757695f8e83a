"""Apply throughput against raw sqlite3: `campaigncalls apply` of 30,000 hangups on a live
30,000-call database (the command line, whole), and a 10,000-event drop file in process."""

from __future__ import annotations

import gc
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data
from bench._raw_apply import raw_apply_file, raw_connect
from bench.report import Figure
from store.apply import apply_bytes
from store.db import connect
from store.dropfolder import MAX_FILE_BYTES

__all__ = ["raw_apply", "raw_apply_file", "raw_connect", "run"]

EVENTS = 10_000
ROUNDS = 3
# The command-line figure: hangups of every call of a live database of this many, in files
# of FILE_EVENTS (10,000 real hangup webhooks are about 15 MB, under the drop-file cap).
CLI_CALLS = 30_000
FILE_EVENTS = 10_000
CLI_ROUNDS = 2


def raw_apply(db_path: Path, drop_file: Path) -> int:
    conn = raw_connect(db_path)
    try:
        return raw_apply_file(conn, drop_file)
    finally:
        conn.close()


def real_apply(db_path: Path, drop_file: Path) -> int:
    """store.apply.apply_bytes: the rules, the records and the retry plans, one transaction."""
    db = connect(db_path)
    try:
        outcomes = apply_bytes(db, drop_file.name, drop_file.read_bytes())
    finally:
        db.conn.close()
    rejected = [o.line() for o in outcomes if o.outcome != "applied"]
    assert not rejected, rejected[:3]
    return len(outcomes)


def _timed(fn: Any, *args: Any) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - started, n


def _child_seconds(argv: list[str], out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of a child run to its end, its stdout to a file (as a script's).

    The CPU seconds (user + system) are logged beside the wall time: on a machine shared
    with other work the wall time also counts the waits for a core.
    """
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "wb") as stdout:
        started = time.perf_counter()
        done = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, check=False)
        seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        command = " ".join(argv[:4])
        raise RuntimeError(f"{command} failed ({done.returncode}): {done.stderr[-2000:]!r}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu


def run_cli(seed: int, work: Path, calls: int = CLI_CALLS) -> Figure:
    """`campaigncalls apply --db DB FILE...` of a hangup for every call of a live database,
    best of CLI_ROUNDS, against the raw-sqlite3 child on the same files, rounds alternated."""
    source = data.live_database(seed, calls)
    events = data.hangup_events(source, calls, seed)
    assert len(events) == calls, len(events)
    real_times: list[float] = []
    raw_times: list[float] = []
    real_cpu: list[float] = []
    raw_cpu: list[float] = []
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        files = []
        for start in range(0, len(events), FILE_EVENTS):
            path = root / f"hangups-{start // FILE_EVENTS:03d}.json"
            chunk = events[start : start + FILE_EVENTS]
            path.write_bytes(json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode())
            assert path.stat().st_size <= MAX_FILE_BYTES
            files.append(str(path))
        size = sum(Path(f).stat().st_size for f in files)
        data.log(
            f"apply cli: {len(events):,} hangups in {len(files)} files ({size / 1e6:.0f} MB)"
            f" on the live {calls:,}-call database"
        )
        for _round in range(CLI_ROUNDS):
            db_path = data.copy_database(source, root, "raw.db")
            raw = [sys.executable, "-m", "bench._raw_apply", str(db_path), *files]
            wall, cpu = _child_seconds(raw, root / "raw.out")
            raw_times.append(wall)
            raw_cpu.append(cpu)
            applied = int((root / "raw.out").read_text())
            assert applied == len(events), applied
            db_path = data.copy_database(source, root, "real.db")
            cli = [sys.executable, "-m", "dashboard", "apply", "--db", str(db_path), *files]
            wall, cpu = _child_seconds(cli, root / "real.out")
            real_times.append(wall)
            real_cpu.append(cpu)
            lines = (root / "real.out").read_text().splitlines()
            assert len(lines) == len(events), len(lines)
            assert all(": applied call_hangup " in line for line in lines), lines[:3]
            data.log(
                f"apply cli: real {real_times[-1]:.2f} s ({real_cpu[-1]:.2f} s CPU),"
                f" raw {raw_times[-1]:.2f} s ({raw_cpu[-1]:.2f} s CPU)"
            )
    n = len(events)
    real, raw = n / min(real_times), n / min(raw_times)
    cpu_ratio = min(raw_cpu) / min(real_cpu)
    data.log(
        f"apply cli: {real:,.0f} events/s, raw {raw:,.0f}/s: {real / raw:.2f}x raw"
        f" (by CPU seconds: {cpu_ratio:.2f}x)"
    )
    return Figure(
        f"apply CLI {n:,} hangups @ {calls:,} live calls",
        real,
        "events/s",
        "higher",
        baseline=raw,
        baseline_name="raw sqlite3 child",
        target=">= 0.75x",
        ratio_at_least=0.75,
        note=(
            f"`campaigncalls apply --db DB` of {len(files)} files of {FILE_EVENTS:,} call_hangup"
            f" webhooks ({size / 1e6:.0f} MB), one for every campaigncall of a database where all"
            f" {calls:,} are dialing, each the first dial of its own target (bench.data."
            f"live_database); the whole command timed, start-up and the {n:,} printed lines"
            f" (to a file) included; best of {CLI_ROUNDS}, on a fresh copy each run. Baseline:"
            " a child (python -m bench._raw_apply) doing json.loads, then per event SELECT by"
            " reference_id, UPDATE campaigncall, UPDATE target, INSERT event, one transaction"
            " per file, WAL, synchronous NORMAL (the real path commits with FULL)"
        ),
        extra={
            "events": n,
            "files": len(files),
            "real_s": real_times,
            "raw_s": raw_times,
            "real_cpu_s": real_cpu,
            "raw_cpu_s": raw_cpu,
            "cpu_ratio": cpu_ratio,
        },  # fmt: skip  # fmt: skip
    )


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    figures = [run_cli(seed, work)]
    return figures + run_file(seed, calls, work)


def run_file(seed: int, calls: int, work: Path) -> list[Figure]:
    source = data.database(seed, calls)
    events = data.hangup_events(source, EVENTS, seed)
    if not events:
        return []
    content = json.dumps(events, ensure_ascii=False, separators=(",", ":")).encode()
    data.log(f"apply: {len(events):,} hangups in one {len(content) / 1e6:.1f} MB drop file")
    real_times: list[float] = []
    raw_times: list[float] = []
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        for _round in range(ROUNDS):
            db_path = data.copy_database(source, root, "raw.db")
            path = root / "hangups.json"
            path.write_bytes(content)
            seconds, n = _timed(raw_apply, db_path, path)
            raw_times.append(seconds)
            assert n == len(events)
            db_path = data.copy_database(source, root, "real.db")
            seconds, n = _timed(real_apply, db_path, path)
            real_times.append(seconds)
            assert n == len(events)
    n = len(events)
    real = n / statistics.median(real_times)
    raw = n / statistics.median(raw_times)
    return [
        Figure(
            f"apply {n:,}-event drop file",
            real,
            "events/s",
            "higher",
            baseline=raw,
            baseline_name="raw sqlite3",
            target=">= 10,000/s and >= 0.5x",
            at_least=10_000,
            ratio_at_least=0.5,
            note=(
                f"store.apply.apply_bytes on a copy of the {calls:,}-call database, median of"
                f" {ROUNDS}; the file is {len(content) / 1e6:.1f} MB"
                + (
                    f", over the drop folder's {MAX_FILE_BYTES / 2**20:.0f} MiB cap, so"
                    " apply_drop_file would reject it"
                    if len(content) > MAX_FILE_BYTES
                    else ""
                )
                + ";"
                " baseline: json.loads, then per event SELECT by reference_id, UPDATE"
                " campaigncall, UPDATE target, INSERT event, one transaction"
            ),
            extra={"events": n, "real_s": real_times, "raw_s": raw_times},
        )
    ]
