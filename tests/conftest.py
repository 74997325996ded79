"""Shared test set-up: fake credentials, never real AWS."""

from __future__ import annotations

import os

# Set before anything imports boto3: no test may ever reach a real account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Pressline",
        "POWERTOOLS_SERVICE_NAME": "pressline-tests",
    }
)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)

# ruff: noqa: E402  (the credentials above must be set before these imports)
from collections.abc import Iterator
from pathlib import Path

import pytest

from pressline.local.harness import RunningLocalStack, StackHandle, start_local_stack

ROOT = Path(__file__).resolve().parents[1]


def _reset_process_caches() -> None:
    from pressline.adapters.aws import reset_clients
    from pressline.config import settings
    from pressline.local.lambda_runtime import forget_handlers

    settings.cache_clear()
    reset_clients()
    forget_handlers()


@pytest.fixture
def aws_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[StackHandle]:
    """Every resource of template.yaml on in-process moto, with every handler's env set.

    ``aws_stack.invoke("Validate", event)`` calls a handler; ``aws_stack.drain()`` runs the
    queue-triggered functions until no message is visible; ``aws_stack.outputs`` has the
    template's Outputs; ``aws_stack.s3`` etc. are clients; ``aws_stack.sent_emails()``.
    """
    from moto import mock_aws

    from pressline.local.runner import Runner
    from pressline.local.stack import clients_for, provision

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        stack = provision(template_path=ROOT / "template.yaml")
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        _reset_process_caches()
        clients = clients_for(stack.region, None)
        yield StackHandle(stack=stack, clients=clients, runner=Runner(stack, clients))
    _reset_process_caches()


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalStack]:
    """``pressline local`` in a subprocess on free ports (module-scoped: start-up costs seconds).

    A separate process keeps its AWS_ENDPOINT_URL away from in-process ``mock_aws`` tests.
    Failed messages come back after 1 s (``--retry-after 1``) instead of the queue's timeout.
    """
    with start_local_stack(tmp_path_factory.mktemp("local-stack"), "--no-examples", "--retry-after", "1") as stack:
        yield stack
