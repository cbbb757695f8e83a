"""`follow`: websocket frames per second written into the drop folder, beside a bare reader.

A child process sends FRAMES VoIPbin-like frames as fast as it can after the subscribe; the
real Follower writes them all durably (frames that arrive together share a file) and is timed
from the connection to the last frame on disk. Baseline: a bare aiohttp client that reads the
same frames and drops them.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench import data
from bench.report import Figure
from store.dropfolder import ensure_drop_dir, waiting_drop_files
from store.events import decode_drop_bytes
from store.follower import Follower, LinkState, subscribe_message

FRAMES = 20_000
CUSTOMER = "5e4a0680-804e-11ec-8477-2fea5968d85b"


def _source() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench._servers", "ws-source", str(FRAMES)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    return process, f"http://127.0.0.1:{int(process.stdout.readline())}"


async def bare(api: str) -> float:
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.ws_connect(api + "/v1.0/ws") as ws:
            await ws.send_json(subscribe_message(CUSTOMER))
            for _ in range(FRAMES):
                await ws.receive()
        return time.perf_counter() - started


async def real(api: str, drop: Path) -> tuple[float, int]:
    stop = asyncio.Event()
    connected: list[float] = []

    def state(link: LinkState) -> None:
        if link.kind == "connecting" and not connected:
            connected.append(time.perf_counter())

    follower = Follower(api, "bench-token", CUSTOMER, drop, on_state=state)
    task = asyncio.create_task(follower.run(stop))
    spool_done = 0
    while spool_done < FRAMES:  # frames on disk, as the follower counts them
        await asyncio.sleep(0.01)
        spool_done = follower.frames_on_disk
        assert not task.done(), task.result()
    seconds = time.perf_counter() - connected[0]
    stop.set()
    await task
    return seconds, follower.writer._seq


def run(seed: int, calls: int, work: Path) -> list[Figure]:
    del seed, calls
    data.log(f"follow: {FRAMES:,} frames over a local websocket")
    with tempfile.TemporaryDirectory(dir=work) as folder:
        process, api = _source()
        try:
            bare_s = asyncio.run(bare(api))
        finally:
            process.terminate()
            process.wait(30)
        drop = Path(folder) / "drop"
        ensure_drop_dir(drop)
        process, api = _source()
        try:
            real_s, files = asyncio.run(real(api, drop))
        finally:
            process.terminate()
            process.wait(30)
        landed = sum(len(decode_drop_bytes(p.read_bytes())) for p in waiting_drop_files(drop))
        assert landed == FRAMES, landed
    rate, bare_rate = FRAMES / real_s, FRAMES / bare_s
    print(f"  follow {rate:,.0f} frames/s into {files:,} files; bare reader {bare_rate:,.0f}/s")
    return [
        Figure(
            f"follow {FRAMES:,} websocket frames",
            rate,
            "frames/s",
            "higher",
            baseline=bare_rate,
            baseline_name="bare aiohttp reader",
            note="each frame on disk (fsync, rename, folder fsync), frames that arrive"
            " together sharing a file; the source sends as fast as it can",
            extra={"files": files, "real_s": real_s, "bare_s": bare_s},
        )
    ]
