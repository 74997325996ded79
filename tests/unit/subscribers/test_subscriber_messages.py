from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

from subscriber_helpers import make_post

from pressline.subscribers import messages
from pressline.subscribers.messages import Site

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


def test_a_post_email_has_text_and_html_parts_and_one_click_unsubscribe(site: Site) -> None:
    post = make_post(tags=("aws",))
    email = messages.post_email(site, post, "ada@example.com", "sid1", "TOKEN.SIG", ("aws",), NOW)
    parsed = _parse(email.raw)
    assert parsed["From"] == "Pressline Test <news@example.com>"
    assert parsed["To"] == "ada@example.com"
    assert parsed["Subject"] == "Hello, world"
    unsubscribe = "https://api.example.com/subscriptions/unsubscribe?token=TOKEN.SIG"
    assert parsed["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert "Hello, world" in body
        assert post.url in body
        assert unsubscribe in body
    # The summary is escaped in HTML and left alone in text.
    assert "A first post about &lt;things&gt; &amp; stuff." in html
    assert "A first post about <things> & stuff." in text
    assert "posts tagged aws" in text
    assert email.tags == {"kind": "post", "subscriber": "sid1"}


def test_a_title_cannot_inject_headers(site: Site) -> None:
    post = make_post(title="Big news\r\nBcc: everyone@example.org")
    email = messages.post_email(site, post, "ada@example.com", "sid1", "T.S", (), NOW)
    parsed = _parse(email.raw)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Big news Bcc: everyone@example.org"


def test_non_ascii_titles_are_encoded(site: Site) -> None:
    post = make_post(title="Café — naïve résumé")
    parsed = _parse(messages.post_email(site, post, "ada@example.com", "sid1", "T.S", (), NOW).raw)
    assert parsed["Subject"] == "Café — naïve résumé"


def test_the_confirmation_email_has_the_link_and_nothing_to_unsubscribe_from(site: Site) -> None:
    email = messages.confirmation_email(site, "ada@example.com", "sid1", "CONFIRM.SIG", ("aws",), 48, NOW)
    parsed = _parse(email.raw)
    assert parsed["Subject"] == "Confirm your subscription to Pressline Test"
    assert parsed["List-Unsubscribe"] is None
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    link = "https://api.example.com/subscriptions/confirm?token=CONFIRM.SIG"
    assert link in text and link in html
    assert "48 hours" in text and "posts tagged aws" in text
