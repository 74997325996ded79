"""The sending pause's pure parts: which alarm notifications pause (the event file is what
CloudWatch sends through SNS), and Deliver's cache reading the pause once per half minute."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pressline.subscribers.sending import (
    PAUSE_CACHE,
    CachedPause,
    SendingPause,
    is_alarm_notification,
    pause_from_alarm,
)

EVENT = Path(__file__).resolve().parents[3] / "events" / "feedback-complaint-rate-alarm.json"


def alarm_message() -> dict[str, object]:
    message: dict[str, object] = json.loads(json.loads(EVENT.read_text())["Records"][0]["Sns"]["Message"])
    return message


def test_an_alarm_going_to_alarm_pauses_since_its_state_change_with_its_name_and_reason() -> None:
    message = alarm_message()
    assert is_alarm_notification(message)
    pause = pause_from_alarm(message)
    assert pause is not None
    assert pause.since == datetime(2026, 12, 4, 3, 5, tzinfo=UTC)
    assert pause.reason.startswith("pressline-EmailComplaintRatePauseAlarm-1A2B3C4D5E6F: Threshold Crossed")


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_other_states_pause_nothing(state: str) -> None:
    assert pause_from_alarm({**alarm_message(), "NewStateValue": state}) is None


def test_ses_feedback_is_not_an_alarm_notification() -> None:
    assert not is_alarm_notification({"eventType": "Complaint", "complaint": {}})


class CountingStore:
    def __init__(self) -> None:
        self.reads = 0
        self.value: SendingPause | None = None

    def read(self) -> SendingPause | None:
        self.reads += 1
        return self.value

    def pause(self, pause: SendingPause) -> SendingPause:
        self.value = self.value or pause
        return self.value

    def resume(self) -> SendingPause | None:
        lifted, self.value = self.value, None
        return lifted


def test_the_cache_reads_once_per_period_and_sees_a_change_after_it() -> None:
    store, now = CountingStore(), [datetime(2026, 12, 4, tzinfo=UTC)]
    cached = CachedPause(store, clock=lambda: now[0])
    assert [cached.current() for _ in range(50)] == [None] * 50
    assert store.reads == 1  # one read for a whole batch, and for the next ones within the period
    pause = store.pause(SendingPause(since=now[0], reason="test"))
    now[0] += PAUSE_CACHE - timedelta(seconds=1)
    assert cached.current() is None and store.reads == 1  # a pause takes effect within PAUSE_CACHE
    now[0] += timedelta(seconds=1)
    assert cached.current() == pause and store.reads == 2
