"""Changing a subscriber's tags and frequency, and closing a digest window: which audience
rows a subscriber leaves and joins, and where its undigested window starts (pure; both
repositories apply the plan as one versioned write).

The rules (issue 15). The delivery ledger's (post, subscriber) record, claimed by whoever
comes first (an instant email or a digest), is what makes each post reach a subscriber
once, whatever carries it; these rules make sure something does carry it:

- instant -> daily/weekly at X: ``digest_from = digests.switched_digest_from`` (X minus
  ``digests.IN_FLIGHT``, the longest an instant email can still be on its way, or the
  confirmation if later). Every instant email still in flight at the switch falls in the
  window (Deliver skips a digest subscriber; the digest carries the post), and those already
  sent have ledger records and are left out.
- daily <-> weekly: ``digest_from`` unchanged: the open window carries over.
- daily/weekly -> instant at X: the instant rows come back and the digest row stays with
  ``until = X``: that frequency's next digest sends the posts logged in [digest_from, X), then
  the row goes and ``digest_from`` is cleared (``plan_finish``). Posts logged from X on are
  instant emails.
- A subscriber has at most one digest row: switching to a digest while a final digest of
  another frequency is owed replaces that row (the new window starts at the kept
  ``digest_from``, so it covers what was owed).
- Tags apply to every row at once; a digest matches the tags as they are when it is made.
- Changes apply from the next email: an instant email or a digest already being sent is not
  recalled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import get_args

from pressline.subscribers.digests import switched_digest_from
from pressline.subscribers.model import (
    DIGEST_PREFIX,
    Frequency,
    Member,
    Subscriber,
    audiences_of,
    digest_audience,
)

FREQUENCIES: tuple[Frequency, ...] = get_args(Frequency)  # instant, daily, weekly: the model's own list


@dataclass(frozen=True)
class Preferences:
    """A confirmed subscriber as stored: the profile, its audience rows (by audience) and the
    profile's version, which a write of a plan made from it is conditional on."""

    subscriber: Subscriber
    rows: dict[str, Member]
    version: int


@dataclass(frozen=True)
class PreferencesPlan:
    """The subscriber as it will be, and its audience rows to write and to delete."""

    subscriber: Subscriber
    put: dict[str, Member] = field(default_factory=dict)  # audience -> row
    delete: frozenset[str] = frozenset()


def _owed(rows: dict[str, Member]) -> dict[str, Member]:
    """The digest rows that still owe a final digest (``until`` set)."""
    return {audience: row for audience, row in rows.items() if audience.startswith(DIGEST_PREFIX) and row.until}


def plan_preferences(
    current: Subscriber, rows: dict[str, Member], tags: tuple[str, ...], frequency: Frequency, now: datetime
) -> PreferencesPlan:
    """What changing ``current`` (confirmed; ``rows``: its audience rows) to ``tags`` and
    ``frequency`` at ``now`` writes. Applying the same choice again changes nothing more."""
    sid = current.id
    put: dict[str, Member] = {}
    digest_from: datetime | None
    if frequency == "instant":
        for audience in audiences_of(tags):
            put[audience] = Member(id=sid, tags=tags)
        if current.frequency != "instant":
            # The digest owes the posts of [digest_from, now): its row stays, ending here.
            start = current.digest_from or switched_digest_from(current, now)
            put[digest_audience(current.frequency)] = Member(id=sid, tags=tags, digest_from=start, until=now)
        else:
            for audience, row in _owed(rows).items():  # a final digest still owed keeps its end
                put[audience] = row.model_copy(update={"tags": tags})
        owed = [row for audience, row in put.items() if audience.startswith(DIGEST_PREFIX)]
        digest_from = owed[0].digest_from if owed else None
    else:
        digest_from = switched_digest_from(current, now)
        put[digest_audience(frequency)] = Member(id=sid, tags=tags, digest_from=digest_from)
    subscriber = current.model_copy(update={"tags": tags, "frequency": frequency, "digest_from": digest_from})
    return PreferencesPlan(subscriber=subscriber, put=put, delete=frozenset(set(rows) - set(put)))


def plan_finish(
    current: Subscriber, rows: dict[str, Member], frequency: Frequency, cutoff: datetime
) -> PreferencesPlan | None:
    """What a digest of ``frequency`` up to ``cutoff``, sent (or empty) for ``current``,
    writes: its window moves on to the cutoff (only forward); a final digest's row (``until``
    at or before the cutoff) goes, and with it ``digest_from`` once no digest is owed. None
    when nothing changes (a repeated finish, or the subscriber moved to another frequency:
    their row of this frequency is gone)."""
    audience = digest_audience(frequency)
    row = rows.get(audience)
    if row is None:
        return None
    # A subscriber has at most one digest row, and the profile's digest_from is its start.
    if row.until is not None and row.until <= cutoff:
        subscriber = current.model_copy(update={"digest_from": None}) if current.frequency == "instant" else current
        return PreferencesPlan(subscriber=subscriber, put={}, delete=frozenset({audience}))
    if row.digest_from is not None and row.digest_from >= cutoff:
        return None
    return PreferencesPlan(
        subscriber=current.model_copy(update={"digest_from": cutoff}),
        put={audience: row.model_copy(update={"digest_from": cutoff})},
        delete=frozenset(),
    )
