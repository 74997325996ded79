"""Provision every resource of template.yaml on moto (in-process ``mock_aws`` or a moto server).

moto's CloudFormation creates what it supports from the transformed template; this
module builds, from the template's own properties, what moto skips or ignores (the
token secret, the SES configuration set and its event destination, S3 notifications,
DynamoDB TTL). Nothing here lists resources by hand.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pressline.config import from_parameters
from pressline.local.template import (
    BUILT_LOCALLY,
    CONDITION_KEY,
    NOT_NEEDED_LOCALLY,
    PREBUILT,
    RESOLVE_PREFIX,
    EventSource,
    FunctionSpec,
    TemplateError,
    check_parameters,
    functions,
    localize,
    resolve,
    transform,
)

logger = logging.getLogger("pressline.local")

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "pressline"
# Variables each function sets to its own value (Powertools' service name): applied while
# that function's handler module is imported, never to the shared process environment.
PER_FUNCTION_VARIABLES = frozenset({"POWERTOOLS_SERVICE_NAME"})


class EnvironmentConflictError(TemplateError):
    """Raised when two functions give one environment variable different values: the local
    stack runs every handler in one process, so it cannot give each its own."""


@dataclass(frozen=True)
class LocalFunction:
    spec: FunctionSpec
    name: str  # the physical function name moto gave it
    arn: str
    environment: dict[str, str]  # resolved, local values
    events: tuple[EventSource, ...]  # properties resolved (queue and topic ARNs)

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    def events_of(self, *types: str) -> list[EventSource]:
        return [event for event in self.events if event.type in types]


@dataclass
class ProvisionedStack:
    stack_name: str
    region: str
    endpoint_url: str | None
    outputs: dict[str, str]  # the template's Outputs keys, local values
    resources: dict[str, str]  # logical id -> physical id
    functions: dict[str, LocalFunction]
    site_url: str
    api_url: str
    sender_emails: tuple[str, ...] = ()
    # (function logical id, event name) -> (queue URL, subscription ARN): an SNS-triggered
    # function's topic delivers to this queue, which the runner polls.
    sns_queues: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """The union of every function's variables (see :data:`PER_FUNCTION_VARIABLES`)."""
        return merged_environment(self.functions.values())


def merged_environment(local_functions: Any) -> dict[str, str]:
    merged: dict[str, str] = {}
    owners: dict[str, str] = {}
    for function in local_functions:
        for name, value in function.environment.items():
            if name in PER_FUNCTION_VARIABLES:
                continue
            if name in merged and merged[name] != value:
                raise EnvironmentConflictError(
                    f"{owners[name]} and {function.logical_id} set {name} to different values "
                    f"({merged[name]!r} and {value!r}); locally every handler shares one process environment"
                )
            merged[name] = value
            owners.setdefault(name, function.logical_id)
    return merged


class Clients:
    """boto3 clients for one region and endpoint (None: in-process moto), created once.

    Use :func:`clients_for`: creating a client costs ~80 ms, and in-process moto intercepts
    clients whenever they were created, so tests share one set.
    """

    def __init__(self, region: str, endpoint_url: str | None) -> None:
        import boto3

        self.region = region
        self._session = boto3.session.Session(region_name=region)
        self._endpoint_url = endpoint_url
        self._cache: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self._session.client(service, endpoint_url=self._endpoint_url)  # type: ignore[call-overload]
        return self._cache[service]


@cache
def clients_for(region: str, endpoint_url: str | None) -> Clients:
    return Clients(region, endpoint_url)


def provision(
    *,
    template_path: Path = DEFAULT_TEMPLATE,
    region: str = DEFAULT_REGION,
    endpoint_url: str | None = None,
    site_url: str = "http://127.0.0.1:8080",
    api_url: str | None = None,
    parameters: dict[str, str] | None = None,
    stack_name: str = DEFAULT_STACK_NAME,
) -> ProvisionedStack:
    """Create every resource of ``template_path`` on moto and return the local values.

    In-process, call it inside ``mock_aws``; against a moto server, pass ``endpoint_url``.
    ``site_url`` and ``api_url`` (default ``<site_url>/api``) are what the HTTP API and the
    site are served at locally: the functions' SITE_URL and API_URL.
    """
    from moto.cloudformation.parsing import get_model_map

    if endpoint_url is None:  # moto in this process (mock_aws): S3 deletes, key limit, see motoserver
        from pressline.local.motoserver import patch_moto

        patch_moto()
    site_url = site_url.rstrip("/")
    api_url = (api_url or f"{site_url}/api").rstrip("/")
    clients = clients_for(region, endpoint_url)
    transformed = transform(template_path, region)
    cfn = transformed.cfn

    account_id = str(clients("sts").get_caller_identity()["Account"])
    prebuilt = {
        logical_id: _prebuild(
            clients, stack_name, account_id, logical_id, resource["Type"], resource.get("Properties") or {}
        )
        for logical_id, resource in cfn["Resources"].items()
        if resource["Type"] in PREBUILT
    }
    local_values = {
        "api_url": api_url,
        "site_host": site_url.split("://", 1)[-1].split("/", 1)[0],
        "email_dns_records": "none: the local stack creates no SES identity (moto sends without DKIM)",
    }
    supported = frozenset(get_model_map()) - NOT_NEEDED_LOCALLY - BUILT_LOCALLY
    specs = functions(transformed)
    event_properties = {lid: {e.name: e.properties for e in spec.events} for lid, spec in specs.items()}
    localized = localize(cfn, supported, local_values, prebuilt, event_properties)
    if localized.unknown_types:
        logger.warning("Not created locally (no moto support): %s", ", ".join(sorted(localized.unknown_types)))

    template_parameters = cfn.get("Parameters") or {}
    # An override the template does not declare, or that breaks its constraints, is an error
    # here as it would be for CloudFormation, not a value silently dropped.
    parameter_values = {"SiteUrl": site_url, **check_parameters(template_parameters, parameters or {})}
    cfn_client = clients("cloudformation")
    cfn_client.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(localized.template),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in parameter_values.items() if k in template_parameters
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cfn_client.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise TemplateError(
            f"moto could not create the stack: {stack['StackStatus']} {stack.get('StackStatusReason', '')}"
        )
    all_outputs = {item["OutputKey"]: item.get("OutputValue", "") for item in stack.get("Outputs", [])}
    evaluated = {key: value for key, value in all_outputs.items() if key.startswith(RESOLVE_PREFIX)}
    outputs = {key: value for key, value in all_outputs.items() if not key.startswith(RESOLVE_PREFIX)}
    summaries = cfn_client.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    resources = {item["LogicalResourceId"]: item["PhysicalResourceId"] for item in summaries}
    resources.update({logical_id: known["Ref"] for logical_id, known in prebuilt.items()})

    for logical_id, (kind, props) in localized.ignored_properties.items():
        _apply_ignored(clients, resources[logical_id], kind, resolve(props, evaluated))
    for logical_id, (kind, props) in localized.built_after.items():
        resolved = resolve(props, evaluated)
        if resolved.pop(CONDITION_KEY, "true") == "true":
            _build_after(clients, logical_id, kind, resolved)

    local_functions: dict[str, LocalFunction] = {}
    resolved_events = resolve(localized.extra, evaluated)
    for logical_id, spec in specs.items():
        name = resources[logical_id]
        arn = prebuilt[logical_id]["Arn"]
        env = {key: str(value) for key, value in resolve(localized.environments[logical_id], evaluated).items()}
        # What pressline.config does in Lambda for an empty <NAME> with a <NAME>_PARAMETER, done
        # here once, from moto's SSM: every handler shares one process environment locally.
        env.update(from_parameters(env, clients("ssm")))
        events = tuple(
            EventSource(name=e.name, type=e.type, properties=resolved_events[logical_id][e.name]) for e in spec.events
        )
        local_functions[logical_id] = LocalFunction(spec=spec, name=name, arn=arn, environment=env, events=events)
    merged_environment(local_functions.values())  # fail now, not at the first event

    senders = tuple(
        sorted({f.environment["SENDER_EMAIL"] for f in local_functions.values() if "SENDER_EMAIL" in f.environment})
    )
    for sender in senders:
        clients("ses").verify_email_identity(EmailAddress=sender)

    sns_queues = {
        (function.logical_id, event.name): _sns_queue(clients, stack_name, function.logical_id, event)
        for function in local_functions.values()
        for event in function.events_of("SNS")
    }
    return ProvisionedStack(
        sns_queues=sns_queues,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        outputs=outputs,
        resources=resources,
        functions=local_functions,
        site_url=site_url,
        api_url=api_url,
        sender_emails=senders,
    )


# --------------------------------------------------------------------------- by hand
def _sns_queue(clients: Clients, stack_name: str, logical_id: str, event: EventSource) -> tuple[str, str]:
    """Subscribe a queue to an SNS-triggered function's topic: moto would run a Lambda
    subscription in Docker, so the runner reads the topic's messages from this queue."""
    sqs = clients("sqs")
    url: str = sqs.create_queue(QueueName=f"{stack_name}-{logical_id}-{event.name}-sns"[:80])["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes: dict[str, str] = {}
    if event.properties.get("FilterPolicy"):
        attributes["FilterPolicy"] = json.dumps(event.properties["FilterPolicy"])
        if event.properties.get("FilterPolicyScope"):
            attributes["FilterPolicyScope"] = str(event.properties["FilterPolicyScope"])
    subscription = clients("sns").subscribe(
        TopicArn=event.properties["Topic"], Protocol="sqs", Endpoint=queue_arn, Attributes=attributes
    )
    return url, str(subscription["SubscriptionArn"])


def _prebuild(
    clients: Clients, stack_name: str, account_id: str, logical_id: str, kind: str, props: dict[str, Any]
) -> dict[str, str]:
    """Create a PREBUILT resource; return its Ref value and attributes."""
    if kind == "AWS::Lambda::Function":
        # Named as CloudFormation names it; run by the runner, never created in moto.
        name = str(props.get("FunctionName") or f"{stack_name}-{logical_id}-{secrets.token_hex(6).upper()}"[:64])
        return {"Ref": name, "Arn": f"arn:aws:lambda:{clients.region}:{account_id}:function:{name}"}
    if kind == "AWS::SecretsManager::Secret":
        name = props.get("Name") or f"{stack_name}-{logical_id}"
        if "SecretString" in props:
            value = str(props["SecretString"])
        else:
            value = _generate_secret(props.get("GenerateSecretString") or {})
        arn: str = clients("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
        return {"Ref": arn, "Id": arn}
    if kind == "AWS::SES::ConfigurationSet":
        name = str(props.get("Name") or f"{stack_name}-{logical_id}")
        clients("ses").create_configuration_set(ConfigurationSet={"Name": name})
        return {"Ref": name}
    raise TemplateError(f"{logical_id}: no local builder for {kind}")


def _generate_secret(spec: dict[str, Any]) -> str:
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    excluded = str(spec.get("ExcludeCharacters", ""))
    alphabet = "".join(c for c in alphabet if c not in excluded)
    return "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))


def _apply_ignored(clients: Clients, physical_id: str, kind: str, props: dict[str, Any]) -> None:
    if kind == "AWS::S3::Bucket":
        _apply_bucket_properties(clients, physical_id, props)
    if kind == "AWS::DynamoDB::Table" and "TimeToLiveSpecification" in props:
        spec = props["TimeToLiveSpecification"]
        clients("dynamodb").update_time_to_live(
            TableName=physical_id,
            TimeToLiveSpecification={
                "AttributeName": spec["AttributeName"],
                "Enabled": bool(spec.get("Enabled", True)),
            },
        )


def _apply_bucket_properties(clients: Clients, bucket: str, props: dict[str, Any]) -> None:
    s3 = clients("s3")
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
        )
    if "PublicAccessBlockConfiguration" in props:
        block = {key: bool(value) for key, value in props["PublicAccessBlockConfiguration"].items()}
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(
            Bucket=bucket,
            OwnershipControls={
                "Rules": [{"ObjectOwnership": r["ObjectOwnership"]} for r in props["OwnershipControls"]["Rules"]]
            },
        )
    if "LifecycleConfiguration" in props:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
            },
        )
    if "NotificationConfiguration" in props:
        _apply_bucket_notifications(clients, bucket, props["NotificationConfiguration"])


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> the S3 API's."""
    api: dict[str, Any] = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        api["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    elif "NoncurrentVersionExpirationInDays" in rule:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return api


def _filter(config: dict[str, Any]) -> dict[str, Any]:
    rules = ((config.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
    return (
        {"Filter": {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}} if rules else {}
    )


def _apply_bucket_notifications(clients: Clients, bucket: str, config: dict[str, Any]) -> None:
    queues = [
        {"QueueArn": c["Queue"], "Events": [c["Event"]], **_filter(c)} for c in config.get("QueueConfigurations") or []
    ]
    topics = [
        {"TopicArn": c["Topic"], "Events": [c["Event"]], **_filter(c)} for c in config.get("TopicConfigurations") or []
    ]
    if config.get("LambdaConfigurations"):
        # moto would run the function in Docker; the template uses queues between stages.
        logger.warning("%s: Lambda notifications are not run locally", bucket)
    if config.get("EventBridgeConfiguration"):
        logger.warning("%s: EventBridge notifications are not run locally", bucket)
    clients("s3").put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": queues, "TopicConfigurations": topics},
    )
    # S3 sends an s3:TestEvent when notifications are configured: remove it so queues start empty.
    sqs = clients("sqs")
    for arn in {q["QueueArn"] for q in queues}:
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            if json.loads(message["Body"]).get("Event") == "s3:TestEvent":
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def _build_after(clients: Clients, logical_id: str, kind: str, props: dict[str, Any]) -> None:
    if kind == "AWS::SES::ConfigurationSetEventDestination":
        destination = dict(props["EventDestination"])
        api_destination: dict[str, Any] = {
            "Name": destination.get("Name") or logical_id,
            "Enabled": bool(destination.get("Enabled", False)),
            "MatchingEventTypes": destination.get("MatchingEventTypes", []),
        }
        if "SnsDestination" in destination:
            api_destination["SNSDestination"] = {"TopicARN": destination["SnsDestination"]["TopicARN"]}
        clients("ses").create_configuration_set_event_destination(
            ConfigurationSetName=props["ConfigurationSetName"], EventDestination=api_destination
        )
    elif kind == "AWS::SNS::Subscription":
        protocol = props.get("Protocol")
        if protocol == "lambda":
            return  # the runner delivers the topic's messages to the function (see runner.py)
        if protocol in ("sqs", "http", "https") and props.get("Endpoint"):
            clients("sns").subscribe(TopicArn=props["TopicArn"], Protocol=protocol, Endpoint=props["Endpoint"])
        else:
            logger.info("%s: %s subscriptions are not created locally", logical_id, protocol)
    else:
        raise TemplateError(f"{logical_id}: no local builder for {kind}")


def describe_functions(stack: ProvisionedStack) -> dict[str, dict[str, Any]]:
    """What ``pressline local invoke`` needs to call a function of a running stack (JSON-ready)."""
    return {
        logical_id: {"name": function.name, "arn": function.arn, "environment": function.environment}
        for logical_id, function in stack.functions.items()
    }


def function_from_description(
    template_path: Path, region: str, description: dict[str, dict[str, Any]], name: str
) -> LocalFunction:
    """One function of a running stack: its handler from the template, the rest from
    :func:`describe_functions`. ``name`` is a logical id, with or without ``Function``."""
    specs = functions(transform(template_path, region))
    logical_id = name if name in specs else f"{name}Function"
    if logical_id not in specs or logical_id not in description:
        raise KeyError(f"no function {name!r}; the template has {', '.join(sorted(specs))}")
    spec = specs[logical_id]
    known = description[logical_id]
    return LocalFunction(
        spec=spec,
        name=str(known["name"]),
        arn=str(known["arn"]),
        environment={k: str(v) for k, v in known["environment"].items()},
        events=spec.events,
    )
