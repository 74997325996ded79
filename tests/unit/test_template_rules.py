"""The rules template.yaml must keep: reliability (DLQs, timeouts, batches), storage hygiene,
operability (alarms, outputs) and least-privilege IAM.

The template is checked after the SAM transform (offline: samtranslator, no credentials), so
Globals are applied and the IAM roles are the ones that would be deployed, SAM's generated
statements and managed policies included.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from pressline.local.template import referenced_ids

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

# AWS recommends a source queue visibility timeout of at least six times the function timeout,
# so a throttled or retried batch is not redelivered while it is still being processed.
VISIBILITY_FACTOR = 6
MIN_RECEIVE_COUNT = 3
DLQ_RETENTION_S = 14 * 24 * 3600  # the SQS maximum: time for an operator to redrive

# Managed policies a function role may carry. SAM attaches both; the SQS one grants
# receive/delete on every queue, so a role with it must deny consuming any other queue.
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
}
SQS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
CONSUME_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}

# The one wildcard resource allowed where an ARN exists: SES authorizes a send against the
# identity of every address involved (in the SES sandbox, recipients' too), which cannot be
# known in advance. The action list is limited to sending.
SES_IDENTITY_WILDCARD = re.compile(r":ses:\$\{AWS::Region\}:\$\{AWS::AccountId\}:identity/\*$")
SES_SEND_ACTIONS = {"ses:SendEmail", "ses:SendRawEmail"}

# Types a function's policy may only touch if its environment (or its event source) names them.
DATA_RESOURCE_TYPES = {
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::SNS::Topic",
    "AWS::SecretsManager::Secret",
}
OUTPUT_REQUIRED_TYPES = {"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::SNS::Topic"}


@cache
def _transformed() -> dict[str, Any]:
    sam = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    for resource in sam["Resources"].values():
        props = resource.get("Properties") or {}
        for uri in ("CodeUri", "ContentUri"):
            if isinstance(props.get(uri), str):
                props[uri] = "s3://placeholder/code.zip"
    # The translator only asks the session for a region: no credentials, no network.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    result: dict[str, Any] = translator.translate(sam, parameter_values={}, get_managed_policy_map=lambda: {})
    return result


@pytest.fixture
def cfn() -> dict[str, Any]:
    return copy.deepcopy(_transformed())


@pytest.fixture
def sam() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    return template


# --------------------------------------------------------------------------- helpers
def of_type(cfn: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in cfn["Resources"].items() if res["Type"] == type_name}


def props(resource: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = resource.get("Properties") or {}
    return value


def arn_of(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(role: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for policy in props(role).get("Policies") or []:
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            yield policy["PolicyName"], statement


def function_roles(cfn: dict[str, Any]) -> dict[str, str]:
    """Function logical id -> its execution role's logical id."""
    roles = {}
    for name, function in of_type(cfn, "AWS::Lambda::Function").items():
        role = props(function)["Role"]
        assert "Fn::GetAtt" in role, f"{name}: expected a role from this template, got {role}"
        roles[name] = role["Fn::GetAtt"][0]
    return roles


def sqs_mappings(cfn: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Queue logical id -> (consuming function logical id, event source mapping properties)."""
    mappings: dict[str, tuple[str, dict[str, Any]]] = {}
    queues = of_type(cfn, "AWS::SQS::Queue")
    for name, mapping in of_type(cfn, "AWS::Lambda::EventSourceMapping").items():
        source = referenced_ids(props(mapping)["EventSourceArn"])
        (function,) = referenced_ids(props(mapping)["FunctionName"])
        for queue in source & queues.keys():
            assert queue not in mappings, f"{queue} is consumed by both {mappings[queue][0]} and {function} ({name})"
            mappings[queue] = (function, props(mapping))
    return mappings


def dead_letter_queues(cfn: dict[str, Any]) -> set[str]:
    """Queues that are a redrive target or a Lambda dead-letter target."""
    targets: set[str] = set()
    for queue in of_type(cfn, "AWS::SQS::Queue").values():
        redrive = props(queue).get("RedrivePolicy")
        if redrive:
            targets |= referenced_ids(redrive["deadLetterTargetArn"])
    for function in of_type(cfn, "AWS::Lambda::Function").values():
        config = props(function).get("DeadLetterConfig")
        if config:
            targets |= referenced_ids(config["TargetArn"])
    return targets


# --------------------------------------------------------------------------- queues
def test_every_work_queue_redrives_to_a_dead_letter_queue(cfn: dict[str, Any]) -> None:
    queues = of_type(cfn, "AWS::SQS::Queue")
    dlqs = dead_letter_queues(cfn)
    assert dlqs <= queues.keys(), f"dead-letter targets that are not queues here: {dlqs - queues.keys()}"
    work_queues = queues.keys() - dlqs
    assert work_queues, "no work queues found"
    for name in sorted(work_queues):
        redrive = props(queues[name]).get("RedrivePolicy")
        assert redrive, f"{name}: no RedrivePolicy, a poison message would be retried until it expires"
        assert int(redrive["maxReceiveCount"]) >= MIN_RECEIVE_COUNT, (
            f"{name}: maxReceiveCount {redrive['maxReceiveCount']} < {MIN_RECEIVE_COUNT}: "
            "a transient failure would dead-letter the message"
        )
        (target,) = referenced_ids(redrive["deadLetterTargetArn"])
        assert bool(props(queues[name]).get("FifoQueue")) == bool(props(queues[target]).get("FifoQueue")), (
            f"{name}: a FIFO queue needs a FIFO dead-letter queue (and a standard one a standard DLQ)"
        )


def test_dead_letter_queues_keep_messages_for_the_maximum_time(cfn: dict[str, Any]) -> None:
    queues = of_type(cfn, "AWS::SQS::Queue")
    for name in sorted(dead_letter_queues(cfn)):
        retention = int(props(queues[name]).get("MessageRetentionPeriod", 345600))
        assert retention == DLQ_RETENTION_S, f"{name}: keeps messages {retention} s, not {DLQ_RETENTION_S} s"
        assert "RedrivePolicy" not in props(queues[name]), f"{name}: a dead-letter queue redrives elsewhere"


def test_every_queue_uses_sqs_managed_encryption(cfn: dict[str, Any]) -> None:
    for name, queue in of_type(cfn, "AWS::SQS::Queue").items():
        assert props(queue).get("SqsManagedSseEnabled") is True, f"{name}: SqsManagedSseEnabled is not true"
        # S3 event notifications cannot reach a queue encrypted with the AWS-managed aws/sqs key.
        assert "KmsMasterKeyId" not in props(queue), f"{name}: use SSE-SQS, not a KMS key"


def test_index_queue_is_standard_and_index_is_at_most_two_invocations(sam: dict[str, Any]) -> None:
    """Index orders changes itself, so its queue is a standard one (no update waits behind
    another); it receives its own backlog, so it needs the queue's URL and no batching window."""
    assert not props(sam["Resources"]["IndexQueue"]).get("FifoQueue")
    assert not props(sam["Resources"]["IndexDeadLetterQueue"]).get("FifoQueue")
    index = props(sam["Resources"]["IndexFunction"])
    event = index["Events"]["Index"]["Properties"]
    assert event["ScalingConfig"]["MaximumConcurrency"] == 2
    assert "MaximumBatchingWindowInSeconds" not in event
    assert "INDEX_QUEUE_URL" in index["Environment"]["Variables"]


def test_visibility_timeout_is_six_times_the_consumer_timeout(cfn: dict[str, Any]) -> None:
    queues = of_type(cfn, "AWS::SQS::Queue")
    functions = of_type(cfn, "AWS::Lambda::Function")
    mappings = sqs_mappings(cfn)
    assert mappings, "no SQS event sources found"
    for queue, (function, _) in sorted(mappings.items()):
        timeout = int(props(functions[function]).get("Timeout", 3))
        visibility = int(props(queues[queue]).get("VisibilityTimeout", 30))
        assert visibility >= VISIBILITY_FACTOR * timeout, (
            f"{queue}: VisibilityTimeout {visibility} s < {VISIBILITY_FACTOR} x {function} Timeout {timeout} s"
        )


def test_every_work_queue_has_exactly_one_consumer(cfn: dict[str, Any]) -> None:
    work_queues = of_type(cfn, "AWS::SQS::Queue").keys() - dead_letter_queues(cfn)
    assert set(sqs_mappings(cfn)) == work_queues


def test_every_sqs_event_sets_batch_size_and_reports_item_failures(sam: dict[str, Any]) -> None:
    found = 0
    for name, resource in sam["Resources"].items():
        for event_name, event in (props(resource).get("Events") or {}).items():
            if event["Type"] != "SQS":
                continue
            found += 1
            where = f"{name}.Events.{event_name}"
            assert "BatchSize" in event["Properties"], f"{where}: BatchSize is not set"
            assert "ReportBatchItemFailures" in event["Properties"].get("FunctionResponseTypes", []), (
                f"{where}: without ReportBatchItemFailures one bad record retries the whole batch"
            )
    assert found, "no SQS events found"


def test_every_dead_letter_queue_has_an_alarm(cfn: dict[str, Any]) -> None:
    alarmed: set[str] = set()
    for alarm in of_type(cfn, "AWS::CloudWatch::Alarm").values():
        p = props(alarm)
        if p.get("Namespace") != "AWS/SQS" or p.get("MetricName") != "ApproximateNumberOfMessagesVisible":
            continue
        assert p.get("AlarmActions"), f"alarm on {p.get('Dimensions')} notifies no one"
        assert p.get("ComparisonOperator") == "GreaterThanThreshold" and int(p["Threshold"]) == 0
        for dimension in p.get("Dimensions", []):
            if dimension["Name"] == "QueueName":
                alarmed |= referenced_ids(dimension["Value"])
    missing = dead_letter_queues(cfn) - alarmed
    assert not missing, f"dead-letter queues without an alarm: {sorted(missing)}"


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_error_and_a_throttle_alarm(cfn: dict[str, Any], metric: str) -> None:
    alarmed: set[str] = set()
    for alarm in of_type(cfn, "AWS::CloudWatch::Alarm").values():
        p = props(alarm)
        if p.get("Namespace") != "AWS/Lambda" or p.get("MetricName") != metric:
            continue
        assert p.get("AlarmActions"), f"{metric} alarm on {p.get('Dimensions')} notifies no one"
        assert p.get("ComparisonOperator") == "GreaterThanThreshold" and int(p["Threshold"]) == 0
        for dimension in p.get("Dimensions", []):
            if dimension["Name"] == "FunctionName":
                alarmed |= referenced_ids(dimension["Value"])
    missing = set(of_type(cfn, "AWS::Lambda::Function")) - alarmed
    assert not missing, f"functions without a {metric} alarm: {sorted(missing)}"


def test_asynchronous_event_sources_have_a_dead_letter_queue(sam: dict[str, Any]) -> None:
    """Lambda retries an async (SNS) invocation twice, then drops it unless a DLQ catches it."""
    for name, resource in sam["Resources"].items():
        events = props(resource).get("Events") or {}
        if any(event["Type"] == "SNS" for event in events.values()):
            assert props(resource).get("DeadLetterQueue"), f"{name}: SNS-invoked with no DeadLetterQueue"


# --------------------------------------------------------------------------- storage
def test_buckets_are_private_encrypted_and_tls_only(cfn: dict[str, Any]) -> None:
    buckets = of_type(cfn, "AWS::S3::Bucket")
    policies = {
        next(iter(referenced_ids(props(policy)["Bucket"]))): props(policy)["PolicyDocument"]
        for policy in of_type(cfn, "AWS::S3::BucketPolicy").values()
    }
    for name, bucket in buckets.items():
        p = props(bucket)
        block = p.get("PublicAccessBlockConfiguration", {})
        for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            assert block.get(setting) is True, f"{name}: {setting} is not true"
        rules = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        assert rules and rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), (
            f"{name}: no default encryption"
        )
        assert p.get("OwnershipControls", {}).get("Rules") == [{"ObjectOwnership": "BucketOwnerEnforced"}], (
            f"{name}: ACLs are not disabled (BucketOwnerEnforced)"
        )
        assert name in policies, f"{name}: no bucket policy (TLS-only)"
        deny_insecure = [
            s
            for s in as_list(policies[name]["Statement"])
            if s["Effect"] == "Deny"
            and s.get("Principal") == "*"
            and s.get("Action") == "s3:*"
            and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert deny_insecure, f"{name}: the policy does not deny requests without TLS"
        assert {name} == referenced_ids(deny_insecure[0]["Resource"]) and len(deny_insecure[0]["Resource"]) == 2, (
            f"{name}: the TLS-only statement must cover the bucket and its objects"
        )


def test_source_bucket_is_versioned(cfn: dict[str, Any]) -> None:
    versioning = props(cfn["Resources"]["SourceBucket"]).get("VersioningConfiguration")
    assert versioning == {"Status": "Enabled"}


def test_buckets_log_access_to_the_log_bucket(cfn: dict[str, Any]) -> None:
    for name in ("SourceBucket", "SiteBucket"):
        logging = props(cfn["Resources"][name]).get("LoggingConfiguration") or {}
        assert referenced_ids(logging.get("DestinationBucketName")) == {"AccessLogsBucket"}, name


def test_tables_are_on_demand_with_point_in_time_recovery(cfn: dict[str, Any]) -> None:
    tables = of_type(cfn, "AWS::DynamoDB::Table")
    assert tables
    for name, table in tables.items():
        p = props(table)
        assert p.get("BillingMode") == "PAY_PER_REQUEST", f"{name}: not on-demand"
        assert p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True, (
            f"{name}: point-in-time recovery is off"
        )
        assert p.get("SSESpecification", {}).get("SSEEnabled") is True, f"{name}: KMS encryption is off"


# --------------------------------------------------------------------------- outputs
def test_outputs_name_every_bucket_queue_table_topic_and_the_api(cfn: dict[str, Any]) -> None:
    outputs = cfn["Outputs"]
    for required in ("SourceBucketName", "SiteBucketName", "ApiUrl"):
        assert required in outputs, f"output {required} is missing"
    assert referenced_ids(outputs["SourceBucketName"]["Value"]) == {"SourceBucket"}
    assert referenced_ids(outputs["SiteBucketName"]["Value"]) == {"SiteBucket"}
    assert "ServerlessHttpApi" in referenced_ids(outputs["ApiUrl"]["Value"])
    output_refs: set[str] = set()
    for output in outputs.values():
        output_refs |= referenced_ids(output["Value"])
    for type_name in OUTPUT_REQUIRED_TYPES:
        missing = of_type(cfn, type_name).keys() - output_refs
        assert not missing, f"{type_name} without an output: {sorted(missing)}"


# --------------------------------------------------------------------------- functions
# Functions with a layer of their own beside the shared one (what only they import).
OWN_LAYERS = {"ImageFunction": "ImagesLayer"}  # Pillow and pressline.images (issue 14)


def test_every_function_runs_python_312_with_the_shared_layer(cfn: dict[str, Any]) -> None:
    def written(layer: str) -> str:  # SAM adds a hash of the content to a layer's logical id
        return re.sub(r"[0-9a-f]{10}$", "", layer)

    layers = {written(layer) for layer in of_type(cfn, "AWS::Lambda::LayerVersion")}
    assert layers == {"SharedLayer", *OWN_LAYERS.values()}
    for name, function in of_type(cfn, "AWS::Lambda::Function").items():
        assert props(function)["Runtime"] == "python3.12", name
        expected = ["SharedLayer", *([OWN_LAYERS[name]] if name in OWN_LAYERS else [])]
        # In this order: Lambda unpacks later layers over earlier ones into one /opt.
        found = [written(next(iter(referenced_ids(layer)))) for layer in props(function).get("Layers", [])]
        assert found == expected, f"{name}: layers {found}, expected {expected}"


# --------------------------------------------------------------------------- IAM
def test_no_statement_grants_a_wildcard_action_or_resource(cfn: dict[str, Any]) -> None:
    for role_name, role in of_type(cfn, "AWS::IAM::Role").items():
        for policy, statement in statements(role):
            where = f"{role_name}/{policy}: {statement}"
            assert "NotAction" not in statement, f"{where}: NotAction grants everything else"
            if statement["Effect"] != "Allow":
                continue
            assert "NotResource" not in statement, f"{where}: Allow with NotResource"
            actions = as_list(statement["Action"])
            assert all("*" not in action for action in actions), f"{where}: wildcard action"
            for resource in as_list(statement["Resource"]):
                assert resource != "*", f"{where}: Resource '*'"
                text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else resource
                text = text[0] if isinstance(text, list) else text
                if text.endswith("*") and SES_IDENTITY_WILDCARD.search(text):
                    assert set(actions) <= SES_SEND_ACTIONS, f"{where}: SES identity wildcard beyond sending"
                    continue
                # A wildcard may narrow a path under a named resource (bucket/prefix/*, table/index/*),
                # never stand for the resource itself.
                named = {ref for ref in referenced_ids(resource) if not ref.startswith("AWS::")}
                assert not re.search(r"(^|[:/])\*$", text) or named, f"{where}: wildcard ARN"


def test_function_roles_use_only_known_managed_policies(cfn: dict[str, Any]) -> None:
    mappings = sqs_mappings(cfn)
    roles = function_roles(cfn)
    for function, role_name in roles.items():
        role = cfn["Resources"][role_name]
        managed = set(props(role).get("ManagedPolicyArns", []))
        assert managed <= ALLOWED_MANAGED_POLICIES, f"{role_name}: unexpected managed policies {managed}"
        if SQS_EXECUTION_POLICY not in managed:
            continue
        own_queues = [arn_of(queue) for queue, (consumer, _) in mappings.items() if consumer == function]
        guards = [
            s
            for _, s in statements(role)
            if s["Effect"] == "Deny"
            and set(as_list(s["Action"])) >= CONSUME_ACTIONS
            and as_list(s.get("NotResource")) == own_queues
        ]
        assert guards, (
            f"{function}: AWSLambdaSQSQueueExecutionRole lets it consume every queue; add a Deny of "
            f"{sorted(CONSUME_ACTIONS)} with NotResource its own queue"
        )


def test_functions_touch_only_the_resources_they_are_configured_with(cfn: dict[str, Any]) -> None:
    data_resources = {name for type_name in DATA_RESOURCE_TYPES for name in of_type(cfn, type_name)}
    mappings = sqs_mappings(cfn)
    for function, role_name in function_roles(cfn).items():
        p = props(cfn["Resources"][function])
        configured = referenced_ids((p.get("Environment") or {}).get("Variables", {}))
        configured |= {queue for queue, (consumer, _) in mappings.items() if consumer == function}
        configured |= referenced_ids(p.get("DeadLetterConfig", {}))
        granted: set[str] = set()
        for _, statement in statements(cfn["Resources"][role_name]):
            if statement["Effect"] == "Allow":
                granted |= referenced_ids(statement.get("Resource"))
        unexpected = (granted & data_resources) - configured
        assert not unexpected, f"{function} may access {sorted(unexpected)}, which its environment does not name"


def test_resource_policies_allow_only_service_principals_bound_to_this_account(cfn: dict[str, Any]) -> None:
    """Bucket and queue policies: no wildcard actions, and every Allow names an AWS service and is
    tied to this stack's resource or account (no confused deputy)."""
    policies = {**of_type(cfn, "AWS::S3::BucketPolicy"), **of_type(cfn, "AWS::SQS::QueuePolicy")}
    assert policies
    for name, policy in policies.items():
        for statement in as_list(props(policy)["PolicyDocument"]["Statement"]):
            if statement["Effect"] != "Allow":
                continue
            where = f"{name}: {statement.get('Sid', statement)}"
            assert all("*" not in action for action in as_list(statement["Action"])), f"{where}: wildcard action"
            principal = statement.get("Principal")
            assert isinstance(principal, dict) and set(principal) == {"Service"}, f"{where}: not a service"
            conditions = {key for operator in statement.get("Condition", {}).values() for key in operator}
            assert conditions & {"aws:SourceArn", "AWS:SourceArn", "aws:SourceAccount"}, (
                f"{where}: no aws:SourceArn / aws:SourceAccount condition"
            )
