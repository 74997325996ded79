from __future__ import annotations

from pressline.subscribers.feedback import suppressions


def test_permanent_bounces_suppress_every_bounced_recipient() -> None:
    message = {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "a@example.com"}, {"emailAddress": "b@example.com"}],
        },
        "mail": {"destination": ["a@example.com", "b@example.com"]},
    }
    assert suppressions(message) == [("a@example.com", "bounce:General"), ("b@example.com", "bounce:General")]


def test_transient_bounces_suppress_nobody() -> None:
    message = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": "a@example.com"}]},
    }
    assert suppressions(message) == []


def test_complaints_suppress_in_both_notification_shapes() -> None:
    for key in ("eventType", "notificationType"):
        message = {
            key: "Complaint",
            "complaint": {
                "complaintFeedbackType": "abuse",
                "complainedRecipients": [{"emailAddress": "c@example.com"}],
            },
        }
        assert suppressions(message) == [("c@example.com", "complaint:abuse")]


def test_deliveries_and_other_events_are_ignored() -> None:
    assert suppressions({"eventType": "Delivery", "delivery": {}}) == []
    assert suppressions({}) == []
