"""``pressline subscribers import|export`` and ``pressline export`` against the real
``pressline local`` (a subprocess), as an operator runs them: the stack named by its outputs
file, the Subscriptions function's settings read from the description beside it, no AWS
credentials exported."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pressline.local.harness import RunningLocalStack

pytestmark = pytest.mark.slow

MEMBERS = (
    "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers\n"
    "1,member@example.com,M,,true,false,,2022-03-16T08:03:11.000Z,,,\n"
    "2,nodate@example.com,N,,true,false,,,,,\n"
    "3,left@example.com,L,,false,false,,2022-03-16T08:03:11.000Z,,,\n"
)


def pressline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pressline.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_import_and_exports_against_the_local_stack(local_stack: RunningLocalStack, tmp_path: Path) -> None:
    outputs = str(local_stack.outputs_path)
    (tmp_path / "members.csv").write_text(MEMBERS, encoding="utf-8")
    done = pressline("subscribers", "import", "members.csv", "--outputs", outputs, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "members.csv (ghost): 1 confirmed, 1 invited, 1 left" in done.stdout
    # One message (moto lists a raw message's recipient twice: its header and its envelope).
    assert [set(email["destinations"]) for email in local_stack.sent_emails()] == [{"nodate@example.com"}]

    again = pressline("subscribers", "import", "members.csv", "--outputs", outputs, cwd=tmp_path)
    assert "3 skipped" in again.stdout, again.stdout + again.stderr
    assert len(local_stack.sent_emails()) == 1

    bucket = local_stack.outputs["SourceBucketName"]
    local_stack.client("s3").put_object(Bucket=bucket, Key="posts/hello.md", Body=b"---\ntitle: Hello\n---\nHi.\n")
    exported = pressline("export", "site", "--outputs", outputs, cwd=tmp_path)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    manifest = json.loads((tmp_path / "site" / "pressline-export.json").read_text(encoding="utf-8"))
    assert manifest["site_url"] == local_stack.site_url
    assert manifest["counts"]["posts"] == 1 and manifest["counts"]["subscribers"] == 2
    assert (tmp_path / "site" / "posts" / "hello.md").read_bytes() == b"---\ntitle: Hello\n---\nHi.\n"
    rows = list(csv.DictReader(io.StringIO((tmp_path / "site" / "subscribers.csv").read_text(encoding="utf-8"))))
    assert {(row["email"], row["status"]) for row in rows} == {
        ("member@example.com", "confirmed"),
        ("nodate@example.com", "pending"),
    }
