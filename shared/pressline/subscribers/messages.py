"""Building the emails (pure): a MIME message with a plain-text and an HTML part.

Post emails carry RFC 8058 one-click unsubscribe headers and a visible unsubscribe
link; the confirmation email carries only the confirmation link (double opt-in:
nothing else is ever sent before the click). Header values are built from our own
data with line breaks collapsed, so no title can inject a header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from email.message import EmailMessage
    from email.policy import EmailPolicy

    from pressline.models import PostPublished  # annotations only: Subscriptions never loads the models


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


def post_email(
    site: Site,
    post: PostPublished,
    recipient: str,
    subscriber_id: str,
    unsubscribe_token: str,
    subscriber_tags: tuple[str, ...],
    now: datetime,
) -> OutgoingEmail:
    """The email announcing ``post`` to one subscriber."""
    link = unsubscribe_url(site, unsubscribe_token)
    context = {
        "site": site,
        "post": post,
        "title": one_line(post.title),
        "unsubscribe_url": link,
        "subscriber_tags": subscriber_tags,
    }
    message = _message(
        site,
        recipient,
        post.title,
        _render("emails/post.txt", **context),
        _render("emails/post.html", **context),
        now,
    )
    message["List-Unsubscribe"] = f"<{link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return OutgoingEmail(
        sender=site.sender,
        recipient=recipient,
        subject=one_line(post.title),
        raw=message.as_bytes(),
        tags={"kind": "post", "subscriber": subscriber_id},
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
