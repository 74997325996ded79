"""WebSub (W3C Recommendation, 2018) publishing: which feeds a batch changed, and what a hub's
answer to a ping means. Pure functions; Index and the WebSub stage do the I/O.

The rule, "one ping per feed per change": a feed is pinged when a batch writes bytes whose
digest differs from the one the catalog recorded when that feed was last written (the
``FEEDS`` blob, committed with the catalog's changes). So a draft, a scheduled post not yet
due, a duplicate or stale event (none of which writes a feed) and an edit that leaves a feed's
bytes as they were ping nothing, and a batch pings each changed feed once, however many of its
changes touched it. The digests are committed with the catalog, after the pings are sent: a
batch that fails anywhere before its commit is retried against the old digests and pings
again (at least once; a hub takes a second ping for the same bytes as a no-op), and once it is
committed a redelivery changes nothing. A deleted feed (its tag lost its last post) is not
pinged: there is nothing left for a hub to fetch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Literal

from pydantic import BaseModel

from pressline.indexing.layout import is_feed_key

FEEDS_BLOB = "FEEDS"  # the catalog blob: feed key -> digest of the bytes last written there
DIGEST_CHARS = 32  # of the SHA-256's hex: 128 bits, a blob of ~70 bytes a feed


class FeedChanged(BaseModel):
    """Index -> WebSub queue: the feed at ``topic`` (its self URL) changed to bytes of ``digest``."""

    type: Literal["feed.changed"] = "feed.changed"
    topic: str
    digest: str  # SHA-256 of the feed's new bytes: the change this ping is for (logs, tests)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def feed_changes(
    pending: Mapping[str, bytes | None], known: Mapping[str, str], url_of: Callable[[str], str]
) -> tuple[list[FeedChanged], dict[str, str]]:
    """The pings for a batch's pending writes (key -> new bytes, None: deleted) against the
    digests ``known`` from earlier batches, and the digests to keep from now on."""
    pings: list[FeedChanged] = []
    digests = dict(known)
    for key, body in pending.items():
        if not is_feed_key(key):
            continue
        if body is None:
            digests.pop(key, None)
            continue
        full = digest(body)
        if known.get(key) != full[:DIGEST_CHARS]:
            pings.append(FeedChanged(topic=url_of(key), digest=full))
        digests[key] = full[:DIGEST_CHARS]
    return pings, digests


def load_digests(data: bytes | None) -> dict[str, str]:
    """The FEEDS blob's map (empty when there is none yet: every feed written is then pinged)."""
    if not data:
        return {}
    loaded = json.loads(data)
    return {str(key): str(value) for key, value in loaded.items()} if isinstance(loaded, dict) else {}


def dump_digests(digests: Mapping[str, str]) -> bytes:
    return json.dumps(dict(sorted(digests.items())), separators=(",", ":")).encode()


# --------------------------------------------------------------------------- the hub's answer
PingVerdict = Literal["done", "refused", "retry"]


def ping_verdict(status: int) -> PingVerdict:
    """What a hub's HTTP status means for a publish ping: 2xx done; 429 (slow down) and 5xx
    retried (through the queue, then its dead-letter queue); any other 4xx refused for good
    (the hub will not take this topic: retrying would never help), reported and dropped."""
    if 200 <= status < 300:
        return "done"
    if status == 429 or status >= 500:
        return "retry"
    return "refused"


def publish_form(topic: str) -> bytes:
    """The ping's body: ``hub.mode=publish`` and the topic as ``hub.url`` (what Google's
    PubSubHubbub hub, Superfeedr and WebSub.rocks take; the Recommendation leaves publishing
    to each hub), form-encoded."""
    from urllib.parse import urlencode

    return urlencode({"hub.mode": "publish", "hub.url": topic}).encode("ascii")


def check_hub_url(value: str) -> str:
    """HUB_URL as the WebSub stage posts to it: an absolute http(s) URL with a host, else a
    ValueError naming the variable and the reason."""
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"HUB_URL: {value[:80]!r} is not an http(s) URL with a host")
    return value.strip()
