"""The Catalog on DynamoDB (the posts table; layout in ``pressline.indexing.catalog``).

Reads are strongly consistent BatchGetItem calls on the base table; the gsi1 index
(eventually consistent) serves only what tolerates a short lag: the scheduler,
``pressline rebuild``, and rebuilding a lost newest-posts state. A change is written with
one TransactWriteItems, guarded by the post item's version.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pressline.adapters.aws import DynamoTable
from pressline.adapters.errors import call_dynamodb, error_code
from pressline.errors import RetryableError
from pressline.indexing.catalog import (
    Blob,
    CatalogChanges,
    CatalogConflictError,
    CatalogItems,
    CatalogKeys,
    CatalogPost,
    Commit,
    Listing,
    Snapshot,
    Summary,
    month_listing,
    search_blob,
    tag_front_listing,
    tag_year_listing,
    utc_iso,
)

POSTS_INDEX = "gsi1"
PUBLISHED = "POSTS"
SCHEDULED = "SCHEDULED"
SUMMARY_KEY = {"pk": "SITE", "sk": "SUMMARY"}
TRANSACTION_LIMIT = 100  # items per TransactWriteItems
# DynamoDB takes 4 MB per transaction; items are counted by their JSON, with room to spare.
TRANSACTION_BYTES = 3_000_000


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": _s(pk), "sk": _s(sk)}


def post_key(source_key: str) -> dict[str, dict[str, str]]:
    return _key(f"POST#{source_key}", "POST")


def slug_key(slug: str) -> dict[str, dict[str, str]]:
    return _key(f"SLUG#{slug}", "SLUG")


def marker_key(marker: str) -> dict[str, dict[str, str]]:
    return _key(f"FIRST#{marker}", "FIRST")


def listing_key(listing_id: str) -> dict[str, dict[str, str]]:
    return _key(f"LIST#{listing_id}", "LIST")


def summary_key() -> dict[str, dict[str, str]]:
    return _key(SUMMARY_KEY["pk"], SUMMARY_KEY["sk"])


def blob_key(name: str) -> dict[str, dict[str, str]]:
    return _key(f"BLOB#{name}", "BLOB")


def blob_item(name: str, blob: Blob) -> dict[str, Any]:
    value = {"z": {"B": blob.packed}} if blob.packed is not None else {"external": {"BOOL": True}}
    return {**blob_key(name), **value}


def _blob(item: dict[str, Any]) -> Blob:
    return Blob(packed=bytes(item["z"]["B"]) if "z" in item else None)


def post_item(post: CatalogPost) -> dict[str, Any]:
    item: dict[str, Any] = {
        **post_key(post.source_key),
        "source_key": _s(post.source_key),
        "slug": _s(post.slug),
        "status": _s(post.status),
        "version": _s(post.version),
        "data": _s(post.model_dump_json()),
    }
    if post.status in ("published", "scheduled"):
        item["gsi1pk"] = _s(PUBLISHED if post.public else SCHEDULED)
        item["gsi1sk"] = _s(post.order)
    return item


def _post(item: dict[str, Any]) -> CatalogPost:
    return CatalogPost.model_validate_json(item["data"]["S"])


class DynamoCatalog(DynamoTable):
    def _call(self, method: str, **kwargs: Any) -> Any:
        return call_dynamodb(getattr(self.db, method), **kwargs)

    # ----------------------------------------------------------------- reads
    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        unique = list({(key["pk"]["S"], key["sk"]["S"]): key for key in keys}.values())
        return self.batch_get(unique)

    def snapshot(
        self,
        source_key: str,
        slugs: Iterable[str],
        markers: Iterable[str],
        listings: Iterable[str],
        blobs: Iterable[str] = (),
    ) -> Snapshot:
        listing_ids = list(listings)
        keys = [post_key(source_key), summary_key()]
        keys += [slug_key(slug) for slug in slugs]
        keys += [marker_key(marker) for marker in markers]
        keys += [listing_key(listing_id) for listing_id in listing_ids]
        keys += [blob_key(name) for name in blobs]
        post: CatalogPost | None = None
        owners: dict[str, str] = {}
        first: dict[str, datetime] = {}
        summary = Summary()
        found: dict[str, Listing] = {}
        stored: dict[str, Blob] = {}
        for item in self._batch_get(keys):
            pk = item["pk"]["S"]
            if pk.startswith("POST#"):
                post = _post(item)
            elif pk.startswith("SLUG#"):
                owners[pk.removeprefix("SLUG#")] = item["source_key"]["S"]
            elif pk.startswith("FIRST#"):
                first[pk.removeprefix("FIRST#")] = datetime.fromisoformat(item["at"]["S"])
            elif pk == SUMMARY_KEY["pk"]:
                summary = Summary.model_validate_json(item["data"]["S"])
            elif pk.startswith("LIST#"):
                found[pk.removeprefix("LIST#")] = Listing.model_validate_json(item["data"]["S"])
            elif pk.startswith("BLOB#"):
                stored[pk.removeprefix("BLOB#")] = _blob(item)
        return Snapshot(
            post=post, slug_owners=owners, first_published=first, summary=summary, listings=found, blobs=stored
        )

    def read(self, keys: CatalogKeys) -> CatalogItems:
        wanted = [post_key(key) for key in keys.posts] + [summary_key()]
        wanted += [slug_key(slug) for slug in keys.slugs]
        wanted += [marker_key(marker) for marker in keys.markers]
        wanted += [listing_key(listing_id) for listing_id in keys.listings]
        wanted += [blob_key(name) for name in keys.blobs]
        posts: dict[str, CatalogPost] = {}
        owners: dict[str, str] = {}
        first: dict[str, datetime] = {}
        summary, revision = Summary(), 0
        lists: dict[str, Listing] = {}
        blobs: dict[str, Blob] = {}
        for item in self._batch_get(wanted):
            pk = item["pk"]["S"]
            if pk.startswith("POST#"):
                post = _post(item)
                posts[post.source_key] = post
            elif pk.startswith("SLUG#"):
                owners[pk.removeprefix("SLUG#")] = item["source_key"]["S"]
            elif pk.startswith("FIRST#"):
                first[pk.removeprefix("FIRST#")] = datetime.fromisoformat(item["at"]["S"])
            elif pk == SUMMARY_KEY["pk"]:
                summary = Summary.model_validate_json(item["data"]["S"])
                revision = int(item.get("rev", {}).get("N", "0"))
            elif pk.startswith("LIST#"):
                lists[pk.removeprefix("LIST#")] = Listing.model_validate_json(item["data"]["S"])
            elif pk.startswith("BLOB#"):
                blobs[pk.removeprefix("BLOB#")] = _blob(item)
        return CatalogItems(
            posts=posts,
            slug_owners=owners,
            first_published=first,
            summary=summary,
            revision=revision,
            listings=lists,
            blobs=blobs,
        )

    def apply(self, changes: CatalogChanges) -> None:
        """The summary (with the revision guard) and the derived items first, the posts last:
        every derived value is absolute and set-like (a listing holds a slug once), so if a
        later transaction of a large batch fails, the retry computes and writes them alike,
        while a post item written before its listings would make the retry skip it."""
        if changes.revision:
            guard: dict[str, Any] = {
                "ConditionExpression": "#rev = :read",
                "ExpressionAttributeValues": {":read": {"N": str(changes.revision)}},
            }
        else:  # never committed with a revision (new, or rebuilt): nobody may have committed since
            guard = {"ConditionExpression": "attribute_not_exists(#rev)"}
        summary = {
            **summary_key(),
            "data": _s(changes.summary.model_dump_json()),
            "rev": {"N": str(changes.revision + 1)},
        }
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": summary, "ExpressionAttributeNames": {"#rev": "rev"}, **guard}}
        ]
        actions += self._derived_actions(changes.listings, changes.blobs)
        for slug, owner in changes.slugs.items():
            if owner is None:
                actions.append({"Delete": {"TableName": self.table, "Key": slug_key(slug)}})
            else:
                actions.append({"Put": {"TableName": self.table, "Item": {**slug_key(slug), "source_key": _s(owner)}}})
        for marker, moment in changes.first_published.items():
            actions.append(self._marker_action(marker, moment))
        for source_key, write in changes.posts.items():
            actions.append(self._post_write(source_key, write.expected_version, write.post))
        for chunk in _transactions(actions):
            self._transact(chunk, "a batch")

    def _marker_action(self, marker: str, moment: datetime) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": marker_key(marker),
                # The first moment stays; a retried commit cannot move it.
                "UpdateExpression": "SET #at = if_not_exists(#at, :at)",
                "ExpressionAttributeNames": {"#at": "at"},
                "ExpressionAttributeValues": {":at": _s(moment.isoformat())},
            }
        }

    def _post_write(self, source_key: str, expected: str | None, post: CatalogPost | None) -> dict[str, Any]:
        if expected is None:
            guard: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            guard = {
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":expected": _s(expected)},
            }
        if post is None:
            return {"Delete": {"TableName": self.table, "Key": post_key(source_key), **guard}}
        return {"Put": {"TableName": self.table, "Item": post_item(post), **guard}}

    def listings(self, ids: Iterable[str]) -> dict[str, Listing]:
        keys = [listing_key(listing_id) for listing_id in ids]
        if not keys:
            return {}
        return {
            item["pk"]["S"].removeprefix("LIST#"): Listing.model_validate_json(item["data"]["S"])
            for item in self._batch_get(keys)
        }

    def blobs(self, names: Iterable[str]) -> dict[str, Blob]:
        keys = [blob_key(name) for name in names]
        if not keys:
            return {}
        return {item["pk"]["S"].removeprefix("BLOB#"): _blob(item) for item in self._batch_get(keys)}

    def _query(self, limit: int | None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        returned = 0
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - returned
            response = self._call("query", TableName=self.table, IndexName=POSTS_INDEX, **kwargs)
            for item in response.get("Items", []):
                returned += 1
                yield item
            last = response.get("LastEvaluatedKey")
            if not last or (limit is not None and returned >= limit):
                return
            kwargs["ExclusiveStartKey"] = last

    def published(
        self, *, older_than: str | None = None, newer_than: str | None = None, limit: int = 20
    ) -> list[CatalogPost]:
        values: dict[str, Any] = {":p": _s(PUBLISHED)}
        condition = "gsi1pk = :p"
        forward = False
        if newer_than is not None:
            condition += " AND gsi1sk > :o"
            values[":o"] = _s(newer_than)
            forward = True
        elif older_than is not None:
            condition += " AND gsi1sk < :o"
            values[":o"] = _s(older_than)
        items = self._query(
            limit, KeyConditionExpression=condition, ExpressionAttributeValues=values, ScanIndexForward=forward
        )
        return [_post(item) for item in items]

    def due(self, now: datetime) -> list[CatalogPost]:
        items = self._query(
            None,
            KeyConditionExpression="gsi1pk = :p AND gsi1sk <= :now",
            ExpressionAttributeValues={":p": _s(SCHEDULED), ":now": _s(utc_iso(now) + "~")},
            ScanIndexForward=True,
        )
        return [_post(item) for item in items]

    def all_published(self) -> Iterator[CatalogPost]:
        items = self._query(
            None,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": _s(PUBLISHED)},
            ScanIndexForward=False,
        )
        for item in items:
            yield _post(item)

    # ----------------------------------------------------------------- writes
    def commit(self, commit: Commit) -> None:
        """One change alone (tests and tools; Index commits whole batches with ``apply``)."""
        actions: list[dict[str, Any]] = []
        for slug in commit.release_slugs:
            actions.append({"Delete": {"TableName": self.table, "Key": slug_key(slug)}})
        for slug in commit.claim_slugs:
            item = {**slug_key(slug), "source_key": _s(commit.source_key)}
            actions.append({"Put": {"TableName": self.table, "Item": item}})
        actions += [self._marker_action(marker, moment) for marker, moment in commit.first_published.items()]
        actions += self._derived_actions(commit.listings, commit.blobs)
        if commit.summary is not None:
            item = {**summary_key(), "data": _s(commit.summary.model_dump_json())}
            actions.append({"Put": {"TableName": self.table, "Item": item}})
        actions.append(self._post_write(commit.source_key, commit.expected_version, commit.post))
        # More than a transaction holds (a post with very many tags): everything but the post
        # item goes first. Those writes are absolute values, so a retry rewrites them alike.
        while len(actions) > TRANSACTION_LIMIT:
            head, actions = actions[: TRANSACTION_LIMIT - 1], actions[TRANSACTION_LIMIT - 1 :]
            self._transact(head, commit.source_key)
        self._transact(actions, commit.source_key)

    def _derived_actions(
        self, listings: dict[str, Listing | None], blobs: dict[str, Blob | None]
    ) -> list[dict[str, Any]]:
        """Listings and blobs as absolute values (None or empty: deleted)."""
        actions: list[dict[str, Any]] = []
        for listing_id, listing in listings.items():
            if listing is None or not listing.entries:
                actions.append({"Delete": {"TableName": self.table, "Key": listing_key(listing_id)}})
            else:
                item = {**listing_key(listing_id), "data": _s(listing.model_dump_json())}
                actions.append({"Put": {"TableName": self.table, "Item": item}})
        for name, blob in blobs.items():
            if blob is None:
                actions.append({"Delete": {"TableName": self.table, "Key": blob_key(name)}})
            else:
                actions.append({"Put": {"TableName": self.table, "Item": blob_item(name, blob)}})
        return actions

    def _transact(self, actions: list[dict[str, Any]], source_key: str) -> None:
        from botocore.exceptions import ClientError

        try:
            # Throttling, server faults and lost connections become RetryableError in call_dynamodb.
            call_dynamodb(self.db.transact_write_items, TransactItems=actions)
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    raise CatalogConflictError(source_key) from error
                raise RetryableError(f"catalog commit of {source_key} cancelled: {reasons}") from error
            raise

    def put_posts(self, posts: Iterable[CatalogPost]) -> None:
        """Write post and slug items directly (``pressline rebuild`` tests and the benchmark's seeding)."""
        requests = []
        for post in posts:
            requests.append({"PutRequest": {"Item": post_item(post)}})
            requests.append({"PutRequest": {"Item": {**slug_key(post.slug), "source_key": _s(post.source_key)}}})
        self._batch_write(requests)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.table: requests[start : start + 25]}
            for attempt in range(8):
                response = self._call("batch_write_item", RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            if pending:
                raise RetryableError("DynamoDB left writes unprocessed")

    def replace_derived(self, summary: Summary, listings: dict[str, Listing], blobs: dict[str, Blob]) -> None:
        """Rebuild: write every listing, blob and the summary; delete listings and search
        blobs the old summary names that no longer exist (found from the summary itself,
        never by a scan)."""
        old = Summary()
        for item in self._batch_get([summary_key()]):
            old = Summary.model_validate_json(item["data"]["S"])
        stale = {month_listing(month) for month in old.months}
        for tag, info in old.tags.items():
            stale.add(tag_front_listing(tag))
            stale.update(tag_year_listing(tag, year) for year in info.years)
        requests: list[dict[str, Any]] = [
            {"DeleteRequest": {"Key": listing_key(listing_id)}} for listing_id in sorted(stale - set(listings))
        ]
        stale_blobs = {search_blob(month) for month in old.months} - set(blobs)
        requests += [{"DeleteRequest": {"Key": blob_key(name)}} for name in sorted(stale_blobs)]
        requests += [{"PutRequest": {"Item": blob_item(name, blob)}} for name, blob in blobs.items()]
        for listing_id, listing in listings.items():
            item = {**listing_key(listing_id), "data": _s(listing.model_dump_json())}
            requests.append({"PutRequest": {"Item": item}})
        requests.append({"PutRequest": {"Item": {**summary_key(), "data": _s(summary.model_dump_json())}}})
        self._batch_write(requests)


def _transactions(actions: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive runs of ``actions`` that each fit one TransactWriteItems (items and bytes)."""
    import json

    chunk: list[dict[str, Any]] = []
    size = 0
    for action in actions:
        weight = len(json.dumps(action, default=str))
        if chunk and (len(chunk) >= TRANSACTION_LIMIT or size + weight > TRANSACTION_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(action)
        size += weight
    if chunk:
        yield chunk
