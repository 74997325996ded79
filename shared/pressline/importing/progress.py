"""Progress of a long command (``pressline import``, ``pressline rebuild``): a tqdm bar with
counts and an ETA on a terminal, plain lines when the output is a file or a pipe (a CI log
would otherwise fill with carriage returns), and messages that never tear the bar.

tqdm is part of the ``import`` extra; without it (a bare install) the plain lines are used
on a terminal too.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO

# Plain output says where it is at most this often (in items): a line per item of 10,000
# would bury the problems, one at the end would say nothing for minutes.
PLAIN_EVERY_PERCENT = 10


class Progress:
    """``with Progress(total, "Importing") as progress: progress.advance(); progress.say("…")``."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, *, bar: bool | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.done = 0
        self._bar: Any = None
        self._next_line = 0
        wanted = _is_terminal(self.stream) if bar is None else bar
        if wanted:
            try:
                from tqdm import tqdm
            except ImportError:
                wanted = False
            else:
                self._bar = tqdm(total=total, desc=label, unit="item", file=self.stream, dynamic_ncols=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def advance(self, count: int = 1, status: str | None = None) -> None:
        self.done += count
        if self._bar is not None:
            if status:
                self._bar.set_postfix_str(status, refresh=False)
            self._bar.update(count)
            return
        step = max(1, self.total * PLAIN_EVERY_PERCENT // 100)
        if self.done >= self._next_line or self.done == self.total:
            print(f"{self.label}: {self.done}/{self.total}" + (f" ({status})" if status else ""), file=self.stream)
            self._next_line = self.done + step

    def say(self, message: str) -> None:
        """A line above the bar (or among the plain lines)."""
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["Progress"]
