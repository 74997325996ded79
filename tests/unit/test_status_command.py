"""``pressline status --stack-name``: a stack CloudFormation will not describe is one line and
exit status 2, never a traceback (CloudFormation's answers from botocore's Stubber: no network)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pressline import cli
from pressline.adapters import aws


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    real = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")

    def client(service: str) -> Any:
        assert service == "cloudformation", f"status asked {service} before it knew the stack"
        return real

    client.cache_clear = lambda: None  # type: ignore[attr-defined]  # what reset_clients calls
    monkeypatch.setattr(aws, "client", client)
    with Stubber(real) as stubber:
        yield stubber


def test_an_unknown_stack_is_named(cloudformation: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    cloudformation.add_client_error("describe_stacks", "ValidationError", "Stack with id blog does not exist")
    assert cli.main(["status", "--stack-name", "blog", "--region", "us-east-1"]) == 2
    assert capsys.readouterr().err == (
        "pressline status: no stack named 'blog' here (check --stack-name and --region)\n"
    )


def test_a_stack_the_operator_may_not_describe_is_one_line(
    cloudformation: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: cloudformation:DescribeStacks"
    cloudformation.add_client_error("describe_stacks", "AccessDenied", message)
    assert cli.main(["status", "--stack-name", "blog", "--region", "us-east-1"]) == 2
    assert capsys.readouterr().err == f"pressline status: cannot read the stack: AccessDenied: {message}\n"


def test_refused_credentials_are_explained_by_the_target(
    cloudformation: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudformation.add_client_error(
        "describe_stacks", "ExpiredToken", "The security token included in the request is expired"
    )
    assert cli.main(["status", "--stack-name", "blog", "--region", "us-east-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pressline status: AWS refused the credentials (ExpiredToken: ")
