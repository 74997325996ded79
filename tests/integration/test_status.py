"""``pressline status`` on the real local stack, as an operator runs it (no AWS credentials
exported): after a post went live, one was scheduled, one failed into the Index dead-letter
queue and two people signed up (one confirmed), status shows each of them, in JSON and in
text, and exits 1 with the redrive command until the dead-letter queue is empty."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from poison import send_unappliable_update

from pressline.local.harness import RunningLocalStack, start_local_stack

pytestmark = pytest.mark.slow

WAIT_S = 60.0
NEXT_YEAR = datetime.now(UTC).year + 1


def _wait_for(stack: RunningLocalStack, what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n--- local stack log ---\n{stack.log()[-4000:]}")
        time.sleep(0.2)
    return found


def _report(stack: RunningLocalStack, key: str) -> dict[str, Any]:
    s3 = stack.client("s3")
    try:
        body = s3.get_object(Bucket=stack.outputs["SourceBucketName"], Key=f"reports/{key}.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return {}
    found: dict[str, Any] = json.loads(body)
    return found


def _wait_for_report(stack: RunningLocalStack, key: str, status: str) -> None:
    _wait_for(stack, f"{key}'s report to say {status}", lambda: _report(stack, key).get("status") == status)


def _upload(stack: RunningLocalStack, key: str, title: str, date: str) -> None:
    body = f"---\ntitle: {title}\ndate: {date}\nnotify: false\n---\nThe body of {title}.\n".encode()
    stack.client("s3").put_object(Bucket=stack.outputs["SourceBucketName"], Key=key, Body=body)


def _post_form(url: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(fields).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


class _ConfirmForm(HTMLParser):
    """The confirmation page's POST form (a GET confirms nothing: link scanners follow links)."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and values.get("method", "").lower() == "post":
            self.action = values.get("action", "")
        elif tag == "input" and self.action and values.get("name"):
            self.fields.append((values["name"], values.get("value", "")))


def _sign_up(stack: RunningLocalStack, address: str, *, confirm: bool) -> None:
    status, page = _post_form(f"{stack.api_url}/subscriptions", [("email", address)])
    assert status == 202, page
    if not confirm:
        return
    raw = _wait_for(
        stack,
        f"the confirmation email to {address}",
        lambda: next((m["raw"] for m in stack.sent_emails() if m["raw"] and address in m["destinations"]), None),
    )
    text = str(message_from_string(raw, policy=policy.default).get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    link = re.search(r"\S+/subscriptions/confirm\?token=\S+", text)
    assert link, text
    with urllib.request.urlopen(link.group(0), timeout=10) as response:
        form = _ConfirmForm()
        form.feed(response.read().decode("utf-8"))
    status, page = _post_form(form.action, form.fields)
    assert status == 200 and "You are subscribed" in page


def _fail_into_the_index_dlq(stack: RunningLocalStack) -> None:
    """An update Index can never apply (a date whose UTC time does not exist, as in
    test_index_isolation): its report says failed and its message goes to the DLQ at once."""
    send_unappliable_update(stack, "posts/doomed.md", "doomed", "Doomed", datetime.now(UTC))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalStack]:
    with start_local_stack(tmp_path_factory.mktemp("status"), "--no-examples", "--retry-after", "1") as running:
        yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
        _upload(running, "posts/hello.md", "Hello", yesterday)
        _upload(running, "posts/doomed.md", "Doomed", yesterday)
        _upload(running, "posts/new-year.md", "Happy new year", f"{NEXT_YEAR}-01-01 00:00")
        _wait_for_report(running, "posts/hello.md", "published")
        _wait_for_report(running, "posts/new-year.md", "scheduled")
        _wait_for_report(running, "posts/doomed.md", "published")
        _fail_into_the_index_dlq(running)
        _wait_for_report(running, "posts/doomed.md", "failed")
        _sign_up(running, "confirmed@example.org", confirm=True)
        _sign_up(running, "pending@example.org", confirm=False)
        yield running


def _status(stack: RunningLocalStack, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pressline status --local`` in a shell with nothing AWS in it, as a new operator has."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"})
    command = [sys.executable, "-m", "pressline.cli", "status", "--local", "--outputs", str(stack.outputs_path), *args]
    result = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _stage(status: dict[str, Any], stage: str) -> dict[str, Any]:
    [row] = [row for row in status["queues"] if row["stage"] == stage]
    found: dict[str, Any] = row
    return found


def test_json_shows_the_dlq_reports_schedule_and_subscribers(stack: RunningLocalStack, tmp_path: Path) -> None:
    result = _status(stack, tmp_path, "--json")
    assert result.returncode == 1, result.stderr
    status = json.loads(result.stdout)
    assert (status["format"], status["version"], status["healthy"]) == ("pressline-status", 1, False)

    # Every stage's queue pair, found from the outputs; only Index's DLQ holds a message.
    stages = [row["stage"] for row in status["queues"]]
    assert stages[:5] == ["intake", "render", "index", "notify", "delivery"] and "feedback" in stages
    index = _stage(status, "index")
    assert index["dead_letter_queue"]["url"] == stack.outputs["IndexDeadLetterQueueUrl"]
    assert index["dead_letter_queue"]["visible"] == 1
    redrive = f"pressline redrive index --local --outputs {stack.outputs_path}"
    assert index["redrive"] == redrive
    others = [row for row in status["queues"] if row["stage"] != "index" and row["dead_letter_queue"]]
    assert all(row["dead_letter_queue"]["visible"] == 0 for row in others)
    assert _stage(status, "feedback")["queue"] is None  # the email feedback function's DLQ has no source queue
    assert status["problems"] == [
        f"index: 1 message(s) in the dead-letter queue; once the cause is fixed, `{redrive}` sends them back"
    ]

    # The reports, newest first, with the outcomes the authors got.
    outcomes = {line["key"]: line for line in status["reports"]["newest"]}
    assert {key: line["status"] for key, line in outcomes.items()} == {
        "posts/hello.md": "published",
        "posts/new-year.md": "scheduled",
        "posts/doomed.md": "failed",
    }
    assert status["reports"]["newest"][0]["key"] == "posts/doomed.md"  # failed last
    assert "could not be published" in outcomes["posts/doomed.md"]["errors"][0]
    assert outcomes["posts/hello.md"]["url"].endswith("/posts/hello/")

    [scheduled] = status["scheduled"]
    assert (scheduled["key"], scheduled["slug"], scheduled["title"]) == (
        "posts/new-year.md",
        "new-year",
        "Happy new year",
    )
    assert datetime.fromisoformat(scheduled["date"]).year == NEXT_YEAR

    subscribers = status["subscribers"]
    assert (subscribers["confirmed"], subscribers["pending"], subscribers["complete"]) == (1, 1, True)
    assert subscribers["bounced"] == subscribers["complained"] == 0

    # moto answers GetSendQuota and the configuration set, but not GetAccountSendingEnabled: unknown, not paused.
    sending = status["sending"]
    assert sending["account_enabled"] is None
    assert any("GetAccountSendingEnabled" in note for note in sending["notes"])
    assert sending["configuration_set"]  # the template's EmailConfigurationSet, from the function's settings
    assert sending["quota"]["max_24_hour_send"] > 0


def test_text_shows_the_same_and_the_redrive_command(stack: RunningLocalStack, tmp_path: Path) -> None:
    result = _status(stack, tmp_path)
    assert result.returncode == 1, result.stderr
    text = result.stdout
    [index_row] = [line for line in text.splitlines() if line.startswith("index ")]
    # stage, waiting, in flight, delayed, DLQ, then the command that fixes it
    assert index_row.split()[:5] == ["index", "0", "0", "0", "1"], text
    assert index_row.endswith(f"<- pressline redrive index --local --outputs {stack.outputs_path}")
    [doomed] = [line for line in text.splitlines() if "posts/doomed.md" in line]
    assert "failed" in doomed.split()
    assert "could not be published" in text
    assert re.search(r"\bscheduled\s+posts/new-year\.md", text)
    assert re.search(rf"{NEXT_YEAR}-01-01 \d\d:\d\d\s+new-year\s+Happy new year", text), text
    assert "Subscribers: 1 confirmed, 1 pending" in text
    assert "Problems:\n  - index: 1 message(s) in the dead-letter queue" in text


def test_the_same_stack_by_its_name(stack: RunningLocalStack, tmp_path: Path) -> None:
    result = _status(stack, tmp_path, "--json", "--stack-name", stack.outputs["StackName"])
    assert result.returncode == 1, result.stderr
    status = json.loads(result.stdout)
    assert _stage(status, "index")["redrive"] == f"pressline redrive index --stack-name {stack.outputs['StackName']}"
    missing = _status(stack, tmp_path, "--stack-name", "no-such-stack")
    assert missing.returncode == 2
    assert missing.stderr == "pressline status: no stack named 'no-such-stack' here (check --stack-name and --region)\n"


def test_without_a_stack_the_error_says_what_to_give(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({"HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"})
    result = subprocess.run(
        [sys.executable, "-m", "pressline.cli", "status"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == "pressline status: no stack outputs: give --local, --outputs FILE or --stack-name\n"


def test_a_bad_count_is_a_usage_error(stack: RunningLocalStack, tmp_path: Path) -> None:
    result = _status(stack, tmp_path, "--reports", "-1")
    assert result.returncode == 2
    assert "--reports: -1 is not between 0 and 1000" in result.stderr
    assert "Traceback" not in result.stderr


def test_healthy_once_the_dead_letter_queue_is_empty(stack: RunningLocalStack, tmp_path: Path) -> None:
    # Last: the operator looked at the failed update and discarded it.
    sqs, dlq = stack.client("sqs"), stack.outputs["IndexDeadLetterQueueUrl"]
    for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []):
        sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    result = _status(stack, tmp_path, "--json", "--reports", "1")
    assert result.returncode == 0, result.stdout
    status = json.loads(result.stdout)
    assert status["healthy"] is True and status["problems"] == []
    assert _stage(status, "index")["dead_letter_queue"]["visible"] == 0
    assert len(status["reports"]["newest"]) == 1 and status["reports"]["listed"] == 3
    text = _status(stack, tmp_path)
    assert text.returncode == 0
    assert ": healthy" in text.stdout.splitlines()[0]
    assert "Problems:" not in text.stdout
