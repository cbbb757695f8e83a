"""Shared fixtures: a real SQLite file loaded with a small bundle, and a real drop folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from dashboard import default_sigint
from store import timefmt
from store.bundle import load_bundle
from store.db import connect
from store.dropfolder import ensure_drop_dir
from store.queries import Queries
from tests.helpers import bundle, write_json

# Run in the background of a script, pytest inherits SIGINT ignored, and so would every
# command a test starts (an ignored signal stays ignored across exec): a test that stops a
# command with SIGINT just after starting it would wait for ever. Handled here, it is reset
# to the default in each child.
default_sigint()

# The screen's clock (a call's age, stale calls), held still so pictures of it do not change:
# an hour after the demo's newest record.
FROZEN_NOW = datetime(2026, 11, 27, 14, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_screen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(timefmt, "utc_now", lambda: FROZEN_NOW)
    return FROZEN_NOW


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "campaigncalls.db"
    db = connect(path, create=True)
    load_bundle(db, str(write_json(tmp_path / "bundle.json", bundle())))
    db.conn.close()
    return path


@pytest.fixture
def db(db_path: Path) -> sqlite_utils.Database:
    database = connect(db_path)
    yield database
    database.conn.close()


@pytest.fixture
def queries(db_path: Path) -> Queries:
    q = Queries(db_path)
    yield q
    q.close()


@pytest.fixture
def drop_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    ensure_drop_dir(folder)
    return folder


@pytest.fixture
def drop(drop_dir: Path) -> Path:
    """The drop folder, by the short name the dashboard tests use."""
    return drop_dir


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    """A real database file with the bundled demo loaded."""
    path = tmp_path / "demo.db"
    db = connect(path, create=True)
    load_bundle(db, "demo")
    db.conn.close()
    return path
