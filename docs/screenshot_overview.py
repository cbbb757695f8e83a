"""Makes docs/overview.svg: the campaign overview (o) on the demo, with VoIPbin's dialer
simulated on it at --speed 60 for eight seconds (eight simulated minutes).

python docs/screenshot_overview.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from dashboard.app import CampaigncallsApp
from dashboard.cli import prepare_demo, start_demo_dialer
from dashboard.screens.overview import OverviewScreen
from store.scenarios import load_scenario
from store.simulate import SimulationSettings

OUT = Path(__file__).resolve().parent / "overview.svg"
REAL_SECONDS = 8


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # short, stable paths
        now = datetime.now(UTC)
        scenario = load_scenario("busy-retry")
        db_path, drop_dir = prepare_demo(Path("."), now)
        settings = SimulationSettings(speed=60, rate=0.5, seed=4)
        dialer = start_demo_dialer(db_path, drop_dir, scenario, settings)
        app = CampaigncallsApp(db_path, drop_dir, scenario=scenario)
        try:
            async with app.run_test(size=(160, 18)) as pilot:
                await pilot.pause(REAL_SECONDS)
                dialer.stop()
                await pilot.pause(1.0)  # the last files applied
                await pilot.press("o")
                deadline = time.monotonic() + 10
                while not (isinstance(app.screen, OverviewScreen) and app.screen.painted):
                    assert time.monotonic() < deadline, "the overview did not show"
                    await pilot.pause(0.05)
                screen = app.screen
                # the running campaign with the most attempts in its last hour
                lines = screen.overview.campaigns if screen.overview else []
                busiest = max(
                    range(len(lines)),
                    key=lambda i: (lines[i].status == "run", lines[i].attempts_last_hour),
                )
                for _ in range(busiest):
                    await pilot.press("down")
                await pilot.pause(0.5)
                app.save_screenshot(filename=OUT.name, path=str(OUT.parent))
        finally:
            dialer.stop()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
