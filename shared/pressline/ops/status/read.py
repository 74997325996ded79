"""What ``pressline status`` reads from the stack: small adapters, one per section, each
taking its boto3 client. What each costs, on a stack with R reports and S subscriber items:

- queues: one GetQueueAttributes per ``...QueueUrl`` output (two per stage);
- reports: ListObjectsV2 of ``reports/`` (S3 lists by key, never by date, so finding the
  newest means listing them all: R / 1,000 calls, at most ``REPORTS_LISTED`` reports), then
  one GetObject per report shown (and per report listed with the same second);
- scheduled posts: one Query of the posts table's gsi1 (``gsi1pk = SCHEDULED``, oldest date
  first, ``Limit`` the number shown): no scan;
- subscribers: one Scan of the subscribers table, projected to the few attributes that tell
  a state (about S / 4,000 read units, eventually consistent), at most ``SUBSCRIBER_ITEMS``
  items; there is no index by state to query instead;
- sending: SES GetAccountSendingEnabled, DescribeConfigurationSet (its reputation options
  hold its sending switch) and GetSendQuota; and one GetItem of the ledger table for
  Pressline's own sending pause (``sending#pause``).

A section AWS refuses (a missing table, no permission) becomes that section's ``error``;
set-up errors (no credentials, nothing listening) propagate, for ``ops.target`` to explain.
"""

from __future__ import annotations

import heapq
import json
from datetime import UTC, datetime
from typing import Any

from pressline.ops.status.model import (
    DEAD_LETTER_SUFFIX,
    QUEUE_SUFFIX,
    QueueCounts,
    QueueReading,
    Reading,
    ReportLine,
    ReportsReading,
    ScheduledPost,
    ScheduledReading,
    SendingReading,
    SendQuota,
    SubscriberCounts,
    newest_first,
)
from pressline.posts.paths import HASHED_PREFIX

REPORTS_PREFIX = "reports/"
REPORTS_LISTED = 100_000  # 100 ListObjectsV2 calls at most
SUBSCRIBER_ITEMS = 200_000  # items the subscriber scan reads at most
ERRORS_SHOWN = 3
TIED_READ = 50  # reports read beyond the count shown, when their LastModified ties
COUNTED_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
DELAYED_ATTRIBUTE = "ApproximateNumberOfMessagesDelayed"


def refusal(error: Exception) -> str | None:
    """A one-line reason for an AWS answer that refuses one section (None: not such an answer,
    or one about the credentials, which ``ops.target`` explains for the whole command)."""
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    from pressline.ops.target import CREDENTIAL_CODES

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in CREDENTIAL_CODES:
            return None
        message = str(error.response.get("Error", {}).get("Message", ""))
        return f"{code}: {message}" if message else code
    if isinstance(error, NotImplementedError):  # moto in-process, for an action it lacks
        return f"not implemented here ({error})"
    if isinstance(error, ResponseParserError):  # a moto server's HTML error page, for an action it lacks
        return "no AWS answer but an error page, as a moto server sends for an action it does not implement"
    return None


def queue_outputs(outputs: dict[str, str]) -> list[tuple[str, str]]:
    """(output name, URL) of every queue the stack's outputs name: ``...QueueUrl`` and
    ``...DeadLetterQueueUrl``, whatever the stages (a stage added later is found too)."""
    return [
        (name, url)
        for name, url in outputs.items()
        if (name.endswith(QUEUE_SUFFIX) or name.endswith(DEAD_LETTER_SUFFIX)) and url
    ]


def read_queue(sqs: Any, output: str, url: str) -> QueueReading:
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=[*COUNTED_ATTRIBUTES, DELAYED_ATTRIBUTE]
        ).get("Attributes", {})
    except Exception as error:
        reason = refusal(error)
        if reason is None:
            raise
        return QueueReading(output=output, error=reason)
    return QueueReading(
        output=output,
        counts=QueueCounts(
            url=url,
            visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            delayed=int(attributes.get(DELAYED_ATTRIBUTE, 0)),
        ),
    )


def read_queues(sqs: Any, outputs: dict[str, str]) -> tuple[QueueReading, ...]:
    return tuple(read_queue(sqs, output, url) for output, url in queue_outputs(outputs))


def source_key_of(report_key: str) -> str:
    """``reports/posts/a.md.json`` -> ``posts/a.md`` (a hashed report's key is only inside it: kept as is)."""
    if report_key.startswith(REPORTS_PREFIX + HASHED_PREFIX):
        return report_key
    return report_key.removeprefix(REPORTS_PREFIX).removesuffix(".json")


def _report_line(s3: Any, bucket: str, item: dict[str, Any]) -> ReportLine | None:
    """The report ``item`` lists (None: deleted since, with its post)."""
    key = str(item["Key"])
    last_modified: datetime = item["LastModified"]
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        return ReportLine(key=source_key_of(key), status="unreadable", last_modified=last_modified)
    errors = [
        f"{problem.get('field', '')}: {problem.get('message', '')}"
        for problem in report.get("errors") or []
        if isinstance(problem, dict)
    ]
    processed = report.get("processed_at")
    try:
        processed_at = datetime.fromisoformat(processed) if isinstance(processed, str) else None
    except ValueError:
        processed_at = None
    if processed_at is not None and processed_at.tzinfo is None:
        processed_at = processed_at.replace(tzinfo=UTC)  # the stages write UTC; never compare naive with aware
    announced = report.get("announced")
    return ReportLine(
        # A report under reports/by-hash/ names its key only inside.
        key=str(report.get("key") or source_key_of(key)),
        status=str(report.get("status") or "unknown"),
        processed_at=processed_at,
        last_modified=last_modified,
        url=report.get("url") if isinstance(report.get("url"), str) else None,
        errors=tuple(errors[:ERRORS_SHOWN]),
        announced=announced if isinstance(announced, bool) else None,
    )


def read_reports(
    s3: Any, bucket: str, count: int, listed_at_most: int = REPORTS_LISTED, page_size: int = 1000
) -> ReportsReading:
    """The ``count`` newest reports (each report is rewritten at every upload of its key).
    S3 lists LastModified to the second, so the reports tied with the last one kept are read
    too (up to ``TIED_READ`` more) and ordered by the time inside them, ``processed_at``."""
    if count <= 0:
        return ReportsReading()
    candidates: list[dict[str, Any]] = []
    listed = 0
    complete = True
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=REPORTS_PREFIX, PaginationConfig={"PageSize": page_size}
        ):
            contents = [item for item in page.get("Contents", []) if str(item["Key"]).endswith(".json")]
            listed += len(contents)
            candidates = heapq.nlargest(
                count + TIED_READ, [*candidates, *contents], key=lambda item: (item["LastModified"], item["Key"])
            )
            if listed >= listed_at_most and page.get("IsTruncated"):
                complete = False
                break
        if 0 < count < len(candidates):
            last_kept = candidates[count - 1]["LastModified"]
            candidates = [item for item in candidates if item["LastModified"] >= last_kept]
        read = [_report_line(s3, bucket, item) for item in candidates]
        lines = newest_first([line for line in read if line is not None], count)
    except Exception as error:
        reason = refusal(error)
        if reason is None:
            raise
        return ReportsReading(listed=listed, error=reason)
    return ReportsReading(newest=lines, listed=listed, complete=complete)


def read_scheduled(dynamodb: Any, table: str, count: int) -> ScheduledReading:
    """The ``count`` scheduled posts due first: a Query of gsi1's ``SCHEDULED`` partition
    (``indexing.catalog``'s layout), eventually consistent like the scheduler's own."""
    from pressline.indexing.catalog import CatalogPost
    from pressline.indexing.dynamo import POSTS_INDEX, SCHEDULED

    try:
        response = dynamodb.query(
            TableName=table,
            IndexName=POSTS_INDEX,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": SCHEDULED}},
            ScanIndexForward=True,
            Limit=count,
        )
    except Exception as error:
        reason = refusal(error)
        if reason is None:
            raise
        return ScheduledReading(error=reason)
    posts = []
    for item in response.get("Items", []):
        post = CatalogPost.model_validate_json(item["data"]["S"])
        posts.append(ScheduledPost(key=post.source_key, slug=post.slug, title=post.title, date=post.date))
    return ScheduledReading(posts=tuple(posts))


def count_subscribers(
    dynamodb: Any, table: str, now: datetime, items_at_most: int = SUBSCRIBER_ITEMS, page_size: int | None = None
) -> SubscriberCounts:
    """Subscribers by state, from one projected Scan (layout: ``subscribers.dynamodb``).
    A pending sign-up is a REQUEST item still holding its request, unexpired, of an address
    with no profile (a confirmed subscriber changing their tags is not pending)."""
    from pressline.subscribers.dynamodb import PROFILE, REQUEST, SUPPRESSION

    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "sk IN (:profile, :request, :suppression)",
        "ProjectionExpression": "pk, sk, #status, #request, expires_at, reason",
        "ExpressionAttributeNames": {"#status": "status", "#request": "request"},
        "ExpressionAttributeValues": {
            ":profile": {"S": PROFILE},
            ":request": {"S": REQUEST},
            ":suppression": {"S": SUPPRESSION},
        },
    }
    if page_size is not None:
        kwargs["Limit"] = page_size  # items read a call (DynamoDB's own page: 1 MB)
    confirmed: set[str] = set()
    profiles: set[str] = set()
    pending: set[str] = set()
    expired: set[str] = set()
    suppressed = {"bounced": 0, "complained": 0, "suppressed_other": 0}
    scanned = 0
    complete = True
    try:
        while True:
            response = dynamodb.scan(**kwargs)
            scanned += int(response.get("ScannedCount", 0))
            for item in response.get("Items", []):
                pk, sk = item["pk"]["S"], item["sk"]["S"]
                if sk == PROFILE:
                    profiles.add(pk)
                    if item.get("status", {}).get("S") == "confirmed":
                        confirmed.add(pk)
                elif sk == REQUEST:
                    if "request" not in item:
                        continue  # confirmed: the request was used
                    live = float(item.get("expires_at", {}).get("N", "0")) > now.timestamp()
                    (pending if live else expired).add(pk)
                else:
                    reason = item.get("reason", {}).get("S", "")
                    kind = (
                        "bounced"
                        if reason.startswith("bounce")
                        else "complained"
                        if reason.startswith("complaint")
                        else "suppressed_other"
                    )
                    suppressed[kind] += 1
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            if scanned >= items_at_most:
                complete = False
                break
            kwargs["ExclusiveStartKey"] = last
    except Exception as error:
        reason = refusal(error)
        if reason is None:
            raise
        return SubscriberCounts(scanned_items=scanned, complete=False, error=reason)
    return SubscriberCounts(
        confirmed=len(confirmed),
        pending=len(pending - profiles),
        expired=len(expired - profiles - pending),
        scanned_items=scanned,
        complete=complete,
        **suppressed,
    )


def read_sending(ses: Any, configuration_set: str | None, settings_unread: str | None = None) -> SendingReading:
    """Whether SES sends: the account's switch, the configuration set's, and the day's quota.
    What SES does not answer stays None, with a note saying what it answered. ``settings_unread``:
    why the configuration set is not known (the functions' settings could not be read)."""
    notes: list[str] = []
    if settings_unread:
        notes.append(f"the configuration set is not checked: {settings_unread}")
    account_enabled: bool | None = None
    try:
        account_enabled = bool(ses.get_account_sending_enabled()["Enabled"])
    except Exception as error:
        reason = refusal(error)
        if reason is None:
            raise
        notes.append(f"the account's sending switch is unknown (GetAccountSendingEnabled: {reason})")
    set_enabled: bool | None = None
    if configuration_set:
        try:
            described = ses.describe_configuration_set(
                ConfigurationSetName=configuration_set, ConfigurationSetAttributeNames=["reputationOptions"]
            )
            options = described.get("ReputationOptions") or {}
            if "SendingEnabled" in options:
                set_enabled = bool(options["SendingEnabled"])
            else:
                notes.append(
                    f"the configuration set {configuration_set}'s sending switch is unknown"
                    " (DescribeConfigurationSet gave no reputation options)"
                )
        except Exception as error:
            reason = refusal(error)
            if reason is None:
                raise
            notes.append(
                f"the configuration set {configuration_set}'s sending switch is unknown"
                f" (DescribeConfigurationSet: {reason})"
            )
    quota = None
    try:
        answer = ses.get_send_quota()
        quota = SendQuota(
            max_24_hour_send=float(answer.get("Max24HourSend", 0.0)),
            sent_last_24_hours=float(answer.get("SentLast24Hours", 0.0)),
            max_send_rate=float(answer.get("MaxSendRate", 0.0)),
        )
    except Exception as error:
        reason = refusal(error)
        if reason is None:
            raise
        notes.append(f"the send quota is unknown (GetSendQuota: {reason})")
    return SendingReading(
        account_enabled=account_enabled,
        configuration_set=configuration_set,
        configuration_set_enabled=set_enabled,
        quota=quota,
        notes=tuple(notes),
    )


def read_pause(dynamodb: Any, ledger_table: str, sending: SendingReading) -> SendingReading:
    """``sending`` with Pressline's pause, if one is in force (a refusal becomes a note)."""
    from pressline.subscribers.sending import DynamoPauseStore

    if not ledger_table:
        return sending.model_copy(
            update={
                "notes": (*sending.notes, "the stack's outputs name no ledger table: the sending pause is not checked")
            }
        )
    try:
        pause = DynamoPauseStore(ledger_table, dynamodb).read()
    except Exception as error:
        reason = refusal(error)
        if reason is None:
            raise
        return sending.model_copy(
            update={"notes": (*sending.notes, f"the sending pause is unknown (GetItem: {reason})")}
        )
    if pause is None:
        return sending
    return sending.model_copy(update={"paused_since": pause.since, "paused_reason": pause.reason})


def read_stack(
    clients: Any,
    outputs: dict[str, str],
    environment: dict[str, str],
    *,
    reports: int,
    scheduled: int,
    now: datetime,
    stack_name: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    settings_unread: str | None = None,
) -> Reading:
    """Every section of the stack whose ``outputs`` (and Subscriptions function ``environment``,
    for the SES configuration set) are given; ``clients(service)`` makes the boto3 clients."""
    bucket = outputs.get("SourceBucketName", "")
    posts_table = outputs.get("PostsTableName", "")
    subscribers_table = outputs.get("SubscribersTableName", "")
    return Reading(
        stack_name=stack_name,
        endpoint_url=endpoint_url,
        region=region,
        read_at=now,
        queues=read_queues(clients("sqs"), outputs),
        reports=read_reports(clients("s3"), bucket, reports)
        if bucket and reports
        else ReportsReading()
        if bucket
        else ReportsReading(error="the stack's outputs name no source bucket (SourceBucketName)"),
        scheduled=read_scheduled(clients("dynamodb"), posts_table, scheduled)
        if posts_table and scheduled
        else ScheduledReading()
        if posts_table
        else ScheduledReading(error="the stack's outputs name no posts table (PostsTableName)"),
        subscribers=count_subscribers(clients("dynamodb"), subscribers_table, now) if subscribers_table else None,
        sending=read_pause(
            clients("dynamodb"),
            outputs.get("LedgerTableName", ""),
            read_sending(clients("ses"), environment.get("SES_CONFIGURATION_SET") or None, settings_unread),
        ),
    )
