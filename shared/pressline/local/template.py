"""template.yaml, read for the local stack: transformed offline by samtranslator, then
"localized" into a CloudFormation template that moto can create.

The template is the only list of resources. This module decides, per resource type,
what moto's CloudFormation builds itself, what the local stack builds by hand (types
moto skips but the pipeline needs), what the local runner runs (functions) and what has
no local meaning (CloudFront, API Gateway, alarms, policies: the local HTTP server and
runner stand in for them).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

# Placeholder for every local CodeUri/ContentUri: the transform wants an S3 location, and
# nothing is uploaded (functions are run from the working tree, never created in moto).
CODE_BUCKET = "pressline-local-code"
CODE_KEY = "code.zip"

# Types moto's CloudFormation does not create that the pipeline needs: provisioned by
# pressline.local.stack from the template's own properties.
BUILT_LOCALLY = frozenset(
    {
        "AWS::SecretsManager::Secret",
        "AWS::SES::ConfigurationSet",
        "AWS::SES::ConfigurationSetEventDestination",
        "AWS::SNS::Subscription",
    }
)
# Types with no local counterpart, or whose job the local runner/HTTP server does.
NOT_NEEDED_LOCALLY = frozenset(
    {
        "AWS::ApiGatewayV2::Api",  # served by the local HTTP server under /api
        "AWS::ApiGatewayV2::Stage",
        "AWS::CloudFront::Distribution",  # served by the local HTTP server at /
        "AWS::CloudFront::Function",
        "AWS::CloudFront::OriginAccessControl",
        "AWS::CloudFront::ResponseHeadersPolicy",  # the local HTTP server sends the same headers (site/headers.py)
        "AWS::CertificateManager::Certificate",  # a custom domain's: the local site is http://127.0.0.1
        "AWS::Route53::RecordSet",
        "AWS::CloudWatch::Alarm",
        "AWS::S3::BucketPolicy",  # moto does not enforce policies
        "AWS::SQS::QueuePolicy",
        "AWS::Lambda::Permission",
        "AWS::IAM::Role",  # moto does not enforce IAM, and no local resource assumes a role
        "AWS::Lambda::LayerVersion",  # handlers import the pressline package from the working tree
        "AWS::Lambda::EventSourceMapping",  # moto would run them in Docker: the runner polls instead
        "AWS::Scheduler::Schedule",  # the runner calls scheduled functions itself
        "AWS::SES::EmailIdentity",  # a sending domain's (EmailDomain): local mail is moto's, unsigned
    }
)
# Properties moto ignores on types it creates: applied by pressline.local.stack.
IGNORED_BY_MOTO = {
    "AWS::S3::Bucket": (
        "VersioningConfiguration",
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "LifecycleConfiguration",
        "NotificationConfiguration",
    ),
    "AWS::DynamoDB::Table": ("TimeToLiveSpecification",),
}
# A value that refers to one of these resources means, locally, the given local value.
LOCAL_STAND_INS = {
    "AWS::ApiGatewayV2::Api": "api_url",
    "AWS::CloudFront::Distribution": "site_host",
    "AWS::SES::EmailIdentity": "email_dns_records",  # the EmailDnsRecords output names its DKIM tokens
}
RESOLVE_PREFIX = "PresslineLocalValue"
CONDITION_KEY = "__condition__"

_SUB_NAMES = re.compile(r"\$\{([A-Za-z0-9_:.]+)\}")


class TemplateError(ValueError):
    """Raised when template.yaml cannot be run locally (a clear message says why)."""


@dataclass(frozen=True)
class EventSource:
    """One entry of a function's ``Events`` in the SAM template."""

    name: str
    type: str  # SQS | HttpApi | Schedule | ScheduleV2 | SNS | ...
    properties: dict[str, Any]

    @property
    def batch_size(self) -> int:
        return int(self.properties.get("BatchSize", 10))

    @property
    def route_key(self) -> str:
        """API Gateway HTTP API route key, e.g. ``POST /subscriptions``."""
        method = str(self.properties.get("Method", "ANY")).upper()
        return f"{'ANY' if method in ('ANY', 'X-AMAZON-APIGATEWAY-ANY-METHOD') else method} {self.properties['Path']}"


@dataclass(frozen=True)
class FunctionSpec:
    """What the local runner needs to run one AWS::Serverless::Function."""

    logical_id: str
    code_dir: Path
    handler: str  # "module.attribute", relative to code_dir
    timeout_s: int
    memory_mb: int
    events: tuple[EventSource, ...]
    # Raw (unresolved) environment, Globals merged by samtranslator.
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def handler_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class Transformed:
    sam: dict[str, Any]  # the template as written (YAML parsed)
    cfn: dict[str, Any]  # after the SAM transform
    root: Path


def load_sam(path: Path) -> dict[str, Any]:
    """template.yaml as written, short-form tags (!Ref...) as intrinsic dicts."""
    path = path.resolve()
    template: dict[str, Any] = json.loads(_load_sam_cached(str(path), path.stat().st_mtime_ns))
    return template


@cache
def _load_sam_cached(path: str, mtime_ns: int) -> str:
    from samtranslator.yaml_helper import yaml_parse

    return json.dumps(yaml_parse(Path(path).read_text(encoding="utf-8")))


@cache
def _transform_cached(path: str, mtime_ns: int, region: str) -> str:
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = load_sam(Path(path))
    for resource in sam.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for uri in ("CodeUri", "ContentUri"):
            if isinstance(props.get(uri), str) and not props[uri].startswith("s3://"):
                props[uri] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    # The region is all the translator asks of the session: no credentials, no network. Managed
    # policy names resolve from samtranslator's bundled map; nothing asks IAM.
    session = boto3.session.Session(region_name=region)
    translator = Translator(None, Parser(), boto_session=session)
    cfn = translator.translate(sam, parameter_values={}, get_managed_policy_map=dict)
    return json.dumps(cfn)


def transform(template_path: Path, region: str) -> Transformed:
    """The SAM template and its CloudFormation transform (cached per file version)."""
    path = template_path.resolve()
    cfn = json.loads(_transform_cached(str(path), path.stat().st_mtime_ns, region))
    return Transformed(sam=load_sam(path), cfn=cfn, root=path.parent)


def functions(transformed: Transformed) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function of the template, keyed by logical id."""
    sam_globals = (transformed.sam.get("Globals") or {}).get("Function") or {}
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in transformed.sam.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        code_uri = props.get("CodeUri", sam_globals.get("CodeUri"))
        handler = props.get("Handler", sam_globals.get("Handler"))
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            raise TemplateError(f"{logical_id}: CodeUri and Handler must be plain strings to run locally")
        lambda_props = transformed.cfn["Resources"][logical_id]["Properties"]
        events = tuple(
            EventSource(name=name, type=str(event.get("Type")), properties=dict(event.get("Properties") or {}))
            for name, event in (props.get("Events") or {}).items()
        )
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(transformed.root / code_uri).resolve(),
            handler=handler,
            timeout_s=int(lambda_props.get("Timeout", 3)),
            memory_mb=int(lambda_props.get("MemorySize", 128)),
            events=events,
            environment=dict((lambda_props.get("Environment") or {}).get("Variables") or {}),
        )
    return specs


# --------------------------------------------------------------------------- localizing
def referenced_ids(value: Any) -> set[str]:
    """Logical ids (and parameters) an expression refers to: Ref, GetAtt and ${...} in Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found.update(name.split(".", 1)[0] for name in _SUB_NAMES.findall(text))
                if isinstance(inner, list) and len(inner) > 1:
                    found.update(referenced_ids(inner[1]))
            else:
                found.update(referenced_ids(inner))
    elif isinstance(value, list):
        for inner in value:
            found.update(referenced_ids(inner))
    return found


def is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::"))
    )


PREBUILT = frozenset({"AWS::SecretsManager::Secret", "AWS::SES::ConfigurationSet", "AWS::Lambda::Function"})
"""Known before the stack is created, because others refer to them (a function's env names the
secret). Functions are not created in moto at all: the runner runs them, and moto would try
Docker for anything that touches a Lambda function (even ``/moto-api/data.json``)."""


@dataclass
class Localized:
    """The template moto creates, and what the local stack must do around it.

    Values moto must evaluate for us (a queue ARN in a notification, a function's env)
    are replaced by ``{"__resolve__": key}`` markers and added as extra stack Outputs;
    :func:`resolve` puts the evaluated values back.
    """

    template: dict[str, Any]
    # logical id -> (type, properties) of resources built by hand after the stack.
    built_after: dict[str, tuple[str, dict[str, Any]]]
    # logical id -> (type, {property: value}) that moto would ignore.
    ignored_properties: dict[str, tuple[str, dict[str, Any]]]
    # function logical id -> environment variables.
    environments: dict[str, dict[str, Any]]
    # The caller's named expressions (e.g. the SAM functions' event properties).
    extra: dict[str, Any]
    unknown_types: set[str]


def localize(
    cfn: dict[str, Any],
    supported: frozenset[str],
    local_values: dict[str, str],
    prebuilt: dict[str, dict[str, str]],
    extra: dict[str, Any] | None = None,
) -> Localized:
    """Make ``cfn`` creatable by moto.

    ``supported``: the resource types moto's CloudFormation creates. ``local_values``:
    ``api_url``/``site_host`` for the stand-ins. ``prebuilt``: logical id -> {"Ref": value,
    attribute: value} of the PREBUILT resources. ``extra``: more expressions to evaluate.
    """
    template = _inline_refs(copy.deepcopy(cfn), prebuilt)
    resources: dict[str, Any] = template["Resources"]
    types = {logical_id: resource["Type"] for logical_id, resource in resources.items()}
    built: dict[str, tuple[str, dict[str, Any]]] = {}
    ignored: dict[str, tuple[str, dict[str, Any]]] = {}
    unknown: set[str] = set()
    removed: set[str] = set()
    raw_environments: dict[str, dict[str, Any]] = {}
    for logical_id, resource in list(resources.items()):
        kind = resource["Type"]
        props = resource.get("Properties") or {}
        if kind == "AWS::Lambda::Function":
            raw_environments[logical_id] = dict((props.get("Environment") or {}).get("Variables") or {})
        if kind == "AWS::SQS::Queue" and props.get("FifoQueue") in (True, "true") and "QueueName" not in props:
            # CloudFormation names a FIFO queue "<stack>-<id>-<suffix>.fifo"; moto forgets the ".fifo".
            props["QueueName"] = {
                "Fn::Sub": "${AWS::StackName}-" + logical_id[:40] + "-" + uuid.uuid4().hex[:12] + ".fifo"
            }
        if kind in supported and kind not in NOT_NEEDED_LOCALLY | BUILT_LOCALLY | PREBUILT:
            skipped = {name: props.pop(name) for name in IGNORED_BY_MOTO.get(kind, ()) if name in props}
            if skipped:
                ignored[logical_id] = (kind, skipped)
            continue
        if kind in BUILT_LOCALLY and kind not in PREBUILT:
            if "Condition" in resource:  # moto evaluates it: built only if "true"
                props = {**props, CONDITION_KEY: {"Fn::If": [resource["Condition"], "true", "false"]}}
            built[logical_id] = (kind, props)
        elif kind not in BUILT_LOCALLY | NOT_NEEDED_LOCALLY | PREBUILT:
            unknown.add(kind)
        removed.add(logical_id)
        del resources[logical_id]
    removed -= set(prebuilt)

    def substitute(value: Any, where: str) -> Any:
        """Replace references to removed resources by local stand-ins, or fail naming ``where``."""
        refs = referenced_ids(value) & removed
        if not refs:
            return value
        if isinstance(value, dict) and set(value) == {"Fn::If"} and len(value["Fn::If"]) == 3:
            # Each branch on its own (moto evaluates the condition): the site's URL is the SiteUrl
            # parameter's branch locally, whatever the distribution's branch stands for.
            condition, when_true, when_false = value["Fn::If"]
            return {"Fn::If": [condition, substitute(when_true, where), substitute(when_false, where)]}
        stand_ins = {LOCAL_STAND_INS.get(types[ref]) for ref in refs}
        if is_intrinsic(value) and len(stand_ins) == 1 and None not in stand_ins:
            return local_values[str(stand_ins.pop())]
        if isinstance(value, dict) and not is_intrinsic(value):
            return {key: substitute(inner, f"{where}.{key}") for key, inner in value.items()}
        if isinstance(value, list):
            return [substitute(inner, f"{where}[{i}]") for i, inner in enumerate(value)]
        raise TemplateError(f"{where} refers to {sorted(refs)}, which the local stack does not create")

    outputs: dict[str, Any] = {}

    def defer(value: Any, where: str) -> Any:
        """Substitute, then turn each intrinsic into an extra Output for moto to evaluate."""
        value = substitute(value, where)
        if is_intrinsic(value):
            key = f"{RESOLVE_PREFIX}{len(outputs)}"
            outputs[key] = {"Value": value}
            return {"__resolve__": key}
        if isinstance(value, dict):
            return {k: defer(inner, f"{where}.{k}") for k, inner in value.items()}
        if isinstance(value, list):
            return [defer(inner, f"{where}[{i}]") for i, inner in enumerate(value)]
        return value

    for logical_id, resource in resources.items():
        if "DependsOn" in resource:
            depends = resource["DependsOn"]
            kept = [name for name in ([depends] if isinstance(depends, str) else depends) if name not in removed]
            resource["DependsOn"] = kept
            if not kept:
                del resource["DependsOn"]
        resource["Properties"] = substitute(resource.get("Properties") or {}, logical_id)

    built = {lid: (kind, defer(props, lid)) for lid, (kind, props) in built.items()}
    ignored = {lid: (kind, defer(props, lid)) for lid, (kind, props) in ignored.items()}
    environments = {logical_id: defer(env, f"{logical_id}.Environment") for logical_id, env in raw_environments.items()}
    deferred_extra = defer(_inline_refs(copy.deepcopy(extra or {}), prebuilt), "extra")
    for key, output in (template.get("Outputs") or {}).items():
        outputs[key] = {**output, "Value": substitute(output["Value"], f"Outputs.{key}")}
    template["Outputs"] = outputs
    return Localized(
        template=template,
        built_after=built,
        ignored_properties=ignored,
        environments=environments,
        extra=deferred_extra,
        unknown_types=unknown,
    )


def resolve(value: Any, evaluated: dict[str, str]) -> Any:
    """Put the values moto evaluated (stack Outputs) in place of ``__resolve__`` markers."""
    if isinstance(value, dict):
        if set(value) == {"__resolve__"}:
            return evaluated[value["__resolve__"]]
        return {key: resolve(inner, evaluated) for key, inner in value.items()}
    if isinstance(value, list):
        return [resolve(inner, evaluated) for inner in value]
    return value


def _inline_refs(template: dict[str, Any], physical: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Replace Ref, GetAtt and ``${Name}``/``${Name.Attr}`` of the given logical ids by their values."""

    def value_of(name: str, attribute: str = "Ref") -> str | None:
        return physical.get(name, {}).get(attribute)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"} and value_of(value["Ref"]) is not None:
                return value_of(value["Ref"])
            if set(value) == {"Fn::GetAtt"}:
                target = value["Fn::GetAtt"]
                name, attribute = target if isinstance(target, list) else str(target).split(".", 1)
                found = value_of(name, attribute)
                if found is not None:
                    return found
            if set(value) == {"Fn::Sub"}:
                inner = value["Fn::Sub"]
                text, names = (inner[0], inner[1]) if isinstance(inner, list) else (inner, {})

                def replace(match: re.Match[str]) -> str:
                    name, _, attribute = match.group(1).partition(".")
                    found = value_of(name, attribute or "Ref")
                    return match.group(0) if found is None else found

                text = _SUB_NAMES.sub(replace, text)
                return {"Fn::Sub": [text, walk(names)] if names else text}
            return {key: walk(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [walk(inner) for inner in value]
        return value

    result: dict[str, Any] = walk(template)
    return result


# --------------------------------------------------------------------------- parameters
class ParameterError(TemplateError):
    """Raised when ``--parameter-overrides`` cannot be read or a value breaks the template's
    constraints; the message names each parameter and the reason."""


# One `Key=Value` or `ParameterKey=Key,ParameterValue=Value` pair as `sam deploy` reads them: a
# value is "double quoted", 'single quoted' or runs to the next space; a backslash escapes the
# character after it.
_VALUE = r"""(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|(?:\\.|[^\s"'\\])*)"""
_PAIR = rf"(?:ParameterKey=([A-Za-z0-9]+),ParameterValue=({_VALUE})|([A-Za-z0-9]+)=({_VALUE}))"
_PAIRS = re.compile(rf"{_PAIR}(?:\s+{_PAIR})*", re.DOTALL)
_ONE_PAIR = re.compile(r"(?:ParameterKey=([A-Za-z0-9]+),ParameterValue=|([A-Za-z0-9]+)=)(.*)", re.DOTALL)


def _unescape(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value, flags=re.DOTALL)


def _pairs(word: str, known: frozenset[str]) -> list[tuple[str, str]] | None:
    """The pairs of a word written as SAM's one-string form (``A="x y" B=z``), or None when it
    is not one: one pair whose value is not quoted is the shell's word, read as is."""
    stripped = word.strip()
    if not _PAIRS.fullmatch(stripped):
        return None
    found = [
        (key_a, value_a) if key_a else (key_b, value_b)
        for key_a, value_a, key_b, value_b in (match.groups() for match in re.finditer(_PAIR, stripped, re.DOTALL))
    ]
    if known and any(key not in known for key, _ in found):
        return None  # "SiteTitle=Notes a=b" is a title, not a parameter named "a"
    if len(found) == 1 and found[0][1][:1] not in ("'", '"'):
        return None
    return [(key, _unescape(value)) for key, value in found]


def parse_parameter_overrides(words: list[str], known: frozenset[str] = frozenset()) -> dict[str, str]:
    """``--parameter-overrides`` as ``sam deploy`` takes it: each word one or more
    space-separated ``Key=Value`` / ``ParameterKey=K,ParameterValue=V`` pairs (quoted values
    may hold spaces); a later pair wins.

    A word that is not such pairs of ``known`` parameters is one pair whose value is the rest
    of the word, as is: the shell has already removed the quotes of ``SiteTitle="My blog"``.
    Unless the rest names another known parameter (``SiteTitle=My blog SiteTimezone=UTC`` in
    one word): which value holds the spaces is then a guess, so it is an error, where SAM
    would silently keep ``My``.
    """
    values: dict[str, str] = {}
    for word in words:
        pairs = _pairs(word, known)
        if pairs is not None:
            values.update(pairs)
            continue
        single = _ONE_PAIR.fullmatch(word)
        if single is None:
            raise ParameterError(
                f"--parameter-overrides: {word!r} is not Key=Value (e.g. SiteTitle='My blog' SiteTimezone=Europe/Paris)"
            )
        key, rest = single.group(1) or single.group(2), single.group(3)
        others = [
            name for name in sorted(known) if re.search(rf"\s(?:ParameterKey=)?{name}(?:=|,ParameterValue=)", rest)
        ]
        if others:
            raise ParameterError(
                f"--parameter-overrides: {word!r} sets {key} and {', '.join(others)} in one word with spaces in a"
                f' value; quote the value that holds them, e.g. {key}="..."'
            )
        values[key] = rest
    return values


def check_parameters(declared: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
    """``values`` if each names a parameter of the template and meets its constraints
    (AllowedValues, AllowedPattern, Min/MaxLength, Min/MaxValue for numbers), as
    CloudFormation would check them; else a ParameterError naming every problem."""
    problems: list[str] = []
    for key, value in values.items():
        spec = declared.get(key)
        if spec is None:
            problems.append(f"{key}: not a parameter of the template (it has {', '.join(sorted(declared)) or 'none'})")
            continue
        problems += [f"{key}: {reason}" for reason in _constraint_problems(spec, value)]
    if problems:
        raise ParameterError("--parameter-overrides: " + "; ".join(problems))
    return dict(values)


def _constraint_problems(spec: dict[str, Any], value: str) -> list[str]:
    description = spec.get("ConstraintDescription")
    problems: list[str] = []
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(option) for option in allowed]:
        problems.append(f"{value!r} is not one of {', '.join(map(str, allowed))}")
    pattern = spec.get("AllowedPattern")
    # CloudFormation matches the pattern against the whole value.
    if pattern is not None and not re.fullmatch(str(pattern), value):
        problems.append(description or f"{value!r} does not match the pattern {pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        problems.append(f"is shorter than {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        problems.append(f"is longer than {spec['MaxLength']} characters")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [*problems, f"{value!r} is not a number"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            problems.append(f"is less than {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            problems.append(f"is more than {spec['MaxValue']}")
    return problems


def parameter_overrides(
    template_path: Path, words: list[str], checks: Mapping[str, Callable[[str], str | None]] | None = None
) -> dict[str, str]:
    """The checked overrides of ``words`` for ``template_path`` (see the two functions above).
    ``checks``: what the functions need of a value beyond the template's constraints
    (parameter -> the problem with a value, or None)."""
    declared = load_sam(template_path).get("Parameters") or {}
    values = check_parameters(declared, parse_parameter_overrides(words, frozenset(declared)))
    problems = [
        f"{key}: {problem}"
        for key, check in (checks or {}).items()
        if key in values and (problem := check(values[key])) is not None
    ]
    if problems:
        raise ParameterError("--parameter-overrides: " + "; ".join(problems))
    return values
