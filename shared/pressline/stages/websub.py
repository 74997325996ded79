"""WebSub: one SQS message = one FeedChanged (from Index) -> one publish ping to the hub.

The ping is ``POST hub.mode=publish&hub.url=<feed URL>`` (form-encoded) to HUB_URL, with a
timeout. The hub's answer decides (``pressline.indexing.websub.ping_verdict``): 2xx is done;
429, 5xx, a timeout or no connection is raised, so SQS gives the message back later and, after
maxReceiveCount, the dead-letter queue keeps it (alarmed); any other answer (a 4xx, a redirect)
means the hub will never take it: logged and counted (WebSubPingsRefused), and dropped, since
retrying would only loop it into the dead-letter queue. Without HUB_URL nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pressline.errors import RetryableError
from pressline.indexing.websub import FeedChanged, check_hub_url, ping_verdict, publish_form
from pressline.stages import batching

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

PING_TIMEOUT_S = 5.0  # a hub slower than this is retried through the queue

# One per handler, made by its first invocation (see pressline.stages.batching).
processor = cache(batching.sqs_processor)

# (hub URL, form body, timeout in seconds) -> the hub's HTTP status; raises OSError when the
# hub cannot be reached or does not answer in time.
Poster = Callable[[str, bytes, float], int]


def post_form(url: str, body: bytes, timeout: float) -> int:
    """POST ``body`` to ``url`` with the standard library; a redirect is not followed (it is
    the answer: a hub URL that moved is the operator's to correct)."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    if not url.startswith(("https://", "http://")):  # check_hub_url's rule, at the call that opens it
        raise ValueError(f"HUB_URL: {url[:80]!r} is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Pressline-WebSub"},
    )
    try:
        with urllib.request.build_opener(NoRedirect()).open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code)


_poster: Poster = post_form


def override(poster: Poster | None) -> None:
    """Tests: another transport (None: the standard library's)."""
    global _poster
    _poster = poster or post_form


def hub_url() -> str:
    import os

    value = os.environ.get("HUB_URL", "").strip()
    return check_hub_url(value) if value else ""


def _hub_host(url: str) -> str:
    """The hub as logs name it: its host only (a hub URL may carry a token in its path or query)."""
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""


def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(record.message_id)
    change = FeedChanged.model_validate_json(record.body)  # malformed: retried, then the DLQ
    hub = hub_url()
    if not hub:
        logger.info("No hub configured (HubUrl is empty): nothing to ping", extra={"topic": change.topic})
        return
    where = {"topic": change.topic, "digest": change.digest, "hub": _hub_host(hub)}
    try:
        status = _poster(hub, publish_form(change.topic), PING_TIMEOUT_S)
    except OSError as error:  # no connection, a timeout, a TLS failure: the hub may be back later
        metrics.add_metric(name="WebSubPingsRetried", unit=MetricUnit.Count, value=1)
        logger.warning("The hub could not be reached; the ping will be retried", extra={**where, "reason": str(error)})
        raise RetryableError(f"the WebSub hub could not be reached: {error}") from error
    verdict = ping_verdict(status)
    if verdict == "done":
        metrics.add_metric(name="WebSubPings", unit=MetricUnit.Count, value=1)
        logger.info("Hub pinged", extra={**where, "status": status})
    elif verdict == "refused":
        metrics.add_metric(name="WebSubPingsRefused", unit=MetricUnit.Count, value=1)
        logger.error("The hub refused the ping; dropped (retrying cannot help)", extra={**where, "status": status})
    else:
        metrics.add_metric(name="WebSubPingsRetried", unit=MetricUnit.Count, value=1)
        logger.warning("The hub answered %d; the ping will be retried", status, extra={**where, "status": status})
        raise RetryableError(f"the WebSub hub answered {status}")


@logger.inject_lambda_context
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor(), context=context
    )
    return dict(response)
