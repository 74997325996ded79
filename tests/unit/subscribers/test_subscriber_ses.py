"""The SES adapter: what SES's answers mean for a send, and no address in any error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pressline.errors import RetryableError
from pressline.subscribers.aws import SesMailer
from pressline.subscribers.messages import OutgoingEmail
from pressline.subscribers.ports import RecipientRejected

EMAIL = OutgoingEmail(
    sender="news@example.com",
    recipient="ada@example.com",
    subject="Hello",
    raw=b"From: news@example.com\r\nTo: ada@example.com\r\nSubject: Hello\r\n\r\nHi\r\n",
    tags={"kind": "post", "subscriber": "abc"},
)


@pytest.fixture
def sesv2() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sesv2", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber


def test_a_send_uses_the_configuration_set_and_tags(sesv2: tuple[Any, Stubber]) -> None:
    client, stubber = sesv2
    stubber.add_response(
        "send_email",
        {"MessageId": "m-1"},
        {
            "FromEmailAddress": "news@example.com",
            "Destination": {"ToAddresses": ["ada@example.com"]},
            "Content": {"Raw": {"Data": EMAIL.raw}},
            "ConfigurationSetName": "pressline-set",
            "EmailTags": [{"Name": "kind", "Value": "post"}, {"Name": "subscriber", "Value": "abc"}],
        },
    )
    assert SesMailer("pressline-set", client).send(EMAIL) == "m-1"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("TooManyRequestsException", RetryableError),
        ("LimitExceededException", RetryableError),
        ("SendingPausedException", RetryableError),
        ("MessageRejected", RetryableError),  # e.g. an unverified sender: every recipient would fail
        ("BadRequestException", RecipientRejected),
    ],
)
def test_what_ses_refuses_is_certainly_not_sent_and_says_no_address(
    sesv2: tuple[Any, Stubber], code: str, expected: type[Exception]
) -> None:
    client, stubber = sesv2
    stubber.add_client_error(
        "send_email", service_error_code=code, service_message="Email address is not verified: ada@example.com"
    )
    with pytest.raises(expected) as caught:
        SesMailer("", client).send(EMAIL)
    assert "ada@example.com" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
