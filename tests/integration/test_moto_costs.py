"""The local moto's cheaper bookkeeping keeps moto's results: a TransactWriteItems that fails
leaves every item as it was (only the named items are backed up, not whole tables), and
receive still drops messages past the queue's retention period."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from pressline.local.motoserver import patch_moto


@pytest.fixture
def dynamodb() -> Any:
    patch_moto()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for name in ("one", "two"):
            client.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
        yield client


def items(client: Any, table: str) -> dict[str, str]:
    return {i["pk"]["S"]: i["v"]["S"] for i in client.scan(TableName=table)["Items"]}


def test_a_failed_transaction_changes_nothing_in_any_table(dynamodb: Any) -> None:
    for n in range(50):
        dynamodb.put_item(TableName="one", Item={"pk": {"S": f"k{n}"}, "sk": {"S": "x"}, "v": {"S": "old"}})
    before = items(dynamodb, "one")
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "one", "Item": {"pk": {"S": "k1"}, "sk": {"S": "x"}, "v": {"S": "new"}}}},
                {"Put": {"TableName": "one", "Item": {"pk": {"S": "k99"}, "sk": {"S": "x"}, "v": {"S": "new"}}}},
                {"Delete": {"TableName": "one", "Key": {"pk": {"S": "k2"}, "sk": {"S": "x"}}}},
                {
                    "Update": {
                        "TableName": "one",
                        "Key": {"pk": {"S": "k3"}, "sk": {"S": "x"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "new"}},
                    }
                },
                {"Put": {"TableName": "two", "Item": {"pk": {"S": "t"}, "sk": {"S": "x"}, "v": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": "one",
                        "Item": {"pk": {"S": "k4"}, "sk": {"S": "x"}, "v": {"S": "new"}},
                        "ConditionExpression": "attribute_not_exists(pk)",  # it exists: the whole fails
                    }
                },
            ]
        )
    assert items(dynamodb, "one") == before
    assert items(dynamodb, "two") == {}


def test_a_transaction_that_succeeds_applies_everything(dynamodb: Any) -> None:
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "one", "Item": {"pk": {"S": "a"}, "sk": {"S": "x"}, "v": {"S": "1"}}}},
            {"Put": {"TableName": "two", "Item": {"pk": {"S": "b"}, "sk": {"S": "x"}, "v": {"S": "2"}}}},
        ]
    )
    assert items(dynamodb, "one") == {"a": "1"} and items(dynamodb, "two") == {"b": "2"}


def test_receive_still_drops_messages_past_their_retention() -> None:
    import time

    patch_moto()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="kept")
        assert len(sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", [])) == 1
        from moto.sqs.models import sqs_backends

        queue = sqs_backends["123456789012"]["us-east-1"].queues["short"]
        for message in queue._messages:
            message.sent_timestamp = int((time.time() - 120) * 1000)  # sent two minutes ago
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_queue_attributes_are_what_moto_answers() -> None:
    patch_moto()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="counted", Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
        for n in range(5):
            sqs.send_message(QueueUrl=url, MessageBody=str(n))
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "VisibilityTimeout"]
        some = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        assert some == {
            "ApproximateNumberOfMessages": "3",
            "ApproximateNumberOfMessagesNotVisible": "2",
            "VisibilityTimeout": "45",
        }
        every = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert {name: every[name] for name in names} == some and "QueueArn" in every
        with pytest.raises(sqs.exceptions.ClientError, match="InvalidAttributeName"):
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])
