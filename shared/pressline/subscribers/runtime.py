"""Wiring: the AWS-backed objects a stage uses, built once per container from settings.

Stages cache what they build per Settings value, so a changed environment (a new local
stack: ``settings.cache_clear()``) gets new objects. Tests swap in fakes with the
stages' ``override(...)``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pressline.config import settings
from pressline.subscribers.messages import Site
from pressline.subscribers.tokens import Keys


def utc_now() -> datetime:
    return datetime.now(UTC)


def site() -> Site:
    config = settings()
    return Site(title=config.site_title, url=config.base_url, api_url=config.api_url, sender=config.sender_email)


def keys() -> Keys:
    """The deployment's keys (the secret is read again every few minutes: rotation)."""
    from pressline.subscribers.aws import load_keys

    return load_keys(settings().token_secret_arn)


def reset() -> None:
    """Forget settings, clients and keys (the environment changed)."""
    from aws_lambda_powertools.utilities import parameters

    from pressline.adapters.aws import reset_clients

    settings.cache_clear()
    reset_clients()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
