"""`receive`: VoIPbin's signed webhooks land in the drop folder before the 2xx, bad ones do not.

The signature is VoIPbin's (bin-webhook-manager/pkg/webhookhandler/message.go
computeSignature: `sha256=` + hex HMAC-SHA256(secret, body)); a real aiohttp server, a real
folder, a real client, and the real watcher's apply for what landed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from store import wire
from store.db import connect
from store.dropfolder import apply_drop_file, ensure_drop_dir, waiting_drop_files
from store.events import decode_drop_bytes
from store.receiver import run_receiver, signature_for
from tests import feeds
from tests.helpers import TARGET_2, campaigncall, created, hangup
from tests.test_voipbin_feed import EXPECTED, end_state, fresh_db

SECRET = "whsec-9f3b7c1d2e-do-not-print"


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """What VoIPbin's message.go sets, computed here independently of the receiver."""
    import hashlib
    import hmac

    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-VoIPBIN-Signature": f"sha256={digest}", "Content-Type": "application/json"}


class Receiver:
    def __init__(self, drop: Path, secret: str | None) -> None:
        self.drop = drop
        self.secret = secret
        self.lines: list[str] = []
        self.stop = asyncio.Event()
        self.url = ""
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Receiver:
        def listening(host: str, port: int) -> None:
            self.url = f"http://{host}:{port}"
            self._listening.set()

        self._task = asyncio.ensure_future(
            run_receiver(self.drop, "127.0.0.1", 0, self.secret, self.stop,
                         log_line=self.lines.append, on_listening=listening)
        )  # fmt: skip
        done, _ = await asyncio.wait(
            {self._task, asyncio.ensure_future(self._listening.wait())},
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._task in done:
            self._task.result()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self._task is not None
        await self._task


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def landed(drop: Path) -> list[Any]:
    """Every event in the drop folder's files, in name order."""
    events: list[Any] = []
    for path in waiting_drop_files(drop):
        events += decode_drop_bytes(path.read_bytes())
    return events


def leftovers(drop: Path) -> list[str]:
    return sorted(p.name for p in drop.iterdir() if p.is_file())


NEW_CALL = "ca000000-0000-4000-8000-0000000000aa"
NEW_REF = "ee000000-0000-4000-8000-0000000000aa"
BODY = json.dumps(created(campaigncall(NEW_CALL, ref=NEW_REF, target=TARGET_2))).encode()


async def test_signed_webhooks_land_and_apply(
    drop: Path, db_path: Path, session: aiohttp.ClientSession
) -> None:
    hangup_body = json.dumps(hangup(NEW_REF, "normal")).encode()
    async with Receiver(drop, SECRET) as receiver:
        for body in (BODY, hangup_body):
            async with session.post(receiver.url + "/hooks/voipbin", data=body,
                                    headers=sign(body)) as response:  # fmt: skip
                assert response.status == 200
    files = waiting_drop_files(drop)
    assert [p.read_bytes() for p in files] == [BODY, hangup_body]  # raw, in arrival order
    db = connect(db_path)
    for path in files:
        report = apply_drop_file(db, path, drop)
        assert report is not None and [o.outcome for o in report.outcomes] == ["applied"]
    row = db.conn.execute("SELECT status, result FROM campaigncalls WHERE id = ?", [NEW_CALL])
    assert row.fetchone() == ("done", "success")
    db.conn.close()


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "missing"),
        ({"X-VoIPBIN-Signature": "sha256=" + "0" * 64}, "wrong"),
        (sign(BODY, "another secret"), "wrong"),
        ({"X-VoIPBIN-Signature": signature_for(SECRET, BODY + b" ")}, "wrong"),
        ({"X-VoIPBIN-Signature": "sha256=é"}, "wrong"),
    ],
)
async def test_a_bad_or_missing_signature_gets_401_and_leaves_nothing(
    drop: Path, session: aiohttp.ClientSession, headers: dict[str, str], words: str
) -> None:
    async with Receiver(drop, SECRET) as receiver:
        async with session.post(receiver.url + "/", data=BODY, headers=headers) as response:
            assert response.status == 401
            assert words in await response.text()
    assert leftovers(drop) == []
    assert SECRET not in "\n".join(receiver.lines)


async def test_over_1_mib_is_413_and_not_json_is_400(
    drop: Path, session: aiohttp.ClientSession
) -> None:
    big = b'{"type": "call_hangup", "data": {"pad": "' + b"x" * (1024 * 1024) + b'"}}'

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read until the limit
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    async with Receiver(drop, None) as receiver:
        async with session.post(receiver.url + "/", data=big) as response:
            assert response.status == 413
        async with session.post(receiver.url + "/", data=chunks()) as response:
            assert response.status == 413
        bad = [(b'{"type": "call_hangup", "da', "not JSON"), (b"\xff\xfe{}", "not UTF-8"),
               (b"42", "not a JSON object")]  # fmt: skip
        for body, words in bad:
            async with session.put(receiver.url + "/x", data=body) as response:
                assert response.status == 400
                text = await response.text()
                assert words in text and text.count("\n") == 1  # one line
        async with session.get(receiver.url + "/healthz") as response:
            assert response.status == 200
        async with session.get(receiver.url + "/hook") as response:
            assert response.status == 405
    assert leftovers(drop) == []
    assert len(receiver.lines) == 7  # one line per request


async def test_200_concurrent_posts_none_lost(
    drop: Path, db_path: Path, session: aiohttp.ClientSession
) -> None:
    bodies = [
        json.dumps(hangup(f"ef000000-0000-4000-8000-{n:012d}", "busy", tm_execute=str(n))).encode()
        for n in range(200)
    ]
    async with Receiver(drop, SECRET) as receiver:

        async def post(body: bytes) -> int:
            async with session.post(receiver.url + "/", data=body, headers=sign(body)) as r:
                return r.status

        statuses = await asyncio.gather(*(post(b) for b in bodies))
    assert statuses == [200] * 200
    events = landed(drop)
    assert sorted(json.dumps(e).encode() for e in events) == sorted(
        json.dumps(json.loads(b)).encode() for b in bodies
    )
    assert len(waiting_drop_files(drop)) < 200  # those that came together share a file
    assert not [n for n in leftovers(drop) if n.startswith(".")]  # no temp file left
    # the watcher reads every file (the hangups wait for their campaigncalls: parked)
    db = connect(db_path)
    outcomes = []
    for path in waiting_drop_files(drop):
        report = apply_drop_file(db, path, drop)
        assert report is not None
        outcomes += [o.outcome for o in report.outcomes]
    assert outcomes == ["parked"] * 200
    db.conn.close()


async def test_an_unwritable_folder_gets_503_then_a_retry_lands(
    drop: Path, session: aiohttp.ClientSession
) -> None:
    """Root writes anywhere, so the folder is made unwritable in a way root hits too: its path
    becomes a regular file (ENOTDIR), then it is gone (ENOENT); VoIPbin retries on a 5xx."""
    async with Receiver(drop, None) as receiver:
        shutil.rmtree(drop)
        drop.write_text("not a folder")
        async with session.post(receiver.url + "/", data=BODY) as response:
            assert response.status == 503
            assert "cannot be written" in await response.text()
        drop.unlink()
        async with session.post(receiver.url + "/", data=BODY) as response:
            assert response.status == 503
        ensure_drop_dir(drop)
        async with session.post(receiver.url + "/", data=BODY) as response:
            assert response.status == 200
    assert landed(drop) == [json.loads(BODY)]
    assert [line.split()[3] for line in receiver.lines] == ["503", "503", "200"]


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_a_non_loopback_bind_without_a_secret_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "VOIPBIN_WEBHOOK_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "dashboard", "receive", "--drop-dir", str(tmp_path / "d"),
         "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "VOIPBIN_WEBHOOK_SECRET" in result.stderr and "--no-signature" in result.stderr
    assert result.stderr.count("\n") == 1


def test_receive_runs_signed_keeps_the_secret_out_and_stops_on_sigterm(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "receive", "--drop-dir", str(drop),
         "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "VOIPBIN_WEBHOOK_SECRET": SECRET},
    )  # fmt: skip
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "receiving on http://" in first and "signatures checked" in first
        port = int(first.split("http://")[1].split("/")[0].rsplit(":", 1)[1])
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert SECRET.encode() not in cmdline

        async def send() -> list[int]:
            async with aiohttp.ClientSession() as client:
                statuses = []
                for headers in (sign(BODY), {}):
                    async with client.post(f"http://127.0.0.1:{port}/", data=BODY,
                                           headers=headers) as r:  # fmt: skip
                        statuses.append(r.status)
                return statuses

        assert asyncio.run(send()) == [200, 401]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert SECRET not in out + first + err
    assert " 200 " in err and " 401 " in err
    assert landed(drop) == [json.loads(BODY)]


def test_signature_matches_voipbins_construction() -> None:
    """bin-webhook-manager/pkg/webhookhandler/message_test.go Test_computeSignature: its inputs
    give the header of the standard hmac.New(sha256.New, secret) construction."""
    body = b'{"type":"call_updated","data":{"id":"test"}}'
    assert signature_for("test-secret", body) == sign(body, "test-secret")["X-VoIPBIN-Signature"]
    assert signature_for("secret-a", body) != signature_for("secret-b", body)


async def test_a_whole_campaigns_webhooks_land_in_order(
    drop: Path, session: aiohttp.ClientSession
) -> None:
    """tests/feeds.py: ten dials of a call campaign as VoIPbin's webhooks, signed by
    store/wire.py's webhook_signature, each body kept byte for byte, in order."""
    bodies = [wire.compact(e).encode() for e in feeds.webhook_envelopes()]
    async with Receiver(drop, SECRET) as receiver:
        for body in bodies:
            headers = {wire.SIGNATURE_HEADER: wire.webhook_signature(SECRET, body)}
            async with session.post(receiver.url + "/", data=body, headers=headers) as r:
                assert r.status == 200
    assert b"".join(p.read_bytes() for p in waiting_drop_files(drop)) == b"".join(bodies)
    assert wire.webhook_signature(SECRET, bodies[0]) == signature_for(SECRET, bodies[0])
    # and the watcher, file by file, ends where VoIPbin's database does
    db = fresh_db(drop.parent)
    for path in waiting_drop_files(drop):
        report = apply_drop_file(db, path, drop)
        assert report is not None and not report.rejected, report.error_text()
    assert end_state(db) == EXPECTED
    db.conn.close()


async def test_a_hostile_path_is_logged_escaped(drop: Path, session: aiohttp.ClientSession) -> None:
    async with Receiver(drop, None) as receiver:
        url = receiver.url + "/%1b%5b31mred%1b%5d0;owned%07"
        async with session.post(aiohttp.client.URL(url, encoded=True), data=BODY) as response:
            assert response.status == 200
    assert "\x1b" not in receiver.lines[0] and "\x07" not in receiver.lines[0]
    assert "red" in receiver.lines[0]
