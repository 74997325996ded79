"""The local stack's subscriber clock, which tests move (``pressline local --clock-file``).

Digests go at a set hour: a test of them on the local stack cannot wait for it, so it moves
the clock the subscriber stages read (``subscribers.runtime.utc_now``: the digest run, Notify's
digest log, Deliver's claims, tokens) by writing an offset in seconds to a file, read at each
call. Publication (Validate, Render, Index, the post scheduler) keeps the real clock: a post
dated a minute ago is still new. Only ever forward: a clock that went back would look like a
run before the one that came first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path


def offset_of(path: Path) -> timedelta | None:
    """The offset the file holds (seconds, a number); None while it is missing, empty (being
    written by ``echo``) or unreadable."""
    try:
        return timedelta(seconds=float(path.read_text(encoding="utf-8").strip()))
    except (OSError, ValueError):
        return None


def shifted(real: Callable[[], datetime], path: Path) -> Callable[[], datetime]:
    """``real`` plus the file's offset, or the last offset read while the file cannot be read
    (a clock that went back to the real time for a moment would undo what was moved)."""
    last = timedelta(0)

    def now() -> datetime:
        nonlocal last
        read = offset_of(path)
        if read is not None:
            last = read
        return real() + last

    return now


def follow_clock_file(path: Path) -> None:
    """Make this process's subscriber clock run ``path``'s offset ahead of the real one. Called
    before any handler builds its services (they take ``runtime.utc_now`` once)."""
    from pressline.subscribers import runtime

    setattr(runtime, "utc_now", shifted(runtime.utc_now, path))  # noqa: B010 (a module's function, replaced on purpose)


def move_clock(path: Path, to: datetime, real_now: datetime) -> None:
    """For tests: set the offset so that the local stack's subscriber clock reads ``to`` now."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(f"{(to - real_now).total_seconds():.3f}", encoding="utf-8")
    temporary.replace(path)  # whole: a reader never sees half a number
