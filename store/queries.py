"""What the dashboard and `show` read: counts, a window of one status group, one campaigncall."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from store.db import (
    BUSY_TIMEOUT_MS,
    READ_CACHE_MIB,
    TEXT_INDEX,
    TEXT_KEY_GROUP_SHIFT,
    TEXT_KEY_GROUPS,
    TEXT_KEY_MINUTE_SHIFT,
    TEXT_KEY_ROWID_MASK,
    StoreError,
    destination_text_sql,
    text_key_rowid,
    text_key_rowid_sql,
    text_key_sql,
)
from store.models import (
    Address,
    Campaign,
    Campaigncall,
    CampaigncallStatus,
    Outdialtarget,
    Outplan,
)
from store.overview import Overview, read_overview
from store.rows import row_to_json, sqlite_text
from store.rules import (
    NO_RETRY,
    VOIPBIN_DIAL_TIMEOUT_MS,
    RetryPlan,
    dial_timeout_ms,
    is_stale,
    stale_before,
)
from store.text import visible_json
from store.timefmt import format_tm, to_datetime


@dataclass(frozen=True)
class Counts:
    """The header's totals: campaigncalls per status (done split by result), exhausted targets."""

    dialing: int = 0
    progressing: int = 0
    done: int = 0
    success: int = 0
    fail: int = 0
    exhausted: int = 0

    @property
    def total(self) -> int:
        return self.dialing + self.progressing + self.done

    def of(self, status: CampaigncallStatus) -> int:
        value: int = getattr(self, status)
        return value


@dataclass(frozen=True)
class Filter:
    """What narrows the tables: one campaign, and text matched against ids, targets and names."""

    campaign_id: str | None = None
    text: str = ""


NO_FILTER = Filter()


@dataclass(frozen=True)
class CampaigncallRow:
    """One line of a status table."""

    id: str
    campaign_id: str
    campaign_name: str
    status: CampaigncallStatus
    result: str
    destination: Address
    destination_index: int
    try_count: int
    reference_id: str
    outdial_target_id: str
    tm_create: str
    tm_update: str | None
    dial_timeout_ms: int = VOIPBIN_DIAL_TIMEOUT_MS  # store.rules.dial_timeout_ms of its outplan

    def age_ms(self, now: datetime) -> float:
        """How long ago it started (a dialing or progressing call's age)."""
        return (now - to_datetime(self.tm_create)).total_seconds() * 1000

    def stale(self, now: datetime) -> bool:
        return is_stale(self.status, self.age_ms(now), self.dial_timeout_ms)


@dataclass(frozen=True)
class EventRow:
    """One row of the `events` table: an event read from a drop file and what became of it."""

    id: int
    tm: str
    file: str
    position: int | None
    type: str | None
    campaigncall_id: str | None
    reason: str | None
    outcome: str
    error: str | None
    raw: str
    summary: str | None = None  # what it did, in words (store.apply's Effect)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tm": self.tm,
            "file": self.file,
            "position": self.position,
            "type": self.type,
            "campaigncall_id": self.campaigncall_id,
            "reason": self.reason,
            "outcome": self.outcome,
            "error": self.error,
            "summary": self.summary,
            "raw": self.raw,
        }


@dataclass(frozen=True)
class CampaigncallDetail:
    """One campaigncall with its target, outplan, campaign, retry plan and events."""

    campaigncall: dict[str, Any]
    outdialtarget: dict[str, Any] | None
    outplan: dict[str, Any] | None
    campaign: dict[str, Any] | None
    retry: RetryPlan
    events: list[EventRow] = field(default_factory=list)
    # every campaigncall of the same target, oldest first (ATTEMPT_FIELDS)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    # the call's timeline from its events (CALL_FIELDS), or None
    call: dict[str, Any] | None = None
    # which stored records are stubs made from an event, waiting for a sync or a load
    partial: frozenset[str] = frozenset()

    def as_json(self) -> dict[str, Any]:
        """The object `show --json` prints (attempts and events oldest first)."""
        return {
            "campaigncall": self.campaigncall,
            "outdialtarget": self.outdialtarget,
            "outplan": self.outplan,
            "campaign": self.campaign,
            "partial": sorted(self.partial),
            "attempts": self.attempts,
            "call": self.call,
            "retry": self.retry.as_json(),
            "events": [e.as_json() for e in self.events],
        }


# A text filter counts its matches up to here ("1,000+"; the table scrolls through that many).
FILTER_COUNT_CAP = 1_000
# Text that can only be the start of an id is looked up on the id indexes alone.
_ID_PREFIX = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{0,27}")
# Text that may be the start of an id (and of a name or number too): ids are matched by their
# start, on their indexes; the middle of an id is not matched.
_MAYBE_ID = re.compile(r"[0-9a-f][0-9a-f-]{3,35}")
_ID_COLUMNS = ("id", "reference_id", "outdial_target_id", "campaign_id")
# Below this many hits in the text index, the hits lead: each row is looked up by rowid and
# the few are put in order. With more, a group's hits come from the text index itself, keyed
# by the group's order (store.db text_key_sql), as far as a count or a window needs; where
# that cannot answer (a campaign chosen too, a text that may be an id's start, an export),
# the group's order index leads and each entry is checked against the set of all the hits (a
# rowid lookup, no row read) until the window is full, which common hits make short.
TEXT_INDEX_LEADS_BELOW = 2_000

_ROW_COLUMNS = (
    "c.id, c.campaign_id, coalesce(p.name, ''), c.status, c.result, c.destination,"
    " c.destination_index, c.try_count, c.reference_id, c.outdial_target_id, c.tm_create,"
    " c.tm_update, (SELECT o.dial_timeout FROM outplans o WHERE o.id = c.outplan_id)"
)
_EVENT_COLUMNS = (
    "id, tm, file, position, type, campaigncall_id, reason, outcome, error, raw, summary"
)
ATTEMPT_FIELDS = ("id", "destination_index", "try_count", "status", "result", "hangup_reason",
                  "tm_create", "tm_update")  # fmt: skip
CALL_FIELDS = ("id", "direction", "status", "hangup_by", "hangup_reason", "tm_create",
               "tm_ringing", "tm_progressing", "tm_hangup", "tm_update")  # fmt: skip
# a campaigncall's hangup reason: its call's timeline, else the last hangup recorded for it
_ATTEMPTS = """
SELECT c.id, c.destination_index, c.try_count, c.status, c.result,
    coalesce(nullif(k.hangup_reason, ''), (SELECT e.reason FROM events e
        WHERE e.campaigncall_id = c.id AND e.reason IS NOT NULL
        AND e.outcome IN ('applied', 'ignored', 'duplicate') ORDER BY e.id DESC LIMIT 1)),
    c.tm_create, c.tm_update
FROM campaigncalls c LEFT JOIN calls k ON k.id = c.reference_id
WHERE c.outdial_target_id = ? ORDER BY c.tm_create, c.id
"""


# Filter texts whose hits are kept at once (the filter shown, and what is being typed).
_HIT_TABLES_KEPT = 8
_HEADS_KEPT = 3 * _HIT_TABLES_KEPT  # a common text's first keys, per group


@dataclass(frozen=True)
class _HitTable:
    name: str  # in the temp schema of the connection
    version: int  # PRAGMA data_version when it was filled
    count: int
    complete: bool  # every hit; else the first TEXT_INDEX_LEADS_BELOW, the text is common


_DESTINATION_TEXT = destination_text_sql("c.destination")
_TEXT_KEY = text_key_sql("c")


def _group_keys(status: str) -> tuple[int, int]:
    """The first and last text key a group can have."""
    first = TEXT_KEY_GROUPS[status] << TEXT_KEY_GROUP_SHIFT
    return first, first + (1 << TEXT_KEY_GROUP_SHIFT) - 1


def _minute_end(key: int) -> int:
    """The last text key of the group and minute `key` is in."""
    return key | TEXT_KEY_ROWID_MASK


def _searchable(text: str) -> str:
    """A filter text as the database holds text: no NUL (FTS5 stops at one), a lone surrogate
    as the `\\udxxx` it was stored as."""
    return sqlite_text(text.replace("\x00", "").strip())


def _phrase(text: str) -> str:
    """The text as one FTS5 phrase: found where it stands as it is, in any letter case."""
    return '"' + text.replace('"', '""') + '"'


def _address(stored: str) -> Address:
    """A stored Address. Read by the standard library, which takes the `\\udxxx` escape a lone
    surrogate is stored as (pydantic's JSON reader refuses it)."""
    return Address.model_validate(json.loads(stored))


def _row(values: tuple[Any, ...]) -> CampaigncallRow:
    (ident, campaign_id, campaign_name, status, result, destination, index, tries, ref,
     target_id, tm_create, tm_update, timeout) = values  # fmt: skip
    return CampaigncallRow(
        ident, campaign_id, campaign_name, status, result,
        _address(destination), index, tries, ref, target_id,
        tm_create, tm_update, dial_timeout_ms(timeout),
    )  # fmt: skip


# `show` takes an id by its start, as the filter does, from this many characters on.
SHORT_ID_CHARS = 4


def short_id_parts(text: str) -> tuple[str, str]:
    """An id's start and end as typed: `5ce2ca01…0001` (the tables' form, also with `...`) or
    a plain start (then the end is empty); letters folded as ids are stored."""
    folded = text.strip().lower()
    for mark in ("…", "..."):
        if mark in folded:
            start, _, end = folded.partition(mark)
            return start, end
    return folded, ""


@dataclass(frozen=True)
class Lookup:
    """What an id's start names: campaigncalls (newest first) and the events parked for it."""

    start: str
    end: str = ""
    ids: list[str] = field(default_factory=list)
    more: bool = False  # more campaigncalls match than `ids` holds
    parked: list[tuple[str, EventRow]] = field(default_factory=list)  # (the id awaited, event)

    @property
    def shown_as(self) -> str:
        return f"{self.start}…{self.end}" if self.end else self.start


class Queries:
    """A read-only view of the database, safe to share between threads (one lock)."""

    def __init__(self, db_path: Path | str, *, cache_mib: int = READ_CACHE_MIB) -> None:
        path = Path(db_path)
        if not path.is_file():
            raise StoreError(f"there is no database at {path}")
        self.path = path
        self._conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            check_same_thread=False,
            isolation_level=None,  # autocommit: no read is ever left open
        )
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._conn.execute(f"PRAGMA cache_size = {-1024 * cache_mib}")
        self._conn.execute("PRAGMA temp_store = MEMORY")  # the filter's hits: no file for them
        self._lock = threading.RLock()  # each_in_status's reader may look a row up
        self._has_text_index = self._can_read_text_index()
        # per filter text, its hits in the text index, kept in a temporary table
        self._hit_tables: dict[str, _HitTable] = {}
        # per common text and group, its first text keys (_head), with the data_version read at
        self._heads: dict[tuple[str, str], tuple[int, list[int]]] = {}
        self._hit_tables_made = 0

    def _can_read_text_index(self) -> bool:
        """A database made where SQLite had no FTS5, or read where it has none, has no use of
        the text index; the filter then reads the rows."""
        try:
            self._all(f"SELECT 1 FROM {TEXT_INDEX} WHERE {TEXT_INDEX} MATCH 'xyz' LIMIT 1")
        except sqlite3.OperationalError:
            return False
        return True

    def close(self) -> None:
        with self._lock:  # after a read another thread is running ends
            self._conn.close()

    def _all(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _dicts(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]

    def data_version(self) -> int:
        """Changes whenever another connection (this process or another) commits."""
        return int(self._all("PRAGMA data_version")[0][0])

    # ---- counts ------------------------------------------------------------------------

    def counts(self, campaign_id: str | None = None) -> Counts:
        where, params = ("WHERE campaign_id = ?", (campaign_id,)) if campaign_id else ("", ())
        totals: dict[str, int] = {}
        for status, result, n in self._all(
            f"SELECT status, result, sum(n) FROM campaigncall_counts {where}"
            " GROUP BY status, result",
            params,
        ):
            totals[status] = totals.get(status, 0) + n
            if status == "done":
                totals[result] = totals.get(result, 0) + n
        if campaign_id:
            exhausted_sql = (
                "SELECT count(*) FROM outdialtargets WHERE retry_state = 'exhausted'"
                " AND outdial_id = (SELECT outdial_id FROM campaigns WHERE id = ?)"
            )
        else:
            exhausted_sql = "SELECT count(*) FROM outdialtargets WHERE retry_state = 'exhausted'"
        exhausted = self._all(exhausted_sql, params)[0][0]
        return Counts(
            dialing=totals.get("dialing", 0),
            progressing=totals.get("progressing", 0),
            done=totals.get("done", 0),
            success=totals.get("success", 0),
            fail=totals.get("fail", 0),
            exhausted=exhausted,
        )

    # ---- a status group, by window ------------------------------------------------------

    def _where(self, status: str, flt: Filter) -> tuple[str, list[Any]]:
        """The WHERE clause of one group under a filter.

        A text is found in the destination's target, target name and name (any letter case,
        any script), and at the start of any id. With the text index (FTS5 trigrams, see
        store.db), a rare text's few hits lead: each row is looked up and the few are put in
        order. A common text alone is read from the index by its text keys (_keyed), not
        here; with a campaign, or when it may be an id's start, its hits are a set that the
        group's order index is checked against as it is read, without reading the rows. A
        text too short for a trigram, or a database without the index, is matched in the rows
        themselves.
        """
        text = _searchable(flt.text)
        folded = text.lower()
        hits = self._hits(text, complete=True)
        rare = hits is not None and hits.count < TEXT_INDEX_LEADS_BELOW
        # when the hits lead, the status and campaign are checked, not looked up
        plus = "+" if rare else ""
        clauses = [f"{plus}c.status = ?"]
        params: list[Any] = [status]
        if flt.campaign_id:
            clauses.append(f"{plus}c.campaign_id = ?")
            params.append(flt.campaign_id)
        if not text:
            return " AND ".join(clauses), params
        matches: list[str] = []
        if _MAYBE_ID.fullmatch(folded):
            matches += [f"(c.{column} >= ? AND c.{column} < ?)" for column in _ID_COLUMNS]
            params += [folded, folded + "~"] * len(_ID_COLUMNS)
        if hits is not None:
            lead = "" if rare else "+"
            matches.append(f"{lead}c.rowid IN (SELECT rowid FROM temp.{hits.name})")
        elif not _ID_PREFIX.fullmatch(folded):
            # what the text index holds, read from each row (SQLite folds ASCII letters only)
            matches.append(f"instr(lower({_DESTINATION_TEXT}), ?)")
            params.append(folded)
        clauses.append(f"({' OR '.join(matches)})")
        return " AND ".join(clauses), params

    def prepare_filter(self, text: str) -> None:
        """Look a filter text's hits up now (while the user is still typing), so the queries
        under that filter find them ready."""
        self._hits(_searchable(text))

    def forget_filter_hits(self) -> None:
        """Drop the hits kept so far: the next filter looks its text up afresh (the benchmark
        types the same text again as a new one)."""
        with self._lock:
            for table in self._hit_tables.values():
                self._conn.execute(f"DROP TABLE IF EXISTS temp.{table.name}")
            self._hit_tables.clear()
            self._heads.clear()

    def _hits(self, text: str, *, complete: bool = False) -> _HitTable | None:
        """The text's hits in the text index, in a temporary table of rowids (filled again when
        the database has changed since), or None where the index cannot answer: no index, a
        text under three letters, or an id's start. Unless `complete`, a common text's table
        holds only its first TEXT_INDEX_LEADS_BELOW hits: enough to know it is common.

        A table, not a subquery: SQLite would collect a subquery's hits again for every query,
        and a window, a count and a position are several queries.
        """
        if len(text) < 3 or not self._has_text_index or _ID_PREFIX.fullmatch(text.lower()):
            return None
        with self._lock:
            version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            table = self._hit_tables.pop(text, None)
            if table is not None:
                self._hit_tables[text] = table  # the most recently used is dropped last
                if table.version == version and (table.complete or not complete):
                    return table
            if table is None:
                if len(self._hit_tables) >= _HIT_TABLES_KEPT:
                    oldest = next(iter(self._hit_tables))
                    self._conn.execute(f"DROP TABLE temp.{self._hit_tables.pop(oldest).name}")
                self._hit_tables_made += 1
                name = f"filter_hits_{self._hit_tables_made}"
                self._conn.execute(f"CREATE TEMP TABLE {name} (rowid INTEGER PRIMARY KEY)")
            else:
                name = table.name
            fill = (
                f"INSERT INTO temp.{name} SELECT {text_key_rowid_sql('rowid')}"
                f" FROM {TEXT_INDEX} WHERE {TEXT_INDEX} MATCH ? LIMIT ?"
            )
            limit = -1 if complete else TEXT_INDEX_LEADS_BELOW
            try:
                self._conn.execute(f"DELETE FROM temp.{name}")
                count = self._conn.execute(fill, (_phrase(text), limit)).rowcount
            except BaseException:
                # interrupted (a newer filter) or failed: half filled is not kept
                self._hit_tables.pop(text, None)
                self._conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
                raise
            table = _HitTable(name, version, count, complete or count < TEXT_INDEX_LEADS_BELOW)
            self._hit_tables[text] = table
            return table

    # ---- a common text, from the text index in the group's order --------------------------

    def _keyed(self, flt: Filter) -> str | None:
        """The FTS5 phrase of a filter whose groups are read from the text index by their text
        keys (store.db text_key_sql), or None: a common text alone, one that cannot be an
        id's start. A rare text's few hits lead instead (see _where)."""
        if flt.campaign_id:
            return None
        text = _searchable(flt.text)
        if _MAYBE_ID.fullmatch(text.lower()):
            return None
        hits = self._hits(text)
        if hits is None or hits.complete:
            return None
        return _phrase(text)

    def _keys(self, phrase: str, first: int, last: int, limit: int = -1) -> list[int]:
        """The text keys from `first` to `last` whose text holds the phrase, newest first (in
        ascending order: see store.db on the text key)."""
        return [
            r[0]
            for r in self._all(
                f"SELECT rowid FROM {TEXT_INDEX} WHERE {TEXT_INDEX} MATCH ?"
                " AND rowid BETWEEN ? AND ? ORDER BY rowid LIMIT ?",
                (phrase, first, last, limit),
            )
        ]

    def _head(self, phrase: str, status: str) -> list[int]:
        """A group's first FILTER_COUNT_CAP text keys under the phrase, newest first: its
        count, its windows and its positions, read once (again when the database changed)."""
        with self._lock:
            version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            cached = self._heads.pop((phrase, status), None)
            if cached is None or cached[0] != version:
                cached = (version, self._keys(phrase, *_group_keys(status), FILTER_COUNT_CAP))
            self._heads[(phrase, status)] = cached  # the most recently used is dropped last
            while len(self._heads) > _HEADS_KEPT:
                del self._heads[next(iter(self._heads))]
            return cached[1]

    def _minute_of(self, phrase: str, keys: list[int], index: int) -> tuple[int, list[int]]:
        """The keys of the minute `keys[index]` is in: where that minute begins in `keys`, and
        all its keys, also those past the end of `keys` (the rest of its group not read)."""
        minute = keys[index] >> TEXT_KEY_MINUTE_SHIFT
        start = stop = index
        while start > 0 and keys[start - 1] >> TEXT_KEY_MINUTE_SHIFT == minute:
            start -= 1
        while stop < len(keys) and keys[stop] >> TEXT_KEY_MINUTE_SHIFT == minute:
            stop += 1
        found = keys[start:stop]
        if stop == len(keys):
            found += self._keys(phrase, keys[-1] + 1, _minute_end(keys[-1]))
        return start, found

    def _in_order(self, keys: list[int]) -> list[int]:
        """The rowids of these keys (whole minutes, newest first) in the group's order: by
        tm_order, then id, within a minute; a minute of one key is in order already."""
        rowids = [text_key_rowid(key) for key in keys]
        minutes = {key >> TEXT_KEY_MINUTE_SHIFT for key in keys}
        if len(minutes) == len(keys):
            return rowids
        marks = ",".join("?" * len(rowids))
        sql = (
            f"SELECT c.rowid FROM campaigncalls c WHERE c.rowid IN ({marks})"
            " ORDER BY c.tm_order DESC, c.id DESC"
        )
        return [r[0] for r in self._all(sql, rowids)]

    def _keyed_rowids(self, phrase: str, status: str, offset: int, limit: int) -> list[int]:
        """Rowids of rows `offset` .. `offset + limit` of a group under a common text, in the
        group's order. The keys put the minutes in order; the rows of a minute the window
        cuts through, at either end, are put in order by their tm_order and id."""
        keys = self._head(phrase, status)
        if offset + limit > len(keys) >= FILTER_COUNT_CAP:  # past the count: read on
            keys = self._keys(phrase, *_group_keys(status), offset + limit)
        if len(keys) <= offset:
            return []
        last = min(len(keys), offset + limit) - 1
        start, first_minute = self._minute_of(phrase, keys, offset)
        end, last_minute = self._minute_of(phrase, keys, last)
        between = keys[start + len(first_minute) : end] if end > start else []
        window = first_minute + between + (last_minute if end > start else [])
        return self._in_order(window)[offset - start : offset - start + limit]

    def _keyed_position(self, phrase: str, campaigncall_id: str, status: str) -> int | None:
        """Where a campaigncall stands in its group under a common text (up to
        FILTER_COUNT_CAP), or None if it is not in the group or does not match."""
        found = self._all(
            f"SELECT {_TEXT_KEY} FROM campaigncalls c WHERE c.id = ? AND c.status = ?",
            (campaigncall_id, status),
        )
        if not found:
            return None
        key = found[0][0]
        keys = self._head(phrase, status)
        if key in keys:
            index = keys.index(key)
        elif len(keys) < FILTER_COUNT_CAP or key < keys[-1]:
            return None  # where its text would be read, it is not: it does not match
        elif key >> TEXT_KEY_MINUTE_SHIFT == keys[-1] >> TEXT_KEY_MINUTE_SHIFT:
            index = len(keys) - 1  # in the last minute read, which goes on past the count
        else:
            return FILTER_COUNT_CAP if self._keys(phrase, key, key) else None
        start, minute = self._minute_of(phrase, keys, index)
        if key not in minute:
            return None
        rowid, ordered = text_key_rowid(key), self._in_order(minute)
        if rowid not in ordered:
            return None  # gone between two reads (a prune): the next refresh tells
        return min(FILTER_COUNT_CAP, start + ordered.index(rowid))

    def count_in_status(self, status: CampaigncallStatus, flt: Filter = NO_FILTER) -> int:
        """How many rows a group has; with a text filter, counted up to FILTER_COUNT_CAP."""
        if not flt.text.strip():
            # the maintained counts alone (counts() would also count exhausted targets)
            sql = "SELECT coalesce(sum(n), 0) FROM campaigncall_counts WHERE status = ?"
            if flt.campaign_id:
                return int(self._all(sql + " AND campaign_id = ?", (status, flt.campaign_id))[0][0])
            return int(self._all(sql, (status,))[0][0])
        phrase = self._keyed(flt)
        if phrase is not None:
            return len(self._head(phrase, status))
        where, params = self._where(status, flt)
        sql = f"SELECT count(*) FROM (SELECT 1 FROM campaigncalls c WHERE {where} LIMIT ?)"
        return int(self._all(sql, [*params, FILTER_COUNT_CAP])[0][0])

    def rows_in_status(
        self, status: CampaigncallStatus, offset: int, limit: int, flt: Filter = NO_FILTER
    ) -> list[CampaigncallRow]:
        """Rows `offset` .. `offset + limit` of a group, newest first: Done by when a call
        finished, Dialing and Progressing by when it started (store.db TM_ORDER, then id).

        The window's ids come from the covering index first, and from its far end when the
        window lies in the older half, so the end of a million rows costs what the start does.
        """
        offset = max(0, offset)
        phrase = self._keyed(flt)
        if phrase is not None:
            return self._rows_by_rowid(self._keyed_rowids(phrase, status, offset, limit))
        where, params = self._where(status, flt)
        order = "DESC"
        if offset > 2 * limit and not flt.text.strip():
            total = self.count_in_status(status, flt)
            if offset > total // 2:
                order = "ASC"
                end = min(total, offset + limit)
                offset, limit = total - end, end - offset
                if limit <= 0:
                    return []
        rowids_sql = (
            f"SELECT c.rowid FROM campaigncalls c WHERE {where}"
            f" ORDER BY c.tm_order {order}, c.id {order} LIMIT ? OFFSET ?"
        )
        return self._rows_by_rowid([r[0] for r in self._all(rowids_sql, [*params, limit, offset])])

    def _rows_by_rowid(self, rowids: list[int]) -> list[CampaigncallRow]:
        """The rows of these rowids, in their group's order."""
        if not rowids:
            return []
        marks = ",".join("?" * len(rowids))
        sql = (
            f"SELECT {_ROW_COLUMNS} FROM campaigncalls c"
            " LEFT JOIN campaigns p ON p.id = c.campaign_id"
            f" WHERE c.rowid IN ({marks}) ORDER BY c.tm_order DESC, c.id DESC"
        )
        return [_row(r) for r in self._all(sql, rowids)]

    def each_in_status(
        self, status: CampaigncallStatus, flt: Filter, columns: str, *, as_bytes: bool = False
    ) -> Iterator[tuple[Any, ...]]:
        """Every row of a group under a filter, in the table's order (newest first), as
        `columns` of `campaigncalls c`, read from a cursor as they are asked for (an export of a
        million rows holds one at a time); `as_bytes`: text as the UTF-8 bytes stored, not
        decoded (so also `campaigncall_by_rowid` meanwhile). Holds this connection until the
        last row or until closed: give it a Queries of its own."""
        where, params = self._where(status, flt)
        with self._lock:
            cursor = self._conn.execute(
                f"SELECT {columns} FROM campaigncalls c WHERE {where}"
                " ORDER BY c.tm_order DESC, c.id DESC",
                params,
            )
            if as_bytes:
                self._conn.text_factory = bytes
            try:
                yield from cursor
            finally:
                cursor.close()
                self._conn.text_factory = str

    def campaigncall_by_rowid(self, rowid: int, columns: str) -> tuple[Any, ...] | None:
        """`columns` of `campaigncalls c` for one row, by rowid. Asked while reading an
        `each_in_status` (in its thread), it reads the same snapshot as that."""
        with self._lock:
            found: tuple[Any, ...] | None = self._conn.execute(
                f"SELECT {columns} FROM campaigncalls c WHERE c.rowid = ?", (rowid,)
            ).fetchone()
            return found

    def position_in_status(
        self,
        campaigncall_id: str,
        status: CampaigncallStatus,
        flt: Filter = NO_FILTER,
        near: int | None = None,
    ) -> int | None:
        """Where a campaigncall stands in its group's order, or None if it is not in it.

        `near` (where it stood before) lets a row deep in a big group be counted from the
        nearer end.
        """
        phrase = self._keyed(flt)
        if phrase is not None:
            return self._keyed_position(phrase, campaigncall_id, status)
        where, params = self._where(status, flt)
        found = self._all(
            f"SELECT c.tm_order FROM campaigncalls c WHERE c.id = ? AND {where}",
            [campaigncall_id, *params],
        )
        if not found:
            return None  # not in this group, or not matching the filter
        tm_order = found[0][0]
        total = None
        if near is not None and not flt.text.strip():
            total = self.count_in_status(status, flt)
        if total is not None and near is not None and near > total // 2:
            sql = (
                f"SELECT count(*) FROM campaigncalls c WHERE {where}"
                " AND (c.tm_order < ? OR (c.tm_order = ? AND c.id < ?))"
            )
            after = int(self._all(sql, [*params, tm_order, tm_order, campaigncall_id])[0][0])
            return total - 1 - after
        # with a text filter the group holds at most FILTER_COUNT_CAP rows: count no further
        sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM campaigncalls c WHERE {where}"
            " AND (c.tm_order > ? OR (c.tm_order = ? AND c.id > ?)) LIMIT ?)"
        )
        cap = FILTER_COUNT_CAP if flt.text.strip() else -1
        return int(self._all(sql, [*params, tm_order, tm_order, campaigncall_id, cap])[0][0])

    # ---- one campaigncall -----------------------------------------------------------------

    def find_id(self, id_or_reference: str) -> str | None:
        """The campaigncall with this id, else the newest one with this reference_id."""
        text = id_or_reference.strip().lower()
        found = self._all("SELECT id FROM campaigncalls WHERE id = ?", (text,))
        if not found:
            found = self._all(
                "SELECT id FROM campaigncalls WHERE reference_id = ?"
                " ORDER BY tm_create DESC LIMIT 1",
                (text,),
            )
        return cast("str | None", found[0][0] if found else None)

    def detail(self, id_or_reference: str) -> CampaigncallDetail | None:
        ident = self.find_id(id_or_reference)
        if ident is None:
            return None
        call = self._dicts("SELECT * FROM campaigncalls WHERE id = ?", (ident,))[0]
        targets = self._dicts(
            "SELECT * FROM outdialtargets WHERE id = ?", (call["outdial_target_id"],)
        )
        target = targets[0] if targets else None
        outplans = self._dicts("SELECT * FROM outplans WHERE id = ?", (call["outplan_id"],))
        campaigns = self._dicts("SELECT * FROM campaigns WHERE id = ?", (call["campaign_id"],))
        retry = NO_RETRY
        if target is not None:
            retry = RetryPlan(
                target["retry_state"], target["retry_index"], target["retry_try"],
                target["retry_due"],
            )  # fmt: skip
        events = [
            EventRow(*r)
            for r in self._all(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE campaigncall_id = ? ORDER BY id",
                (ident,),
            )
        ]
        attempts = [
            dict(zip(ATTEMPT_FIELDS, r, strict=True))
            for r in self._all(_ATTEMPTS, (call["outdial_target_id"],))
        ]
        timeline = self._all(
            f"SELECT {', '.join(CALL_FIELDS)} FROM calls WHERE id = ?", (call["reference_id"],)
        )
        partial = {
            name
            for name, rows in (
                ("outdialtarget", targets),
                ("outplan", outplans),
                ("campaign", campaigns),
            )  # fmt: skip
            if rows and rows[0].get("partial")
        }
        return CampaigncallDetail(
            campaigncall=row_to_json(Campaigncall, call),
            outdialtarget=row_to_json(Outdialtarget, target) if target else None,
            outplan=row_to_json(Outplan, outplans[0]) if outplans else None,
            campaign=row_to_json(Campaign, campaigns[0]) if campaigns else None,
            retry=retry,
            events=events,
            attempts=attempts,
            call=dict(zip(CALL_FIELDS, timeline[0], strict=True)) if timeline else None,
            partial=frozenset(partial),
        )

    # ---- events and campaigns ---------------------------------------------------------------

    def latest_events(self, limit: int = 200) -> list[EventRow]:
        """The newest events, oldest first (so a panel can append them)."""
        rows = self._all(f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY id DESC LIMIT ?", (limit,))
        return [EventRow(*r) for r in reversed(rows)]

    def events_after(self, event_id: int, limit: int = 1000) -> list[EventRow]:
        rows = self._all(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (event_id, limit),
        )
        return [EventRow(*r) for r in rows]

    def campaigns(self) -> list[tuple[str, str]]:
        """(id, name) of every campaign, by name."""
        return [(r[0], r[1]) for r in self._all("SELECT id, name FROM campaigns ORDER BY name, id")]

    def stale_count(self, now: datetime, cap: int = FILTER_COUNT_CAP) -> int:
        """How many calls dial past their dial timeout (store.rules.is_stale), up to `cap`.

        A dialing call's group order is when it started, so the group's order index alone
        counts those older than the longest timeout (stale, whatever their outplan); only the
        calls between the shortest timeout and the longest are looked at one by one. (Each
        refresh asks: at a million rows, 4,000 rows read one by one took 36 ms of a 52 ms
        refresh.)"""
        timeouts = {dial_timeout_ms(r[0]) for r in self._all("SELECT dial_timeout FROM outplans")}
        timeouts.add(dial_timeout_ms(None))  # a call whose outplan is not here
        surely = format_tm(stale_before(now, max(timeouts)))
        maybe = format_tm(stale_before(now, min(timeouts)))
        stale = int(
            self._all(
                "SELECT count(*) FROM (SELECT 1 FROM campaigncalls c"
                " WHERE c.status = 'dialing' AND c.tm_order < ? LIMIT ?)",
                (surely, cap),
            )[0][0]
        )
        if stale >= cap or surely == maybe:
            return min(stale, cap)
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.tm_create, (SELECT o.dial_timeout FROM outplans o"
                " WHERE o.id = c.outplan_id) FROM campaigncalls c WHERE c.status = 'dialing'"
                " AND c.tm_order >= ? AND c.tm_order < ? ORDER BY c.tm_order",
                (surely, maybe),
            )
            for tm_create, timeout in rows:
                age = (now - to_datetime(tm_create)).total_seconds() * 1000
                stale += is_stale("dialing", age, dial_timeout_ms(timeout))
                if stale >= cap:
                    break
            rows.close()
        return min(stale, cap)

    def overview(self, now: datetime) -> Overview:
        """Every campaign's overview (store.overview), read in one transaction."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                return read_overview(self._conn, now)
            finally:
                self._conn.execute("COMMIT")

    def campaign_statuses(self) -> dict[str, str]:
        """VoIPbin's status (run, stopping, stop) of every campaign, by id."""
        return {r[0]: r[1] for r in self._all("SELECT id, status FROM campaigns")}

    def events_by_id(self, ids: list[int]) -> list[EventRow]:
        """These events as they are now, by id (a parked one is updated in place when it ends)."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows += self._all(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE id IN ({marks}) ORDER BY id", chunk
            )
        return [EventRow(*r) for r in rows]

    # ---- a campaigncall by the short id the tables show (show) -------------------------------

    def look_up(self, text: str, limit: int = 10) -> Lookup:
        """The campaigncalls an id's start (4 characters or more, as the filter takes it) or
        the tables' short form (`5ce2ca01…0001`) names, by their id or reference_id, newest
        first (at most `limit`), and the events parked waiting for such an id."""
        start, end = short_id_parts(text)
        if len(start) < SHORT_ID_CHARS or not _MAYBE_ID.fullmatch(start + end):
            return Lookup(start, end)
        ranges = [start, start + "~"]
        ids = [
            str(r[0])
            for r in self._all(
                "SELECT id FROM campaigncalls WHERE ((id >= ? AND id < ?) OR"
                " (reference_id >= ? AND reference_id < ?)) AND (id LIKE ? OR reference_id LIKE ?)"
                " ORDER BY tm_create DESC, id DESC LIMIT ?",
                [*ranges, *ranges, f"%{end}", f"%{end}", limit + 1],
            )
        ]
        parked = [
            (str(r[0]), EventRow(*r[1:]))
            for r in self._all(
                f"SELECT p.lookup, {_EVENT_COLUMNS} FROM parked_events p"
                " JOIN events ON events.id = p.event_id"
                " WHERE p.lookup >= ? AND p.lookup < ? AND p.lookup LIKE ? ORDER BY events.id",
                [*ranges, f"%{end}"],
            )
        ]
        return Lookup(start, end, ids[:limit], len(ids) > limit, parked)

    def interrupt(self) -> None:
        """Stop the query running on this connection now (it raises "interrupted"); thread-safe."""
        self._conn.interrupt()


async def data_changes(queries: Queries, interval: float = 0.05) -> AsyncIterator[int]:
    """Yields each time the database changes, whoever wrote it (PRAGMA data_version)."""
    last = await asyncio.to_thread(queries.data_version)
    while True:
        await asyncio.sleep(interval)
        version = await asyncio.to_thread(queries.data_version)
        if version != last:
            last = version
            yield version


def detail_json(detail: CampaigncallDetail) -> str:
    """`show --json`: readable in any script, no hidden character raw (store.text)."""
    return visible_json(json.dumps(detail.as_json(), ensure_ascii=False, indent=2))
