"""SES feedback (bounce and complaint notifications, via SNS) -> addresses to suppress.

Accepts both shapes SES sends: configuration-set event publishing (``eventType``) and
identity notifications (``notificationType``). Transient bounces (mailbox full, ...) are
not suppressed: SES retries those itself, and the next post may well arrive.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Recipient(_Lenient):
    emailAddress: str


class _Bounce(_Lenient):
    bounceType: str = ""
    bounceSubType: str = ""
    bouncedRecipients: list[_Recipient] = Field(default_factory=list)


class _Complaint(_Lenient):
    complaintFeedbackType: str = ""
    complainedRecipients: list[_Recipient] = Field(default_factory=list)


class SesFeedback(_Lenient):
    eventType: str | None = None
    notificationType: str | None = None
    bounce: _Bounce | None = None
    complaint: _Complaint | None = None

    @property
    def kind(self) -> str:
        return (self.eventType or self.notificationType or "").lower()


def suppressions(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(address, reason) for each recipient this notification says to stop sending to."""
    feedback = SesFeedback.model_validate(message)
    if feedback.kind == "bounce" and feedback.bounce and feedback.bounce.bounceType == "Permanent":
        reason = f"bounce:{feedback.bounce.bounceSubType or 'General'}"
        return [(recipient.emailAddress, reason) for recipient in feedback.bounce.bouncedRecipients]
    if feedback.kind == "complaint" and feedback.complaint:
        reason = f"complaint:{feedback.complaint.complaintFeedbackType or 'abuse'}"
        return [(recipient.emailAddress, reason) for recipient in feedback.complaint.complainedRecipients]
    return []
