"""``pressline subscribers import|export`` on moto (template.yaml provisioned by ``aws_stack``):
the real DynamoDB adapter, SES and the subscriptions API."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from test_subscriptions import call, emails, keys, link_token

from pressline.cli import main
from pressline.local.harness import StackHandle
from pressline.subscribers.addresses import subscriber_id
from pressline.subscribers.tokens import Purpose, issue

SUBSCRIBED = (
    "Email Address,First Name,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LAST_CHANGED,LEID,TAGS\n"
    "ada@example.com,Ada,2,2019-04-01 10:00:00,198.51.100.7,2019-04-01 10:05:00,198.51.100.7,2020-01-01,1,vip\n"
    "bob@example.com,Bob,2,2019-04-02 10:00:00,,,,2020-01-01,2,\n"
    "carol@example.com,Carol,2,,,,,2020-01-01,3,\n"
    "not an address,X,1,2019-04-02 10:00:00,,,,2020-01-01,4,\n"
)
CLEANED = (
    "Email Address,First Name,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,CLEAN_TIME,LAST_CHANGED,LEID\n"
    "erin@example.com,Erin,1,2019-04-01 10:00:00,2019-04-01 10:05:00,2021-06-06 12:00:00,2021-06-06,5\n"
)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .local/outputs.json: the commands use this process's stack
    return tmp_path


def table_items(stack: StackHandle) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": stack.outputs["SubscribersTableName"]}
    while True:
        page = stack.dynamodb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def partition(stack: StackHandle, address: str) -> dict[str, dict[str, Any]]:
    sid = subscriber_id(keys(stack).id_key, address)
    return {item["sk"]["S"]: item for item in table_items(stack) if item["pk"]["S"] == f"SUB#{sid}"}


def run_cli(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    assert "@example.com" not in captured.err  # the progress lines say counts, never addresses
    return status, captured.out


def test_import_confirms_consented_invites_the_rest_once_and_suppresses_bounces(
    aws_stack: StackHandle, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "subscribed.csv").write_text(SUBSCRIBED, encoding="utf-8")
    (here / "cleaned.csv").write_text(CLEANED, encoding="utf-8")
    status, out = run_cli("subscribers", "import", "subscribed.csv", capsys=capsys)
    assert status == 1  # one row was not imported
    assert "subscribed.csv: row 5, Email Address:" in out
    assert "2 confirmed, 1 invited" in out
    assert "example.com" not in out  # rows are named by number, never by address
    assert run_cli("subscribers", "import", "cleaned.csv", capsys=capsys)[0] == 0

    ada = partition(aws_stack, "ada@example.com")
    assert ada["PROFILE"]["status"]["S"] == "confirmed"
    assert ada["PROFILE"]["consent_at"]["S"] == "2019-04-01T10:05:00+00:00"
    assert ada["PROFILE"]["consent_how"]["S"] == "double opt-in confirmed on Mailchimp from 198.51.100.7"
    assert ada["PROFILE"]["consent_source"]["S"] == "subscribed.csv (mailchimp)"
    assert "AUD#ALL" in ada  # receives every post: Mailchimp's tag is not an interest
    assert "PROFILE" not in partition(aws_stack, "carol@example.com")
    assert "SUPPRESSION" in partition(aws_stack, "erin@example.com")
    sent = emails(aws_stack)
    assert [message["To"] for message in sent] == ["carol@example.com"]

    # Carol's invitation is a sign-up's confirmation: the link confirms her.
    token = link_token(sent[0], "confirm")
    assert call(aws_stack, "subscriptions-confirm-post", token)["statusCode"] == 200
    assert partition(aws_stack, "carol@example.com")["PROFILE"]["status"]["S"] == "confirmed"

    # Everything again: nothing written, nobody emailed.
    before = table_items(aws_stack)
    status, out = run_cli("subscribers", "import", "subscribed.csv", capsys=capsys)
    assert "3 skipped" in out
    run_cli("subscribers", "import", "cleaned.csv", capsys=capsys)
    assert table_items(aws_stack) == before
    assert len(emails(aws_stack)) == 1


def test_an_unsubscribe_after_the_import_survives_importing_again(
    aws_stack: StackHandle, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "subscribed.csv").write_text(SUBSCRIBED, encoding="utf-8")
    run_cli("subscribers", "import", "subscribed.csv", capsys=capsys)
    sid = subscriber_id(keys(aws_stack).id_key, "ada@example.com")
    from datetime import UTC, datetime, timedelta

    token = issue(keys(aws_stack), Purpose.UNSUBSCRIBE, sid, now=datetime.now(UTC), ttl=timedelta(days=1))
    assert call(aws_stack, "subscriptions-unsubscribe-one-click", token)["statusCode"] == 200
    assert set(partition(aws_stack, "ada@example.com")) == {"IMPORT"}  # no address is left
    run_cli("subscribers", "import", "subscribed.csv", capsys=capsys)
    assert "PROFILE" not in partition(aws_stack, "ada@example.com")


def test_a_dry_run_writes_and_sends_nothing(
    aws_stack: StackHandle, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "subscribed.csv").write_text(SUBSCRIBED, encoding="utf-8")
    _, out = run_cli("subscribers", "import", "subscribed.csv", "--dry-run", capsys=capsys)
    assert "row 2: would be confirmed" in out and "row 4: would be invited" in out
    assert "2 would be confirmed, 1 would be invited" in out
    assert table_items(aws_stack) == [] and emails(aws_stack) == []


def test_export_writes_every_subscriber_readable_back_and_neutralized(
    aws_stack: StackHandle, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = (
        "email,subscribed_to_emails,created_at,labels\n"
        "\"=cmd|' /C calc'!A0@example.com\",true,2022-03-16T08:03:11.000Z,\n"
        "+plus@example.com,true,2022-03-16T08:03:11.000Z,\n"
    )
    (here / "mailchimp.csv").write_text(SUBSCRIBED.replace("carol@example.com", "x@example.com"), encoding="utf-8")
    (here / "members.csv").write_text(hostile, encoding="utf-8")
    run_cli("subscribers", "import", "mailchimp.csv", capsys=capsys)
    status, out = run_cli("subscribers", "import", "members.csv", capsys=capsys)
    assert "1 confirmed" in out and "row 2, email" in out  # '=cmd|...' is no address; '+plus@' is one

    status, out = run_cli("subscribers", "export", "out.csv", capsys=capsys)
    assert status == 0 and "Exported 4 subscriber(s)" in out  # ada, bob, plus; x is pending
    assert stat.S_IMODE(os.stat(here / "out.csv").st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO((here / "out.csv").read_text(encoding="utf-8"))))
    by_address = {row["email"]: row for row in rows}
    assert "'+plus@example.com" in by_address  # neutralized: no cell starts a formula
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert by_address["ada@example.com"]["consent_how"] == "double opt-in confirmed on Mailchimp from 198.51.100.7"
    assert by_address["x@example.com"]["status"] == "pending"

    # Into a fresh table: read back by the import, the same people confirmed with the same consent.
    from pressline.subscribers.dynamodb import DynamoSubscriberRepository

    for item in table_items(aws_stack):
        aws_stack.dynamodb.delete_item(
            TableName=aws_stack.outputs["SubscribersTableName"], Key={"pk": item["pk"], "sk": item["sk"]}
        )
    sent_before = len(emails(aws_stack))
    status, out = run_cli("subscribers", "import", "out.csv", capsys=capsys)
    assert "3 confirmed, 1 invited" in out, out
    assert len(emails(aws_stack)) == sent_before + 1  # only the pending sign-up is asked again
    repository = DynamoSubscriberRepository(aws_stack.outputs["SubscribersTableName"])
    from datetime import UTC, datetime

    again = {subscriber.address: subscriber for subscriber in repository.all_subscribers(datetime.now(UTC))}
    assert again["ada@example.com"].consent is not None
    assert again["ada@example.com"].consent.how == "double opt-in confirmed on Mailchimp from 198.51.100.7"
    assert again["ada@example.com"].consent.source == "mailchimp.csv (mailchimp)"
    assert again["+plus@example.com"].status == "confirmed"


def test_an_unreadable_file_is_one_line_and_exit_2(
    aws_stack: StackHandle, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "latin.csv").write_bytes("email,subscribed_to_emails\nrené@example.com,true\n".encode("latin-1"))
    assert main(["subscribers", "import", "latin.csv"]) == 2
    assert "not UTF-8" in capsys.readouterr().err
