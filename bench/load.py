"""Bulk load: `campaigncalls load` of the seeded bundle, against raw executemany."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import data
from bench.report import Figure


def _peak_rss(pid: int) -> int | None:
    """The process's own RSS high-water mark (VmHWM), in bytes, while it is alive."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def spawn_rss(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a child to the end: (wall seconds, its own peak RSS in bytes, stdout).

    The peak is the child's VmHWM, read from /proc while it runs: wait4's ru_maxrss would
    also count the parent's RSS at fork time, which dwarfs a small child.
    """
    started = time.perf_counter()
    peak = 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err, text=True, env=env)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _peak_rss(child.pid) or 0)
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:5])} failed ({child.returncode}): {stderr[-3000:]}")
    return seconds, peak or usage.ru_maxrss * 1024, stdout


def raw_load_main(db_path: str, bundle_path: str) -> None:
    """The baseline child: json.loads the bundle, executemany every table, one transaction."""
    from store.db import connect

    db = connect(Path(db_path), create=True)
    records = json.loads(Path(bundle_path).read_bytes())
    rows = data.raw_insert(db.conn, records, records["campaigncalls"])
    db.conn.close()
    print(rows)


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    bundle = data.bundle_file(seed, calls)
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        data.log(f"load: raw executemany of {bundle.name}")
        raw_s, raw_rss, _ = spawn_rss(
            [sys.executable, "-m", "bench.load", str(root / "raw.db"), str(bundle)]
        )
        data.log(f"load: raw {raw_s:.1f} s; now campaigncalls load")
        cli = [sys.executable, "-m", "dashboard", "load", "--db", str(root / "real.db")]
        real_s, real_rss, out = spawn_rss([*cli, str(bundle)])
        data.log(f"load: real {real_s:.1f} s ({out.strip()[-120:]})")
    real = calls / real_s
    raw = calls / raw_s
    return [
        Figure(
            f"load {calls:,} campaigncalls",
            real,
            "rows/s",
            "higher",
            baseline=raw,
            baseline_name="raw executemany",
            target=">= 0.5x",
            ratio_at_least=0.5,
            note=(
                f"`campaigncalls load` of one {bundle.stat().st_size / 1e6:,.0f} MB bundle in a"
                " child process, whole command timed; baseline child: json.loads + executemany"
                " into the same schema (indexes, triggers), one transaction, no retry plans."
                " rows/s counts campaigncalls only"
            ),
            extra={"real_s": real_s, "raw_s": raw_s},
        ),
        Figure(
            f"load {calls:,}: peak RSS",
            real_rss / 2**20,
            "MiB",
            "lower",
            baseline=raw_rss / 2**20,
            baseline_name="raw executemany",
            note="VmHWM of each child, read from /proc while it runs",
        ),
    ]


if __name__ == "__main__":
    raw_load_main(sys.argv[1], sys.argv[2])
