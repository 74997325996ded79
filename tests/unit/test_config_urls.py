"""pressline.config's SITE_URL and API_URL: from the environment, or, where template.yaml could
not put them there (the Subscriptions function: a dependency cycle), from the SSM parameters
that <NAME>_PARAMETER names, read in one call once per container."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pressline.config import (
    DEFAULT_API_URL,
    DEFAULT_SITE_URL,
    ParameterSettingError,
    from_parameters,
    settings,
)

SITE = "https://d1234abcd.cloudfront.net"
API = "https://abc123.execute-api.us-east-1.amazonaws.com"
AS_DEPLOYED = {"SITE_URL_PARAMETER": "/blog/site-url", "API_URL_PARAMETER": "/blog/api-url"}


class FakeParameters:
    """An SSM client holding some parameters; it records each GetParameters call."""

    def __init__(self, values: dict[str, str], error: Exception | None = None) -> None:
        self.values = values
        self.error = error
        self.calls: list[list[str]] = []

    def get_parameters(self, *, Names: list[str]) -> dict[str, Any]:
        self.calls.append(Names)
        if self.error is not None:
            raise self.error
        return {
            "Parameters": [{"Name": name, "Value": self.values[name]} for name in Names if name in self.values],
            "InvalidParameters": [name for name in Names if name not in self.values],
        }


def test_values_in_the_environment_are_used_without_asking_ssm() -> None:
    ssm = FakeParameters({})
    environ = {**AS_DEPLOYED, "SITE_URL": "https://blog.example.com", "API_URL": API}
    assert from_parameters(environ, ssm) == {"SITE_URL": "https://blog.example.com", "API_URL": API}
    assert ssm.calls == []


def test_missing_values_are_read_from_their_parameters_in_one_call() -> None:
    ssm = FakeParameters({"/blog/site-url": SITE, "/blog/api-url": API + "\n"})
    assert from_parameters(AS_DEPLOYED, ssm) == {"SITE_URL": SITE, "API_URL": API}
    assert ssm.calls == [["/blog/api-url", "/blog/site-url"]]


def test_an_empty_value_counts_as_missing() -> None:
    ssm = FakeParameters({"/blog/site-url": SITE})
    environ = {"SITE_URL": "", "SITE_URL_PARAMETER": "/blog/site-url", "API_URL": API}
    assert from_parameters(environ, ssm) == {"SITE_URL": SITE, "API_URL": API}
    assert ssm.calls == [["/blog/site-url"]]


def test_without_value_or_parameter_nothing_is_read_and_the_local_defaults_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SITE_URL", "API_URL", "SITE_URL_PARAMETER", "API_URL_PARAMETER"):
        monkeypatch.delenv(name, raising=False)
    assert from_parameters({}, FakeParameters({})) == {}
    settings.cache_clear()
    try:
        assert (settings().site_url, settings().api_url) == (DEFAULT_SITE_URL, DEFAULT_API_URL)
    finally:
        settings.cache_clear()


@pytest.mark.parametrize(
    ("ssm", "message"),
    [
        (FakeParameters({"/blog/site-url": SITE}), r"API_URL_PARAMETER /blog/api-url: no such SSM parameter"),
        (
            FakeParameters({"/blog/site-url": "d1234abcd.cloudfront.net", "/blog/api-url": API}),
            r"SITE_URL_PARAMETER /blog/site-url: 'd1234abcd.cloudfront.net' is not an http\(s\) URL",
        ),
        (
            FakeParameters({}, error=TimeoutError("read timed out")),
            r"API_URL_PARAMETER /blog/api-url, SITE_URL_PARAMETER /blog/site-url: not readable "
            r"\(TimeoutError: read timed out\)",
        ),
    ],
)
def test_an_unreadable_parameter_is_an_error_naming_the_variable_and_why(ssm: FakeParameters, message: str) -> None:
    with pytest.raises(ParameterSettingError, match=message):
        from_parameters(AS_DEPLOYED, ssm)


@pytest.fixture
def deployed_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeParameters]:
    """The Subscriptions function's environment on the CloudFront domain, and the SSM client
    pressline.adapters.aws would give it."""
    ssm = FakeParameters({"/blog/site-url": SITE, "/blog/api-url": API})
    monkeypatch.delenv("SITE_URL", raising=False)
    monkeypatch.delenv("API_URL", raising=False)
    for name, value in AS_DEPLOYED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("pressline.adapters.aws.client", lambda service: ssm if service == "ssm" else None)
    settings.cache_clear()
    yield ssm
    settings.cache_clear()


def test_settings_read_the_parameters_once_per_container(deployed_environment: FakeParameters) -> None:
    first = settings()
    assert (first.site_url, first.api_url, first.base_url) == (SITE, API, SITE)
    # A later change of the parameter is not seen by a warm container: one read, at the first use.
    deployed_environment.values["/blog/site-url"] = "https://changed.example.com"
    assert settings().site_url == SITE
    assert len(deployed_environment.calls) == 1
