"""A command that fails, or only reads, leaves the disk as it was: no new database, no -wal or
-shm left beside one, no schema written into a file by `show`. Real processes, real files."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import CALL, bundle, write_json
from tests.test_cli import assert_one_sentence, run


def disk(folder: Path) -> dict[str, str]:
    """Every file under `folder` (not the bundles the test wrote) with a hash of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        if path.is_file()
        else "folder"
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture
def loaded_db(tmp_path: Path) -> Path:
    db = tmp_path / "x.db"
    assert run("load", "--db", db, write_json(tmp_path / "b.json", bundle())).returncode == 0
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    return db


def test_a_failed_load_leaves_no_new_database(tmp_path: Path) -> None:
    before = disk(tmp_path)
    result = run("load", "--db", tmp_path / "new.db", tmp_path / "missing.json")
    assert result.returncode == 2
    assert_one_sentence(result.stderr)
    assert disk(tmp_path) == before

    bad = bundle()
    bad["campaigncalls"][0]["status"] = "flying"
    write_json(tmp_path / "bad.json", bad)
    before = disk(tmp_path)
    result = run("load", "--db", tmp_path / "new.db", tmp_path / "bad.json")
    assert result.returncode == 2 and "campaigncalls[0].status" in result.stderr
    assert disk(tmp_path) == before


def test_a_failed_load_into_a_database_leaves_it_as_it_was(loaded_db: Path) -> None:
    bad = bundle()
    bad["campaigncalls"][0]["status"] = "flying"
    write_json(loaded_db.parent / "bad.json", bad)
    before = disk(loaded_db.parent)
    result = run("load", "--db", loaded_db, loaded_db.parent / "bad.json")
    assert result.returncode == 2
    assert disk(loaded_db.parent) == before


def test_show_only_reads(loaded_db: Path) -> None:
    before = disk(loaded_db.parent)
    shown = run("show", "--db", loaded_db, CALL)
    assert shown.returncode == 0 and CALL in shown.stdout
    assert disk(loaded_db.parent) == before  # no -wal, no -shm, the file untouched
    missing = run("show", "--db", loaded_db, "ca000000-ffff")
    assert missing.returncode == 1
    assert disk(loaded_db.parent) == before


def test_show_on_an_empty_file_writes_no_schema_into_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run("show", "--db", empty, CALL)
    assert result.returncode == 2
    assert_one_sentence(result.stderr)
    assert "empty" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
    assert empty.stat().st_size == 0


@pytest.mark.parametrize("kind", ["not sqlite", "foreign", "newer"])
def test_show_refuses_what_is_not_ours_and_leaves_it_alone(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "other.db"
    if kind == "not sqlite":
        path.write_text("hello, this is no database\n" * 100)
    else:
        conn = sqlite3.connect(path)
        if kind == "foreign":
            conn.execute("CREATE TABLE songs (title TEXT)")
        else:
            conn.execute("CREATE TABLE campaigncalls (id TEXT)")
            conn.execute("PRAGMA user_version = 99")
        conn.commit()
        conn.close()
    before = disk(tmp_path)
    result = run("show", "--db", path, CALL)
    assert result.returncode == 2
    assert_one_sentence(result.stderr)
    assert disk(tmp_path) == before
    if kind != "not sqlite":
        # a command that writes refuses it in the same words (store.db.schema_refusal)
        said = {"foreign": "an SQLite database of something else", "newer": "newer campaigncalls"}
        assert said[kind] in result.stderr
        events = tmp_path.parent / f"{kind}-events.json"
        events.write_text("[]")
        writing = run("apply", "--db", path, events)
        assert writing.returncode == 2 and writing.stderr == result.stderr
        assert disk(tmp_path) == before


def test_apply_of_a_missing_file_leaves_the_database_as_it_was(loaded_db: Path) -> None:
    before = disk(loaded_db.parent)
    result = run("apply", "--db", loaded_db, loaded_db.parent / "missing.json")
    assert result.returncode == 2
    assert disk(loaded_db.parent) == before


def test_the_dashboard_with_an_unusable_drop_folder_makes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    before = disk(tmp_path)
    result = run("--db", tmp_path / "new.db", "--drop-dir", tmp_path / "a-file" / "drop")
    assert result.returncode == 2
    assert_one_sentence(result.stderr)
    assert "drop folder" in result.stderr
    assert disk(tmp_path) == before


def test_watch_with_a_missing_database_makes_no_drop_folder(tmp_path: Path) -> None:
    before = disk(tmp_path)
    result = run("watch", "--db", tmp_path / "none.db", "--drop-dir", tmp_path / "new" / "drop")
    assert result.returncode == 2
    assert disk(tmp_path) == before


@pytest.mark.parametrize("command", ["load", "apply"])
def test_a_database_of_something_else_is_refused_untouched(tmp_path: Path, command: str) -> None:
    path = tmp_path / "songs.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.commit()
    conn.close()
    bundle_file = write_json(tmp_path / "b.json", bundle())
    before = disk(tmp_path)
    result = run(command, "--db", path, bundle_file)
    assert result.returncode == 2 and "something else" in result.stderr
    assert disk(tmp_path) == before  # not even switched to WAL
