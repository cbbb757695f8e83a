"""`follow`: VoIPbin's websocket into the drop folder; a dropped connection loses nothing.

The fake (tests/voipbin_fake.py) checks the subscribe message as bin-api-manager's
websockhandler/subscription.go and etc.go validateTopics do, sends frames (some twice, as
subscribehandler/webhookmanager.go's two topics per event make them come), and drops the
connection mid-stream; the missed campaigncalls are read back from REST.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from store.db import connect
from store.dropfolder import apply_drop_file, waiting_drop_files
from store.events import decode_drop_bytes
from store.follower import Follower, LinkState, subscribe_message, ws_url
from tests import feeds
from tests.helpers import OUTDIAL, TARGET_2, campaigncall, created, hangup, progressing
from tests.test_voipbin_feed import EXPECTED, end_state, fresh_db
from tests.voipbin_fake import (
    CUSTOMER,
    TOKEN,
    FakeVoipbin,
    ThreadedFake,
    ago,
    envelope,
    wire_campaigncall,
)

NEW_CALL = "ca000000-0000-4000-8000-0000000000bb"
NEW_REF = "ee000000-0000-4000-8000-0000000000bb"
MISSED = "ca000000-0000-4000-8000-0000000000cc"


async def until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Wait for a condition (not for a guessed time); fail, saying what, if it never holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def events_in(drop: Path) -> list[Any]:
    events: list[Any] = []
    for path in waiting_drop_files(drop):
        events += decode_drop_bytes(path.read_bytes())
    return events


def test_the_subscribe_message_and_url_are_voipbins() -> None:
    """hook.Hook and the topics of subscription.go; the URL of the SPEC."""
    assert subscribe_message(CUSTOMER) == {
        "type": "subscribe",
        "topics": [f"customer_id:{CUSTOMER}:campaign", f"customer_id:{CUSTOMER}:call",
                   f"customer_id:{CUSTOMER}:activeflow"],
    }  # fmt: skip
    assert ws_url("https://api.voipbin.net/") == "wss://api.voipbin.net/v1.0/ws"
    assert ws_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/v1.0/ws"


async def test_follow_survives_a_dropped_connection_and_loses_nothing(
    drop: Path, db_path: Path
) -> None:
    first = json.dumps(created(campaigncall(NEW_CALL, ref=NEW_REF, target=TARGET_2)))
    answered = json.dumps(progressing(NEW_REF))
    ended = json.dumps(hangup(NEW_REF, "normal"))
    missed = wire_campaigncall(ident=MISSED, campaign_id="c0000000-0000-4000-8000-000000000001",
                               outplan_id="0a000000-0000-4000-8000-000000000001",
                               outdial_id=OUTDIAL, target_id=TARGET_2, created=ago(2))  # fmt: skip
    old = wire_campaigncall(campaign_id="c0000000-0000-4000-8000-000000000001",
                            outplan_id="0a000000-0000-4000-8000-000000000001",
                            outdial_id=OUTDIAL, target_id=TARGET_2, created=ago(7200))  # fmt: skip
    fake = FakeVoipbin()
    fake.set_list("campaigncalls", [missed, old])
    fake.ws_scripts = [
        [("send", first), ("send", first), ("send", answered), ("drop",)],  # then it drops
        [("send", ended), ("send", ended)],
    ]
    await fake.start()
    states: list[LinkState] = []
    follower = Follower(fake.url, TOKEN, CUSTOMER, drop, on_state=states.append,
                        on_problem=lambda text: None, reconnect_base_s=0.05)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.ensure_future(follower.run(stop))
    try:
        await until(lambda: len(events_in(drop)) >= 6, "the frames and the recovered call")
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        stop.set()
        await fake.stop()
    # subscribed on each connection, with VoIPbin's message, the token never in the URL
    assert fake.subscribes == [subscribe_message(CUSTOMER)] * 2
    assert fake.ws_connections == 2 and not fake.ws_token_in_url
    events = events_in(drop)
    assert [json.dumps(e) for e in events[:3]] == [first, first, answered]  # raw, in order
    assert events[3] == {"type": "campaigncall_created", "data": missed}  # read back from REST
    assert [json.dumps(e) for e in events[4:]] == [ended, ended]
    assert [s.kind for s in states].count("reconnecting") == 1
    assert states[-1].kind == "stopped"
    # the watcher applies them: each event once, the second copies are duplicates
    db = connect(db_path)
    outcomes = []
    for path in waiting_drop_files(drop):
        report = apply_drop_file(db, path, drop)
        assert report is not None
        outcomes += [o.outcome for o in report.outcomes]
    row = db.conn.execute("SELECT status, result FROM campaigncalls WHERE id = ?", [NEW_CALL])
    assert row.fetchone() == ("done", "success")
    assert db.conn.execute("SELECT 1 FROM campaigncalls WHERE id = ?", [MISSED]).fetchone()
    db.conn.close()
    assert outcomes == ["applied", "duplicate", "applied", "applied", "applied", "duplicate"]


async def test_frames_are_written_as_they_come_raw_or_wrapped(drop: Path) -> None:
    """The new routing path sends the raw resource, the old one the envelope (both are read);
    a frame that is not JSON goes in a file of its own, so it alone is rejected."""
    record = wire_campaigncall(campaign_id=CUSTOMER, outplan_id=CUSTOMER, outdial_id=OUTDIAL,
                               target_id=TARGET_2, created=ago(1))  # fmt: skip
    raw = json.dumps(record)
    wrapped = json.dumps(envelope("campaigncall_created", json.loads(raw)))
    fake = FakeVoipbin()
    fake.ws_scripts = [[("send", raw), ("send", "not json"), ("send", wrapped)]]
    await fake.start()
    follower = Follower(fake.url, TOKEN, CUSTOMER, drop, on_problem=lambda text: None)
    stop = asyncio.Event()
    task = asyncio.ensure_future(follower.run(stop))
    try:
        await until(lambda: follower.writer._seq >= 3, "three files")
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        await fake.stop()
    contents = [p.read_text() for p in waiting_drop_files(drop)]
    assert contents == [raw, "not json", wrapped]


def _follow_cli(drop: Path, api: str, token: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard", "follow", "--drop-dir", str(drop),
         "--customer-id", CUSTOMER, "--api", api],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "VOIPBIN_TOKEN": token},
    )  # fmt: skip


def test_a_refused_token_exits_2_in_one_sentence_without_a_loop(tmp_path: Path) -> None:
    wrong = "tok-refused-77aa88bb99cc"
    fake = FakeVoipbin()
    with ThreadedFake(fake) as server:
        process = _follow_cli(tmp_path / "drop", server.url, wrong)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.startswith("campaigncalls: VoIPbin refused the token in VOIPBIN_TOKEN (401")
    assert err.count("\n") == 1 and wrong not in out + err
    assert fake.ws_refused == 1  # asked once: no reconnect loop


def test_follow_keeps_the_token_out_of_argv_and_output_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    fake = FakeVoipbin()
    frame = json.dumps(hangup("ef000000-0000-4000-8000-000000000001", "busy"))
    fake.ws_scripts = [[("send", frame)]]
    drop = tmp_path / "drop"
    with ThreadedFake(fake) as server:
        process = _follow_cli(drop, server.url, TOKEN)
        try:
            deadline = time.monotonic() + 30
            while not (waiting_drop_files(drop) and fake.subscribes):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the follower never subscribed"
                time.sleep(0.02)
            assert TOKEN.encode() not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert TOKEN not in out + err
    assert "following customer" in err
    assert events_in(drop) == [json.loads(frame)]


async def test_a_whole_campaigns_feed_lands_frame_for_frame_across_a_drop(drop: Path) -> None:
    """tests/feeds.py: ten dials of a call campaign as VoIPbin's websocket sends them (each
    frame twice, as its two topics make it), cut by a dropped connection half way."""
    frames = feeds.websocket_frames(twice=True)
    half = len(frames) // 2
    fake = FakeVoipbin(customer_id=feeds.CUSTOMER)
    fake.ws_scripts = [
        [*(("send", f) for f in frames[:half]), ("drop",)],
        [("send", f) for f in frames[half:]],
    ]
    await fake.start()
    follower = Follower(fake.url, TOKEN, feeds.CUSTOMER, drop, on_problem=lambda text: None,
                        reconnect_base_s=0.05)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.ensure_future(follower.run(stop))
    try:
        await until(lambda: follower.frames_on_disk >= len(frames), "every frame on disk")
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        await fake.stop()
    assert [json.dumps(e, separators=(",", ":")) for e in events_in(drop)] == [
        json.dumps(json.loads(f), separators=(",", ":")) for f in frames
    ]
    assert len(fake.subscribes) == 2
    # and the watcher, file by file, ends where VoIPbin's database does
    db = fresh_db(drop.parent)
    for path in waiting_drop_files(drop):
        report = apply_drop_file(db, path, drop)
        assert report is not None and not report.rejected, report.error_text()
    assert end_state(db) == EXPECTED
    db.conn.close()


async def test_a_connection_closed_at_the_subscribe_keeps_the_backoff_growing(drop: Path) -> None:
    """subscription.go closes the websocket when a topic is not the token's customer's: the
    follower says so and backs off further each time (0.5 s doubling, capped at 30 s)."""
    fake = FakeVoipbin(customer_id="5e4a0680-804e-11ec-8477-000000000000")  # another customer
    await fake.start()
    waits: list[float] = []
    problems: list[str] = []

    def state(link: LinkState) -> None:
        if link.kind == "reconnecting" and link.retry_at is not None:
            waits.append(link.retry_at - time.time())

    follower = Follower(fake.url, TOKEN, CUSTOMER, drop, on_state=state,
                        on_problem=problems.append, reconnect_base_s=0.01)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.ensure_future(follower.run(stop))
    try:
        await until(lambda: len(waits) >= 6, "six reconnects")
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        await fake.stop()
    assert waits[5] > 0.01 * 2**5 / 2 - 0.005 > max(waits[0], 0.01)  # half the step at least
    assert "is 5e4a0680-804e-11ec-8477-2fea5968d85b the token's customer?" in problems[0]
    assert fake.subscribes == []  # every subscribe was refused
