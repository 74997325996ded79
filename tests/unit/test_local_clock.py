"""The local stack's movable subscriber clock (pressline local --clock-file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pressline.local.clock import move_clock, offset_of, shifted

REAL = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)


def test_the_clock_follows_the_file_and_is_real_without_it(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    now = shifted(lambda: REAL, path)
    assert now() == REAL  # no file yet
    move_clock(path, REAL + timedelta(days=1, minutes=1), REAL)
    assert now() == REAL + timedelta(days=1, minutes=1)
    path.write_text("")  # `echo 86400 > FILE` truncates first: the clock keeps its last offset
    assert offset_of(path) is None and now() == REAL + timedelta(days=1, minutes=1)
