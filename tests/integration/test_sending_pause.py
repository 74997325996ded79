"""The automatic sending pause on moto (issue 15): the complaint-rate alarm's notification
pauses sending, Deliver then holds every batch on its queue (no email, nothing in the DLQ),
`pressline status` says since when and how to resume, and `pressline subscribers
resume-sending` lets each held email go out exactly once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_notify import load, post_emails, seed_confirmed

from pressline import cli
from pressline.local.harness import StackHandle

ALARM_EVENT = "feedback-complaint-rate-alarm"


def alarm_event(state: str = "ALARM", when: str = "2026-12-04T03:05:00.000+0000") -> dict[str, Any]:
    event = load(ALARM_EVENT)
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["NewStateValue"], message["StateChangeTime"] = state, when
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event


def queue_counts(stack: StackHandle, output: str) -> dict[str, int]:
    attributes = stack.sqs.get_queue_attributes(QueueUrl=stack.outputs[output], AttributeNames=["All"])["Attributes"]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
    }


@pytest.fixture
def outputs_file(aws_stack: StackHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stack's outputs as `pressline local` writes them, for the commands' --outputs."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL"):  # the commands may set them
        monkeypatch.setenv(name, aws_stack.stack.region) if name != "AWS_ENDPOINT_URL" else monkeypatch.delenv(
            name, raising=False
        )
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({**aws_stack.outputs, "Region": aws_stack.stack.region}), encoding="utf-8")
    return path


def command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    status = cli.main(list(argv))
    return status, capsys.readouterr().out


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the clocks on: Deliver's (its pause cache) and moto's SQS (message delays)."""
    import moto.sqs.models

    from pressline.subscribers import runtime

    real_now, real_millis = runtime.utc_now, moto.sqs.models.unix_time_millis  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime, "utc_now", lambda: real_now() + timedelta(seconds=seconds))
    monkeypatch.setattr(moto.sqs.models, "unix_time_millis", lambda *a: real_millis(*a) + seconds * 1000)


def test_the_alarm_pauses_sending_until_resumed_then_each_held_email_goes_once(
    aws_stack: StackHandle,
    outputs_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    readers = [f"reader{n}@example.com" for n in range(60)]
    for address in readers:
        seed_confirmed(aws_stack, address)
    assert aws_stack.invoke("EmailFeedback", alarm_event()) == {"suppressed": 0, "paused": 1}
    capsys.readouterr()

    aws_stack.invoke("Notify", load("notify-post-published"))  # 60 readers: two delivery batches
    aws_stack.drain()
    assert post_emails(aws_stack) == Counter()  # paused: nobody got the post
    assert queue_counts(aws_stack, "DeliveryQueueUrl") == {"visible": 0, "in_flight": 0, "delayed": 2}
    assert queue_counts(aws_stack, "DeliveryDeadLetterQueueUrl") == {"visible": 0, "in_flight": 0, "delayed": 0}
    # The records, not stdout: Powertools' handler writes to the sys.stdout of when the logger was
    # made, which is not capsys's when another test in this worker made it first.
    held = [r for r in caplog.records if r.name == "deliver" and r.getMessage().startswith("Sending is paused")]
    assert len(held) == 2 and all(r.levelname == "WARNING" for r in held)  # one line per invocation
    assert "since 2026-12-04 03:05 UTC (pressline-EmailComplaintRatePauseAlarm-" in held[0].getMessage()
    assert "pressline subscribers resume-sending" in held[0].getMessage()

    status, text = command(capsys, "status", "--outputs", str(outputs_file))
    assert status == 1
    assert "Sending: PAUSED since 2026-12-04 03:05 UTC (pressline-EmailComplaintRatePauseAlarm-" in text
    assert "`pressline subscribers resume-sending --outputs" in text

    # The held batches come back every 15 minutes, and are held again while the pause lasts.
    later(monkeypatch, 16 * 60)
    aws_stack.drain()
    assert post_emails(aws_stack) == Counter()
    assert queue_counts(aws_stack, "DeliveryQueueUrl")["delayed"] == 2

    status, text = command(capsys, "subscribers", "resume-sending", "--outputs", str(outputs_file))
    assert status == 0 and "Sending resumed (it was paused since 2026-12-04 03:05 UTC" in text
    status, text = command(capsys, "status", "--outputs", str(outputs_file))
    assert "PAUSED" not in text and "paused since" not in text

    later(monkeypatch, 32 * 60)  # the next return of the held batches, past Deliver's cache
    aws_stack.drain()
    assert post_emails(aws_stack) == Counter({address: 1 for address in readers})
    assert queue_counts(aws_stack, "DeliveryQueueUrl") == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_counts(aws_stack, "DeliveryDeadLetterQueueUrl")["visible"] == 0
    # A duplicate of a held batch (SQS delivers at least once) sends nothing more.
    aws_stack.invoke("Notify", load("notify-post-published"))
    aws_stack.drain()
    assert post_emails(aws_stack) == Counter({address: 1 for address in readers})

    status, text = command(capsys, "subscribers", "resume-sending", "--outputs", str(outputs_file))
    assert status == 0 and "Sending was not paused" in text


def test_a_repeated_alarm_keeps_the_first_pause_and_other_states_pause_nothing(
    aws_stack: StackHandle, outputs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert aws_stack.invoke("EmailFeedback", alarm_event("OK")) == {"suppressed": 0, "paused": 0}
    assert aws_stack.invoke("EmailFeedback", alarm_event("INSUFFICIENT_DATA")) == {"suppressed": 0, "paused": 0}
    status, text = command(capsys, "status", "--outputs", str(outputs_file))
    assert "PAUSED since" not in text

    aws_stack.invoke("EmailFeedback", alarm_event(when="2026-12-04T03:05:00.000+0000"))
    aws_stack.invoke("EmailFeedback", alarm_event(when="2026-12-04T05:05:00.000+0000"))  # SNS repeats, or a new alarm
    status, text = command(capsys, "status", "--outputs", str(outputs_file), "--json")
    sending = json.loads(text)["sending"]
    assert status == 1
    assert datetime.fromisoformat(sending["paused_since"]) == datetime(2026, 12, 4, 3, 5, tzinfo=UTC)
    assert sending["paused_reason"].startswith("pressline-EmailComplaintRatePauseAlarm-")
    assert "Threshold Crossed" in sending["paused_reason"]


def test_bounce_and_complaint_feedback_still_suppress_while_paused(aws_stack: StackHandle) -> None:
    aws_stack.invoke("EmailFeedback", alarm_event())
    seed_confirmed(aws_stack, "complaint@simulator.amazonses.com")
    assert aws_stack.invoke("EmailFeedback", load("feedback-complaint")) == {"suppressed": 1}


def test_the_local_stack_runs_with_a_sending_domain_and_says_it_creates_no_identity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The identity is AWS's to create (DKIM, MAIL FROM): locally moto sends unsigned, and the
    records output says so instead of naming tokens that do not exist."""
    from moto import mock_aws

    from pressline.local.stack import provision
    from pressline.ops import doctor

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        stack = provision(parameters={"EmailDomain": "example.com"})
    assert stack.outputs["EmailDnsRecords"].startswith("none: the local stack creates no SES identity")
    with pytest.raises(doctor.DoctorError, match="no sending domain"):
        doctor.parse_output(stack.outputs["EmailDnsRecords"])


def test_an_import_that_would_email_waits_for_the_resume(
    aws_stack: StackHandle, outputs_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    members = tmp_path / "members.csv"  # Ghost's export: no consent recorded, so each gets a re-opt-in email
    members.write_text("email,name,subscribed_to_emails\nnew@example.com,New,true\n", encoding="utf-8")
    aws_stack.invoke("EmailFeedback", alarm_event())
    capsys.readouterr()
    status = cli.main(["subscribers", "import", str(members), "--outputs", str(outputs_file)])
    assert status == 2 and "sending is paused since 2026-12-04 03:05 UTC" in capsys.readouterr().err
    assert aws_stack.sent_emails() == []
    assert cli.main(["subscribers", "import", str(members), "--outputs", str(outputs_file), "--dry-run"]) == 0
