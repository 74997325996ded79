"""The delivery ledger's batch claims and releases on moto and in memory alike (the fake is
checked against the real adapter by the same tests), and what they cost on DynamoDB."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pressline.errors import RetryableError
from pressline.local.harness import StackHandle
from pressline.subscribers.digests import Record
from pressline.subscribers.ports import DigestClaim

LEASE = timedelta(minutes=5)
POST = "hello-world"


def now() -> datetime:
    return datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def records(ledger: Any, ids: list[str]) -> dict[str, Record]:
    """The post's delivery records of ``ids`` that exist, by subscriber id."""
    found = ledger.digest_records("digest#daily#2026-12-04", ids, [POST])
    return {sid: record for (post, sid), record in found.items() if post == POST}


def test_claim_many_claims_the_new_and_the_dead_senders_and_says_what_the_others_are(ledger: Any) -> None:
    t = now()
    assert ledger.claim(POST, "sent", t, LEASE) == "claimed"
    ledger.mark_sent(POST, "sent", "message-1", t)
    assert ledger.claim(POST, "rejected", t, LEASE) == "claimed"
    ledger.mark_rejected(POST, "rejected", "MessageRejected", t)
    assert ledger.claim(POST, "live", t - timedelta(minutes=1), LEASE) == "claimed"  # being sent now
    assert ledger.claim(POST, "dead", t - LEASE, LEASE) == "claimed"  # its sender died
    ledger.claim_digests([DigestClaim("digest#daily#2026-12-04", "digested", (POST,))], t, LEASE)
    ids = ["new-1", "sent", "rejected", "live", "dead", "digested", "new-2", "new-1"]
    assert ledger.claim_many(POST, ids, t, LEASE) == {
        "new-1": "claimed",
        "sent": "done",
        "rejected": "done",
        "live": "busy",
        "dead": "claimed",
        "digested": "done",  # carried by a digest: never also its own email
        "new-2": "claimed",
    }
    found = records(ledger, ids)
    assert found["new-1"] == found["new-2"] == found["dead"] == Record("sending", t)
    assert found["live"] == Record("sending", t - timedelta(minutes=1))  # left as it was
    assert found["sent"].status == "sent" and found["rejected"].status == "rejected"
    # Claimed now: a duplicate batch a moment later finds them busy.
    again = ledger.claim_many(POST, ["new-1", "new-2"], t + timedelta(seconds=5), LEASE)
    assert again == {"new-1": "busy", "new-2": "busy"}
    assert ledger.claim_many(POST, [], t, LEASE) == {}


def test_claim_many_claims_more_than_a_transaction_holds(ledger: Any) -> None:
    t = now()
    ids = [f"s{n:03d}" for n in range(130)]  # two transactions on DynamoDB (100 + 30)
    assert ledger.claim(POST, "s117", t, LEASE) == "claimed"
    ledger.mark_sent(POST, "s117", "m", t)
    claimed = ledger.claim_many(POST, ids, t, LEASE)
    assert claimed == {sid: "done" if sid == "s117" else "claimed" for sid in ids}
    assert len(records(ledger, ids)) == 130


def test_release_many_deletes_only_the_claims_still_sending(ledger: Any) -> None:
    t = now()
    assert ledger.claim_many(POST, ["a", "b", "c"], t, LEASE) == dict.fromkeys("abc", "claimed")
    ledger.mark_sent(POST, "b", "message-b", t)
    ledger.release_many(POST, ["a", "b", "c", "never-claimed", "a"])
    assert records(ledger, ["a", "b", "c", "never-claimed"]) == {"b": Record("sent", t)}
    # Released: claimed again at once, not after the lease.
    assert ledger.claim_many(POST, ["a", "b", "c"], t, LEASE) == {"a": "claimed", "b": "done", "c": "claimed"}
    ledger.release_many(POST, [])


def _counting(stack: StackHandle) -> Counter[str]:
    calls: Counter[str] = Counter()
    stack.dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    return calls


def test_a_batch_of_fifty_is_claimed_in_one_call_on_dynamodb(aws_stack: StackHandle) -> None:
    from pressline.subscribers.dynamodb import DynamoLedger

    ledger = DynamoLedger(aws_stack.outputs["LedgerTableName"], aws_stack.dynamodb)
    t = now()
    ids = [f"s{n:02d}" for n in range(50)]
    for sid in ids[:3]:
        ledger.claim(POST, sid, t, LEASE)
        ledger.mark_sent(POST, sid, "m", t)
    calls = _counting(aws_stack)
    assert ledger.claim_many(POST, ids[3:], t, LEASE) == dict.fromkeys(ids[3:], "claimed")
    assert calls == Counter({"TransactWriteItems": 1})  # claim: 47 PutItem
    ledger.release_many(POST, ids[3:])
    calls.clear()
    # Three done: the transaction is cancelled, says which (with their records) and goes again without them.
    assert ledger.claim_many(POST, ids, t, LEASE) == {sid: "done" if sid in ids[:3] else "claimed" for sid in ids}
    assert calls == Counter({"TransactWriteItems": 2})


def _cancelled(*codes: str) -> dict[str, Any]:
    return {"CancellationReasons": [{"Code": code, "Message": code} for code in codes]}


def test_a_conflicting_transaction_is_tried_again_then_left_to_the_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.stub import Stubber

    from pressline.subscribers import dynamodb

    monkeypatch.setattr(dynamodb.time, "sleep", lambda _: None)
    db = boto3.client("dynamodb", region_name="us-east-1")  # its own client: nothing else sees the stub
    ledger = dynamodb.DynamoLedger("ledger", db)
    with Stubber(db) as stub:
        conflict = _cancelled("None", "TransactionConflict")
        stub.add_client_error("transact_write_items", "TransactionCanceledException", modeled_fields=conflict)
        stub.add_response("transact_write_items", {})
        assert ledger.claim_many(POST, ["a", "b"], now(), LEASE) == {"a": "claimed", "b": "claimed"}
        for _ in range(dynamodb.TRANSACTION_ATTEMPTS):
            stub.add_client_error(
                "transact_write_items", "TransactionCanceledException", modeled_fields=_cancelled("ThrottlingError")
            )
        with pytest.raises(RetryableError, match="kept cancelling"):
            ledger.claim_many(POST, ["a"], now(), LEASE)
        stub.assert_no_pending_responses()
