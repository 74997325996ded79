"""Building the emails (pure): a MIME message with a plain-text and an HTML part.

Every email to a subscriber (a post's, a digest) is made by ``subscriber_email``: RFC 8058
one-click unsubscribe headers, a ``List-Id`` (RFC 2919), and in its templates a preheader and
the footer ``emails/_footer.html`` / ``_footer.txt`` with a visible unsubscribe link and a
"Manage your subscription" link (``footer_context``). The confirmation email carries only the
confirmation link (double opt-in: nothing else is ever sent before the click). Header values
are built from our own data with line breaks collapsed, so no title can inject a header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from email.message import EmailMessage
    from email.policy import EmailPolicy

    from pressline.models import PostPublished  # annotations only: Subscriptions never loads the models
    from pressline.subscribers.tokens import Keys

# The preheader: the first text a mail client shows after the subject in its list.
PREHEADER_LENGTH = 140


@cache
def email_policy() -> EmailPolicy[EmailMessage]:
    """CRLF line endings; headers folded only beyond RFC 5322's 998-character limit, so the
    List-Unsubscribe URL stays on one line (some receivers parse folded values poorly).
    The email package is imported here, not at module level: Notify and most API calls
    never build an email, and it costs ~8 ms of their cold start."""
    from email.policy import SMTP

    return SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class Site:
    title: str
    url: str
    api_url: str
    sender: str


@dataclass(frozen=True)
class OutgoingEmail:
    """One message to one recipient, ready for the mailer."""

    sender: str
    recipient: str
    subject: str
    raw: bytes
    # SES message tags (name -> value), echoed back in bounce and complaint events.
    tags: dict[str, str] = field(default_factory=dict)


def one_line(text: str) -> str:
    """A header-safe value: every run of whitespace (CR and LF included) becomes one space."""
    return " ".join(text.split())


def confirm_url(site: Site, token: str) -> str:
    return f"{site.api_url}/subscriptions/confirm?token={quote(token, safe='')}"


def unsubscribe_url(site: Site, token: str) -> str:
    return f"{site.api_url}/subscriptions/unsubscribe?token={quote(token, safe='')}"


def preferences_url(site: Site, token: str) -> str:
    return f"{site.api_url}/subscriptions/preferences?token={quote(token, safe='')}"


@dataclass(frozen=True)
class SubscriberLinks:
    """The two links every email to a subscriber carries (visible, and unsubscribe in headers)."""

    unsubscribe: str
    preferences: str


def subscriber_links(site: Site, keys: Keys, subscriber_id: str) -> SubscriberLinks:
    """The subscriber's unsubscribe and preferences links, with long-lived signed tokens
    (no address inside: an email is kept and forwarded)."""
    from pressline.subscribers.tokens import Purpose, issue

    return SubscriberLinks(
        unsubscribe=unsubscribe_url(site, issue(keys, Purpose.UNSUBSCRIBE, subscriber_id)),
        preferences=preferences_url(site, issue(keys, Purpose.PREFERENCES, subscriber_id)),
    )


def list_id(site: Site) -> str:
    """The ``List-Id`` header (RFC 2919): ``"<site title>" <posts.<site host>>``. The label is
    the site's host (IDNA, lowercase, no port) under ``posts.``; the title is a quoted phrase,
    or an RFC 2047 encoded word when it is not ASCII, so nothing in it can end the header."""
    from email.utils import formataddr

    host = (urlsplit(site.url).hostname or "localhost").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = "".join(c if c.isascii() and (c.isalnum() or c in "-.") else "-" for c in host)
    label = ".".join(part for part in f"posts.{host.lower()}".split(".") if part)
    return formataddr((one_line(site.title), label))


def preheader(summary: str, limit: int = PREHEADER_LENGTH) -> str:
    """The hidden first text of an HTML email: the summary on one line, cut at a word before
    ``limit`` characters (with an ellipsis)."""
    text = one_line(summary)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip(" ,;:.") + "…"


def subscriber_headers(site: Site, links: SubscriberLinks) -> dict[str, str]:
    """The list headers of every email to a subscriber: one-click unsubscribe (RFC 8058:
    Gmail and Yahoo require it of bulk senders) and List-Id (RFC 2919)."""
    return {
        "List-Unsubscribe": f"<{links.unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": list_id(site),
    }


def footer_context(site: Site, links: SubscriberLinks, subscriber_tags: tuple[str, ...]) -> dict[str, object]:
    """What the templates ``emails/_footer.html`` and ``emails/_footer.txt`` need (include them
    at the end of an email's footer): why they get it, unsubscribe and manage links."""
    return {
        "site": site,
        "unsubscribe_url": links.unsubscribe,
        "preferences_url": links.preferences,
        "subscriber_tags": subscriber_tags,
    }


def subscriber_email(
    site: Site,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    now: datetime,
    links: SubscriberLinks,
    *,
    kind: str,
    subscriber_id: str,
) -> OutgoingEmail:
    """An email to a subscriber (``kind``: the SES tag, ``post`` or ``digest``), with
    ``subscriber_headers``. ``text`` and ``html`` should come from templates that include the
    footer and (HTML) set ``preheader`` for ``emails/layout.html``."""
    message = _message(site, recipient, subject, text, html, now)
    for name, value in subscriber_headers(site, links).items():
        message[name] = value
    return OutgoingEmail(
        sender=site.sender,
        recipient=recipient,
        subject=one_line(subject),
        raw=message.as_bytes(),
        tags={"kind": kind, "subscriber": subscriber_id},
    )


def _render(template: str, **context: object) -> str:
    from pressline.site.templating import render

    return render(template, **context)


def _message(site: Site, recipient: str, subject: str, text: str, html: str, now: datetime) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import format_datetime, formataddr

    message = EmailMessage(policy=email_policy())
    message["From"] = formataddr((one_line(site.title), site.sender))
    message["To"] = recipient
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(now)
    message["MIME-Version"] = "1.0"
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


# Gmail clips an email whose HTML is over 102 KB (the HTML's bytes, as sent; headers excluded):
# the rest, the footer with its unsubscribe link included, is behind "[Message clipped]".
GMAIL_CLIP_BYTES = 102_000


@dataclass(frozen=True)
class PostBody:
    """A post's whole body for an email (``subscribers.post_body``): the sanitized HTML with
    absolute URLs, and a plain-text rendering that says the same."""

    html: str
    text: str


def post_email(
    site: Site,
    post: PostPublished,
    recipient: str,
    subscriber_id: str,
    links: SubscriberLinks,
    subscriber_tags: tuple[str, ...],
    now: datetime,
    body: PostBody | None = None,
) -> OutgoingEmail:
    """The email of ``post`` to one subscriber: the whole post when ``body`` is given, unless
    its HTML would pass Gmail's clipping size (then the summary and a "Read on" link), else
    the summary and a link."""
    context: dict[str, object] = {
        **footer_context(site, links, subscriber_tags),
        "post": post,
        "title": one_line(post.title),
        "site_name": one_line(site.title),
        "preheader": preheader(post.summary),
        "body_html": None,
        "body_text": None,
        "cut": False,
    }
    html = None
    if body is not None:
        from markupsafe import Markup

        # Sanitized by pressline.posts.sanitize (Render, then load_rendering), rewritten by post_body.
        full = _render("emails/post.html", **{**context, "body_html": Markup(body.html)})  # noqa: S704  # nosec B704
        if len(full.encode("utf-8")) <= GMAIL_CLIP_BYTES:
            html, context["body_text"] = full, body.text
        else:
            context["cut"] = True
    if html is None:
        html = _render("emails/post.html", **context)
    text = _render("emails/post.txt", **context)
    return subscriber_email(
        site, recipient, post.title, text, html, now, links, kind="post", subscriber_id=subscriber_id
    )


def confirmation_email(
    site: Site,
    recipient: str,
    subscriber_id: str,
    confirm_token: str,
    tags: tuple[str, ...],
    valid_hours: int,
    now: datetime,
) -> OutgoingEmail:
    """The one email sent before confirmation: the link to confirm."""
    context = {
        "site": site,
        "confirm_url": confirm_url(site, confirm_token),
        "tags": tags,
        "valid_hours": valid_hours,
    }
    subject = f"Confirm your subscription to {site.title}"
    message = _message(
        site,
        recipient,
        subject,
        _render("emails/confirm.txt", **context),
        _render("emails/confirm.html", **context),
        now,
    )
    return OutgoingEmail(
        sender=site.sender,
        recipient=recipient,
        subject=one_line(subject),
        raw=message.as_bytes(),
        tags={"kind": "confirmation", "subscriber": subscriber_id},
    )
