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


def test_listen_beyond_this_machine_takes_a_secret_or_no_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `receive` does (store.receiver.is_loopback): without VOIPBIN_WEBHOOK_SECRET the
    dashboard listens on this machine only, unless --no-signature says otherwise."""
    from store.links import ListenLink

    monkeypatch.delenv("VOIPBIN_WEBHOOK_SECRET", raising=False)
    where = ["--db", str(tmp_path / "cc.db"), "--drop-dir", str(tmp_path / "drop")]
    refused = run(*where, "--listen", "0.0.0.0:0")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "VOIPBIN_WEBHOOK_SECRET" in refused.stderr and "--no-signature" in refused.stderr
    alone = run(*where, "--no-signature")
    assert alone.returncode == 2 and "--no-signature is used with --listen" in alone.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing made by either

    seen: list[object] = []
    monkeypatch.setattr(CampaigncallsApp, "run", lambda self: seen.append(self.link))
    monkeypatch.setattr(
        sys, "argv", ["campaigncalls", *where, "--listen", "0.0.0.0:0", "--no-signature"]
    )
    cli_module.main()
    (link,) = seen
    assert isinstance(link, ListenLink) and (link.host, link.secret) == ("0.0.0.0", None)
