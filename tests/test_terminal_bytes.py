"""The bytes every command writes reach a terminal: no raw control, bidi or escape character
from record data, in any line of `apply`, `watch`, `show` (text and JSON) or an error file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import (
    CALL,
    REF,
    WatchRun,
    address,
    bundle,
    campaigncall,
    created,
    hangup,
    write_json,
)

# OSC (set the title), CSI (clear, colour), BEL, C1 CSI, bidi override, NUL, CR, backspace
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b31m\u202egnp.exe\u2066\x00\r\x08"
# what must never reach a terminal raw (as UTF-8 bytes)
FORBIDDEN = [b"\x1b", b"\x07", b"\x00", b"\x08", b"\r", "\x9b".encode(), "\u202e".encode(),
             "\u2066".encode()]  # fmt: skip


def assert_clean(data: bytes, where: str) -> None:
    for raw in FORBIDDEN:
        assert raw not in data, f"{raw!r} reached the terminal from {where}: {data[:400]!r}"


def cli(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *map(str, args)], capture_output=True, env=env,
        cwd=cwd, timeout=60,
    )  # fmt: skip


def hostile_files(tmp_path: Path) -> list[Path]:
    other = campaigncall(
        "ca000000-0000-4000-8000-0000000000e1", ref="ee000000-0000-4000-8000-0000000000e1"
    )
    other["destination"] = address("+1" + HOSTILE, name=HOSTILE)
    return [
        write_json(tmp_path / "a-created.json", created(other)),
        write_json(tmp_path / "b-bad-reason.json", [hangup(reason="busy" + HOSTILE)]),
        write_json(tmp_path / "c-good.json", [hangup(reason="busy")]),
        write_json(tmp_path / "d-shorthand.json", {"campaigncall_id": HOSTILE, "hangup_reason": 1}),
    ]


def test_apply_and_show_write_no_raw_control_character(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert cli("load", "--db", db, write_json(tmp_path / "b.json", bundle())).returncode == 0
    files = hostile_files(tmp_path)
    applied = cli("apply", "--db", db, *files)
    assert applied.returncode == 1  # two events are refused
    assert b"rejected call_hangup" in applied.stderr and b"applied" in applied.stdout
    assert b"\\x1b]0;pwned\\x07" in applied.stderr  # shown, escaped
    assert b"+1\\x1b]0;pwned" in applied.stdout  # the created call's summary names its number
    assert_clean(applied.stdout, "apply's stdout")
    assert_clean(applied.stderr, "apply's stderr")
    for ident in (CALL, "ca000000-0000-4000-8000-0000000000e1", REF):
        shown = cli("show", "--db", db, ident)
        assert shown.returncode == 0, shown.stderr
        assert_clean(shown.stdout + shown.stderr, f"show {ident}")
        as_json = cli("show", "--db", db, ident, "--json")
        assert_clean(as_json.stdout + as_json.stderr, f"show --json {ident}")
        json.loads(as_json.stdout)  # still JSON, with the characters as \\u escapes
    detail = json.loads(cli("show", "--db", db, "ca000000-0000-4000-8000-0000000000e1",
                            "--json").stdout)  # fmt: skip
    assert detail["campaigncall"]["destination"]["name"] == HOSTILE  # the data, exactly


def test_watch_lines_and_error_files_write_no_raw_control_character(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert cli("load", "--db", db, write_json(tmp_path / "b.json", bundle())).returncode == 0
    drop = tmp_path / "drop"
    drop.mkdir()
    run = WatchRun(db, drop)
    try:
        run.ready()
        source = tmp_path / "src"
        source.mkdir()
        for path in hostile_files(source):
            os.replace(path, drop / path.name)
        run.wait(lambda err: err.count("rejected") >= 2)
    finally:
        out, err = run.stop()
    assert_clean(out.encode(), "watch's stdout")
    assert_clean(err.encode(), "watch's stderr")
    errors = sorted((drop / "rejected").glob("*.error.txt"))
    assert [p.name for p in errors] == ["b-bad-reason.json.error.txt", "d-shorthand.json.error.txt"]
    for path in errors:
        assert_clean(path.read_bytes(), path.name)
