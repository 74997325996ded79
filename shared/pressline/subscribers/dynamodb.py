"""DynamoDB adapters: SubscribersTable (subscribers, audiences, suppressions) and
LedgerTable (delivery records, fan-out states).

SubscribersTable items, all in the subscriber's own partition ``SUB#<id>``:

=============  ===============  ==================  ===========  =====================================
item           sk               gsi1pk              gsi1sk       attributes
=============  ===============  ==================  ===========  =====================================
profile        ``PROFILE``      -                   -            address, status (confirmed), tags,
                                                                 created_at, confirmed_at, version,
                                                                 confirmed_request
request        ``REQUEST``      -                   -            address, requested_at,
                                                                 confirmation_sent_at, request (until
                                                                 confirmed), expires_at (TTL)
membership     ``AUD#<aud>``    ``AUD#<aud>``       ``<id>``     tags (confirmed subscribers only)
suppression    ``SUPPRESSION``  -                   -            reason, suppressed_at (no address)
import         ``IMPORT``       -                   -            outcome, source, imported_at (no
                                                                 address; kept when the rest goes)
=============  ===============  ==================  ===========  =====================================

A profile imported with a recorded consent (``pressline subscribers import``) also holds
``consent_at``, ``consent_how`` and ``consent_source``. The ``IMPORT`` marker says an import
applied this address's row once: importing again skips it, even after an unsubscribe.

A sign-up writes the ``REQUEST`` item (the pending request, whose id is in the confirmation
link); confirming consumes its ``request`` and writes the profile. Profiles with status
``pending`` and an ``expires_at`` were written by earlier versions; they expire by TTL.

Limits on confirmation emails are counters in their own partitions, one item per fixed
window, gone by TTL: ``pk = LIMIT#<name>#<keyed hash>``, ``sk = <window start>``, ``n``,
``expires_at``. No address or IP is stored in them.

Notify reads an audience (``ALL`` or ``TAG#<tag>``) with a query on gsi1, never a scan.
Deleting a subscriber deletes its partition except the suppression record.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pressline.adapters.aws import DynamoTable
from pressline.adapters.errors import call_dynamodb, error_code, is_condition_failure
from pressline.errors import RetryableError
from pressline.subscribers.imports import Consent, ExportedSubscriber, ImportState
from pressline.subscribers.model import Member, Subscriber, audiences_of, digest_audience
from pressline.subscribers.ports import (
    Allowance,
    ClaimResult,
    ConfirmResult,
    Cursor,
    DigestClaim,
    DigestClaimed,
    FanoutState,
    LeaseHeld,
    LeaseLost,
    SignupClaim,
)

if TYPE_CHECKING:
    from pressline.subscribers.digests import LogEntry, Record
    from pressline.subscribers.model import Frequency
    from pressline.subscribers.preferences import Preferences, PreferencesPlan

PROFILE = "PROFILE"
REQUEST = "REQUEST"
SUPPRESSION = "SUPPRESSION"
IMPORT = "IMPORT"
LIMIT_PREFIX = "LIMIT#"
LIMIT_RETENTION = timedelta(days=1)  # a counter outlives its window by this much, then TTL removes it
TRANSACTION_ATTEMPTS = 3  # concurrent sign-ups share the overall counter: a conflict is retried
AUDIENCE_PREFIX = "AUD#"
INDEX = "gsi1"

DELIVERY_RETENTION = timedelta(days=30)  # longer than any delivery message can live in SQS (14 days)
FANOUT_RETENTION = timedelta(days=400)
TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
# Cancellation reasons that pass: the same transaction goes again (TRANSACTION_ATTEMPTS in all).
TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
LOG_UPDATE_POSTS = 50  # digest log entries per UpdateItem (its expression stays under 4 KB)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": str(value)}


def _strings(values: Sequence[str]) -> dict[str, Any]:
    return {"L": [{"S": value} for value in values]}


def _read_strings(attribute: dict[str, Any] | None) -> tuple[str, ...]:
    return tuple(item["S"] for item in (attribute or {}).get("L", []))


def _key(subscriber_id: str, sort_key: str) -> dict[str, Any]:
    return {"pk": _s(f"SUB#{subscriber_id}"), "sk": _s(sort_key)}


def _membership(subscriber_id: str, audience: str, tags: tuple[str, ...], row: Member | None = None) -> dict[str, Any]:
    item = {
        **_key(subscriber_id, AUDIENCE_PREFIX + audience),
        "gsi1pk": _s(AUDIENCE_PREFIX + audience),
        "gsi1sk": _s(subscriber_id),
        "tags": _strings(tags),
    }
    if row is not None and row.digest_from is not None:
        item["digest_from"] = _s(_stamp(row.digest_from))
    if row is not None and row.until is not None:
        item["digest_until"] = _s(_stamp(row.until))
    return item


def _member(item: dict[str, Any], subscriber_id: str) -> Member:
    """An audience row as Notify and the digest run read it."""
    return Member(
        id=subscriber_id,
        tags=_read_strings(item.get("tags")),
        digest_from=_time(item.get("digest_from")),
        until=_time(item.get("digest_until")),
    )


def _profile(item: dict[str, Any], subscriber_id: str, suppressed: bool) -> Subscriber:
    return Subscriber(
        id=subscriber_id,
        address=item["address"]["S"],
        status=item["status"]["S"],
        tags=_read_strings(item.get("tags")),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        confirmed_at=_time(item.get("confirmed_at")),
        suppressed=suppressed,
        frequency=item.get("frequency", {}).get("S", "instant"),
        digest_from=_time(item.get("digest_from")),
    )


def _stamp(moment: datetime) -> str:
    """An instant as stored in a window (``digest_from``, ``digest_until``): UTC, microseconds
    always written, so that DynamoDB's string comparison is the instants' order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _window_parts(subscriber: Subscriber | None) -> tuple[str, str, dict[str, Any]]:
    """The profile's frequency and digest_from, as fragments of an update expression: what to
    SET (``, frequency = :frequency...``), what to REMOVE (``, digest_from``) and the values.
    None: a new subscriber (instant emails, no window)."""
    if subscriber is None:
        return "", ", frequency, digest_from", {}
    values: dict[str, Any] = {":frequency": _s(subscriber.frequency)}
    if subscriber.digest_from is None:
        return ", frequency = :frequency", ", digest_from", values
    values[":digest_from"] = _s(_stamp(subscriber.digest_from))
    return ", frequency = :frequency, digest_from = :digest_from", "", values


def _rows(items: dict[str, dict[str, Any]], subscriber_id: str) -> dict[str, Member]:
    """A subscriber's audience rows among its partition's items (by sort key), by audience."""
    return {
        sort[len(AUDIENCE_PREFIX) :]: _member(item, subscriber_id)
        for sort, item in items.items()
        if sort.startswith(AUDIENCE_PREFIX)
    }


class DynamoSubscriberRepository(DynamoTable):
    # ------------------------------------------------------------------ sign-up
    def request_confirmation(
        self,
        subscriber_id: str,
        address: str,
        now: datetime,
        window: timedelta,
        pending_ttl: timedelta,
        *,
        request: str | None = None,
        allowances: Sequence[Allowance] = (),
    ) -> SignupClaim:
        from botocore.exceptions import ClientError

        # Every sign-up, whatever the outcome, is this one transaction: the same storage work
        # on every path, so the answer's timing does not tell a suppressed or known address
        # from a new one. The items' order is the order of the reasons in a cancellation.
        request = request or uuid.uuid4().hex
        actions: list[dict[str, Any]] = [
            self._not_suppressed(subscriber_id),
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(subscriber_id, REQUEST),
                    "UpdateExpression": (
                        "SET address = :address, requested_at = :now_iso, confirmation_sent_at = :now,"
                        " #request = :request, expires_at = :expires"
                    ),
                    # The per-address limit. A retry of this very request (an answer lost on the
                    # way back) passes its own condition instead of reading as "rate limited".
                    "ConditionExpression": (
                        "attribute_not_exists(confirmation_sent_at) OR confirmation_sent_at <= :cutoff"
                        " OR #request = :request"
                    ),
                    "ExpressionAttributeNames": {"#request": "request"},
                    "ExpressionAttributeValues": {
                        ":address": _s(address),
                        ":now_iso": _s(now.isoformat()),
                        ":now": _n(_epoch(now)),
                        ":cutoff": _n(_epoch(now - window)),
                        ":request": _s(request),
                        ":expires": _n(_epoch(now + pending_ttl)),
                    },
                }
            },
            *(self._count(allowance, now) for allowance in allowances),
        ]
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                call_dynamodb(self.db.transact_write_items, TransactItems=actions, ClientRequestToken=request[:36])
                return SignupClaim("claimed")
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") or "None" for reason in error.response.get("CancellationReasons", [])]
            failed = [index for index, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
            if failed:
                if failed[0] == 0:
                    return SignupClaim("suppressed")
                if failed[0] == 1:
                    return SignupClaim("rate_limited")
                return SignupClaim("over_limit", allowances[failed[0] - 2].name)
            if attempt + 1 < TRANSACTION_ATTEMPTS and "TransactionConflict" in reasons:
                time.sleep(0.02 * 2**attempt)
                continue
            raise RetryableError(f"DynamoDB sign-up transaction cancelled: {reasons}")
        raise RetryableError("DynamoDB sign-up transaction kept conflicting")

    def _count(self, allowance: Allowance, now: datetime) -> dict[str, Any]:
        """One more confirmation under ``allowance``, unless its window's count is reached."""
        size = max(1, int(allowance.window.total_seconds()))
        start = _epoch(now) // size * size
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": _s(f"{LIMIT_PREFIX}{allowance.name}#{allowance.key}"), "sk": _s(str(start))},
                "UpdateExpression": "ADD n :one SET expires_at = :expires",
                "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                "ExpressionAttributeValues": {
                    ":one": _n(1),
                    ":limit": _n(allowance.limit),
                    ":expires": _n(start + size + int(LIMIT_RETENTION.total_seconds())),
                },
            }
        }

    def release_confirmation(self, subscriber_id: str, claimed_at: datetime) -> None:
        from botocore.exceptions import ClientError

        # Only the per-address claim is undone; the shared counters keep the attempt (cautious).
        try:
            call_dynamodb(
                self.db.update_item,
                TableName=self.table,
                Key=_key(subscriber_id, REQUEST),
                UpdateExpression="REMOVE confirmation_sent_at",
                ConditionExpression="confirmation_sent_at = :claimed",
                ExpressionAttributeValues={":claimed": _n(_epoch(claimed_at))},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def is_suppressed(self, subscriber_id: str) -> bool:
        response = call_dynamodb(
            self.db.get_item, TableName=self.table, Key=_key(subscriber_id, SUPPRESSION), ConsistentRead=True
        )
        return "Item" in response

    # ------------------------------------------------------------------ shared by the transactions
    def _not_suppressed(self, subscriber_id: str) -> dict[str, Any]:
        """A transaction's check that the address is not suppressed (a bounce or complaint
        recorded meanwhile cancels it); first in each, so its reason comes first."""
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": _key(subscriber_id, SUPPRESSION),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _row_writes(self, subscriber_id: str, deletes: list[str], puts: dict[str, Member]) -> list[dict[str, Any]]:
        """A transaction's audience rows to delete and to write."""
        return [
            *(
                {"Delete": {"TableName": self.table, "Key": _key(subscriber_id, AUDIENCE_PREFIX + audience)}}
                for audience in deletes
            ),
            *(
                {"Put": {"TableName": self.table, "Item": _membership(subscriber_id, audience, row.tags, row)}}
                for audience, row in puts.items()
            ),
        ]

    # ------------------------------------------------------------------ confirm
    def _items(self, subscriber_id: str) -> dict[str, dict[str, Any]]:
        """The subscriber's items (profile, request, suppression, audience rows), by sort key:
        one query, a handful of small items (at most MAX_TAGS + 1 rows)."""
        response = call_dynamodb(
            self.db.query,
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"SUB#{subscriber_id}")},
            ConsistentRead=True,
        )
        return {item["sk"]["S"]: item for item in response.get("Items", [])}

    def confirm(
        self, subscriber_id: str, tags: tuple[str, ...], now: datetime, request: str | None = None
    ) -> ConfirmResult:
        from botocore.exceptions import ClientError

        for _attempt in range(3):
            items = self._items(subscriber_id)
            if SUPPRESSION in items:
                return "suppressed"  # suppression deletes the rest: say why, rather than "expired"
            profile, pending = items.get(PROFILE), items.get(REQUEST)
            pending_request = (pending or {}).get("request", {}).get("S")
            if pending_request is None or (request is not None and pending_request != request):
                if request is not None and profile is not None and profile.get("confirmed_request") == _s(request):
                    return "confirmed"  # the same link clicked again: nothing changes
                if request is not None or profile is None:
                    return "missing"  # used, replaced by a newer sign-up, expired, or left since
            version = int((profile or {}).get("version", {}).get("N", "0"))
            rows = _rows(items, subscriber_id)
            if profile is not None and profile["status"]["S"] == "confirmed":
                # Signing up again changes the tags only: the frequency and any digest window stay.
                from pressline.subscribers.preferences import plan_preferences

                current = _profile(profile, subscriber_id, False)
                plan = plan_preferences(current, rows, tags, current.frequency, now)
                deletes, puts = sorted(plan.delete), plan.put
                window_set, window_remove, window_values = _window_parts(plan.subscriber)
            else:
                deletes = sorted(rows)
                puts = {audience: Member(id=subscriber_id, tags=tags) for audience in audiences_of(tags)}
                window_set, window_remove, window_values = _window_parts(None)
            source = pending if pending is not None and pending_request is not None else profile
            assert source is not None
            address = source["address"]["S"]
            created = (pending or {}).get("requested_at") or _s(now.isoformat())
            values: dict[str, Any] = {
                ":confirmed": _s("confirmed"),
                ":address": _s(address),
                ":tags": _strings(tags),
                ":next": _n(version + 1),
                ":now": _s(now.isoformat()),
                ":created": created,
            }
            values.update(window_values)
            if version:
                values[":version"] = _n(version)
            set_request = ""
            if pending_request is not None and source is pending:
                values[":request"] = _s(pending_request)
                set_request = ", confirmed_request = :request"
            actions: list[dict[str, Any]] = [
                self._not_suppressed(subscriber_id),
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _key(subscriber_id, PROFILE),
                        "UpdateExpression": (
                            "SET #status = :confirmed, address = :address, tags = :tags, version = :next,"
                            " created_at = if_not_exists(created_at, :created),"
                            f" confirmed_at = if_not_exists(confirmed_at, :now){set_request}{window_set}"
                            f" REMOVE expires_at{window_remove}"
                        ),
                        # Optimistic lock: memberships below were computed from this version.
                        "ConditionExpression": (
                            ("attribute_exists(pk) AND " if profile is not None else "")
                            + ("version = :version" if version else "attribute_not_exists(version)")
                        ),
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": values,
                    }
                },
                *self._row_writes(subscriber_id, deletes, puts),
            ]
            if source is pending:
                # Consuming the request is what makes the link single-use: two clicks racing
                # cannot both pass this condition.
                actions.append(
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(subscriber_id, REQUEST),
                            "UpdateExpression": "REMOVE #request",
                            "ConditionExpression": "#request = :request",
                            "ExpressionAttributeNames": {"#request": "request"},
                            "ExpressionAttributeValues": {":request": _s(str(pending_request))},
                        }
                    }
                )
            try:
                call_dynamodb(self.db.transact_write_items, TransactItems=actions)
                return "confirmed"
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return "suppressed"
                if "ConditionalCheckFailed" not in reasons:
                    raise RetryableError(f"DynamoDB transaction cancelled: {reasons}") from error
                # The profile or the request changed under us (or was deleted): read them again.
        raise RetryableError("the subscriber kept changing while being confirmed")

    # ------------------------------------------------------------------ delete, suppress
    def _partition_keys(self, subscriber_id: str) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"SUB#{subscriber_id}")},
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        }
        while True:
            response = call_dynamodb(self.db.query, **kwargs)
            keys.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return keys
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending = {self.table: requests[start : start + 25]}
            for attempt in range(8):
                response = call_dynamodb(self.db.batch_write_item, RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            if pending:
                raise RetryableError("DynamoDB left writes unprocessed")

    def delete(self, subscriber_id: str) -> bool:
        # The suppression and import records hold no address: they stay, so that neither a
        # bounce nor an unsubscribe is undone by importing the old list again.
        keys = [key for key in self._partition_keys(subscriber_id) if key["sk"]["S"] not in (SUPPRESSION, IMPORT)]
        self._batch_write([{"DeleteRequest": {"Key": key}} for key in keys])
        return any(key["sk"]["S"] in (PROFILE, REQUEST) for key in keys)

    def suppress(self, subscriber_id: str, reason: str, now: datetime) -> None:
        call_dynamodb(
            self.db.put_item,
            TableName=self.table,
            Item={**_key(subscriber_id, SUPPRESSION), "reason": _s(reason), "suppressed_at": _s(now.isoformat())},
        )
        self.delete(subscriber_id)

    # ------------------------------------------------------------------ reading
    def get_many(self, subscriber_ids: Sequence[str]) -> dict[str, Subscriber]:
        keys = [_key(sid, sort) for sid in dict.fromkeys(subscriber_ids) for sort in (PROFILE, SUPPRESSION)]
        items = self.batch_get(keys)
        suppressed = {item["pk"]["S"][4:] for item in items if item["sk"]["S"] == SUPPRESSION}
        found: dict[str, Subscriber] = {}
        for item in items:
            if item["sk"]["S"] != PROFILE:
                continue
            sid = item["pk"]["S"][4:]
            found[sid] = _profile(item, sid, sid in suppressed)
        return found

    def audience_page(self, audience: str, cursor: Cursor | None, limit: int) -> tuple[list[Member], Cursor | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :audience",
            "ExpressionAttributeValues": {":audience": _s(AUDIENCE_PREFIX + audience)},
            "ProjectionExpression": "gsi1sk, tags, digest_from, digest_until",
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        response = call_dynamodb(self.db.query, **kwargs)
        members = [_member(item, item["gsi1sk"]["S"]) for item in response["Items"]]
        return members, response.get("LastEvaluatedKey")

    # ------------------------------------------------------------------ preferences (issue 15)
    def preferences(self, subscriber_id: str) -> Preferences | None:
        from pressline.subscribers.preferences import Preferences

        items = self._items(subscriber_id)
        profile = items.get(PROFILE)
        if profile is None or profile["status"]["S"] != "confirmed" or SUPPRESSION in items:
            return None
        return Preferences(
            subscriber=_profile(profile, subscriber_id, False),
            rows=_rows(items, subscriber_id),
            version=int(profile.get("version", {}).get("N", "0")),
        )

    def apply_preferences(self, subscriber_id: str, version: int, plan: PreferencesPlan) -> bool:
        from botocore.exceptions import ClientError

        window_set, window_remove, values = _window_parts(plan.subscriber)
        values.update(
            {":tags": _strings(plan.subscriber.tags), ":next": _n(version + 1), ":confirmed": _s("confirmed")}
        )
        condition = "#status = :confirmed AND " + ("version = :version" if version else "attribute_not_exists(version)")
        if version:
            values[":version"] = _n(version)
        remove = f" REMOVE {window_remove.lstrip(', ')}" if window_remove else ""
        actions: list[dict[str, Any]] = [
            self._not_suppressed(subscriber_id),
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(subscriber_id, PROFILE),
                    "UpdateExpression": f"SET tags = :tags, version = :next{window_set}{remove}",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": values,
                }
            },
            *self._row_writes(subscriber_id, sorted(plan.delete), dict(sorted(plan.put.items()))),
        ]
        try:
            call_dynamodb(self.db.transact_write_items, TransactItems=actions)
            return True
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                return False  # suppressed, left, or changed since it was read
            raise RetryableError(f"DynamoDB transaction cancelled: {reasons}") from error

    def finish_digest(self, subscriber_id: str, frequency: Frequency, cutoff: datetime) -> None:
        from pressline.subscribers.preferences import plan_finish

        if self._move_window(subscriber_id, frequency, cutoff):
            return  # the usual case, in one call
        for _attempt in range(TRANSACTION_ATTEMPTS):
            current = self.preferences(subscriber_id)
            if current is None:
                return  # left or suppressed since: nothing to move on
            plan = plan_finish(current.subscriber, current.rows, frequency, cutoff)
            if plan is None or self.apply_preferences(subscriber_id, current.version, plan):
                return
        raise RetryableError("the subscriber kept changing while its digest window was moved on")

    def _move_window(self, subscriber_id: str, frequency: Frequency, cutoff: datetime) -> bool:
        """A regular digest's finish without reading first: the profile and its digest row move
        on to ``cutoff``, in one transaction conditional on what ``plan_finish`` would find
        (the subscriber still takes this frequency, the row owes no final digest, the window
        starts before the cutoff). False when a condition fails: then read and plan."""
        from botocore.exceptions import ClientError

        values = {":cutoff": _s(_stamp(cutoff)), ":frequency": _s(frequency), ":one": _n(1)}
        actions = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(subscriber_id, PROFILE),
                    # The version moves as any change does: a preferences form planned from the
                    # window before this is refused and planned again.
                    "UpdateExpression": "SET digest_from = :cutoff ADD version :one",
                    "ConditionExpression": "frequency = :frequency AND digest_from < :cutoff",
                    "ExpressionAttributeValues": values,
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _key(subscriber_id, AUDIENCE_PREFIX + digest_audience(frequency)),
                    "UpdateExpression": "SET digest_from = :cutoff",
                    "ConditionExpression": (
                        "attribute_exists(pk) AND attribute_not_exists(digest_until) AND digest_from < :cutoff"
                    ),
                    "ExpressionAttributeValues": {":cutoff": values[":cutoff"]},
                }
            },
        ]
        try:
            call_dynamodb(self.db.transact_write_items, TransactItems=actions)
            return True
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            return False  # a condition failed (or a conflict): the reading path decides

    # ------------------------------------------------------------------ import, export
    def import_states(self, subscriber_ids: Sequence[str], now: datetime) -> dict[str, ImportState]:
        """What the table holds for each id, for ``pressline subscribers import`` (one
        consistent batch read of four items per id)."""
        ids = list(dict.fromkeys(subscriber_ids))
        keys = [_key(sid, sort) for sid in ids for sort in (PROFILE, REQUEST, SUPPRESSION, IMPORT)]
        found: dict[str, dict[str, dict[str, Any]]] = {sid: {} for sid in ids}
        for item in self.batch_get(keys):
            found[item["pk"]["S"][4:]][item["sk"]["S"]] = item
        states: dict[str, ImportState] = {}
        for sid, items in found.items():
            profile, pending = items.get(PROFILE), items.get(REQUEST)
            states[sid] = ImportState(
                suppressed=SUPPRESSION in items,
                imported=items[IMPORT]["outcome"]["S"] if IMPORT in items else None,
                confirmed=profile is not None and profile.get("status", {}).get("S") == "confirmed",
                pending=pending is not None
                and "request" in pending
                and float(pending.get("expires_at", {}).get("N", "0")) > now.timestamp(),
            )
        return states

    def _marker(self, subscriber_id: str, outcome: str, source: str, now: datetime) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": {
                    **_key(subscriber_id, IMPORT),
                    "outcome": _s(outcome),
                    "source": _s(source),
                    "imported_at": _s(now.isoformat()),
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def import_confirmed(
        self, subscriber_id: str, address: str, tags: tuple[str, ...], consent: Consent, now: datetime
    ) -> bool:
        """Write a confirmed subscriber with its consent record and its import marker, in one
        transaction, unless the address is suppressed, was imported before or is already a
        subscriber (False: nothing written)."""
        from botocore.exceptions import ClientError

        profile = {
            **_key(subscriber_id, PROFILE),
            "address": _s(address),
            "status": _s("confirmed"),
            "tags": _strings(tags),
            "created_at": _s(now.isoformat()),
            "confirmed_at": _s(now.isoformat()),
            "version": _n(1),
            "consent_at": _s(consent.at.isoformat()),
            "consent_how": _s(consent.how),
            "consent_source": _s(consent.source),
        }
        actions: list[dict[str, Any]] = [
            self._not_suppressed(subscriber_id),
            self._marker(subscriber_id, "confirmed", consent.source, now),
            {"Put": {"TableName": self.table, "Item": profile, "ConditionExpression": "attribute_not_exists(pk)"}},
            *(
                {"Put": {"TableName": self.table, "Item": _membership(subscriber_id, audience, tags)}}
                for audience in audiences_of(tags)
            ),
        ]
        try:
            call_dynamodb(self.db.transact_write_items, TransactItems=actions)
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                return False
            raise RetryableError(f"DynamoDB import transaction cancelled: {reasons}") from error
        return True

    def mark_imported(self, subscriber_id: str, outcome: str, source: str, now: datetime) -> bool:
        """Record that an import applied this address's row (False: one had already)."""
        from botocore.exceptions import ClientError

        put = self._marker(subscriber_id, outcome, source, now)["Put"]
        try:
            call_dynamodb(self.db.put_item, **put)
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def unmark_imported(self, subscriber_id: str, outcome: str) -> None:
        """Forget a marker whose action did not happen (an invitation the limits deferred)."""
        from botocore.exceptions import ClientError

        try:
            call_dynamodb(
                self.db.delete_item,
                TableName=self.table,
                Key=_key(subscriber_id, IMPORT),
                ConditionExpression="outcome = :outcome",
                ExpressionAttributeValues={":outcome": _s(outcome)},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def all_subscribers(self, now: datetime) -> Iterator[ExportedSubscriber]:
        """Every confirmed subscriber and every unexpired pending sign-up (a Scan: an operator's
        export reads the whole table once; Notify never scans)."""
        profiles: dict[str, dict[str, Any]] = {}
        pending: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk IN (:profile, :request)",
            "ExpressionAttributeValues": {":profile": _s(PROFILE), ":request": _s(REQUEST)},
            "ConsistentRead": True,
        }
        while True:
            response = call_dynamodb(self.db.scan, **kwargs)
            for item in response.get("Items", []):
                sid = item["pk"]["S"][4:]
                (profiles if item["sk"]["S"] == PROFILE else pending)[sid] = item
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        for sid in sorted(profiles):
            item = profiles[sid]
            if item.get("status", {}).get("S") != "confirmed":
                continue
            consent = None
            if "consent_at" in item:
                consent = Consent(
                    at=datetime.fromisoformat(item["consent_at"]["S"]),
                    how=item.get("consent_how", {}).get("S", ""),
                    source=item.get("consent_source", {}).get("S", ""),
                )
            yield ExportedSubscriber(
                address=item["address"]["S"],
                status="confirmed",
                tags=_read_strings(item.get("tags")),
                created_at=_time(item.get("created_at")),
                confirmed_at=_time(item.get("confirmed_at")),
                consent=consent,
            )
        for sid in sorted(set(pending) - set(profiles)):
            item = pending[sid]
            if "request" not in item or float(item.get("expires_at", {}).get("N", "0")) <= now.timestamp():
                continue
            yield ExportedSubscriber(
                address=item["address"]["S"], status="pending", created_at=_time(item.get("requested_at"))
            )


def _time(attribute: dict[str, str] | None) -> datetime | None:
    return datetime.fromisoformat(attribute["S"]) if attribute and "S" in attribute else None


class DynamoLedger(DynamoTable):
    """LedgerTable: ``delivery#<post>#<subscriber>`` and ``fanout#<post>`` records."""

    # ------------------------------------------------------------------ deliveries
    @staticmethod
    def _delivery_id(post: str, subscriber_id: str) -> dict[str, Any]:
        return {"id": _s(f"delivery#{post}#{subscriber_id}")}

    def claim(self, post: str, subscriber_id: str, now: datetime, lease: timedelta) -> ClaimResult:
        from botocore.exceptions import ClientError

        key = self._delivery_id(post, subscriber_id)
        try:
            call_dynamodb(
                self.db.put_item,
                TableName=self.table,
                Item={
                    **key,
                    "status": _s("sending"),
                    "since": _n(now.timestamp()),
                    "expiration": _n(_epoch(now + DELIVERY_RETENTION)),
                },
                # New, or a claim so old that its holder must be dead (a crash inside the send).
                ConditionExpression="attribute_not_exists(id) OR (#status = :sending AND since <= :stale)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":sending": _s("sending"), ":stale": _n((now - lease).timestamp())},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return "claimed"
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
            if not old:
                current = call_dynamodb(self.db.get_item, TableName=self.table, Key=key, ConsistentRead=True)
                old = current.get("Item", {})
            return "busy" if old.get("status", {}).get("S") == "sending" else "done"

    def claim_many(
        self, post: str, subscriber_ids: Sequence[str], now: datetime, lease: timedelta
    ) -> dict[str, ClaimResult]:
        # claim's conditional put for each recipient, a hundred a transaction: a batch of 50
        # is claimed in one call where claim takes 50. An item that fails its condition is
        # returned as it is (ALL_OLD), which says done or busy, and the rest go again.
        puts = {
            sid: {
                "Put": {
                    "Item": {
                        **self._delivery_id(post, sid),
                        "status": _s("sending"),
                        "since": _n(now.timestamp()),
                        "expiration": _n(_epoch(now + DELIVERY_RETENTION)),
                    },
                    "ConditionExpression": "attribute_not_exists(id) OR (#status = :sending AND since <= :stale)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":sending": _s("sending"),
                        ":stale": _n((now - lease).timestamp()),
                    },
                }
            }
            for sid in dict.fromkeys(subscriber_ids)
        }
        results: dict[str, ClaimResult] = dict.fromkeys(puts, "claimed")
        for sid, reason in self._write_each(puts).items():
            old = dict(reason.get("Item") or {}) or self._get_id(self._delivery_id(post, sid)) or {}
            status = old.get("status", {}).get("S")
            # Gone since (released by its sender, who will claim it again): busy, so this
            # batch is retried rather than told it was sent.
            results[sid] = "done" if status is not None and status != "sending" else "busy"
        return results

    def mark_sent(self, post: str, subscriber_id: str, message_id: str, now: datetime) -> None:
        call_dynamodb(
            self.db.update_item,
            TableName=self.table,
            Key=self._delivery_id(post, subscriber_id),
            UpdateExpression="SET #status = :sent, message_id = :message_id, sent_at = :now",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":sent": _s("sent"), ":message_id": _s(message_id), ":now": _s(now.isoformat())},
        )

    def mark_rejected(self, post: str, subscriber_id: str, reason: str, now: datetime) -> None:
        call_dynamodb(
            self.db.update_item,
            TableName=self.table,
            Key=self._delivery_id(post, subscriber_id),
            UpdateExpression="SET #status = :rejected, reason = :reason, rejected_at = :now",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":rejected": _s("rejected"), ":reason": _s(reason), ":now": _s(now.isoformat())},
        )

    def release(self, post: str, subscriber_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            call_dynamodb(
                self.db.delete_item,
                TableName=self.table,
                Key=self._delivery_id(post, subscriber_id),
                ConditionExpression="#status = :sending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":sending": _s("sending")},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def release_many(self, post: str, subscriber_ids: Sequence[str]) -> None:
        # release's conditional delete, a hundred a transaction; a record no longer
        # ``sending`` (or gone) fails its condition and is left as it is.
        self._write_each(
            {
                sid: {
                    "Delete": {
                        "Key": self._delivery_id(post, sid),
                        "ConditionExpression": "#status = :sending",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":sending": _s("sending")},
                    }
                }
                for sid in dict.fromkeys(subscriber_ids)
            }
        )

    def _write_each(self, actions: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Conditional writes of distinct items (each ``{"Put": ...}`` or ``{"Delete": ...}``
        without its table), up to 100 a TransactWriteItems. The items whose condition failed,
        with their cancellation reason (``Item``: the item as it was, when DynamoDB returns
        it); every other one is written. A cancelled transaction writes nothing: it goes
        again without the items that failed their condition, or as it was after a conflict
        with another transaction or a throttled item (a few times, then RetryableError)."""
        from botocore.exceptions import ClientError

        failed: dict[str, dict[str, Any]] = {}
        pending = dict(actions)
        conflicts = 0
        while pending:
            chunk = list(pending)[:TRANSACTION_ITEMS]
            try:
                call_dynamodb(
                    self.db.transact_write_items,
                    TransactItems=[
                        {
                            kind: {"TableName": self.table, "ReturnValuesOnConditionCheckFailure": "ALL_OLD", **write}
                            for kind, write in pending[key].items()
                        }
                        for key in chunk
                    ],
                    # On AWS the SDK's retry after a lost answer is then the same transaction,
                    # not a second one that meets its own writes (moto ignores the token).
                    ClientRequestToken=str(uuid.uuid4()),
                )
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons: list[dict[str, Any]] = [dict(r) for r in error.response.get("CancellationReasons") or []]
                codes = {reason.get("Code", "None") for reason in reasons} - {"None"}
                if len(reasons) != len(chunk) or not codes:
                    raise RetryableError("DynamoDB cancelled a transaction without naming an item") from error
                refused = {
                    key: reason
                    for key, reason in zip(chunk, reasons, strict=True)
                    if reason.get("Code") == "ConditionalCheckFailed"
                }
                if refused:
                    failed.update(refused)
                    for key in refused:
                        del pending[key]
                    continue
                if not codes <= TRANSIENT_CANCELLATIONS:
                    raise  # a validation error, an item too large: a bug, not a moment
                conflicts += 1
                if conflicts >= TRANSACTION_ATTEMPTS:
                    raise RetryableError(f"DynamoDB kept cancelling a transaction: {sorted(codes)}") from error
                time.sleep(0.02 * 2**conflicts)
                continue
            conflicts = 0
            for key in chunk:
                del pending[key]
        return failed

    # ------------------------------------------------------------------ fan-outs
    @staticmethod
    def _fanout_id(post: str) -> dict[str, Any]:
        return {"id": _s(f"fanout#{post}")}

    @staticmethod
    def _state(item: dict[str, Any]) -> FanoutState:
        return FanoutState(
            post=item["post"]["S"],
            owner=item["owner"]["S"],
            audience=int(item["audience"]["N"]),
            cursor=json.loads(item["cursor"]["S"]) if "cursor" in item else None,
            announced=item["announced"]["BOOL"],
            done=item["done"]["BOOL"],
            recipients=int(item["recipients"]["N"]),
            batches=int(item["batches"]["N"]),
            pages=int(item["pages"]["N"]),
        )

    def _item(self, state: FanoutState, lease_until: float, now: datetime) -> dict[str, Any]:
        item: dict[str, Any] = {
            **self._fanout_id(state.post),
            "post": _s(state.post),
            "owner": _s(state.owner),
            "lease_until": _n(lease_until),
            "audience": _n(state.audience),
            "announced": {"BOOL": state.announced},
            "done": {"BOOL": state.done},
            "recipients": _n(state.recipients),
            "batches": _n(state.batches),
            "pages": _n(state.pages),
            "updated_at": _s(now.isoformat()),
            "expiration": _n(_epoch(now + FANOUT_RETENTION)),
        }
        if state.cursor:
            item["cursor"] = _s(json.dumps(state.cursor, separators=(",", ":")))
        return item

    def _get(self, post: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = call_dynamodb(
            self.db.get_item, TableName=self.table, Key=self._fanout_id(post), ConsistentRead=True
        ).get("Item")
        return item

    def acquire(self, post: str, owner: str, now: datetime, lease: timedelta) -> FanoutState | LeaseHeld:
        from botocore.exceptions import ClientError

        fresh = self._item(FanoutState(post=post, owner=owner), (now + lease).timestamp(), now)
        # One conditional write creates the state or takes the lease over: the condition is
        # the whole decision (new, not done and ours or expired), so no read comes first and
        # two invocations cannot both pass. Progress fields keep their saved values.
        progress = ("audience", "announced", "done", "recipients", "batches", "pages")
        names = {f"#{name}": name for name in ("owner", "post", *progress)}
        values = {f":{name}": fresh[name] for name in ("owner", "post", *progress)}
        try:
            response = call_dynamodb(
                self.db.update_item,
                TableName=self.table,
                Key=self._fanout_id(post),
                UpdateExpression="SET #owner = :owner, #post = :post, lease_until = :until, updated_at = :updated,"
                " expiration = :expiration, "
                + ", ".join(f"#{name} = if_not_exists(#{name}, :{name})" for name in progress),
                ConditionExpression="attribute_not_exists(id)"
                " OR (#done = :not_done AND (#owner = :owner OR lease_until <= :now))",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **values,
                    ":until": fresh["lease_until"],
                    ":updated": fresh["updated_at"],
                    ":expiration": fresh["expiration"],
                    ":not_done": {"BOOL": False},
                    ":now": _n(now.timestamp()),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            held: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
            if not held:  # an SDK or emulator that does not return the item: read it
                held = self._get(post) or {}
            if not held:  # deleted in between (by TTL, 400 days on): a retry creates it
                raise RetryableError(f"fan-out state of {post} changed while being acquired") from error
            if held["done"]["BOOL"]:
                return self._state(held)
            return LeaseHeld(datetime.fromtimestamp(float(held["lease_until"]["N"]), UTC))
        return self._state(response["Attributes"])

    def save(self, state: FanoutState, now: datetime, lease: timedelta, *, release: bool = False) -> None:
        from botocore.exceptions import ClientError

        try:
            call_dynamodb(
                self.db.put_item,
                TableName=self.table,
                Item=self._item(state, 0 if release else (now + lease).timestamp(), now),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": _s(state.owner)},
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise LeaseLost(f"fan-out of {state.post} is now owned by another invocation") from error
            raise

    def start_many(
        self, posts: Sequence[tuple[str, str]], now: datetime, lease: timedelta
    ) -> dict[str, FanoutState | LeaseHeld | None]:
        # Fresh states only, each put on the condition that the post has none: DynamoDB
        # cancels the transaction if any has one and returns that item as it is, which
        # decides the post here (done, ours, held); the rest go again without it. A
        # duplicate in a batch costs one call more, not one per post.
        until = (now + lease).timestamp()
        owners = dict(posts)
        puts = {
            post: {
                "Item": self._item(FanoutState(post=post, owner=owner), until, now),
                "ConditionExpression": "attribute_not_exists(id)",
            }
            for post, owner in posts
        }
        found: dict[str, FanoutState | LeaseHeld | None] = {
            post: FanoutState(post=post, owner=owner) for post, owner in owners.items()
        }
        for post, reason in self._put_each(puts).items():
            held = reason.get("Item")
            if reason.get("Code") != "ConditionalCheckFailed" or not held:
                found[post] = None  # a conflict, or no item returned: acquire decides alone
            elif held["done"]["BOOL"] or held["owner"]["S"] == owners[post]:
                found[post] = self._state(held)
            elif float(held["lease_until"]["N"]) > now.timestamp():
                found[post] = LeaseHeld(datetime.fromtimestamp(float(held["lease_until"]["N"]), UTC))
            else:
                found[post] = None
        return found

    def save_many(self, states: Sequence[FanoutState], now: datetime, lease: timedelta) -> set[str]:
        puts = {
            state.post: {
                "Item": self._item(state, 0 if state.done else (now + lease).timestamp(), now),
                "ConditionExpression": "#owner = :owner",
                "ExpressionAttributeNames": {"#owner": "owner"},
                "ExpressionAttributeValues": {":owner": _s(state.owner)},
            }
            for state in states
        }
        by_post = {state.post: state for state in states}
        lost: set[str] = set()
        for post, reason in self._put_each(puts).items():
            if reason.get("Code") == "ConditionalCheckFailed":
                lost.add(post)
                continue
            try:  # refused for another reason (a conflict): alone, as any checkpoint
                self.save(by_post[post], now, lease, release=by_post[post].done)
            except LeaseLost:
                lost.add(post)
        return lost

    def _put_each(self, puts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Conditional puts of distinct items, up to 100 a TransactWriteItems. The items
        DynamoDB refused, with their cancellation reason (``Code``, and ``Item`` when the
        condition failed); every other one is written. A cancelled transaction writes
        nothing, so it is sent again without the refused items: each round settles one at least."""
        from botocore.exceptions import ClientError

        refused: dict[str, dict[str, Any]] = {}
        pending = dict(puts)
        while pending:
            chunk = list(pending)[:TRANSACTION_ITEMS]
            try:
                call_dynamodb(
                    self.db.transact_write_items,
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                                **pending[key],
                            }
                        }
                        for key in chunk
                    ],
                )
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons: list[dict[str, Any]] = [dict(r) for r in error.response.get("CancellationReasons") or []]
                at_fault = {key: r for key, r in zip(chunk, reasons, strict=False) if r.get("Code", "None") != "None"}
                if len(reasons) != len(chunk) or not at_fault:
                    raise RetryableError("DynamoDB cancelled a transaction without naming an item") from error
                refused.update(at_fault)
                chunk = list(at_fault)
            for post in chunk:
                del pending[post]
        return refused

    # ------------------------------------------------------------------ digests (issue 15)
    # ``digestlog#<utc date>``: the digest log, one item a day: an attribute ``p#<slug>`` per
    # post Notify announced that day ({"key": source key, "at": epoch seconds}) and ``sealed``,
    # the latest cutoff a digest run started at: no entry dated before it is added any more,
    # so a run that sealed the log reads every entry of its window. A digest's claims are
    # delivery records too: ``delivery#<slug>#<id>`` with status ``digest`` and the digest's
    # key, and the digest's own ``delivery#digest#<period>#<id>``, claimed as an email's.
    @staticmethod
    def _log_id(day: str) -> dict[str, Any]:
        return {"id": _s(f"digestlog#{day}")}

    def log_posts(self, posts: Sequence[tuple[str, str]], now: datetime) -> datetime:
        from botocore.exceptions import ClientError

        from pressline.subscribers.digests import LOG_RETENTION, log_day

        distinct = list(dict(posts).items())
        at = now
        for start in range(0, len(distinct), LOG_UPDATE_POSTS):
            chunk = distinct[start : start + LOG_UPDATE_POSTS]
            for _attempt in range(5):
                names = {f"#p{index}": f"p#{slug}" for index, (slug, _) in enumerate(chunk)}
                values: dict[str, Any] = {
                    f":p{index}": {"M": {"key": _s(key), "at": _n(at.timestamp())}}
                    for index, (_, key) in enumerate(chunk)
                }
                values[":at"] = _n(at.timestamp())
                values[":expiration"] = _n(_epoch(at + LOG_RETENTION))
                day = log_day(at)
                try:
                    call_dynamodb(
                        self.db.update_item,
                        TableName=self.table,
                        Key=self._log_id(day),
                        UpdateExpression="SET "
                        + ", ".join(f"{name} = if_not_exists({name}, :{name[1:]})" for name in names)
                        + ", expiration = :expiration",
                        ConditionExpression="attribute_not_exists(sealed) OR sealed <= :at",
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues=values,
                        ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    )
                    break
                except ClientError as error:
                    if not is_condition_failure(error):
                        raise
                    old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
                    if "sealed" not in old:
                        old = self._get_id(self._log_id(day)) or {}
                    sealed = float(old.get("sealed", {}).get("N", at.timestamp()))
                    # A digest run started since ``at``: these posts are its successor's.
                    at = max(at, datetime.fromtimestamp(sealed, UTC))
            else:
                raise RetryableError("the digest log kept being sealed while posts were logged")
        return at

    def _get_id(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = call_dynamodb(
            self.db.get_item, TableName=self.table, Key=key, ConsistentRead=True
        ).get("Item")
        return item

    def seal_log(self, cutoff: datetime) -> None:
        from botocore.exceptions import ClientError

        from pressline.subscribers.digests import LOG_RETENTION, seal_days

        for day in seal_days(cutoff):
            try:
                call_dynamodb(
                    self.db.update_item,
                    TableName=self.table,
                    Key=self._log_id(day),
                    UpdateExpression="SET sealed = :cutoff, expiration = if_not_exists(expiration, :expiration)",
                    ConditionExpression="attribute_not_exists(sealed) OR sealed < :cutoff",
                    ExpressionAttributeValues={
                        ":cutoff": _n(cutoff.timestamp()),
                        ":expiration": _n(_epoch(cutoff + LOG_RETENTION)),
                    },
                )
            except ClientError as error:
                if not is_condition_failure(error):
                    raise  # else: sealed at this cutoff or a later one already

    def read_log(self, days: Sequence[str]) -> list[LogEntry]:
        from pressline.subscribers.digests import LogEntry

        entries: list[LogEntry] = []
        for item in self.batch_get([self._log_id(day) for day in dict.fromkeys(days)]):
            for name, value in item.items():
                if name.startswith("p#"):
                    entries.append(
                        LogEntry(
                            slug=name[2:],
                            source_key=value["M"]["key"]["S"],
                            logged_at=datetime.fromtimestamp(float(value["M"]["at"]["N"]), UTC),
                        )
                    )
        return entries

    def digest_records(
        self, digest: str, subscriber_ids: Sequence[str], posts: Sequence[str]
    ) -> dict[tuple[str, str], Record]:
        from pressline.subscribers.digests import Record

        wanted = {
            f"delivery#{post}#{sid}": (post, sid)
            for sid in dict.fromkeys(subscriber_ids)
            for post in dict.fromkeys([digest, *posts])
        }
        found: dict[tuple[str, str], Record] = {}
        for item in self.batch_get([{"id": _s(key)} for key in wanted]):
            found[wanted[item["id"]["S"]]] = Record(
                status=item["status"]["S"],
                since=datetime.fromtimestamp(float(item.get("since", {}).get("N", "0")), UTC),
                digest=item["digest"]["S"] if "digest" in item else None,
            )
        return found

    def claim_digests(self, claims: Sequence[DigestClaim], now: datetime, lease: timedelta) -> dict[str, DigestClaimed]:
        from botocore.exceptions import ClientError

        expiration = _n(_epoch(now + DELIVERY_RETENTION))
        stale = _n((now - lease).timestamp())
        # Each claim's items together, its own record first: a transaction that cancels
        # writes nothing, so a claim whose own record is refused is dropped whole; a post
        # refused (claimed by someone else meanwhile) is dropped alone and the rest go again.
        pending: list[tuple[str, str | None, dict[str, Any]]] = []
        for claim in claims:
            own = {
                **self._delivery_id(claim.digest, claim.subscriber_id),
                "status": _s("sending"),
                "since": _n(now.timestamp()),
                "expiration": expiration,
            }
            pending.append(
                (
                    claim.subscriber_id,
                    None,
                    {
                        "Item": own,
                        "ConditionExpression": "attribute_not_exists(id) OR (#status = :sending AND since <= :stale)",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":sending": _s("sending"), ":stale": stale},
                    },
                )
            )
            for post in dict.fromkeys(claim.posts):
                item = {
                    **self._delivery_id(post, claim.subscriber_id),
                    "status": _s("digest"),
                    "digest": _s(claim.digest),
                    "since": _n(now.timestamp()),
                    "expiration": expiration,
                }
                pending.append(
                    (
                        claim.subscriber_id,
                        post,
                        {
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(id) OR (#status = :digest AND digest = :mine)"
                            " OR (#status = :sending AND since <= :stale)",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":digest": _s("digest"),
                                ":mine": _s(claim.digest),
                                ":sending": _s("sending"),
                                ":stale": stale,
                            },
                        },
                    )
                )
        results = {claim.subscriber_id: DigestClaimed("claimed") for claim in claims}
        lost: dict[str, set[str]] = {}
        conflicts = 0
        while pending:
            chunk = pending[:TRANSACTION_ITEMS]
            try:
                call_dynamodb(
                    self.db.transact_write_items,
                    TransactItems=[
                        {"Put": {"TableName": self.table, "ReturnValuesOnConditionCheckFailure": "ALL_OLD", **put}}
                        for _, _, put in chunk
                    ],
                )
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons: list[dict[str, Any]] = [dict(r) for r in error.response.get("CancellationReasons") or []]
                if len(reasons) != len(chunk):
                    raise RetryableError("DynamoDB cancelled a digest claim without naming an item") from error
                refused = [
                    (entry, reason)
                    for entry, reason in zip(chunk, reasons, strict=True)
                    if reason.get("Code", "None") != "None"
                ]
                failed = [
                    (entry, reason) for entry, reason in refused if reason.get("Code") == "ConditionalCheckFailed"
                ]
                if not failed:
                    conflicts += 1  # a conflict with another transaction: the same again
                    if conflicts > TRANSACTION_ATTEMPTS or not refused:
                        raise RetryableError(
                            f"DynamoDB cancelled a digest claim: {[r.get('Code') for r in reasons]}"
                        ) from error
                    time.sleep(0.02 * 2**conflicts)
                    continue
                dropped: set[str] = set()
                for (sid, refused_post, put), reason in failed:
                    if refused_post is None:
                        held = dict(reason.get("Item") or {}) or self._get_id({"id": put["Item"]["id"]}) or {}
                        status = held.get("status", {}).get("S")
                        results[sid] = DigestClaimed("busy" if status == "sending" or not held else "done")
                        dropped.add(sid)
                    else:
                        lost.setdefault(sid, set()).add(refused_post)
                failed_posts = {(sid, post) for (sid, post, _), _ in failed if post is not None}
                pending = [
                    entry for entry in pending if entry[0] not in dropped and (entry[0], entry[1]) not in failed_posts
                ]
                continue
            del pending[: len(chunk)]
        for sid, posts in lost.items():
            if results[sid].outcome == "claimed":
                results[sid] = DigestClaimed("claimed", frozenset(posts))
        return results


class CatalogTags(DynamoTable):
    """The tags subscribers may choose: those of the site's published posts, from the catalog's
    summary (the posts table's ``SITE``/``SUMMARY`` item, which Index keeps; one read)."""

    def known_tags(self) -> dict[str, str]:
        from pressline.indexing.catalog import Summary
        from pressline.indexing.dynamo import summary_key
        from pressline.subscribers.addresses import normalize_tag

        item = call_dynamodb(self.db.get_item, TableName=self.table, Key=summary_key()).get("Item")
        if item is None:
            return {}
        summary = Summary.model_validate_json(item["data"]["S"])
        known: dict[str, str] = {}
        for tag in sorted(summary.tags.values(), key=lambda tag: -tag.count):
            if tag.count > 0:
                known.setdefault(normalize_tag(tag.name), tag.name)
        return dict(sorted(known.items()))
