"""EMAIL_CONTENT (template parameter EmailContent): what a post's email carries when its front
matter does not say; a bad value names the variable."""

from __future__ import annotations

import pytest

from pressline.config import email_content, settings


def test_full_by_default_like_ghost_and_substack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMAIL_CONTENT", raising=False)
    settings.cache_clear()
    try:
        assert settings().email_content == "full"
        monkeypatch.setenv("EMAIL_CONTENT", "summary")
        settings.cache_clear()
        assert settings().email_content == "summary"
    finally:
        settings.cache_clear()


def test_the_setting_is_full_or_summary_and_a_bad_value_names_the_variable() -> None:
    assert email_content(" Full ") == "full" and email_content("SUMMARY") == "summary"
    for bad in ("", "excerpt", "fullpost"):
        with pytest.raises(ValueError, match=f"EMAIL_CONTENT: '{bad}' is not full or summary"):
            email_content(bad)
