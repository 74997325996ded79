"""model: frozen, strict, and a stored comment has nowhere to hold an email address."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from pressline.comments.model import Comment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comment_helpers import comment


def test_a_comment_never_holds_an_email_address() -> None:
    assert not any("email" in name or "address" in name for name in Comment.model_fields)
    with pytest.raises(ValidationError):
        Comment(**comment("a").model_dump(), email="a@example.com")


def test_comments_are_frozen() -> None:
    with pytest.raises(ValidationError):
        comment("a").status = "deleted"  # type: ignore[misc]
