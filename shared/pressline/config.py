"""Settings read from the function's environment (set by template.yaml).

Read lazily and once per container: handlers import this module cheaply, and tests
can clear the cache with ``settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    site_title: str
    site_url: str
    site_timezone: str
    api_url: str
    sender_email: str
    source_bucket: str
    site_bucket: str
    posts_table: str
    subscribers_table: str
    ledger_table: str
    render_queue_url: str
    index_queue_url: str
    notify_queue_url: str
    delivery_queue_url: str
    posts_topic_arn: str
    token_secret_arn: str
    ses_configuration_set: str

    @property
    def base_url(self) -> str:
        """The site URL without a trailing slash, for joining with absolute paths."""
        return self.site_url.rstrip("/")


@cache
def settings() -> Settings:
    return Settings(
        site_title=_env("SITE_TITLE", "Pressline"),
        site_url=_env("SITE_URL", "http://127.0.0.1:8080"),
        site_timezone=_env("SITE_TIMEZONE", "UTC"),
        api_url=_env("API_URL", "http://127.0.0.1:8080/api").rstrip("/"),
        sender_email=_env("SENDER_EMAIL", "news@example.com"),
        source_bucket=_env("SOURCE_BUCKET"),
        site_bucket=_env("SITE_BUCKET"),
        posts_table=_env("POSTS_TABLE"),
        subscribers_table=_env("SUBSCRIBERS_TABLE"),
        ledger_table=_env("LEDGER_TABLE"),
        render_queue_url=_env("RENDER_QUEUE_URL"),
        index_queue_url=_env("INDEX_QUEUE_URL"),
        notify_queue_url=_env("NOTIFY_QUEUE_URL"),
        delivery_queue_url=_env("DELIVERY_QUEUE_URL"),
        posts_topic_arn=_env("POSTS_TOPIC_ARN"),
        token_secret_arn=_env("TOKEN_SECRET_ARN"),
        ses_configuration_set=_env("SES_CONFIGURATION_SET"),
    )
