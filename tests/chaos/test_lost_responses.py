"""Conditional writes retried after a lost response (found by the chaos run).

AWS can do the work and lose the answer (a read timeout); the SDK then retries the same
request, and a conditional write meets its own first attempt. These tests lose exactly
one response, where the chaos run saw it go wrong, and check what the user gets.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from pressline.local.faults import AwsFaults
from pressline.local.harness import StackHandle

EVENTS = Path(__file__).resolve().parents[2] / "events"


def lose_first(operation: str) -> Callable[[str], str | None]:
    """Lose the response of the first ``operation`` call; every other call goes through."""
    lost: list[str] = []

    def decide(name: str) -> str | None:
        if name == operation and not lost:
            lost.append(name)
            return "lost-response"
        return None

    return decide


def test_a_sign_up_whose_rate_limit_write_is_retried_still_sends_its_confirmation(aws_stack: StackHandle) -> None:
    """The first UpdateItem (confirmation_sent_at = now, if none in the last 10 minutes) is
    done but its answer lost; the SDK's retry fails the condition on the write it just made,
    the sign-up is taken as rate limited, and no confirmation email is ever sent (the
    answer is 202 all the same). Reproduce: lose the response of the first UpdateItem of
    ``POST /subscriptions``."""
    event = json.loads((EVENTS / "subscriptions-subscribe-json.json").read_text())
    faults = AwsFaults(random.Random(0), decide=lose_first("TransactWriteItems"))
    with faults.installed(), faults.active():
        response = aws_stack.invoke("Subscriptions", event)
    assert faults.stats.injected["lost-response"] == 1
    assert response["statusCode"] == 202
    confirmations = [e for e in aws_stack.sent_emails() if "reader@example.com" in e["destinations"]]
    if not confirmations:
        pytest.fail("the sign-up answered 202 but no confirmation email was sent")
