"""What the local stack's SES (moto server) sent, read from ``/moto-api/data.json``."""

from __future__ import annotations

import email
import email.policy
import json
import re
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pressline_e2e.stack import LocalSite


@dataclass(frozen=True)
class SentEmail:
    recipients: tuple[str, ...]
    subject: str
    html: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    def links(self) -> list[tuple[str, str]]:
        """Every link as (url, its text): the HTML's anchors, then URLs in the text part with
        the words before them on their line (``Confirm: https://...``)."""
        found = _anchors(self.html) if self.html else []
        for line in self.text.splitlines():
            for match in re.finditer(r"https?://[^\s<>\"')\]]+", line):
                found.append((match.group(0), line[: match.start()].strip(" :")))
        return found

    def link(self, text: re.Pattern[str]) -> str:
        """The first link whose text (or, failing that, URL) matches."""
        for url, label in self.links():
            if text.search(label):
                return url
        for url, _ in self.links():
            if text.search(url):
                return url
        raise AssertionError(f"no link matching {text.pattern!r} in email {self.subject!r}: {self.links()}")


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href:
            self.anchors.append((self._href, " ".join("".join(self._text).split())))
        if tag == "a":
            self._href = None


def _anchors(html: str) -> list[tuple[str, str]]:
    parser = _AnchorParser()
    parser.feed(html)
    parser.close()
    return parser.anchors


def _parse_raw(raw: str, recipients: tuple[str, ...]) -> SentEmail:
    message = email.message_from_string(raw, policy=email.policy.default)
    html = text = ""
    for part in message.walk():
        if part.is_multipart():
            continue
        content = part.get_content()
        if part.get_content_type() == "text/html" and not html:
            html = str(content)
        elif part.get_content_type() == "text/plain" and not text:
            text = str(content)
    headers = {name: str(value) for name, value in message.items()}
    return SentEmail(recipients, str(message.get("Subject", "")), html, text, headers)


def sent_emails(endpoint: str) -> list[SentEmail]:
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
        ses = json.load(response).get("ses", {})
    found: list[SentEmail] = []
    for item in ses.get("Message", []):
        destinations = item.get("destinations") or {}
        recipients = tuple(
            address for kind in ("ToAddresses", "CcAddresses", "BccAddresses") for address in destinations.get(kind, [])
        )
        body = str(item.get("body") or "")
        # moto keeps only the HTML part when both are given.
        html, text = (body, "") if "<" in body else ("", body)
        found.append(SentEmail(recipients, str(item.get("subject") or ""), html, text))
    for item in ses.get("RawMessage", []):
        found.append(_parse_raw(str(item.get("raw_data") or ""), tuple(dict.fromkeys(item.get("destinations") or []))))
    return found


def emails_to(endpoint: str, address: str) -> list[SentEmail]:
    address = address.lower()
    return [m for m in sent_emails(endpoint) if address in (r.lower() for r in m.recipients)]


def wait_for_email(site: LocalSite, address: str, about: re.Pattern[str], timeout: float = 120.0) -> list[SentEmail]:
    """The emails to ``address`` whose subject or body matches ``about``, once there is one."""
    from pressline_e2e.stack import wait_for

    def matching() -> list[SentEmail] | None:
        found = [m for m in emails_to(site.endpoint, address) if about.search(m.subject + " " + m.html + m.text)]
        return found or None

    return wait_for(matching, timeout, f"an email to {address} matching {about.pattern!r}", interval=0.25)
