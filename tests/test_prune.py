"""processed/ is pruned after the keep time, oldest first; rejected/ never is (SPEC: Drop files)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from store.dropwrite import DropWriter, joined
from store.prune import prune_processed


def test_old_processed_files_go_and_rejected_ones_stay(drop: Path) -> None:
    for name in ("a.json", "b.json"):
        (drop / "processed" / name).write_text("{}")
    (drop / "rejected" / "c.json").write_text("{}")
    (drop / "rejected" / "c.json.error.txt").write_text("why")
    (drop / "processed" / "folder").mkdir()
    now = time.time()
    assert prune_processed(drop, 3600, now=now) == 0  # all just arrived
    assert prune_processed(drop, 3600, now=now + 7200) == 2
    assert sorted(p.name for p in (drop / "processed").iterdir()) == ["folder"]
    assert sorted(p.name for p in (drop / "rejected").iterdir()) == ["c.json", "c.json.error.txt"]


def test_a_file_counts_from_when_it_was_moved_to_processed(drop: Path) -> None:
    """An old file (mtime a year ago) that was just processed stays its full keep time."""
    path = drop / "processed" / "old.json"
    path.write_text("{}")
    year_ago = time.time() - 365 * 86400
    os.utime(path, (year_ago, year_ago))
    os.replace(path, drop / "processed" / "moved.json")  # a rename sets ctime to now
    assert prune_processed(drop, 86400) == 0


def test_no_folder_prunes_nothing(tmp_path: Path) -> None:
    assert prune_processed(tmp_path / "nowhere", 0) == 0


def test_drop_writer_names_sort_in_arrival_order_and_leave_no_temp(drop: Path) -> None:
    writer = DropWriter(drop, "ws")
    paths = [writer.write(joined([b'{"n": %d}' % n])) for n in range(50)]
    assert sorted(p.name for p in paths) == [p.name for p in paths]
    assert sorted(p.name for p in drop.iterdir() if p.is_file()) == [p.name for p in paths]
    assert paths[0].read_bytes() == b'{"n": 0}'
    assert joined([b"{}", b"{}"]) == b"[\n{},\n{}\n]\n"
