"""Makes docs/screenshot.svg: the demo, three steps into busy-retry, as a user sees it.

python docs/screenshot.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from dashboard.app import CampaigncallsApp
from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import ensure_drop_dir
from store.scenarios import load_scenario

OUT = Path(__file__).resolve().parent / "screenshot.svg"


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # short, stable paths in the header
        db = connect(Path("demo.db"), create=True)
        load_bundle(db, "demo")
        db.conn.close()
        ensure_drop_dir(Path("drop"))
        app = CampaigncallsApp(Path("demo.db"), Path("drop"), scenario=load_scenario("busy-retry"))
        async with app.run_test(size=(160, 45)) as pilot:
            for _ in range(3):
                await pilot.press("n")
                await pilot.pause(1.0)  # the watcher applies the file, the screen refreshes
                deadline = time.monotonic() + 5
                while app.refresh_pending:
                    assert time.monotonic() < deadline, "the screen did not settle"
                    await pilot.pause(0.05)
            await pilot.press("tab", "tab")
            await pilot.pause(0.5)
            app.save_screenshot(filename=OUT.name, path=str(OUT.parent))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
