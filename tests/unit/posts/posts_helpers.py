"""Helpers for the posts tests: build a post file, check it with the real rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pressline.posts.rules import CheckResult, check_post

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "posts"
PARIS = ZoneInfo("Europe/Paris")
UPLOADED = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def post(front_matter: str, body: str = "Some text.\n") -> bytes:
    return f"---\n{front_matter}\n---\n{body}".encode()


def check(raw: bytes, key: str = "posts/hello-world.md", timezone: ZoneInfo = PARIS) -> CheckResult:
    return check_post(raw, key, uploaded_at=UPLOADED, timezone=timezone)
