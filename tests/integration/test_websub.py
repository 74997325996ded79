"""WebSub end to end on moto: template.yaml provisioned with HubUrl pointing at a tiny hub this
test runs on 127.0.0.1, posts uploaded to the source bucket and taken through Validate ->
Render -> Index -> WebSub by the local runner. The hub records every publish ping; the rule
is one ping per feed per change (``pressline.indexing.websub``)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from pressline.local.harness import StackHandle

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)
SITE = "http://127.0.0.1:8080"
MAIN_FEEDS = [f"{SITE}/feed.xml", f"{SITE}/rss.xml", f"{SITE}/feed.json"]


@dataclass
class Hub:
    """A WebSub hub's publish endpoint: records each POST's form and answers the next status
    in ``answers`` (202 once they are used up)."""

    url: str = ""
    pings: list[dict[str, list[str]]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # what it answered, ping by ping
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def done(self) -> Counter[str]:
        """Feed URL -> pings the hub accepted (2xx)."""
        return Counter(
            ping["hub.url"][0] for ping, status in zip(self.pings, self.statuses, strict=True) if status < 300
        )


@pytest.fixture
def hub() -> Iterator[Hub]:
    recorded = Hub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("ascii")
            with recorded.lock:
                status = recorded.answers.pop(0) if recorded.answers else 202
                recorded.pings.append({**parse_qs(body), "content-type": [self.headers.get("Content-Type", "")]})
                recorded.statuses.append(status)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorded.url = f"http://127.0.0.1:{server.server_address[1]}/publish"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorded
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def stack(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackHandle]:
    """Every resource of template.yaml on in-process moto, provisioned with HubUrl."""
    from moto import mock_aws

    from pressline.adapters.aws import reset_clients
    from pressline.config import settings
    from pressline.local.lambda_runtime import forget_handlers
    from pressline.local.runner import Runner
    from pressline.local.stack import clients_for, provision

    def reset() -> None:
        settings.cache_clear()
        reset_clients()
        forget_handlers()

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        provisioned = provision(template_path=ROOT / "template.yaml", parameters={"HubUrl": hub.url})
        for name, value in provisioned.environment().items():
            monkeypatch.setenv(name, value)
        reset()
        clients = clients_for(provisioned.region, None)
        yield StackHandle(stack=provisioned, clients=clients, runner=Runner(provisioned, clients))
    reset()


def upload(
    stack: StackHandle, key: str, title: str, *, tags: str = "", extra: str = "", date: datetime | None = None
) -> None:
    when = (date or NOW - timedelta(hours=1)).isoformat()
    text = f"---\ntitle: {title}\ndate: {when}\ntags: [{tags}]\n{extra}---\nWhat {title} is about, in a few words.\n"
    stack.s3.put_object(Bucket=stack.outputs["SourceBucketName"], Key=key, Body=text.encode())


def run(stack: StackHandle) -> None:
    stack.drain(retry_after=0)  # a failed ping comes back at once instead of after 6 minutes


def site_text(stack: StackHandle, key: str) -> str:
    return str(stack.s3.get_object(Bucket=stack.outputs["SiteBucketName"], Key=key)["Body"].read().decode())


def test_the_stack_gives_index_and_websub_the_hub(stack: StackHandle, hub: Hub) -> None:
    assert stack.function("Index").environment["HUB_URL"] == hub.url
    assert stack.function("WebSub").environment["HUB_URL"] == hub.url
    assert stack.function("Index").environment["WEBSUB_QUEUE_URL"] == stack.outputs["WebSubQueueUrl"]


def test_one_ping_per_feed_per_change(stack: StackHandle, hub: Hub) -> None:
    run(stack)  # the notification set-up's s3:TestEvent

    upload(stack, "posts/first.md", "First", tags="python, aws")
    run(stack)
    tag_feeds = [f"{SITE}/tags/python/feed.xml", f"{SITE}/tags/aws/feed.xml"]
    assert hub.done() == Counter(MAIN_FEEDS + tag_feeds)
    assert all(ping["hub.mode"] == ["publish"] for ping in hub.pings)
    assert all(ping["content-type"] == ["application/x-www-form-urlencoded"] for ping in hub.pings)
    # What the hub then fetches names it, as a subscriber's reader discovers it.
    assert f'<link rel="hub" href="{hub.url}"/>' in site_text(stack, "feed.xml")
    assert f'<link rel="hub" href="{hub.url}"/>' in site_text(stack, "tags/python/feed.xml")
    assert f'<atom:link href="{hub.url}" rel="hub"/>' in site_text(stack, "rss.xml")
    # ... and fetches through the CDN at once: no copy from before the change may answer it.
    for key in ("feed.xml", "rss.xml", "feed.json", "tags/python/feed.xml"):
        head = stack.s3.head_object(Bucket=stack.outputs["SiteBucketName"], Key=key)
        assert head["CacheControl"] == "public, max-age=0, must-revalidate", key

    upload(stack, "posts/first.md", "First", tags="python, aws")  # the same file again: a new version
    upload(stack, "posts/draft.md", "Draft", tags="python", extra="draft: true\n")
    upload(stack, "posts/later.md", "Later", tags="python", date=NOW + timedelta(days=2))
    run(stack)
    assert len(hub.pings) == 5, "a duplicate, a draft and a scheduled post changed no feed"

    upload(stack, "posts/first.md", "First, corrected", tags="python, aws")  # an edit
    run(stack)
    assert hub.done() == Counter({url: 2 for url in MAIN_FEEDS + tag_feeds})
    assert stack.queue_depth("WebSubDeadLetterQueueUrl") == 0


def test_a_hub_error_is_retried_until_the_hub_takes_the_ping(stack: StackHandle, hub: Hub) -> None:
    run(stack)
    hub.answers = [500, 429]  # the first two pings fail, then the hub is back

    upload(stack, "posts/one.md", "One", tags="go")
    run(stack)

    assert hub.statuses.count(500) == 1 and hub.statuses.count(429) == 1
    assert len(hub.pings) == 4 + 2  # four feeds, two of them pinged twice
    assert hub.done() == Counter([*MAIN_FEEDS, f"{SITE}/tags/go/feed.xml"])  # each accepted once
    assert stack.queue_depth("WebSubQueueUrl") == 0
    assert stack.queue_depth("WebSubDeadLetterQueueUrl") == 0


def test_a_ping_the_hub_refuses_is_dropped_not_dead_lettered(stack: StackHandle, hub: Hub) -> None:
    run(stack)
    hub.answers = [404] * 4  # a wrong HubUrl: every ping refused

    upload(stack, "posts/one.md", "One", tags="go")
    run(stack)

    assert hub.statuses == [404] * 4  # each tried once: retrying would never help
    assert stack.queue_depth("WebSubQueueUrl") == 0
    assert stack.queue_depth("WebSubDeadLetterQueueUrl") == 0


def test_a_hub_that_keeps_failing_leaves_the_ping_in_the_dead_letter_queue_to_redrive(
    stack: StackHandle, hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pressline.cli import main

    run(stack)
    hub.answers = [503] * 100

    upload(stack, "posts/one.md", "One")  # no tags: the three main feeds
    run(stack)

    assert len(hub.pings) == 3 * 5  # maxReceiveCount receives each
    assert stack.queue_depth("WebSubDeadLetterQueueUrl") == 3

    # The hub is back: the operator redrives the DLQ (README, Operations) and each feed is pinged.
    hub.answers = []
    monkeypatch.chdir(tmp_path)  # no .local/outputs.json of a running `make run` is picked up
    assert main(["redrive", "websub", "--stack-name", stack.stack.stack_name]) == 0
    run(stack)
    assert hub.done() == Counter(MAIN_FEEDS)
    assert stack.queue_depth("WebSubDeadLetterQueueUrl") == 0


def test_the_event_file_pings_its_feed(stack: StackHandle, hub: Hub) -> None:
    """``make invoke FN=WebSub EVENT=events/websub.json``, as the handler receives it."""
    event = json.loads((ROOT / "events" / "websub.json").read_text(encoding="utf-8"))
    topic = json.loads(event["Records"][0]["body"])["topic"]

    result = stack.invoke("WebSub", event)

    assert result == {"batchItemFailures": []}
    assert hub.done() == Counter([topic])
