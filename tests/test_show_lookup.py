"""`campaigncalls show` by the short id the tables show, as the filter takes it (4 or more of an
id's first characters), with a sentence for several matches and for events parked waiting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.render import short_id
from tests.helpers import CALL, REF, bundle, campaigncall, hangup, write_json
from tests.test_cli import assert_one_sentence, run

CALL_2 = "ca000000-0000-4000-8000-000000000002"
LONE = "cb11aaaa-0000-4000-8000-000000000003"
LONE_REF = "e1230000-0000-4000-8000-000000000003"
WAITED_FOR = "ee77aaaa-0000-4000-8000-000000000077"  # a call whose campaigncall has not come


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "x.db"
    calls = bundle(
        campaigncall(),
        campaigncall(CALL_2, ref="ee000000-0000-4000-8000-000000000002"),
        campaigncall(LONE, ref=LONE_REF),
    )
    assert run("load", "--db", path, write_json(tmp_path / "b.json", calls)).returncode == 0
    early = write_json(tmp_path / "early.json", hangup(WAITED_FOR, "busy"))
    applied = run("apply", "--db", path, early)
    assert applied.returncode == 0 and "parked" in applied.stdout, applied.stdout
    return path


@pytest.mark.parametrize("typed", ["cb11", "CB11AAAA-00", short_id(LONE), "cb11aaaa...0003"])
def test_show_takes_the_start_of_an_id_and_the_tables_short_form(db: Path, typed: str) -> None:
    shown = run("show", "--db", db, typed)
    assert shown.returncode == 0, shown.stderr
    assert LONE in shown.stdout
    as_json = run("show", "--db", db, typed, "--json")
    assert json.loads(as_json.stdout)["campaigncall"]["id"] == LONE


def test_the_start_of_a_reference_id_finds_its_campaigncall(db: Path) -> None:
    shown = run("show", "--db", db, LONE_REF[:4], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["campaigncall"]["id"] == LONE
    assert run("show", "--db", db, REF).returncode == 0  # a whole reference_id, as before


def test_several_matches_are_named_and_none_is_chosen(db: Path) -> None:
    result = run("show", "--db", db, "ca00")
    assert result.returncode == 1 and result.stdout == ""
    assert_one_sentence(result.stderr)
    assert CALL in result.stderr and CALL_2 in result.stderr
    assert "give more of the id" in result.stderr


def test_an_id_an_event_is_parked_waiting_for_says_so(db: Path) -> None:
    for typed in (WAITED_FOR, "ee77", short_id(WAITED_FOR)):
        result = run("show", "--db", db, typed)
        assert result.returncode == 1
        assert_one_sentence(result.stderr)
        assert "1 event is parked waiting for" in result.stderr, result.stderr
        assert WAITED_FOR in result.stderr and "call_hangup" in result.stderr
        assert "early.json" in result.stderr


def test_too_short_a_start_is_a_usage_error(db: Path) -> None:
    result = run("show", "--db", db, "cb1")
    assert result.returncode == 2
    assert_one_sentence(result.stderr)
    assert "4" in result.stderr


def test_no_match_is_exit_1(db: Path) -> None:
    for typed in ("dddd", "josé", "\x1b[31mx"):
        result = run("show", "--db", db, typed)
        assert result.returncode == 1
        assert_one_sentence(result.stderr)
        assert "\x1b" not in result.stderr
