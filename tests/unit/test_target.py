"""pressline.ops.target: which AWS rebuild and redrive talk to, fake credentials only for an
endpoint on this machine, and one line instead of a traceback for set-up errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore import exceptions as aws
from hypothesis import given
from hypothesis import strategies as st

from pressline.ops.target import (
    FAKE_CREDENTIALS,
    Target,
    TargetError,
    choose_target,
    explain,
    is_loopback,
    use_target,
)

REAL = {"AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_SECRET_ACCESS_KEY": "real", "AWS_PROFILE": "prod"}


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:5000", "http://127.8.9.10", "http://localhost:5000/", "http://[::1]:5000", "http://a.localhost"],
)
def test_loopback_endpoints(url: str) -> None:
    assert is_loopback(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://sqs.us-east-1.amazonaws.com",
        "http://10.0.0.5:5000",
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example",
        "http://[::2]",
        "http://0.0.0.0:5000",
        "not a url",
        "",
    ],
)
def test_other_endpoints_are_not_loopback(url: str) -> None:
    assert not is_loopback(url)


hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){1,3}", fullmatch=True)


@given(hostnames.filter(lambda host: host.split(".")[-1] != "localhost"), st.integers(1, 65535))
def test_fake_credentials_are_never_set_for_an_endpoint_elsewhere(host: str, port: int) -> None:
    environ = dict(REAL)
    use_target(Target(endpoint_url=f"https://{host}:{port}", region="eu-west-1"), environ)
    assert {key: environ[key] for key in REAL} == REAL
    assert environ["AWS_ENDPOINT_URL"] == f"https://{host}:{port}"


@given(st.integers(0, 255), st.integers(0, 255), st.integers(1, 254), st.integers(1, 65535))
def test_fake_credentials_replace_real_ones_for_this_machine(b: int, c: int, d: int, port: int) -> None:
    environ = dict(REAL)
    use_target(Target(endpoint_url=f"http://127.{b}.{c}.{d}:{port}", region="us-east-1"), environ)
    assert {key: environ[key] for key in FAKE_CREDENTIALS} == FAKE_CREDENTIALS
    assert "AWS_PROFILE" not in environ  # real credentials never go to moto
    assert environ["AWS_REGION"] == environ["AWS_DEFAULT_REGION"] == "us-east-1"


def test_no_endpoint_leaves_the_environment_alone() -> None:
    environ = dict(REAL)
    use_target(Target(), environ)
    assert environ == REAL


def _outputs(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"Endpoint": "http://127.0.0.1:5000", "Region": "us-east-1", **values}))
    return path


def test_local_reads_the_default_outputs_file(tmp_path: Path) -> None:
    path = _outputs(tmp_path, IntakeDeadLetterQueueUrl="http://127.0.0.1:5000/q")
    target = choose_target(local=True, default_outputs=path)
    assert (target.endpoint_url, target.region, target.outputs_path) == ("http://127.0.0.1:5000", "us-east-1", path)
    assert target.is_local
    assert target.outputs["IntakeDeadLetterQueueUrl"] == "http://127.0.0.1:5000/q"


def test_local_without_a_running_stack_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"no local stack: .*missing.json not found; start the local stack"):
        choose_target(local=True, default_outputs=tmp_path / "missing.json")


def test_local_refuses_an_outputs_file_that_points_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"Endpoint": "https://moto.example.com"}))
    with pytest.raises(TargetError, match="names no endpoint on this machine"):
        choose_target(local=True, outputs_path=path)


@pytest.mark.parametrize("content", ["not json", "[1, 2]", ""])
def test_a_broken_outputs_file_is_named(tmp_path: Path, content: str) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(content)
    with pytest.raises(TargetError, match="is not a stack outputs file"):
        choose_target(outputs_path=path)


def test_the_default_outputs_file_is_used_unless_a_stack_or_endpoint_is_named(tmp_path: Path) -> None:
    path = _outputs(tmp_path)
    assert choose_target(default_outputs=path).is_local
    assert choose_target(default_outputs=path, stack_name="prod") == Target()
    named = choose_target(default_outputs=path, endpoint_url="https://cloudformation.example.com")
    assert named.endpoint_url == "https://cloudformation.example.com" and not named.is_local
    assert choose_target(default_outputs=tmp_path / "none.json") == Target()


def test_options_win_over_the_outputs(tmp_path: Path) -> None:
    path = _outputs(tmp_path)
    target = choose_target(outputs_path=path, endpoint_url="http://127.0.0.1:6000", region="eu-west-3")
    assert (target.endpoint_url, target.region) == ("http://127.0.0.1:6000", "eu-west-3")


LOCAL = Target(endpoint_url="http://127.0.0.1:5000", outputs_path=Path(".local/outputs.json"))


@pytest.mark.parametrize(
    ("error", "target", "expected"),
    [
        (aws.NoCredentialsError(), Target(), "no AWS credentials found"),
        (aws.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), Target(), "--local"),
        (aws.NoRegionError(), Target(), "pass --region or set AWS_REGION"),
        (aws.ProfileNotFound(profile="prod"), Target(), "check AWS_PROFILE"),
        (aws.EndpointConnectionError(endpoint_url="http://127.0.0.1:5000/"), LOCAL, "is stale?): start the local"),
        (aws.EndpointConnectionError(endpoint_url="https://sqs.x"), Target(), "cannot reach AWS"),
        (
            aws.ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "ListQueues"),
            Target(),
            "AWS refused the credentials (ExpiredToken: expired)",
        ),
        (
            aws.ClientError(
                {"Error": {"Code": "ValidationError", "Message": "Stack with id blog does not exist"}},
                "DescribeStacks",
            ),
            Target(region="eu-west-1"),
            "AWS in eu-west-1: Stack with id blog does not exist; check --stack-name",
        ),
    ],
)
def test_set_up_errors_are_one_line(error: Exception, target: Target, expected: str) -> None:
    message = explain(error, target)
    assert message is not None and expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "error",
    [
        aws.ClientError({"Error": {"Code": "QueueDoesNotExist", "Message": "no"}}, "GetQueueUrl"),
        aws.ClientError({"Error": {"Code": "ValidationError", "Message": "Template format error"}}, "DescribeStacks"),
        ValueError("a bug"),
    ],
)
def test_other_errors_are_not_hidden(error: Exception) -> None:
    assert explain(error, Target()) is None
