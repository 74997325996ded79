"""The subscriptions API's HTML pages carry the site's security headers (pressline.site.headers):
API Gateway adds none, so the function must send them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pressline.config import settings
from pressline.site.headers import api_headers

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.mark.parametrize(
    "event",
    [
        "subscriptions-confirm-get.json",
        "subscriptions-unsubscribe-get.json",
        "subscriptions-preferences-get.json",
        "subscriptions-preferences-post.json",
    ],
)
def test_subscription_pages_carry_the_security_headers(aws_stack: Any, event: str) -> None:
    response = aws_stack.invoke("SubscriptionsFunction", json.loads((EVENTS / event).read_text()))
    sent = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    assert sent.get("content-type", "").startswith("text/html"), response
    expected = api_headers(settings().base_url)
    assert {name: sent.get(name.lower()) for name in expected} == expected
