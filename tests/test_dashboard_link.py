"""The dashboard on VoIPbin: `--follow` syncs then follows, `--listen` receives, and the header
says how the link is (live, reconnecting in N s, token refused, last event N s ago)."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from dashboard.app import CampaigncallsApp
from dashboard.widgets.header import DashboardHeader, link_text
from store.db import connect
from store.follower import LinkState
from store.links import FollowLink, ListenLink
from tests.test_dashboard import SIZE, loaded, until
from tests.test_sync import CAMPAIGN, account
from tests.voipbin_fake import CUSTOMER, TOKEN, FakeVoipbin, ago, envelope, wire_campaigncall

NOW = 1_000_000.0


def test_each_link_state_reads_plainly() -> None:
    def text(state: LinkState) -> str:
        return link_text(state, NOW).plain

    assert "VoIPbin live" in text(LinkState("live")) and "no event yet" in text(LinkState("live"))
    assert "last event 12 s ago" in text(LinkState("live", last_event_at=NOW - 12))
    assert "reconnecting in 7 s" in text(LinkState("reconnecting", retry_at=NOW + 7))
    assert "token refused" in text(LinkState("refused"))
    assert "syncing" in text(LinkState("syncing"))
    assert "stopped" in text(LinkState("stopped"))
    assert "[b]" in text(LinkState("reconnecting", NOW, detail="[b]\x1b"))  # plain text
    assert "\x1b" not in text(LinkState("reconnecting", NOW, detail="[b]\x1b"))


def header(app: CampaigncallsApp) -> str:
    return str(app.query_one(DashboardHeader).render())


async def test_follow_syncs_then_follows_and_the_header_says_live(tmp_path: Path) -> None:
    db_path = tmp_path / "cc.db"
    connect(db_path, create=True).conn.close()
    drop = tmp_path / "drop"
    fake = FakeVoipbin()
    account(fake, calls=3)
    frame_call = wire_campaigncall(
        campaign_id=CAMPAIGN, outplan_id="0b000000-0000-4000-8000-000000000001",
        outdial_id="0e000000-0000-4000-8000-000000000001",
        target_id="7b000000-0000-4000-8000-000000000010", created=ago(1),
    )  # fmt: skip
    fake.ws_scripts = [[("send", json.dumps(envelope("campaigncall_created", frame_call)))]]
    await fake.start()
    link = FollowLink(fake.url, TOKEN, CUSTOMER, db_path, drop)
    app = CampaigncallsApp(db_path, drop, link=link)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: loaded(app))
            await until(pilot, lambda: "last event" in header(app), 30)
            assert "VoIPbin live" in header(app)
            # synced (3 from REST), then the frame applied by the watcher: 4 dialing
            await until(pilot, lambda: "dialing 4" in header(app), 30)
            await until(pilot, lambda: not app.refresh_pending, 30)
    finally:
        await fake.stop()
    assert TOKEN not in repr(link)


async def test_a_refused_token_shows_in_the_header_and_the_screen_stays(tmp_path: Path) -> None:
    db_path = tmp_path / "cc.db"
    connect(db_path, create=True).conn.close()
    fake = FakeVoipbin()
    await fake.start()
    link = FollowLink(fake.url, "wrong", CUSTOMER, db_path, tmp_path / "drop")
    app = CampaigncallsApp(db_path, tmp_path / "drop", link=link)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "token refused" in header(app), 30)
            assert app.is_running
    finally:
        await fake.stop()
    assert fake.ws_refused == 0  # refused at the sync: the websocket was not even tried


async def test_listen_receives_webhooks_into_the_screen(tmp_path: Path) -> None:
    db_path = tmp_path / "cc.db"
    connect(db_path, create=True).conn.close()
    drop = tmp_path / "drop"
    link = ListenLink("127.0.0.1", 0, None, drop)
    app = CampaigncallsApp(db_path, drop, link=link)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "receiving on http://" in header(app), 30)
        url = header(app).split("receiving on ")[1].split()[0]
        data = {"id": "ef000000-0000-4000-8000-000000000001", "hangup_reason": "busy"}
        body = json.dumps({"type": "call_hangup", "data": data}).encode()
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body) as response:
                assert response.status == 200
        await until(pilot, lambda: "last event" in header(app), 30)
        await until(pilot, lambda: any((drop / "processed").iterdir()), 30)
        # the hangup waits (parked) for its campaigncall, and the screen says so
        await until(pilot, lambda: loaded(app) and not app.refresh_pending, 30)
