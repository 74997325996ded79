"""Email addresses and tags as subscribers give them: validated, normalized, never logged.

A subscriber's id is a keyed hash (HMAC-SHA256) of the normalized address: stable, so
the same address always finds the same record, and useless for enumeration or for
learning an address from a log line or a table dump.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit
MAX_TAGS = 20
MAX_TAG_LENGTH = 50

# CR, LF, NUL and every other C0/C1 control character: a header-injection attempt or garbage.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A lone surrogate (JSON's "\ud800") is not text: it cannot be encoded, stored or mailed.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Providers known to ignore dots in the local part (and one alias domain).
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


class InvalidAddress(ValueError):
    """Raised when an email address cannot be used; the message never repeats the address."""


class InvalidTags(ValueError):
    """Raised when the chosen tags are not a short list of short names."""


def normalize_address(raw: str) -> str:
    """The address as we store and send to it: syntax-checked (no DNS), domain lowercased.

    Raises InvalidAddress with a reason fit to show to the person who typed it."""
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(raw, str) or not raw.strip():
        raise InvalidAddress("an email address is required")
    # Checked before trimming: a CR or LF anywhere is an injection attempt, not a typo.
    if _CONTROL.search(raw):
        raise InvalidAddress("the email address must not contain line breaks or control characters")
    if _SURROGATE.search(raw):
        raise InvalidAddress("the email address is not valid Unicode text")
    candidate = raw.strip(" ")
    if len(candidate) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(f"the email address is longer than {MAX_ADDRESS_LENGTH} characters")
    if any(char in candidate for char in "<>,;"):
        raise InvalidAddress("give one plain address, like name@example.com, without a name or brackets")
    try:
        # SES cannot send to internationalized local parts (SMTPUTF8): refuse them up front.
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InvalidAddress(f"the email address is not valid: {error}") from None
    return str(result.ascii_email or result.normalized)


def subscriber_id(id_key: bytes, address: str) -> str:
    """The subscriber's id: 128 bits of HMAC-SHA256 over the case-folded address, in hex."""
    digest = hmac.new(id_key, address.casefold().encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:32]


def mailbox_of(address: str) -> str:
    """The mailbox a normalized address delivers to, for limits: ``Ada.L+news@Gmail.com``,
    ``adal@gmail.com`` and ``ada.l+x@googlemail.com`` are one mailbox.

    Lowercased (nearly every provider ignores case), without a ``+tag`` (every big provider
    delivers ``name+anything`` to ``name``), and without dots for Gmail, which ignores them.
    Other providers' dots and ``-`` tags are kept: treating them as one would lump distinct
    people together at providers that do not. Used only to count; never sent to."""
    local, _, domain = address.casefold().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in _DOTLESS_DOMAINS:
        domain = _DOTLESS_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def domain_of(address: str) -> str:
    """The domain a normalized address is at, lowercased (subdomains count separately)."""
    return address.rpartition("@")[2].casefold()


def client_network(source_ip: str | None) -> str:
    """Who is asking, for limits: an IPv4 address, or an IPv6 address's /64 (one host gets a
    whole /64, so counting single IPv6 addresses would count nothing). Anything unreadable
    counts as one shared ``unknown`` client."""
    import ipaddress

    try:
        ip = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def mask_address(address: str) -> str:
    """``j***@e***.com``: enough for an operator to tell two addresses apart in a support
    conversation, not enough to recover one. Prefer the subscriber id in logs."""
    local, _, domain = address.rpartition("@")
    host, _, suffix = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{suffix}" if host else f"{local[:1]}***@***"


def normalize_tag(tag: str) -> str:
    """Tags match case-insensitively and regardless of spacing: ``" Machine  Learning"`` is
    ``"machine learning"``."""
    return " ".join(tag.casefold().split())


def normalize_tags(raw: Iterable[str] | None) -> tuple[str, ...]:
    """A subscriber's chosen tags, normalized, deduplicated and sorted (empty: every post)."""
    if raw is None:
        return ()
    tags: set[str] = set()
    for item in raw:
        if not isinstance(item, str):
            raise InvalidTags("each tag must be a string")
        if _CONTROL.search(item):
            raise InvalidTags("tags must not contain line breaks or control characters")
        if _SURROGATE.search(item):
            raise InvalidTags("tags must be valid Unicode text")
        tag = normalize_tag(item)
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidTags(f"a tag is longer than {MAX_TAG_LENGTH} characters")
        tags.add(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidTags(f"choose at most {MAX_TAGS} tags")
    return tuple(sorted(tags))
