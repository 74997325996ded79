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
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pressline.local.harness import StackHandle

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
    from pressline.local.stack import Clients, provision

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        stack = provision(template_path=ROOT / "template.yaml")
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        _reset_process_caches()
        clients = Clients(stack.region, None)
        yield StackHandle(stack=stack, clients=clients, runner=Runner(stack, clients))
    _reset_process_caches()


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningLocalStack:
    """A ``pressline local`` process (moto server + runner + HTTP server) and its outputs."""

    def __init__(self, outputs: dict[str, str], process: subprocess.Popen[bytes], log_path: Path) -> None:
        import boto3

        self.outputs = outputs
        self.process = process
        self.log_path = log_path
        self.endpoint_url = outputs["Endpoint"]
        self.site_url = outputs["SiteUrl"]
        self.api_url = outputs["ApiUrl"]
        self._session = boto3.session.Session(region_name=outputs["Region"])
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]
        return self._clients[service]

    def sent_emails(self) -> list[dict[str, Any]]:
        from pressline.local.harness import sent_emails_from_server

        return sent_emails_from_server(self.endpoint_url)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalStack]:
    """``pressline local`` in a subprocess on free ports (module-scoped: start-up costs seconds).

    A separate process keeps its AWS_ENDPOINT_URL away from in-process ``mock_aws`` tests.
    """
    workdir = tmp_path_factory.mktemp("local-stack")
    outputs_path = workdir / "outputs.json"
    log_path = workdir / "stack.log"
    command = [
        sys.executable, "-m", "pressline.cli", "local",
        "--port", str(free_port()), "--http-port", str(free_port()),
        "--outputs", str(outputs_path), "--no-examples", "--retry-after", "1",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not outputs_path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pressline local did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.1)
        outputs = json.loads(outputs_path.read_text(encoding="utf-8"))
        yield RunningLocalStack(outputs, process, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
