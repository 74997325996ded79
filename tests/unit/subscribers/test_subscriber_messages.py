from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

from subscriber_helpers import make_post

from pressline.subscribers import messages
from pressline.subscribers.messages import Site, SubscriberLinks

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _links(token: str) -> SubscriberLinks:
    return SubscriberLinks(
        unsubscribe=f"https://api.example.com/subscriptions/unsubscribe?token={token}",
        preferences=f"https://api.example.com/subscriptions/preferences?token=P{token}",
    )


def _parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


def test_a_post_email_has_text_and_html_parts_and_one_click_unsubscribe(site: Site) -> None:
    post = make_post(tags=("aws",))
    email = messages.post_email(site, post, "ada@example.com", "sid1", _links("TOKEN.SIG"), ("aws",), NOW)
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
    email = messages.post_email(site, post, "ada@example.com", "sid1", _links("T.S"), (), NOW)
    parsed = _parse(email.raw)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Big news Bcc: everyone@example.org"


def test_non_ascii_titles_are_encoded(site: Site) -> None:
    post = make_post(title="Café — naïve résumé")
    parsed = _parse(messages.post_email(site, post, "ada@example.com", "sid1", _links("T.S"), (), NOW).raw)
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


# --------------------------------------------------------------------------- shared by every subscriber email
def test_every_post_email_has_list_id_a_manage_link_beside_unsubscribe_and_a_preheader(site: Site) -> None:
    post = make_post()
    parsed = _parse(messages.post_email(site, post, "ada@example.com", "sid1", _links("T.S"), (), NOW).raw)
    assert parsed["List-Id"] == "Pressline Test <posts.blog.example.com>"
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    preferences = "https://api.example.com/subscriptions/preferences?token=PT.S"
    assert f"Manage your subscription: {preferences}" in text
    assert f'<a href="{preferences}" style="color:#666666;">Manage your subscription</a>' in html
    # The preheader is the first text of the body, hidden, and it is the summary.
    body = html.split("<body", 1)[1]
    first = body.split(">", 2)[2]
    assert first.startswith("A first post about &lt;things&gt; &amp; stuff.")
    assert "display:none" in body.split(">", 2)[1]


def test_list_id_is_header_safe_whatever_the_title(site: Site) -> None:
    hostile = Site(title='Evil" <x@y>\r\nBcc: a@b, "q', url="https://Blog.Example.com:8443/", api_url="", sender="")
    value = messages.list_id(hostile)
    assert "\r" not in value and "\n" not in value
    assert value.endswith(" <posts.blog.example.com>")
    parsed = _parse(f"List-Id: {value}\r\n\r\n".encode())
    assert parsed["Bcc"] is None
    non_ascii = messages.list_id(Site(title="Café Ünïcode", url="https://bücher.example/", api_url="", sender=""))
    assert non_ascii.isascii() and non_ascii.endswith(" <posts.xn--bcher-kva.example>")
    assert str(_parse(f"List-Id: {non_ascii}\r\n\r\n".encode())["List-Id"]).startswith("Café Ünïcode")


def test_a_preheader_is_the_summary_on_one_line_cut_at_a_word() -> None:
    assert messages.preheader("Short\nsummary.") == "Short summary."
    long = " ".join(["word"] * 60)
    cut = messages.preheader(long)
    assert len(cut) <= messages.PREHEADER_LENGTH and cut.endswith("word…")


def test_subscriber_email_is_what_a_digest_builds_on(site: Site) -> None:
    email = messages.subscriber_email(
        site, "ada@example.com", "Digest\nBcc: x@y", "text", "<p>html</p>", NOW, _links("T.S"),
        kind="digest", subscriber_id="sid1",
    )  # fmt: skip
    parsed = _parse(email.raw)
    assert parsed["Bcc"] is None and parsed["Subject"] == "Digest Bcc: x@y"
    assert parsed["List-Unsubscribe"] == "<https://api.example.com/subscriptions/unsubscribe?token=T.S>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Id"] == messages.list_id(site)
    assert email.tags == {"kind": "digest", "subscriber": "sid1"}


def test_subscriber_links_carry_signed_tokens_for_their_purposes(site: Site, keys) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import parse_qs, urlsplit

    from pressline.subscribers.tokens import Purpose, verify

    links = messages.subscriber_links(site, keys, "sid1")
    for url, purpose in ((links.unsubscribe, Purpose.UNSUBSCRIBE), (links.preferences, Purpose.PREFERENCES)):
        [token] = parse_qs(urlsplit(url).query)["token"]
        claims = verify(keys, token, purpose, NOW)
        assert claims.subscriber_id == "sid1" and claims.expires_at is None
    assert links.preferences.startswith("https://api.example.com/subscriptions/preferences?token=")


def test_a_whole_post_body_is_in_both_parts_and_an_oversized_one_falls_back_to_the_summary(site: Site) -> None:
    post = make_post()
    body = messages.PostBody(html="<p>The <em>whole</em> post.</p>", text="The *whole* post.")
    parsed = _parse(messages.post_email(site, post, "ada@example.com", "sid1", _links("T.S"), (), NOW, body).raw)
    html = parsed.get_body(preferencelist=("html",)).get_content()
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    assert "<p>The <em>whole</em> post.</p>" in html and "The *whole* post." in text
    assert f"Read on Pressline Test: {post.url}" in text

    huge = messages.PostBody(
        html="<p>" + "x" * messages.GMAIL_CLIP_BYTES + "</p>", text="x" * messages.GMAIL_CLIP_BYTES
    )
    email = messages.post_email(site, post, "ada@example.com", "sid1", _links("T.S"), (), NOW, huge)
    parsed = _parse(email.raw)
    html = parsed.get_body(preferencelist=("html",)).get_content()
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    assert "x" * 100 not in html and "x" * 100 not in text
    assert "Read on Pressline Test" in html and f"Read on Pressline Test: {post.url}" in text
    assert len(html.encode()) < messages.GMAIL_CLIP_BYTES
