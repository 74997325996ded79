"""The chaos run: ~300 random operations on the whole stack (moto, in-process) while AWS
misbehaves, then the site and the inboxes are compared with a simple model.

Operations (seeded ``random.Random``): new posts, edits (title, tags, date, draft flag,
slug), deletions, drafts, scheduled posts, invalid uploads, duplicated and reordered S3
events, subscribers joining (some never confirm, some choose tags, some a daily or weekly
digest) and leaving, subscribers switching between each post and a digest mid-period (with
emails in flight), the calendar moving on (the scheduler and the digest run), and true poison
messages. The site's time zone is New York and the run crosses its change to summer time.

Faults (``pressline.local.faults``): 10% of the AWS call attempts made by handlers fail
(throttling, 500, 503, connect and read timeouts, responses lost after the work was
done); 15% of queue-triggered invocations are killed after a random number of AWS calls,
so their whole batch comes back. The one place a kill is held back is between SES taking
an email and Deliver's ledger recording it: a crash there repeats the email whatever the
design (SES has no idempotency key), so "exactly one email" cannot be asked of it. A
failed batch is retried at once, and the subscriber clock (leases) moves on by a
visibility timeout, as time would pass on AWS.

The pipeline drains between some operations (always before a subscriber joins or leaves
and when the calendar moves, so "subscribed when the post was published" is well
defined); within a window, several operations on one key race through the stages.

At the end: pages, home, archive, tag pages, feeds, sitemaps, search shards and reports
equal the model's; each subscriber got exactly one email per post first published while
they were subscribed, or, for one who ever took a digest, that post exactly once by its own
email or in one digest (at most once for a post edited or deleted after it went public);
every queue is empty and each DLQ holds exactly the poison messages sent to its queue, whose
reason was logged. The figures are printed (``-s`` shows them).

``CHAOS_SEED`` and ``CHAOS_OPERATIONS`` override the defaults.
"""

from __future__ import annotations

import html
import json
import logging
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote
from zoneinfo import ZoneInfo

import pytest
from chaos_clock import START, Clocks
from chaos_model import Model, Subscriber, Version

from pressline.local.faults import AwsFaults, HandlerKilled
from pressline.local.harness import StackHandle

SEED = int(os.environ.get("CHAOS_SEED", "20261127"))
OPERATIONS = int(os.environ.get("CHAOS_OPERATIONS", "300"))
FAULT_RATE = 0.10
KILL_RATE = 0.15
TAGS = ("aws", "python", "security", "ops", "notes")
# The site's zone, and a start a few days before its change to summer time (10 March 2030).
SITE_TIMEZONE = "America/New_York"
DST_START = datetime(2030, 3, 6, 9, 0, tzinfo=UTC)
# An email is a digest if its subject says so (subscribers/digest_delivery.digest_subject).
DIGEST_SUBJECT = re.compile(r"\((daily|weekly) digest\)$")
EVENTS = Path(__file__).resolve().parents[2] / "events"
POST_LINK = re.compile(r'href="(?:https?://[^"/]+)?/posts/([a-z0-9-]+)/"')
# What each stage logs (with the reason) for a message that can never be processed.
POISON_LOGGED = {
    "IntakeDeadLetterQueueUrl": "Malformed message; it will reach the DLQ",  # Validate (stages/batching.py)
    "RenderDeadLetterQueueUrl": "Malformed message; it will reach the DLQ",  # Render, the same batch shape
    "IndexDeadLetterQueueUrl": "Malformed index update",
}
# An email is a post announcement if it links a post page; confirmations link the API.
EMAIL_POST_LINK = re.compile(r"/posts/([a-z0-9-]+)/")


# --------------------------------------------------------------------------- figures
@dataclass
class Figures:
    operations: Counter[str] = field(default_factory=Counter)
    invocations: int = 0
    failed_invocations: int = 0
    redeliveries: int = 0
    poison: Counter[str] = field(default_factory=Counter)  # queue output key -> messages sent

    def line(self, faults: AwsFaults, dlq: dict[str, int], sent: int, expected: int, seconds: float) -> str:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(faults.stats.injected.items()))
        return (
            f"chaos seed={SEED}: {sum(self.operations.values())} operations "
            f"({', '.join(f'{k} {v}' for k, v in sorted(self.operations.items()))}); "
            f"{faults.stats.calls} AWS calls by handlers, {faults.stats.injected_total} injected faults "
            f"({100 * faults.stats.injected_total / max(1, faults.stats.calls):.1f}%: {kinds}), "
            f"{faults.stats.kills} handlers killed mid-batch ({faults.stats.kills_postponed} kills postponed past an "
            f"email's ledger mark); retries: {faults.stats.sdk_retries} by the AWS SDK, "
            f"{self.redeliveries} SQS redeliveries; {sum(dlq.values())} messages in DLQs "
            f"({', '.join(f'{k} {v}' for k, v in sorted(dlq.items()) if v) or 'none'}); "
            f"posts delivered: {sent} (own emails and digest entries) / {expected} owed; "
            f"{self.invocations} invocations ({self.failed_invocations} failed); {seconds:.0f} s"
        )


# --------------------------------------------------------------------------- the run
class Chaos:
    def __init__(self, stack: StackHandle, clocks: Clocks, rng: random.Random, faults: AwsFaults) -> None:
        self.stack = stack
        self.clocks = clocks
        self.rng = rng  # the operations: the same sequence whatever the stack does
        self.kill_rng = random.Random(rng.random())
        self.faults = faults
        self.model = Model()
        self.figures = Figures()
        self.source = stack.outputs["SourceBucketName"]
        self.keys: list[str] = []  # every key ever uploaded
        self.versions: Counter[str] = Counter()
        self.used_dates: set[datetime] = set()
        self.slug_numbers: Counter[str] = Counter()
        self.subscriber_count = 0
        self.pending_since_drain = False
        self.rejected_scheduled_edits = 0  # rejected edits of posts still scheduled (they must go live)
        self.switched_back = 0  # digest subscribers who went back to one email per post
        self.problems: list[str] = []  # seen during the run
        for trigger in stack.runner.triggers:
            trigger.call = self._wrap(trigger.call)

    # ---------------------------------------------------------------- handlers under fire
    def _wrap(self, inner: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        def call(event: dict[str, Any]) -> Any:
            records = event.get("Records", [])
            self.figures.invocations += 1
            self.figures.redeliveries += sum(
                1 for r in records if int(r.get("attributes", {}).get("ApproximateReceiveCount", "1")) > 1
            )
            kill_after = self.kill_rng.randint(1, 30) if self.kill_rng.random() < KILL_RATE else None
            try:
                with self.faults.active(kill_after=kill_after):
                    result = inner(event)
            except HandlerKilled as killed:
                self._failed()
                raise RuntimeError(f"the container died ({killed}); the batch comes back") from None
            except Exception:
                self._failed()
                raise
            if isinstance(result, dict) and result.get("batchItemFailures"):
                self._failed()
            return result

        return call

    def _failed(self) -> None:
        self.figures.failed_invocations += 1
        self.clocks.lease_offset += timedelta(minutes=6)  # a visibility timeout passes before the retry

    def drain(self) -> None:
        for _ in range(50):
            self.stack.drain(max_rounds=500, retry_after=0)
            if not self._in_flight():
                break
        self.model.settle(self.clocks.calendar)
        # What happens next happens after what the drain did (see run()).
        self.clocks.lease_offset += timedelta(seconds=1)
        self.pending_since_drain = False

    def _in_flight(self) -> int:
        return sum(
            self.stack.queue_depth(name)
            for name in ("IntakeQueueUrl", "RenderQueueUrl", "IndexQueueUrl", "NotifyQueueUrl", "DeliveryQueueUrl")
        )

    def api(
        self, name: str, token: str | None = None, body: dict[str, Any] | None = None, form: str | None = None
    ) -> dict[str, Any]:
        text = (EVENTS / f"{name}.json").read_text()
        if token is not None:
            text = text.replace("REPLACE_WITH_TOKEN", token)
        event = json.loads(text)
        if body is not None:
            event["body"] = json.dumps(body)
        if form is not None:
            event["body"] = form
        for _ in range(5):  # a person clicks again after a 503
            with self.faults.active():
                response: dict[str, Any] = self.stack.invoke("Subscriptions", event)
            if response["statusCode"] != 503:
                return response
        raise AssertionError(f"{name}: the API kept answering 503")

    # ---------------------------------------------------------------- the author
    def _date(self, low_minutes: int, high_minutes: int) -> datetime:
        while True:
            moment = self.clocks.calendar + timedelta(minutes=self.rng.randint(low_minutes, high_minutes))
            moment = moment.replace(second=self.rng.randint(0, 59))
            if moment not in self.used_dates:
                self.used_dates.add(moment)
                return moment

    def _version(self, key: str, *, when: str, previous: Version | None = None) -> Version:
        self.versions[key] += 1
        stem = key.rsplit("/", 1)[-1].removesuffix(".md")
        slug = previous.slug if previous else stem
        if previous and self.rng.random() < 0.1:
            self.slug_numbers[stem] += 1
            slug = f"{stem}-r{self.slug_numbers[stem]}"  # renamed: a slug never used before
        if when == "past":
            date = self._date(-200 * 24 * 60, -1)
        elif when == "future":
            date = self._date(60, 72 * 60)
        else:
            date = previous.date if previous else self._date(-200 * 24 * 60, -1)
        tags = tuple(sorted(self.rng.sample(TAGS, self.rng.randint(0, 2))))
        return Version(
            slug=slug,
            title=f"Post {stem} version {self.versions[key]}",
            date=date,
            tags=tags,
            draft=when == "draft",
            marker=f"marker{stem.replace('-', '')}v{self.versions[key]}",
        )

    def put(self, key: str, version: Version) -> None:
        lines = [
            "---",
            f"title: {version.title}",
            f"date: {version.date.isoformat()}",
            f"slug: {version.slug}",
            f"tags: [{', '.join(version.tags)}]",
            # Dated up to 200 days back: without this, the announce window (indexing.announce)
            # would keep most of them quiet, and the model counts an email per first publication.
            "notify: true",
        ]
        if version.draft:
            lines.append("draft: true")
        body = f"Body of {version.title}: {version.marker}.\n\nA second paragraph.\n"
        text = "\n".join(lines) + "\n---\n" + body
        self.stack.s3.put_object(Bucket=self.source, Key=key, Body=text.encode(), ContentType="text/markdown")
        self.model.upload(key, version)
        self.pending_since_drain = True

    def new_post(self, when: str) -> None:
        key = f"posts/{len(self.keys):03d}-{self.rng.choice(['notes', 'guide', 'story', 'update'])}.md"
        self.keys.append(key)
        self.put(key, self._version(key, when=when))

    def edit(self) -> None:
        live = sorted(self.model.live)
        if not live:
            return self.new_post("past")
        key = self.rng.choice(live)
        when = self.rng.choice(["same", "same", "same", "past", "draft", "future"])
        self.put(key, self._version(key, when=when, previous=self.model.live[key]))
        return None

    def delete(self) -> None:
        live = sorted(self.model.live)
        if not live:
            return None
        key = self.rng.choice(live)
        self.stack.s3.delete_object(Bucket=self.source, Key=key)
        # moto sends no event for a delete marker; S3 sends ObjectRemoved:DeleteMarkerCreated.
        self.send_s3_events([(key, "ObjectRemoved:DeleteMarkerCreated")])
        self.model.delete(key)
        self.pending_since_drain = True
        return None

    def invalid_upload(self) -> None:
        broken = self.rng.choice(
            [
                "---\ntitle: [unclosed\n---\nBody.\n",
                "---\ndate: 2030-01-01\n---\nNo title.\n",
                "---\ntitle: Bad slug\nslug: ../../etc\n---\nBody.\n",
                "---\ntitle: Empty body\n---\n",
                "no front matter at all\n",
            ]
        )
        # Scheduled posts included: their last valid version still goes live at its date.
        live = sorted(self.model.live)
        # Not drained first: a valid edit still in flight must survive the rejected upload after it.
        if live and self.rng.random() < 0.5:
            key = self.rng.choice(live)
            self.rejected_scheduled_edits += self.model.live[key].status(self.clocks.calendar) == "scheduled"
        else:
            key = f"posts/{len(self.keys):03d}-broken.md"
            self.keys.append(key)
        self.stack.s3.put_object(Bucket=self.source, Key=key, Body=broken.encode())
        self.model.upload(key, Version("", "", START, (), False, "", valid=False))
        self.pending_since_drain = True

    def send_s3_events(self, events: list[tuple[str, str]]) -> None:
        sqs = self.stack.sqs
        for key, name in events:
            record = {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventName": name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": self.source, "arn": f"arn:aws:s3:::{self.source}"},
                    "object": {"key": quote_plus(key)},
                },
            }
            sqs.send_message(
                QueueUrl=self.stack.outputs["IntakeQueueUrl"], MessageBody=json.dumps({"Records": [record]})
            )

    def duplicate_events(self) -> None:
        """S3 repeats and reorders: old events for keys that changed since, events for deleted keys."""
        if not self.keys:
            return
        chosen = [self.rng.choice(self.keys) for _ in range(self.rng.randint(2, 6))]
        events = [
            (key, self.rng.choice(["ObjectCreated:Put", "ObjectCreated:Put", "ObjectRemoved:Delete"])) for key in chosen
        ]
        events += self.rng.sample(events, len(events) // 2)  # exact duplicates
        self.rng.shuffle(events)
        self.send_s3_events(events)
        self.pending_since_drain = True

    def poison(self) -> None:
        """A message no retry can fix: it must end in its DLQ, with its reason logged."""
        target = self.rng.choice(["IntakeQueueUrl", "RenderQueueUrl", "IndexQueueUrl"])
        url = self.stack.outputs[target]
        # (an intake message without Records is skipped as S3's TestEvent, so it is not poison there)
        bodies = ["not json at all", "[]", '{"Records": "nope"}' if target == "IntakeQueueUrl" else '{"source": 42}']
        body = self.rng.choice(bodies)
        self.stack.sqs.send_message(QueueUrl=url, MessageBody=body)
        self.figures.poison[target.replace("QueueUrl", "DeadLetterQueueUrl")] += 1
        self.pending_since_drain = True

    # ---------------------------------------------------------------- subscribers
    def join(self) -> None:
        self.drain()
        self.subscriber_count += 1
        address = f"reader{self.subscriber_count:03d}@example.com"
        tags = tuple(sorted(self.rng.sample(TAGS, 1))) if self.rng.random() < 0.3 else ()
        response = self.api("subscriptions-subscribe-json", body={"email": address, "tags": list(tags)})
        assert response["statusCode"] == 202, response
        subscriber = Subscriber(address, tags)
        self.model.subscribers[address] = subscriber
        clicks = self.rng.random() < 0.85  # some never click the link
        token = self._confirmation_token(address)
        if token is None:
            self.problems.append(f"{address} got no confirmation email (the sign-up answered 202)")
            return
        if clicks:
            response = self.api("subscriptions-confirm-post", token)
            assert response["statusCode"] == 200, response
            subscriber.confirmed = True
            if self.rng.random() < 0.35:
                self.set_frequency(subscriber, self.rng.choice(["daily", "weekly"]))

    def set_frequency(self, subscriber: Subscriber, frequency: str) -> None:
        """As the subscriber would: open the preferences page from an email's link, choose,
        save; after a 409 (the save went through but its answer was lost, so the retry found
        a newer version) look again and save again if it did not take."""
        from pressline.subscribers import runtime
        from pressline.subscribers.addresses import subscriber_id
        from pressline.subscribers.tokens import Purpose, issue

        keys = runtime.keys()
        link = issue(keys, Purpose.PREFERENCES, subscriber_id(keys.id_key, subscriber.address))
        for _ in range(5):
            page = self.api("subscriptions-preferences-get", link)
            assert page["statusCode"] == 200, page
            if re.search(rf'value="{frequency}" checked', page["body"]):
                break
            form = re.search(r'name="form" value="([^"]+)"', page["body"])
            assert form, page["body"]
            fields = [("form", html.unescape(form.group(1))), ("frequency", frequency)]
            fields += [("tags", tag) for tag in subscriber.tags]
            response = self.api(
                "subscriptions-preferences-post", form="&".join(f"{k}={quote_plus(v)}" for k, v in fields)
            )
            assert response["statusCode"] in (200, 409), response
        else:
            raise AssertionError(f"{subscriber.address} could not switch to {frequency}")
        self.switched_back += subscriber.ever_digest and frequency == "instant"
        subscriber.frequency = frequency
        subscriber.ever_digest = subscriber.ever_digest or frequency != "instant"

    def switch(self) -> None:
        """A subscriber changes between each post and a digest, mid-period: not drained first,
        so emails of theirs may be in flight."""
        staying = sorted(a for a, s in self.model.subscribers.items() if s.confirmed and not s.left)
        if not staying:
            return
        subscriber = self.model.subscribers[self.rng.choice(staying)]
        choices = [f for f in ("instant", "daily", "weekly") if f != subscriber.frequency]
        self.set_frequency(subscriber, self.rng.choice(choices))

    def _confirmation_token(self, address: str) -> str | None:
        for email in reversed(self.stack.sent_emails()):
            text = _email_text(email)
            if address in email["destinations"] and "/subscriptions/confirm?token=" in text:
                return unquote(text.split("/subscriptions/confirm?token=")[1].split()[0].split('"')[0].rstrip(">"))
        return None

    def leave(self) -> None:
        from pressline.subscribers import runtime
        from pressline.subscribers.addresses import subscriber_id
        from pressline.subscribers.tokens import Purpose, issue

        staying = sorted(a for a, s in self.model.subscribers.items() if s.confirmed and not s.left)
        if not staying:
            return
        self.drain()
        address = self.rng.choice(staying)
        keys = runtime.keys()
        token = issue(keys, Purpose.UNSUBSCRIBE, subscriber_id(keys.id_key, address))
        response = self.api("subscriptions-unsubscribe-one-click", token)
        assert response["statusCode"] == 200, response
        self.model.subscribers[address].left = True

    # ---------------------------------------------------------------- time
    def tick(self) -> None:
        self.drain()
        self.clocks.calendar += timedelta(hours=self.rng.randint(1, 24))
        with self.faults.active():
            self.stack.run_schedules()
        self.drain()

    # ---------------------------------------------------------------- the loop
    def run(self, operations: int) -> None:
        choices: list[tuple[str, int, Callable[[], None]]] = [
            ("new post", 28, lambda: self.new_post("past")),
            ("edit", 16, self.edit),
            ("delete", 7, self.delete),
            ("draft", 6, lambda: self.new_post("draft")),
            ("scheduled post", 8, lambda: self.new_post("future")),
            ("invalid upload", 7, self.invalid_upload),
            ("duplicated and reordered S3 events", 8, self.duplicate_events),
            ("subscriber joins", 8, self.join),
            ("subscriber leaves", 3, self.leave),
            ("subscriber switches frequency", 5, self.switch),
            ("calendar moves on", 6, self.tick),
            ("poison message", 1, self.poison),
        ]
        names = [name for name, _, _ in choices]
        weights = [weight for _, weight, _ in choices]
        actions = {name: action for name, _, action in choices}
        for _ in range(operations):
            # Time passes between a person's actions: without it, a post logged and a
            # subscription confirmed in the same frozen instant would be neither before nor after.
            self.clocks.lease_offset += timedelta(seconds=1)
            name = self.rng.choices(names, weights)[0]
            actions[name]()
            self.figures.operations[name] += 1
            if self.pending_since_drain and self.rng.random() < 0.3:
                self.drain()
        self.tick()
        # Every digest due: posts published up to now (scheduled ones within 72 hours) go out
        # in the next daily and weekly digests.
        for _ in range(40):
            self.clocks.calendar += timedelta(hours=6)
            with self.faults.active():
                self.stack.run_schedules()
            self.drain()


def _email_parts(email: dict[str, Any]) -> tuple[str, str]:
    """An email moto's SES took: its subject and its text (every text part), parsed once."""
    raw = email.get("raw")
    if raw:
        from email import message_from_bytes, policy

        message = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=policy.default)
        parts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
        return str(message["Subject"] or ""), "\n".join(str(part) for part in parts)
    return str(email.get("subject") or ""), str(email.get("body") or "")


def _email_text(email: dict[str, Any]) -> str:
    return _email_parts(email)[1]


# --------------------------------------------------------------------------- the site
def _site(stack: StackHandle) -> dict[str, str]:
    bucket = stack.outputs["SiteBucketName"]
    objects = {}
    for page in stack.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = stack.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            objects[item["Key"]] = body.decode("utf-8", "replace")
    return objects


def _links(html: str) -> list[str]:
    return list(dict.fromkeys(POST_LINK.findall(html)))


def _listing_links(html: str) -> list[str]:
    """Post links of a listing page's main content (not the header or footer)."""
    main = html.split('<main id="content">', 1)[-1].split("</main>", 1)[0]
    return _links(main)


def check_site(chaos: Chaos, problems: list[str]) -> None:
    now = chaos.clocks.calendar
    zone = ZoneInfo(os.environ.get("SITE_TIMEZONE", "UTC"))
    public = chaos.model.public(now)
    slugs = [version.slug for _, version in public]
    by_slug = {version.slug: version for _, version in public}
    site = _site(chaos.stack)

    def expect(what: str, actual: object, expected: object) -> None:
        if actual != expected:
            problems.append(f"{what}: expected {expected!r}, got {actual!r}")

    pages = sorted(k.split("/")[1] for k in site if k.startswith("posts/") and k.endswith("/index.html"))
    expect("post pages", pages, sorted(slugs))
    for slug, version in by_slug.items():
        page = site.get(f"posts/{slug}/index.html", "")
        if version.title not in page or version.marker not in page:
            problems.append(f"posts/{slug}/ does not show its latest version ({version.title})")
    expect("home page", _listing_links(site.get("index.html", "")), slugs[:10])

    months: dict[str, set[str]] = {}
    for version in by_slug.values():
        local = version.date.astimezone(zone)
        months.setdefault(f"archive/{local.year}/{local.month:02d}/index.html", set()).add(version.slug)
    month_pages = {k for k in site if re.fullmatch(r"archive/\d{4}/\d{2}/index\.html", k)}
    expect("archive month pages", sorted(month_pages), sorted(months))
    for key, expected in months.items():
        expect(key, set(_listing_links(site.get(key, ""))), expected)

    tags: dict[str, set[str]] = {}
    for version in by_slug.values():
        for tag in version.tags:
            tags.setdefault(tag, set()).add(version.slug)
    tag_dirs = {k.split("/")[1] for k in site if k.startswith("tags/") and k.count("/") >= 2}
    expect("tag pages", sorted(tag_dirs), sorted(tags))
    for tag, expected in tags.items():
        found: set[str] = set()
        for key in (k for k in site if k.startswith(f"tags/{tag}/") and k.endswith("index.html")):
            found.update(_listing_links(site[key]))
        expect(f"tags/{tag}/", found, expected)

    feed = json.loads(site.get("feed.json", '{"items": []}'))
    expect("feed.json", [item["url"].rstrip("/").rsplit("/", 1)[-1] for item in feed["items"]], slugs[:20])
    for name in ("feed.xml", "rss.xml"):
        expect(name, list(dict.fromkeys(re.findall(r"/posts/([a-z0-9-]+)/", site.get(name, "")))), slugs[:20])

    sitemap_posts = set()
    for key in (k for k in site if k.startswith("sitemaps/") or k == "sitemap.xml"):
        sitemap_posts.update(re.findall(r"<loc>[^<]*/posts/([a-z0-9-]+)/</loc>", site[key]))
    expect("sitemap post URLs", sorted(sitemap_posts), sorted(slugs))

    search: dict[str, str] = {}
    for key in (k for k in site if k.startswith("search/shards/")):
        for doc in json.loads(site[key]).get("posts", []):
            search[doc["u"]] = doc["t"]
    expect("search index", search, {f"/posts/{slug}/": version.title for slug, version in by_slug.items()})


def check_reports(chaos: Chaos, problems: list[str]) -> None:
    now = chaos.clocks.calendar
    s3 = chaos.stack.s3
    for key in sorted(set(chaos.keys) - chaos.model.deleted):
        if not chaos.model.last_upload_valid.get(key, False):
            expected = "rejected"
        else:
            expected = chaos.model.live[key].status(now)
        body = s3.get_object(Bucket=chaos.source, Key=f"reports/{key}.json")["Body"].read()
        status = json.loads(body)["status"]
        if status != expected:
            problems.append(f"reports/{key}.json: expected {expected}, got {status}")


def check_emails(chaos: Chaos, problems: list[str]) -> tuple[int, int, int]:
    sent: Counter[tuple[str, str]] = Counter()
    digested: Counter[tuple[str, str]] = Counter()  # (address, slug): digests listing the post
    confirmations: Counter[str] = Counter()
    digests = 0
    for email in chaos.stack.sent_emails():
        subject, text = _email_parts(email)
        for address in set(email["destinations"]):  # moto adds the To: header's addresses again
            if "/subscriptions/confirm?token=" in text:
                confirmations[address] += 1
            elif DIGEST_SUBJECT.search(subject):
                digests += 1
                for slug in set(EMAIL_POST_LINK.findall(text)):
                    digested[(address, slug)] += 1
            elif match := EMAIL_POST_LINK.search(text):
                sent[(address, match.group(1))] += 1
            else:
                problems.append(f"an email to {address} that is neither a confirmation, a post nor a digest")
    model = chaos.model
    expected = model.expected_emails
    digest_takers = {a for a, s in model.subscribers.items() if s.ever_digest}
    for pair in sorted(set(sent) | set(expected)):
        if pair[0] not in digest_takers and sent[pair] != expected[pair]:
            problems.append(f"{pair[0]} got {sent[pair]} email(s) for {pair[1]}, expected {expected[pair]}")
    for address in sorted(digest_takers):
        # Per post (a key, whatever slugs it had): its own email and digests together.
        got: Counter[str] = Counter()
        owed: Counter[str] = Counter()
        for (to, slug), count in (sent + digested).items():
            if to == address:
                got[model.key_of_slug.get(slug, slug)] += count
        for (to, slug), count in expected.items():
            if to == address:
                owed[model.key_of_slug.get(slug, slug)] += count
        left = model.subscribers[address].left
        for key in sorted(set(got) | set(owed)):
            if key in model.touched:
                # Shown as it is when its digest is made (its tags then), or left out: at most once.
                if got[key] > 1:
                    problems.append(f"{address} got {key} {got[key]} times (edited or deleted since), at most once")
            elif left:  # a digest still owed when they left is not sent
                if got[key] > owed[key]:
                    problems.append(f"{address} got {key} {got[key]} time(s) after leaving, at most {owed[key]}")
            elif got[key] != owed[key]:
                problems.append(f"{address} (digests) got {key} {got[key]} time(s), expected {owed[key]}")
    for address in chaos.model.subscribers:
        if confirmations[address] != 1:
            problems.append(f"{address} got {confirmations[address]} confirmation emails, expected 1")
    # Posts delivered (own emails and digests' entries) against posts owed.
    return sum(sent.values()) + sum(digested.values()), sum(expected.values()), digests


def _distinct_dead_letters(stack: StackHandle, url: str) -> int:
    """The messages a DLQ holds, each counted once: Index sets a message aside itself, and a
    kill between that send and the delete of the original sets it aside again (at least once:
    the copy names the original's ``message_id``, as a message moved by SQS's redrive keeps its own)."""
    seen: set[str] = set()
    while True:
        messages = stack.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return len(seen)
        for message in messages:
            original = message.get("MessageAttributes", {}).get("message_id", {}).get("StringValue")
            seen.add(original or message["MessageId"])


def check_queues(chaos: Chaos, problems: list[str], records: list[logging.LogRecord]) -> dict[str, int]:
    outputs = chaos.stack.outputs
    for name in ("IntakeQueueUrl", "RenderQueueUrl", "IndexQueueUrl", "NotifyQueueUrl", "DeliveryQueueUrl"):
        if depth := chaos.stack.queue_depth(name):
            problems.append(f"{name}: {depth} message(s) stuck")
    dlq = {
        name: _distinct_dead_letters(chaos.stack, outputs[name])
        for name in outputs
        if name.endswith("DeadLetterQueueUrl")
    }
    for name, depth in dlq.items():
        if depth != chaos.figures.poison[name]:
            problems.append(f"{name}: {depth} message(s), expected {chaos.figures.poison[name]} (the poison sent)")
    for name, count in chaos.figures.poison.items():
        logged = [r for r in records if POISON_LOGGED[name] in r.getMessage() and getattr(r, "reason", None)]
        if count and not logged:
            problems.append(f"{name}: no log line says why its messages are poison ({POISON_LOGGED[name]!r})")
    return dlq


# --------------------------------------------------------------------------- the test
@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsFaults]:
    from botocore.retries.standard import ExponentialBackoff

    # The clients retry as configured, without sleeping between attempts: on moto a backoff
    # only makes the run slower.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    rng = random.Random(SEED + 1)
    chaos_faults = AwsFaults(
        rng,
        rate=FAULT_RATE,
        never_lose=frozenset({"SendEmail", "SendRawEmail", "SendBulkEmail"}),  # SES has no idempotency key
        # A crash between SES taking an email and Deliver's ledger mark repeats that email
        # whatever the design (SES has no idempotency key): the run does not kill there.
        no_kill_after=frozenset({"SendEmail", "SendRawEmail"}),
    )
    with chaos_faults.installed():
        yield chaos_faults


def site_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every function, and check_site, in SITE_TIMEZONE from here on."""
    from pressline.config import settings

    monkeypatch.setenv("SITE_TIMEZONE", SITE_TIMEZONE)
    settings.cache_clear()


@pytest.mark.slow
def test_chaos_run(
    aws_stack: StackHandle,
    clocks: Clocks,
    faults: AwsFaults,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = time.perf_counter()
    site_timezone(monkeypatch)
    clocks.calendar = DST_START
    first_lease = clocks.lease_now()
    chaos = Chaos(aws_stack, clocks, random.Random(SEED), faults)
    chaos.run(OPERATIONS)
    problems = list(chaos.problems)
    dlq = check_queues(chaos, problems, caplog.records)
    check_site(chaos, problems)
    check_reports(chaos, problems)
    sent, expected, digests = check_emails(chaos, problems)
    figures = chaos.figures.line(faults, dlq, sent, expected, time.perf_counter() - started)
    with capfd.disabled():
        print("\n" + figures + f"; {digests} digests")
    # The run exercised what it claims to (else the comparisons below prove little).
    model = chaos.model
    assert faults.stats.injected_total > 0 and faults.stats.kills > 0, "the run injected no faults"
    assert len(model.public(clocks.calendar)) >= OPERATIONS // 15 and model.deleted and model.announced_when_due > 0
    assert expected > 0 and any(not s.confirmed for s in model.subscribers.values())
    assert any(s.left for s in model.subscribers.values()) and not all(model.last_upload_valid.values())
    assert chaos.rejected_scheduled_edits > 0, "no scheduled post got a rejected edit"
    zone = ZoneInfo(SITE_TIMEZONE)
    assert first_lease.astimezone(zone).utcoffset() != clocks.lease_now().astimezone(zone).utcoffset(), "no DST change"
    assert digests > 0 and chaos.switched_back > 0, "no digest, or no switch back to one email per post"
    assert not problems, f"{len(problems)} difference(s) from the model:\n" + "\n".join(problems[:60])
