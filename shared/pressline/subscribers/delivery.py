"""Deliver's core: one email per (post, subscriber), whatever SQS repeats.

For a batch: build each recipient's email (pure, before anything is recorded), claim
their ledger records ``sending`` with conditional writes (one call for the batch), then
send each and mark it ``sent`` right after its own send. A record that is ``sent`` (or
``rejected``) is skipped; one that another invocation is ``sending`` is left to it (the
batch is retried later). A ``sending`` record older than the lease can only belong to an
invocation that died, so it is taken over and sent: only a crash between a send and its
mark, i.e. inside the send call, can repeat an email (marking the batch at once instead
would save calls but widen that window from one email to the whole batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pressline.errors import RetryableError
from pressline.models import DeliveryBatch, EmailContent, PostPublished
from pressline.subscribers import messages
from pressline.subscribers.bodies import PostBodies
from pressline.subscribers.model import Subscriber, wants
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

        Raises RetryableError when the provider throttles (after releasing every claim not
        sent yet) or when recipients are being sent by another invocation; what was sent
        stays sent."""
        post = batch.post
        result = DeliveryResult()
        ids = unique(batch.subscriber_ids)
        subscribers = self.repository.get_many(ids)
        wanted: dict[str, Subscriber] = {}
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
            else:
                wanted[sid] = subscriber
        if not wanted:  # a batch of skipped ones reads and claims nothing
            return result
        # Every email is made before anything is claimed (one that cannot be made claims
        # nothing), then the batch is claimed in one call; each claim is still marked right
        # after its own send, so a crash repeats at most the email being sent.
        body = self.full_body(post)
        now = self.clock()
        emails = {
            sid: messages.post_email(
                self.site,
                post,
                subscriber.address,
                sid,
                messages.subscriber_links(self.site, self.keys, sid),
                subscriber.tags,
                now,
                body,
            )
            for sid, subscriber in wanted.items()
        }
        claims = self.ledger.claim_many(post.slug, list(emails), now, self.lease)
        claimed: list[str] = []
        for sid in emails:
            if claims[sid] == "done":
                result.already_sent.append(sid)
            elif claims[sid] == "busy":
                result.busy.append(sid)
            else:
                claimed.append(sid)
        for index, sid in enumerate(claimed):
            try:
                message_id = self.mailer.send(emails[sid])
            except RecipientRejected as error:
                self.ledger.mark_rejected(post.slug, sid, str(error), self.clock())
                result.rejected.append(sid)
                continue
            except RetryableError:
                # Refused for now, so certainly not sent, as none after it: the retry
                # claims them again at once instead of waiting for the lease.
                self.ledger.release_many(post.slug, claimed[index:])
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
