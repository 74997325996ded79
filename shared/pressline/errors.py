"""Every error the pipeline raises on purpose. Retryable vs poison is decided by type."""

from __future__ import annotations


class PresslineError(Exception):
    """Base class for Pressline's own errors."""


class RetryableError(PresslineError):
    """A transient failure (throttling, 5xx, timeout): the record is retried by SQS."""


class PoisonMessageError(PresslineError):
    """A record that can never succeed (malformed message): retrying only delays the DLQ."""


class StaleEventError(PresslineError):
    """An event about a version that is no longer current; it is dropped, not retried."""
