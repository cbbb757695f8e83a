"""Soak of the webhook path: simulated VoIPbin traffic through `receive` and `watch` for a while.

    python -m bench.soak_receive                     # the quick one (1 minute)
    python -m bench.soak_receive --minutes 60        # the hour issue 9 asks for

Both commands run as child processes on one drop folder and one database (a campaign of
TARGETS targets). Senders POST signed `campaigncall_created` + `call_hangup` (busy) pairs at
`--rate` webhooks a second; the watcher applies them and `--keep-processed` prunes
processed/. Reported: every event applied or not, and the RSS of both processes and the file
counts of the folder at the start and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench import data
from bench.receive import SECRET, signed
from bench.report import Figure
from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import ensure_drop_dir

TARGETS = 5_000
CAMPAIGN = "c2000000-0000-4000-8000-000000000001"
OUTPLAN = "0c000000-0000-4000-8000-000000000001"
OUTDIAL = "0f000000-0000-4000-8000-000000000001"


def target_id(n: int) -> str:
    return f"7c000000-0000-4000-8000-{n:012d}"


def soak_bundle(path: Path) -> Path:
    tm = "2026-08-18 09:00:00.000000"
    bundle = {
        "campaigns": [{"id": CAMPAIGN, "name": "soak", "type": "call", "status": "run",
                       "end_handle": "stop", "outplan_id": OUTPLAN, "outdial_id": OUTDIAL,
                       "tm_create": tm}],
        "outplans": [{"id": OUTPLAN, "name": "soak", "dial_timeout": 30000, "try_interval": 1,
                      **{f"max_try_count_{i}": 1_000_000 for i in range(5)}, "tm_create": tm}],
        "outdials": [{"id": OUTDIAL, "name": "soak"}],
        "outdialtargets": [{"id": target_id(n), "outdial_id": OUTDIAL, "status": "idle",
                            "destination_0": {"type": "tel", "target": f"+1555{n:07d}"},
                            "tm_create": tm} for n in range(TARGETS)],
        "campaigncalls": [],
    }  # fmt: skip
    path.write_text(json.dumps(bundle))
    return path


def attempt(n: int) -> list[bytes]:
    """One attempt as VoIPbin's webhooks carry it: the campaigncall created, its call hung up."""
    call, ref = str(uuid.uuid4()), str(uuid.uuid4())
    created = {
        "type": "campaigncall_created",
        "data": {
            "id": call,
            "campaign_id": CAMPAIGN,
            "outplan_id": OUTPLAN,
            "outdial_id": OUTDIAL,
            "outdial_target_id": target_id(n % TARGETS),
            "reference_type": "call",
            "reference_id": ref,
            "status": "dialing",
            "result": "",
            "destination": {"type": "tel", "target": f"+1555{n % TARGETS:07d}"},
            "destination_index": 0,
            "try_count": 1 + n // TARGETS,
            "tm_create": "2026-08-18T09:00:00.5Z",
            "tm_update": None,
        },
    }
    hangup = {"type": "call_hangup", "data": {"id": ref, "hangup_reason": "busy",
              "hangup_by": "remote", "direction": "outgoing",
              "tm_hangup": "2026-08-18T09:00:09.25Z"}}  # fmt: skip
    return [json.dumps(created).encode(), json.dumps(hangup).encode()]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def file_counts(drop: Path) -> dict[str, int]:
    return {
        "waiting": sum(1 for p in drop.iterdir() if p.is_file()),
        "processed": sum(1 for _ in (drop / "processed").iterdir()),
        "rejected": sum(1 for _ in (drop / "rejected").iterdir()),
    }


def _child(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard", *args], stdout=subprocess.DEVNULL,
        stderr=log.open("w"), text=True, env={**os.environ, **(env or {})},
    )  # fmt: skip


def _wait_for(log: Path, words: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text()
        if words in text:
            return text
        time.sleep(0.05)
    raise RuntimeError(f"{log.name}: {words!r} never came: {log.read_text()[:300]}")


async def traffic(port: int, rate: float, seconds: float, samples: list[Any],
                  sample: Any) -> int:  # fmt: skip
    """POST attempts at `rate` webhooks a second for `seconds`; how many webhooks were sent."""
    sent = 0
    started = time.monotonic()
    next_sample = started
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as session:

        async def post(body: bytes) -> None:
            async with session.post(f"http://127.0.0.1:{port}/voipbin", data=body,
                                    headers=signed(body)) as response:  # fmt: skip
                assert response.status == 200, response.status

        n = 0
        while (now := time.monotonic()) - started < seconds:
            due = int((now - started) * rate / 2)  # attempts (two webhooks each) due by now
            while n < due:
                for body in attempt(n):  # in order: created, then its hangup
                    await post(body)
                    sent += 1
                n += 1
            if now >= next_sample:
                samples.append(sample())
                next_sample += max(1.0, seconds / 20)
            await asyncio.sleep(0.01)
    return sent


def run_soak(minutes: float, rate: float, keep_seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="campaigncalls-soak-receive-") as folder:
        root = Path(folder)
        drop = root / "drop"
        ensure_drop_dir(drop)
        db_path = root / "soak.db"
        db = connect(db_path, create=True)
        load_bundle(db, str(soak_bundle(root / "bundle.json")))
        db.conn.close()
        keep_days = str(keep_seconds / 86400)
        receiver = _child(["receive", "--drop-dir", str(drop), "--port", "0",
                           "--keep-processed", keep_days], root / "receive.log",
                          {"VOIPBIN_WEBHOOK_SECRET": SECRET})  # fmt: skip
        watcher = _child(["watch", "--db", str(db_path), "--drop-dir", str(drop),
                          "--keep-processed", keep_days], root / "watch.log")  # fmt: skip
        try:
            first = _wait_for(root / "receive.log", "receiving on http://").split("\n", 1)[0]
            port = int(first.split("http://")[1].split("/")[0].rsplit(":", 1)[1])
            _wait_for(root / "watch.log", "stop with Ctrl-C")

            def sample() -> dict[str, Any]:
                return {"t": time.monotonic(), "receive_rss_mib": rss_mib(receiver.pid),
                        "watch_rss_mib": rss_mib(watcher.pid), **file_counts(drop)}  # fmt: skip

            samples: list[dict[str, Any]] = []
            sent = asyncio.run(traffic(port, rate, minutes * 60, samples, sample))
            # the watcher catches up: every event is recorded
            deadline = time.monotonic() + 120
            recorded = 0
            while time.monotonic() < deadline:
                conn = sqlite3.connect(db_path)
                recorded = conn.execute("SELECT count(*) FROM events").fetchone()[0]
                conn.close()
                if recorded >= sent and file_counts(drop)["waiting"] == 0:
                    break
                time.sleep(0.2)
            samples.append(sample())
        finally:
            for process in (receiver, watcher):
                process.terminate()
                process.wait(30)
        conn = sqlite3.connect(db_path)
        outcomes = dict(conn.execute("SELECT outcome, count(*) FROM events GROUP BY outcome"))
        conn.close()
    return {"minutes": minutes, "rate": rate, "sent": sent, "recorded": recorded,
            "outcomes": outcomes, "samples": samples, "keep_seconds": keep_seconds}  # fmt: skip


def ok(result: dict[str, Any]) -> bool:
    return bool(result["outcomes"].get("applied", 0) == result["sent"])


def summary(result: dict[str, Any]) -> list[str]:
    start, end = result["samples"][0], result["samples"][-1]
    return [
        f"soak_receive {result['minutes']:g} min at {result['rate']:g} webhooks/s:"
        f" {result['sent']:,} sent, outcomes {result['outcomes']}",
        f"receive RSS {start['receive_rss_mib']:.1f} -> {end['receive_rss_mib']:.1f} MiB;"
        f" watch RSS {start['watch_rss_mib']:.1f} -> {end['watch_rss_mib']:.1f} MiB",
        f"files at start {{waiting {start['waiting']}, processed {start['processed']},"
        f" rejected {start['rejected']}}}; at end {{waiting {end['waiting']}, processed"
        f" {end['processed']}, rejected {end['rejected']}}} (processed/ kept"
        f" {result['keep_seconds']:g} s)",
    ]


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    """`python -m bench --only soak_receive`: the quick soak, as figures."""
    del seed, calls, work
    result = run_soak(1, 200, 20)
    for line in summary(result):
        data.log(line)
    start, end = result["samples"][0], result["samples"][-1]
    return [
        Figure("soak_receive 1 min @ 200 webhooks/s: receive RSS growth",
               end["receive_rss_mib"] - start["receive_rss_mib"], "MiB", "lower",
               extra={"samples": result["samples"], "outcomes": result["outcomes"]}),
        Figure("soak_receive: watch RSS growth", end["watch_rss_mib"] - start["watch_rss_mib"],
               "MiB", "lower", extra={"all_applied": ok(result)}),
        Figure("soak_receive: files left in processed/", end["processed"], "files", "lower",
               note="processed/ kept 20 s, pruned by receive and watch"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak_receive", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--minutes", type=float, default=1)
    parser.add_argument("--rate", type=float, default=200, help="webhooks a second")
    parser.add_argument("--keep-seconds", type=float, default=60,
                        help="how long processed/ keeps a file (pruned meanwhile)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = parser.parse_args(argv)
    result = run_soak(args.minutes, args.rate, args.keep_seconds)
    for line in summary(result):
        print(line)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    print("OK: every event applied" if ok(result) else "FAILED: not every event applied")
    return 0 if ok(result) else 1


if __name__ == "__main__":
    sys.exit(main())
