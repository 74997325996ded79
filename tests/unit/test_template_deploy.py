"""One `sam deploy`: with or without a custom domain, every function learns the site's URL in
the same deploy, the distribution serves the domain with its certificate, and nothing depends
on itself.

The template is translated offline by samtranslator (as in test_template_rules.py, with the
parameters given), then its Conditions, Fn::If and Rules are evaluated here for those parameters
as CloudFormation would, and the references that stay are given stand-in physical values (a
distribution domain, a stack name): what each function would read as its site's URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from pressline.config import from_parameters
from pressline.local.template import ParameterError, check_parameters, referenced_ids

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "us-east-1"
STACK_NAME = "blog"
# Stand-ins for what CloudFormation knows only once the resource exists.
DISTRIBUTION_DOMAIN = "d1234abcd.cloudfront.net"
API_ID = "abc123"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
DOMAIN = "blog.example.com"
# CloudFront's hosted zone: the alias target of every distribution.
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
NO_VALUE = object()


# --------------------------------------------------------------------------- the template
@cache
def _translated(parameters: tuple[tuple[str, str], ...], sam_json: str | None = None) -> str:
    sam = json.loads(sam_json) if sam_json else yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    for resource in sam["Resources"].values():
        props = resource.get("Properties") or {}
        for uri in ("CodeUri", "ContentUri"):
            if isinstance(props.get(uri), str):
                props[uri] = "s3://placeholder/code.zip"
    # The translator only asks the session for a region: no credentials, no network.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    result = translator.translate(sam, parameter_values=dict(parameters), get_managed_policy_map=lambda: {})
    return json.dumps(result)


def translated(parameters: Mapping[str, str] | None = None, sam: dict[str, Any] | None = None) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would send, for these parameter overrides."""
    key = tuple(sorted((parameters or {}).items()))
    result: dict[str, Any] = json.loads(_translated(key, json.dumps(sam) if sam else None))
    return result


def parameter_values(cfn: dict[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    declared = cfn["Parameters"]
    # The overrides meet the parameters' own constraints, as CloudFormation checks them.
    check_parameters(declared, dict(overrides))
    values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
    return {**values, **overrides}


class Deployed:
    """The translated template as CloudFormation would create it for ``overrides`` in ``region``:
    conditions decided, Fn::If branches chosen, AWS::NoValue dropped, false resources and outputs
    gone."""

    def __init__(self, overrides: Mapping[str, str] | None = None, region: str = REGION) -> None:
        self.raw = translated(overrides)
        self.region = region
        self.parameters = parameter_values(self.raw, overrides or {})
        self._conditions: dict[str, bool] = {}
        self.conditions = {name: self.condition(name) for name in self.raw.get("Conditions", {})}
        self.resources = {
            name: self.evaluate(resource)
            for name, resource in self.raw["Resources"].items()
            if self.conditions.get(resource.get("Condition", ""), True)
        }
        self.outputs = {
            name: self.evaluate(output["Value"])
            for name, output in self.raw.get("Outputs", {}).items()
            if self.conditions.get(output.get("Condition", ""), True)
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::Region":
            return self.region
        if name in self.parameters:
            return self.parameters[name]
        return {"Ref": name}  # a resource: known once it exists

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self.truth(self.raw["Conditions"][name])
        return self._conditions[name]

    def truth(self, expression: Any) -> bool:
        """A condition (or rule) function's value."""
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = (self.evaluate(side) for side in argument)
            return bool(left == right)
        if function == "Fn::Not":
            return not self.truth(argument[0])
        if function == "Fn::And":
            return all(self.truth(part) for part in argument)
        if function == "Fn::Or":
            return any(self.truth(part) for part in argument)
        raise AssertionError(f"unexpected condition function {function}")

    def evaluate(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.evaluate(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return NO_VALUE if value["Ref"] == "AWS::NoValue" else self.ref(value["Ref"])
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return self.evaluate(when_true if self.condition(name) else when_false)
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            # Parameters and the region are known now; resources' names stay for later.
            def known(match: re.Match[str]) -> str:
                found = self.ref(match.group(1))
                return found if isinstance(found, str) else match.group(0)

            return {"Fn::Sub": re.sub(r"\$\{([A-Za-z0-9:]+)\}", known, value["Fn::Sub"])}
        evaluated = {key: self.evaluate(inner) for key, inner in value.items()}
        return {key: inner for key, inner in evaluated.items() if inner is not NO_VALUE}

    def broken_rules(self) -> list[str]:
        """The AssertDescription of every rule assertion these parameters break."""
        broken = []
        for rule in (self.raw.get("Rules") or {}).values():
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"]):
                continue
            broken += [a["AssertDescription"] for a in rule["Assertions"] if not self.truth(a["Assert"])]
        return broken

    def of_type(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == type_name}

    def distribution(self) -> dict[str, Any]:
        (distribution,) = self.of_type("AWS::CloudFront::Distribution").values()
        config: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
        return config


def physical(value: Any) -> Any:
    """``value`` once the stack exists: the stand-ins put where resources are named."""
    attributes = {
        "SiteDistribution.DomainName": DISTRIBUTION_DOMAIN,
        "ServerlessHttpApi": API_ID,
        "AWS::StackName": STACK_NAME,
        "AWS::Partition": "aws",
        "AWS::AccountId": "123456789012",
        "AWS::URLSuffix": "amazonaws.com",
    }
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:

        def replace(match: re.Match[str]) -> str:
            assert match.group(1) in attributes, f"no stand-in for ${{{match.group(1)}}}"
            return attributes[match.group(1)]

        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", replace, value["Fn::Sub"])
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return attributes[".".join(value["Fn::GetAtt"])]
    assert isinstance(value, str), f"not resolvable here: {value}"
    return value


class TemplateParameters:
    """A fake SSM client serving the template's AWS::SSM::Parameter resources by name."""

    def __init__(self, deployed: Deployed) -> None:
        self.values = {
            physical(r["Properties"]["Name"]): physical(r["Properties"]["Value"])
            for r in deployed.of_type("AWS::SSM::Parameter").values()
        }
        self.reads: list[list[str]] = []

    def get_parameters(self, *, Names: list[str]) -> dict[str, Any]:
        self.reads.append(Names)
        return {
            "Parameters": [{"Name": name, "Value": self.values[name]} for name in Names if name in self.values],
            "InvalidParameters": [name for name in Names if name not in self.values],
        }


def runtime_environment(deployed: Deployed, function: str) -> dict[str, str]:
    variables = deployed.resources[function]["Properties"]["Environment"]["Variables"]
    return {key: physical(value) for key, value in variables.items() if key.startswith(("SITE_URL", "API_URL"))}


def urls_at_run_time(deployed: Deployed, name: str) -> dict[str, str]:
    """Function logical id -> the SITE_URL or API_URL pressline.config gives it at run time."""
    ssm = TemplateParameters(deployed)
    found = {}
    for function in deployed.of_type("AWS::Lambda::Function"):
        value = from_parameters(runtime_environment(deployed, function), ssm).get(name)
        if value is not None:
            found[function] = value
    return found


def site_urls(deployed: Deployed) -> dict[str, str]:
    found = urls_at_run_time(deployed, "SITE_URL")
    assert set(found) == set(deployed.of_type("AWS::Lambda::Function")), "a function without a site URL"
    return found


def role_of(deployed: Deployed, function: str) -> dict[str, Any]:
    role_id = deployed.resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    role: dict[str, Any] = deployed.resources[role_id]
    return role


def allowed(role: dict[str, Any], action: str) -> list[Any]:
    """The resources a role's inline policies allow ``action`` on."""
    resources = []
    for policy in role["Properties"].get("Policies") or []:
        statements = policy["PolicyDocument"]["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] == "Allow" and action in actions:
                granted = statement["Resource"]
                resources += granted if isinstance(granted, list) else [granted]
    return resources


# --------------------------------------------------------------------------- dependencies
def dependencies(resources: Mapping[str, Any]) -> dict[str, set[str]]:
    """Resource -> the resources it waits for (Ref, GetAtt, ${...} in Sub, DependsOn)."""
    graph = {}
    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        waits_for = {depends} if isinstance(depends, str) else set(depends)
        named = referenced_ids(resource.get("Properties") or {}) | waits_for
        graph[name] = named & set(resources)
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One dependency cycle (its resources in order, the first repeated at the end), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


# --------------------------------------------------------------------------- no domain
def test_without_a_domain_every_function_learns_the_distribution_domain_in_the_same_deploy() -> None:
    deployed = Deployed()
    urls = site_urls(deployed)
    assert set(urls.values()) == {f"https://{DISTRIBUTION_DOMAIN}"}, urls
    assert physical(deployed.outputs["SiteUrl"]) == f"https://{DISTRIBUTION_DOMAIN}"
    assert physical(deployed.outputs["SiteDistributionDomain"]) == DISTRIBUTION_DOMAIN
    assert physical(deployed.outputs["SiteDnsRecords"]).startswith("none:")  # nothing to create


def test_the_subscriptions_function_reads_both_urls_from_ssm_and_may_read_only_those() -> None:
    deployed = Deployed()
    ssm = TemplateParameters(deployed)
    environ = runtime_environment(deployed, "SubscriptionsFunction")
    assert environ == {
        "SITE_URL": "",
        "SITE_URL_PARAMETER": f"/pressline/{STACK_NAME}/site-url",
        "API_URL": "",
        "API_URL_PARAMETER": f"/pressline/{STACK_NAME}/api-url",
    }
    api_url = f"https://{API_ID}.execute-api.{REGION}.amazonaws.com"
    assert from_parameters(environ, ssm) == {"SITE_URL": f"https://{DISTRIBUTION_DOMAIN}", "API_URL": api_url}
    assert len(ssm.reads) == 1  # one call for both
    # The same API URL as the functions that can name the API, and as the output.
    assert set(urls_at_run_time(deployed, "API_URL").values()) == {api_url}
    assert physical(deployed.outputs["ApiUrl"]) == api_url
    granted = [physical(arn) for arn in allowed(role_of(deployed, "SubscriptionsFunction"), "ssm:GetParameters")]
    assert sorted(granted) == [
        f"arn:aws:ssm:{REGION}:123456789012:parameter/pressline/{STACK_NAME}/api-url",
        f"arn:aws:ssm:{REGION}:123456789012:parameter/pressline/{STACK_NAME}/site-url",
    ]
    # No other function reads SSM: theirs are in their environment.
    for function in deployed.of_type("AWS::Lambda::Function"):
        if function != "SubscriptionsFunction":
            role = role_of(deployed, function)
            assert not allowed(role, "ssm:GetParameters") and not allowed(role, "ssm:GetParameter"), function


@pytest.mark.parametrize(
    "overrides",
    [{}, {"DomainName": DOMAIN, "CertificateArn": CERTIFICATE_ARN}, {"DomainName": DOMAIN, "HostedZoneId": ZONE_ID}],
    ids=["cloudfront-domain", "domain-with-certificate", "domain-with-zone"],
)
def test_no_resource_depends_on_itself(overrides: dict[str, str]) -> None:
    deployed = Deployed(overrides)
    assert find_cycle(dependencies(deployed.resources)) is None
    # Every branch of every Fn::If too, as a dependency checker that ignores conditions sees them.
    assert find_cycle(dependencies(deployed.raw["Resources"])) is None


@pytest.mark.parametrize(
    ("variable", "value", "through"),
    [
        ("API_URL", "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}", set()),
        ("SITE_URL", "https://${SiteDistribution.DomainName}", {"SiteDistribution", "SiteResponseHeadersPolicy"}),
    ],
)
def test_the_cycles_the_ssm_parameters_break_are_real(variable: str, value: str, through: set[str]) -> None:
    """Were the Subscriptions function given its API's URL or the distribution's domain like
    the other functions, the stack could not be created (CloudFormation refuses a circular
    dependency): this checker finds each cycle."""
    sam = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    variables = sam["Resources"]["SubscriptionsFunction"]["Properties"]["Environment"]["Variables"]
    variables[variable] = {"Fn::Sub": value}
    cycle = find_cycle(dependencies(translated(sam=sam)["Resources"]))
    assert cycle is not None
    assert {"SubscriptionsFunction", "ServerlessHttpApi", *through} <= set(cycle), cycle


# --------------------------------------------------------------------------- a domain
def test_a_domain_with_a_certificate_is_served_by_the_distribution_on_tls_1_2() -> None:
    deployed = Deployed({"DomainName": DOMAIN, "CertificateArn": CERTIFICATE_ARN})
    config = deployed.distribution()
    assert config["Aliases"] == [DOMAIN]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERTIFICATE_ARN,
        "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    assert set(site_urls(deployed).values()) == {f"https://{DOMAIN}"}
    assert physical(deployed.outputs["SiteUrl"]) == f"https://{DOMAIN}"
    # The certificate is the operator's, and so is the zone: nothing created, one record to add.
    assert not deployed.of_type("AWS::CertificateManager::Certificate")
    assert not deployed.of_type("AWS::Route53::RecordSet")
    assert physical(deployed.outputs["SiteDnsRecords"]) == f"{DOMAIN}. CNAME {DISTRIBUTION_DOMAIN}."


def test_with_a_domain_the_subscriptions_function_reads_only_the_api_url() -> None:
    deployed = Deployed({"DomainName": DOMAIN, "CertificateArn": CERTIFICATE_ARN})
    ssm = TemplateParameters(deployed)
    found = from_parameters(runtime_environment(deployed, "SubscriptionsFunction"), ssm)
    assert found["SITE_URL"] == f"https://{DOMAIN}"
    assert ssm.reads == [[f"/pressline/{STACK_NAME}/api-url"]]


def test_a_hosted_zone_gets_a_dns_validated_certificate_and_alias_records() -> None:
    deployed = Deployed({"DomainName": DOMAIN, "HostedZoneId": ZONE_ID})
    ((certificate_id, certificate),) = deployed.of_type("AWS::CertificateManager::Certificate").items()
    assert certificate["Properties"] == {
        "DomainName": DOMAIN,
        "ValidationMethod": "DNS",
        "DomainValidationOptions": [{"DomainName": DOMAIN, "HostedZoneId": ZONE_ID}],
    }
    config = deployed.distribution()
    assert config["Aliases"] == [DOMAIN]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": {"Ref": certificate_id},
        "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    records = {r["Properties"]["Type"]: r["Properties"] for r in deployed.of_type("AWS::Route53::RecordSet").values()}
    assert set(records) == {"A", "AAAA"}
    for record in records.values():
        assert record["HostedZoneId"] == ZONE_ID and record["Name"] == DOMAIN
        assert physical(record["AliasTarget"]["DNSName"]) == DISTRIBUTION_DOMAIN
        assert record["AliasTarget"]["HostedZoneId"] == CLOUDFRONT_ZONE_ID
    assert set(site_urls(deployed).values()) == {f"https://{DOMAIN}"}
    assert physical(deployed.outputs["SiteDnsRecords"]).startswith("none: the stack created")


def test_without_a_domain_the_distribution_keeps_its_default_certificate() -> None:
    config = Deployed().distribution()
    assert "Aliases" not in config
    assert config["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}


def test_a_site_url_override_wins_everywhere() -> None:
    """For a site fronted by another CDN or proxy; also what the local stack passes."""
    deployed = Deployed({"SiteUrl": "https://www.example.org"})
    assert set(site_urls(deployed).values()) == {"https://www.example.org"}
    assert physical(deployed.outputs["SiteUrl"]) == "https://www.example.org"


# --------------------------------------------------------------------------- rules
@pytest.mark.parametrize(
    ("overrides", "region", "broken"),
    [
        ({}, "eu-west-1", None),
        ({"DomainName": DOMAIN, "CertificateArn": CERTIFICATE_ARN}, "eu-west-1", None),
        ({"DomainName": DOMAIN, "HostedZoneId": ZONE_ID}, REGION, None),
        ({"DomainName": DOMAIN, "HostedZoneId": ZONE_ID, "CertificateArn": CERTIFICATE_ARN}, "eu-west-1", None),
        ({"DomainName": DOMAIN}, REGION, "DomainName needs CertificateArn"),
        ({"CertificateArn": CERTIFICATE_ARN}, REGION, "give DomainName too"),
        ({"HostedZoneId": ZONE_ID}, REGION, "give DomainName too"),
        ({"DomainName": DOMAIN, "HostedZoneId": ZONE_ID}, "eu-west-1", "CloudFront needs its certificate in us-east-1"),
    ],
)
def test_rules_refuse_a_domain_cloudfront_could_not_serve(
    overrides: dict[str, str], region: str, broken: str | None
) -> None:
    found = Deployed(overrides, region=region).broken_rules()
    if broken is None:
        assert found == []
    else:
        assert len(found) == 1 and broken in found[0], found


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DomainName", "https://blog.example.com"),
        ("DomainName", "Blog.Example.com"),
        ("DomainName", "localhost"),
        ("CertificateArn", CERTIFICATE_ARN.replace("us-east-1", "eu-west-1")),
        ("HostedZoneId", "example.com"),
    ],
)
def test_parameters_refuse_what_cloudfront_cannot_take(key: str, value: str) -> None:
    with pytest.raises(ParameterError, match=key):
        check_parameters(translated()["Parameters"], {key: value})


def test_the_functions_environments_differ_only_where_the_cycle_forces_it() -> None:
    """Globals give every function the same site URL; only Subscriptions sets its own."""
    raw = translated()
    own = {
        name
        for name, function in raw["Resources"].items()
        if function["Type"] == "AWS::Lambda::Function"
        and "SITE_URL_PARAMETER" in function["Properties"]["Environment"]["Variables"]
    }
    assert own == {"SubscriptionsFunction"}
