"""The announce window from template.yaml to Index, on moto: the stack's Index function gets
ANNOUNCE_WINDOW_HOURS from the AnnounceWindowHours parameter (its default, or an override as
``pressline local --parameter-overrides`` and ``sam deploy`` pass it), and Index uses it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from moto import mock_aws

from pressline.config import Settings, settings
from pressline.local.stack import provision
from pressline.local.template import ParameterError
from pressline.stages.index import dependencies_from_settings

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def _index_window(parameters: dict[str, str] | None, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Settings]:
    with mock_aws():
        stack = provision(template_path=TEMPLATE, parameters=parameters)
        value = stack.functions["IndexFunction"].environment["ANNOUNCE_WINDOW_HOURS"]
        for name, variable in stack.environment().items():
            monkeypatch.setenv(name, variable)
        settings.cache_clear()
        try:
            return value, settings()
        finally:
            settings.cache_clear()


def test_index_gets_the_default_window(monkeypatch: pytest.MonkeyPatch) -> None:
    value, config = _index_window(None, monkeypatch)
    assert float(value) == 72
    assert dependencies_from_settings(config).announce_window == timedelta(hours=72)


def test_index_gets_an_overridden_window(monkeypatch: pytest.MonkeyPatch) -> None:
    value, config = _index_window({"AnnounceWindowHours": "6"}, monkeypatch)
    assert value == "6"
    assert dependencies_from_settings(config).announce_window == timedelta(hours=6)


@pytest.mark.parametrize("bad", ["0", "-1", "a week", "100000"])
def test_a_bad_window_stops_the_stack_before_anything_is_made(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ParameterError, match="AnnounceWindowHours: "):
        _index_window({"AnnounceWindowHours": bad}, monkeypatch)
