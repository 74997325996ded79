"""The handlers' metrics: one count a metric name per event, whatever the batch's mix of outcomes."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from pressline.stages.batching import Handled

ROOT = Path(__file__).resolve().parents[2]


def test_outcomes_are_counted_under_their_names_with_poison_and_skipped_messages() -> None:
    handled: Handled[str] = Handled(
        response={"batchItemFailures": [{"itemIdentifier": "m4"}]},
        outcomes={"m1": ["valid", "valid"], "m2": ["rejected"], "m3": []},
        poison=1,
    )
    names = {"valid": "PostsValid", "rejected": "PostsRejected"}
    assert handled.metric_counts(names, skipped="MessagesSkipped") == {
        "PoisonMessages": 1,
        "PostsValid": 2,
        "PostsRejected": 1,
        "MessagesSkipped": 1,
    }
    assert handled.metric_counts(names) == {"PoisonMessages": 1, "PostsValid": 2, "PostsRejected": 1}
    assert Handled(response={"batchItemFailures": []}, outcomes={}).metric_counts(names) == {}


@pytest.mark.parametrize("function", ["validate", "render", "image"])
def test_every_outcome_a_stage_can_return_has_a_metric_name(function: str) -> None:
    """A name missing from a handler's METRIC_NAMES would fail the invocation after the work."""
    from typing import get_args

    sys.path.insert(0, str(ROOT / "functions" / function))
    try:
        spec = importlib.util.spec_from_file_location(f"{function}_app", ROOT / "functions" / function / "app.py")
        assert spec is not None and spec.loader is not None
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
    finally:
        sys.path.pop(0)
    stage = {
        "validate": "pressline.stages.validate",
        "render": "pressline.stages.render",
        "image": "pressline.images.stage",
    }
    outcomes = set(get_args(importlib.import_module(stage[function]).Outcome))
    assert outcomes and outcomes == set(app.METRIC_NAMES), json.dumps(sorted(outcomes ^ set(app.METRIC_NAMES)))
