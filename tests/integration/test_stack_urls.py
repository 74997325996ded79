"""The site's and the API's URLs on the local stack (template.yaml on moto): the SSM parameters
the Subscriptions function reads on AWS hold the local addresses, and a function given only
their names (as that function is deployed on the CloudFront domain) reads them from SSM; the
local stack reads them there for the Subscriptions function, as Lambda would."""

from __future__ import annotations

import pytest

from pressline.config import settings
from pressline.local.harness import StackHandle

pytestmark = pytest.mark.slow


def test_the_url_parameters_hold_the_local_addresses(aws_stack: StackHandle) -> None:
    stack = aws_stack.stack
    ssm = aws_stack.clients("ssm")
    environment = stack.functions["SubscriptionsFunction"].environment
    found = {
        name: ssm.get_parameter(Name=environment[f"{name}_PARAMETER"])["Parameter"]["Value"]
        for name in ("SITE_URL", "API_URL")
    }
    assert found == {"SITE_URL": stack.site_url, "API_URL": stack.api_url}
    assert stack.site_url.startswith("http://127.0.0.1")
    # Read from there at provision (every handler shares one process environment locally).
    assert (environment["SITE_URL"], environment["API_URL"]) == (stack.site_url, stack.api_url)


def test_a_function_given_only_the_parameters_reads_the_urls_from_ssm(
    aws_stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = aws_stack.stack
    monkeypatch.delenv("SITE_URL")
    monkeypatch.delenv("API_URL")
    settings.cache_clear()
    try:
        assert (settings().site_url, settings().api_url) == (stack.site_url, stack.api_url)
    finally:
        settings.cache_clear()
