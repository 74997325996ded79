"""A provisioned stack with its runner, for tests (``aws_stack``) and scripts.

In-process (inside ``mock_aws``) everything is synchronous: ``invoke`` calls one
handler, ``drain`` runs the queue triggers until no message is visible.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pressline.local.lambda_runtime import invoke
from pressline.local.motoserver import FAKE_CREDENTIALS
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

    def drain(self, max_rounds: int = 200, *, retry_after: int | None = None) -> list[Invocation]:
        """Run every queue-triggered function until no message is visible.

        A failed message stays invisible for its queue's visibility timeout (minutes), so a
        drain ends without it; ``retry_after=0`` retries it at once, until it succeeds or
        moto moves it to the DLQ after maxReceiveCount receives.
        """
        saved = [trigger.retry_after for trigger in self.runner.triggers]
        for trigger in self.runner.triggers:
            trigger.retry_after = retry_after if retry_after is not None else trigger.retry_after
        try:
            return self.runner.drain(max_rounds)
        finally:
            for trigger, value in zip(self.runner.triggers, saved, strict=True):
                trigger.retry_after = value

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
    import time
    import urllib.error
    import urllib.request

    # moto dumps every backend for this page while the pipeline keeps writing to them: a dump
    # that met a dictionary changing under it answers 500. It is a read: asking again is safe.
    for attempt in range(5):
        try:
            with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=10) as response:  # noqa: S310
                data = json.load(response)
            break
        except urllib.error.HTTPError as error:
            if error.code != 500 or attempt == 4:
                raise
            time.sleep(0.05 * 2**attempt)
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


# --------------------------------------------------------------------------- server mode
def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningLocalStack:
    """A ``pressline local`` process (moto server + runner + HTTP server) and its outputs."""

    def __init__(self, outputs_path: Path, process: subprocess.Popen[bytes], log_path: Path) -> None:
        import boto3

        self.outputs_path = outputs_path
        self.outputs: dict[str, str] = json.loads(outputs_path.read_text(encoding="utf-8"))
        self.process = process
        self.log_path = log_path
        self.endpoint_url = self.outputs["Endpoint"]
        self.site_url = self.outputs["SiteUrl"]
        self.api_url = self.outputs["ApiUrl"]
        self._session = boto3.session.Session(region_name=self.outputs["Region"])
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """A boto3 client for the stack's moto endpoint."""
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]
        return self._clients[service]

    def functions(self) -> dict[str, dict[str, Any]]:
        """The running stack's functions: name, ARN and environment (see ``describe_functions``)."""
        from pressline.local.cli import functions_path

        described: dict[str, dict[str, Any]] = json.loads(functions_path(self.outputs_path).read_text("utf-8"))
        return described

    def sent_emails(self) -> list[dict[str, Any]]:
        return sent_emails_from_server(self.endpoint_url)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def aws(self, *arguments: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run the AWS CLI against this stack, as an author does (``aws s3 cp ...``): fake
        credentials, the stack's endpoint and region; raises when the CLI fails."""
        return run_aws_cli(self.endpoint_url, self.outputs["Region"], *arguments, timeout_s=timeout_s)


# --------------------------------------------------------------------------- the AWS CLI
AWS_CLI_VARIABLE = "PRESSLINE_AWSCLI_BIN"  # set by `make test`: the bin directory of .venv-aws
REPOSITORY = Path(__file__).resolve().parents[3]


def aws_cli() -> Path | None:
    """The ``aws`` executable `make awscli` installs (.ci/requirements-awscli.txt), or None."""
    configured = os.environ.get(AWS_CLI_VARIABLE)
    directory = Path(configured) if configured else REPOSITORY / ".venv-aws" / "bin"
    executable = directory / "aws"
    return executable if executable.is_file() else None


def run_aws_cli(
    endpoint_url: str, region: str, *arguments: str, timeout_s: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """``aws --endpoint-url ENDPOINT ARGUMENTS...`` with fake credentials (never a profile)."""
    executable = aws_cli()
    if executable is None:
        raise FileNotFoundError(f"no AWS CLI: run `make awscli` (or set {AWS_CLI_VARIABLE})")
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("AWS_") or key == "AWS_CA_BUNDLE"
    }
    environment.update(FAKE_CREDENTIALS)
    environment.update(AWS_DEFAULT_REGION=region, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    command = [str(executable), "--endpoint-url", endpoint_url, *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=environment, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


@contextlib.contextmanager
def start_local_stack(workdir: Path, *options: str, timeout_s: float = 60.0) -> Iterator[RunningLocalStack]:
    """Run ``pressline local`` on free ports until the block ends; stop it with SIGTERM and
    check that it stopped cleanly."""
    outputs_path = workdir / "outputs.json"
    log_path = workdir / "stack.log"
    command = [
        sys.executable, "-m", "pressline.cli", "local",
        "--port", str(free_port()), "--http-port", str(free_port()),
        "--outputs", str(outputs_path), *options,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 (our own command)
    try:
        deadline = time.monotonic() + timeout_s
        while not outputs_path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pressline local did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.1)
        yield RunningLocalStack(outputs_path, process, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError("pressline local did not stop within 15 s of SIGTERM") from None
    if code != 0:
        raise RuntimeError(f"pressline local exited with {code}:\n{log_path.read_text(errors='replace')[-4000:]}")
