"""`campaigncalls export` and the dashboard's `e`: a real SQLite file, real files, real pipes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dashboard.app import CampaigncallsApp
from store import export
from store.export import csv_header, export_to_file, write_export
from store.models import Campaigncall
from store.queries import Filter, Queries
from store.rows import row_to_json
from tests.helpers import CALL, CAMPAIGN, address, bundle, campaigncall, write_json
from tests.test_cli import assert_one_sentence, run
from tests.test_dashboard import SIZE, loaded, table, until

# What a name may hold: CSV's own characters, line breaks, terminal escapes, markup, a bidi
# override, C1 and DEL, a NUL, and a lone surrogate (stored as the escape `\ud800`).
HOSTILE = 'Müller, "Jo"\r\nline two,\n[bold]VIP[/] \x1b[31mred\x1b[0m \u202eevil \x9b\x7f a\x00b'
SURROGATE = "lone \ud800 half"
HOSTILE_CALL = "ca000000-0000-4000-8000-0000000000ff"


def stored_rows(db_path: Path) -> list[dict[str, Any]]:
    """Every campaigncall as the database holds it, Addresses parsed (what an export must say)."""
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [
            row_to_json(Campaigncall, dict(row))
            for row in conn.execute("SELECT * FROM campaigncalls")
        ]
    finally:
        conn.close()


def csv_values(record: dict[str, Any]) -> list[str]:
    """A stored record as the CSV row it must read back as (all text; null as empty)."""
    values: list[str] = []
    for value in record.values():
        if isinstance(value, dict):
            values += [str(value.get(key, "")) for key in ("type", "target", "target_name",
                                                           "name", "detail")]  # fmt: skip
        else:
            values.append("" if value is None else str(value))
    return values


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    """The small bundle plus a done campaigncall whose destination holds everything hostile."""
    destination = address("+4915550000001", name=HOSTILE)
    destination["detail"] = SURROGATE
    destination["target_name"] = '[link=https://example.com]click[/link], "quoted"'
    hostile = campaigncall(
        HOSTILE_CALL,
        ref="ee000000-0000-4000-8000-0000000000ff",
        status="done",
        result="fail",
        tm_create="2026-11-20 10:00:00.000000",
        tm_update="2026-11-20 10:01:00.000000",
    )
    hostile["destination"] = destination
    path = tmp_path / "hostile.db"
    source = tmp_path / "b.json"  # a lone surrogate is only JSON as an escape
    source.write_text(json.dumps(bundle(campaigncall(), hostile)), encoding="ascii")
    result = run("load", "--db", path, source)
    assert result.returncode == 0, result.stderr
    return path


def test_csv_reads_back_through_the_csv_module_as_the_database_holds_it(hostile_db: Path) -> None:
    out = hostile_db.with_name("all.csv")
    result = run("export", "--db", hostile_db, "--output", out)
    assert result.returncode == 0, result.stderr
    assert "exported 2 campaigncalls" in result.stderr
    data = out.read_bytes()
    rows = read_csv(data)
    assert rows[0] == csv_header()
    assert rows[0][11:16] == ["source_type", "source_target", "source_target_name",
                              "source_name", "source_detail"]  # fmt: skip
    by_id = {row[0]: row for row in rows[1:]}
    for record in stored_rows(hostile_db):
        expected = csv_values(record)
        if record["id"] == HOSTILE_CALL:
            # a lone surrogate cannot be UTF-8: written as the escape the database stores
            expected[csv_header().index("destination_detail")] = "lone \\ud800 half"
        assert by_id[record["id"]] == expected
    hostile = by_id[HOSTILE_CALL]
    assert hostile[csv_header().index("destination_name")] == HOSTILE  # every byte as it is
    assert b"\x1b[31m" in data and "\u202e".encode() in data  # a file gets the data raw
    assert data.endswith(b"\r\n") and data.count(b"\r\n") >= 3


def test_json_is_an_array_of_the_records_as_stored(hostile_db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dashboard", "export", "--db", str(hostile_db), "--format", "json"],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert [item["status"] for item in items] == ["dialing", "done"]  # the groups in order
    assert {item["id"]: item for item in items} == {r["id"]: r for r in stored_rows(hostile_db)}
    hostile = next(item for item in items if item["id"] == HOSTILE_CALL)
    assert hostile["destination"]["name"] == HOSTILE
    assert hostile["destination"]["detail"] == SURROGATE  # the JSON escape, read back
    assert hostile["tm_update"] == "2026-11-20 10:01:00.000000"
    assert [item["tm_update"] for item in items if item["id"] == CALL] == [None]
    empty = run("export", "--db", hostile_db, "--format", "json", "--status", "progressing")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []


def test_status_campaign_and_filter_select_what_the_tables_show(demo_db: Path) -> None:
    queries = Queries(demo_db)
    campaign_id = queries.rows_in_status("done", 0, 1, Filter(None, "müller"))[0].campaign_id
    try:
        filters = [Filter(), Filter(campaign_id), Filter(None, "müller"), Filter(campaign_id, "+4")]
        for flt in filters:
            for status in ("dialing", "progressing", "done"):
                shown = [r.id for r in queries.rows_in_status(status, 0, 10_000, flt)]
                out = io.BytesIO()
                assert write_export(Queries(demo_db), out, status=status, flt=flt) == len(shown)
                assert [row[0] for row in read_csv(out.getvalue())[1:]] == shown
            everything = io.BytesIO()
            write_export(Queries(demo_db), everything, flt=flt, fmt="json")
            ids = [item["id"] for item in json.loads(everything.getvalue())]
            assert ids == [
                r.id
                for status in ("dialing", "progressing", "done")
                for r in queries.rows_in_status(status, 0, 10_000, flt)
            ]
    finally:
        queries.close()
    args = ("export", "--db", demo_db, "--status", "done", "--campaign", campaign_id.upper())
    chosen = run(*args, "--filter", "müller")
    assert chosen.returncode == 0, chosen.stderr
    rows = read_csv(chosen.stdout.encode())[1:]
    assert rows and all(r[1] == campaign_id and r[9] == "done" for r in rows)
    assert all("müller" in " ".join(r[17:20]).lower() for r in rows)


def test_the_fast_lines_are_the_exact_ones(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = io.BytesIO()
    write_export(Queries(demo_db), fast)
    monkeypatch.setattr(export, "_FAST", False)
    exact = io.BytesIO()
    write_export(Queries(demo_db), exact)
    assert fast.getvalue() == exact.getvalue()


ODD_FIELDS = [  # (column, value): what no campaigncalls writer stores
    ("reference_type", 'call, "or not"\nreally'),
    ("result", "a\x1fb"),
    ("destination_index", 'x","y,'),  # a line shaped like an exact one, but for this field
    ("tm_update", ',,,,,,,,,,,"'),
    ("outplan_id", "a\rb"),
]
ODD_ADDRESSES = [
    '{"type": "tel"}',  # keys missing
    '{"type": "tel", "target": 5, "name": null, "detail": {"a": ["b", "c"]}}',
    '{"type": "tel", "target": "+1", "target_name": "", "name": "", "detail": ""}',
    '{"type": "tel", "target": ",", "target_name": "],[", "name": "\\u0000", "detail": "\\""}',
    '{"detail": "e", "name": "d", "target_name": "c", "target": "b", "type": "a"}',  # order
]


def expected_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) else json.dumps(value, ensure_ascii=False)


def test_odd_rows_written_by_hand_still_come_out_exactly(tmp_path: Path) -> None:
    # rows no campaigncalls writer makes leave the fast way and are written from their values;
    # each odd field is tried with each odd Address, and with one that is not odd at all
    path = tmp_path / "odd.db"
    run("load", "--db", path, write_json(tmp_path / "b.json", bundle()))
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(campaigncalls)")]
    base = dict(zip(columns, conn.execute("SELECT * FROM campaigncalls").fetchone(), strict=True))
    conn.execute("DELETE FROM campaigncalls")
    made = []
    for number, ((column, value), stored) in enumerate(
        (field, stored) for field in [("id", None), *ODD_FIELDS] for stored in ODD_ADDRESSES
    ):
        row = {**base, "id": f"ca000000-0000-4000-8000-{number:012d}", "destination": stored}
        if column != "id":
            row[column] = value
        made.append(row)
        conn.execute(
            f"INSERT INTO campaigncalls ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    conn.commit()
    conn.close()
    out = tmp_path / "odd.csv"
    assert export_to_file(path, out) == len(made)
    by_id = {row[0]: row for row in read_csv(out.read_bytes())[1:]}
    assert len(by_id) == len(made)
    for row in made:
        expected: list[str] = []
        for column in (c for c in columns if c != "tm_order"):  # ours, not VoIPbin's
            if column in ("source", "destination"):
                address = json.loads(row[column])
                expected += [expected_text(address.get(key)) for key in
                             ("type", "target", "target_name", "name", "detail")]  # fmt: skip
            else:
                expected.append(expected_text(row[column]))
        assert by_id[row["id"]] == expected, row


def test_a_terminal_gets_control_characters_escaped_a_pipe_does_not(hostile_db: Path) -> None:
    argv = [sys.executable, "-m", "dashboard", "export", "--db", str(hostile_db)]
    piped = subprocess.run(argv, capture_output=True, timeout=60)
    assert b"\x1b[31m" in piped.stdout
    leader, follower = pty.openpty()
    child = subprocess.Popen(argv, stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert child.wait(timeout=60) == 0
    assert b"\x1b" not in shown and "\u202e".encode() not in shown and b"\x9b" not in shown
    assert b"\\x1b[31mred" in shown and b"\\u202eevil" in shown
    assert b"[bold]VIP[/]" in shown  # markup is only text


def test_export_reads_only_and_fails_in_one_sentence(tmp_path: Path, db_path: Path) -> None:
    missing = tmp_path / "nope.db"
    result = run("export", "--db", missing)
    assert result.returncode == 2
    assert_one_sentence(result.stderr)
    assert not missing.exists()
    foreign = tmp_path / "other.db"
    sqlite3.connect(foreign).execute("CREATE TABLE x (a)").connection.close()
    for bad in (foreign, tmp_path / "b.json"):
        write_json(tmp_path / "b.json", {"not": "sqlite"})
        result = run("export", "--db", bad)
        assert result.returncode == 2 and result.stdout == ""
        assert_one_sentence(result.stderr)
    for args in (("--status", "ringing"), ("--format", "xml"), ("--campaign", "nope"),
                 ("--campaign", "c0000000-0000-4000-8000-0000000000ee"),
                 ("--output", str(db_path))):  # fmt: skip
        result = run("export", "--db", db_path, *args)
        assert result.returncode == 2, args
        assert_one_sentence(result.stderr)
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    assert not Path(f"{db_path}-wal").exists() and not Path(f"{db_path}-shm").exists()
    result = run("export", "--db", db_path, "--campaign", CAMPAIGN, "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)[0]["id"] == CALL
    assert run("export", "--db", db_path, "-o", tmp_path / "x.csv").returncode == 0
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert not Path(f"{db_path}-wal").exists() and not Path(f"{db_path}-shm").exists()
    unwritable = run("export", "--db", db_path, "--output", tmp_path / "no" / "such.csv")
    assert unwritable.returncode == 2
    assert_one_sentence(unwritable.stderr)
    assert not list(tmp_path.glob(".*.part"))


def test_output_replaces_a_file_whole(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "calls.csv"
    out.write_text("old")
    assert run("export", "--db", db_path, "-o", out).returncode == 0
    rows = read_csv(out.read_bytes())
    assert rows[0][0] == "id" and [r[0] for r in rows[1:]] == [CALL]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


async def test_e_writes_the_focused_group_as_filtered_to_a_file_here(
    demo_db: Path, drop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    app = CampaigncallsApp(demo_db, drop, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: loaded(app))
        await pilot.press("tab", "tab")  # Dialing -> Progressing -> Done
        await until(pilot, lambda: app.active_table.status == "done")
        await pilot.press("slash", *"müller", "enter")
        done = table(app, "done")
        await until(pilot, lambda: done.loaded and not done.filtering and app.flt.text == "müller")
        await pilot.press("e")
        await until(pilot, lambda: any(n.title == "Exported" for n in app._notifications))
        toast = next(n for n in app._notifications if n.title == "Exported")
        (written,) = here.glob("campaigncalls-done-*.csv")
        queries = Queries(demo_db)
        shown = [r.id for r in queries.rows_in_status("done", 0, 10_000, app.flt)]
        queries.close()
        rows = read_csv(written.read_bytes())
        assert rows[0] == csv_header() and [r[0] for r in rows[1:]] == shown
        assert len(shown) > 0 and f"{len(shown):,} campaigncalls in {written}" in toast.message
        await pilot.press("e")  # a second export the same minute gets a name of its own
        await until(pilot, lambda: len(list(here.glob("campaigncalls-done-*.csv"))) == 2
                    and sum(n.title == "Exported" for n in app._notifications) == 2)  # fmt: skip


def test_the_help_screen_lists_e(demo_db: Path, drop: Path) -> None:
    app = CampaigncallsApp(demo_db, drop, watch=False)
    keys = {b.key: b for _, bindings in app.help_sections() for b in bindings}
    assert "e" in keys and "CSV" in (keys["e"].tooltip or "")
