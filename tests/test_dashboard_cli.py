"""The dashboard's command line: --park-seconds reaches the app; `bench` runs the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import cli as cli_module
from dashboard.app import CampaigncallsApp


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args], capture_output=True, text=True, timeout=60
    )


def test_park_seconds_is_an_option_of_the_dashboard_and_demo() -> None:
    for args in ((), ("demo",), ("watch",)):
        shown = run(*args, "--help")
        assert shown.returncode == 0 and "--park-seconds" in shown.stdout


def test_park_seconds_reaches_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []

    def fake_run(self: CampaigncallsApp) -> None:
        seen.append(self.park_seconds)

    monkeypatch.setattr(CampaigncallsApp, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["campaigncalls", "--park-seconds", "2.5"])
    cli_module.main()
    monkeypatch.setattr(sys, "argv", ["campaigncalls", "demo", "--park-seconds", "0"])
    cli_module.main()
    assert seen == [2.5, 0.0]


def test_bench_passes_its_arguments_through() -> None:
    shown = run("bench", "--help")
    assert shown.returncode == 0 and "--calls" in shown.stdout and "--only" in shown.stdout
    wrong = run("bench", "--only", "nothing")
    assert wrong.returncode == 2 and "unknown benchmark nothing" in wrong.stderr
