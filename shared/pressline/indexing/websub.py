"""WebSub (W3C Recommendation, 2018) publishing: which feeds a batch changed, and what a hub's
answer to a ping means. Pure functions; Index and the WebSub stage do the I/O.

The rule, "one ping per feed per change": a feed is pinged when a batch writes bytes that
differ from the ones its URL served before the batch (S3's current object). So a draft, a
scheduled post not yet due, a duplicate or stale event (none of which writes a feed) and an
edit that leaves a feed's bytes as they were ping nothing, and a batch pings each changed feed
once, however many of its changes touched it. A deleted feed (its tag lost its last post) is
not pinged: there is nothing left for a hub to fetch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel

from pressline.indexing.layout import is_feed_key

# A single-part PUT's ETag, with SSE-S3 or no encryption, is the MD5 of the bytes (quoted); a
# multipart or SSE-KMS object's is not, and its bytes are compared instead.
_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')


class FeedChanged(BaseModel):
    """Index -> WebSub queue: the feed at ``topic`` (its self URL) changed to bytes of ``digest``."""

    type: Literal["feed.changed"] = "feed.changed"
    topic: str
    digest: str  # sha256 of the feed's new bytes: the change this ping is for (logs, tests)


def written_feeds(pending: Mapping[str, bytes | None]) -> dict[str, bytes]:
    """The feeds among a batch's pending writes (key -> new bytes; deletes left out)."""
    return {key: body for key, body in pending.items() if body is not None and is_feed_key(key)}


def md5_of_etag(etag: str | None) -> str | None:
    """The MD5 an ETag is (hex), or None when it is not one (multipart, SSE-KMS, a fake store)."""
    found = _MD5_ETAG.match(etag or "")
    return found.group(1) if found else None


def same_as_etag(body: bytes, etag: str | None) -> bool | None:
    """Whether ``body`` is the object whose ETag is ``etag``; None if the ETag cannot say."""
    md5 = md5_of_etag(etag)
    if md5 is None:
        return None
    return hashlib.md5(body, usedforsecurity=False).hexdigest() == md5


def feed_changed(topic: str, body: bytes) -> FeedChanged:
    return FeedChanged(topic=topic, digest=hashlib.sha256(body).hexdigest())


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
