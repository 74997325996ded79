"""SES, SQS, SNS and Secrets Manager adapters for the subscriber ports."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

from pressline.adapters.aws import client
from pressline.adapters.errors import error_code
from pressline.errors import RetryableError
from pressline.models import DeliveryBatch, DigestBatch, PostPublished
from pressline.subscribers.messages import OutgoingEmail
from pressline.subscribers.ports import RecipientRejected
from pressline.subscribers.tokens import Keys

# SES refused the request for this one address (malformed): sending again cannot help.
_RECIPIENT_ERRORS = {"InvalidParameterValue", "BadRequestException"}


class SesMailer:
    """Sends raw MIME through SES v2 ``SendEmail`` (IAM action ``ses:SendEmail``).

    Any error SES *answers* means the message was not sent: recipient-specific ones raise
    RecipientRejected, the rest (throttling, quota, paused sending, unverified sender)
    RetryableError. A timeout or dropped connection (the send may have happened) is left
    to propagate as it is. Error texts are not passed on: SES quotes addresses in them."""

    def __init__(self, configuration_set: str = "", sesv2: Any | None = None) -> None:
        self.configuration_set = configuration_set
        self._sesv2 = sesv2

    def send(self, email: OutgoingEmail) -> str:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {
            "FromEmailAddress": email.sender,
            "Destination": {"ToAddresses": [email.recipient]},
            "Content": {"Raw": {"Data": email.raw}},
        }
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        if email.tags:
            kwargs["EmailTags"] = [{"Name": name, "Value": value} for name, value in email.tags.items()]
        sesv2 = self._sesv2 or client("sesv2")
        try:
            response = sesv2.send_email(**kwargs)
        except ClientError as error:
            code = error_code(error)
            if code in _RECIPIENT_ERRORS:
                raise RecipientRejected(f"SES {code}") from None
            raise RetryableError(f"SES refused the send: {code}") from None
        return str(response["MessageId"])


class SqsTaskQueue:
    """Delivery batches (a post's, a digest's: DigestBatch) to SQS, ten messages per
    ``SendMessageBatch`` call."""

    def __init__(self, url: str, sqs: Any | None = None) -> None:
        self.url = url
        self._sqs = sqs

    def send_batches(self, batches: Sequence[DeliveryBatch] | Sequence[DigestBatch]) -> None:
        sqs = self._sqs or client("sqs")
        for start in range(0, len(batches), 10):
            entries = {str(index): batch.model_dump_json() for index, batch in enumerate(batches[start : start + 10])}
            for attempt in range(5):
                response = _sqs_call(
                    sqs.send_message_batch,
                    QueueUrl=self.url,
                    Entries=[{"Id": key, "MessageBody": body} for key, body in entries.items()],
                )
                failed = {entry["Id"] for entry in response.get("Failed", [])}
                entries = {key: body for key, body in entries.items() if key in failed}
                if not entries:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            if entries:
                raise RetryableError(f"SQS refused {len(entries)} delivery batch(es)")


class SqsNotifyQueue:
    """Puts a post back on the notify queue: a continuation of its fan-out."""

    def __init__(self, url: str, sqs: Any | None = None) -> None:
        self.url = url
        self._sqs = sqs

    def send_post(self, post: PostPublished, delay_seconds: int = 0) -> None:
        sqs = self._sqs or client("sqs")
        _sqs_call(
            sqs.send_message,
            QueueUrl=self.url,
            MessageBody=post.model_dump_json(),
            DelaySeconds=max(0, min(delay_seconds, 900)),
        )


def _sqs_call(method: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return method(**kwargs)
    except (ClientError, BotoCoreError) as error:
        raise RetryableError(f"SQS {type(error).__name__}: {error_code(error)}") from error


class SnsAnnouncer:
    """``post.published`` on the posts topic; the tags are a String.Array attribute so
    subscribers can filter (``{"tags": ["aws"]}``)."""

    def __init__(self, topic_arn: str, sns: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self._sns = sns

    def announce(self, post: PostPublished) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        sns = self._sns or client("sns")
        try:
            sns.publish(TopicArn=self.topic_arn, **_announcement(post))
        except (ClientError, BotoCoreError) as error:
            raise RetryableError(f"SNS publish: {error_code(error) or type(error).__name__}") from error

    def announce_many(self, posts: Sequence[PostPublished]) -> list[PostPublished]:
        """Ten a ``PublishBatch`` (IAM: ``sns:Publish``). Announcements are small (a title of
        at most 200 characters, a summary clipped to 500), so ten stay far below the
        request's 256 KiB. Entries SNS failed are sent again once, in the next call."""
        from botocore.exceptions import BotoCoreError, ClientError

        sns = self._sns or client("sns")
        refused: list[PostPublished] = []
        for start in range(0, len(posts), 10):
            entries = {str(index): post for index, post in enumerate(posts[start : start + 10])}
            for attempt in range(2):
                try:
                    batch = [{"Id": key, **_announcement(post)} for key, post in entries.items()]
                    response = sns.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=batch)
                except (ClientError, BotoCoreError) as error:
                    raise RetryableError(f"SNS publish batch: {error_code(error) or type(error).__name__}") from error
                failed = {entry["Id"] for entry in response.get("Failed", [])}
                entries = {key: post for key, post in entries.items() if key in failed}
                if not entries:
                    break
                time.sleep(0.05 * (attempt + 1))
            refused.extend(entries.values())
        return refused


def _announcement(post: PostPublished) -> dict[str, Any]:
    """One ``post.published`` message: the same in ``Publish`` and a ``PublishBatch`` entry."""
    return {
        "Message": post.model_dump_json(),
        "Subject": "post.published",
        "MessageAttributes": {
            "type": {"DataType": "String", "StringValue": post.type},
            "slug": {"DataType": "String", "StringValue": post.slug},
            "tags": {"DataType": "String.Array", "StringValue": json.dumps(list(post.tags))},
        },
    }


KEYS_MAX_AGE = 300  # seconds: a rotated secret reaches every running container within five minutes


def load_keys(secret_arn: str) -> Keys:
    """The signing keys, from Secrets Manager (cached by Powertools for ``KEYS_MAX_AGE``, so
    a rotation is picked up without a deploy; the same value gives the same Keys object)."""
    from aws_lambda_powertools.utilities import parameters

    if not secret_arn:
        raise RuntimeError("TOKEN_SECRET_ARN is not set")
    secret = parameters.get_secret(secret_arn, max_age=KEYS_MAX_AGE)
    return _keys_of(secret)


@cache
def _keys_of(secret: str | bytes) -> Keys:
    return Keys.from_secret(secret)
