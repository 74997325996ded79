"""Start ``pressline local`` as a reader's machine would (a subprocess on free ports) and wait
until the example posts are live.

"Live" is decided from the pipeline's own outcome, never from elapsed time: every example post
has its report in the source bucket, and every published post's page answers 200.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "posts"
# The static pages published beside the posts (pressline local's --examples), by their address.
EXAMPLE_PAGES = tuple(sorted(f"/{path.stem}/" for path in (EXAMPLES.parent / "pages").glob("*.md")))
PRESSLINE = Path(sys.executable).parent / "pressline"
OUTPUT_KEYS = ("SiteUrl", "ApiUrl", "Endpoint", "SourceBucketName")
# Generous: CI machines have 2 busy cores; each wait ends as soon as its condition holds.
START_TIMEOUT = 180.0
PUBLISH_TIMEOUT = 180.0
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

T = TypeVar("T")


class StackError(RuntimeError):
    """Raised when the local stack does not start or does not publish the examples."""


@dataclass(frozen=True)
class PublishedPost:
    key: str  # source key, posts/<file>.md
    url: str  # absolute page URL, from the report
    path: str  # the URL's path, /posts/<slug>/
    title: str
    date: str  # ISO 8601, from the front matter: orders the posts as the site should
    tags: tuple[str, ...]
    body_markdown: str
    summary: str = ""  # the front matter's summary, if any

    @property
    def lead(self) -> str:
        """What listings may show of the post: its summary, the text before ``<!--more-->``
        and the first paragraph. A search that finds only these does not search bodies."""
        body = self.body_markdown.strip()
        paragraphs = [p for p in body.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
        return " ".join([self.summary, body.split("<!--more-->")[0] if "<!--more-->" in body else "", *paragraphs[:1]])


@dataclass
class LocalSite:
    outputs: dict[str, str]
    log_path: Path
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # source key -> report
    published: list[PublishedPost] = field(default_factory=list)

    @property
    def site_url(self) -> str:
        return self.outputs["SiteUrl"].rstrip("/")

    @property
    def api_url(self) -> str:
        return self.outputs["ApiUrl"].rstrip("/")

    @property
    def endpoint(self) -> str:
        return self.outputs["Endpoint"].rstrip("/")

    @property
    def source_bucket(self) -> str:
        return self.outputs["SourceBucketName"]

    def url(self, path: str) -> str:
        return self.site_url + path

    def client(self, service: str) -> Any:
        """A client of the local stack's moto server, with fake credentials whatever the
        environment says: nothing here may reach a real account."""
        import boto3  # lazily: the plain test run never imports this module's users

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=FAKE_AWS["AWS_REGION"],
            aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_AWS["AWS_SESSION_TOKEN"],
        )

    def s3(self) -> Any:
        return self.client("s3")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``condition`` until it returns something other than None/False; the interval only
    spaces the polls, the result never depends on it."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = condition()
            if result is not None and result is not False:
                return result
        except Exception as error:  # the condition may fail until the thing exists
            last_error = error
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise StackError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def read_outputs(path: Path) -> dict[str, str] | None:
    try:
        outputs = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(outputs, dict) or not all(outputs.get(key) for key in OUTPUT_KEYS):
        return None
    return {str(key): str(value) for key, value in outputs.items()}


def example_keys() -> list[str]:
    return sorted(f"posts/{path.name}" for path in EXAMPLES.glob("*.md"))


def front_matter_and_body(text: str) -> tuple[str, str]:
    if text.startswith("---"):
        _, front, body = text.split("---", 2)
        return front, body
    return "", text


def _reports(site: LocalSite) -> dict[str, dict[str, Any]] | None:
    s3 = site.s3()
    reports: dict[str, dict[str, Any]] = {}
    for key in example_keys():
        try:
            body = s3.get_object(Bucket=site.source_bucket, Key=f"reports/{key}.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        reports[key] = json.loads(body)
    return reports


def wait_until_published(site: LocalSite) -> None:
    from urllib.parse import urlsplit

    site.reports = wait_for(lambda: _reports(site), PUBLISH_TIMEOUT, "a report for every example post")
    published: list[PublishedPost] = []
    for key, report in site.reports.items():
        if report.get("status") != "published":
            continue
        if not report.get("url"):
            raise StackError(f"report for {key} is 'published' but has no url: {report}")
        text = (EXAMPLES / key.removeprefix("posts/")).read_text(encoding="utf-8")
        front, body = front_matter_and_body(text)
        import yaml

        meta = yaml.safe_load(front) or {}
        path = urlsplit(report["url"]).path
        tags = meta.get("tags") or ()
        tags = (tags,) if isinstance(tags, str) else tuple(str(tag) for tag in tags)
        date = meta.get("date")
        iso = date.isoformat() if hasattr(date, "isoformat") else str(date)
        published.append(
            PublishedPost(
                key, report["url"], path, str(meta.get("title", "")), iso, tags, body, str(meta.get("summary") or "")
            )
        )
    if len(published) < 2:
        raise StackError(f"need at least two published example posts, got reports {site.reports}")
    for post in published:
        wait_for(lambda post=post: http_status(site.url(post.path)) == 200, PUBLISH_TIMEOUT, f"page {post.path}")
    wait_for(lambda: http_status(site.url("/")) == 200, PUBLISH_TIMEOUT, "the home page")
    for path in EXAMPLE_PAGES:
        wait_for(lambda path=path: http_status(site.url(path)) == 200, PUBLISH_TIMEOUT, f"page {path}")
    site.published = sorted(published, key=lambda post: post.date)


PIPELINE_QUEUES = (
    "IntakeQueueUrl",
    "RenderQueueUrl",
    "ImageQueueUrl",
    "IndexQueueUrl",
    "NotifyQueueUrl",
    "DeliveryQueueUrl",
)


def pipeline_idle(site: LocalSite) -> bool:
    """True when no stage has a message waiting or in flight: everything sent so far is handled."""
    sqs = site.client("sqs")
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    for output in PIPELINE_QUEUES:
        attributes = sqs.get_queue_attributes(QueueUrl=site.outputs[output], AttributeNames=names)["Attributes"]
        if any(int(attributes.get(name, "0")) for name in names):
            return False
    return True


def publish(site: LocalSite, key: str, text: str) -> dict[str, Any]:
    """Upload a post as an author does and wait for its report; returns the report."""
    s3 = site.s3()
    version = s3.put_object(Bucket=site.source_bucket, Key=key, Body=text.encode(), ContentType="text/markdown")
    version_id = version.get("VersionId")

    def report() -> dict[str, Any] | None:
        try:
            body = s3.get_object(Bucket=site.source_bucket, Key=f"reports/{key}.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        found: dict[str, Any] = json.loads(body)
        return found if version_id is None or found.get("version") in (None, version_id) else None

    return wait_for(report, PUBLISH_TIMEOUT, f"the report for {key}")


@contextmanager
def local_site() -> Iterator[LocalSite]:
    """``pressline local`` on free ports, with the example posts published."""
    workdir = Path(tempfile.mkdtemp(prefix="pressline-e2e-"))
    outputs_path = workdir / "outputs.json"
    log_path = workdir / "pressline-local.log"
    command = [
        str(PRESSLINE),
        "local",
        "--port",
        str(free_port()),
        "--http-port",
        str(free_port()),
        "--outputs",
        str(outputs_path),
    ]
    environment = {**os.environ, **FAKE_AWS}
    environment.pop("AWS_PROFILE", None)
    environment.pop("AWS_ENDPOINT_URL", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT)
    site = LocalSite(outputs={}, log_path=log_path)
    try:

        def started() -> dict[str, str] | None:
            if process.poll() is not None:
                raise StackError(f"`{' '.join(command)}` exited with {process.returncode}:\n{site.log_tail()}")
            return read_outputs(outputs_path)

        try:
            site.outputs = wait_for(started, START_TIMEOUT, f"{outputs_path} with {', '.join(OUTPUT_KEYS)}")
            wait_until_published(site)
        except StackError as error:
            raise StackError(f"{error}\n--- pressline local log (tail) ---\n{site.log_tail()}") from error
        yield site
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
