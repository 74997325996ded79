"""Deliver's core: one email per (post, subscriber), whatever SQS repeats.

For each recipient: build the email (pure, before anything is recorded), claim the
ledger record ``sending`` with a conditional write, send, mark ``sent``. A record that
is ``sent`` (or ``rejected``) is skipped; one that another invocation is ``sending`` is
left to it (the batch is retried later). A ``sending`` record older than the lease can
only belong to an invocation that died, so it is taken over and sent: only a crash
between the claim and the mark, i.e. inside the send call, can repeat an email.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pressline.errors import RetryableError
from pressline.models import DeliveryBatch, EmailContent, PostPublished
from pressline.subscribers import messages
from pressline.subscribers.bodies import PostBodies
from pressline.subscribers.model import wants
from pressline.subscribers.ports import DeliveryLedger, Mailer, RecipientRejected, SubscriberRepository, unique
from pressline.subscribers.tokens import Keys

# Longer than Deliver's timeout (a live sender finishes first), shorter than the delivery
# queue's visibility timeout (the retry of a dead sender's batch may take over).
DELIVERY_LEASE = timedelta(minutes=5)


@dataclass
class DeliveryResult:
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unknown, unconfirmed, suppressed, no longer interested
    rejected: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    repository: SubscriberRepository
    ledger: DeliveryLedger
    mailer: Mailer
    keys: Keys
    site: messages.Site
    clock: Callable[[], datetime]
    lease: timedelta = DELIVERY_LEASE
    # Full emails (issue 15): the post's body, read once per batch when its setting is "full"
    # (front matter ``email:``, else ``email_content``, the site's); None: summaries only.
    bodies: PostBodies | None = None
    email_content: EmailContent = "full"

    def deliver(self, batch: DeliveryBatch) -> DeliveryResult:
        """Send ``batch``'s post to each recipient who should still get it and has not.

        Raises RetryableError when the provider throttles (after releasing that claim) or
        when recipients are being sent by another invocation; what was sent stays sent."""
        post = batch.post
        result = DeliveryResult()
        ids = unique(batch.subscriber_ids)
        subscribers = self.repository.get_many(ids)
        body: messages.PostBody | None = None
        body_read = False
        for sid in ids:
            subscriber = subscribers.get(sid)
            # A digest subscriber gets this post in a digest (its window reaches back over
            # every instant email still in flight when they switched), not as its own email.
            if (
                subscriber is None
                or not subscriber.can_receive_posts
                or subscriber.frequency != "instant"
                or not wants(subscriber.tags, post.tags)
            ):
                result.skipped.append(sid)
                continue
            if not body_read:  # at the first recipient: a batch of skipped ones reads nothing
                body, body_read = self.full_body(post), True
            now = self.clock()
            email = messages.post_email(
                self.site,
                post,
                subscriber.address,
                sid,
                messages.subscriber_links(self.site, self.keys, sid),
                subscriber.tags,
                now,
                body,
            )
            claim = self.ledger.claim(post.slug, sid, now, self.lease)
            if claim == "done":
                result.already_sent.append(sid)
                continue
            if claim == "busy":
                result.busy.append(sid)
                continue
            try:
                message_id = self.mailer.send(email)
            except RecipientRejected as error:
                self.ledger.mark_rejected(post.slug, sid, str(error), self.clock())
                result.rejected.append(sid)
                continue
            except RetryableError:
                self.ledger.release(post.slug, sid)
                raise
            self.ledger.mark_sent(post.slug, sid, message_id, self.clock())
            result.sent.append(sid)
        if result.busy:
            raise RetryableError(f"{len(result.busy)} recipient(s) of {post.slug} are being sent by another invocation")
        return result

    def full_body(self, post: PostPublished) -> messages.PostBody | None:
        """The whole post for its email when its setting (its own, else the site's) is full;
        None for a summary email, or when the body cannot be read."""
        if self.bodies is None or (post.email or self.email_content) != "full":
            return None
        return self.bodies.body_of(post)
