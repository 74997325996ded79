"""Write-behind in front of an ObjectStore: a batch's writes are made once, together.

Index applies a whole batch of changes before it writes anything: each change reads what
the changes before it wrote (the search shard of a month, the newest-posts state), and a
page that several changes touch (the home page, a month's archive) must be written once,
with its final content, not once per change. ``BufferedStore`` gives exactly that: reads
see the pending writes first (read your writes), base reads are cached for the batch, and
``flush`` makes every pending write at once, several in flight, each key once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING

from pressline.adapters.store import KeyHistory, ObjectHead, ObjectStore, StoredObject

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

PARALLEL_WRITES = 8  # S3 requests in flight at once: a batch's writes take a few round trips


@dataclass
class PendingPut:
    """A write waiting for ``flush``. ``body`` may be a function that makes the bytes: a page
    that every change of a batch rewrites is then made once, from the last change's values."""

    body: bytes | Callable[[], bytes]
    content_type: str
    cache_control: str | None
    redirect: str | None = None  # S3's WebsiteRedirectLocation (an old URL's object)

    def data(self) -> bytes:
        if callable(self.body):
            self.body = self.body()
        return self.body


Pending = PendingPut | None  # None: a pending delete


@cache
def _pool(size: int) -> ThreadPoolExecutor:
    """One pool per container (threads are not started again for every batch)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="pressline-writer")


def run_parallel(tasks: Iterable[Callable[[], object]], width: int | None = None) -> None:
    """Run independent I/O tasks ``width`` at a time; the first failure is raised once all
    have ended (each task is idempotent, so a retry of the whole set is safe)."""
    todo = list(tasks)
    width = PARALLEL_WRITES if width is None else width
    if len(todo) <= 1 or width <= 1:  # one at a time, in this thread
        for task in todo:
            task()
        return
    from concurrent.futures import wait
    from contextvars import copy_context

    # Each task runs in a copy of this context: what the invocation set (correlation,
    # instrumentation, injected faults) holds in the worker threads too.
    pool = _pool(width)
    futures = [pool.submit(copy_context().run, task) for task in todo]
    wait(futures)
    for future in futures:
        future.result()


class BufferedStore:
    """An ObjectStore whose writes wait for ``flush``. Conditional writes (``if_absent``)
    and version reads go straight through: they are decisions, not results."""

    def __init__(self, base: ObjectStore) -> None:
        self.base = base
        self.pending: dict[str, Pending] = {}
        self._read: dict[str, StoredObject | None] = {}

    # ----------------------------------------------------------------- reads
    def get(self, key: str, version_id: str | None = None, *, limit: int | None = None) -> StoredObject | None:
        if version_id is not None or limit is not None:
            return self.base.get(key, version_id, limit=limit)
        if key in self.pending:
            write = self.pending[key]
            if write is None:
                return None
            return StoredObject(key, write.data(), None, None, None, write.content_type, redirect=write.redirect)
        if key not in self._read:
            self._read[key] = self.base.get(key)
        return self._read[key]

    def head(self, key: str) -> ObjectHead | None:
        return self.base.head(key)

    def history(self, key: str, limit: int) -> KeyHistory:
        return self.base.history(key, limit)

    def current_versions(self, prefix: str, max_pages: int) -> dict[str, ObjectHead] | None:
        return self.base.current_versions(prefix, max_pages)

    # ----------------------------------------------------------------- writes
    def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        cache_control: str | None = None,
        *,
        if_absent: bool = False,
        redirect: str | None = None,
    ) -> bool:
        if if_absent:
            return self.base.put(key, body, content_type, cache_control, if_absent=True, redirect=redirect)
        self.pending[key] = PendingPut(body, content_type, cache_control, redirect)
        return True

    def put_later(
        self, key: str, make: Callable[[], bytes], content_type: str, cache_control: str | None = None
    ) -> None:
        """Like ``put``, with the bytes made at ``flush`` (or when read), only if still wanted."""
        self.pending[key] = PendingPut(make, content_type, cache_control)

    def delete(self, key: str) -> None:
        self.pending[key] = None

    # ----------------------------------------------------------------- batch control
    def mark(self) -> dict[str, Pending]:
        """What is pending now, to go back to if the change being made fails (see ``restore``)."""
        return dict(self.pending)

    def restore(self, mark: dict[str, Pending]) -> None:
        self.pending = dict(mark)

    def materialize(self) -> None:
        """Make the bytes of every pending write now (a failure to make one is raised before
        anything is written)."""
        for write in self.pending.values():
            if write is not None:
                write.data()

    def flush(self, width: int | None = None) -> list[str]:
        """Make every pending write (each key once, its last value); returns the keys."""
        writes, self.pending = self.pending, {}
        run_parallel((partial(self._make, key, write) for key, write in writes.items()), width)
        for key in writes:
            self._read.pop(key, None)
        return list(writes)

    def _make(self, key: str, write: Pending) -> None:
        if write is None:
            self.base.delete(key)
        else:
            self.base.put(
                key, write.data(), write.content_type, cache_control=write.cache_control, redirect=write.redirect
            )
