"""The local stack builds every resource of template.yaml on moto, as the template says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import yaml

from pressline.local.harness import StackHandle
from pressline.local.stack import EnvironmentConflictError, LocalFunction, merged_environment

ROOT = Path(__file__).resolve().parents[2]


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !GetAtt...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _any_tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_TemplateLoader)
    return loaded


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r.get("Properties") or {} for name, r in template["Resources"].items() if r["Type"] == kind}


def test_outputs_are_the_templates_with_local_values(aws_stack: StackHandle, template: dict[str, Any]) -> None:
    assert set(aws_stack.outputs) == set(template["Outputs"])
    assert aws_stack.outputs["ApiUrl"] == "http://127.0.0.1:8080/api"
    assert aws_stack.outputs["SiteDistributionDomain"] == "127.0.0.1:8080"


def test_buckets_exist_and_versioning_follows_the_template(aws_stack: StackHandle, template: dict[str, Any]) -> None:
    buckets = _of_type(template, "AWS::S3::Bucket")
    assert buckets
    for logical_id, props in buckets.items():
        name = aws_stack.stack.resources[logical_id]
        status = aws_stack.s3.get_bucket_versioning(Bucket=name).get("Status")
        assert status == (props.get("VersioningConfiguration") or {}).get("Status"), logical_id
        if "PublicAccessBlockConfiguration" in props:
            block = aws_stack.s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
            assert block == props["PublicAccessBlockConfiguration"], logical_id
    assert aws_stack.s3.get_bucket_versioning(Bucket=aws_stack.outputs["SourceBucketName"])["Status"] == "Enabled"


def test_queues_have_their_redrive_policy_and_fifo_setting(aws_stack: StackHandle, template: dict[str, Any]) -> None:
    queues = _of_type(template, "AWS::SQS::Queue")
    arns: dict[str, str] = {}
    for logical_id in queues:
        url = aws_stack.stack.resources[logical_id]
        arns[logical_id] = aws_stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    for logical_id, props in queues.items():
        url = aws_stack.stack.resources[logical_id]
        attributes = aws_stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes.get("FifoQueue", "false") == str(bool(props.get("FifoQueue", False))).lower(), logical_id
        if "VisibilityTimeout" in props:
            assert attributes["VisibilityTimeout"] == str(props["VisibilityTimeout"]), logical_id
        if "RedrivePolicy" in props:
            redrive = json.loads(attributes["RedrivePolicy"])
            target = props["RedrivePolicy"]["deadLetterTargetArn"]  # "!GetAtt X.Arn" read as "X.Arn"
            assert redrive["deadLetterTargetArn"] == arns[target.split(".")[0]], logical_id
            assert int(redrive["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"], logical_id
    assert not aws_stack.outputs["IndexQueueUrl"].endswith(".fifo")  # Index orders changes itself


def test_tables_have_their_keys_indexes_and_ttl(aws_stack: StackHandle, template: dict[str, Any]) -> None:
    tables = _of_type(template, "AWS::DynamoDB::Table")
    assert tables
    for logical_id, props in tables.items():
        name = aws_stack.stack.resources[logical_id]
        table = aws_stack.dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == props["KeySchema"], logical_id
        expected_indexes = {index["IndexName"] for index in props.get("GlobalSecondaryIndexes", [])}
        assert {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])} == expected_indexes
        ttl = aws_stack.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in props:
            assert ttl["TimeToLiveStatus"] == "ENABLED", logical_id
            assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"], logical_id
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED", logical_id


def _matches(key: str, rules: list[dict[str, str]]) -> bool:
    return all(
        key.startswith(rule["Value"]) if rule["Name"].lower() == "prefix" else key.endswith(rule["Value"])
        for rule in rules
    )


def test_source_bucket_notifications_follow_the_template(aws_stack: StackHandle, template: dict[str, Any]) -> None:
    configs = template["Resources"]["SourceBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    created = [c for c in configs if c["Event"].startswith("s3:ObjectCreated")]
    assert created, "the template sends uploads to a queue"
    bucket = aws_stack.outputs["SourceBucketName"]
    queue = aws_stack.outputs["IntakeQueueUrl"]
    keys = ["posts/hello world.md", "posts/notes.txt", "reports/posts/x.md.json", "rendered/posts/x.md/v1.json"]
    expected = {key for key in keys if any(_matches(key, c["Filter"]["S3Key"]["Rules"]) for c in created)}
    assert "posts/hello world.md" in expected
    assert "reports/posts/x.md.json" not in expected
    for key in keys:
        aws_stack.s3.put_object(Bucket=bucket, Key=key, Body=b"---\ntitle: Hi\n---\nHello\n")
    messages = aws_stack.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    # The s3:TestEvent sent when notifications were configured was removed by provisioning.
    records = [json.loads(m["Body"])["Records"][0] for m in messages]
    assert {unquote_plus(r["s3"]["object"]["key"]) for r in records} == expected
    assert {r["eventName"] for r in records} == {"ObjectCreated:Put"}
    assert {r["s3"]["bucket"]["name"] for r in records} == {bucket}


def test_secret_configuration_set_and_sender_identity(aws_stack: StackHandle) -> None:
    env = aws_stack.stack.environment()
    secret = aws_stack.client("secretsmanager").get_secret_value(SecretId=env["TOKEN_SECRET_ARN"])["SecretString"]
    assert len(secret) == 64 and secret.isalnum()
    config_sets = aws_stack.ses.list_configuration_sets()["ConfigurationSets"]
    assert env["SES_CONFIGURATION_SET"] in {c["Name"] for c in config_sets}
    identities = aws_stack.ses.list_identities(IdentityType="EmailAddress")["Identities"]
    assert env["SENDER_EMAIL"] in identities


def test_function_table_comes_from_the_template(aws_stack: StackHandle, template: dict[str, Any]) -> None:
    functions = _of_type(template, "AWS::Serverless::Function")
    assert set(aws_stack.functions) == set(functions)
    for logical_id, props in functions.items():
        function = aws_stack.functions[logical_id]
        assert function.spec.handler_file == (ROOT / props["CodeUri"] / "app.py").resolve()
        assert set(function.environment) >= set(props.get("Environment", {}).get("Variables", {}))
        assert {event.name for event in function.events} == set(props.get("Events", {}))
    env = aws_stack.stack.environment()
    assert env["API_URL"] == aws_stack.outputs["ApiUrl"]
    assert env["SITE_URL"] == "http://127.0.0.1:8080"
    assert env["SOURCE_BUCKET"] == aws_stack.outputs["SourceBucketName"]
    assert env["INDEX_QUEUE_URL"] == aws_stack.outputs["IndexQueueUrl"]
    validate = aws_stack.function("Validate")
    [intake] = validate.events_of("SQS")
    assert intake.batch_size == 10
    assert str(intake.properties["Queue"]).endswith(":" + aws_stack.outputs["IntakeQueueUrl"].rsplit("/", 1)[-1])


def test_sns_triggered_function_gets_the_topics_messages(aws_stack: StackHandle) -> None:
    topic = aws_stack.outputs["EmailFeedbackTopicArn"]
    feedback = [f for f in aws_stack.functions.values() if f.events_of("SNS")]
    assert feedback, "the template has an SNS-triggered function"
    aws_stack.sns.publish(TopicArn=topic, Message=json.dumps({"notificationType": "Bounce"}))
    (url, _subscription) = aws_stack.stack.sns_queues[(feedback[0].logical_id, feedback[0].events_of("SNS")[0].name)]
    [message] = aws_stack.sqs.receive_message(QueueUrl=url).get("Messages", [])
    assert json.loads(json.loads(message["Body"])["Message"]) == {"notificationType": "Bounce"}


def test_conflicting_variables_fail_loudly(aws_stack: StackHandle) -> None:
    first, second = list(aws_stack.functions.values())[:2]
    changed = LocalFunction(
        spec=second.spec,
        name=second.name,
        arn=second.arn,
        environment={**second.environment, "SITE_TITLE": "Another title"},
        events=second.events,
    )
    with pytest.raises(EnvironmentConflictError, match="SITE_TITLE"):
        merged_environment([first, changed])


def test_drain_runs_the_pipeline_in_process(aws_stack: StackHandle) -> None:
    post = ROOT / "examples" / "posts" / "welcome-to-pressline.md"
    aws_stack.s3.put_object(
        Bucket=aws_stack.outputs["SourceBucketName"], Key="posts/welcome-to-pressline.md", Body=post.read_bytes()
    )
    ran = aws_stack.drain()
    assert [inv for inv in ran if not inv.ok] == []
    assert {"ValidateFunction", "RenderFunction", "IndexFunction"} <= {inv.function for inv in ran}
    site = aws_stack.outputs["SiteBucketName"]
    page = aws_stack.s3.get_object(Bucket=site, Key="posts/welcome-to-pressline/index.html")["Body"].read()
    assert b"Welcome to Pressline" in page
    home = aws_stack.s3.get_object(Bucket=site, Key="index.html")["Body"].read()
    assert b"/posts/welcome-to-pressline/" in home
    for key in ("IntakeQueueUrl", "RenderQueueUrl", "IndexQueueUrl", "NotifyQueueUrl", "DeliveryQueueUrl"):
        assert aws_stack.queue_depth(key) == 0, key


def test_a_topic_message_reaches_the_sns_triggered_function(aws_stack: StackHandle) -> None:
    bounce = json.loads((ROOT / "events" / "feedback-bounce.json").read_text())["Records"][0]["Sns"]["Message"]
    aws_stack.sns.publish(TopicArn=aws_stack.outputs["EmailFeedbackTopicArn"], Message=bounce)
    ran = aws_stack.drain()
    [feedback] = [inv for inv in ran if inv.function == "EmailFeedbackFunction"]
    assert feedback.ok and feedback.records == 1
    assert feedback.source.startswith("SNS ")


def test_invoke_calls_a_handler_with_an_event_file(aws_stack: StackHandle) -> None:
    event = json.loads((ROOT / "events" / "subscriptions-subscribe-json.json").read_text())
    response = aws_stack.invoke("Subscriptions", event)
    assert 200 <= response["statusCode"] < 300
    with pytest.raises(KeyError, match="no function 'Nope'"):
        aws_stack.invoke("Nope", event)


def test_scheduled_functions_run_with_the_schedulers_event(aws_stack: StackHandle) -> None:
    scheduled = {f.logical_id for f in aws_stack.functions.values() if f.events_of("Schedule", "ScheduleV2")}
    assert scheduled, "the template has a scheduled function"
    ran = aws_stack.run_schedules()
    assert {inv.function for inv in ran} == scheduled
    assert all(inv.ok for inv in ran), [inv.error for inv in ran]


def _cfn(environment: dict[str, Any], extra_resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "app.handler", "Environment": {"Variables": environment}},
            },
            **extra_resources,
        },
        "Outputs": {},
    }


def test_localize_resolves_stand_ins_and_prebuilt_values() -> None:
    from pressline.local.template import localize

    cfn = _cfn(
        {
            "API": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
            "SECRET": {"Ref": "Secret"},
            "QUEUE": {"Ref": "Queue"},
            "PLAIN": "x",
        },
        {
            "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {}},
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        },
    )
    localized = localize(
        cfn,
        frozenset({"AWS::SQS::Queue", "AWS::Lambda::Function"}),
        {"api_url": "http://127.0.0.1:8080/api", "site_host": "127.0.0.1:8080"},
        {"Secret": {"Ref": "arn:secret"}, "Fn": {"Ref": "fn", "Arn": "arn:fn"}},
    )
    assert set(localized.template["Resources"]) == {"Queue"}  # the function is run by the runner
    env = localized.environments["Fn"]
    assert env["API"] == "http://127.0.0.1:8080/api"
    assert env["SECRET"] == "arn:secret"
    assert env["PLAIN"] == "x"
    marker = env["QUEUE"]["__resolve__"]  # moto evaluates it, as an extra stack output
    assert localized.template["Outputs"][marker] == {"Value": {"Ref": "Queue"}}


def test_localize_fails_loudly_on_a_reference_it_cannot_provide() -> None:
    from pressline.local.template import TemplateError, localize

    cfn = _cfn({"ALARM": {"Ref": "Alarm"}}, {"Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}}})
    with pytest.raises(TemplateError, match=r"Fn\.Environment\.ALARM refers to \['Alarm'\]"):
        localize(cfn, frozenset({"AWS::SQS::Queue"}), {"api_url": "", "site_host": ""}, {"Fn": {"Ref": "fn"}})


def test_drain_can_retry_failures_at_once_until_the_dlq(aws_stack: StackHandle) -> None:
    render_queue = aws_stack.outputs["RenderQueueUrl"]
    aws_stack.sqs.send_message(QueueUrl=render_queue, MessageBody="not a render request")
    ran = aws_stack.drain(retry_after=0)
    attempts = [inv for inv in ran if inv.function == "RenderFunction"]
    redrive = json.loads(
        aws_stack.sqs.get_queue_attributes(QueueUrl=render_queue, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    assert len(attempts) == int(redrive["maxReceiveCount"])
    assert all(not inv.ok for inv in attempts)
    assert aws_stack.queue_depth("RenderQueueUrl") == 0
    assert aws_stack.queue_depth("RenderDeadLetterQueueUrl") == 1
