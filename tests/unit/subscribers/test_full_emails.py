"""Deliver sends the whole post (issue 15): its rendering, read once per batch when the post's
setting (front matter ``email:``, else the site's EmailContent) is full; the summary otherwise,
past Gmail's clipping size, and whenever the body cannot be read."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from pressline.adapters.store import MemoryStore, StoredObject
from pressline.errors import RetryableError
from pressline.models import DeliveryBatch, EmailContent, PostPublished, SourceRef
from pressline.posts.paths import rendered_key, version_token
from pressline.site.pages import Site as PageSite
from pressline.stages.render import render
from pressline.subscribers.bodies import RenderedBodies
from pressline.subscribers.delivery import Delivery
from pressline.subscribers.memory import FakeClock, MemoryLedger, MemoryMailer, MemoryRepository
from pressline.subscribers.messages import GMAIL_CLIP_BYTES, Site, list_id, preheader
from pressline.subscribers.tokens import Keys

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus"))

from html_safety import assert_safe

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples" / "posts").glob("*.md"))
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


class CountingStore(MemoryStore):
    """The source bucket, counting reads (each is one GetObject on AWS); ``fail`` raises instead."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.fail: Exception | None = None

    def get(self, key: str, version_id: str | None = None, *, limit: int | None = None) -> StoredObject | None:
        self.gets += 1
        if self.fail is not None:
            raise self.fail
        return super().get(key, version_id, limit=limit)


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def make_delivery(
    repository: MemoryRepository, ledger: MemoryLedger, mailer: MemoryMailer, keys: Keys, site: Site, clock: FakeClock
) -> Callable[..., Delivery]:
    def make(store: MemoryStore, email_content: EmailContent = "full") -> Delivery:
        return Delivery(
            repository, ledger, mailer, keys, site, clock, bodies=RenderedBodies(store), email_content=email_content
        )

    return make


def publish(store: MemoryStore, site: Site, raw: bytes, key: str) -> PostPublished:
    """What Render stores and Index announces for one upload of ``raw`` at ``key``."""
    ref = SourceRef(bucket="source-bucket", key=key, version_id=f"v-{key}")
    page_site = PageSite(title=site.title, url=site.url, api_url=site.api_url)
    made = render(raw, ref, uploaded_at=NOW, site=page_site, now=NOW)
    assert made.post is not None, made.errors
    store.put(rendered_key(ref), made.post.model_dump_json().encode(), "application/json")
    meta = made.post.meta
    return PostPublished(
        slug=meta.slug,
        title=meta.title,
        summary=meta.summary,
        url=f"{site.url}/posts/{meta.slug}/",
        tags=meta.tags,
        published_at=NOW,
        source_key=key,
        email=meta.email,
        version=version_token(ref),
    )


def a_post(front_matter: str = "", body: str = "The whole post, word for word.\n") -> bytes:
    return f"---\ntitle: Hello\nsummary: The summary.\n{front_matter}\n---\n{body}".encode()


def parts(raw: bytes) -> tuple[EmailMessage, str, str]:
    message: Any = message_from_bytes(raw, policy=policy.default)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "a text and an HTML part"
    # The parts' lines end in CRLF on the wire (SMTP); the bodies were made with "\n".
    return message, str(text.get_content()).replace("\r\n", "\n"), str(html.get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_each_example_posts_email_as_deliver_builds_it(
    path: Path,
    store: CountingStore,
    site: Site,
    make_delivery: Callable[..., Delivery],
    subscribe_confirmed: Callable[..., str],
    mailer: MemoryMailer,
) -> None:
    sid = subscribe_confirmed("reader@example.com")
    mailer.sent.clear()
    post = publish(store, site, path.read_bytes(), f"posts/{path.name}")
    make_delivery(store).deliver(DeliveryBatch(post=post, subscriber_ids=[sid]))

    [email] = mailer.sent
    message, text, html = parts(email.raw)
    rendered = RenderedBodies(store).body_of(post)
    assert rendered is not None
    assert rendered.text in text and "Read on Pressline Test: " + post.url in text  # the whole post, as text
    assert rendered.html in html  # and as HTML: the full email, not the summary's
    assert f">{preheader(post.summary)}" in html.replace("&#39;", "'").replace("&amp;", "&")
    assert message["List-Unsubscribe"].startswith("<https://api.example.com/subscriptions/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == list_id(site)
    assert len(html.encode("utf-8")) <= GMAIL_CLIP_BYTES
    assert_safe(html, f"the email of {path.name}")
    for src in (part.split('"', 1)[0] for part in html.split(' src="')[1:]):
        assert src.startswith("https://"), src


def test_the_photo_posts_image_is_absolute_with_its_alt(
    store: CountingStore, site: Site, make_delivery: Callable[..., Delivery], subscribe_confirmed: Callable[..., str]
) -> None:
    photo = next(path for path in EXAMPLES if "photo" in path.name)
    post = publish(store, site, photo.read_bytes(), f"posts/{photo.name}")
    body = RenderedBodies(store).body_of(post)
    assert body is not None
    assert '<img src="https://blog.example.com/media/harbour-at-dawn.png" alt="The harbour at dawn' in body.html
    assert "[Image: The harbour at dawn: a band of orange light over dark water]" in body.text


def test_an_oversized_post_falls_back_to_the_summary_and_read_on(
    store: CountingStore,
    site: Site,
    make_delivery: Callable[..., Delivery],
    subscribe_confirmed: Callable[..., str],
    mailer: MemoryMailer,
) -> None:
    sid = subscribe_confirmed("reader@example.com")
    mailer.sent.clear()
    paragraph = "A long paragraph that goes on and on, as the longest posts do. " * 20 + "\n\n"
    post = publish(store, site, a_post(body=paragraph * 120), "posts/long.md")
    make_delivery(store).deliver(DeliveryBatch(post=post, subscriber_ids=[sid]))

    message, text, html = parts(mailer.sent[0].raw)
    assert "goes on and on" not in text and "goes on and on" not in html
    assert "The summary." in text and f"Read on Pressline Test: {post.url}" in text
    assert ">Read on Pressline Test</a>" in html
    assert len(html.encode("utf-8")) < GMAIL_CLIP_BYTES
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("front_matter", "site_setting", "full"),
    [
        ("", "full", True),
        ("", "summary", False),
        ("email: summary", "full", False),
        ("email: full", "summary", True),
    ],
)
def test_the_posts_own_choice_beats_the_sites(
    front_matter: str,
    site_setting: EmailContent,
    full: bool,
    store: CountingStore,
    site: Site,
    make_delivery: Callable[..., Delivery],
    subscribe_confirmed: Callable[..., str],
    mailer: MemoryMailer,
) -> None:
    sid = subscribe_confirmed("reader@example.com")
    mailer.sent.clear()
    post = publish(store, site, a_post(front_matter), "posts/hello.md")
    make_delivery(store, site_setting).deliver(DeliveryBatch(post=post, subscriber_ids=[sid]))

    _, text, html = parts(mailer.sent[0].raw)
    assert ("The whole post, word for word." in text) is full
    assert ("<p>The whole post, word for word.</p>" in html) is full
    assert ("Read the post: " in text) is not full
    assert store.gets == (1 if full else 0)  # a summary email reads nothing


def test_the_body_is_read_once_per_batch_and_not_for_a_batch_with_nobody_to_send_to(
    store: CountingStore,
    site: Site,
    make_delivery: Callable[..., Delivery],
    subscribe_confirmed: Callable[..., str],
    mailer: MemoryMailer,
) -> None:
    ids = [subscribe_confirmed(f"reader{n}@example.com") for n in range(10)]
    mailer.sent.clear()
    post = publish(store, site, a_post(), "posts/hello.md")
    delivery = make_delivery(store)
    delivery.deliver(DeliveryBatch(post=post, subscriber_ids=ids))
    assert len(mailer.sent) == 10 and store.gets == 1
    assert all("The whole post, word for word." in parts(email.raw)[1] for email in mailer.sent)

    delivery.deliver(DeliveryBatch(post=post, subscriber_ids=["unknown-1", "unknown-2"]))
    assert store.gets == 1  # nobody to send to: nothing read


def test_a_body_that_cannot_be_read_gives_the_summary_not_a_failure(
    store: CountingStore,
    site: Site,
    make_delivery: Callable[..., Delivery],
    subscribe_confirmed: Callable[..., str],
    mailer: MemoryMailer,
) -> None:
    ids = [subscribe_confirmed(f"reader{n}@example.com") for n in range(4)]
    mailer.sent.clear()
    post = publish(store, site, a_post(), "posts/hello.md")
    delivery = make_delivery(store)
    gone = post.model_copy(update={"version": "deleted-since"})  # no rendering there
    before = post.model_copy(update={"version": None})  # a message queued before versions were carried
    tampered = post.model_copy(update={"source_key": "posts/other.md"})  # not a rendering of what its key names
    store.put(rendered_key(SourceRef(bucket="b", key="posts/other.md", version_id=post.version)), b"{}", "x")
    for index, variant in enumerate((gone, before, tampered)):
        delivery.deliver(DeliveryBatch(post=variant, subscriber_ids=[ids[index]]))
    store.fail = RuntimeError("AccessDenied")  # S3's answer for a deleted key without ListBucket
    delivery.deliver(DeliveryBatch(post=post, subscriber_ids=[ids[3]]))

    assert len(mailer.sent) == 4
    for email in mailer.sent:
        _, text, _ = parts(email.raw)
        assert "The summary." in text and "Read the post: " in text and "word for word" not in text


def test_a_transient_fault_reading_the_body_retries_the_batch_before_anything_is_sent(
    store: CountingStore,
    site: Site,
    make_delivery: Callable[..., Delivery],
    subscribe_confirmed: Callable[..., str],
    mailer: MemoryMailer,
) -> None:
    ids = [subscribe_confirmed(f"reader{n}@example.com") for n in range(3)]
    mailer.sent.clear()
    post = publish(store, site, a_post(), "posts/hello.md")
    delivery = make_delivery(store)
    store.fail = RetryableError("S3 GetObject throttled")
    with pytest.raises(RetryableError):
        delivery.deliver(DeliveryBatch(post=post, subscriber_ids=ids))
    assert mailer.sent == []
    store.fail = None
    result = delivery.deliver(DeliveryBatch(post=post, subscriber_ids=ids))  # SQS's retry
    assert sorted(result.sent) == sorted(ids)
    assert all("word for word" in parts(email.raw)[1] for email in mailer.sent)
