"""Small data builders shared by the tests: a campaign with one outplan and a few targets."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CAMPAIGN = "c0000000-0000-4000-8000-000000000001"
OUTPLAN = "0a000000-0000-4000-8000-000000000001"
OUTDIAL = "0d000000-0000-4000-8000-000000000001"
TARGET = "7a000000-0000-4000-8000-000000000001"
TARGET_2 = "7a000000-0000-4000-8000-000000000002"
CALL = "ca000000-0000-4000-8000-000000000001"  # a campaigncall
REF = "ee000000-0000-4000-8000-000000000001"  # its call (reference_id)
T0 = "2026-11-20 09:00:00.000000"


def address(target: str, type_: str = "tel", name: str = "") -> dict[str, str]:
    return {"type": type_, "target": target, "target_name": name, "name": name, "detail": ""}


def campaigncall(
    ident: str = CALL,
    *,
    ref: str = REF,
    target: str = TARGET,
    status: str = "dialing",
    result: str = "",
    index: int = 0,
    tries: int = 1,
    tm_create: str = T0,
    tm_update: str | None = None,
) -> dict[str, Any]:
    return {
        "id": ident,
        "campaign_id": CAMPAIGN,
        "outplan_id": OUTPLAN,
        "outdial_id": OUTDIAL,
        "outdial_target_id": target,
        "queue_id": "00000000-0000-0000-0000-000000000000",
        "activeflow_id": "af000000-0000-4000-8000-000000000001",
        "reference_type": "call",
        "reference_id": ref,
        "status": status,
        "result": result,
        "source": address("+15550000000"),
        "destination": address("+821012345678", name="김민준"),
        "destination_index": index,
        "try_count": tries,
        "tm_create": tm_create,
        "tm_update": tm_update,
    }


def target(
    ident: str = TARGET, *, status: str = "idle", tries: tuple[int, ...] = (0, 0)
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": ident,
        "outdial_id": OUTDIAL,
        "name": "[bold]VIP[/] José",
        "detail": "",
        "data": {"crm": 42},
        "status": status,
        "destination_0": address("+821012345678", name="김민준"),
        "destination_1": address("sip:minjun@example.com", "sip"),
        "tm_create": "2026-11-19 08:00:00.000000",
        "tm_update": "2026-11-19 08:00:00.000000",
    }
    for slot, count in enumerate(tries):
        record[f"try_count_{slot}"] = count
    return record


def bundle(*calls: dict[str, Any], targets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "campaigns": [
            {
                "id": CAMPAIGN,
                "name": "Renewals",
                "type": "call",
                "status": "run",
                "end_handle": "stop",
                "outplan_id": OUTPLAN,
                "outdial_id": OUTDIAL,
                "tm_create": "2026-11-01 00:00:00.000000",
            }
        ],
        "outplans": [
            {
                "id": OUTPLAN,
                "name": "two then one",
                "source": address("+15550000000"),
                "dial_timeout": 30000,
                "try_interval": 60000,
                "max_try_count_0": 2,
                "max_try_count_1": 1,
            }
        ],
        "outdials": [{"id": OUTDIAL, "name": "November list"}],
        "outdialtargets": targets
        if targets is not None
        else [target(tries=(1, 0), status="progressing"), target(TARGET_2)],
        "campaigncalls": list(calls) if calls else [campaigncall()],
    }


def hangup(
    call_id: str = REF, reason: str = "busy", tm: str = "2026-11-20T09:01:00Z", **extra: Any
) -> dict[str, Any]:
    """A VoIPbin call_hangup webhook with the extra fields real payloads carry."""
    return {
        "type": "call_hangup",
        "data": {
            "id": call_id,
            "customer_id": "5e4a0680-804e-11ec-8477-2fea5968d85b",
            "type": "flow",
            "direction": "outgoing",
            "status": "hangup",
            "action": {"id": "00000000-0000-0000-0000-000000000001", "type": "answer"},
            "recording_ids": [],
            "hangup_by": "remote",
            "hangup_reason": reason,
            "tm_hangup": tm,
            "tm_execute": "2026-11-20T09:00:59.123456789Z",
            **extra,
        },
    }


def progressing(call_id: str = REF, tm: str = "2026-11-20T09:00:20Z") -> dict[str, Any]:
    return {"type": "call_progressing", "data": {"id": call_id, "tm_progressing": tm}}


def created(record: dict[str, Any]) -> dict[str, Any]:
    return {"type": "campaigncall_created", "data": record}


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


class WatchRun:
    """`campaigncalls watch` in a child process, its output read as it comes, so a test waits
    for what it needs to see instead of sleeping for a guessed time."""

    def __init__(self, db_path: Path, drop: Path, prefix: list[str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *(prefix or ["-m", "dashboard"]), "watch", "--db", str(db_path),
             "--drop-dir", str(drop)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
        )  # fmt: skip
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream, into), daemon=True)
            for stream, into in ((self.process.stdout, self._out), (self.process.stderr, self._err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    @property
    def err(self) -> str:
        return "".join(self._err)

    def wait(self, done: Callable[[str], bool], timeout: float = 30) -> None:
        """Wait until `done(stderr so far)` holds; fails if the watcher ends or time runs out."""
        deadline = time.monotonic() + timeout
        while not done(self.err):
            assert self.process.poll() is None, f"the watcher ended: {self.err}"
            assert time.monotonic() < deadline, f"timed out; stderr: {self.err}"
            time.sleep(0.02)

    def ready(self) -> None:
        self.wait(lambda err: "stop with Ctrl-C" in err)

    def stop(self) -> tuple[str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=20)
        for reader in self._readers:
            reader.join(timeout=5)
        return "".join(self._out), self.err


def watch_until(
    db_path: Path,
    drop: Path,
    done: Callable[[str], bool],
    linger: float = 0.3,
    prefix: list[str] | None = None,
) -> tuple[str, str]:
    """Run `watch` until `done(stderr)` holds, then `linger` seconds more; its (stdout, stderr)."""
    run = WatchRun(db_path, drop, prefix)
    try:
        run.ready()
        run.wait(done)
        time.sleep(linger)
    finally:
        out, err = run.stop()
    return out, err
