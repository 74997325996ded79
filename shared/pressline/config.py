"""Settings read from the function's environment (set by template.yaml).

Read lazily and once per container: handlers import this module cheaply, and tests
can clear the cache with ``settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pressline.models import EmailContent
    from pressline.subscribers.digests import DigestSchedule

# A post dated further back than this when it first goes live is not announced (an import,
# an old post uploaded late): template.yaml's AnnounceWindowHours, whose default this is.
DEFAULT_ANNOUNCE_WINDOW_HOURS = 72.0
ANNOUNCE_WINDOW_LIMITS = (1.0, 87600.0)  # an hour to ten years, as the template allows
# The local stack's addresses when nothing says otherwise (pressline local serves them there).
DEFAULT_SITE_URL = "http://127.0.0.1:8080"
DEFAULT_API_URL = "http://127.0.0.1:8080/api"
# Settings the Subscriptions function cannot have in its environment: naming the HTTP API or the
# distribution there is a dependency cycle (the API's routes are that function, and the
# distribution's CSP names the API). For each, <NAME>_PARAMETER names the SSM parameter that
# holds it (template.yaml), read when <NAME> is missing or empty.
FROM_PARAMETERS = ("SITE_URL", "API_URL")


class ParameterReader(Protocol):
    """What reading those settings needs of an SSM client (boto3's, or a test's fake)."""

    def get_parameters(self, *, Names: list[str]) -> Mapping[str, Any]: ...


class ParameterSettingError(RuntimeError):
    """Raised when a setting's SSM parameter (<NAME>_PARAMETER) cannot be read or holds no
    URL; the message names the variable, the parameter and why."""


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
    announce_window_hours: str = str(DEFAULT_ANNOUNCE_WINDOW_HOURS)
    image_queue_url: str = ""  # Validate -> the Image stage (issue 14)
    digest_hour: str = "7"  # DigestHour: digests go at this hour of SITE_TIMEZONE (issue 15)
    digest_weekday: str = "Monday"  # DigestWeekday: the weekly digest's day
    email_content_setting: str = "full"  # EmailContent: what a post's email carries (issue 15)

    @property
    def announce_window(self) -> timedelta:
        """ANNOUNCE_WINDOW_HOURS as a duration. Parsed here, not in ``settings()``, so that a
        bad value stops only Index (the one reader), with a message naming the variable."""
        return announce_window(self.announce_window_hours)

    @property
    def digest_schedule(self) -> DigestSchedule:
        """DIGEST_HOUR, DIGEST_WEEKDAY and SITE_TIMEZONE as a schedule (a ValueError naming the
        variable for a bad value: parsed by its readers, the scheduler and Deliver)."""
        from pressline.subscribers.digests import schedule_from

        return schedule_from(self.site_timezone, self.digest_hour, self.digest_weekday)

    @property
    def email_content(self) -> EmailContent:
        """EMAIL_CONTENT: ``full`` (the whole post in its email) or ``summary`` (the summary and
        a link), for posts whose front matter does not say; a ValueError naming the variable
        for anything else (parsed by its reader, Deliver)."""
        return email_content(self.email_content_setting)

    @property
    def base_url(self) -> str:
        """The site URL without a trailing slash, for joining with absolute paths."""
        return self.site_url.rstrip("/")


@cache
def settings() -> Settings:
    urls = from_parameters(os.environ)
    return Settings(
        site_title=_env("SITE_TITLE", "Pressline"),
        site_url=urls.get("SITE_URL") or DEFAULT_SITE_URL,
        site_timezone=_env("SITE_TIMEZONE", "UTC"),
        api_url=(urls.get("API_URL") or DEFAULT_API_URL).rstrip("/"),
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
        announce_window_hours=_env("ANNOUNCE_WINDOW_HOURS", str(DEFAULT_ANNOUNCE_WINDOW_HOURS)),
        image_queue_url=_env("IMAGE_QUEUE_URL"),
        digest_hour=_env("DIGEST_HOUR", "7"),
        digest_weekday=_env("DIGEST_WEEKDAY", "Monday"),
        email_content_setting=_env("EMAIL_CONTENT", "full"),
    )


def from_parameters(environ: Mapping[str, str], ssm: ParameterReader | None = None) -> dict[str, str]:
    """The FROM_PARAMETERS settings: each from the environment when it is set and not empty,
    else from its <NAME>_PARAMETER (one GetParameters call for all of them), else absent (the
    local defaults apply). ``settings()`` calls this once per container."""
    found = {name: environ[name] for name in FROM_PARAMETERS if environ.get(name)}
    wanted = {
        environ[f"{name}_PARAMETER"]: name
        for name in FROM_PARAMETERS
        if name not in found and environ.get(f"{name}_PARAMETER")
    }
    if not wanted:
        return found
    if ssm is None:
        from pressline.adapters.aws import client

        ssm = client("ssm")
    try:
        response = ssm.get_parameters(Names=sorted(wanted))
    except Exception as error:  # botocore's ClientError, a timeout: the message says which
        names = ", ".join(f"{wanted[p]}_PARAMETER {p}" for p in sorted(wanted))
        raise ParameterSettingError(f"{names}: not readable ({type(error).__name__}: {error})") from error
    values = {str(item["Name"]): str(item["Value"]).strip() for item in response.get("Parameters", [])}
    for parameter, name in sorted(wanted.items()):
        value = values.get(parameter)
        if value is None:
            raise ParameterSettingError(f"{name}_PARAMETER {parameter}: no such SSM parameter (is the stack deployed?)")
        if not value.startswith(("https://", "http://")):
            raise ParameterSettingError(f"{name}_PARAMETER {parameter}: {value[:60]!r} is not an http(s) URL")
        found[name] = value
    return found


def announce_window(hours: str) -> timedelta:
    """The announce window from its setting, a number of hours (``72``, ``1.5``); a
    ValueError naming the variable and the reason for anything else."""
    low, high = ANNOUNCE_WINDOW_LIMITS
    try:
        value = float(hours.strip())
    except ValueError:
        raise ValueError(f"ANNOUNCE_WINDOW_HOURS: {hours[:40]!r} is not a number of hours (e.g. 72)") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"ANNOUNCE_WINDOW_HOURS: {hours[:40]!r} is not between {low:g} and {high:g} hours")
    return timedelta(hours=value)


def email_content(value: str) -> EmailContent:
    """The site's email content from its setting (``full`` or ``summary``, any case); a
    ValueError naming the variable and the choices for anything else."""
    choice = value.strip().lower()
    if choice == "full":
        return "full"
    if choice == "summary":
        return "summary"
    raise ValueError(f"EMAIL_CONTENT: {value[:40]!r} is not full or summary")
