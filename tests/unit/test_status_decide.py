"""``pressline status``'s pure part: what it makes of a reading (problems, notes, the redrive
commands, the exit code), its text and its JSON. No AWS: readings are built by hand."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pressline.ops.status import add_arguments, target_options
from pressline.ops.status.model import (
    QueueCounts,
    QueueReading,
    Reading,
    ReportLine,
    ReportsReading,
    ScheduledPost,
    ScheduledReading,
    SendingReading,
    SendQuota,
    StackStatus,
    SubscriberCounts,
    decide,
    newest_first,
)
from pressline.ops.status.text import format_text, table

NOW = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)


def _queue(output: str, visible: int = 0, in_flight: int = 0, delayed: int = 0) -> QueueReading:
    url = f"https://sqs.example/{output.removesuffix('Url')}"
    return QueueReading(
        output=output, counts=QueueCounts(url=url, visible=visible, in_flight=in_flight, delayed=delayed)
    )


def _pipeline(**dead_letters: int) -> tuple[QueueReading, ...]:
    """The template's queues, in the outputs' order; ``index=2``: two messages in Index's DLQ."""
    readings = []
    for prefix in ("Intake", "Render", "Index", "Notify", "Delivery"):
        readings.append(_queue(f"{prefix}QueueUrl"))
        readings.append(_queue(f"{prefix}DeadLetterQueueUrl", dead_letters.get(prefix.lower(), 0)))
    readings.append(_queue("EmailFeedbackDeadLetterQueueUrl", dead_letters.get("feedback", 0)))
    return tuple(readings)


def _reading(**changes: object) -> Reading:
    values: dict[str, object] = {
        "stack_name": "blog",
        "region": "eu-west-1",
        "read_at": NOW,
        "queues": _pipeline(),
        "subscribers": SubscriberCounts(confirmed=3, pending=1),
        "sending": SendingReading(
            account_enabled=True, configuration_set="blog-emails", configuration_set_enabled=True
        ),
    }
    values.update(changes)
    return Reading.model_validate(values)


def test_a_stack_with_empty_dead_letter_queues_and_sending_on_is_healthy() -> None:
    status = decide(_reading(), "--stack-name blog")
    assert status.healthy and status.exit_code == 0
    assert status.problems == () and status.notes == ()
    assert [row.stage for row in status.queues] == ["intake", "render", "index", "notify", "delivery", "feedback"]


def test_a_message_in_a_dead_letter_queue_is_a_problem_with_the_command_that_fixes_it() -> None:
    status = decide(_reading(queues=_pipeline(index=2)), "--stack-name blog")
    assert not status.healthy and status.exit_code == 1
    assert status.problems == (
        "index: 2 message(s) in the dead-letter queue; once the cause is fixed,"
        " `pressline redrive index --stack-name blog` sends them back",
    )


def test_a_dead_letter_message_being_looked_at_still_counts() -> None:
    # Someone's `aws sqs receive-message` hides it for a while: it is still there.
    queues = (_queue("RenderQueueUrl"), _queue("RenderDeadLetterQueueUrl", visible=0, in_flight=1))
    assert decide(_reading(queues=queues)).exit_code == 1


def test_the_feedback_dlq_has_no_source_queue_so_no_redrive_command() -> None:
    status = decide(_reading(queues=_pipeline(feedback=1)), "--local")
    [feedback] = [row for row in status.queues if row.stage == "feedback"]
    assert feedback.queue is None and feedback.redrive is None
    assert status.problems == (
        "feedback: 1 message(s) in the dead-letter queue; it has no source queue to send them back to:"
        " see README, Operations",
    )


def test_a_stage_added_to_the_template_is_found_and_redriven_by_its_url() -> None:
    # A stage redrive has no name for yet (say, comments): found by its outputs, redriven by URL.
    queues = (*_pipeline(), _queue("CommentsQueueUrl"), _queue("CommentsDeadLetterQueueUrl", visible=4))
    status = decide(_reading(queues=queues), "--local")
    assert status.queues[-1].stage == "comments"  # after the runbook's stages
    assert status.queues[-1].redrive == "pressline redrive https://sqs.example/CommentsDeadLetterQueue --local"
    assert status.exit_code == 1


def test_the_websub_stage_is_redriven_by_its_name() -> None:
    queues = (*_pipeline(), _queue("WebSubQueueUrl"), _queue("WebSubDeadLetterQueueUrl", visible=2))
    status = decide(_reading(queues=queues), "--local")
    [websub] = [row for row in status.queues if row.stage == "websub"]
    assert websub.redrive == "pressline redrive websub --local"


def test_outputs_that_are_not_queues_are_left_alone() -> None:
    queues = (_queue("IntakeQueueUrl"), QueueReading(output="ApiUrl", counts=None))
    assert [row.stage for row in decide(_reading(queues=queues)).queues] == ["intake"]


def test_an_unreadable_queue_is_a_note_not_a_crash() -> None:
    queues = (_queue("IndexQueueUrl"), QueueReading(output="IndexDeadLetterQueueUrl", error="AccessDenied"))
    status = decide(_reading(queues=queues))
    assert status.queues[0].dead_letter_queue is None
    assert status.notes == ("IndexDeadLetterQueueUrl: AccessDenied",)


@pytest.mark.parametrize(
    ("sending", "fix"),
    [
        (SendingReading(account_enabled=False), "aws ses update-account-sending-enabled --enabled"),
        (
            SendingReading(account_enabled=True, configuration_set="blog-emails", configuration_set_enabled=False),
            "aws ses update-configuration-set-sending-enabled --configuration-set-name blog-emails --enabled",
        ),
    ],
)
def test_paused_sending_is_a_problem_with_the_command_that_resumes_it(sending: SendingReading, fix: str) -> None:
    status = decide(_reading(sending=sending))
    assert status.exit_code == 1
    [problem] = status.problems
    assert "paused" in problem and f"`{fix}`" in problem


def test_sending_ses_did_not_answer_about_is_unknown_not_paused() -> None:
    unknown = SendingReading(notes=("the account's sending switch is unknown (GetAccountSendingEnabled: ...)",))
    status = decide(_reading(sending=unknown))
    assert status.exit_code == 0
    assert status.notes == ("sending: the account's sending switch is unknown (GetAccountSendingEnabled: ...)",)


def test_notes_for_what_is_worth_knowing_but_not_broken() -> None:
    overdue = ScheduledPost(key="posts/a.md", slug="a", title="A", date=NOW - timedelta(minutes=6))
    just_due = ScheduledPost(key="posts/b.md", slug="b", title="B", date=NOW - timedelta(minutes=1))
    status = decide(
        _reading(
            scheduled=ScheduledReading(posts=(overdue, just_due)),
            reports=ReportsReading(listed=100_000, complete=False),
            subscribers=SubscriberCounts(confirmed=5, scanned_items=200_000, complete=False),
            sending=SendingReading(
                account_enabled=True,
                quota=SendQuota(max_24_hour_send=200, sent_last_24_hours=200, max_send_rate=1),
            ),
        )
    )
    assert status.exit_code == 0
    assert status.notes == (
        "reports: the newest among the first 100000 listed (there are more)",
        "1 scheduled post(s) more than 5 minutes past their date and not published: is the PublishScheduled"
        " schedule enabled?",
        "subscribers: counted in the first 200000 items only (the counts are at least)",
        "sending: the SES quota of the last 24 hours is used up; emails wait until it frees up",
    )


def test_newest_reports_by_the_time_inside_them_when_s3_s_seconds_tie() -> None:
    second = NOW.replace(microsecond=0)

    def line(key: str, processed: datetime | None) -> ReportLine:
        return ReportLine(key=key, status="published", processed_at=processed, last_modified=second)

    lines = [
        line("posts/a.md", second + timedelta(milliseconds=100)),
        line("posts/z.md", second + timedelta(milliseconds=900)),
        line("posts/m.md", second + timedelta(milliseconds=500)),
        line("posts/old.md", None),  # a report from before processed_at: S3's time
    ]
    assert [report.key for report in newest_first(lines, 3)] == ["posts/z.md", "posts/m.md", "posts/a.md"]


def test_the_table_aligns_numbers_right_and_leaves_no_trailing_space() -> None:
    lines = table(["stage", "DLQ", "hint"], [["intake", "0", ""], ["delivery", "12", "<- redrive"]], frozenset({1}))
    assert lines == [
        "stage     DLQ  hint",
        "intake      0",
        "delivery   12  <- redrive",
    ]


def test_the_text_says_the_same_as_the_json() -> None:
    reports = ReportsReading(
        newest=(
            ReportLine(
                key="posts/bad.md",
                status="rejected",
                processed_at=NOW,
                last_modified=NOW,
                errors=("title: is empty",),
            ),
            ReportLine(
                key="posts/hello.md",
                status="published",
                processed_at=NOW - timedelta(minutes=3),
                last_modified=NOW,
                url="https://blog.example/posts/hello/",
            ),
        ),
        listed=2,
    )
    scheduled = ScheduledPost(
        key="posts/xmas.md", slug="xmas", title="Christmas", date=datetime(2026, 12, 25, tzinfo=UTC)
    )
    status = decide(
        _reading(queues=_pipeline(render=1), reports=reports, scheduled=ScheduledReading(posts=(scheduled,))),
        "--stack-name blog",
    )
    text = format_text(status)
    lines = text.splitlines()
    assert lines[0] == "Stack blog (eu-west-1) at 2026-12-04 01:00 UTC: 1 problem(s)"
    assert "render          0          0        0    1  <- pressline redrive render --stack-name blog" in lines
    assert "intake          0          0        0    0" in lines
    [bad] = [n for n, line in enumerate(lines) if "posts/bad.md" in line]
    assert lines[bad].split() == ["2026-12-04", "01:00", "rejected", "posts/bad.md"]
    assert lines[bad + 1].strip() == "title: is empty"  # its errors under it, aligned with its key
    assert lines[bad + 1].index("title") == lines[bad].index("posts/bad.md")
    [hello] = [line for line in lines if "posts/hello.md" in line]
    assert hello.split()[2:] == ["published", "posts/hello.md", "https://blog.example/posts/hello/"]
    assert "2026-12-25 00:00  xmas  Christmas  posts/xmas.md" in lines
    assert "Subscribers: 3 confirmed, 1 pending, 0 expired sign-up(s), 0 bounced" in text
    assert "Sending: account enabled; configuration set blog-emails enabled" in text
    assert text.endswith(f"Problems:\n  - {status.problems[0]}\n")


def test_text_of_an_empty_healthy_stack() -> None:
    text = format_text(decide(_reading(subscribers=None, sending=SendingReading())))
    assert ": healthy" in text.splitlines()[0]
    assert "Newest reports (0 of 0)\n  none" in text and "Scheduled next\n  none" in text
    assert "Subscribers: unknown" in text and "Sending: account unknown" in text
    assert "Problems:" not in text
    assert "subscribers: the stack's outputs name no subscribers table" in text


def test_the_json_keys_are_the_documented_ones() -> None:
    status = decide(_reading(queues=_pipeline(index=1)), "--local")
    document = json.loads(status.model_dump_json())
    assert list(document) == [
        "format",
        "version",
        "stack_name",
        "endpoint_url",
        "region",
        "read_at",
        "healthy",
        "problems",
        "notes",
        "queues",
        "reports",
        "scheduled",
        "subscribers",
        "sending",
    ]
    assert list(document["queues"][0]) == ["stage", "queue", "dead_letter_queue", "redrive", "errors"]
    assert list(document["queues"][0]["queue"]) == ["url", "visible", "in_flight", "delayed"]
    assert StackStatus.model_validate(document) == status  # scripts may read it back with the model


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--local", action="store_true")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--region")
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "options"),
    [
        (["--local"], "--local"),
        (["--local", "--outputs", "my stack/outputs.json"], "--local --outputs 'my stack/outputs.json'"),
        (["--stack-name", "blog", "--region", "eu-west-1"], "--stack-name blog --region eu-west-1"),
        (["--outputs", "out.json"], "--outputs out.json"),
        ([], ""),
    ],
)
def test_the_suggested_commands_name_the_same_stack(argv: list[str], options: str) -> None:
    args = _args(*argv)
    if args.local and args.outputs is None:
        args.outputs = Path(".local/outputs.json")  # what ops.target sets for --local
    assert target_options(args) == options


@pytest.mark.parametrize(
    ("value", "why"), [("-1", "-1 is not between 0 and 1000"), ("ten", "'ten' is not a whole number")]
)
def test_a_bad_count_is_refused_with_the_reason(value: str, why: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        _args("--reports", value)
    assert exit_.value.code == 2
    assert f"--reports: {why}" in capsys.readouterr().err
