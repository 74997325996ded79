"""Where a full email's body comes from: the post's rendering, as Render stored it.

``RenderedBodies.body_of(post)`` reads ``rendered/<source key>/<version>.json`` (the version
Index announced, ``PostPublished.version``) through ``indexing.renderings.load_rendering``, the
one way a rendering comes out of the source bucket (authors can write there: it is sanitized
again), and makes its ``PostBody`` (``subscribers.post_body``). Deliver calls it once per batch.

A body that cannot be read is no reason to hold a post's email back: a message queued before
``version`` existed, a rendering deleted since (without ListBucket, S3 answers 403 rather than
404) or refused, all give None and the email carries the summary. Only a transient fault
(throttling, a timeout: RetryableError) is raised, so the batch is retried before anything is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pressline.errors import RetryableError

if TYPE_CHECKING:
    from pressline.adapters.store import ObjectStore
    from pressline.models import PostPublished
    from pressline.subscribers.messages import PostBody

logger = logging.getLogger(__name__)


class PostBodies(Protocol):
    """Deliver's port for a full email's body (a fake in the tests)."""

    def body_of(self, post: PostPublished) -> PostBody | None: ...


@dataclass(frozen=True)
class RenderedBodies:
    store: ObjectStore  # the source bucket

    def body_of(self, post: PostPublished) -> PostBody | None:
        """The whole of ``post`` for its email, or None (then the email carries the summary)."""
        if not post.version:
            return None
        # Imported here: a Deliver container whose emails are summaries never loads them.
        from pressline.indexing.renderings import load_rendering
        from pressline.posts.paths import rendered_key_of
        from pressline.subscribers.post_body import post_body

        key = rendered_key_of(post.source_key, post.version)
        try:
            rendered = load_rendering(self.store, key)
        except RetryableError:
            raise
        except Exception as error:  # AccessDenied for a deleted rendering, or any other refusal
            logger.warning(
                "Could not read %s (%s): the email of %s carries its summary", key, type(error).__name__, post.slug
            )
            return None
        if rendered is None:
            logger.warning("No rendering at %s: the email of %s carries its summary", key, post.slug)
            return None
        return post_body(rendered.body_html, post.url)
