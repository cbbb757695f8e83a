"""`sync`: VoIPbin's paged REST lists into the database, as `load` would, through a 429 and a 5xx.

Paging as bin-api-manager/server/campaigncalls.go (and campaigns.go, outplans.go, outdials.go
GetOutdials / GetOutdialsIdTargets) do it; the server is tests/voipbin_fake.py, a real one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from store.db import connect
from store.restsync import sync_into
from tests.voipbin_fake import (
    TOKEN,
    FakeVoipbin,
    Fault,
    ThreadedFake,
    ago,
    wire_campaign,
    wire_campaigncall,
    wire_outdial,
    wire_outdialtarget,
    wire_outplan,
)

CAMPAIGN = "c1000000-0000-4000-8000-000000000001"
OUTPLAN = "0b000000-0000-4000-8000-000000000001"
OUTDIALS = ["0e000000-0000-4000-8000-000000000001", "0e000000-0000-4000-8000-000000000002"]


def target_id(n: int) -> str:
    return f"7b000000-0000-4000-8000-{n:012d}"


def account(fake: FakeVoipbin, *, calls: int = 250, tries: int = 1) -> None:
    """One campaign, its outplan, two outdials (150 and 3 targets), `calls` campaigncalls."""
    campaign = wire_campaign(
        ident=CAMPAIGN, outplan_id=OUTPLAN, outdial_id=OUTDIALS[0], created=ago(9000)
    )
    fake.set_list("campaigns", [campaign])
    fake.set_list("outplans", [wire_outplan(ident=OUTPLAN, created=ago(9000))])
    fake.set_list("outdials", [wire_outdial(ident=o, created=ago(9000 - i))
                               for i, o in enumerate(OUTDIALS)])  # fmt: skip
    sizes = [150, 3]
    number = 0
    for outdial, size in zip(OUTDIALS, sizes, strict=True):
        targets = []
        for _ in range(size):
            targets.append(
                wire_outdialtarget(ident=target_id(number), outdial_id=outdial,
                                   tries=(tries, 0), created=ago(8000 - number))
            )  # fmt: skip
            number += 1
        fake.set_list(f"outdials/{outdial}/targets", targets)
    fake.set_list("campaigncalls", [
        wire_campaigncall(campaign_id=CAMPAIGN, outplan_id=OUTPLAN, outdial_id=OUTDIALS[0],
                          target_id=target_id(n % 150), tries=tries, created=ago(5000 - n))
        for n in range(calls)
    ])  # fmt: skip


def count(db_path: Path, table: str) -> int:
    db = connect(db_path)
    try:
        return int(db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        db.conn.close()


def requests_to(fake: FakeVoipbin, path: str) -> list[Any]:
    return [r for r in fake.requests if r.path == f"/v1.0/{path}"]


async def test_sync_reads_every_page_through_a_429_and_a_503(tmp_path: Path) -> None:
    fake = FakeVoipbin()
    account(fake)
    fake.faults += [
        Fault("/v1.0/campaigncalls", 429, {"Retry-After": "1"}),
        Fault(f"/v1.0/outdials/{OUTDIALS[0]}/targets", 503),
    ]
    await fake.start()
    waits: list[str] = []
    try:
        db = connect(tmp_path / "cc.db", create=True)
        report = await sync_into(db, fake.url, TOKEN, on_wait=waits.append)
        db.conn.close()
    finally:
        await fake.stop()
    assert report.counts == {"campaigns": 1, "outplans": 1, "outdials": 2,
                             "outdialtargets": 153, "campaigncalls": 250}  # fmt: skip
    assert count(tmp_path / "cc.db", "campaigncalls") == 250
    assert count(tmp_path / "cc.db", "outdialtargets") == 153
    calls = requests_to(fake, "campaigncalls")
    # 429, then pages of 100, 100, 50 and the empty page that ends the list
    assert [r.status for r in calls] == [429, 200, 200, 200, 200]
    assert calls[1].at - calls[0].at >= 1.0  # Retry-After was waited out
    assert [r.query.get("page_size") for r in calls] == ["100"] * 5
    assert "page_token" not in calls[1].query and calls[2].query["page_token"].endswith("Z")
    targets = requests_to(fake, f"outdials/{OUTDIALS[0]}/targets")
    assert [r.status for r in targets] == [503, 200, 200, 200]
    assert not any(r.token_in_url for r in fake.requests)  # the token went in a header
    assert any("slow down" in w for w in waits) and any("503" in w for w in waits)
    assert not any(TOKEN in w for w in waits)


async def test_rest_state_is_the_truth_for_try_counts(tmp_path: Path) -> None:
    fake = FakeVoipbin()
    account(fake, calls=3, tries=1)
    await fake.start()
    try:
        db = connect(tmp_path / "cc.db", create=True)
        await sync_into(db, fake.url, TOKEN)
        db.conn.execute("UPDATE outdialtargets SET try_count_0 = 7")
        account(fake, calls=3, tries=2)  # VoIPbin dialled each target once more
        await sync_into(db, fake.url, TOKEN)
        rows = db.conn.execute("SELECT DISTINCT try_count_0 FROM outdialtargets").fetchall()
        db.conn.close()
    finally:
        await fake.stop()
    assert rows == [(2,)]


def _sync(db: Path, api: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VOIPBIN_TOKEN"}
    if token is not None:
        env["VOIPBIN_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "dashboard", "sync", "--db", str(db), "--api", api],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_sync_cli_fills_the_database_and_keeps_the_token_out(tmp_path: Path) -> None:
    fake = FakeVoipbin()
    account(fake, calls=120)
    with ThreadedFake(fake) as server:
        result = _sync(tmp_path / "cc.db", server.url, TOKEN)
    assert result.returncode == 0, result.stderr
    assert "synced VoIPbin at" in result.stdout and "120 campaigncalls" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_a_refused_token_exits_2_in_one_sentence_and_changes_nothing(tmp_path: Path) -> None:
    fake = FakeVoipbin()
    account(fake, calls=5)
    wrong = "tok-wrong-1f2e3d4c5b6a"
    with ThreadedFake(fake) as server:
        result = _sync(tmp_path / "cc.db", server.url, wrong)
        forbidden = FakeVoipbin()
        forbidden.faults.append(Fault("/v1.0/campaigns", 403))
        with ThreadedFake(forbidden) as server_2:
            result_403 = _sync(tmp_path / "cc.db", server_2.url, TOKEN)
    assert result.returncode == 2
    assert "refused the token in VOIPBIN_TOKEN (401" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert result_403.returncode == 2 and "(403 forbidden)" in result_403.stderr
    assert count(tmp_path / "cc.db", "campaigncalls") == 0
    missing = _sync(tmp_path / "cc.db", "http://127.0.0.1:9", None)
    assert missing.returncode == 2 and "set VOIPBIN_TOKEN" in missing.stderr


def test_an_unreachable_host_exits_1_in_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = _sync(tmp_path / "cc.db", f"http://127.0.0.1:{port}", TOKEN)
    assert result.returncode == 1
    assert "cannot be reached" in result.stderr and "nothing was changed" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("campaigncalls: VoIPbin at") and "Traceback" not in result.stderr
    assert TOKEN not in result.stdout + result.stderr
