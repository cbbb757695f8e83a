"""`receive`: signed webhooks per second and p99 latency with 50 concurrent senders.

Beside a bare aiohttp handler that only answers 200 (same client, same machine, a child
process each); the receiver checks the signature and the JSON, and puts every body on disk
(fsync) before it answers. Issue 9's target: 0.5x of the bare handler or better, and at least
1,000 per second.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench import data
from bench.report import Figure, percentile
from store.dropfolder import waiting_drop_files
from store.events import decode_drop_bytes

SENDERS = 50
REQUESTS = 5_000
SECRET = "bench-secret"


def bodies(count: int) -> list[bytes]:
    return [
        json.dumps(
            {"type": "call_hangup",
             "data": {"id": f"ef000000-0000-4000-8000-{n:012d}", "hangup_reason": "busy",
                      "hangup_by": "remote", "direction": "outgoing",
                      "tm_hangup": "2026-08-18T09:00:01.34393Z"}}
        ).encode()
        for n in range(count)
    ]  # fmt: skip


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-VoIPBIN-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def start_child(
    args: list[str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[str], int]:
    """A server in a child process; its port is read from its first line (stdout or stderr)."""
    process = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
        env={**os.environ, **env},
    )  # fmt: skip
    if args[1] == "bench._servers":
        assert process.stdout is not None
        return process, int(process.stdout.readline())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        first = log.read_text().split("\n", 1)[0]
        if "receiving on http://" in first:
            return process, int(first.split("http://")[1].split("/")[0].rsplit(":", 1)[1])
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the receiver did not start: {log.read_text()[:300]}")


async def send_all(port: int, payloads: list[bytes]) -> tuple[float, list[float]]:
    """Send every payload with SENDERS at once; (seconds, each request's latency in s)."""
    latencies: list[float] = []
    queue = list(reversed(payloads))
    connector = aiohttp.TCPConnector(limit=SENDERS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender() -> None:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                async with session.post(f"http://127.0.0.1:{port}/hook", data=body,
                                        headers=signed(body)) as response:  # fmt: skip
                    await response.read()
                    assert response.status == 200, response.status
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(SENDERS)))
        return time.perf_counter() - started, latencies


def measure(
    args: list[str], env: dict[str, str], log: Path, payloads: list[bytes]
) -> tuple[float, list[float]]:
    process, port = start_child(args, env, log)
    try:
        asyncio.run(send_all(port, payloads[:200]))  # warm up
        return asyncio.run(send_all(port, payloads))
    finally:
        process.terminate()
        process.wait(30)


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    del seed, calls  # the receiver needs no database
    payloads = bodies(REQUESTS)
    data.log(f"receive: {REQUESTS:,} signed webhooks, {SENDERS} senders at once")
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        bare_s, bare_lat = measure(["-m", "bench._servers", "bare-http"], {}, root / "bare.log",
                                   payloads)  # fmt: skip
        drop = root / "drop"
        real_s, real_lat = measure(
            ["-m", "dashboard", "receive", "--drop-dir", str(drop), "--port", "0"],
            {"VOIPBIN_WEBHOOK_SECRET": SECRET}, root / "receive.log", payloads,
        )  # fmt: skip
        files = waiting_drop_files(drop)
        landed = sum(len(decode_drop_bytes(p.read_bytes())) for p in files)
        assert landed == REQUESTS + 200, landed
    rate, bare_rate = REQUESTS / real_s, REQUESTS / bare_s
    p99, bare_p99 = percentile(real_lat, 99) * 1000, percentile(bare_lat, 99) * 1000
    print(
        f"  receive {rate:,.0f}/s p99 {p99:.1f} ms; bare aiohttp {bare_rate:,.0f}/s"
        f" p99 {bare_p99:.1f} ms; ratio {rate / bare_rate:.2f}x; {len(files):,} files"
    )
    return [
        Figure(
            f"receive {REQUESTS:,} webhooks, {SENDERS} senders",
            rate,
            "webhooks/s",
            "higher",
            baseline=bare_rate,
            baseline_name="bare aiohttp 200",
            target=">= 1,000/s and >= 0.5x",
            at_least=1_000,
            ratio_at_least=0.5,
            note=(
                "signature and JSON checked, each body fsynced (bodies that arrive together"
                " share a file) before the 200; server and baseline each in a child process"
            ),
            extra={"files": len(files), "real_s": real_s, "bare_s": bare_s},
        ),
        Figure(
            "receive p99 latency",
            p99,
            "ms",
            "lower",
            baseline=bare_p99,
            baseline_name="bare aiohttp 200",
            note=f"per request, {SENDERS} senders at once",
        ),
    ]
