"""template.yaml's sender (issue 15): with EmailDomain, an SES domain identity with 2048-bit Easy
DKIM, a custom MAIL FROM domain and the configuration set, and an EmailDnsRecords output that
`pressline doctor` reads; without it, nothing of the kind (the deploy as before). Bounce and
complaint rate alarms at SES's review thresholds, and the 0.3% alarm that pauses sending by
reaching EmailFeedbackFunction through a topic CloudWatch can publish to.

Deployed, evaluated as CloudFormation would for the given parameters, comes from
test_template_deploy.py (one definition).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import pytest
from test_template_deploy import Deployed, allowed, role_of

from pressline.ops import doctor

DOMAIN = "example.com"
DKIM_TOKENS = ("tok1abc", "tok2def", "tok3ghi")


def dns_records_output(deployed: Deployed) -> str:
    """The EmailDnsRecords output's text once the identity exists (SES's tokens stood in)."""
    attributes = {}
    for n, token in enumerate(DKIM_TOKENS, start=1):
        attributes[f"EmailIdentity.DkimDNSTokenName{n}"] = f"{token}._domainkey.{DOMAIN}"
        attributes[f"EmailIdentity.DkimDNSTokenValue{n}"] = f"{token}.dkim.amazonses.com"

    def text(value: Any) -> str:
        if isinstance(value, str):
            return value
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda m: attributes[m.group(1)], value["Fn::Sub"])
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return str(separator).join(text(part) for part in parts)
        raise AssertionError(f"not resolvable here: {value}")

    return text(deployed.outputs["EmailDnsRecords"])


def test_without_a_domain_no_identity_is_created_and_the_output_says_so() -> None:
    deployed = Deployed()
    assert deployed.of_type("AWS::SES::EmailIdentity") == {}
    assert deployed.outputs["EmailDnsRecords"].startswith("none: no EmailDomain")
    with pytest.raises(doctor.DoctorError, match="no sending domain"):
        doctor.parse_output(deployed.outputs["EmailDnsRecords"])


def test_a_domain_gets_an_identity_with_2048_bit_dkim_mail_from_and_the_configuration_set() -> None:
    deployed = Deployed({"EmailDomain": DOMAIN})
    ((name, identity),) = deployed.of_type("AWS::SES::EmailIdentity").items()
    props = identity["Properties"]
    assert props["EmailIdentity"] == DOMAIN
    assert props["DkimSigningAttributes"] == {"NextSigningKeyLength": "RSA_2048_BIT"}
    assert props["DkimAttributes"] == {"SigningEnabled": True}
    assert props["ConfigurationSetAttributes"] == {"ConfigurationSetName": {"Ref": "EmailConfigurationSet"}}
    assert props["MailFromAttributes"] == {
        "MailFromDomain": {"Fn::Sub": f"mail.{DOMAIN}"},  # parameters substituted: nothing left to resolve
        "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
    }
    other = Deployed({"EmailDomain": DOMAIN, "MailFromSubdomain": "bounce"})
    assert other.resources[name]["Properties"]["MailFromAttributes"]["MailFromDomain"] == {
        "Fn::Sub": f"bounce.{DOMAIN}"
    }


@pytest.mark.parametrize(
    ("report_address", "dmarc"),
    [("", "v=DMARC1; p=none"), ("dmarc@example.com", "v=DMARC1; p=none; rua=mailto:dmarc@example.com")],
)
def test_the_dns_records_output_lists_what_doctor_checks(report_address: str, dmarc: str) -> None:
    overrides = {"EmailDomain": DOMAIN, **({"DmarcReportEmail": report_address} if report_address else {})}
    records = doctor.parse_output(dns_records_output(Deployed(overrides)))
    assert [record.line for record in records] == [
        *(f"{t}._domainkey.{DOMAIN}. CNAME {t}.dkim.amazonses.com." for t in DKIM_TOKENS),
        f"mail.{DOMAIN}. MX 10 feedback-smtp.us-east-1.amazonses.com.",
        f'mail.{DOMAIN}. TXT "v=spf1 include:amazonses.com ~all"',
        f'_dmarc.{DOMAIN}. TXT "{dmarc}"',
    ]


@pytest.mark.parametrize("function", ["DeliverFunction", "SubscriptionsFunction"])
def test_the_send_policies_authorize_the_domain_identity(function: str) -> None:
    deployed = Deployed({"EmailDomain": DOMAIN})
    patterns = [
        re.sub(
            r"\$\{AWS::(\w+)\}",
            lambda m: {"Partition": "aws", "Region": "us-east-1"}.get(m.group(1), "123456789012"),
            r["Fn::Sub"],
        )
        for r in allowed(role_of(deployed, function), "ses:SendEmail")
        if isinstance(r, dict) and "identity/" in r.get("Fn::Sub", "")
    ]
    arn = f"arn:aws:ses:us-east-1:123456789012:identity/{DOMAIN}"
    assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns), patterns


def alarms(deployed: Deployed) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in deployed.of_type("AWS::CloudWatch::Alarm").items()}


@pytest.mark.parametrize(
    ("alarm", "metric", "threshold"),
    [
        ("EmailComplaintRateAlarm", "Reputation.ComplaintRate", 0.001),
        ("EmailBounceRateAlarm", "Reputation.BounceRate", 0.05),
        ("EmailComplaintRatePauseAlarm", "Reputation.ComplaintRate", 0.003),
    ],
)
def test_rate_alarms_watch_ses_reputation_at_the_thresholds(alarm: str, metric: str, threshold: float) -> None:
    props = alarms(Deployed())[alarm]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SES", metric)
    assert float(props["Threshold"]) == threshold
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert {"Ref": "AlarmTopic"} in props["AlarmActions"]
    assert f"{threshold * 100:g}%" in props["AlarmDescription"]


def test_the_pause_alarm_reaches_the_feedback_function_and_only_an_operator_resumes() -> None:
    deployed = Deployed()
    props = alarms(deployed)["EmailComplaintRatePauseAlarm"]
    assert {"Ref": "SendingPauseTopic"} in props["AlarmActions"]
    assert "OKActions" not in props  # a rate back under 0.3% does not resume by itself
    assert "PAUSED" in props["AlarmDescription"] and "pressline subscribers resume-sending" in props["AlarmDescription"]
    subscriptions = [
        r["Properties"]
        for r in deployed.of_type("AWS::SNS::Subscription").values()
        if r["Properties"]["TopicArn"] == {"Ref": "SendingPauseTopic"}
    ]
    assert [s["Protocol"] for s in subscriptions] == ["lambda"]
    assert subscriptions[0]["Endpoint"] == {"Fn::GetAtt": ["EmailFeedbackFunction", "Arn"]}
    assert {"Fn::GetAtt": ["LedgerTable", "Arn"]} in allowed(
        role_of(deployed, "EmailFeedbackFunction"), "dynamodb:PutItem"
    )


@pytest.mark.parametrize(
    ("topic", "publisher"),
    [
        ("SendingPauseTopic", "cloudwatch.amazonaws.com"),
        ("AlarmTopic", "cloudwatch.amazonaws.com"),
        ("EmailFeedbackTopic", "ses.amazonaws.com"),
    ],
)
def test_the_services_that_publish_to_a_topic_may_use_its_key(topic: str, publisher: str) -> None:
    """CloudWatch and SES cannot publish to a topic under the AWS managed aws/sns key (its policy
    cannot name them): these topics have a key of the stack's that lets them."""
    deployed = Deployed()
    key_id = deployed.resources[topic]["Properties"]["KmsMasterKeyId"]["Ref"]
    key = deployed.resources[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    granted = {
        action
        for statement in key["KeyPolicy"]["Statement"]
        if statement["Effect"] == "Allow" and publisher in statement["Principal"].get("Service", [])
        for action in statement["Action"]
    }
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= granted


def test_deliver_may_hold_batches_on_its_own_queue_only() -> None:
    deployed = Deployed()
    assert allowed(role_of(deployed, "DeliverFunction"), "sqs:SendMessage") == [
        {"Fn::GetAtt": ["DeliveryQueue", "Arn"]}
    ]


def test_ses_counts_every_email_by_the_kind_tag_the_emails_carry() -> None:
    from datetime import UTC, datetime

    from pressline.subscribers.messages import Site, confirmation_email

    deployed = Deployed()
    destinations = [
        r["Properties"]["EventDestination"]
        for r in deployed.of_type("AWS::SES::ConfigurationSetEventDestination").values()
        if "CloudWatchDestination" in r["Properties"]["EventDestination"]
    ]
    assert len(destinations) == 1
    (destination,) = destinations
    assert {"send", "bounce", "complaint"} <= set(destination["MatchingEventTypes"])
    (dimension,) = destination["CloudWatchDestination"]["DimensionConfigurations"]
    assert dimension["DimensionValueSource"] == "messageTag"
    site = Site(title="Blog", url="https://blog.example", api_url="https://api.example", sender="news@example.com")
    email = confirmation_email(site, "ada@example.com", "sid", "token", (), 48, datetime(2026, 12, 4, tzinfo=UTC))
    assert email.tags[dimension["DimensionName"]] == "confirmation"  # the dimension is a tag SES will find


def test_every_alarm_notifies_the_alarm_topic_and_says_what_it_means() -> None:
    """The rule the rate alarms follow, for every alarm: an operator is told, in words."""
    for name, props in alarms(Deployed({"EmailDomain": DOMAIN, "AlarmEmail": "ops@example.com"})).items():
        assert {"Ref": "AlarmTopic"} in props.get("AlarmActions", []), f"{name} notifies no one"
        assert len(str(props.get("AlarmDescription", "")).split()) >= 5, f"{name}: no description of what it means"
