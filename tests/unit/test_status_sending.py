"""``pressline status``'s SES reader against SES's own answers (botocore's Stubber: no network),
for what moto cannot do: pause sending. Paused sending makes the status exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from pressline.ops.status.model import Reading, decide
from pressline.ops.status.read import read_sending

QUOTA = {"Max24HourSend": 50000.0, "SentLast24Hours": 1200.0, "MaxSendRate": 14.0}
CONFIGURATION_SET = "blog-EmailConfigurationSet"


@pytest.fixture
def ses() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ses", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _configuration_set(sending_enabled: bool) -> dict[str, Any]:
    return {
        "ConfigurationSet": {"Name": CONFIGURATION_SET},
        "ReputationOptions": {"SendingEnabled": sending_enabled, "ReputationMetricsEnabled": True},
    }


def _expect(stubber: Stubber, account: bool, configuration_set: bool) -> None:
    stubber.add_response("get_account_sending_enabled", {"Enabled": account})
    stubber.add_response(
        "describe_configuration_set",
        _configuration_set(configuration_set),
        {"ConfigurationSetName": CONFIGURATION_SET, "ConfigurationSetAttributeNames": ["reputationOptions"]},
    )
    stubber.add_response("get_send_quota", QUOTA)


def test_sending_on_everywhere(ses: tuple[Any, Stubber]) -> None:
    client, stubber = ses
    _expect(stubber, account=True, configuration_set=True)
    sending = read_sending(client, CONFIGURATION_SET)
    assert (sending.account_enabled, sending.configuration_set_enabled, sending.notes) == (True, True, ())
    assert sending.quota is not None and (sending.quota.sent_last_24_hours, sending.quota.max_send_rate) == (1200, 14)
    assert decide(Reading(read_at=datetime.now(UTC), sending=sending)).exit_code == 0


@pytest.mark.parametrize(("account", "configuration_set"), [(False, True), (True, False), (False, False)])
def test_paused_sending_is_read_and_exits_1(ses: tuple[Any, Stubber], account: bool, configuration_set: bool) -> None:
    client, stubber = ses
    _expect(stubber, account=account, configuration_set=configuration_set)
    sending = read_sending(client, CONFIGURATION_SET)
    assert (sending.account_enabled, sending.configuration_set_enabled) == (account, configuration_set)
    status = decide(Reading(read_at=datetime.now(UTC), sending=sending))
    assert status.exit_code == 1
    assert len(status.problems) == [account, configuration_set].count(False)


def test_a_refused_call_is_a_note(ses: tuple[Any, Stubber]) -> None:
    client, stubber = ses
    stubber.add_client_error(
        "get_account_sending_enabled", "AccessDenied", "not allowed to ses:GetAccountSendingEnabled"
    )
    stubber.add_response("get_send_quota", QUOTA)
    sending = read_sending(client, None)
    assert sending.account_enabled is None
    assert sending.notes == (
        "the account's sending switch is unknown (GetAccountSendingEnabled: AccessDenied: not allowed to"
        " ses:GetAccountSendingEnabled)",
    )


def test_refused_credentials_are_not_a_note_but_the_command_s_error(ses: tuple[Any, Stubber]) -> None:
    # ops.target turns these into one line for the whole command (refresh the credentials).
    client, stubber = ses
    stubber.add_client_error("get_account_sending_enabled", "InvalidClientTokenId", "The security token is invalid")
    with pytest.raises(ClientError, match="InvalidClientTokenId"):
        read_sending(client, None)
