"""Child process, the apply benchmark's baseline: hangup drop files applied by raw sqlite3,
the same three writes per event, one transaction per file; prints the events applied.

    python -m bench._raw_apply DB FILE...

Only the standard library and store.timefmt (itself standard library only) are imported, so
the child's start-up is Python's and nothing more.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from store.timefmt import now_tm, parse_tm

BUSY_TIMEOUT_S = 10.0
# The bench's hangups carry only reasons VoIPbin knows (bench.data.HANGUP_REASONS).
FAIL_REASONS = frozenset(["failed", "busy", "cancel", "timeout", "noanswer", "dialout", "amd"])


def raw_connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def raw_apply_file(conn: sqlite3.Connection, drop_file: Path) -> int:
    """The minimum the same hangups need, by hand: one transaction, prepared statements."""
    events = json.loads(drop_file.read_bytes())
    tm = now_tm()
    conn.execute("BEGIN IMMEDIATE")
    for position, event in enumerate(events):
        call = event["data"]
        reason = call["hangup_reason"]
        result = "success" if reason == "normal" else "fail"
        assert result == "success" or reason in FAIL_REASONS, reason
        when = parse_tm(call.get("tm_hangup") or call.get("tm_update")) or tm
        cc_id, target_id = conn.execute(
            "SELECT id, outdial_target_id FROM campaigncalls WHERE reference_id = ?",
            (call["id"],),
        ).fetchone()
        conn.execute(
            "UPDATE campaigncalls SET status = 'done', result = ?, tm_update = ? WHERE id = ?",
            (result, when, cc_id),
        )
        conn.execute(
            "UPDATE outdialtargets SET status = ?, tm_update = ? WHERE id = ?",
            ("done" if result == "success" else "idle", when, target_id),
        )
        conn.execute(
            "INSERT INTO events (tm, file, position, type, campaigncall_id, reason, outcome,"
            " raw) VALUES (?, ?, ?, 'call_hangup', ?, ?, 'applied', ?)",
            (tm, drop_file.name, position, cc_id, reason, json.dumps(event)),
        )
    conn.execute("COMMIT")
    return len(events)


def main(argv: list[str]) -> int:
    conn = raw_connect(Path(argv[0]))
    try:
        print(sum(raw_apply_file(conn, Path(name)) for name in argv[1:]))
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
