"""A provisioned stack with its runner, for tests (``aws_stack``) and scripts.

In-process (inside ``mock_aws``) everything is synchronous: ``invoke`` calls one
handler, ``drain`` runs the queue triggers until no message is visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pressline.local.lambda_runtime import invoke
from pressline.local.runner import Invocation, Runner
from pressline.local.stack import Clients, LocalFunction, ProvisionedStack


@dataclass
class StackHandle:
    stack: ProvisionedStack
    clients: Clients
    runner: Runner

    @property
    def outputs(self) -> dict[str, str]:
        return self.stack.outputs

    @property
    def functions(self) -> dict[str, LocalFunction]:
        return self.stack.functions

    def client(self, service: str) -> Any:
        return self.clients(service)

    @property
    def s3(self) -> Any:
        return self.clients("s3")

    @property
    def sqs(self) -> Any:
        return self.clients("sqs")

    @property
    def dynamodb(self) -> Any:
        return self.clients("dynamodb")

    @property
    def ses(self) -> Any:
        return self.clients("ses")

    @property
    def sns(self) -> Any:
        return self.clients("sns")

    def function(self, name: str) -> LocalFunction:
        """A function by logical id, with or without the ``Function`` suffix."""
        functions = self.stack.functions
        if name in functions:
            return functions[name]
        if f"{name}Function" in functions:
            return functions[f"{name}Function"]
        raise KeyError(f"no function {name!r}; the template has {', '.join(sorted(functions))}")

    def invoke(self, function_logical_id: str, event: dict[str, Any]) -> Any:
        """Call that function's handler with ``event`` (e.g. a file from events/)."""
        return invoke(self.function(function_logical_id), event)

    def drain(self, max_rounds: int = 200) -> list[Invocation]:
        """Run every queue-triggered function until no message is visible."""
        return self.runner.drain(max_rounds)

    def run_schedules(self) -> list[Invocation]:
        return self.runner.run_schedules()

    def queue_depth(self, output_key: str) -> int:
        """Visible plus in-flight messages of the queue named by a template output."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.outputs[output_key],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def sent_emails(self) -> list[dict[str, Any]]:
        """Every email moto's SES accepted: ``{"source", "destinations", "subject", "body", "raw"}``."""
        if self.stack.endpoint_url:
            return sent_emails_from_server(self.stack.endpoint_url)
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        backend = ses_backends[DEFAULT_ACCOUNT_ID][self.stack.region]
        emails = []
        for message in backend.sent_messages:
            raw = getattr(message, "raw_data", None)
            emails.append(
                {
                    "source": getattr(message, "source", None),
                    "destinations": _destinations(
                        getattr(message, "destinations", None) or getattr(message, "destination", None)
                    ),
                    "subject": getattr(message, "subject", None),
                    "body": getattr(message, "body", None),
                    "raw": raw,
                }
            )
        return emails


def _destinations(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [address for kind in ("ToAddresses", "CcAddresses", "BccAddresses") for address in value.get(kind, [])]
    return list(value or [])


def sent_emails_from_server(endpoint_url: str) -> list[dict[str, Any]]:
    """Every email a moto server's SES accepted (``/moto-api/data.json``), same shape as above."""
    import urllib.request

    with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=10) as response:  # noqa: S310 (local)
        data = json.load(response)
    emails = []
    for kind in ("Message", "RawMessage"):
        for message in data.get("ses", {}).get(kind, []):
            emails.append(
                {
                    "source": message.get("source"),
                    "destinations": _destinations(message.get("destinations") or message.get("destination")),
                    "subject": message.get("subject"),
                    "body": message.get("body"),
                    "raw": message.get("raw_data"),
                }
            )
    return emails
