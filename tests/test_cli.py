"""The `campaigncalls` command as a user runs it: outputs, exit codes, one-sentence errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils

from tests.helpers import CALL, REF, bundle, campaigncall, hangup, progressing, write_json


def run(
    *args: str | Path, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def assert_one_sentence(stderr: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("campaigncalls: ")


def test_load_apply_show_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    loaded = run("load", "--db", db, write_json(tmp_path / "b.json", bundle()))
    assert loaded.returncode == 0, loaded.stderr
    assert "1 campaigns, 1 outplans, 1 outdials, 2 outdialtargets, 1 campaigncalls" in loaded.stdout
    events = write_json(tmp_path / "e.json", [progressing(), hangup(reason="busy")])
    applied = run("apply", "--db", db, events)
    assert applied.returncode == 0, applied.stderr
    assert f"e.json#1: applied call_progressing {CALL}" in applied.stdout
    assert (
        f"e.json#2: applied call_hangup {CALL} busy (busy → fail · target idle · retry slot 0"
        " try 2 at 09:02:00)" in applied.stdout
    )
    assert events.exists()  # apply leaves the files where they are
    shown = run("show", "--db", db, REF, "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert set(detail) == {
        "campaigncall", "outdialtarget", "outplan", "campaign", "partial", "attempts", "call",
        "retry", "events",
    }  # fmt: skip
    assert detail["partial"] == []
    assert detail["attempts"] == [
        {"id": CALL, "destination_index": 0, "try_count": 1, "status": "done", "result": "fail",
         "hangup_reason": "busy", "tm_create": detail["campaigncall"]["tm_create"],
         "tm_update": detail["campaigncall"]["tm_update"]}
    ]  # fmt: skip
    assert detail["call"]["hangup_reason"] == "busy"
    assert detail["call"]["status"] == "hangup"
    assert detail["campaigncall"]["status"] == "done" and detail["campaigncall"]["result"] == "fail"
    assert detail["campaigncall"]["destination"]["name"] == "김민준"
    assert detail["outdialtarget"]["name"] == "[bold]VIP[/] José"
    assert detail["outplan"]["max_try_count_0"] == 2
    assert detail["retry"] == {
        "state": "scheduled",
        "destination_index": 0,
        "try_count": 2,
        "due": "2026-11-20 09:02:00.000000",
    }
    assert [(e["type"], e["outcome"], e["error"]) for e in detail["events"]] == [
        ("call_progressing", "applied", None),
        ("call_hangup", "applied", None),
    ]


def test_apply_reports_rejections_with_exit_1(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run("load", "--db", db, write_json(tmp_path / "b.json", bundle()))
    bad = write_json(tmp_path / "bad.json", [hangup(reason="hungup")])
    result = run("apply", "--db", db, bad)
    assert result.returncode == 1
    assert "bad.json#1: rejected call_hangup" in result.stderr
    assert "unknown hangup reason 'hungup'" in result.stderr
    again = run("apply", "--db", db, write_json(tmp_path / "ok.json", hangup(reason="busy")))
    assert again.returncode == 0
    twice = run("apply", "--db", db, tmp_path / "ok.json")
    assert twice.returncode == 0 and "duplicate" in twice.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "--db", "{tmp}/missing.db", CALL), "there is no database at"),
        (("apply", "--db", "{tmp}/missing.db", "{tmp}/e.json"), "there is no database at"),
        (("watch", "--db", "{tmp}/missing.db", "--drop-dir", "{tmp}/d"), "there is no database at"),
        (("apply", "--db", "{tmp}/x.db", "{tmp}/nope.json"), "nope.json does not exist"),
        (
            ("load", "--db", "{tmp}/x.db", "nosuchbundle"),
            "there is no file or bundled fixture named nosuchbundle",
        ),
        (("load", "--db", "{tmp}/x.db", "{tmp}/e.json"), "has a bad record"),
        (("load", "--db", "{tmp}/x.db", "{tmp}/broken.json"), "is not JSON"),
        (("show", "--db", "{tmp}/notours.db", CALL), "is an SQLite database of something else"),
        (("show", "--db", "{tmp}/text.db", CALL), "cannot be used as a campaigncalls database"),
        (("show", "--db", "{tmp}/x.db"), "Missing argument 'ID'"),
        (("frobnicate",), "No such command 'frobnicate'"),
        (("load", "--db", "{tmp}/x.db", "--frob", "demo"), "No such option"),
        (
            ("replay", "nosuchscenario", "--drop-dir", "{tmp}/d"),
            "there is no scenario named nosuchscenario",
        ),
        (
            ("replay", "answered", "--drop-dir", "{tmp}/d", "--interval", "-1"),
            "Invalid value for '--interval'",
        ),
    ],
)
def test_usage_errors_are_one_sentence_with_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    run("load", "--db", tmp_path / "x.db", write_json(tmp_path / "b.json", bundle()))
    write_json(tmp_path / "e.json", {"campaigncalls": [{"id": "nope"}]})
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "text.db").write_text("this is not a database at all, just text" * 100)
    other = sqlite_utils.Database(tmp_path / "notours.db")
    other["songs"].insert({"title": "x"})
    other.conn.close()
    result = run(*(a.format(tmp=tmp_path) for a in args))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert_one_sentence(result.stderr)
    assert not (tmp_path / "missing.db").exists()


def test_a_bad_bundle_names_record_and_field_and_loads_nothing(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    good = bundle(
        campaigncall(),
        campaigncall(
            "ca000000-0000-4000-8000-000000000002", ref="ee000000-0000-4000-8000-000000000002"
        ),
    )
    good["campaigncalls"][1]["status"] = "ringing"
    result = run("load", "--db", db, write_json(tmp_path / "b.json", good))
    assert result.returncode == 2
    assert (
        "campaigncalls[1].status: Input should be 'dialing', 'progressing' or 'done'"
        in result.stderr
    )
    assert_one_sentence(result.stderr)
    assert not db.exists()  # a failed load into a new file leaves no file
    assert run("load", "--db", db, "demo").returncode == 0
    tables = sqlite_utils.Database(db)
    before = {t: tables[t].count for t in ("campaigns", "outplans", "campaigncalls")}
    tables.conn.close()
    assert run("load", "--db", db, tmp_path / "b.json").returncode == 2
    tables = sqlite_utils.Database(db)
    assert {t: tables[t].count for t in before} == before  # nothing of the bad bundle
    tables.conn.close()


def test_show_unknown_id_and_text_form(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run("load", "--db", db, write_json(tmp_path / "b.json", bundle()))
    missing = run("show", "--db", db, "ca000000-0000-4000-8000-0000000000ff")
    assert missing.returncode == 1
    assert "no campaigncall has id or reference_id" in missing.stderr
    shown = run("show", "--db", db, CALL)
    assert shown.returncode == 0, shown.stderr
    assert CALL in shown.stdout and "[bold]VIP[/]" in shown.stdout
    assert "\x1b" not in shown.stdout


def test_bundled_demo_loads_by_name_from_any_folder(tmp_path: Path) -> None:
    result = run("load", "--db", "x.db", "demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sqlite_utils.Database(tmp_path / "x.db")["campaigncalls"].count >= 200


def test_replay_drops_files_by_rename(tmp_path: Path) -> None:
    result = run("replay", "answered", "--drop-dir", tmp_path / "d", "--interval", "0")
    assert result.returncode == 0, result.stderr
    dropped = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert dropped and all(name.endswith(".json") for name in dropped)
    assert "step 1 of" in result.stdout


def test_watch_applies_backlog_and_new_files_then_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    drop = tmp_path / "drop"
    drop.mkdir()
    run("load", "--db", db, write_json(tmp_path / "b.json", bundle()))
    write_json(drop / "01.json", progressing())
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "watch", "--db", str(db), "--drop-dir", str(drop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (drop / "processed" / "01.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        write_json(tmp_path / "02.json", hangup(reason="normal"))
        os.replace(tmp_path / "02.json", drop / "02.json")
        landed = time.monotonic()
        while not (drop / "processed" / "02.json").exists():
            assert time.monotonic() < landed + 10
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert f"01.json#1: applied call_progressing {CALL}" in out
    assert f"02.json#1: applied call_hangup {CALL} normal" in out
    assert "02.json: moved to processed/" in out


def test_a_command_started_with_sigint_ignored_still_stops_on_it() -> None:
    """A script's `campaigncalls watch &` inherits SIGINT ignored: before its own handler is in
    place, a SIGINT was lost and the watcher ran on for ever (seen: a test's SIGINT sent as the
    watcher started). The package puts Python's default back as it is imported."""
    code = (
        "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN); "
        "import dashboard; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_the_store_never_imports_textual() -> None:
    """The wall between the rules and the screen: store/ works without the UI library."""
    modules = ", ".join(
        f"store.{m.stem}" for m in sorted(Path("store").glob("*.py")) if m.stem != "__init__"
    )
    code = f"import sys, {modules}; print('textual' in sys.modules, 'rich' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_a_long_load_says_how_far_it_has_got(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    import dashboard.cli
    from fixtures.generate import generate_bundle

    monkeypatch.setattr(dashboard.cli, "PROGRESS_EVERY_S", 0.0)  # every batch counts as long
    path = write_json(tmp_path / "big.json", generate_bundle(seed=4, targets=2_500, calls=5_000))
    result = CliRunner().invoke(
        dashboard.cli.cli, ["load", "--db", str(tmp_path / "x.db"), str(path)]
    )
    assert result.exit_code == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("loading ")]
    assert f"loading {path}: " in progress[0] and progress[-1].endswith(
        "5,000 campaigncalls so far"
    )
    assert "2,000 campaigncalls so far" in result.stderr
    assert result.stdout.startswith(f"loaded {path}: ") and "5,000 campaigncalls" in result.stdout
