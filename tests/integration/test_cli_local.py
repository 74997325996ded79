"""The operator commands against the real ``pressline local``, as a new user runs them: no AWS
credentials exported, the stack started with ``--parameter-overrides``."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pressline.local.harness import RunningLocalStack, free_port, start_local_stack

ROOT = Path(__file__).resolve().parents[2]
TITLE = "Carnet d'Élise & co"
TIMEZONE = "Pacific/Auckland"


@pytest.fixture(scope="module")
def titled_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalStack]:
    workdir = tmp_path_factory.mktemp("titled-stack")
    with start_local_stack(
        workdir,
        "--no-examples",
        "--retry-after",
        "1",
        "--parameter-overrides",
        f"SiteTitle={TITLE}",
        f"SiteTimezone={TIMEZONE}",
    ) as stack:
        yield stack


def _no_credentials_env(home: Path) -> dict[str, str]:
    """A shell with nothing AWS in it: no keys, no profile, no config files, no region."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"})  # no instance metadata lookups either
    return env


def _pressline(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pressline.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_local_site_has_the_overridden_title(titled_stack: RunningLocalStack) -> None:
    functions = titled_stack.functions()
    assert {f["environment"]["SITE_TITLE"] for f in functions.values() if "SITE_TITLE" in f["environment"]} == {TITLE}
    source = titled_stack.outputs["SourceBucketName"]
    site = titled_stack.outputs["SiteBucketName"]
    s3 = titled_stack.client("s3")
    s3.put_object(Bucket=source, Key="posts/hello.md", Body=b"---\ntitle: Hello\ndate: 2026-11-27 09:30\n---\nBody.\n")
    deadline = time.monotonic() + 60
    home = ""
    while time.monotonic() < deadline:
        try:
            home = s3.get_object(Bucket=site, Key="index.html")["Body"].read().decode("utf-8")
            if "/posts/hello/" in home:
                break
        except s3.exceptions.NoSuchKey:
            pass
        time.sleep(0.2)
    assert "/posts/hello/" in home, titled_stack.log()[-3000:]
    title = re.search(r"<title>(.*?)</title>", home, re.DOTALL)
    assert title is not None and html.unescape(title.group(1)).strip() == TITLE
    assert ">Pressline<" not in home  # the template's default title is in no header or link
    page = s3.get_object(Bucket=site, Key="posts/hello/index.html")["Body"].read().decode("utf-8")
    # A date without an offset is in the site's time zone: 09:30 in Auckland (NZDT, +13:00).
    assert "2026-11-27T09:30:00+13:00" in page


def test_redrive_needs_no_exported_credentials(titled_stack: RunningLocalStack, tmp_path: Path) -> None:
    env = _no_credentials_env(tmp_path)
    outputs = str(titled_stack.outputs_path)
    for queue in ("intake", "index"):
        result = _pressline("redrive", queue, "--local", "--outputs", outputs, "--dry-run", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert f"would move 0 message(s) from {titled_stack.outputs[queue.capitalize() + 'DeadLetterQueueUrl']}" in (
            result.stdout
        )
    by_stack = _pressline(
        "redrive", "render", "--local", "--outputs", outputs, "--stack-name", titled_stack.outputs["StackName"],
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert by_stack.returncode == 0, by_stack.stderr
    assert f"moved 0 message(s) from {titled_stack.outputs['RenderDeadLetterQueueUrl']}" in by_stack.stdout


def test_rebuild_needs_no_exported_credentials(titled_stack: RunningLocalStack, tmp_path: Path) -> None:
    result = _pressline(
        "rebuild", "--outputs", str(titled_stack.outputs_path), cwd=tmp_path, env=_no_credentials_env(tmp_path)
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), result.stderr  # 1: a post without a rendered version, listed by name
    assert "Rebuilt " in result.stdout


def test_without_credentials_or_a_stack_the_error_is_one_line(tmp_path: Path) -> None:
    env = {**_no_credentials_env(tmp_path), "AWS_DEFAULT_REGION": "us-east-1"}
    for args in (("redrive", "intake", "--stack-name", "prod", "--dry-run"), ("rebuild", "--stack-name", "prod")):
        result = _pressline(*args, cwd=tmp_path, env=env)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().count("\n") == 0
        assert "no AWS credentials found" in result.stderr and "--local" in result.stderr
    missing = _pressline("redrive", "intake", "--local", cwd=tmp_path, env=env)
    assert missing.returncode == 2
    assert "no local stack: .local/outputs.json not found; start the local stack with `make run`" in missing.stderr


def test_a_stopped_local_stack_is_named_not_a_traceback(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    outputs.write_text(
        f'{{"Endpoint": "{endpoint}", "Region": "us-east-1", "IntakeDeadLetterQueueUrl": "{endpoint}/q"}}'
    )
    result = _pressline("redrive", "intake", "--outputs", str(outputs), cwd=tmp_path, env=_no_credentials_env(tmp_path))
    assert result.returncode == 2
    assert f"cannot reach the local stack at {endpoint}" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ("SiteTitel=Oops", "SiteTitel: not a parameter of the template"),
        ("SiteUrl=ftp://example.com", "SiteUrl: 'ftp://example.com' does not match the pattern"),
        ("SiteTimezone=Mars/Olympus", "SiteTimezone: 'Mars/Olympus' is not an IANA time zone"),
        ("Site Title", "is not Key=Value"),
    ],
)
def test_a_bad_override_stops_the_stack_before_it_starts(tmp_path: Path, override: str, reason: str) -> None:
    result = _pressline(
        "local", "--port", str(free_port()), "--http-port", str(free_port()), "--outputs", str(tmp_path / "o.json"),
        "--no-examples", "--parameter-overrides", override, cwd=ROOT, env=_no_credentials_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert reason in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "o.json").exists()
