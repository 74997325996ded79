"""The patched moto (``pressline.local.motoserver``): S3's delete notifications, record shape
and key limit, and no 500s under concurrency, in-process (``mock_aws``) and in a moto server
process of its own, the same tests for both."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from aws_lambda_powertools.utilities.parser.models import S3Model
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from pressline.local import motoserver
from pressline.models import S3Notification

REGION = "us-east-1"
SEEDED = 200  # items in the table: a transaction copies it whole, other writes change it meanwhile
ROUNDS = 4
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=32)


class Aws:
    """Clients for one moto (in this process or behind an endpoint)."""

    def __init__(self, endpoint_url: str | None) -> None:
        self.endpoint_url = endpoint_url

    def client(self, service: str, config: Config | None = None) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint_url, config=config)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def server() -> Iterator[motoserver.MotoServer]:
    with motoserver.start() as running:
        assert running.separate_process and running.pid is not None
        yield running
    assert not running.alive()
    assert running.returncode == 0  # stopped by SIGTERM, cleanly


@pytest.fixture(params=["in-process", "server"])
def aws(request: pytest.FixtureRequest) -> Iterator[Aws]:
    if request.param == "server":
        yield Aws(request.getfixturevalue("server").endpoint_url)
        return
    motoserver.patch_moto()
    with mock_aws():
        yield Aws(None)


_bucket_numbers = iter(range(10**6))


def _bucket(aws: Aws, *, versioned: bool, events: list[str], rules: list[dict[str, str]] | None = None) -> Any:
    """A bucket (new for each test: the server is shared) that notifies a new queue."""
    s3, sqs = aws.client("s3"), aws.client("sqs")
    name = f"notify-{next(_bucket_numbers)}-{'v' if versioned else 'u'}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    url = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    config: dict[str, Any] = {"QueueArn": arn, "Events": events}
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"QueueConfigurations": [config]})
    bucket = Bucket(name, s3, sqs, url)
    bucket.records()  # the s3:TestEvent
    return bucket


class Bucket:
    def __init__(self, name: str, s3: Any, sqs: Any, queue_url: str) -> None:
        self.name, self.s3, self.sqs, self.queue_url = name, s3, sqs, queue_url

    def put(self, key: str, body: bytes = b"x") -> str | None:
        version: str | None = self.s3.put_object(Bucket=self.name, Key=key, Body=body).get("VersionId")
        return version

    def records(self) -> list[dict[str, Any]]:
        """Every record delivered so far, in sending order (moto's standard queues keep it)."""
        records: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return records
            for message in messages:
                body = json.loads(message["Body"])
                records.extend(body.get("Records", []))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def _shape(record: dict[str, Any]) -> tuple[str, str, str | None]:
    return record["eventName"], record["s3"]["object"]["key"], record["s3"]["object"].get("versionId")


def _assert_real_shape(records: list[dict[str, Any]]) -> None:
    """What S3 sends: Powertools' strict model and the project's lenient one both accept it; a
    sequencer everywhere; size and ETag on creations only."""
    S3Model.model_validate({"Records": records})
    S3Notification.model_validate({"Records": records})
    for record in records:
        obj = record["s3"]["object"]
        assert int(obj["sequencer"], 16) > 0
        assert ("size" in obj) == record["eventName"].startswith("ObjectCreated")


# --------------------------------------------------------------------------- deletes
def test_an_unversioned_delete_notifies_once(aws: Aws) -> None:
    bucket = _bucket(aws, versioned=False, events=["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    bucket.put("posts/a.md")
    bucket.s3.delete_object(Bucket=bucket.name, Key="posts/a.md")
    records = bucket.records()
    assert [_shape(r) for r in records] == [
        ("ObjectCreated:Put", "posts%2Fa.md", None),
        ("ObjectRemoved:Delete", "posts%2Fa.md", None),
    ]
    _assert_real_shape(records)


def test_a_versioned_delete_makes_a_marker_and_says_so(aws: Aws) -> None:
    bucket = _bucket(aws, versioned=True, events=["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    version = bucket.put("posts/a b.md")
    marker = bucket.s3.delete_object(Bucket=bucket.name, Key="posts/a b.md")
    assert marker["DeleteMarker"] is True
    records = bucket.records()
    assert [_shape(r) for r in records] == [
        ("ObjectCreated:Put", "posts%2Fa+b.md", version),
        ("ObjectRemoved:DeleteMarkerCreated", "posts%2Fa+b.md", marker["VersionId"]),
    ]
    _assert_real_shape(records)
    assert records[0]["s3"]["object"]["sequencer"] < records[1]["s3"]["object"]["sequencer"]


def test_every_permanent_version_delete_notifies_also_a_markers(aws: Aws) -> None:
    bucket = _bucket(aws, versioned=True, events=["s3:ObjectRemoved:*"])
    first, second = bucket.put("posts/a.md", b"1"), bucket.put("posts/a.md", b"2")
    marker = bucket.s3.delete_object(Bucket=bucket.name, Key="posts/a.md")["VersionId"]
    for version in (first, marker):  # an old version, then the marker (which restores `second`)
        bucket.s3.delete_object(Bucket=bucket.name, Key="posts/a.md", VersionId=version)
    assert bucket.s3.get_object(Bucket=bucket.name, Key="posts/a.md")["VersionId"] == second
    bucket.s3.delete_object(Bucket=bucket.name, Key="posts/a.md", VersionId=second)  # the last one
    records = bucket.records()
    assert [_shape(r) for r in records] == [
        ("ObjectRemoved:DeleteMarkerCreated", "posts%2Fa.md", marker),
        ("ObjectRemoved:Delete", "posts%2Fa.md", first),
        ("ObjectRemoved:Delete", "posts%2Fa.md", marker),
        ("ObjectRemoved:Delete", "posts%2Fa.md", second),
    ]
    _assert_real_shape(records)
    sequencers = [r["s3"]["object"]["sequencer"] for r in records]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 4


def test_deleting_what_is_not_there_sends_nothing(aws: Aws) -> None:
    bucket = _bucket(aws, versioned=True, events=["s3:ObjectRemoved:*"])
    bucket.put("posts/a.md")
    bucket.s3.delete_object(Bucket=bucket.name, Key="posts/a.md", VersionId="no-such-version")
    assert bucket.records() == []


@pytest.mark.parametrize("versioned", [True, False])
def test_a_multi_object_delete_notifies_each_object(aws: Aws, versioned: bool) -> None:
    bucket = _bucket(aws, versioned=versioned, events=["s3:ObjectRemoved:*"])
    keys = [f"posts/{n}.md" for n in range(3)]
    for key in keys:
        bucket.put(key)
    answer = bucket.s3.delete_objects(Bucket=bucket.name, Delete={"Objects": [{"Key": key} for key in keys]})
    assert sorted(d["Key"] for d in answer["Deleted"]) == keys
    records = bucket.records()
    expected = "ObjectRemoved:DeleteMarkerCreated" if versioned else "ObjectRemoved:Delete"
    assert sorted(_shape(r)[:2] for r in records) == [(expected, key.replace("/", "%2F")) for key in keys]
    if versioned:
        markers = {d["Key"]: d["DeleteMarkerVersionId"] for d in answer["Deleted"]}
        assert {r["s3"]["object"]["versionId"] for r in records} == set(markers.values())
    _assert_real_shape(records)


def test_filters_and_event_names_are_honoured(aws: Aws) -> None:
    rules = [{"Name": "prefix", "Value": "posts/"}, {"Name": "suffix", "Value": ".md"}]
    only_markers = _bucket(aws, versioned=True, events=["s3:ObjectRemoved:DeleteMarkerCreated"], rules=rules)
    for key in ("posts/a.md", "posts/a.png", "drafts/a.md"):
        version = only_markers.put(key)
        only_markers.s3.delete_object(Bucket=only_markers.name, Key=key)  # a marker
        only_markers.s3.delete_object(Bucket=only_markers.name, Key=key, VersionId=version)  # not a marker
    assert [_shape(r)[:2] for r in only_markers.records()] == [("ObjectRemoved:DeleteMarkerCreated", "posts%2Fa.md")]

    created_only = _bucket(aws, versioned=True, events=["s3:ObjectCreated:*"])
    created_only.put("posts/a.md")
    created_only.s3.delete_object(Bucket=created_only.name, Key="posts/a.md")
    assert [_shape(r)[0] for r in created_only.records()] == ["ObjectCreated:Put"]


# --------------------------------------------------------------------------- key limit
def _key_of(text: str, size: int) -> str:
    """``posts/`` + ``text`` repeated to ``size`` UTF-8 bytes or one character past them."""
    key = "posts/"
    while len(key.encode()) < size:
        key += text
    return key


KEY_SIZES = st.integers(min_value=1000, max_value=1060)
KEY_TEXTS = st.sampled_from(["a", "é", "€", "😀", "a/b"])  # 1, 2, 3 and 4 bytes a character


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=KEY_SIZES, text=KEY_TEXTS)
def test_keys_over_1024_bytes_are_refused_as_s3_refuses_them(aws: Aws, size: int, text: str) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="limits")
    key = _key_of(text, size)
    fits = len(key.encode()) <= motoserver.MAX_KEY_BYTES
    operations: dict[str, Callable[[], Any]] = {
        "PutObject": lambda: s3.put_object(Bucket="limits", Key=key, Body=b"x"),
        "CopyObject": lambda: s3.copy_object(Bucket="limits", Key=key, CopySource={"Bucket": "limits", "Key": "src"}),
        "CreateMultipartUpload": lambda: s3.create_multipart_upload(Bucket="limits", Key=key),
    }
    s3.put_object(Bucket="limits", Key="src", Body=b"x")
    for name, operation in operations.items():
        if fits:
            operation()
            continue
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            operation()
        error = refused.value.response
        assert error["Error"]["Code"] == "KeyTooLongError", name
        assert error["Error"]["Message"] == "Your key is too long", name
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400, name
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket="limits").get("Contents", [])}
    assert (key in listed) == fits


# --------------------------------------------------------------------------- concurrency
def _hammer_calls(ddb: Any, bucket: Any, queues: Any, queue: str, thread: int, n: int) -> list[Callable[[], Any]]:
    item = {"pk": {"S": f"seed{n % 10}"}, "sk": {"S": f"{thread}-{n}"}}

    def receive_and_delete() -> None:
        for message in queues.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            queues.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    return [
        lambda: ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "hammer", "Item": item}}]),
        lambda: ddb.put_item(TableName="hammer", Item={**item, "sk": {"S": f"p{thread}-{n}"}}),
        lambda: ddb.query(
            TableName="hammer",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"seed{n % 10}"}},
        ),
        lambda: bucket.put_object(Bucket="hammer", Key=f"k/{n % 4}", Body=b"x"),
        lambda: bucket.list_object_versions(Bucket="hammer", Prefix="k/"),
        lambda: bucket.delete_object(Bucket="hammer", Key=f"k/{n % 4}"),
        lambda: queues.send_message(QueueUrl=queue, MessageBody="x"),
        receive_and_delete,
    ]


def test_many_threads_at_once_get_no_server_errors(server: motoserver.MotoServer) -> None:
    """16 clients at once against one server: DynamoDB transactions beside writes and reads of the
    same table, S3 writes, listings and deletes of the same keys, SQS sends and receives of one
    queue. Unpatched moto answers some of the transactions with a 500."""
    aws = Aws(server.endpoint_url)
    dynamodb, s3, sqs = aws.client("dynamodb"), aws.client("s3"), aws.client("sqs")
    key_schema = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    attributes = [{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk")]
    dynamodb.create_table(
        TableName="hammer", KeySchema=key_schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
    )
    for start in range(0, SEEDED, 25):  # a table worth copying: a transaction copies it whole
        items = [
            {"PutRequest": {"Item": {"pk": {"S": f"seed{n % 10}"}, "sk": {"S": str(n)}}}}
            for n in range(start, start + 25)
        ]
        dynamodb.batch_write_item(RequestItems={"hammer": items})
    s3.create_bucket(Bucket="hammer")
    s3.put_bucket_versioning(Bucket="hammer", VersioningConfiguration={"Status": "Enabled"})
    queue = sqs.create_queue(QueueName="hammer")["QueueUrl"]
    failures: list[str] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        ddb, bucket, queues = (aws.client(s, NO_RETRIES) for s in ("dynamodb", "s3", "sqs"))
        for n in range(ROUNDS):
            for call in _hammer_calls(ddb, bucket, queues, queue, thread, n):
                try:
                    call()
                except botocore.exceptions.ClientError as error:
                    if error.response["ResponseMetadata"]["HTTPStatusCode"] >= 500:
                        with lock:
                            failures.append(str(error)[:200])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    count = dynamodb.scan(TableName="hammer", Select="COUNT")["Count"]
    assert count == SEEDED + 2 * 16 * ROUNDS  # every write landed


def test_dynamodb_requests_run_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock itself, without waiting for a race: a backend call that takes a while is never
    entered by two requests at once (unpatched, 8 clients overlap at once)."""
    import time

    from moto.dynamodb.models import DynamoDBBackend

    real_query = DynamoDBBackend.query
    inside, most = [0], [0]
    counting = threading.Lock()

    def slow_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        with counting:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            time.sleep(0.02)  # lets other request threads run, as a long deep copy does
            return real_query(self, *args, **kwargs)
        finally:
            with counting:
                inside[0] -= 1

    monkeypatch.setattr(DynamoDBBackend, "query", slow_query)
    with motoserver.start(separate_process=False) as running:
        aws = Aws(running.endpoint_url)
        schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
        aws.client("dynamodb").create_table(
            TableName="one-at-a-time",
            KeySchema=schema,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def query() -> None:
            client = aws.client("dynamodb", NO_RETRIES)
            for _ in range(3):
                client.query(
                    TableName="one-at-a-time",
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": "a"}},
                )

        threads = [threading.Thread(target=query) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert most[0] == 1


# --------------------------------------------------------------------------- the process
def test_the_server_process_ends_with_its_parent(tmp_path: Any) -> None:
    """A moto process whose parent died (stdin closed) stops by itself: no orphans on ports."""
    import subprocess
    import sys
    import time

    ready = tmp_path / "ready.json"
    command = [sys.executable, "-m", "pressline.local.motoserver", "--port", "0", "--ready-file", str(ready)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        port = json.loads(ready.read_text())["port"]
        assert motoserver.answers(f"http://127.0.0.1:{port}")
        assert process.stdin is not None
        process.stdin.close()  # what the parent's death does
        assert process.wait(timeout=15) == 0
        assert not motoserver.answers(f"http://127.0.0.1:{port}", timeout_s=0.5)
    finally:
        if process.poll() is None:
            process.kill()


def test_the_dispatcher_remembers_what_each_host_is_and_answers_as_moto_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request's service is found once per host: not by listing moto's package directory and
    trying every URL pattern each time (a quarter of the server's CPU in a bulk publish)."""
    import os

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    motoserver.patch_moto()
    dispatcher = DomainDispatcherApplication(create_backend_app)
    hosts = ["s3.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com", "s3"]
    first = {host: dispatcher.get_backend_for_host(host) for host in hosts}
    assert first == {"s3.us-east-1.amazonaws.com": "s3", "sqs.us-east-1.amazonaws.com": "sqs",
                     "dynamodb.us-east-1.amazonaws.com": "dynamodb", "s3": "s3"}  # fmt: skip

    def no_listing(path: str) -> list[str]:
        raise AssertionError(f"listed {path} again")

    monkeypatch.setattr(os, "listdir", no_listing)
    assert {host: dispatcher.get_backend_for_host(host) for host in hosts} == first
    assert dispatcher.get_backend_for_host(None) is None
