"""The SQLite file: schema, connection settings, row <-> record conversions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from store.models import (
    SLOTS,
    Campaign,
    Campaigncall,
    Outdial,
    Outdialtarget,
    Outplan,
    Record,
)
from store.rules import HANGUP_REASON_ALIASES, HANGUP_RESULTS
from store.targets import refresh_retry_plans

# 1: the records, events, drop_files, counts kept by triggers, retry plans on the targets.
# 2: parked_events and events.tm_resolved (out-of-order events), reference lookups by time.
# 3: campaigncall_text, a trigram index of each destination's target and names (the filter).
# 4: VoIPbin's feed: calls (each campaign call's timeline), `partial` on records made as stubs
#    from an event, events.summary (what an event did, in words), lookups by activeflow.
# 5: campaigncalls.tm_order (store.rows.group_order: a done call by when it finished, the
#    others by when they started) and the group order indexes on it.
# 6: the campaign overview: target_counts and target_finishes (kept by triggers on the
#    targets), hangup_reason_counts and reasons_pending (kept by store.apply), and attempts by
#    campaign and time (campaigncalls_campaign_created).
# 7: the text index keyed by where a campaigncall sorts in its group (text_key_sql), so a
#    filter's hits come from the index itself in the group's order, newest first.
SCHEMA_VERSION = 7
# Indexes an older schema had that the current one replaced.
OBSOLETE_INDEXES = (
    "campaigncalls_reference",
    "events_applied_content",
    "campaigncalls_status_order",
    "campaigncalls_campaign_status_order",
)
# store.rows.group_order in SQL, for the rows a schema 4 file holds
_FILL_TM_ORDER = (
    "UPDATE campaigncalls SET tm_order ="
    " CASE WHEN status = 'done' THEN coalesce(tm_update, tm_create) ELSE tm_create END"
)
BUSY_TIMEOUT_MS = 10_000
# Page cache in MiB. The default 2 MB misses on every random index update at a million rows;
# a bigger cache applies a fifth faster. It fills as pages are read, up to this much.
WRITE_CACHE_MIB = 128
READ_CACHE_MIB = 8

RECORD_TABLES: dict[str, type[Record]] = {
    "campaigns": Campaign,
    "outplans": Outplan,
    "outdials": Outdial,
    "outdialtargets": Outdialtarget,
    "campaigncalls": Campaigncall,
}

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, detail TEXT NOT NULL, type TEXT NOT NULL,
    status TEXT NOT NULL, end_handle TEXT NOT NULL, service_level INTEGER NOT NULL,
    outplan_id TEXT NOT NULL, outdial_id TEXT NOT NULL, queue_id TEXT NOT NULL,
    next_campaign_id TEXT NOT NULL, tm_create TEXT, tm_update TEXT,
    partial INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS campaigns_outdial ON campaigns(outdial_id);
CREATE TABLE IF NOT EXISTS outplans (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, detail TEXT NOT NULL, source TEXT,
    dial_timeout INTEGER NOT NULL, try_interval INTEGER NOT NULL,
    {", ".join(f"max_try_count_{i} INTEGER NOT NULL" for i in SLOTS)},
    tm_create TEXT, tm_update TEXT, partial INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outdials (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, detail TEXT NOT NULL,
    partial INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outdialtargets (
    id TEXT PRIMARY KEY, outdial_id TEXT NOT NULL, name TEXT NOT NULL, detail TEXT NOT NULL,
    data TEXT, status TEXT NOT NULL,
    {", ".join(f"destination_{i} TEXT" for i in SLOTS)},
    {", ".join(f"try_count_{i} INTEGER NOT NULL" for i in SLOTS)},
    tm_create TEXT, tm_update TEXT,
    -- derived by store.rules.next_attempt whenever the target or its outplan is written
    retry_outplan_id TEXT, retry_state TEXT NOT NULL DEFAULT 'none',
    retry_index INTEGER, retry_try INTEGER, retry_due TEXT,
    -- 1: a stub made from a campaigncall's event, until a load or a sync brings the record
    partial INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outdialtargets_outdial_retry ON outdialtargets(outdial_id, retry_state);
CREATE INDEX IF NOT EXISTS outdialtargets_retry ON outdialtargets(retry_state);
CREATE INDEX IF NOT EXISTS outdialtargets_outplan ON outdialtargets(retry_outplan_id);
CREATE TABLE IF NOT EXISTS campaigncalls (
    id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, outplan_id TEXT NOT NULL,
    outdial_id TEXT NOT NULL, outdial_target_id TEXT NOT NULL, queue_id TEXT NOT NULL,
    activeflow_id TEXT NOT NULL, reference_type TEXT NOT NULL, reference_id TEXT NOT NULL,
    status TEXT NOT NULL, result TEXT NOT NULL, source TEXT NOT NULL, destination TEXT NOT NULL,
    destination_index INTEGER NOT NULL, try_count INTEGER NOT NULL,
    tm_create TEXT NOT NULL, tm_update TEXT,
    tm_order TEXT
);
CREATE INDEX IF NOT EXISTS campaigncalls_reference_time
    ON campaigncalls(reference_id, tm_create);
CREATE INDEX IF NOT EXISTS campaigncalls_group_order
    ON campaigncalls(status, tm_order DESC, id DESC);
CREATE INDEX IF NOT EXISTS campaigncalls_campaign_group_order
    ON campaigncalls(campaign_id, status, tm_order DESC, id DESC);
CREATE INDEX IF NOT EXISTS campaigncalls_target ON campaigncalls(outdial_target_id, tm_create);
-- the overview's attempts per minute: an index range per campaign, never a scan
CREATE INDEX IF NOT EXISTS campaigncalls_campaign_created ON campaigncalls(campaign_id, tm_create);
CREATE INDEX IF NOT EXISTS campaigncalls_activeflow ON campaigncalls(activeflow_id);

-- counts per campaign, status and result, kept by triggers so the header never scans
CREATE TABLE IF NOT EXISTS campaigncall_counts (
    campaign_id TEXT NOT NULL, status TEXT NOT NULL, result TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (campaign_id, status, result)
) WITHOUT ROWID;
{{COUNT_TRIGGERS}}
"""
COUNT_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS campaigncalls_count_insert AFTER INSERT ON campaigncalls BEGIN
    INSERT INTO campaigncall_counts VALUES (new.campaign_id, new.status, new.result, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS campaigncalls_count_delete AFTER DELETE ON campaigncalls BEGIN
    UPDATE campaigncall_counts SET n = n - 1 WHERE campaign_id = old.campaign_id
        AND status = old.status AND result = old.result;
END;
CREATE TRIGGER IF NOT EXISTS campaigncalls_count_update
AFTER UPDATE OF campaign_id, status, result ON campaigncalls
WHEN old.campaign_id IS NOT new.campaign_id OR old.status IS NOT new.status
    OR old.result IS NOT new.result
BEGIN
    UPDATE campaigncall_counts SET n = n - 1 WHERE campaign_id = old.campaign_id
        AND status = old.status AND result = old.result;
    INSERT INTO campaigncall_counts VALUES (new.campaign_id, new.status, new.result, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
"""


def target_state_sql(row: str) -> str:
    """The overview's state of a target (store.overview.TARGET_STATES) in SQL, for `row`
    (`new`, `old` or a table): done, in progress, exhausted, not yet tried, waiting for a
    retry, or unknown (idle after a try, its retry plan not known)."""
    tries = " + ".join(f"{row}.try_count_{i}" for i in SLOTS)
    return (
        f"CASE WHEN {row}.status = 'done' THEN 'done'"
        f" WHEN {row}.status = 'progressing' THEN 'progressing'"
        f" WHEN {row}.retry_state = 'exhausted' THEN 'exhausted'"
        f" WHEN {tries} = 0 THEN 'untried'"
        f" WHEN {row}.retry_state = 'scheduled' THEN 'retrying' ELSE 'unknown' END"
    )


_NEW_STATE, _OLD_STATE = target_state_sql("new"), target_state_sql("old")
# A target finishes (done or exhausted) in the minute of its tm_update; target_finishes counts
# them per outdial and minute, for the overview's pace.
TARGET_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS outdialtargets_state_insert AFTER INSERT ON outdialtargets BEGIN
    INSERT INTO target_counts VALUES (new.outdial_id, {_NEW_STATE}, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO target_finishes SELECT new.outdial_id, substr(new.tm_update, 1, 16), 1
    WHERE new.tm_update IS NOT NULL AND {_NEW_STATE} IN ('done', 'exhausted')
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS outdialtargets_state_delete AFTER DELETE ON outdialtargets BEGIN
    UPDATE target_counts SET n = n - 1 WHERE outdial_id = old.outdial_id AND state = {_OLD_STATE};
END;
CREATE TRIGGER IF NOT EXISTS outdialtargets_state_update
AFTER UPDATE OF outdial_id, status, retry_state, {", ".join(f"try_count_{i}" for i in SLOTS)}
ON outdialtargets
WHEN old.outdial_id IS NOT new.outdial_id OR {_OLD_STATE} != {_NEW_STATE}
BEGIN
    UPDATE target_counts SET n = n - 1 WHERE outdial_id = old.outdial_id AND state = {_OLD_STATE};
    INSERT INTO target_counts VALUES (new.outdial_id, {_NEW_STATE}, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO target_finishes SELECT new.outdial_id, substr(new.tm_update, 1, 16), 1
    WHERE new.tm_update IS NOT NULL AND {_NEW_STATE} IN ('done', 'exhausted')
        AND {_OLD_STATE} NOT IN ('done', 'exhausted')
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
"""
TARGET_TRIGGER_NAMES = ("outdialtargets_state_insert", "outdialtargets_state_delete",
                        "outdialtargets_state_update")  # fmt: skip
OVERVIEW_TABLES = """
-- targets per outdial and overview state (target_state_sql), kept by triggers
CREATE TABLE IF NOT EXISTS target_counts (
    outdial_id TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (outdial_id, state)
) WITHOUT ROWID;
-- targets that finished (done or exhausted) per outdial and minute ('2026-11-27 13:05')
CREATE TABLE IF NOT EXISTS target_finishes (
    outdial_id TEXT NOT NULL, minute TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (outdial_id, minute)
) WITHOUT ROWID;
-- done campaigncalls per campaign by the hangup reason that decided them (store.apply); the
-- rest of a campaign's done count is 'unknown' (loaded, or done by VoIPbin's campaigncall_updated)
CREATE TABLE IF NOT EXISTS hangup_reason_counts (
    campaign_id TEXT NOT NULL, reason TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, reason)
) WITHOUT ROWID;
-- campaigncalls done by campaigncall_updated before their hangup: its reason, when it comes,
-- is counted then (once)
CREATE TABLE IF NOT EXISTS reasons_pending (campaigncall_id TEXT PRIMARY KEY) WITHOUT ROWID;
"""
SCHEMA_TAIL = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, tm TEXT NOT NULL, file TEXT NOT NULL, position INTEGER,
    type TEXT, campaigncall_id TEXT, reason TEXT, outcome TEXT NOT NULL, error TEXT,
    raw TEXT NOT NULL, content_hash TEXT, drop_file_id INTEGER, tm_resolved TEXT,
    summary TEXT
);
CREATE INDEX IF NOT EXISTS events_campaigncall ON events(campaigncall_id);
CREATE INDEX IF NOT EXISTS events_seen_content ON events(content_hash)
    WHERE outcome IN ('applied', 'parked');

-- events that arrived before their campaigncall, waiting for it (outcome 'parked'); the
-- lookup is the campaigncall's id (by_reference 0), its reference_id (1) or activeflow_id (2)
CREATE TABLE IF NOT EXISTS parked_events (
    event_id INTEGER PRIMARY KEY, lookup TEXT NOT NULL, by_reference INTEGER NOT NULL,
    tm_parked TEXT NOT NULL
);

-- each campaign call's timeline, from its call events (the on-call detail)
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY, campaigncall_id TEXT NOT NULL, direction TEXT NOT NULL,
    status TEXT NOT NULL, hangup_by TEXT NOT NULL, hangup_reason TEXT NOT NULL,
    tm_create TEXT, tm_ringing TEXT, tm_progressing TEXT, tm_hangup TEXT, tm_update TEXT
);
CREATE INDEX IF NOT EXISTS calls_campaigncall ON calls(campaigncall_id);
CREATE INDEX IF NOT EXISTS parked_events_lookup ON parked_events(lookup);

-- each drop file taken from the folder, so a crash between commit and move is healed
CREATE TABLE IF NOT EXISTS drop_files (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL, inode INTEGER,
    mtime_ns INTEGER, size INTEGER, outcome TEXT NOT NULL, tm TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drop_files_identity ON drop_files(name, sha256);
"""

# What the filter finds a campaigncall by, besides its ids: its destination's target, target
# name and name. Kept in an FTS5 trigram index (case folded, any script) by triggers; a
# contentless index stores no copy of the text, and a row is taken out of it by giving the
# text and key it was put in with, so these expressions are the one place they are made.
TEXT_INDEX = "campaigncall_text"

# The text index's rowid is not the campaigncall's but its text key: where it sorts in its
# group (store.rows.group_order), so that a filter's hits in one group come from the index
# itself, newest first, as far as a window needs and no further:
#     group (2 bits) | minutes before 2225 of tm_order (27 bits) | 2**34 - 1 - rowid (34 bits)
# Newest first is the index's own ascending order: FTS5 of SQLite 3.40.1 loses hits of a
# phrase read in descending order (at a million rows, 736 of a range's 2,316 'müller'; the
# benchmark checks its windows against a scan of the rows). Within one minute the key
# follows the rowid, not the group's order (tm_order, then id): store.queries sorts the rows
# of a minute that a window cuts through. The rowid makes the key unique and gives the
# campaigncall back (text_key_rowid); rowids past 2**34 (17 billion campaigncalls written)
# would collide, none will.
TEXT_KEY_GROUPS = {"dialing": 1, "progressing": 2, "done": 3}
TEXT_KEY_GROUP_SHIFT = 61
TEXT_KEY_MINUTE_SHIFT = 34
TEXT_KEY_ROWID_MASK = (1 << TEXT_KEY_MINUTE_SHIFT) - 1
TEXT_KEY_LAST_MINUTE = (1 << (TEXT_KEY_GROUP_SHIFT - TEXT_KEY_MINUTE_SHIFT)) - 1


def text_key_sql(row: str) -> str:
    """The text key (above) of campaigncall `row` (`new`, `old` or a table alias) in SQL."""
    group = " ".join(f"WHEN '{status}' THEN {code}" for status, code in TEXT_KEY_GROUPS.items())
    minute = (
        f"min(max(coalesce(CAST(strftime('%s', {row}.tm_order) AS INTEGER), 0) / 60, 0),"
        f" {TEXT_KEY_LAST_MINUTE})"
    )
    return (
        f"(((CASE {row}.status {group} ELSE 0 END) << {TEXT_KEY_GROUP_SHIFT})"
        f" | (({TEXT_KEY_LAST_MINUTE} - {minute}) << {TEXT_KEY_MINUTE_SHIFT})"
        f" | ({TEXT_KEY_ROWID_MASK} - {row}.rowid))"
    )


def text_key_rowid_sql(key: str) -> str:
    """The campaigncall rowid of text key `key`, in SQL."""
    return f"({TEXT_KEY_ROWID_MASK} - ({key} & {TEXT_KEY_ROWID_MASK}))"


def text_key_rowid(key: int) -> int:
    """The campaigncall rowid of a text key."""
    return TEXT_KEY_ROWID_MASK - (key & TEXT_KEY_ROWID_MASK)


def destination_text_sql(destination: str) -> str:
    return " || ' ' || ".join(
        f"coalesce(json_extract({destination}, '$.{key}'), '')"
        for key in ("target", "target_name", "name")
    )


_OLD_TEXT = destination_text_sql("old.destination")
_NEW_TEXT = destination_text_sql("new.destination")
_OLD_KEY, _NEW_KEY = text_key_sql("old"), text_key_sql("new")
TEXT_INDEX_SCHEMA = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS {TEXT_INDEX} USING fts5(
    text, content='', columnsize=0, tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS campaigncalls_text_insert AFTER INSERT ON campaigncalls BEGIN
    INSERT INTO {TEXT_INDEX}(rowid, text) VALUES ({_NEW_KEY}, {_NEW_TEXT});
END;
CREATE TRIGGER IF NOT EXISTS campaigncalls_text_delete AFTER DELETE ON campaigncalls BEGIN
    INSERT INTO {TEXT_INDEX}({TEXT_INDEX}, rowid, text)
    VALUES ('delete', {_OLD_KEY}, {_OLD_TEXT});
END;
CREATE TRIGGER IF NOT EXISTS campaigncalls_text_update
AFTER UPDATE OF destination, status, tm_order ON campaigncalls
WHEN old.destination IS NOT new.destination OR {_OLD_KEY} != {_NEW_KEY}
BEGIN
    INSERT INTO {TEXT_INDEX}({TEXT_INDEX}, rowid, text)
    VALUES ('delete', {_OLD_KEY}, {_OLD_TEXT});
    INSERT INTO {TEXT_INDEX}(rowid, text) VALUES ({_NEW_KEY}, {_NEW_TEXT});
END;
"""


# every campaigncall into the text index (a new index, or one emptied by 'delete-all'); the
# fill leaves a segment per batch, each over every key, which a MATCH must read all of: merged
# into one (a few seconds at a million rows), a rare number is found 2.5x faster
_OPTIMIZE_TEXT_INDEX = f"INSERT INTO {TEXT_INDEX}({TEXT_INDEX}) VALUES ('optimize')"
_FILL_TEXT_INDEX = (
    f"INSERT INTO {TEXT_INDEX}(rowid, text)"
    f" SELECT {text_key_sql('c')}, {destination_text_sql('c.destination')} FROM campaigncalls c"
)
TEXT_TRIGGER_NAMES = ("campaigncalls_text_insert", "campaigncalls_text_delete",
                      "campaigncalls_text_update")  # fmt: skip


def has_text_index(conn: sqlite3.Connection) -> bool:
    return TEXT_INDEX in _table_names(conn)


def set_text_triggers_aside(conn: sqlite3.Connection) -> None:
    """For a bulk load into an empty table: the index is built once at the end instead."""
    for trigger in TEXT_TRIGGER_NAMES:
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")


def _fill_text_index(conn: sqlite3.Connection) -> None:
    conn.execute(_FILL_TEXT_INDEX)
    conn.execute(_OPTIMIZE_TEXT_INDEX)


def rebuild_text_index(conn: sqlite3.Connection) -> None:
    """Index every campaigncall afresh and put the triggers back (set aside first, if they
    are not already)."""
    set_text_triggers_aside(conn)
    conn.execute(f"INSERT INTO {TEXT_INDEX}({TEXT_INDEX}) VALUES ('delete-all')")
    _fill_text_index(conn)
    for statement in _statements(TEXT_INDEX_SCHEMA):
        if statement.startswith("CREATE TRIGGER"):
            conn.execute(statement)


def _add_text_index(conn: sqlite3.Connection) -> None:
    """Make the text index (filling it from the rows already there) if SQLite has FTS5; a
    build without it gets none, and the filter reads the rows instead."""
    if TEXT_INDEX in _table_names(conn):
        return
    try:
        conn.execute("SAVEPOINT text_index")
        for statement in _statements(TEXT_INDEX_SCHEMA):
            conn.execute(statement)
        _fill_text_index(conn)
        conn.execute("RELEASE text_index")
    except sqlite3.OperationalError as error:
        conn.execute("ROLLBACK TO text_index")
        conn.execute("RELEASE text_index")
        if "fts5" not in str(error):
            raise


COUNT_TRIGGER_NAMES = ("campaigncalls_count_insert", "campaigncalls_count_delete",
                       "campaigncalls_count_update")  # fmt: skip


def recount_campaigncalls(conn: sqlite3.Connection) -> None:
    """Rebuild the maintained counts from the rows (after a bulk load without the triggers)."""
    conn.execute("DELETE FROM campaigncall_counts")
    conn.execute(
        "INSERT INTO campaigncall_counts SELECT campaign_id, status, result, count(*)"
        " FROM campaigncalls GROUP BY campaign_id, status, result"
    )


OUR_TABLES = frozenset(
    [
        *RECORD_TABLES,
        "events",
        "drop_files",
        "campaigncall_counts",
        "parked_events",
        "calls",
        "target_counts",
        "target_finishes",
        "hangup_reason_counts",
        "reasons_pending",
        TEXT_INDEX,
    ]
)


def is_busy_error(error: BaseException) -> bool:
    """SQLite's "database is locked" / "database is busy": another writer holds the lock."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: the one way a write begins.

    The connection runs `synchronous = FULL` (see connect), so the commit is on disk when
    this returns: a drop file is moved only after that.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class StoreError(Exception):
    """A problem a person must fix (missing or foreign database, bad bundle); the text says what."""


def connect(
    path: Path | str,
    *,
    create: bool = False,
    cache_mib: int = WRITE_CACHE_MIB,
    on_upgrade: Callable[[str], None] | None = None,
) -> sqlite_utils.Database:
    """Open the database file (WAL, busy timeout); with `create`, make it and its schema.
    `on_upgrade` is told, in a sentence, before an older schema holding campaigncalls is
    upgraded (a million of them take a minute: someone waiting should know why)."""
    path = Path(path)
    if not create and not path.is_file():
        raise StoreError(
            f"there is no database at {path}; create one with: campaigncalls load --db {path} demo"
        )
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA cache_size = {-1024 * cache_mib}")
        # first: a file that is refused is not switched to WAL
        ensure_schema(conn, path, on_upgrade)
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: in WAL mode NORMAL can lose the last commits to a power cut while the rename
        # of their drop files survives; FULL syncs each commit (one per file, thousands a second)
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path} cannot be used as a campaigncalls database: {error}") from None
    return sqlite_utils.Database(conn)


def schema_refusal(path: Path, version: int, tables: set[str]) -> StoreError | None:
    """Why a file can be neither read nor written here: a newer campaigncalls wrote it, or
    it is another program's database. None when it is ours (or empty)."""
    if version > SCHEMA_VERSION:
        return StoreError(
            f"{path} was written by a newer campaigncalls (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade campaigncalls"
        )
    if tables and not tables & OUR_TABLES:
        return StoreError(f"{path} is an SQLite database of something else, not campaigncalls")
    return None


# an upgrade from schema 6 or older, per million campaigncalls (2026-12-04, 2 CPUs: 38 s)
UPGRADE_SECONDS_PER_MILLION = 40


def ensure_schema(
    conn: sqlite3.Connection, path: Path, on_upgrade: Callable[[str], None] | None = None
) -> None:
    """Create our tables in a new file, migrate an older one; refuse someone else's file."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    refused = schema_refusal(path, version, _table_names(conn))
    if refused is not None:
        raise refused
    with transaction(conn):
        # Looked at again under the write lock: another process may have done it meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            # schema 0 kept no retry plans and no counts: work them out once
            derive = version == 0 and bool(_table_names(conn) & set(RECORD_TABLES))
            fill_order = version in range(1, 5) and "campaigncalls" in _table_names(conn)
            # schema 1 to 5 kept no overview counts: worked out once from the rows
            overview = version in range(1, 6) and "campaigncalls" in _table_names(conn)
            if on_upgrade is not None and "campaigncalls" in _table_names(conn):
                calls = conn.execute("SELECT count(*) FROM campaigncalls").fetchone()[0]
                if calls:
                    seconds = max(1, round(calls / 1e6 * UPGRADE_SECONDS_PER_MILLION))
                    on_upgrade(
                        f"upgrading {path} from schema {version} to {SCHEMA_VERSION}:"
                        f" {calls:,} campaigncalls, about {seconds} s"
                    )
            _add_missing_columns(conn)
            if version in range(3, 7) and has_text_index(conn):
                # keyed by each campaigncall's rowid until schema 7: made afresh below
                set_text_triggers_aside(conn)
                conn.execute(f"DROP TABLE {TEXT_INDEX}")
            if fill_order or derive:
                fill_group_order(conn)
            for index in OBSOLETE_INDEXES:
                conn.execute(f"DROP INDEX IF EXISTS {index}")
            for statement in _statements(FULL_SCHEMA):
                conn.execute(statement)
            _add_text_index(conn)
            if derive:
                _recompute_derived(conn)
            elif overview:
                recount_overview(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


FULL_SCHEMA = (
    SCHEMA.replace("{COUNT_TRIGGERS}", COUNT_TRIGGERS)
    + OVERVIEW_TABLES
    + TARGET_TRIGGERS
    + SCHEMA_TAIL
)


def _table_names(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _statements(script: str) -> list[str]:
    """A script as single statements (executescript would commit the open transaction)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements


def _schema_columns() -> dict[str, list[tuple[str, str]]]:
    """Each table's columns in the current schema, as (name, declaration) pairs."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.executescript(FULL_SCHEMA)
        return {
            table: [
                (name, _declaration(kind, notnull, default))
                for _cid, name, kind, notnull, default, _pk in scratch.execute(
                    f"PRAGMA table_info({table})"
                )
            ]
            for table in _table_names(scratch)
        }
    finally:
        scratch.close()


def _declaration(kind: str, notnull: int, default: str | None) -> str:
    declaration = f"{kind} NOT NULL" if notnull else kind
    return declaration if default is None else f"{declaration} DEFAULT {default}"


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Schema 0 (the first build) lacked the retry_* columns and events.drop_file_id: add them.

    A NOT NULL column without a default (none of those schema 0 lacked) cannot be added; such a
    table is not one we wrote, and the ALTER fails with SQLite's own sentence.
    """
    existing = _table_names(conn)
    for table, columns in _schema_columns().items():
        if table not in existing:
            continue
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, declaration in columns:
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")


def fill_group_order(conn: sqlite3.Connection) -> None:
    """Every campaigncall's tm_order worked out afresh (rows written without it), and the text
    index, keyed by it, built once afterwards rather than rewritten row by row."""
    indexed = has_text_index(conn)
    if indexed:
        set_text_triggers_aside(conn)
    conn.execute(_FILL_TM_ORDER)
    if indexed:
        rebuild_text_index(conn)


def _recompute_derived(conn: sqlite3.Connection) -> None:
    """The data an older schema did not keep: every target's retry plan, the status counts."""
    target_ids = [row[0] for row in conn.execute("SELECT id FROM outdialtargets")]
    refresh_retry_plans(conn, target_ids)
    recount_campaigncalls(conn)
    recount_overview(conn)


# the documentation's spellings of VoIPbin's reasons, in SQL (store.rules.HANGUP_REASON_ALIASES)
_CANONICAL_REASON = (
    "CASE k.hangup_reason "
    + " ".join(f"WHEN '{a}' THEN '{c}'" for a, c in HANGUP_REASON_ALIASES.items())
    + " ELSE k.hangup_reason END"
)


def recount_overview(conn: sqlite3.Connection) -> None:
    """The overview's counts worked out afresh from the rows (a database of an older schema):
    targets by state, their finishes by minute, done campaigncalls by the reason in their
    call's timeline (a flow campaign's by its flow ending)."""
    for table in ("target_counts", "target_finishes", "hangup_reason_counts", "reasons_pending"):
        conn.execute(f"DELETE FROM {table}")
    state = target_state_sql("t")
    conn.execute(
        f"INSERT INTO target_counts SELECT outdial_id, {state}, count(*) FROM outdialtargets t"
        " GROUP BY 1, 2"
    )
    conn.execute(
        "INSERT INTO target_finishes SELECT outdial_id, substr(tm_update, 1, 16), count(*)"
        f" FROM outdialtargets t WHERE tm_update IS NOT NULL AND {state} IN ('done', 'exhausted')"
        " GROUP BY 1, 2"
    )
    known = ", ".join(f"'{r}'" for r in HANGUP_RESULTS)
    conn.execute(
        "INSERT INTO hangup_reason_counts SELECT campaign_id, reason, count(*) FROM ("
        " SELECT c.campaign_id, CASE WHEN c.reference_type = 'flow' THEN 'flow ended' ELSE"
        f" (SELECT {_CANONICAL_REASON} FROM calls k WHERE k.campaigncall_id = c.id"
        "  AND k.hangup_reason != '' LIMIT 1) END AS reason"
        " FROM campaigncalls c WHERE c.status = 'done')"
        f" WHERE reason IN ({known}, 'flow ended') GROUP BY 1, 2"
    )
