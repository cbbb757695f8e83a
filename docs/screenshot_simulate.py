"""Makes docs/simulate.svg: `campaigncalls demo --simulate`, half a minute into the simulation.

python docs/screenshot_simulate.py
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
from store.scenarios import load_scenario
from store.simulate import SimulationSettings

OUT = Path(__file__).resolve().parent / "simulate.svg"
SIMULATED_SECONDS = 30


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # short, stable paths in the header
        now = datetime.now(UTC)
        scenario = load_scenario("busy-retry")
        db_path, drop_dir = prepare_demo(Path("."), now)
        settings = SimulationSettings(speed=1, rate=0.5, seed=4)
        dialer = start_demo_dialer(db_path, drop_dir, scenario, settings)
        app = CampaigncallsApp(
            db_path, drop_dir, scenario=scenario, scenario_shift=scenario.shift_to(now)
        )
        try:
            async with app.run_test(size=(160, 45)) as pilot:
                await pilot.pause(SIMULATED_SECONDS)
                deadline = time.monotonic() + 5
                while app.refresh_pending:
                    assert time.monotonic() < deadline, "the screen did not settle"
                    await pilot.pause(0.05)
                app.save_screenshot(filename=OUT.name, path=str(OUT.parent))
        finally:
            dialer.stop()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
