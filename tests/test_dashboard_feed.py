"""The dashboard on VoIPbin's real feed: ignored traffic counted and hidden until `i`, the
campaign's VoIPbin status in the header and the chooser, the on-call detail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.app import CampaigncallsApp
from dashboard.screens.choosers import CampaignScreen
from dashboard.widgets.event_panel import EventPanel
from store.bundle import load_bundle
from store.db import connect
from tests import feeds
from tests.helpers import write_json
from tests.test_dashboard import SIZE, loaded, until
from tests.test_dashboard_live import header_text, panel_lines


@pytest.fixture
def feed_db(tmp_path: Path) -> Path:
    path = tmp_path / "feed.db"
    db = connect(path, create=True)
    load_bundle(db, str(write_json(tmp_path / "bundle.json", feeds.bundle())))
    db.conn.close()
    return path


async def test_ignored_events_are_counted_hidden_and_shown_with_i(
    feed_db: Path, drop: Path
) -> None:
    envelopes = feeds.webhook_envelopes()
    app = CampaigncallsApp(feed_db, drop)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        (drop / "feed.json").write_text(json.dumps(envelopes))
        panel = app.query_one(EventPanel)
        await until(pilot, lambda: panel.last_event_id == len(envelopes), 20)
        await until(pilot, lambda: "ignored (hidden, i shows)" in str(panel.border_title))
        assert f"{panel.ignored:,} ignored" in str(panel.border_title)
        assert panel.ignored > 0
        assert not [line for line in panel_lines(app) if " ignored " in line]
        assert any("busy → fail" in line for line in panel_lines(app))
        await pilot.press("i")
        await until(pilot, lambda: any(" ignored " in line for line in panel_lines(app)))
        assert "ignored (shown, i hides)" in str(panel.border_title)
        await pilot.press("i")
        await until(pilot, lambda: not [ln for ln in panel_lines(app) if " ignored " in ln])


async def test_the_campaign_status_shows_in_the_header_and_the_chooser(
    feed_db: Path, drop: Path
) -> None:
    app = CampaigncallsApp(feed_db, drop)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        assert "0 of 1 running" in header_text(app)  # the bundle's campaign has not started
        run = [e for e in feeds.webhook_envelopes() if e["type"] == "campaign_status_run"]
        write_json(drop / "run.json", run)
        await until(pilot, lambda: "1 of 1 running" in header_text(app), 10)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CampaignScreen))
        chooser_text = str(app.screen.query_one("OptionList").get_option_at_index(1).prompt)
        assert "Renewals August" in chooser_text and "run" in chooser_text
        await pilot.press("down", "enter")
        await until(pilot, lambda: "Renewals August · run" in header_text(app))
        stop = [e for e in feeds.webhook_envelopes() if e["type"].startswith("campaign_status_st")]
        write_json(drop / "stop.json", stop)
        await until(pilot, lambda: "Renewals August · stop" in header_text(app), 10)
