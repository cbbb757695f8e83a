"""Rejections arriving together make one toast with a count, not a stack of toasts; the real
app, the real watcher, a real drop folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets._toast import Toast

from dashboard import app as app_module
from dashboard.app import CampaigncallsApp
from tests.test_dashboard import FIRST_CALL, SIZE, loaded, until


def toasts(app: CampaigncallsApp) -> list[str]:
    """The toasts on screen, as the text a person reads in each."""
    return [str(toast.render()) for toast in app.screen.query(Toast)]


def drop_bad_files(drop: Path, names: list[str]) -> None:
    """Files with a reason VoIPbin does not have: each is rejected; all land at once."""
    for name in names:
        event = {"campaigncall_id": FIRST_CALL, "hangup_reason": f"alien-{name}"}
        (drop / f".{name}.tmp").write_text(json.dumps(event))
    for name in names:
        (drop / f".{name}.tmp").rename(drop / f"{name}.json")


def rejected_files(drop: Path) -> int:
    folder = drop / "rejected"
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


async def test_a_burst_of_rejections_makes_one_toast_with_a_count(
    demo_db: Path, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "REJECTION_TOAST_S", 3.0)
    app = CampaigncallsApp(demo_db, drop)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: loaded(app))
        drop_bad_files(drop, [f"{n:02d}-bad" for n in range(12)])
        await until(pilot, lambda: rejected_files(drop) == 12, 20)
        await until(pilot, lambda: any("12 files rejected" in t for t in toasts(app)))
        assert len(toasts(app)) == 1, toasts(app)
        assert "11-bad.json" in toasts(app)[0] and "alien-11-bad" in toasts(app)[0]

        # more while it is still up: the same toast, counting on
        drop_bad_files(drop, ["20-bad", "21-bad"])
        await until(pilot, lambda: rejected_files(drop) == 14, 20)
        await until(pilot, lambda: any("14 files rejected" in t for t in toasts(app)))
        assert len(toasts(app)) == 1, toasts(app)

        # once it is gone, a lone rejection is told as one
        await until(pilot, lambda: not toasts(app), 10)
        drop_bad_files(drop, ["30-bad"])
        await until(pilot, lambda: bool(toasts(app)), 20)
        await pilot.pause(app_module.REJECTION_GATHER_S * 2)
        assert len(toasts(app)) == 1
        assert "File rejected" in toasts(app)[0] and "30-bad.json" in toasts(app)[0]
