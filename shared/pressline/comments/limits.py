"""The rate-limit counters one comment counts against: per address, per client network and
per post, as ``subscribers.ports.Allowance`` (the same fixed-window counters sign-ups use,
so the same repository method enforces them).

An address writes a few comments an hour; a network (an IPv4 address or an IPv6 /64) a few
more (households, offices); a post being brigaded gets a ceiling of its own. The keys are
keyed hashes: a table dump shows no address, IP or slug.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from pressline.subscribers.addresses import client_network, mailbox_of
from pressline.subscribers.ports import Allowance
from pressline.subscribers.service import Limit

# Made once here: Limit is frozen, and a dataclass default must not be a call.
ADDRESS_LIMIT = Limit(5, timedelta(hours=1))
CLIENT_LIMIT = Limit(20, timedelta(hours=1))
POST_LIMIT = Limit(100, timedelta(hours=1))


@dataclass(frozen=True)
class CommentLimits:
    address: Limit = ADDRESS_LIMIT
    client: Limit = CLIENT_LIMIT
    post: Limit = POST_LIMIT

    def allowances(self, id_key: bytes, address: str, source_ip: str | None, post_slug: str) -> list[Allowance]:
        """The counters one comment by ``address`` from ``source_ip`` on ``post_slug`` counts
        against. The address counts by mailbox (``a.b+x@gmail.com`` is ``ab@gmail.com``)."""

        def hashed(kind: str, value: str) -> str:
            return hmac.new(id_key, f"comment-limit/{kind}/{value}".encode(), hashlib.sha256).hexdigest()[:32]

        counted = {
            "comment-address": (self.address, mailbox_of(address)),
            "comment-client": (self.client, client_network(source_ip)),
            "comment-post": (self.post, post_slug),
        }
        return [
            Allowance(name=kind, key=hashed(kind, value), limit=limit.count, window=limit.window)
            for kind, (limit, value) in counted.items()
        ]
