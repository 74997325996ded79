"""Which AWS an operator command (``pressline rebuild``, ``pressline redrive``) talks to, and
what it says when it cannot.

The local stack writes its endpoint to an outputs file (``.local/outputs.json`` by default).
Pointed at an endpoint on this machine, a command uses fake credentials: moto accepts any,
and an operator should not have to export some to redrive a local queue. Pointed anywhere
else it uses the operator's own credentials, as the AWS CLI would, and never fake ones.
AWS errors that are about the set-up (no credentials, no region, nothing listening) become
one line saying what to do instead of a traceback.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOCAL_OUTPUTS = Path(".local/outputs.json")
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",  # nosec B105 - a fake for the local endpoint, never a real secret
    "AWS_SESSION_TOKEN": "local",  # nosec B105 - likewise
}
START_LOCAL = "start the local stack with `make run` (or `pressline local`)"
# ClientError codes that mean the credentials, not the request, are wrong.
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "RequestExpired",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)


class TargetError(Exception):
    """Raised when the options do not name an AWS to talk to (the message says what to give)."""


@dataclass(frozen=True)
class Target:
    """Where a command's AWS calls go: an endpoint (None: AWS itself) and a region, with the
    outputs of the local stack when it is the one."""

    endpoint_url: str | None = None
    region: str | None = None
    outputs_path: Path | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None and is_loopback(self.endpoint_url)


def is_loopback(url: str) -> bool:
    """Whether ``url`` is served on this machine (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def choose_target(
    *,
    outputs_path: Path | None = None,
    local: bool = False,
    endpoint_url: str | None = None,
    region: str | None = None,
    stack_name: str | None = None,
    default_outputs: Path = LOCAL_OUTPUTS,
) -> Target:
    """The target the options name. ``--local`` means the outputs file (``default_outputs``
    unless ``--outputs`` names one), which must exist. Without any option, a local stack's
    outputs file in the current directory is used when present (as the commands always did),
    unless ``--stack-name`` names a deployed stack."""
    if local and outputs_path is None:
        outputs_path = default_outputs
    if outputs_path is None and not stack_name and not endpoint_url and default_outputs.is_file():
        outputs_path = default_outputs
    outputs: dict[str, str] = {}
    if outputs_path is not None:
        if not outputs_path.is_file():
            raise TargetError(f"no local stack: {outputs_path} not found; {START_LOCAL}, or pass --outputs FILE")
        try:
            outputs = json.loads(outputs_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise TargetError(f"{outputs_path} is not a stack outputs file ({error})") from None
        if not isinstance(outputs, dict):
            raise TargetError(f"{outputs_path} is not a stack outputs file (not a JSON object)")
    endpoint = endpoint_url or outputs.get("Endpoint") or None
    if local and not (endpoint and is_loopback(endpoint)):
        raise TargetError(f"--local: {outputs_path} names no endpoint on this machine ({endpoint or 'none'})")
    return Target(
        endpoint_url=endpoint,
        region=region or outputs.get("Region") or None,
        outputs_path=outputs_path,
        outputs={str(key): str(value) for key, value in outputs.items()},
    )


def use_target(target: Target, environ: dict[str, str] | Any = os.environ) -> None:
    """Point boto3 (made after this) at ``target``: the endpoint and region variables, and fake
    credentials only for an endpoint on this machine."""
    if target.endpoint_url:
        environ["AWS_ENDPOINT_URL"] = target.endpoint_url
    if target.region:
        environ["AWS_DEFAULT_REGION"] = target.region
        environ["AWS_REGION"] = target.region
    if target.is_local:
        environ.update(FAKE_CREDENTIALS)
        environ.pop("AWS_PROFILE", None)  # a profile's credentials would win over the variables' in some set-ups


def explain(error: BaseException, target: Target) -> str | None:
    """One line for an error about the set-up rather than the command (None: not one of those)."""
    from botocore import exceptions as aws

    where = f"the local stack at {target.endpoint_url}" if target.is_local else (target.endpoint_url or "AWS")
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return (
            "no AWS credentials found. For a deployed stack, set AWS_PROFILE (or run `aws configure` / `aws sso"
            " login`); for the local stack, pass --local (start it with `make run`)"
        )
    if isinstance(error, aws.ProfileNotFound):
        return f"{error}: check AWS_PROFILE or ~/.aws/config"
    if isinstance(error, aws.NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(error, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        if target.is_local:
            return f"cannot reach {where} ({target.outputs_path or 'its outputs file'} is stale?): {START_LOCAL}"
        return f"cannot reach {where}: {error}"
    if isinstance(error, aws.TokenRetrievalError | aws.SSOError):
        return f"{error}: run `aws sso login`"
    if isinstance(error, aws.ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", ""))
        if code in CREDENTIAL_CODES:
            return f"{where} refused the credentials ({code}: {message}); refresh them or check AWS_PROFILE"
        # CloudFormation's answer for a --stack-name it does not have (any command that names one).
        if code == "ValidationError" and "does not exist" in message:
            region = f" in {target.region}" if target.region else ""
            return f"{where}{region}: {message}; check --stack-name and --region (`aws cloudformation list-stacks`)"
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--local",
        action="store_true",
        help=f"use the running local stack (its outputs file: --outputs, default {LOCAL_OUTPUTS}); no credentials"
        " needed",
    )
    parser.add_argument("--endpoint-url", default=None, help="send AWS calls to this endpoint (e.g. a moto server)")
    parser.add_argument("--region", default=None, help="AWS region (default: the outputs', else AWS_REGION)")


def run_against_target(command: str, args: argparse.Namespace, run: Callable[[argparse.Namespace], int]) -> int:
    """Choose and apply the target of ``args``, then ``run(args)``; set-up errors are one line on
    stderr and exit status 2."""
    try:
        target = choose_target(
            outputs_path=getattr(args, "outputs", None),
            local=bool(getattr(args, "local", False)),
            endpoint_url=getattr(args, "endpoint_url", None),
            region=getattr(args, "region", None),
            stack_name=getattr(args, "stack_name", None),
        )
    except TargetError as error:
        print(f"pressline {command}: {error}", file=sys.stderr)
        return 2
    use_target(target)
    if hasattr(args, "outputs"):
        args.outputs = target.outputs_path  # the command reads the same file the target came from
    try:
        return int(run(args))
    except Exception as error:
        message = explain(error, target)
        if message is None:
            raise
        print(f"pressline {command}: {message}", file=sys.stderr)
        return 2
